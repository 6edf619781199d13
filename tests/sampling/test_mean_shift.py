"""The mean shift: the map G from ellipses (static, moving), from a fitted alpha video or a given mask, and the
shifted noise."""

import math

import pytest
import torch

from wan_alpha.cli.generate_commands import MASK_FIT_CHOICES
from wan_alpha.errors import WanAlphaError
from wan_alpha.rgba import Ellipse, fit_ellipse
from wan_alpha.sampling import (
    DEFAULT_ELLIPSE,
    MASK_FITS,
    ellipse_masks,
    fit_alpha_ellipses,
    masks_from_alpha,
    resize_mask,
    resolve_mask,
    shift_noise,
)


def test_shift_moves_the_transparent_side_by_mu():
    noise = torch.randn(2, 16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(1, 1, 3, 8, 8)
    mask[..., 2:6, 2:6] = 1.0  # opaque object in the middle
    out = shift_noise(noise, mask, mu=0.5)
    assert torch.equal(out[..., 2:6, 2:6], noise[..., 2:6, 2:6])
    assert torch.allclose(out[..., 0, :] - noise[..., 0, :], torch.full_like(out[..., 0, :], 0.5))
    assert out.dtype == noise.dtype and out.shape == noise.shape


def test_keyframed_ellipse_moves_linearly():
    start, end = Ellipse(0.2, 0.3, 0.2, 0.2, 0), Ellipse(0.8, 0.7, 0.4, 0.2, 0)
    masks = ellipse_masks(start, end, latent_frames=5, height=48, width=64)
    assert masks.shape == (1, 1, 5, 48, 64)
    fits = [fit_ellipse(masks[0, 0, i], threshold=math.exp(-0.5)) for i in range(5)]
    for i, fit in enumerate(fits):
        s = i / 4
        assert fit.cx == pytest.approx(0.2 + 0.6 * s, abs=0.02)
        assert fit.cy == pytest.approx(0.3 + 0.4 * s, abs=0.02)
        assert fit.w == pytest.approx(0.2 + 0.2 * s, abs=0.03)
    static = ellipse_masks(start, None, latent_frames=3, height=48, width=64)
    assert torch.equal(static[0, 0, 0], static[0, 0, 2])


def test_masks_from_alpha_follow_latent_frame_grouping():
    alpha = torch.zeros(1, 1, 9, 64, 96)
    alpha[..., 0, 8:40, 8:40] = 1  # frame 0: object top-left
    alpha[..., 1:5, 24:56, 48:88] = 1  # frames 1-4: bottom-right
    # frames 5-8 empty -> latent frame 2 fully transparent
    ellipses = fit_alpha_ellipses(alpha, stride=8)
    assert len(ellipses) == 1 and len(ellipses[0]) == 3
    assert ellipses[0][0].cx == pytest.approx(24 / 96, abs=0.02)
    assert ellipses[0][1].cx == pytest.approx(68 / 96, abs=0.02)
    assert ellipses[0][2] is None
    masks = masks_from_alpha(alpha, stride=8)
    assert masks.shape == (1, 1, 3, 8, 12)
    assert masks[0, 0, 0, 3, 3] == masks[0, 0, 0].max()
    assert torch.all(masks[0, 0, 2] == 0)


def test_default_mask_is_the_centred_ellipse():
    mask = resolve_mask(3, 4, 6)
    assert mask.shape == (1, 1, 3, 4, 6)
    assert torch.equal(mask, ellipse_masks(DEFAULT_ELLIPSE, None, 3, 4, 6))
    assert DEFAULT_ELLIPSE.cx == 0.5 and DEFAULT_ELLIPSE.cy == 0.5 and DEFAULT_ELLIPSE.w == 0.5


def test_mask_with_wrong_latent_frames_or_values_is_refused():
    with pytest.raises(WanAlphaError, match=r"has 2 latent frames \(5 video frames\).*has 3 \(9 frames\)"):
        resolve_mask(3, 4, 6, mask=torch.zeros(2, 4, 6))
    with pytest.raises(WanAlphaError, match=r"in \[0, 1\]"):
        resolve_mask(3, 4, 6, mask=torch.full((3, 4, 6), 2.0))
    with pytest.raises(WanAlphaError, match="not both"):
        resolve_mask(3, 4, 6, mask=torch.zeros(3, 4, 6), ellipse=DEFAULT_ELLIPSE)
    with pytest.raises(WanAlphaError, match="start ellipse"):
        resolve_mask(3, 4, 6, ellipse_end=DEFAULT_ELLIPSE)


def test_a_mask_on_another_grid_is_resized_bilinearly_as_the_reference_does():
    mask = torch.rand(3, 96, 170, generator=torch.Generator().manual_seed(0))  # the published mask's grid
    assert resolve_mask(3, 60, 104, mask=mask).shape == (1, 1, 3, 96, 170)  # kept on its grid until the shift
    resized = resize_mask(mask[None, None], 60, 104)
    expected = torch.nn.functional.interpolate(mask[:, None], size=(60, 104), mode="bilinear", align_corners=False)
    assert torch.equal(resized[0, 0], expected[:, 0])
    noise = torch.randn(1, 4, 3, 60, 104, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(shift_noise(noise, mask[None, None], 0.05), noise + 0.05 * (1 - resized), atol=1e-7)
    assert resize_mask(resized, 60, 104) is resized


def test_the_shift_rounds_like_the_reference_in_bfloat16():
    # the reference: noise (float32) + (1 - G.bfloat16()) * torch.tensor(0.05, dtype=torch.bfloat16)
    mask = torch.rand(1, 1, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(1, 4, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    reference = noise + (1 - mask.bfloat16()) * torch.tensor(0.05, dtype=torch.bfloat16)
    out = shift_noise(noise, mask, 0.05, dtype=torch.bfloat16)
    assert out.dtype == torch.float32 and torch.equal(out, reference)
    assert not torch.equal(out, shift_noise(noise, mask, 0.05))  # float32 rounds otherwise


def test_the_reference_fit_binarises_alpha_before_pooling():
    alpha = torch.zeros(1, 1, 1, 64, 64)
    alpha[..., 16:48, 8:56] = 0.2  # a faint (semi-transparent) object: object to the reference, not to moments
    (reference,) = fit_alpha_ellipses(alpha, stride=8)
    assert reference[0].cx == pytest.approx(0.5) and reference[0].w >= 6 / 8  # spans the 6 cells it covers
    assert fit_alpha_ellipses(alpha, stride=8, fit="moments") == [[None]]
    assert fit_alpha_ellipses(alpha, stride=8, threshold=0.25) == [[None]]  # binarised away
    with pytest.raises(WanAlphaError, match="unknown mask fit"):
        fit_alpha_ellipses(alpha, stride=8, fit="pca")
    assert MASK_FIT_CHOICES == MASK_FITS  # the command line offers every fit
