"""``RGBAClipDataset``: manifest rows -> training clips, with aspect buckets and seeded augmentation.

Items match :class:`~wan_alpha.data.SyntheticClips`: ``rgb (3,T,H,W)`` in [-1,1], ``alpha
(1,T,H,W)`` in [0,1], ``caption``. With ``background`` set, items also carry ``background
(3,1,H,W)`` and ``rgb_over_background`` (the clip soft-rendered over it), the input for training
the base RGB path.

Randomness (window start, crop, background) is drawn from ``(seed, epoch, index)`` only, so any
number of DataLoader workers give the same items; call :meth:`set_epoch` before each epoch (with
non-persistent workers, which copy the dataset when an epoch's iterator starts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import WanAlphaError
from ..io import RGBAVideo, read_video
from ..rgba import PALETTE, latent_frame_count, soft_render, unpremultiply
from .manifest import ManifestRow, read_rows
from .transforms import premultiplied_tensor, resize_premultiplied

BACKGROUNDS = ("palette", "solid", "gradient", "mixed")
SIZE_MULTIPLE = 16
"""VAE stride 8 x transformer patch 2."""


def load_row(row: ManifestRow, root: str | os.PathLike) -> RGBAVideo:
    """The clip a row points at (paths relative to the manifest folder ``root``)."""
    first, alpha = row.paths(root)
    return read_video(first, alpha_path=alpha)


def nearest_bucket(height: int | None, width: int | None, buckets: Sequence[tuple[int, int]]) -> int:
    """Index of the bucket whose aspect ratio is closest (in log scale); unknown sizes take bucket 0."""
    if not height or not width:
        return 0
    ratios = np.log([h / w for h, w in buckets])
    return int(np.argmin(np.abs(ratios - np.log(height / width))))


def _check_buckets(buckets: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    buckets = [tuple(int(v) for v in b) for b in buckets]
    if not buckets or any(
        len(b) != 2 or min(b) < SIZE_MULTIPLE or b[0] % SIZE_MULTIPLE or b[1] % SIZE_MULTIPLE for b in buckets
    ):
        raise WanAlphaError(
            f"buckets must be (height, width) pairs, multiples of {SIZE_MULTIPLE} (VAE stride x patch), got {buckets}"
        )
    return buckets


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


def random_background(kind: str, height: int, width: int, rng: np.random.Generator) -> torch.Tensor:
    """A background ``(3, 1, H, W)`` in [-1, 1]: a palette colour, a random solid, or a linear gradient."""
    if kind == "mixed":
        kind = BACKGROUNDS[int(rng.integers(3))]
    if kind == "palette":
        colour = PALETTE[int(rng.integers(len(PALETTE)))]
        return colour.view(3, 1, 1, 1).expand(3, 1, height, width).clone()
    if kind == "solid":
        return (
            torch.from_numpy(rng.uniform(-1, 1, 3).astype(np.float32))
            .view(3, 1, 1, 1)
            .expand(3, 1, height, width)
            .clone()
        )
    if kind == "gradient":
        start, end = (torch.from_numpy(rng.uniform(-1, 1, 3).astype(np.float32)).view(3, 1, 1, 1) for _ in range(2))
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
        ramp = xs * np.cos(angle) + ys * np.sin(angle)
        ramp = ((ramp - ramp.min()) / (ramp.max() - ramp.min()).clamp_min(1e-6)).view(1, 1, height, width)
        return start + (end - start) * ramp
    raise WanAlphaError(f"unknown background {kind!r}: choose {', '.join(BACKGROUNDS)}")


class RGBAClipDataset(torch.utils.data.Dataset):
    """Clips of a manifest (``.jsonl``) or reference CSV, resized and cropped to a bucket size.

    ``buckets``: ``(height, width)`` sizes; each row goes to the one nearest its aspect ratio
    (known from the manifest's ``width``/``height``), so batches from :class:`BucketBatchSampler`
    share a size. Default: one bucket ``(height, width)``. Rows with fewer than ``frames``
    frames (stills excepted: they are repeated) are dropped and counted in ``dropped``.
    """

    def __init__(
        self,
        manifest: str | os.PathLike,
        *,
        frames: int = 17,
        height: int = 256,
        width: int = 256,
        buckets: Sequence[tuple[int, int]] | None = None,
        seed: int = 0,
        background: str | None = None,
        random_crop: bool = True,
    ) -> None:
        latent_frame_count(frames)
        if background is not None and background not in BACKGROUNDS:
            raise WanAlphaError(f"unknown background {background!r}: choose {', '.join(BACKGROUNDS)}")
        self.root = Path(manifest).parent
        self.frames, self.seed, self.background, self.random_crop = frames, seed, background, random_crop
        self.buckets = _check_buckets(buckets if buckets is not None else [(height, width)])
        rows = read_rows(manifest)
        self.rows = [r for r in rows if r.frames is None or r.frames == 1 or r.frames >= frames]
        self.dropped = {"too_short": len(rows) - len(self.rows)} if len(rows) > len(self.rows) else {}
        if not self.rows:
            raise WanAlphaError(f"no clip in {manifest} has {frames} frames or more: lower frames or rebuild")
        self.bucket_of = [nearest_bucket(r.height, r.width, self.buckets) for r in self.rows]
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
        height, width = self.buckets[self.bucket_of[index]]
        with torch.no_grad():
            rgb, alpha = resize_and_crop(frames, height, width, rng if self.random_crop else None)
        item = {"rgb": rgb, "alpha": alpha, "caption": row.caption}
        if self.background is not None:
            background = random_background(self.background, height, width, rng)
            item["background"] = background
            item["rgb_over_background"] = soft_render(rgb, alpha, background)
        return item


class BucketBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Batches whose items share a bucket (so they stack), shuffled from ``(seed, epoch)``."""

    def __init__(self, bucket_of: Sequence[int], batch_size: int, seed: int = 0, drop_last: bool = False) -> None:
        if batch_size < 1:
            raise WanAlphaError(f"batch_size must be at least 1, got {batch_size}")
        self.bucket_of, self.batch_size, self.seed, self.drop_last = list(bucket_of), batch_size, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        batches = []
        for bucket in sorted(set(self.bucket_of)):
            members = [i for i, b in enumerate(self.bucket_of) if b == bucket]
            members = [members[i] for i in rng.permutation(len(members))]
            for start in range(0, len(members), self.batch_size):
                batch = members[start : start + self.batch_size]
                if len(batch) == self.batch_size or not self.drop_last:
                    batches.append(batch)
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())
