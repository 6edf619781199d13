"""Write tiny models' weights in the original Wan2.1 / reference Wan-Alpha key layouts (and small test helpers).

These inverse maps are written from the reference code's module structure (Wan's ``WanModel``,
``WanVAE_`` with ``Encoder3d``/``Decoder3d`` as flat ``nn.Sequential`` lists, the VAE trainer's
``Mapping`` block and peft-wrapped ``NewCausalConv3d.conv3D`` decoder convs, Wan's T5 encoder), not
from our forward maps, so a round trip through the loaders checks the maps against that structure.
"""

from __future__ import annotations

import json
import re

import torch
from safetensors.torch import save_file

_DIT = [  # diffusers -> original, applied in order
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("attn1", "self_attn"), ("attn2", "cross_attn"),
    (".to_out.0.", ".o."), (".to_q.", ".q."), (".to_k.", ".k."), (".to_v.", ".v."),
    ("ffn.net.0.proj", "ffn.0"), ("ffn.net.2", "ffn.2"),
    ("norm2", "norm@"), ("norm3", "norm2"), ("norm@", "norm3"),
    ("proj_out", "head.head"),
]


def original_dit_name(name: str) -> str:
    if name == "scale_shift_table":
        return "head.modulation"
    name = name.replace("scale_shift_table", "modulation")
    for new, old in _DIT:
        name = name.replace(new, old)
    return name


_RES = {"norm1.gamma": "residual.0.gamma", "conv1": "residual.2", "norm2.gamma": "residual.3.gamma",
        "conv2": "residual.6", "conv_shortcut": "shortcut"}


def _res(tail: str) -> str:
    for new, old in _RES.items():
        if tail == new or tail.startswith(new + "."):
            return old + tail[len(new):]
    raise KeyError(tail)


def original_vae_name(name: str, res_per_up_block: int = 3) -> str:
    """diffusers ``AutoencoderKLWan`` name -> original ``WanVAE_`` name (Wan2.1 layout)."""
    fixed = {"quant_conv": "conv1", "post_quant_conv": "conv2", "encoder.conv_in": "encoder.conv1",
             "decoder.conv_in": "decoder.conv1", "encoder.norm_out": "encoder.head.0", "decoder.norm_out": "decoder.head.0",
             "encoder.conv_out": "encoder.head.2", "decoder.conv_out": "decoder.head.2"}
    module, param = name.rsplit(".", 1)
    if module in fixed:
        return f"{fixed[module]}.{param}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d)\.(.+)", name):
        return f"{m[1]}.middle.{2 * int(m[2])}.{_res(m[3])}"
    if m := re.fullmatch(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.+)", name):
        return f"{m[1]}.middle.1.{m[2]}"
    if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.(.+)", name):
        tail = m[2] if m[2].startswith(("resample", "time_conv")) else _res(m[2])
        return f"encoder.downsamples.{m[1]}.{tail}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)", name):
        return f"decoder.upsamples.{int(m[1]) * (res_per_up_block + 1) + int(m[2])}.{_res(m[3])}"
    if m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.+)", name):
        return f"decoder.upsamples.{int(m[1]) * (res_per_up_block + 1) + res_per_up_block}.{m[2]}"
    raise KeyError(name)


def reference_fusion_key(name: str) -> str:
    """our ``fusion.*`` -> reference ``middle.block.*`` (Mapping)."""
    rest = name[len("fusion."):]
    if m := re.fullmatch(r"conv_in\.(.+)", rest):
        return f"middle.block.conv1.{m[1]}"
    if rest == "norm_out.gamma":
        return "middle.block.head.0.gamma"
    if m := re.fullmatch(r"conv_out\.(.+)", rest):
        return f"middle.block.head.2.{m[1]}"
    if m := re.fullmatch(r"attentions\.(\d+)\.(.+)", rest):
        return f"middle.block.middle.{2 * int(m[1]) + 1}.{m[2]}"
    m = re.fullmatch(r"resnets\.(\d+)\.(.+)", rest)
    return f"middle.block.middle.{2 * int(m[1])}.{_res(m[2])}"


def reference_vae_file(vae) -> dict[str, torch.Tensor]:
    """An RGBAVAE (with LoRA) as the reference trainer saves it: fusion under ``middle.``, decoder LoRA under
    ``vae_fgr.``/``vae_pha.`` with peft's ``.default`` and ``.conv3D`` wrappers, plus frozen base weights."""
    out = {}
    for key, value in vae.state_dict().items():
        if key.startswith("fusion."):
            out[reference_fusion_key(key)] = value.clone()
            continue
        prefix = next((ref for ours, ref in (("vae_rgb.", "vae_fgr."), ("vae_alpha.", "vae_pha.")) if key.startswith(ours)), None)
        if prefix is None or ".decoder." not in key:
            continue
        rest = key.split(".", 1)[1]
        if m := re.fullmatch(r"(.+)\.(lora_A|lora_B)\.default\.weight", rest):
            original = original_vae_name(m[1] + ".weight")[: -len(".weight")]
            conv3d = value.ndim == 5
            out[f"{prefix}{original}{'.conv3D' if conv3d else ''}.{m[2]}.default.weight"] = value.clone()
        elif m := re.fullmatch(r"(.+)\.base_layer\.(weight|bias)", rest):
            out[f"{prefix}{original_vae_name(m[1] + '.' + m[2])}"] = value.clone()
    return out


_T5 = {
    "layer.0.layer_norm.weight": "norm1.weight", "layer.0.SelfAttention.q.weight": "attn.q.weight",
    "layer.0.SelfAttention.k.weight": "attn.k.weight", "layer.0.SelfAttention.v.weight": "attn.v.weight",
    "layer.0.SelfAttention.o.weight": "attn.o.weight",
    "layer.0.SelfAttention.relative_attention_bias.weight": "pos_embedding.embedding.weight",
    "layer.1.layer_norm.weight": "norm2.weight", "layer.1.DenseReluDense.wi_0.weight": "ffn.gate.0.weight",
    "layer.1.DenseReluDense.wi_1.weight": "ffn.fc1.weight", "layer.1.DenseReluDense.wo.weight": "ffn.fc2.weight",
}


def wan_t5_file(model) -> dict[str, torch.Tensor]:
    """A transformers UMT5 encoder in Wan's ``T5Encoder`` layout."""
    out = {}
    for key, value in model.state_dict().items():
        if key == "shared.weight":
            out["token_embedding.weight"] = value.clone()
        elif key == "encoder.final_layer_norm.weight":
            out["norm.weight"] = value.clone()
        elif m := re.fullmatch(r"encoder\.block\.(\d+)\.(.+)", key):
            out[f"blocks.{m[1]}.{_T5[m[2]]}"] = value.clone()
    return out


# ------------------------------------------------------------------------- helpers for the tests
def randomize(module, scale=0.05, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def randomize_adapter(model):
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)


def reference_dora_file(model):
    """peft's DoRA tensors under original Wan names with the ComfyUI prefix, as the reference ships them."""
    out = {}
    for key, value in model.state_dict().items():
        if ".lora_" in key:
            module, rest = key.split(".lora_", 1)
            out["diffusion_model." + original_dit_name(module + ".weight")[: -len(".weight")] + ".lora_" + rest] = value.clone()
    return out


def write_original_dit(model, folder):
    """Original Wan layout: Wan's config.json and two safetensors shards with ``blocks.N.self_attn.q`` names."""
    folder.mkdir(parents=True, exist_ok=True)
    sd = {original_dit_name(k): v.contiguous() for k, v in model.state_dict().items()}
    assert "blocks.0.self_attn.q.weight" in sd and "blocks.1.ffn.2.bias" in sd and "head.modulation" in sd
    keys = sorted(sd)
    save_file({k: sd[k] for k in keys[::2]}, folder / "diffusion_pytorch_model-00001-of-00002.safetensors")
    save_file({k: sd[k] for k in keys[1::2]}, folder / "diffusion_pytorch_model-00002-of-00002.safetensors")
    cfg = model.config
    (folder / "config.json").write_text(json.dumps(dict(
        _class_name="WanModel", _diffusers_version="0.30.0", model_type="t2v", dim=cfg.num_attention_heads * cfg.attention_head_dim,
        ffn_dim=cfg.ffn_dim, freq_dim=cfg.freq_dim, in_dim=cfg.in_channels, out_dim=cfg.out_channels,
        num_heads=cfg.num_attention_heads, num_layers=cfg.num_layers, eps=1e-6, text_len=512)))


def dit_out(model):
    """The output of a tiny Wan DiT (``tests.tiny.DIT*``: 16 latent channels, text 32 wide) on fixed inputs."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        return model(hidden_states=torch.randn(1, 16, 2, 8, 8, generator=g), timestep=torch.tensor([700.0]),
                     encoder_hidden_states=torch.randn(1, 5, model.config.text_dim, generator=g), return_dict=False)[0]
