"""The latent grid of Wan's causal VAE: frame counts and spans, and pixels per latent cell."""

import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.rgba import latent_frame_count, latent_frame_spans, latent_stride, vae_spatial_stride


@pytest.mark.parametrize("frames,latent", [(1, 1), (5, 2), (9, 3), (17, 5), (81, 21)])
def test_latent_frame_count(frames, latent):
    assert latent_frame_count(frames) == latent


@pytest.mark.parametrize("frames", [0, 2, 4, 16])
def test_latent_frame_count_rejects_non_4k_plus_1(frames):
    with pytest.raises(WanAlphaError, match="1 \\+ 4k"):
        latent_frame_count(frames)


@pytest.mark.parametrize("frames,fix", [(16, "use 13 or 17"), (2, "use 1 or 5"), (0, "use 1 or 5"), (80, "use 77 or 81")])
def test_a_bad_frame_count_names_the_valid_counts_either_side(frames, fix):
    with pytest.raises(WanAlphaError, match=f"{fix}$"):
        latent_frame_count(frames)


def test_latent_frame_spans_cover_the_clip_as_the_causal_vae_groups_it():
    spans = latent_frame_spans(17)
    assert spans == [slice(0, 1), slice(1, 5), slice(5, 9), slice(9, 13), slice(13, 17)]
    assert [len(range(17)[s]) for s in latent_frame_spans(9)] == [1, 4, 4]
    assert latent_frame_spans(1) == [slice(0, 1)]
    with pytest.raises(WanAlphaError, match="not 1 \\+ 4k"):
        latent_frame_spans(16)


def test_latent_stride_is_pixels_per_latent_cell():
    assert latent_stride(torch.zeros(1, 1, 9, 32, 48), torch.zeros(1, 16, 3, 4, 6)) == 8
    assert latent_stride(torch.zeros(1, 1, 9, 32, 48), torch.zeros(1, 16, 3, 8, 12)) == 4
    with pytest.raises(WanAlphaError, match="does not match latent"):
        latent_stride(torch.zeros(1, 1, 9, 32, 50), torch.zeros(1, 16, 3, 4, 6))


def test_vae_spatial_stride_is_read_from_the_config():
    assert vae_spatial_stride({}) == 8  # diffusers' default, Wan2.1's
    assert vae_spatial_stride({"temperal_downsample": [False, True, True]}) == 8
    assert vae_spatial_stride({"temperal_downsample": [True, True]}) == 4
