"""A synthetic RGBA clip with every kind of alpha the formats must carry."""

import numpy as np
import pytest

from wan_alpha.io import RGBAVideo

NTSC_FPS = 30000 / 1001  # not a whole number of ms or 1/100 s per frame: the hard case for timing


def soft_clip(frames: int = 9, height: int = 47, width: int = 63, fps: float = NTSC_FPS) -> RGBAVideo:
    """A soft-edged disc (opaque core, semi-transparent rim) moving right over a colour gradient.

    Odd width and height on purpose (no format may need padding); the last frame repeats the one
    before it (a held frame, which animated-image encoders like to merge away).
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    clip = np.zeros((frames, height, width, 4), np.uint8)
    for t in range(frames):
        step = min(t, frames - 2)
        cx = width * 0.25 + step * width * 0.06
        radius = np.hypot(xs - cx, ys - height / 2)
        clip[t, ..., 0] = xs * 255 / width
        clip[t, ..., 1] = ys * 255 / height
        clip[t, ..., 2] = (40 + 20 * step) % 256
        clip[t, ..., 3] = np.rint(np.clip((height * 0.4 - radius) / (height * 0.25), 0, 1) * 255)
    return RGBAVideo(clip, fps)


@pytest.fixture
def clip() -> RGBAVideo:
    return soft_clip()


@pytest.fixture
def make_clip():
    """The clip maker itself, for tests that need other lengths or sizes."""
    return soft_clip
