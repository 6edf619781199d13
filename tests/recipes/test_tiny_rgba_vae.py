"""The tiny recipe's RGBA VAE stages: the method's trainer plus the recipe's extensions (fusion init, frozen fusion,
shrunk-latent decoding, balanced alpha and saturation terms, refitted latent statistics, a saved TABD context)."""

import dataclasses

import pytest
import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import load_file, save_file

from recipes.tiny.rgba_vae import (
    TinyRGBAVAEConfig,
    TinyRGBAVAETrainer,
    TinyTABDConfig,
    fit_rgba_latent_stats,
    init_fusion_as_base_head,
    load_tabd_context,
    train_rgba_vae,
    write_tabd_context,
)
from tests.tiny import DIT_Z4, VAE_TRAIN, VAE_Z4, train_log, write_yaml
from wan_alpha.config import from_dict
from wan_alpha.data import SyntheticClips
from wan_alpha.errors import WanAlphaError
from wan_alpha.losses import rendering_losses
from wan_alpha.models import RGBAVAE
from wan_alpha.rgba import random_palette_colors
from wan_alpha.train.vae import VAETrainConfig, build_tabd, encode_tabd_context, vae_loss

pytestmark = pytest.mark.usefixtures("one_thread")


def write_config(tmp_path, **sections):
    return write_yaml(tmp_path / "vae.yaml", VAE_TRAIN, **sections)


def batch():
    clips = SyntheticClips(2, 5, 32, 32, seed=3)
    return {"rgb": torch.stack([clips[0]["rgb"], clips[1]["rgb"]]), "alpha": torch.stack([clips[0]["alpha"], clips[1]["alpha"]])}


def trainer(**changes) -> TinyRGBAVAETrainer:
    config = from_dict(TinyRGBAVAEConfig, {**VAE_TRAIN, **changes})
    recipe = TinyRGBAVAETrainer(config)
    torch.manual_seed(0)
    vae = recipe.build_model().train()
    recipe.tabd = recipe.build_tabd()
    return recipe, vae


def test_without_extensions_the_loss_is_the_methods():
    recipe, vae = trainer()
    ours = recipe.loss(vae, batch(), torch.Generator().manual_seed(5))
    method = vae_loss(vae, batch(), torch.Generator().manual_seed(5), from_dict(VAETrainConfig, VAE_TRAIN),
                      tabd=recipe.tabd)
    assert set(ours) == set(method) == {"alpha", "soft", "hard", "tabd", "loss"}
    for name in method:
        torch.testing.assert_close(ours[name], method[name], rtol=0, atol=0)


def test_each_clip_decodes_its_latent_shrunk_by_a_drawn_factor():
    recipe, vae = trainer(decode_scale_min=0.5, tabd={**VAE_TRAIN["tabd"], "weight": 0.0})
    data = batch()
    terms = recipe.loss(vae, data, torch.Generator().manual_seed(5))
    generator = torch.Generator().manual_seed(5)  # the recipe's draws, in order: colours, then scales
    background = random_palette_colors(2, generator)
    scale = 0.5 + 0.5 * torch.rand(2, generator=generator)
    latent = vae.encode(data["rgb"], data["alpha"], background=background)
    rgb_hat, alpha_hat, _ = vae.decode_straight_through(latent * scale.view(-1, 1, 1, 1, 1))
    manual = rendering_losses(rgb_hat, alpha_hat, data["rgb"], data["alpha"], recipe.config.loss, None, generator)
    for name in ("alpha", "soft", "hard", "loss"):
        torch.testing.assert_close(terms[name], manual[name])
    plain = trainer(tabd={**VAE_TRAIN["tabd"], "weight": 0.0})[0].loss(vae, data, torch.Generator().manual_seed(5))
    assert not torch.allclose(plain["alpha"], terms["alpha"])


def test_fusion_init_rgb_starts_at_the_base_posterior_mean():
    torch.manual_seed(0)
    base = AutoencoderKLWan(**VAE_Z4).eval()
    vae = RGBAVAE.from_base(base, lora_rank=4).eval()
    init_fusion_as_base_head(vae.fusion, base)
    clip = SyntheticClips(1, 9, 32, 32, seed=1)[0]
    rgb, alpha = clip["rgb"][None], clip["alpha"][None]
    with torch.no_grad():
        fused = vae.encode(rgb, alpha, normalized=False)
        other_alpha = vae.encode(rgb, 1 - alpha, normalized=False)
        expected = base.encode(rgb).latent_dist.mean
    torch.testing.assert_close(fused, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(other_alpha, fused)  # alpha enters only once training opens its path
    assert any(p.requires_grad for p in vae.fusion.conv_in.parameters())
    recipe, built = trainer(model={**VAE_TRAIN["model"], "fusion_init": "rgb"})
    with torch.no_grad():  # the recipe builds it the same way from its config's base
        assert built.fusion.conv_in.weight[:, :built.fusion.conv_out.in_channels, 0, 0, 0].diagonal().eq(1).all()
    with pytest.raises(WanAlphaError, match="fusion_init"):
        from_dict(TinyRGBAVAEConfig, {**VAE_TRAIN, "model": {**VAE_TRAIN["model"], "fusion_init": "zeros"}})


def test_decoder_only_training_on_shrunk_latents_leaves_the_fusion_block(tmp_path):
    output = tmp_path / "run"
    config = write_config(tmp_path, train={"max_steps": 2, "checkpoint_every": 2},
                          model={"freeze_fusion": True}, tabd={"mode": "off"}, decode_scale_min=0.5)
    train_rgba_vae(config, output)
    trained = load_file(output / "checkpoints" / "step-0000002" / "trainable_0.safetensors")
    assert trained and not any(k.startswith("fusion.") for k in trained)
    assert all("lora" in k for k in trained)


def test_saturation_margin_term_is_logged_and_trained_down(tmp_path):
    output = tmp_path / "run"
    train_rgba_vae(write_config(tmp_path, loss={"saturation": 5.0, "saturation_margin": 0.2}, tabd={"weight": 0.0},
                                train={"max_steps": 20}), output)
    losses, _ = train_log(output)
    saturation = [losses[s]["saturation"] for s in sorted(losses)]
    assert sum(saturation[-5:]) < 0.8 * sum(saturation[:5]), saturation


def test_latent_stats_refit_makes_the_fused_latents_unit_scale(tmp_path):
    config = write_config(tmp_path, latent_stats_clips=2, train={"max_steps": 1})
    model = RGBAVAE.from_pretrained(train_rgba_vae(config, tmp_path / "run")).eval()
    assert len(model.config.latents_mean) == 4 and model.config.latents_mean != [0.0] * 4  # refitted, not the base's

    clips = SyntheticClips(2, 5, 32, 32, seed=3)
    fit_rgba_latent_stats(model, clips, clips=2, seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z = torch.cat([model.encode(c["rgb"][None], c["alpha"][None], background=random_palette_colors(1, generator))
                       for c in (clips[0], clips[1])])
    per_channel = z.transpose(0, 1).flatten(1)
    torch.testing.assert_close(per_channel.mean(1), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(per_channel.std(1), torch.ones(4), atol=1e-4, rtol=0)

    with torch.no_grad():  # encode and decode use the same statistics: reconstructions do not change
        fitted = model(clips[0]["rgb"][None], clips[0]["alpha"][None])
        model.register_to_config(latents_mean=None, latents_std=None)
        base = model(clips[0]["rgb"][None], clips[0]["alpha"][None])
    torch.testing.assert_close(fitted.alpha, base.alpha, atol=1e-4, rtol=0)


def test_a_saved_tabd_context_replaces_the_text_encoder_and_is_checked_against_the_dit(tmp_path):
    dit_config = {**DIT_Z4, "text_dim": 384}  # MiniLM's width
    minilm = TinyTABDConfig(dit_config=dit_config, text_encoder="minilm")
    path = write_tabd_context(minilm, tmp_path / "context.safetensors")
    recipe, _ = trainer(tabd={"mode": "paper", "dit_config": dit_config, "text_encoder": "none",
                              "context_file": str(path)})
    _, context = recipe.tabd
    expected = encode_tabd_context(minilm, 384)
    assert context.shape == expected.shape and context.abs().sum() > 0
    torch.testing.assert_close(context, expected)
    assert build_tabd(minilm)[1].shape == expected.shape  # the method's own path encodes the same prompt

    with pytest.raises(WanAlphaError, match=r"\(1, L, 32\).*found \(1, 128, 384\)"):
        load_tabd_context(path, DIT_Z4["text_dim"])
    save_file({"other": torch.zeros(1, 2, 32)}, str(tmp_path / "wrong_key.safetensors"))
    with pytest.raises(WanAlphaError, match="found None"):
        load_tabd_context(tmp_path / "wrong_key.safetensors", 32)
    with pytest.raises(WanAlphaError, match="does not exist"):
        load_tabd_context(tmp_path / "missing.safetensors", 32)
    with pytest.raises(WanAlphaError, match="no context to save"):
        write_tabd_context(dataclasses.replace(minilm, text_encoder="none"), tmp_path / "none.safetensors")


@pytest.mark.parametrize(("extra", "needle"), [({"decode_scale_min": 0.0}, "must be in"),
                                              ({"decode_scale_min": 1.5}, "must be in"),
                                              ({"decode_scale_min": 0.5, "rendering": False}, "rendering: true"),
                                              ({"loss": {"saturation": 1.0}, "rendering": False}, "loss.saturation")])
def test_extensions_need_the_rendering_losses_and_a_valid_scale(tmp_path, extra, needle):
    with pytest.raises(WanAlphaError, match=needle):
        train_rgba_vae(write_config(tmp_path, **extra), tmp_path / "run")
    assert not (tmp_path / "run").exists()
