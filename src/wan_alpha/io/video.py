"""The in-memory RGBA clip and its conversion to and from model tensors.

This is the one place where file-side frames ``(T, H, W, 4)`` uint8 meet model-side tensors
``rgb (B, 3, T, H, W)`` in [-1, 1] and ``alpha (B, 1, T, H, W)`` in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import WanAlphaError
from .limits import FPS_RANGE

if TYPE_CHECKING:
    import torch


@dataclass
class RGBAVideo:
    """A clip with straight (not premultiplied) alpha.

    ``frames`` is uint8 ``(T, H, W, 4)``; ``fps`` frames per second.
    """

    frames: np.ndarray
    fps: float

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames)
        if frames.ndim != 4 or frames.shape[-1] != 4:
            raise WanAlphaError(f"RGBA frames must be shaped (T, H, W, 4), got {tuple(frames.shape)}")
        if frames.shape[0] == 0:
            raise WanAlphaError("the clip has zero frames")
        if frames.dtype != np.uint8:
            raise WanAlphaError(f"RGBA frames must be uint8, got {frames.dtype}")
        low, high = FPS_RANGE
        if not (np.isfinite(self.fps) and low <= self.fps <= high):  # containers cannot store a rate outside it
            raise WanAlphaError(f"fps must be between {low:g} and {high:g}, got {self.fps}")
        self.frames = frames

    @property
    def num_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def height(self) -> int:
        return self.frames.shape[1]

    @property
    def width(self) -> int:
        return self.frames.shape[2]

    @property
    def rgb(self) -> np.ndarray:
        return self.frames[..., :3]

    @property
    def alpha(self) -> np.ndarray:
        return self.frames[..., 3]

    def to_tensors(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> ``rgb (1, 3, T, H, W)`` in [-1, 1] and ``alpha (1, 1, T, H, W)`` in [0, 1]."""
        import torch  # only here and in from_tensors: file conversion needs no torch

        x = torch.from_numpy(self.frames).to(device=device, dtype=dtype or torch.float32).permute(3, 0, 1, 2) / 255.0
        return (x[:3] * 2 - 1).unsqueeze(0), x[3:].unsqueeze(0)

    @classmethod
    def from_tensors(cls, rgb: torch.Tensor, alpha: torch.Tensor, fps: float) -> "RGBAVideo":
        """Inverse of :meth:`to_tensors` for one clip (a leading batch of 1 is allowed)."""
        import torch

        if rgb.ndim == 5:
            if rgb.shape[0] != 1 or alpha.shape[0] != 1:
                raise WanAlphaError(f"from_tensors takes one clip, got a batch of {rgb.shape[0]}")
            rgb, alpha = rgb[0], alpha[0]
        if rgb.ndim != 4 or rgb.shape[0] != 3 or alpha.shape != (1, *rgb.shape[1:]):
            raise WanAlphaError(
                f"expected rgb (3, T, H, W) and alpha (1, T, H, W), got {tuple(rgb.shape)} and {tuple(alpha.shape)}"
            )
        if not (torch.isfinite(rgb).all() and torch.isfinite(alpha).all()):
            raise WanAlphaError("the clip contains NaN or infinite values; refusing to write it")
        rgb01 = (rgb.detach().float().cpu() + 1) / 2
        x = torch.cat([rgb01, alpha.detach().float().cpu()], dim=0).clamp(0, 1)
        frames = torch.round(x * 255).to(torch.uint8).permute(1, 2, 3, 0).numpy()
        return cls(np.ascontiguousarray(frames), fps)
