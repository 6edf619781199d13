"""H.264 previews of RGBA clips: composited over a background, or RGB | alpha | composite side by side."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import WanAlphaError
from ..rgba import composite, parse_color
from .atomic import atomic_output, check_writable
from .containers import H264_PREVIEW, pad_to_even, write_frames
from .files import read_video
from .video import RGBAVideo

LAYOUTS = ("composite", "side-by-side")


def _background(background: str) -> np.ndarray | None:
    """``"checker"`` -> None (composite's default), ``"#RRGGBB"`` -> colour, else a video file's RGB."""
    if background == "checker":
        return None
    if background.startswith("#"):
        return parse_color(background)
    if not Path(background).exists():
        raise WanAlphaError(
            f"background {background!r} is neither 'checker', a #RRGGBB colour nor an existing video file"
        )
    return read_video(background, allow_opaque=True).frames[..., :3].astype(np.float32) / 255.0


def preview_frames(video: RGBAVideo, background: str = "checker", layout: str = "composite") -> np.ndarray:
    """uint8 RGB ``(T, H, W', 3)``: the composite, or RGB | alpha | composite (``W' = 3W``)."""
    if layout not in LAYOUTS:
        raise WanAlphaError(f"unknown preview layout {layout!r}: choose {' or '.join(LAYOUTS)}")
    mixed = composite(video.frames, _background(background))
    if layout == "composite":
        return mixed
    alpha = np.repeat(video.alpha[..., None], 3, axis=-1)
    return np.concatenate([video.rgb, alpha, mixed], axis=2)


def write_preview(
    path: str | os.PathLike,
    video: RGBAVideo | str | os.PathLike,
    *,
    background: str = "checker",
    layout: Literal["composite", "side-by-side"] = "composite",
    overwrite: bool = False,
) -> Path:
    """Write an H.264 ``.mp4`` (yuv420p, odd sizes padded by one edge row/column) that any player shows.

    ``video`` is a clip or a path to read; ``background`` is ``"checker"``, ``"#RRGGBB"`` or a video
    file with the clip's size and frame count.
    """
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise WanAlphaError(f"previews are H.264 .mp4 files: name the output {path.with_suffix('.mp4').name}")
    check_writable(path, overwrite)  # fail before decoding, not after
    if not isinstance(video, RGBAVideo):
        video = read_video(video)
    frames = pad_to_even(preview_frames(video, background, layout))
    with atomic_output(path, overwrite=overwrite) as tmp:
        write_frames(tmp, frames, video.fps, H264_PREVIEW)
    return path
