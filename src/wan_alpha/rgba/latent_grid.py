"""The latent grid of Wan's causal VAE: ``1 + 4k`` video frames -> ``1 + k`` latent frames (frame 0 alone, then
groups of 4), and the VAE's pixels per latent cell. Plain arithmetic: no tensor library needed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..errors import WanAlphaError

if TYPE_CHECKING:
    import torch


def latent_frame_count(frames: int, temporal_stride: int = 4) -> int:
    """Frames of Wan's causal latent: ``1 + 4k`` video frames -> ``1 + k`` latent frames."""
    if frames < 1 or (frames - 1) % temporal_stride:
        below = max(1, frames - (frames - 1) % temporal_stride)  # the valid counts either side of frames
        raise WanAlphaError(
            f"{frames} frames is not 1 + {temporal_stride}k (e.g. 1, 5, 9, 17, 81): use {below} or "
            f"{below + temporal_stride}"
        )
    return 1 + (frames - 1) // temporal_stride


def latent_frame_spans(frames: int, temporal_stride: int = 4) -> list[slice]:
    """The video frames behind each latent frame: frame 0 alone, then groups of ``temporal_stride``."""
    count = latent_frame_count(frames, temporal_stride)
    return [slice(0, 1)] + [slice(1 + temporal_stride * k, 1 + temporal_stride * (k + 1)) for k in range(count - 1)]


WAN21_TEMPORAL_DOWNSAMPLE = (False, True, True)
"""diffusers' default ``temperal_downsample`` of ``AutoencoderKLWan``: 8x8 pixels and 4 frames per latent cell."""


def vae_spatial_stride(config: Mapping) -> int:
    """Pixels per latent cell, each way, of an ``AutoencoderKLWan`` config: one halving per downsampling
    stage (``len(dim_mult) - 1`` of them). 8 for Wan2.1's VAE; the tiny model's may differ."""
    return 2 ** len(config.get("temperal_downsample", WAN21_TEMPORAL_DOWNSAMPLE))


def latent_stride(video: torch.Tensor, latents: torch.Tensor) -> int:
    """Pixels per latent cell, each way, of the VAE that turned ``video`` (..., H, W) into ``latents`` (..., h, w)."""
    width, cells = video.shape[-1], latents.shape[-1]
    if cells == 0 or width % cells:
        raise WanAlphaError(f"alpha {tuple(video.shape)} does not match latent {tuple(latents.shape)}: its width is "
                            "not a whole number of latent cells")
    return width // cells
