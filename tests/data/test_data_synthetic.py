import time

import numpy as np
import pytest
import torch

from wan_alpha.data import SYNTHETIC_KINDS, SyntheticClips, generate_clip
from wan_alpha.errors import WanAlphaError
from wan_alpha.rgba import region_masks

SOFT_KINDS = [k for k in SYNTHETIC_KINDS if k != "shape"]


@pytest.mark.parametrize("kind", SYNTHETIC_KINDS)
def test_clip_shape_caption_and_reproducibility(kind):
    video, caption = generate_clip(kind, seed=3, frames=9, height=32, width=48)
    assert video.frames.shape == (9, 32, 48, 4) and video.frames.dtype == np.uint8
    assert caption.startswith("This video has a transparent background.") and len(caption) > 45
    again, caption_again = generate_clip(kind, seed=3, frames=9, height=32, width=48)
    assert np.array_equal(video.frames, again.frames) and caption == caption_again
    other, _ = generate_clip(kind, seed=4, frames=9, height=32, width=48)
    assert not np.array_equal(video.frames, other.frames)
    # Something visible and moving/flickering, with transparent surroundings.
    _, _, transparent = region_masks(video.alpha / 255.0)
    assert 0.02 < 1 - transparent.mean() < 0.98
    assert not np.array_equal(video.frames[0], video.frames[-1])
    # Straight alpha: nothing stored under fully transparent pixels.
    assert not video.rgb[video.alpha == 0].any()


def _semi_share(kinds, seeds):
    semi = visible = 0
    for kind in kinds:
        for seed in seeds:
            video, _ = generate_clip(kind, seed, 9, 64, 64)
            _, s, t = region_masks(video.alpha / 255.0)
            semi, visible = semi + s.sum(), visible + (~t).sum()
    return semi / visible


def test_soft_kinds_are_mostly_semi_transparent_and_shapes_opaque():
    for kind in SOFT_KINDS:
        assert _semi_share([kind], range(4)) > 0.5, kind
    assert _semi_share(SYNTHETIC_KINDS, range(4)) > 0.1
    assert _semi_share(["shape"], range(4)) < 0.3


def test_clip_is_fast():
    generate_clip("smoke", 0, 17, 128, 128)  # warm-up
    times = []
    for kind in SYNTHETIC_KINDS:
        start = time.perf_counter()
        generate_clip(kind, 1, 17, 128, 128)
        times.append(time.perf_counter() - start)
    # ~10-35 ms each on a loaded 2-core machine; the bound leaves room for a busy CI runner.
    assert np.median(times) < 0.1


def test_bad_arguments_are_clear_errors():
    with pytest.raises(WanAlphaError, match="1 \\+ 4k"):
        generate_clip("smoke", 0, 16, 32, 32)
    with pytest.raises(WanAlphaError, match="unknown synthetic kind 'lava'"):
        generate_clip("lava", 0, 17, 32, 32)
    with pytest.raises(WanAlphaError, match="8x8"):
        generate_clip("smoke", 0, 5, 4, 32)
    with pytest.raises(WanAlphaError, match="unknown synthetic kind"):
        SyntheticClips(4, 5, 16, 16, kinds=["smoke", "lava"])


def test_dataset_items_are_pure_functions_of_seed_and_index():
    data = SyntheticClips(num_clips=5, frames=5, height=16, width=24, seed=7)
    item = data[2]
    assert item["rgb"].shape == (3, 5, 16, 24) and item["alpha"].shape == (1, 5, 16, 24)
    assert item["rgb"].dtype == torch.float32
    assert -1 <= item["rgb"].min() and item["rgb"].max() <= 1
    assert 0 <= item["alpha"].min() and item["alpha"].max() <= 1 and item["caption"]
    fresh = SyntheticClips(num_clips=5, frames=5, height=16, width=24, seed=7)[2]
    assert torch.equal(item["rgb"], fresh["rgb"]) and item["caption"] == fresh["caption"]
    assert not torch.equal(item["alpha"], SyntheticClips(5, 5, 16, 24, seed=8)[2]["alpha"])
    assert len(data) == 5
    with pytest.raises(IndexError):
        data[5]


def test_dataset_kinds_filter_and_collate():
    data = SyntheticClips(num_clips=4, frames=5, height=16, width=16, kinds=["veil"])
    batch = next(iter(torch.utils.data.DataLoader(data, batch_size=4)))
    assert batch["rgb"].shape == (4, 3, 5, 16, 16)
    assert all("veil" in c or "curtain" in c or "scarf" in c or "cloth" in c for c in batch["caption"])
