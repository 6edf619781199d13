"""What every file backend returns, and the checks all of them share."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import WanAlphaError

DEFAULT_FPS = 16.0
"""Frame rate assumed when a file does not record one (PNG sequence without ``meta.json``, a still
image): Wan's native 16 fps."""


@dataclass
class Decoded:
    """A decoded file before it becomes an :class:`RGBAVideo`.

    ``frames`` is uint8 ``(T, H, W, 4)``; a source without an alpha channel has alpha 255 and
    ``has_alpha`` False, so callers decide whether that is acceptable.
    """

    frames: np.ndarray
    fps: float
    has_alpha: bool
    codec: str
    pixel_format: str
    """What the file stores, as FFmpeg names it (``yuva420p``, ``argb``, ``rgba``, ``gbrapf16``...)."""
    format: str | None = None
    """The format the file itself shows (its codec, a tag), where the extension is shared: a ``.mov`` holds
    ProRes, PNG or QuickTime Animation; None: the extension's format."""
    premultiplied: bool = False
    """The colour is stored multiplied by alpha (a tag we wrote, or the format's convention)."""


def stack_frames(frames: list[np.ndarray], path: Path) -> np.ndarray:
    """Stack decoded frames, refusing an empty file or frames that change size mid-clip."""
    if not frames:
        raise WanAlphaError(f"{path} contains no video frames")
    first = frames[0].shape
    for index, frame in enumerate(frames):
        if frame.shape != first:
            raise WanAlphaError(
                f"{path}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, frame 0 is {first[1]}x{first[0]}; "
                "all frames must have the same size"
            )
    return np.stack(frames)


@dataclass(frozen=True)
class WriteOptions:
    """How a writer encodes, beyond the frames: each format reads the fields that apply to it."""

    quality: int | None = None
    premultiplied: bool = False
    """Store colour multiplied by alpha (formats whose ``alpha_convention`` is ``"either"``)."""
    stacked_layout: str = "below"
    """mp4-stacked: the alpha picture ``below`` or to the ``right`` of the colour picture."""
    columns: int | None = None
    """spritesheet: frames per row (None: a near-square grid)."""
    max_size: int | None = None
    """spritesheet: the largest atlas width and height allowed (a GPU's texture limit)."""


def luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB frames as uint8 (a grey matte gives its grey value back exactly)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(frames[..., :3].astype(np.float32) @ weights), 0, 255).astype(np.uint8)


def fps_fraction(fps: float) -> Fraction:
    """The exact rational rate containers store: 29.97002997... -> 30000/1001, 12.5 -> 25/2."""
    return Fraction(fps).limit_denominator(10_000)


def check_frame_count(path: Path, decoded: int, expected: int | None) -> None:
    """A file that promises more frames than it holds was cut short (copy or download interrupted)."""
    if expected is not None and decoded < expected:
        raise WanAlphaError(
            f"{path} is truncated or corrupt: it declares {expected} frames but {decoded} could be decoded; "
            "copy or export it again"
        )
