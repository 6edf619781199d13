"""Stacked-alpha MP4: H.264 with the colour picture and the alpha as grey beside it, for every browser.

Safari and iOS play no WebM alpha and FFmpeg cannot write HEVC with alpha, but every browser plays
H.264. The alpha rides as a grey picture ``below`` (or to the ``right`` of) the colour picture; a small
canvas script (``web/player.html``) recombines them. A comment tag records the layout and the true
size, so :func:`read_mp4` (and ``wan-alpha info``) recognise the file; each half is padded to even
sizes for 4:2:0 chroma, and the padding is cropped on reading.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import WanAlphaError
from .base import Decoded, WriteOptions, luma
from .containers import Encoder, container_comment, fill_transparent, pad_to_even, read_container, write_frames
from .video import RGBAVideo

LAYOUTS = ("below", "right")

# yuv420p High profile plays in every browser (Safari/iOS included); faststart lets a page begin playing
# before the download ends. x264's adaptive quantisation raises the quantiser on flat areas, and the grey
# alpha picture is mostly flat: without it the alpha error on generated clips halves (23 -> 10/255) and files
# shrink ~20% (bench/alpha_fidelity.py; docs/formats.md).
STACKED_H264 = Encoder(
    "libx264",
    "yuv420p",
    {"preset": "medium", "profile": "high", "x264-params": "aq-mode=0"},
    quality_option="crf",
    default_quality=16,
    container_options={"movflags": "+faststart"},
)

_TAG = re.compile(r"wan-alpha stacked-alpha layout=(below|right) width=(\d+) height=(\d+)")


def stacked_tag(layout: str, width: int, height: int) -> str:
    return f"wan-alpha stacked-alpha layout={layout} width={width} height={height}"


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise WanAlphaError(f"unknown stacked layout {layout!r}: choose {' or '.join(LAYOUTS)}")


def stack_alpha(video: RGBAVideo, layout: str = "below") -> np.ndarray:
    """uint8 RGB ``(T, H', W', 3)``: the colour picture and the alpha as grey, each padded to even sizes."""
    check_layout(layout)
    colour = pad_to_even(fill_transparent(video.frames)[..., :3])
    grey = pad_to_even(np.repeat(video.alpha[..., None], 3, axis=-1))
    return np.concatenate([colour, grey], axis=1 if layout == "below" else 2)


def write_stacked(path: Path, video: RGBAVideo, options: WriteOptions) -> None:
    frames = stack_alpha(video, options.stacked_layout)
    tag = stacked_tag(options.stacked_layout, video.width, video.height)
    write_frames(path, frames, video.fps, STACKED_H264, options.quality, tag)


def stacked_layout(path: str | os.PathLike) -> tuple[str, int, int] | None:
    """(layout, width, height) from a stacked-alpha MP4's tag; None for any other video."""
    tag = _TAG.search(container_comment(Path(path)))
    return (tag.group(1), int(tag.group(2)), int(tag.group(3))) if tag else None


def read_mp4(path: Path) -> Decoded:
    """Any FFmpeg-readable video; a stacked-alpha MP4 (by its tag) comes back as RGBA."""
    decoded = read_container(path)
    tag = stacked_layout(path)
    if tag is None:
        return decoded
    layout, width, height = tag
    frames = decoded.frames
    even_h, even_w = height + height % 2, width + width % 2
    alpha_at = (slice(even_h, even_h + height), slice(0, width)) if layout == "below" else (
        slice(0, height), slice(even_w, even_w + width))
    alpha = luma(frames[:, alpha_at[0], alpha_at[1]])
    if alpha.shape[1:] != (height, width):
        raise WanAlphaError(f"{path} is tagged stacked-alpha {width}x{height} ({layout}) but its picture is "
                            f"{frames.shape[2]}x{frames.shape[1]}: the file was edited; export it again")
    rgba = np.concatenate([frames[:, :height, :width, :3], alpha[..., None]], axis=-1)
    return Decoded(rgba, decoded.fps, True, decoded.codec, decoded.pixel_format, "mp4-stacked")
