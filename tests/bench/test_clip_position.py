from types import SimpleNamespace

import numpy as np
import pytest
import torch


class DriftingVAE:
    """Reconstructs exactly, except that alpha gains an error growing with the frame's position in the clip."""

    def __call__(self, rgb, alpha, background):
        drift = 0.02 * (1 + torch.arange(alpha.shape[2], dtype=alpha.dtype)).view(1, 1, -1, 1, 1)
        return SimpleNamespace(rgb=rgb, alpha=alpha + drift)


def test_error_that_grows_with_position_flips_when_played_backwards(load_bench_script):
    position = load_bench_script("clip_position")
    g = torch.Generator().manual_seed(0)
    clips = [{"rgb": torch.rand(3, 17, 8, 8, generator=g) * 2 - 1, "alpha": torch.full((1, 17, 8, 8), 0.2)}
             for _ in range(2)]
    forward, backward = position.psnr_by_latent_frame(DriftingVAE(), clips, clips=2)
    assert len(forward) == len(backward) == 5
    assert np.all(np.diff(forward[1:]) < 0) and np.all(np.diff(backward[1:]) > 0)
    assert forward[0] > backward[0] and forward[4] < backward[4]  # the gap flips sign: position, not content
    frame_0_last = 0.02 * 17  # frame 0 played backwards sits at position 16
    assert backward[0] == pytest.approx(10 * np.log10(1 / frame_0_last**2))
