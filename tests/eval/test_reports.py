"""Report code: reconstruction and generation scores on hand-made clips, report files, LPIPS from a file, ``eval gen``."""

import json
import math

import numpy as np
import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.eval.generation import generation_frames, generation_scores
from wan_alpha.eval.lpips import load_lpips
from wan_alpha.eval.metrics import over_background_ssim
from wan_alpha.eval.reconstruction import clip_arrays, mean_curves, reconstruction_scores, transparent_baseline
from wan_alpha.eval.report import write_report
from wan_alpha.rgba import Ellipse, ellipse_region


@pytest.fixture
def clip():
    rng = np.random.default_rng(0)
    rgb = rng.random((3, 16, 16, 3))
    alpha = np.zeros((3, 16, 16))
    alpha[:, 4:12, 4:12] = 1.0
    alpha[1:, 4:12, 10:12] = 0.5  # the edge turns semi-transparent after frame 0
    return rgb, alpha


def test_perfect_reconstruction(clip):
    rgb, alpha = clip
    scores = reconstruction_scores(rgb, alpha, rgb, alpha)
    assert scores["rgb_psnr"] == math.inf and scores["alpha_psnr"] == math.inf
    assert scores["rgb_ssim"] == pytest.approx(1.0) and scores["alpha_ssim"] == pytest.approx(1.0)
    assert scores["alpha_sad"] == scores["alpha_mse"] == scores["alpha_grad"] == scores["alpha_conn"] == 0
    assert scores["alpha_dtssd"] == 0
    assert scores["rgb_flicker"] == scores["gt_rgb_flicker"] and scores["alpha_flicker"] == scores["gt_alpha_flicker"]
    # alpha flicker by hand: 16 pixels change by 0.5 between frames 0 and 1, none after.
    assert scores["alpha_flicker"] == pytest.approx(1 - 16 * 0.5 / (2 * 256))


def test_hidden_colour_does_not_count(clip):
    rgb, alpha = clip
    other = rgb.copy()
    other[alpha == 0] = 1 - other[alpha == 0]  # change only what alpha hides
    scores = reconstruction_scores(other, alpha, rgb, alpha)
    assert scores["rgb_psnr"] == math.inf and scores["rgb_ssim"] == pytest.approx(1.0)
    assert over_background_ssim(other, alpha, rgb, alpha)["checker"] == pytest.approx(1.0)


def test_alpha_error_by_hand(clip):
    rgb, alpha = clip
    pred = np.clip(alpha + 0.1, 0, 1)
    scores = reconstruction_scores(rgb, pred, rgb, alpha)
    changed = (alpha < 1).sum() / 3  # pixels per frame that move by 0.1
    assert scores["alpha_sad"] == pytest.approx(changed * 0.1 / 1000)
    assert scores["alpha_mse"] == pytest.approx(changed * 0.01 / 256)


def test_clip_arrays_layout_and_clamp():
    rgb = torch.full((3, 2, 4, 5), 1.5)
    rgb[0] = -1.0
    alpha = torch.full((1, 2, 4, 5), 0.25)
    r, a = clip_arrays(rgb, alpha)
    assert r.shape == (2, 4, 5, 3) and a.shape == (2, 4, 5)
    assert r[..., 0].max() == 0 and r[..., 1].min() == 1 and np.all(a == 0.25)


def test_mean_curves_uneven_lengths():
    curves = [{"x": [1.0, 2.0, 3.0]}, {"x": [3.0, 4.0]}]
    assert mean_curves(curves) == {"x": [2.0, 3.0, 3.0]}


def test_generation_scores_by_hand():
    region = ellipse_region(Ellipse(0.5, 0.5, 0.5, 0.5), 32, 32)
    alpha = np.repeat(region[None].astype(float), 5, axis=0)
    rgb = np.full((5, 32, 32, 3), 0.5)
    scores = generation_scores(rgb, alpha, region)
    assert scores["ellipse_iou"] == 1 and scores["clean_background"] == 1
    assert scores["opaque_share"] == pytest.approx(region.mean()) and scores["semi_share"] == 0
    assert scores["alpha_stability_dtssd"] == 0 and scores["rgb_flicker"] == 1 and scores["alpha_flicker"] == 1
    # A background that is half filled in the last frame: clean rate and IoU drop there only.
    alpha[-1, :, :16] = 1.0
    frames = generation_frames(alpha, region)
    outside_left = (~region[:, :16]).sum()
    assert frames["clean_background"][:4] == [1.0] * 4
    assert frames["clean_background"][-1] == pytest.approx(1 - outside_left / (~region).sum())
    assert frames["ellipse_iou"][-1] == pytest.approx(region.sum() / (region.sum() + outside_left))


def test_write_report_files(tmp_path):
    report = {"clips": [{"a": 1.0, "b": 20.5}, {"a": 0.5, "b": 30.0}], "mean": {"a": 0.75, "b": 25.25},
              "per_frame": {"a": [1.0, 0.5]}}
    path = write_report(tmp_path / "r", "Title", report, ["a note"])
    text = path.read_text()
    assert text.startswith("# Title") and "- a note" in text and "| a | 0.7500 |" in text and "| 1 | 0.5000 | 30.00 |" in text
    assert "![a](plots/a.png)" in text and (tmp_path / "r" / "plots" / "a.png").stat().st_size > 0
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == report


class MeanAbs(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x - y).abs().mean(dim=(1, 2, 3))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit: the format LPIPS files come in
def test_lpips_from_local_torchscript_file(tmp_path):
    path = tmp_path / "lpips.pt"
    torch.jit.save(torch.jit.script(MeanAbs()), str(path))
    lpips = load_lpips(path)
    a, b = np.zeros((2, 8, 8, 3)), np.full((2, 8, 8, 3), 0.25)
    assert lpips(a, b) == pytest.approx(0.5)  # inputs are mapped to [-1, 1]
    with pytest.raises(WanAlphaError, match="not found"):
        load_lpips(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_text("x")
    with pytest.raises(WanAlphaError, match="TorchScript"):
        load_lpips(tmp_path / "bad.pt")


def test_transparent_baseline_by_hand():
    alpha = torch.zeros(1, 2, 8, 8)
    alpha[:, :, :4] = 1.0  # top half opaque
    clip = {"rgb": torch.ones(3, 2, 8, 8), "alpha": alpha}  # white
    scores = transparent_baseline([clip])
    assert scores["alpha_mse"] == pytest.approx(0.5) and scores["alpha_sad"] == pytest.approx(32 / 1000)
    assert scores["alpha_psnr"] == pytest.approx(10 * math.log10(2))
    assert scores["rgb_psnr_black"] == pytest.approx(10 * math.log10(2))  # white over black, half the pixels
