"""Opaque / semi-transparent / transparent regions, and alpha pooled onto the latent grid."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import WanAlphaError
from .latent_grid import latent_frame_count

OPAQUE_EPS = 1e-3
"""alpha >= 1 - eps is opaque, alpha <= eps is transparent (SPEC section 1)."""


def region_masks(alpha, eps: float = OPAQUE_EPS):
    """Boolean masks ``(opaque, semi, transparent)`` of the same shape as ``alpha`` (tensor or array)."""
    opaque = alpha >= 1 - eps
    transparent = alpha <= eps
    semi = ~(opaque | transparent)
    return opaque, semi, transparent


def pool_alpha_to_latent(alpha: torch.Tensor, spatial_stride: int, temporal_stride: int = 4) -> torch.Tensor:
    """Average alpha ``(B, 1, T, H, W)`` over each latent cell -> ``(B, 1, 1 + (T-1)/4, H/s, W/s)``.

    Mirrors the causal VAE: frame 0 is its own latent frame, later frames go in groups of 4;
    spatially each cell is an ``s x s`` area average (``s = spatial_stride``, the VAE's; 8 for Wan2.1).
    """
    if alpha.ndim != 5:
        raise WanAlphaError(f"alpha must be (B, 1, T, H, W), got shape {tuple(alpha.shape)}")
    b, c, t, h, w = alpha.shape
    latent_frame_count(t, temporal_stride)
    if h % spatial_stride or w % spatial_stride:
        raise WanAlphaError(f"alpha size {w}x{h} is not a multiple of the VAE stride {spatial_stride}")
    spatial = F.avg_pool3d(alpha, kernel_size=(1, spatial_stride, spatial_stride))
    first = spatial[:, :, :1]
    rest = spatial[:, :, 1:]
    if rest.shape[2]:
        rest = rest.reshape(b, c, -1, temporal_stride, *rest.shape[-2:]).mean(dim=3)
    return torch.cat([first, rest], dim=2)
