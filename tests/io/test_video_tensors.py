import numpy as np
import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.io import RGBAVideo


def test_tensor_round_trip_is_exact():
    frames = np.random.default_rng(0).integers(0, 256, size=(5, 8, 12, 4), dtype=np.uint8)
    video = RGBAVideo(frames, fps=8)
    rgb, alpha = video.to_tensors()
    assert rgb.shape == (1, 3, 5, 8, 12) and alpha.shape == (1, 1, 5, 8, 12)
    assert rgb.min() >= -1 and rgb.max() <= 1 and alpha.min() >= 0 and alpha.max() <= 1
    back = RGBAVideo.from_tensors(rgb, alpha, fps=8)
    assert np.array_equal(back.frames, frames)


@pytest.mark.parametrize(
    "frames,match",
    [
        (np.zeros((0, 4, 4, 4), np.uint8), "zero frames"),
        (np.zeros((2, 4, 4, 3), np.uint8), "T, H, W, 4"),
        (np.zeros((2, 4, 4, 4), np.float32), "uint8"),
    ],
)
def test_bad_frames_are_refused(frames, match):
    with pytest.raises(WanAlphaError, match=match):
        RGBAVideo(frames, fps=8)


def test_nan_tensors_are_refused():
    rgb = torch.zeros(1, 3, 1, 2, 2)
    rgb[0, 0, 0, 0, 0] = float("nan")
    with pytest.raises(WanAlphaError, match="NaN"):
        RGBAVideo.from_tensors(rgb, torch.zeros(1, 1, 1, 2, 2), fps=8)
