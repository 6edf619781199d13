"""Argument values shared by several commands: sizes, ellipses, prompt files (no heavy imports here)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import WanAlphaError

ELLIPSE_METAVAR = "CX,CY,W,H[,ANGLE]"
ELLIPSE_HELP = (
    "centre CX,CY and axes W,H as fractions of the frame width/height, ANGLE in degrees (clockwise), "
    "e.g. 0.5,0.5,0.4,0.6,15"
)


def parse_size(size: str | tuple[int, int]) -> tuple[int, int]:
    """``"WxH"`` (or a ``(width, height)`` pair) -> ``(width, height)`` as positive ints."""
    if isinstance(size, str):
        parts = size.lower().replace(" ", "").split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise WanAlphaError(f"size {size!r} is not WIDTHxHEIGHT (e.g. 832x480)")
        size = (int(parts[0]), int(parts[1]))
    width, height = size
    if width <= 0 or height <= 0:
        raise WanAlphaError(f"size {width}x{height} must be positive")
    return width, height


def read_prompts(path: str | os.PathLike) -> list[str]:
    """One prompt per line; blank lines and ``#`` comments are skipped."""
    path = Path(path)
    if not path.is_file():
        raise WanAlphaError(f"prompts file {path} does not exist")
    prompts = [line.strip() for line in path.read_text().splitlines()]
    prompts = [p for p in prompts if p and not p.startswith("#")]
    if not prompts:
        raise WanAlphaError(f"prompts file {path} holds no prompt (one per line)")
    return prompts
