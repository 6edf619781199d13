import logging

import pytest
import torch
from safetensors.torch import save_file

from wan_alpha.errors import WanAlphaError
from wan_alpha.losses import ReconLossConfig, build_perceptual, load_vgg16_relu2_2, recon_loss
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
