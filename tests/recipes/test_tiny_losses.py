"""The tiny recipe's extra loss terms for mostly transparent clips: the balanced alpha L1 and the saturation margin."""

import pytest
import torch

from recipes.tiny.rgba_vae import TinyLossConfig, alpha_balance_shift, balanced_alpha_l1, saturation_margin_loss
from wan_alpha.errors import WanAlphaError
from wan_alpha.losses import alpha_loss, recon_loss


def _small_subject() -> torch.Tensor:
    """A clip 1/16 opaque (a square), the rest transparent."""
    alpha = torch.zeros(1, 1, 5, 16, 16)
    alpha[..., 4:8, 4:8] = 1
    return alpha


def test_balanced_alpha_l1_weighs_missing_subject_like_full_haze():
    alpha = _small_subject()
    empty, full = torch.zeros_like(alpha), torch.ones_like(alpha)
    # plain L1 finds an empty prediction 15 times cheaper than a full one; balanced, both cost the same
    assert (full - alpha).abs().mean() / (empty - alpha).abs().mean() == pytest.approx(15)
    assert balanced_alpha_l1(empty, alpha) == pytest.approx(1.0)
    assert balanced_alpha_l1(full, alpha) == pytest.approx(1.0)
    assert balanced_alpha_l1(alpha, alpha) == 0


def test_balanced_alpha_l1_ignores_a_part_the_clip_lacks():
    alpha = torch.zeros(2, 1, 5, 16, 16)
    alpha[1, ..., 4:8, 4:8] = 1
    pred = torch.full_like(alpha, 0.25)
    # clip 0 has no subject: only its transparent half counts (0.5 * 2 * 0.25); clip 1 has both
    expected = (0.5 * 0.5 + 0.5 * (0.5 + 1.5)) / 2
    assert balanced_alpha_l1(pred, alpha) == pytest.approx(expected)


def test_alpha_balance_moves_only_the_l1_term():
    alpha, pred = _small_subject(), torch.zeros(1, 1, 5, 16, 16)
    plain, balanced = TinyLossConfig(ssim=0.5, edge=0.5), TinyLossConfig(ssim=0.5, edge=0.5, alpha_balance=1.0)
    others = recon_loss(pred * 2 - 1, alpha * 2 - 1, TinyLossConfig(l1=0.0, ssim=0.5, edge=0.5))["loss"]
    plain_l1 = (pred - alpha).abs().mean() * 2  # 1/8: the subject is 1/16 of the clip
    method = alpha_loss(pred, alpha, plain)  # the method's alpha term, as the rendering loss computes it
    assert method == pytest.approx(others + plain_l1)
    assert method + alpha_balance_shift(pred, alpha, balanced) == pytest.approx(others + 1.0)
    half = TinyLossConfig(l1=2.0, ssim=0.5, edge=0.5, alpha_balance=0.5)
    assert alpha_loss(pred, alpha, half) + alpha_balance_shift(pred, alpha, half) == pytest.approx(others + plain_l1 + 1.0)


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_alpha_balance_outside_0_1_is_refused(share):
    with pytest.raises(WanAlphaError, match="alpha_balance"):
        TinyLossConfig(alpha_balance=share)


def test_saturation_margin_loss_pulls_clamped_pixels_past_the_margin():
    alpha = _small_subject()
    exact = alpha.expand(-1, 3, -1, -1, -1) * 2 - 1  # channels exactly at +-1: zero L1 after the clamp
    assert saturation_margin_loss(exact, alpha, margin=0.1) == pytest.approx(0.1)  # 0.5 * 0.1 + 0.5 * 0.1
    past = exact * 1.2
    assert saturation_margin_loss(past, alpha, margin=0.1) == 0
    channels = exact.clone().requires_grad_(True)
    saturation_margin_loss(channels, alpha, margin=0.1).backward()
    subject = alpha.expand_as(channels).bool()
    assert (channels.grad[subject] < 0).all() and (channels.grad[~subject] > 0).all()  # descent: up, down


def test_saturation_margin_loss_ignores_semi_transparent_pixels_and_missing_parts():
    alpha = torch.full((2, 1, 5, 16, 16), 0.5)
    alpha[0, ..., :8, :] = 0  # clip 0: half transparent, no opaque pixel; clip 1: all semi-transparent
    channels = torch.zeros(2, 3, 5, 16, 16)
    # clip 0: only its transparent half counts (0.5 * 1.1); clip 1: nothing
    assert saturation_margin_loss(channels, alpha, margin=0.1) == pytest.approx(0.5 * 1.1 / 2)


@pytest.mark.parametrize("field", ["saturation", "saturation_margin"])
def test_negative_saturation_settings_are_refused(field):
    with pytest.raises(WanAlphaError, match=field):
        TinyLossConfig(**{field: -0.1})
