"""Opaque / semi-transparent / transparent regions and alpha pooled to the latent grid."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import WanAlphaError

OPAQUE_EPS = 1e-3
"""alpha >= 1 - eps is opaque, alpha <= eps is transparent (SPEC section 1)."""


def region_masks(alpha, eps: float = OPAQUE_EPS):
    """Boolean masks ``(opaque, semi, transparent)`` of the same shape as ``alpha`` (tensor or array)."""
    opaque = alpha >= 1 - eps
    transparent = alpha <= eps
    semi = ~(opaque | transparent)
    return opaque, semi, transparent


def latent_frame_count(frames: int, temporal_stride: int = 4) -> int:
    """Frames of Wan's causal latent: ``1 + 4k`` video frames -> ``1 + k`` latent frames."""
    if frames < 1 or (frames - 1) % temporal_stride:
        raise WanAlphaError(
            f"{frames} frames is not 1 + {temporal_stride}k (e.g. 1, 5, 9, 17, 81): "
            f"trim the clip to {max(1, frames - (frames - 1) % temporal_stride)} frames"
        )
    return 1 + (frames - 1) // temporal_stride


def latent_frame_spans(frames: int, temporal_stride: int = 4) -> list[slice]:
    """The video frames behind each latent frame: frame 0 alone, then groups of ``temporal_stride``."""
    count = latent_frame_count(frames, temporal_stride)
    return [slice(0, 1)] + [slice(1 + temporal_stride * k, 1 + temporal_stride * (k + 1)) for k in range(count - 1)]


def latent_stride(video: torch.Tensor, latents: torch.Tensor) -> int:
    """Pixels per latent cell, each way, of the VAE that turned ``video`` (..., H, W) into ``latents`` (..., h, w)."""
    width, cells = video.shape[-1], latents.shape[-1]
    if cells == 0 or width % cells:
        raise WanAlphaError(f"alpha {tuple(video.shape)} does not match latent {tuple(latents.shape)}: its width is "
                            "not a whole number of latent cells")
    return width // cells


def pool_alpha_to_latent(
    alpha: torch.Tensor, spatial_stride: int = 8, temporal_stride: int = 4
) -> torch.Tensor:
    """Average alpha ``(B, 1, T, H, W)`` over each latent cell -> ``(B, 1, 1 + (T-1)/4, H/8, W/8)``.

    Mirrors the causal VAE: frame 0 is its own latent frame, later frames go in groups of 4;
    spatially each cell is an ``8x8`` area average.
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
