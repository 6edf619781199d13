"""The torch Datasets: ``RGBAClipDataset`` (manifest rows -> training clips of one size, with a seeded window and
crop) and ``SyntheticClips`` (procedural clips made on the fly).

Items are ``{"rgb": (3,T,H,W) in [-1,1], "alpha": (1,T,H,W) in [0,1], "caption": str}``.

Randomness (window start, crop) is drawn from ``(seed, epoch, index)`` only, so any number of
DataLoader workers give the same items; call :meth:`set_epoch` before each epoch (with
non-persistent workers, which copy the dataset when an epoch's iterator starts).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import WanAlphaError
from ..io import RGBAVideo, read_video
from ..rgba import latent_frame_count, unpremultiply
from .manifest import ManifestRow, read_rows
from .synthetic import check_synthetic_size, synthetic_clip, synthetic_kinds
from .transforms import premultiplied_tensor, resize_premultiplied


def load_row(row: ManifestRow, root: str | os.PathLike) -> RGBAVideo:
    """The clip a row points at (paths relative to the manifest folder ``root``)."""
    first, alpha = row.paths(root)
    return read_video(first, alpha_path=alpha)


def window_start(num_frames: int, frames: int, rng: np.random.Generator, where: str = "clip") -> int:
    """A random start for a ``frames`` window; a still (1 frame) is repeated instead."""
    if num_frames == 1:
        return 0
    if num_frames < frames:
        raise WanAlphaError(f"{where} has {num_frames} frames, the dataset asks for {frames}: lower frames or rebuild")
    return int(rng.integers(0, num_frames - frames + 1))


def resize_and_crop(
    frames: np.ndarray, height: int, width: int, rng: np.random.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 ``(T,H,W,4)`` -> scaled to cover ``height x width`` -> cropped (random, or centred when
    ``rng`` is None) -> ``rgb (3,T,h,w)`` in [-1,1], ``alpha (1,T,h,w)`` in [0,1]."""
    t, src_h, src_w, _ = frames.shape
    factor = max(height / src_h, width / src_w)
    scaled_h, scaled_w = max(height, round(src_h * factor)), max(width, round(src_w * factor))
    x = resize_premultiplied(premultiplied_tensor(frames), scaled_h, scaled_w)
    if rng is None:
        top, left = (scaled_h - height) // 2, (scaled_w - width) // 2
    else:
        top, left = int(rng.integers(0, scaled_h - height + 1)), int(rng.integers(0, scaled_w - width + 1))
    x = x[:, :, top : top + height, left : left + width]
    alpha = x[:, 3:]
    rgb = unpremultiply(x[:, :3], alpha, eps=0.5 / 255) * 2 - 1
    return rgb.permute(1, 0, 2, 3).contiguous(), alpha.permute(1, 0, 2, 3).contiguous()


class RGBAClipDataset(torch.utils.data.Dataset):
    """Clips of a manifest (``.jsonl``) or reference CSV, scaled to cover ``height x width`` and cropped to it
    (at random, or centred with ``random_crop=False``). Rows with fewer than ``frames`` frames (stills
    excepted: they are repeated) are dropped and counted in ``dropped``."""

    def __init__(
        self,
        manifest: str | os.PathLike,
        *,
        frames: int = 17,
        height: int = 256,
        width: int = 256,
        seed: int = 0,
        random_crop: bool = True,
    ) -> None:
        latent_frame_count(frames)
        if height < 1 or width < 1:
            raise WanAlphaError(f"clip size must be positive, got {width}x{height}")
        self.root = Path(manifest).parent
        self.frames, self.height, self.width = frames, height, width
        self.seed, self.random_crop = seed, random_crop
        rows = read_rows(manifest)
        self.rows = [r for r in rows if r.frames is None or r.frames == 1 or r.frames >= frames]
        self.dropped = {"too_short": len(rows) - len(self.rows)} if len(rows) > len(self.rows) else {}
        if not self.rows:
            raise WanAlphaError(f"no clip in {manifest} has {frames} frames or more: lower frames or rebuild")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        row = self.rows[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        video = load_row(row, self.root)
        start = window_start(video.num_frames, self.frames, rng, where=str(self.root / row.key))
        frames = video.frames[start : start + self.frames]
        if len(frames) == 1:
            frames = np.repeat(frames, self.frames, axis=0)
        with torch.no_grad():
            rgb, alpha = resize_and_crop(frames, self.height, self.width, rng if self.random_crop else None)
        return {"rgb": rgb, "alpha": alpha, "caption": row.caption}


class SyntheticClips(torch.utils.data.Dataset):
    """``num_clips`` procedural clips made on the fly (:func:`~wan_alpha.data.synthetic.synthetic_clip`); clip ``i``
    depends only on ``(seed, i)``. Kinds cycle through ``kinds`` (default: all of
    :data:`~wan_alpha.data.synthetic.SYNTHETIC_KINDS`). Holds no RNG state, so it is safe with any number of
    DataLoader workers."""

    def __init__(
        self, num_clips: int, frames: int, height: int, width: int, seed: int = 0, kinds: Sequence[str] | None = None,
    ) -> None:
        if num_clips < 1:
            raise WanAlphaError(f"num_clips must be at least 1, got {num_clips}")
        self.kinds = synthetic_kinds(kinds)
        check_synthetic_size(frames, height, width)
        self.num_clips, self.frames, self.height, self.width, self.seed = num_clips, frames, height, width, seed

    def __len__(self) -> int:
        return self.num_clips

    def clip(self, index: int) -> tuple[RGBAVideo, str]:
        """The clip and caption behind item ``index``."""
        if not 0 <= index < self.num_clips:
            raise IndexError(index)
        video, caption, _ = synthetic_clip(index, self.seed, self.kinds, self.frames, self.height, self.width)
        return video, caption

    def __getitem__(self, index: int) -> dict:
        video, caption = self.clip(index)
        rgb, alpha = video.to_tensors()
        return {"rgb": rgb[0], "alpha": alpha[0], "caption": caption}
