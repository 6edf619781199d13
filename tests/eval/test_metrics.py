import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from wan_alpha.errors import WanAlphaError
from wan_alpha.eval import (
    alpha_shares,
    clean_background_rate,
    connectivity_error,
    dtssd,
    flicker_score,
    gradient_error,
    mse,
    over_background_psnr,
    psnr,
    sad,
    ssim,
    support_iou,
)


@pytest.fixture
def alpha():
    a = np.zeros((3, 10, 10))
    a[:, 2:6, 3:8] = 0.5
    return a


def test_perfect_prediction(alpha):
    assert psnr(alpha, alpha) == math.inf
    assert ssim(alpha, alpha) == pytest.approx(1.0)
    assert sad(alpha, alpha) == 0 and mse(alpha, alpha) == 0
    assert gradient_error(alpha, alpha) == 0 and connectivity_error(alpha, alpha) == 0
    assert dtssd(alpha, alpha) == 0


def test_known_offset(alpha):
    pred = alpha + 0.1
    assert psnr(pred, alpha) == pytest.approx(20.0)  # 10 log10(1 / 0.01)
    assert mse(pred, alpha) == pytest.approx(0.01)
    assert sad(pred, alpha) == pytest.approx(100 * 0.1 / 1000)  # per 10x10 frame, in thousands
    # a constant offset leaves every gradient unchanged
    assert gradient_error(pred, alpha) == pytest.approx(0.0, abs=1e-12)


def test_psnr_and_ssim_take_tensors_a_model_just_made(alpha):
    # validation hands over model outputs: torch tensors, on the GPU during training there (no plain
    # numpy conversion), here ones that still require grad (numpy conversion refuses those too)
    pred = torch.tensor(alpha + 0.1, dtype=torch.float32, requires_grad=True)
    assert psnr(pred, torch.tensor(alpha)) == pytest.approx(20.0, abs=1e-4)
    assert ssim(pred, alpha) == pytest.approx(ssim(alpha + 0.1, alpha), abs=1e-6)


def test_gradient_error_matches_gaussian_derivatives():
    rng = np.random.default_rng(1)
    pred, target = rng.random((12, 12)), rng.random((12, 12))

    def magnitude(a):
        return np.hypot(gaussian_filter(a, 1.4, order=(0, 1)), gaussian_filter(a, 1.4, order=(1, 0)))

    expected = np.sum((magnitude(pred) - magnitude(target)) ** 2) / 1000
    assert gradient_error(pred, target) == pytest.approx(expected, rel=1e-9)


def test_connectivity_error_counts_a_disconnected_pixel():
    target = np.zeros((6, 6))
    target[1:3, 1:3] = 1.0
    pred = target.copy()
    pred[4, 4] = 1.0  # an island the target does not have
    # the island loses connectivity at the first threshold (level 0), so its phi drops 1 -> 0;
    # every other pixel agrees: error = 1 pixel / 1000
    assert connectivity_error(pred, target) == pytest.approx(0.001)


def test_dtssd_against_hand_value():
    target = np.zeros((3, 2, 2))
    pred = np.zeros((3, 2, 2))
    pred[1] = 0.5  # up by 0.5 then back down: four pixel changes of 0.5 per transition
    expected = math.sqrt((8 * 0.25) / pred.size) * 100
    assert dtssd(pred, target) == pytest.approx(expected)
    assert dtssd(pred) == pytest.approx(expected)  # no target: still alpha is the reference
    with pytest.raises(WanAlphaError, match="T>=2"):
        dtssd(np.zeros((1, 2, 2)))


def test_flicker_score():
    still = np.ones((4, 3, 3)) * 0.3
    assert flicker_score(still) == 1.0
    blink = np.zeros((2, 3, 3))
    blink[1] = 1.0
    assert flicker_score(blink) == 0.0


def test_over_background_psnr_ignores_colour_under_zero_alpha():
    rng = np.random.default_rng(2)
    rgb = rng.random((2, 8, 8, 3))
    alpha = np.zeros((2, 8, 8))
    alpha[:, :4] = 1.0
    other = rgb.copy()
    other[:, 4:] = 0.0  # differs only where alpha is 0
    scores = over_background_psnr(other, alpha, rgb, alpha)
    assert set(scores) == {"black", "white", "red", "green", "blue", "cyan", "magenta", "yellow", "checker", "mean"}
    assert all(v == math.inf for v in scores.values())
    scores = over_background_psnr(rgb, alpha * 0.5, rgb, alpha)
    assert all(np.isfinite(v) for v in scores.values())


def test_shares_iou_and_clean_background(alpha):
    shares = alpha_shares(alpha)
    assert shares == pytest.approx({"transparent": 0.8, "semi": 0.2, "opaque": 0.0})
    region = np.zeros((10, 10), bool)
    region[2:6, 3:8] = True
    assert support_iou(alpha, region, threshold=0.4) == 1.0
    assert support_iou(alpha, region, threshold=0.6) == 0.0
    assert clean_background_rate(alpha, region) == 1.0
    noisy = alpha.copy()
    noisy[:, 0, :5] = 1.0  # 5 of the 80 outside pixels per frame
    assert clean_background_rate(noisy, region) == pytest.approx(1 - 5 / 80)


def test_shape_mismatch_is_an_error(alpha):
    with pytest.raises(WanAlphaError, match="differ in shape"):
        psnr(alpha, alpha[:2])
