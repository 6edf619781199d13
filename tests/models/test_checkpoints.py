"""Checkpoint loading: tiny models written in the original / reference key layouts load into our
classes and give outputs identical to the same weights loaded natively; adapters merge as peft does;
bad keys are named."""

import pytest
import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import save_file
from transformers import UMT5Config, UMT5EncoderModel

from tests.models.reference_layouts import (
    original_vae_name,
    randomize,
    randomize_adapter,
    reference_dora_file,
    reference_vae_file,
    wan_t5_file,
    write_original_dit,
)
from wan_alpha.errors import WanAlphaError
from wan_alpha.models.checkpoints import (
    CheckpointMismatch,
    dora_merge,
    load_merged_decoder,
    load_original_umt5,
    load_reference_rgba_vae,
    load_wan_transformer,
    load_wan_vae,
    merge_adapter_file,
    read_state_dict,
)
from wan_alpha.models.dit import add_dora, build_dit, merge_dora
from wan_alpha.models.rgba_vae import RGBAVAE

pytestmark = pytest.mark.usefixtures("one_thread")

DIT = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=16, out_channels=16,
           text_dim=24, freq_dim=32, ffn_dim=64, num_layers=2)  # Wan: rope over 1024 positions
VAE = dict(base_dim=8, z_dim=16)  # Wan2.1's layout (4 levels, 2 res blocks), narrow


def dit_inputs():
    g = torch.Generator().manual_seed(0)
    return dict(hidden_states=torch.randn(1, 16, 2, 8, 8, generator=g), timestep=torch.tensor([700.0]),
                encoder_hidden_states=torch.randn(1, 5, 24, generator=g), return_dict=False)


@torch.no_grad()
def dit_out(model):
    return model(**dit_inputs())[0]


# ------------------------------------------------------------------------- Wan2.1 base models
def test_original_dit_layout_loads_identically(tmp_path):
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    randomize(model)
    write_original_dit(model, tmp_path / "orig")
    loaded = load_wan_transformer(tmp_path / "orig", dtype=torch.float32)
    assert torch.equal(dit_out(loaded), dit_out(model))
    model.save_pretrained(tmp_path / "diffusers" / "transformer")
    # diffusers' from_pretrained keeps tensors as views of the file buffer; their alignment picks other CPU
    # kernels (differences ~5e-7), hence allclose here and our loader's owned copies above
    loaded = load_wan_transformer(tmp_path / "diffusers", dtype=torch.float32)
    assert torch.allclose(dit_out(loaded), dit_out(model), atol=1e-5)


def test_original_dit_wrong_shape_is_named(tmp_path):
    torch.manual_seed(0)
    write_original_dit(build_dit(DIT), tmp_path)
    shard = tmp_path / "diffusion_pytorch_model-00001-of-00002.safetensors"
    sd = read_state_dict(shard)
    key = next(k for k in sd if k.endswith("cross_attn.k.weight"))
    sd[key] = torch.zeros(3, 3)
    save_file(sd, shard)
    with pytest.raises(CheckpointMismatch, match=r"wrong shapes \[blocks\.\d\.attn2\.to_k\.weight \(3, 3\)"):
        load_wan_transformer(tmp_path, dtype=torch.float32)


def test_original_vae_layout_loads_identically(tmp_path):
    torch.manual_seed(0)
    vae = AutoencoderKLWan(**VAE).eval()
    torch.save({original_vae_name(k): v for k, v in vae.state_dict().items()}, tmp_path / "Wan2.1_VAE.pth")
    loaded = load_wan_vae(tmp_path)  # widths read off the weights; Wan2.1 layout otherwise
    z = torch.randn(1, 16, 2, 4, 4)
    with torch.no_grad():
        assert torch.equal(loaded.decode(z).sample, vae.decode(z).sample)


def test_original_umt5_loads_identically(tmp_path):
    torch.manual_seed(0)
    config = UMT5Config(vocab_size=64, d_model=16, d_kv=4, d_ff=24, num_layers=2, num_heads=4,
                        relative_attention_num_buckets=8, feed_forward_proj="gated-gelu", is_encoder_decoder=False)
    model = UMT5EncoderModel(config).eval()
    wan = wan_t5_file(model)
    torch.save(wan, tmp_path / "t5.pth")
    loaded = load_original_umt5(tmp_path / "t5.pth", dtype=torch.float32)
    ids, mask = torch.randint(0, 64, (2, 7)), torch.ones(2, 7, dtype=torch.long)
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids, attention_mask=mask).last_hidden_state,
                           model(input_ids=ids, attention_mask=mask).last_hidden_state)
        # Wan's FFN is fc2(fc1(x) * gelu_tanh(gate(x))): the gate must land on wi_0, fc1 on wi_1
        x = torch.randn(3, 16)
        ffn = torch.nn.functional.gelu(x @ wan["blocks.0.ffn.gate.0.weight"].T, approximate="tanh")
        wan_ffn = (x @ wan["blocks.0.ffn.fc1.weight"].T * ffn) @ wan["blocks.0.ffn.fc2.weight"].T
        assert torch.allclose(loaded.encoder.block[0].layer[1].DenseReluDense(x), wan_ffn, atol=1e-6)


def test_unsafe_or_unknown_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(1), "note": object()}, tmp_path / "pickle.pth")
    with pytest.raises(WanAlphaError, match="cannot be read safely"):
        read_state_dict(tmp_path / "pickle.pth")
    torch.save({"w": torch.ones(2)}, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    assert torch.equal(read_state_dict(tmp_path / "legacy.pth")["w"], torch.ones(2))  # not mmap-able, still read
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(WanAlphaError, match="unknown checkpoint format"):
        read_state_dict(tmp_path / "w.npz")


# ------------------------------------------------------------------------- reference Wan-Alpha VAE
@pytest.fixture(scope="module")
def trained_vae():
    """A native RGBAVAE with trained-looking fusion and decoder LoRA (rank 4, reference lora_alpha 1.0)."""
    torch.manual_seed(0)
    base = AutoencoderKLWan(**VAE).eval()
    vae = RGBAVAE.from_base(base, lora_rank=4, lora_alpha=1.0).eval()
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if "lora_B" in name or name.startswith("fusion."):
                p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return base, vae


def clip():
    g = torch.Generator().manual_seed(3)
    return torch.rand(1, 3, 5, 16, 16, generator=g) * 2 - 1, torch.rand(1, 1, 5, 16, 16, generator=g)


def test_reference_vae_file_loads_identically(tmp_path, trained_vae):
    base, vae = trained_vae
    ref = reference_vae_file(vae)
    assert "middle.block.conv1.weight" in ref and "middle.block.head.2.weight" in ref
    assert any(k.startswith("vae_pha.decoder.upsamples.") and ".conv3D.lora_A.default." in k for k in ref)
    assert "vae_fgr.decoder.middle.1.to_qkv.lora_B.default.weight" in ref
    ref["pipe.dit.blocks.0.weight"] = torch.zeros(2)  # a raw trainer checkpoint also holds the frozen DiT
    torch.save({"state_dict": ref}, tmp_path / "decoder.bin")

    loaded, report = load_reference_rgba_vae(base, tmp_path / "decoder.bin")
    rgb, alpha = clip()
    with torch.no_grad():
        z = vae.encode(rgb, alpha)
        assert torch.equal(loaded.encode(rgb, alpha), z)
        for ours, native in zip(loaded.decode(z), vae.decode(z)):
            assert torch.equal(ours, native)
    assert loaded.config.lora_rank == 4 and loaded.config.lora_alpha == 1.0
    assert "training-only weights" in report.summary() and "frozen Wan2.1 VAE weights" in report.summary()


def test_reference_vae_file_bad_keys_are_named(tmp_path, trained_vae):
    base, vae = trained_vae
    ref = reference_vae_file(vae)
    ref["middle.block.middle.2.residual.2.weight"] = torch.zeros(1, 2, 3)
    save_file(ref, tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointMismatch, match=r"fusion\.resnets\.1\.conv1\.weight \(1, 2, 3\)"):
        load_reference_rgba_vae(base, tmp_path / "bad.safetensors")
    ref = reference_vae_file(vae)
    ref["vae_fgr.something_else"] = torch.zeros(1)
    del ref["middle.block.head.0.gamma"]
    save_file(ref, tmp_path / "bad2.safetensors")
    with pytest.raises(CheckpointMismatch, match=r"unknown keys \[vae_fgr\.something_else\]"):
        load_reference_rgba_vae(base, tmp_path / "bad2.safetensors")
    del ref["vae_fgr.something_else"]
    save_file(ref, tmp_path / "bad3.safetensors")
    with pytest.raises(CheckpointMismatch, match=r"missing keys \[fusion\.norm_out\.gamma\]"):
        load_reference_rgba_vae(base, tmp_path / "bad3.safetensors")


def test_decoder_only_reference_file_loads_without_fusion(tmp_path, trained_vae):
    base, vae = trained_vae
    save_file({k: v for k, v in reference_vae_file(vae).items() if not k.startswith("middle.")}, tmp_path / "d.safetensors")
    loaded, report = load_reference_rgba_vae(base, tmp_path / "d.safetensors", require_fusion=False)
    assert "fusion weights absent" in report.summary()
    z = torch.randn(1, 16, 2, 2, 2)
    with torch.no_grad():
        assert torch.equal(loaded.decode(z)[1], vae.decode(z)[1])


def test_merged_comfy_decoders_load_identically(tmp_path, trained_vae):
    base, vae = trained_vae
    merged = RGBAVAE.from_base(base, lora_rank=0)
    merged.load_state_dict(vae.state_dict(), strict=False)  # fusion; the LoRA keys are merged below
    reference = RGBAVAE.from_base(base, lora_rank=4, lora_alpha=1.0)
    reference.load_state_dict(vae.state_dict())
    reference.merge_lora()
    for which, decoder in (("rgb", reference.vae_rgb), ("alpha", reference.vae_alpha)):
        full = {**{original_vae_name(k): v for k, v in base.state_dict().items() if k.startswith(("encoder.", "quant_conv."))},
                **{original_vae_name(k): v.contiguous() for k, v in decoder.state_dict().items()}}
        save_file(full, tmp_path / f"{which}.safetensors")
        report = load_merged_decoder(merged, which, tmp_path / f"{which}.safetensors")
        assert "encoder weights" in report.summary()
    z = torch.randn(1, 16, 2, 2, 2)
    with torch.no_grad():
        for ours, native in zip(merged.decode(z), vae.decode(z)):
            assert torch.allclose(ours, native, atol=1e-5)


# ------------------------------------------------------------------------- DiT adapters
def peft_dora_model(seed=0):
    torch.manual_seed(seed)
    model = build_dit(DIT).eval()
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    add_dora(model, r=4, alpha=4)
    randomize_adapter(model)
    return model, base_state


def test_dora_merge_matches_peft(tmp_path):
    model, base_state = peft_dora_model()
    save_file(reference_dora_file(model), tmp_path / "t2v.safetensors")
    assert any(k.startswith("diffusion_model.blocks.0.cross_attn.o.lora_magnitude_vector") for k in read_state_dict(tmp_path / "t2v.safetensors"))
    merge_dora(model)  # peft's own merge

    fresh = build_dit(DIT).eval()
    fresh.load_state_dict(base_state)
    report = merge_adapter_file(fresh, tmp_path / "t2v.safetensors")
    assert report.used == 2 * 10 * 3
    for key, value in model.state_dict().items():
        assert torch.allclose(fresh.state_dict()[key], value, atol=1e-6), key
    assert torch.allclose(dit_out(fresh), dit_out(model), atol=1e-5)


def test_dora_formula_uses_output_row_norms():
    weight, delta, m = torch.randn(6, 4), torch.randn(6, 4), torch.rand(6) + 0.5
    merged = dora_merge(weight, delta, m)
    assert torch.allclose(merged.norm(dim=1), m, atol=1e-6)  # each output row has norm m
    assert torch.allclose(merged / merged.norm(dim=1, keepdim=True), (weight + delta) / (weight + delta).norm(dim=1, keepdim=True))


def test_distill_lora_merges_at_strength(tmp_path):
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(7)
    down, up = torch.randn(3, 32, generator=g), torch.randn(32, 3, generator=g)
    diff_b, diff = torch.randn(32, generator=g), torch.randn(32, generator=g)
    save_file({
        "diffusion_model.blocks.1.self_attn.q.lora_down.weight": down,
        "diffusion_model.blocks.1.self_attn.q.lora_up.weight": up,
        "diffusion_model.blocks.1.self_attn.q.alpha": torch.tensor(6.0),
        "diffusion_model.blocks.1.self_attn.q.diff_b": diff_b,
        "diffusion_model.blocks.0.norm3.diff": diff,  # original norm3 is diffusers' norm2
        "blocks.0.ffn.2.lora_A.weight": torch.randn(2, 64, generator=g),
        "blocks.0.ffn.2.lora_B.weight": torch.randn(32, 2, generator=g),
    }, tmp_path / "lightx2v.safetensors")
    merge_adapter_file(model, tmp_path / "lightx2v.safetensors", strength=0.5)
    after = model.state_dict()
    q = "blocks.1.attn1.to_q."
    assert torch.allclose(after[q + "weight"], before[q + "weight"] + 0.5 * (6.0 / 3) * up @ down, atol=1e-6)
    assert torch.allclose(after[q + "bias"], before[q + "bias"] + 0.5 * diff_b, atol=1e-6)
    assert torch.allclose(after["blocks.0.norm2.weight"], before["blocks.0.norm2.weight"] + 0.5 * diff)
    assert not torch.equal(after["blocks.0.ffn.net.2.weight"], before["blocks.0.ffn.net.2.weight"])
    assert torch.equal(after["blocks.1.attn1.to_k.weight"], before["blocks.1.attn1.to_k.weight"])


@pytest.mark.parametrize("sd, message", [
    ({"blocks.0.self_attn.q.lora_A.weight": torch.zeros(2, 32), "blocks.0.self_attn.q.lora_B.weight": torch.zeros(31, 2)},
     r"blocks\.0\.attn1\.to_q\.weight: lora_B \(31, 2\) @ lora_A \(2, 32\) != weight \(32, 32\)"),
    ({"blocks.0.self_attn.q.lora_A.weight": torch.zeros(2, 32)}, r"missing keys \[blocks\.0\.attn1\.to_q\.weight: the partner of lora_A"),
    ({"blocks.9.self_attn.q.diff_b": torch.zeros(32)}, r"unknown keys \[blocks\.9\.self_attn\.q\.bias \(-> blocks\.9\.attn1\.to_q\.bias\)"),
    ({"blocks.0.self_attn.q.weird": torch.zeros(32)}, r"unknown keys \[blocks\.0\.self_attn\.q\.weird\]"),
])
def test_bad_adapter_keys_are_named(tmp_path, sd, message):
    save_file(sd, tmp_path / "a.safetensors")
    with pytest.raises(CheckpointMismatch, match=message):
        merge_adapter_file(build_dit(DIT), tmp_path / "a.safetensors")


def test_distill_lora_merge_matches_diffusers(tmp_path):
    """diffusers' own converter for these files (lora_down/up, alpha, diff_b) + fuse_lora is the oracle."""
    from diffusers.loaders.lora_conversion_utils import _convert_non_diffusers_wan_lora_to_diffusers

    g = torch.Generator().manual_seed(8)
    sd = {"diffusion_model.blocks.1.cross_attn.o.lora_down.weight": torch.randn(4, 32, generator=g),
          "diffusion_model.blocks.1.cross_attn.o.lora_up.weight": torch.randn(32, 4, generator=g),
          "diffusion_model.blocks.1.cross_attn.o.alpha": torch.tensor(2.0),
          "diffusion_model.blocks.1.cross_attn.o.diff_b": torch.randn(32, generator=g),
          "diffusion_model.blocks.0.ffn.0.lora_down.weight": torch.randn(4, 32, generator=g),
          "diffusion_model.blocks.0.ffn.0.lora_up.weight": torch.randn(64, 4, generator=g),
          "diffusion_model.blocks.0.ffn.0.diff_b": torch.randn(64, generator=g)}
    save_file(sd, tmp_path / "distill.safetensors")
    torch.manual_seed(0)
    ours = build_dit(DIT).eval()
    oracle = build_dit(DIT).eval()
    oracle.load_state_dict(ours.state_dict())
    merge_adapter_file(ours, tmp_path / "distill.safetensors", strength=0.7)
    converted = _convert_non_diffusers_wan_lora_to_diffusers({k: v.clone() for k, v in sd.items()})
    oracle.load_lora_adapter({k.removeprefix("transformer."): v for k, v in converted.items()}, prefix=None)
    oracle.fuse_lora(lora_scale=0.7)
    oracle.unload_lora()
    for key, value in oracle.state_dict().items():
        assert torch.allclose(ours.state_dict()[key], value, atol=1e-5), key


def test_modulation_norm_and_conv_adapters(tmp_path):
    """diff_m (modulation), norm diffs and a 5-D conv LoRA (patch embedding), which LightX2V files also carry."""
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(9)
    diff_m, norm_q = torch.randn(1, 6, 32, generator=g), torch.randn(32, generator=g)
    down, up = torch.randn(2, 16, 1, 2, 2, generator=g), torch.randn(32, 2, 1, 1, 1, generator=g)
    save_file({"diffusion_model.blocks.1.diff_m": diff_m, "diffusion_model.blocks.0.self_attn.norm_q.diff": norm_q,
               "diffusion_model.patch_embedding.lora_down.weight": down,
               "diffusion_model.patch_embedding.lora_up.weight": up}, tmp_path / "x.safetensors")
    merge_adapter_file(model, tmp_path / "x.safetensors")
    after = model.state_dict()
    assert torch.allclose(after["blocks.1.scale_shift_table"], before["blocks.1.scale_shift_table"] + diff_m)
    assert torch.allclose(after["blocks.0.attn1.norm_q.weight"], before["blocks.0.attn1.norm_q.weight"] + norm_q)
    conv_delta = torch.einsum("or,ritj->oitj", up.flatten(1), down[:, :, 0]).unsqueeze(2)
    assert torch.allclose(after["patch_embedding.weight"], before["patch_embedding.weight"] + conv_delta, atol=1e-6)
