"""Key names: the original Wan2.1 / Wan-Alpha layouts -> our (diffusers / transformers) module names.

The Wan DiT and Wan VAE maps are diffusers' own single-file conversions
(``convert_wan_transformer_to_diffusers``, ``convert_wan_vae_to_diffusers``), applied to names only
so that adapter files (which name modules, not whole checkpoints) reuse them too. ``from_single_file``
itself is not used: it fetches the model config from the Hub, and we load from local paths only.
The fusion block ("Mapping" in the reference) and Wan's own UMT5 layout have small maps here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers, convert_wan_vae_to_diffusers

ORIGINAL_DIT_PREFIXES = ("model.diffusion_model.", "diffusion_model.")
"""Prefixes ComfyUI / kijai files put before original Wan DiT names."""


def _rename(convert, names: Iterable[str]) -> dict[str, str]:
    """``{original: new}`` by running a diffusers state-dict conversion on the names themselves."""
    names = list(names)
    converted = convert({name: name for name in names})  # values carry the original name through
    return {original: new for new, original in converted.items()}


def wan_dit_names(names: Iterable[str]) -> dict[str, str]:
    """Original Wan DiT names (``blocks.0.self_attn.q.weight``) -> diffusers (``blocks.0.attn1.to_q.weight``).

    The map (diffusers'): ``self_attn -> attn1``, ``cross_attn -> attn2``, ``q/k/v/o -> to_q/to_k/to_v/to_out.0``,
    ``ffn.0 -> ffn.net.0.proj``, ``ffn.2 -> ffn.net.2``, ``norm3 <-> norm2``, ``modulation -> scale_shift_table``,
    ``head.head -> proj_out``, time/text embeddings -> ``condition_embedder.*``.
    """
    stripped = {}
    for name in names:
        short = name
        for prefix in ORIGINAL_DIT_PREFIXES:
            short = short.removeprefix(prefix)
        stripped[name] = short
    renamed = _rename(convert_wan_transformer_to_diffusers, stripped.values())
    return {name: renamed[short] for name, short in stripped.items()}


def wan_vae_names(names: Iterable[str]) -> dict[str, str]:
    """Original Wan VAE names (``decoder.upsamples.4.shortcut.weight``, ``conv2.weight``) -> diffusers
    ``AutoencoderKLWan`` names (``decoder.up_blocks.1.resnets.0.conv_shortcut.weight``, ``post_quant_conv.weight``).
    Valid for Wan2.1's layout (4 levels, 2 residual blocks each), which is what diffusers' map assumes."""
    return _rename(convert_wan_vae_to_diffusers, names)


# --------------------------------------------------------------------------- fusion block
_RESIDUAL = {"residual.0.gamma": "norm1.gamma", "residual.2": "conv1", "residual.3.gamma": "norm2.gamma",
             "residual.6": "conv2", "shortcut": "conv_shortcut"}
"""Wan ``ResidualBlock`` (an ``nn.Sequential``) -> diffusers ``WanResidualBlock`` attribute names."""


def reference_fusion_name(name: str, num_layers: int = 2) -> str | None:
    """Reference ``Mapping`` name (without ``middle.``) -> our :class:`~wan_alpha.models.rgba_vae.FusionBlock`
    name, or ``None`` when it has no counterpart.

    The reference ``Mapping(in_dim=768, out_dim=16, mid_dim=384)`` holds ``block.conv1`` (1x1x1),
    ``block.middle`` = [Res, Attn] x ``num_layers`` + Res, and ``block.head`` = [RMSNorm, SiLU, 3x3x3 conv]:
    the same layers as our fusion block (``conv_in``, ``resnets``, ``attentions``, ``norm_out``, ``conv_out``),
    only named differently, so the reference layout loads by renaming.
    """
    if not name.startswith("block."):
        return None
    rest = name[len("block."):]
    if rest.startswith("conv1."):
        return "conv_in." + rest[len("conv1."):]
    if rest == "head.0.gamma":
        return "norm_out.gamma"
    if rest.startswith("head.2."):
        return "conv_out." + rest[len("head.2."):]
    match = re.fullmatch(r"middle\.(\d+)\.(.+)", rest)
    if not match:
        return None
    index, tail = int(match[1]), match[2]
    if index > 2 * num_layers:
        return None
    if index % 2:  # odd positions are attention blocks: norm, to_qkv, proj keep their names
        return f"attentions.{index // 2}.{tail}"
    for old, new in _RESIDUAL.items():
        if tail == old or tail.startswith(old + "."):
            return f"resnets.{index // 2}.{new}{tail[len(old):]}"
    return None


# --------------------------------------------------------------------------- UMT5 (Wan's own T5 layout)
_UMT5_BLOCK = {
    "norm1.weight": "layer.0.layer_norm.weight",
    "attn.q.weight": "layer.0.SelfAttention.q.weight",
    "attn.k.weight": "layer.0.SelfAttention.k.weight",
    "attn.v.weight": "layer.0.SelfAttention.v.weight",
    "attn.o.weight": "layer.0.SelfAttention.o.weight",
    "pos_embedding.embedding.weight": "layer.0.SelfAttention.relative_attention_bias.weight",
    "norm2.weight": "layer.1.layer_norm.weight",
    # Wan: fc2(fc1(x) * gelu(gate(x))); transformers' gated-gelu: wo(gelu(wi_0(x)) * wi_1(x))
    "ffn.gate.0.weight": "layer.1.DenseReluDense.wi_0.weight",
    "ffn.fc1.weight": "layer.1.DenseReluDense.wi_1.weight",
    "ffn.fc2.weight": "layer.1.DenseReluDense.wo.weight",
}


def umt5_name(name: str) -> str | None:
    """Wan's ``models_t5_umt5-xxl-enc-bf16.pth`` names -> ``transformers.UMT5EncoderModel`` names (or ``None``)."""
    if name == "token_embedding.weight":
        return "shared.weight"
    if name == "norm.weight":
        return "encoder.final_layer_norm.weight"
    match = re.fullmatch(r"blocks\.(\d+)\.(.+)", name)
    if match and match[2] in _UMT5_BLOCK:
        return f"encoder.block.{match[1]}.{_UMT5_BLOCK[match[2]]}"
    return None
