import numpy as np
import pytest
from PIL import Image

from wan_alpha.io import RGBAVideo


def _soft_disc(height: int, width: int, frames: int = 1, seed: int = 0) -> np.ndarray:
    """uint8 (T, H, W, 4): noisy colour under a disc with a soft edge that drifts right."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[:height, :width]
    out = np.zeros((frames, height, width, 4), np.uint8)
    for t in range(frames):
        d = np.hypot(ys - height / 2, xs - width / 2 - t)
        out[t, ..., 3] = np.clip((min(height, width) / 3 - d) * 40, 0, 255).astype(np.uint8)
        out[t, ..., :3] = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return out


@pytest.fixture
def soft_disc():
    return _soft_disc


@pytest.fixture
def make_png():
    def make(path, array):
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(path)
        return path

    return make


@pytest.fixture
def disc_video():
    def make(frames: int, height: int = 24, width: int = 32, seed: int = 0) -> RGBAVideo:
        return RGBAVideo(_soft_disc(height, width, frames, seed), fps=16)

    return make
