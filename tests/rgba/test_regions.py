import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.rgba import pool_alpha_to_latent, region_masks


def test_region_masks_partition_the_pixels():
    alpha = torch.tensor([0.0, 0.0005, 0.3, 0.9995, 1.0])
    opaque, semi, transparent = region_masks(alpha)
    assert opaque.tolist() == [False, False, False, True, True]
    assert transparent.tolist() == [True, True, False, False, False]
    assert semi.tolist() == [False, False, True, False, False]


def test_pool_alpha_frame0_alone_then_groups_of_four():
    t, h, w = 9, 16, 16
    alpha = torch.zeros(1, 1, t, h, w)
    alpha[:, :, 0] = 1.0  # frame 0 opaque
    alpha[:, :, 1:5, :8, :8] = 1.0  # frames 1-4: top-left cell opaque
    alpha[:, :, 5, :, :] = 1.0  # one of frames 5-8 opaque -> 0.25
    pooled = pool_alpha_to_latent(alpha, 8)
    assert pooled.shape == (1, 1, 3, 2, 2)
    assert torch.all(pooled[:, :, 0] == 1.0)
    assert pooled[0, 0, 1].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert torch.allclose(pooled[:, :, 2], torch.full((1, 1, 2, 2), 0.25))


def test_pool_alpha_is_an_area_average():
    alpha = torch.zeros(1, 1, 1, 8, 8)
    alpha[..., :4, :] = 1.0
    assert pool_alpha_to_latent(alpha, 8).item() == pytest.approx(0.5)


def test_pool_alpha_rejects_bad_shapes():
    with pytest.raises(WanAlphaError, match="stride"):
        pool_alpha_to_latent(torch.zeros(1, 1, 5, 12, 16), 8)
    with pytest.raises(WanAlphaError, match="1 \\+ 4k"):
        pool_alpha_to_latent(torch.zeros(1, 1, 4, 16, 16), 8)
    with pytest.raises(WanAlphaError, match="B, 1, T, H, W"):
        pool_alpha_to_latent(torch.zeros(1, 5, 16, 16), 8)


def test_pool_alpha_follows_the_vaes_stride():
    alpha = torch.zeros(1, 1, 1, 8, 8)
    alpha[..., :4, :4] = 1.0
    assert pool_alpha_to_latent(alpha, 4)[0, 0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
