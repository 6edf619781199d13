import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.rgba import latent_frame_count, latent_frame_spans, latent_stride, pool_alpha_to_latent, region_masks


def test_region_masks_partition_the_pixels():
    alpha = torch.tensor([0.0, 0.0005, 0.3, 0.9995, 1.0])
    opaque, semi, transparent = region_masks(alpha)
    assert opaque.tolist() == [False, False, False, True, True]
    assert transparent.tolist() == [True, True, False, False, False]
    assert semi.tolist() == [False, False, True, False, False]


@pytest.mark.parametrize("frames,latent", [(1, 1), (5, 2), (9, 3), (17, 5), (81, 21)])
def test_latent_frame_count(frames, latent):
    assert latent_frame_count(frames) == latent


@pytest.mark.parametrize("frames", [0, 2, 4, 16])
def test_latent_frame_count_rejects_non_4k_plus_1(frames):
    with pytest.raises(WanAlphaError, match="1 \\+ 4k"):
        latent_frame_count(frames)


def test_pool_alpha_frame0_alone_then_groups_of_four():
    t, h, w = 9, 16, 16
    alpha = torch.zeros(1, 1, t, h, w)
    alpha[:, :, 0] = 1.0  # frame 0 opaque
    alpha[:, :, 1:5, :8, :8] = 1.0  # frames 1-4: top-left cell opaque
    alpha[:, :, 5, :, :] = 1.0  # one of frames 5-8 opaque -> 0.25
    pooled = pool_alpha_to_latent(alpha)
    assert pooled.shape == (1, 1, 3, 2, 2)
    assert torch.all(pooled[:, :, 0] == 1.0)
    assert pooled[0, 0, 1].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert torch.allclose(pooled[:, :, 2], torch.full((1, 1, 2, 2), 0.25))


def test_pool_alpha_is_an_area_average():
    alpha = torch.zeros(1, 1, 1, 8, 8)
    alpha[..., :4, :] = 1.0
    assert pool_alpha_to_latent(alpha).item() == pytest.approx(0.5)


def test_pool_alpha_rejects_bad_shapes():
    with pytest.raises(WanAlphaError, match="stride"):
        pool_alpha_to_latent(torch.zeros(1, 1, 5, 12, 16))
    with pytest.raises(WanAlphaError, match="1 \\+ 4k"):
        pool_alpha_to_latent(torch.zeros(1, 1, 4, 16, 16))
    with pytest.raises(WanAlphaError, match="B, 1, T, H, W"):
        pool_alpha_to_latent(torch.zeros(1, 5, 16, 16))


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
