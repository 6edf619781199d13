"""The reference release's RGBA VAE files (``decoder.bin``, ComfyUI's merged decoders) load onto ``RGBAVAE`` and
decode identically to the same weights loaded natively; bad keys are named."""

import pytest
import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import save_file

from tests.models.reference_layouts import (
    original_vae_name,
    reference_vae_file,
)
from tests.tiny import VAE_WAN21 as VAE
from wan_alpha.models.reference_vae import load_merged_decoder, load_reference_rgba_vae
from wan_alpha.models.rgba_vae import RGBAVAE
from wan_alpha.models.state_dicts import CheckpointMismatch

pytestmark = pytest.mark.usefixtures("one_thread")


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
