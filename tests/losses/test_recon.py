import logging

import pytest
import torch
from safetensors.torch import save_file

from wan_alpha.errors import WanAlphaError
from wan_alpha.losses import (
    ReconLossConfig,
    alpha_loss,
    balanced_alpha_l1,
    build_perceptual,
    load_vgg16_relu2_2,
    recon_loss,
    rendering_losses,
    saturation_margin_loss,
)
from wan_alpha.losses.recon import sobel_magnitude, vgg16_relu2_2


def video(seed=0, channels=3, frames=2, size=16):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, channels, frames, size, size, generator=g) * 2 - 1


@pytest.fixture()
def vgg_file(tmp_path):
    """A torchvision-layout vgg16 state dict (random values; the real file has the same keys and shapes)."""
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg16_relu2_2().state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the rest of a full vgg16 file is ignored
    path = tmp_path / "vgg16.safetensors"
    save_file(state, path)
    return path


def test_identical_clips_have_zero_loss():
    x = video()
    terms = recon_loss(x, x.clone())
    assert set(terms) == {"l1", "ssim", "edge", "loss"}
    assert terms["loss"].abs() < 1e-5


def test_loss_grows_with_error_and_has_gradients():
    target = video()
    small = (target + 0.05 * video(1)).requires_grad_()
    large = target + 0.5 * video(1)
    loss_small = recon_loss(small, target)["loss"]
    assert loss_small < recon_loss(large, target)["loss"]
    loss_small.backward()
    assert small.grad.abs().sum() > 0


def test_weights_switch_terms_off():
    terms = recon_loss(video(0), video(1), ReconLossConfig(ssim=0, edge=0))
    assert set(terms) == {"l1", "loss"}
    torch.testing.assert_close(terms["loss"], terms["l1"])


def test_sobel_magnitude_marks_edges_only():
    x = -torch.ones(1, 1, 1, 8, 8)
    x[..., 4:] = 1.0  # vertical step between columns 3 and 4
    mag = sobel_magnitude(x)[0, 0]
    assert mag[:, 3:5].min() > 1.0
    assert mag[:, :2].max() < 0.01 and mag[:, 6:].max() < 0.01


def test_perceptual_term_loads_local_torchvision_weights(vgg_file, tmp_path):
    vgg = load_vgg16_relu2_2(vgg_file)
    assert not any(p.requires_grad for p in vgg.parameters())
    config = ReconLossConfig(perceptual=1.0, perceptual_weights=str(vgg_file))
    terms = recon_loss(video(0), video(1), config, build_perceptual(config))
    assert terms["perceptual"] > 0
    alpha_terms = recon_loss(video(0, channels=1), video(1, channels=1), config, vgg)  # 1 channel is replicated
    assert alpha_terms["perceptual"] > 0
    pth = tmp_path / "vgg16.pth"
    torch.save({f"features.{k}": v for k, v in vgg.state_dict().items()}, pth)
    torch.testing.assert_close(load_vgg16_relu2_2(pth)[0].weight, vgg[0].weight)


def test_perceptual_without_weights_is_off_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING):
        assert build_perceptual(ReconLossConfig(perceptual=1.0)) is None
    assert len(caplog.records) == 1 and "nothing is downloaded" in caplog.text


def test_bad_vgg_files_are_user_errors(tmp_path):
    with pytest.raises(WanAlphaError, match="not found"):
        load_vgg16_relu2_2(tmp_path / "missing.safetensors")
    partial = tmp_path / "partial.safetensors"
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3)}, partial)
    with pytest.raises(WanAlphaError, match="features|0.bias"):
        load_vgg16_relu2_2(partial)


def test_mismatched_shapes_are_rejected():
    with pytest.raises(WanAlphaError, match="differ in shape"):
        recon_loss(video(size=16), video(size=8))


def test_rendering_losses_use_reconstructed_alpha():
    rgb = video(0)
    alpha = (video(1, channels=1) + 1) / 2
    perfect = rendering_losses(rgb, alpha, rgb, alpha, generator=torch.Generator().manual_seed(0))
    assert set(perfect) == {"alpha", "soft", "hard", "loss"}
    assert perfect["loss"].abs() < 1e-4
    alpha_hat = (alpha * 0.5).requires_grad_()
    wrong = rendering_losses(rgb, alpha_hat, rgb, alpha, generator=torch.Generator().manual_seed(0))
    assert wrong["alpha"] > 0 and wrong["soft"] > 0  # the soft render sees the wrong alpha
    wrong["loss"].backward()
    assert alpha_hat.grad.abs().sum() > 0


def test_rendering_colours_are_seeded():
    rgb, alpha = video(0), (video(1, channels=1) + 1) / 2
    rgb_hat = rgb + 0.1
    runs = [rendering_losses(rgb_hat, alpha, rgb, alpha, generator=torch.Generator().manual_seed(3))["loss"] for _ in range(2)]
    torch.testing.assert_close(runs[0], runs[1])


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


def test_alpha_loss_balance_moves_only_the_l1_term():
    alpha, pred = _small_subject(), torch.zeros(1, 1, 5, 16, 16)
    plain, balanced = ReconLossConfig(ssim=0.5, edge=0.5), ReconLossConfig(ssim=0.5, edge=0.5, alpha_balance=1.0)
    others = recon_loss(pred * 2 - 1, alpha * 2 - 1, ReconLossConfig(l1=0.0, ssim=0.5, edge=0.5))["loss"]
    plain_l1 = (pred - alpha).abs().mean() * 2  # 1/8: the subject is 1/16 of the clip
    assert alpha_loss(pred, alpha, plain) == pytest.approx(others + plain_l1)
    assert alpha_loss(pred, alpha, balanced) == pytest.approx(others + 1.0)
    half = ReconLossConfig(l1=2.0, ssim=0.5, edge=0.5, alpha_balance=0.5)
    assert alpha_loss(pred, alpha, half) == pytest.approx(others + plain_l1 + 1.0)
    assert rendering_losses(pred.expand(-1, 3, -1, -1, -1), pred, pred.expand(-1, 3, -1, -1, -1), alpha, balanced,
                            generator=torch.Generator().manual_seed(0))["alpha"] == pytest.approx(others + 1.0)


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_alpha_balance_outside_0_1_is_refused(share):
    with pytest.raises(WanAlphaError, match="alpha_balance"):
        ReconLossConfig(alpha_balance=share)


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
        ReconLossConfig(**{field: -0.1})
