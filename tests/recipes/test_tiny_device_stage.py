"""The recipe's device stages: an RGBA VAE trained on the GPU machine comes back as its trained weights only."""

import tarfile

import pytest
import torch
from diffusers import AutoencoderKLWan

from recipes.tiny.device_stage import pack_rgba_vae, unpack_rgba_vae
from tests.tiny import VAE, tiny_vae
from wan_alpha.errors import WanAlphaError
from wan_alpha.models import RGBAVAE


def test_trained_weights_and_latent_statistics_go_back_onto_the_start(tmp_path):
    start = tiny_vae()
    start.save_pretrained(tmp_path / "start")
    trained = RGBAVAE.from_pretrained(tmp_path / "start")
    lora = next(n for n, p in trained.named_parameters() if p.requires_grad and "lora" in n)
    frozen = next(n for n, p in trained.named_parameters() if not p.requires_grad)
    with torch.no_grad():
        dict(trained.named_parameters())[lora].add_(0.5)
    channels = trained.fusion.conv_out.out_channels
    trained.register_to_config(latents_mean=[3.0] * channels, latents_std=[2.0] * channels)
    trained.save_pretrained(tmp_path / "run")
    with tarfile.open(tmp_path / "run.tar", "w") as tar:
        pack_rgba_vae(tmp_path / "run", tar)

    out = RGBAVAE.from_pretrained(unpack_rgba_vae(tmp_path / "run.tar", tmp_path / "start", tmp_path / "out"))
    assert torch.equal(out.state_dict()[lora], trained.state_dict()[lora])
    assert not torch.equal(out.state_dict()[lora], start.state_dict()[lora])
    assert torch.equal(out.state_dict()[frozen], start.state_dict()[frozen])
    assert list(out.config.latents_mean) == [3.0] * channels and list(out.config.latents_std) == [2.0] * channels

    RGBAVAE.from_base(AutoencoderKLWan(**VAE), lora_rank=4, fusion_layers=1).save_pretrained(tmp_path / "other")
    with pytest.raises(WanAlphaError, match=r"another RGBA VAE .*lora_rank"):
        unpack_rgba_vae(tmp_path / "run.tar", tmp_path / "other", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()
