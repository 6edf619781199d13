"""Input limits: what a file may expand to, checked from its headers before anything is decoded.

A few hundred bytes can declare a 20000x20000 frame, a 65535 s frame delay or a 3 GB zip member. Every reader,
builder and preview asks this module first (frame size, frame count, total decoded bytes, zip members, fps),
so a hostile or broken file costs a header read and a one-line :class:`WanAlphaError`, not all the memory.
The defaults fit any real clip this project makes; ``wan-alpha --max-pixels / --max-frames / --max-decoded-gib``
(anywhere on the command line) raise them for a trusted large file.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import stat
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

from PIL import Image

from ..errors import WanAlphaError

GIB = 1024**3
FPS_RANGE = (1e-3, 1e3)
"""Frame rates a file may declare: outside this a rate is a corrupt header (or 1e300 in a meta.json)."""
MAX_ZIP_RATIO = 100
"""Uncompressed / compressed size a zip member may reach (PNG frames are stored about 1:1; a bomb is 1000:1)."""
_RATIO_FREE_BYTES = 1024**2  # small members (meta.json, tiny frames) may compress as well as they like
_FLAG = {"max_pixels": "--max-pixels", "max_frames": "--max-frames", "max_decoded_bytes": "--max-decoded-gib"}


@dataclass(frozen=True)
class InputLimits:
    """How much one input may decode to. Defaults: 8192x8192 pixels a frame, 20000 frames, 4 GiB of RGBA frames."""

    max_pixels: int = 8192 * 8192
    max_frames: int = 20_000
    max_decoded_bytes: int = 4 * GIB


_limits = InputLimits()


def current_limits() -> InputLimits:
    return _limits


def set_limits(**changes: int | None) -> InputLimits:
    """Set the process's limits: the defaults with ``changes`` (``None``: the default); Pillow's own bomb check
    follows ``max_pixels`` up."""
    global _limits
    updates = {key: value for key, value in changes.items() if value is not None}
    for key, value in updates.items():
        if value < 1:
            raise WanAlphaError(f"{_FLAG[key]} must be positive, got {value}")
    _limits = replace(InputLimits(), **updates)
    # Pillow refuses images over 2x MAX_IMAGE_PIXELS itself; never let it refuse what the user allowed.
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, _limits.max_pixels)
    return _limits


def _over(path: str | os.PathLike, what: str, value: str, limit: str, key: str) -> WanAlphaError:
    return WanAlphaError(f"{path}: {what} {value} is over the limit of {limit}: if the file is trusted, raise the "
                         f"limit with wan-alpha {_FLAG[key]}")


def check_frame_size(path: str | os.PathLike, width: int, height: int) -> None:
    """Refuse a frame over ``max_pixels`` (or with no pixels) before it is decoded."""
    if width < 1 or height < 1:
        raise WanAlphaError(f"{path}: frame size {width}x{height} is empty (the file is corrupt)")
    if width * height > _limits.max_pixels:
        raise _over(path, "frame size", f"{width}x{height}", f"{_limits.max_pixels:,} pixels per frame", "max_pixels")


def check_clip(path: str | os.PathLike, frames: int, width: int, height: int) -> None:
    """Refuse ``frames`` frames of ``width x height`` RGBA over the frame or decoded-bytes limit, before decoding."""
    check_frame_size(path, width, height)
    if frames > _limits.max_frames:
        raise _over(path, "frame count", f"{frames:,}", f"{_limits.max_frames:,} frames", "max_frames")
    decoded = frames * width * height * 4
    if decoded > _limits.max_decoded_bytes:
        raise _over(path, "decoded size", f"{decoded / GIB:.1f} GiB ({frames} frames of {width}x{height} RGBA)",
                    f"{_limits.max_decoded_bytes / GIB:g} GiB", "max_decoded_bytes")


class DecodeBudget:
    """Counts frames as a decoder yields them, for files whose headers do not say how many there are."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path, self.frames = path, 0

    def add(self, width: int, height: int, count: int = 1) -> None:
        self.frames += count
        check_clip(self.path, self.frames, width, height)


def check_fps(path: str | os.PathLike, fps: float) -> float:
    """A frame rate a header (or meta.json) declares, if it is a sane one."""
    low, high = FPS_RANGE
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and low <= fps <= high):
        raise WanAlphaError(f"{path}: frame rate {fps} is not between {low:g} and {high:g} fps (corrupt header "
                            "or meta.json): fix the file")
    return float(fps)


def check_zip_members(path: str | os.PathLike, archive: zipfile.ZipFile, names: list[str]) -> None:
    """Refuse a zip whose members ``names`` would expand past the limits (sizes from the central directory)."""
    if len(names) > _limits.max_frames:
        raise _over(path, "frame count", f"{len(names):,}", f"{_limits.max_frames:,} frames", "max_frames")
    total = 0
    for name in names:
        info = archive.getinfo(name)
        total += info.file_size
        if info.file_size > _RATIO_FREE_BYTES and info.file_size > MAX_ZIP_RATIO * max(info.compress_size, 1):
            raise WanAlphaError(f"{path}: member {name} expands {info.file_size / max(info.compress_size, 1):.0f}x, "
                                f"over the limit of {MAX_ZIP_RATIO}x (a zip bomb, or not a PNG sequence)")
    if total > _limits.max_decoded_bytes:
        raise _over(path, "uncompressed size", f"{total / GIB:.1f} GiB", f"{_limits.max_decoded_bytes / GIB:g} GiB",
                    "max_decoded_bytes")


@contextlib.contextmanager
def open_image(source: str | os.PathLike | IO[bytes], name: str | os.PathLike | None = None) -> Iterator[Image.Image]:
    """``Image.open`` (lazy: the header only) that refuses a frame over the pixel limit before it is decoded."""
    name = name if name is not None else source
    try:
        with warnings.catch_warnings():  # Pillow warns from half its limit up; the check below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source)
    except Image.DecompressionBombError as err:  # Pillow's own check (over 2x its MAX_IMAGE_PIXELS) came first
        pixels = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(pixels.group(1)):,} pixels" if pixels else "(unknown)"
        raise _over(name, "frame size", size, f"{_limits.max_pixels:,} pixels per frame", "max_pixels") from err
    with image:
        check_frame_size(name, *image.size)
        yield image


def check_regular_input(path: str | os.PathLike) -> Path:
    """Refuse a FIFO, socket or device as input: reading one blocks forever or never ends."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError:
        return path  # missing files get the reader's own message
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise WanAlphaError(f"{path} is not a regular file or folder (a pipe or device): give a file")
    return path
