"""Argument values shared by several commands: sizes, ellipses, prompt files (no heavy imports here)."""

from __future__ import annotations

import argparse
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
    if not path.exists():
        raise WanAlphaError(f"prompts file {path} does not exist")
    if path.is_dir():
        raise WanAlphaError(f"prompts file {path} is a folder: give a text file, one prompt per line")
    try:  # a pipe or /dev/null is fine: it is read as text
        prompts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as err:
        raise WanAlphaError(f"cannot read prompts file {path} as UTF-8 text: {err}") from err
    prompts = [p for p in prompts if p and not p.startswith("#")]
    if not prompts:
        raise WanAlphaError(f"prompts file {path} holds no prompt (one per line)")
    return prompts


def add_write_flags(parser: argparse.ArgumentParser) -> None:
    """The output-encoding flags ``convert`` and ``generate`` share (read by :func:`write_options`)."""
    from ..io import FORMATS

    qualities = "; ".join(
        f"{f.name}: {f.quality.meaning}, {f.quality.low}-{f.quality.high} (default "
        f"{'lossless' if f.quality.default is None else f.quality.default})"
        for f in FORMATS.values() if f.quality
    )
    g = parser.add_argument_group("output encoding")
    g.add_argument("--quality", type=int, metavar="Q", help=f"{qualities}; other formats have none")
    g.add_argument(
        "--premultiplied-output", action="store_true",
        help="store colour multiplied by alpha (mov, mov-png, mov-qtrle, png folder, zip, spritesheet; tagged, so "
        "wan-alpha reads it back straight); EXR is always premultiplied, browser formats never",
    )
    g.add_argument("--stacked-layout", choices=["below", "right"], default="below",
                   help="mp4-stacked: put the alpha picture below (default) or right of the colour picture")
    g.add_argument("--columns", type=int, metavar="N", help="spritesheet: frames per atlas row (default: a square atlas)")
    g.add_argument("--max-size", type=int, metavar="PX",
                   help="spritesheet: refuse an atlas wider or taller than PX (e.g. 4096, a GPU texture limit); "
                   "without --columns the columns are chosen to fit")


def write_options(args: argparse.Namespace):
    """The :class:`~wan_alpha.io.WriteOptions` the flags of :func:`add_write_flags` ask for."""
    from ..io import WriteOptions

    return WriteOptions(args.quality, args.premultiplied_output, args.stacked_layout, args.columns, args.max_size)
