"""The tiny recipe's base VAE stage: the from-scratch init scales the posterior means (not the log-variances), the
encoder learns at a fraction of the learning rate, a later phase on longer clips continues a saved VAE, and clips
are composited over random backgrounds."""

import numpy as np
import pytest
import torch

from recipes.tiny import config_path
from recipes.tiny.base_vae import BaseVAETrainConfig, base_vae_optimizer, build_base_vae, random_background
from wan_alpha.config import load_config
from wan_alpha.errors import WanAlphaError
from wan_alpha.rgba import PALETTE

pytestmark = pytest.mark.usefixtures("one_thread")


def config(**overrides):
    return load_config(BaseVAETrainConfig, config_path("tiny_base_vae"), {"data.manifest": None, **overrides})


def posterior(vae, clip):
    with torch.no_grad():
        dist = vae.encode(clip).latent_dist
    return dist.mean, dist.logvar


def test_init_scales_the_means_only():
    clip = torch.rand(1, 3, 5, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    mean1, logvar1 = posterior(build_base_vae(config(latent_init_scale=1.0)), clip)
    mean10, logvar10 = posterior(build_base_vae(config(latent_init_scale=10.0)), clip)
    assert torch.allclose(mean10, 10 * mean1, rtol=1e-4, atol=1e-6)
    assert torch.allclose(logvar10, logvar1)
    assert torch.equal(posterior(build_base_vae(config(latent_init_scale=1.0)), clip)[0], mean1)  # seeded: rebuilt identically


def test_encoder_learns_at_a_fraction_of_the_rate():
    cfg = config(**{"encoder_lr_scale": 0.1, "train.learning_rate": 3e-4})
    vae = build_base_vae(cfg)
    encoder_group, decoder_group = base_vae_optimizer(vae, cfg).param_groups
    assert encoder_group["lr"] == pytest.approx(3e-5) and decoder_group["lr"] == pytest.approx(3e-4)
    named = {id(p): n for n, p in vae.named_parameters()}
    assert all(named[id(p)].startswith(("encoder.", "quant_conv.")) for p in encoder_group["params"])
    assert {named[id(p)].split(".")[0] for p in decoder_group["params"]} == {"decoder", "post_quant_conv"}
    assert len(encoder_group["params"]) + len(decoder_group["params"]) == len(named)


def test_init_from_continues_a_saved_vae(tmp_path):
    saved = build_base_vae(config(latent_init_scale=10.0))
    saved.save_pretrained(tmp_path / "vae")
    continued = build_base_vae(config(vae_config=None, init_from=str(tmp_path / "vae")))
    assert all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(), continued.state_dict().values()))


@pytest.mark.parametrize("overrides", [{"init_from": "somewhere"}, {"vae_config": None}])
def test_exactly_one_of_vae_config_and_init_from(overrides):
    with pytest.raises(WanAlphaError, match="exactly one of vae_config"):
        config(**overrides)


def test_init_from_a_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(WanAlphaError, match="no config.json"):
        build_base_vae(config(vae_config=None, init_from=str(tmp_path / "nothing")))


def test_random_backgrounds():
    for kind in ("palette", "solid", "gradient", "mixed"):
        bg = random_background(kind, 16, 16, np.random.default_rng(0))
        assert bg.shape == (3, 1, 16, 16) and -1 <= bg.min() and bg.max() <= 1
        if kind == "palette":
            assert any(torch.equal(bg[:, 0, 0, 0], colour) for colour in PALETTE)
        if kind == "gradient":
            assert not torch.equal(bg[:, 0, 0, 0], bg[:, 0, -1, -1])
    with pytest.raises(WanAlphaError, match="unknown background"):
        random_background("plaid", 16, 16, np.random.default_rng(0))
