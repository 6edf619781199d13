"""The registry of RGBA file formats and how a path (or ``--format``) picks one."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..errors import WanAlphaError
from . import animated, containers, exr, sequence, spritesheet, stacked
from .base import Decoded, WriteOptions
from .video import RGBAVideo

Reader = Callable[[Path], Decoded]
Writer = Callable[[Path, RGBAVideo, WriteOptions], None]

@dataclass(frozen=True)
class Quality:
    """What ``quality`` / ``--quality`` means for a format that has one."""

    low: int
    high: int
    default: int | None
    meaning: str


@dataclass(frozen=True)
class Format:
    name: str
    extensions: tuple[str, ...]
    """Extensions that select this format without --format ('' : a folder)."""
    suffix: str
    """The extension its files are named with ('' : a folder)."""
    description: str
    lossless: bool
    alpha_bits: int
    """Bits of alpha stored (0: no alpha channel; read-only as RGBA, see ``allow_opaque``)."""
    notes: str
    read: Reader
    write: Writer | None = None
    """None: the format is read-only here."""
    quality: Quality | None = None
    directory: bool = False
    alpha_convention: str = "straight"
    """What its readers expect: ``straight`` only (browsers, video players), ``either`` (editors, engines'
    images: ``premultiplied=True`` writes premultiplied colour and tags it), ``premultiplied`` always (EXR)."""


def _formats(*formats: Format) -> dict[str, Format]:
    return {f.name: f for f in formats}


FORMATS: dict[str, Format] = _formats(
    Format(
        "webm", (".webm",), ".webm", "WebM VP9 yuva420p", False, 8,
        "Browsers (Chrome, Firefox, Edge; not Safari). Alpha is a second VP9 layer: read back with "
        "libvpx (FFmpeg's native vp9 decoder drops it). Chroma at half resolution; --quality 0 keeps alpha "
        "within 1/255.",
        containers.read_container, partial(containers.write_rgba, encoder=containers.VP9_ALPHA),
        Quality(0, 63, containers.VP9_ALPHA.default_quality, "VP9 crf, lower = better and bigger; 0 near-lossless"),
    ),
    Format(
        "webm-vp8", (), ".webm", "WebM VP8 yuva420p", False, 8,
        "Unity's VideoPlayer (it plays alpha only from VP8 WebM and ProRes 4444) and browsers; "
        "select with --format webm-vp8. Read back with libvpx, as VP9.",
        containers.read_container, partial(containers.write_rgba, encoder=containers.VP8_ALPHA),
        Quality(4, 63, containers.VP8_ALPHA.default_quality, "VP8 crf, lower = better and bigger"),
    ),
    Format(
        "mov", (".mov",), ".mov", "QuickTime ProRes 4444 yuva444p10le", False, 10,
        "Editors: After Effects, Premiere, DaVinci Resolve, Final Cut, Unreal/Unity importers. "
        "Near-lossless (alpha error <= 1/255), large files.",
        containers.read_container, partial(containers.write_rgba, encoder=containers.PRORES_4444),
        alpha_convention="either",
    ),
    Format(
        "mov-png", (), ".mov", "QuickTime with PNG frames", True, 8,
        "Lossless MOV for editors that import PNG-in-MOV (After Effects, Resolve, Nuke); "
        "select with format='mov-png' / --format mov-png.",
        containers.read_container, partial(containers.write_rgba, encoder=containers.PNG_MOV),
        alpha_convention="either",
    ),
    Format(
        "mov-qtrle", (), ".mov", "QuickTime Animation (qtrle) argb", True, 8,
        "Lossless MOV that legacy editors and players import (Premiere, After Effects, Final Cut 7); "
        "select with --format mov-qtrle.",
        containers.read_container, partial(containers.write_rgba, encoder=containers.QTRLE),
        alpha_convention="either",
    ),
    Format(
        "mp4-stacked", (), ".mp4", "H.264 MP4, alpha stacked as grey beside the colour", False, 8,
        "Every browser incl. Safari/iOS through the bundled canvas player (wan-alpha preview --html); "
        "select with --format mp4-stacked and --stacked-layout below|right.",
        stacked.read_mp4, stacked.write_stacked,
        Quality(1, 51, stacked.STACKED_H264.default_quality, "H.264 crf, lower = better and bigger (0, lossless, plays nowhere)"),
    ),
    Format(
        "png", ("",), "", "PNG sequence folder", True, 8,
        "frame_00000.png ... plus meta.json {fps, frames}; every tool reads it. "
        "Chosen for a path without extension or an existing folder.",
        sequence.read_folder, sequence.write_folder, directory=True, alpha_convention="either",
    ),
    Format(
        "exr", (), "", "OpenEXR sequence folder, half-float RGBA", True, 16,
        "Unreal's ImgMediaSource, Nuke, Blender, Resolve: linear colour premultiplied by alpha (the EXR "
        "convention), frame_00000.exr ... plus meta.json; select with --format exr.",
        exr.read_exr, exr.write_exr, directory=True, alpha_convention="premultiplied",
    ),
    Format(
        "spritesheet", (), "", "sprite sheet folder: sheet.png atlas + sheet.json", True, 8,
        "2-D game engines (Godot, Phaser, PixiJS, Unity importers): TexturePacker JSON-hash frame rectangles, "
        "per-frame duration and meta.fps; --columns N, --max-size PX; select with --format spritesheet.",
        spritesheet.read_spritesheet, spritesheet.write_spritesheet, directory=True, alpha_convention="either",
    ),
    Format(
        "zip", (".zip",), ".zip", "zip of a PNG sequence", True, 8,
        "The PNG sequence in one file (stored, not recompressed), as the reference release ships.",
        sequence.read_zip, sequence.write_zip, alpha_convention="either",
    ),
    Format(
        "apng", (".apng", ".png"), ".apng", "animated PNG", True, 8,
        "Browsers (all current ones) and UI toolkits; delays in ms, exact fps kept in a tEXt tag.",
        animated.read_animated, animated.write_apng,
    ),
    Format(
        "webp", (".webp",), ".webp", "animated WebP", True, 8,
        "Browsers and Android/web UI; lossless by default, lossy with --quality (alpha stays lossless). "
        "Read with Pillow (FFmpeg cannot decode animated WebP).",
        animated.read_animated, animated.write_webp,
        Quality(0, 100, None, "lossy WebP quality, higher = better; omit for lossless"),
    ),
    Format(
        "gif", (".gif",), ".gif", "GIF", False, 1,
        f"Everywhere, but 1-bit alpha (alpha >= {animated.GIF_ALPHA_THRESHOLD} -> opaque, colour under "
        f"transparent pixels lost) and {animated.GIF_COLORS} colours per frame; delays in 1/100 s.",
        animated.read_animated, animated.write_gif,
    ),
    Format(
        "video", (".mp4", ".m4v", ".mkv", ".avi"), ".mp4", "opaque video: H.264 MP4, MKV, AVI", False, 0,
        "Read-only here: no alpha channel (a stacked-alpha MP4 is recognised by its tag). Use it as --alpha "
        "matte video, as a preview background, or read it with allow_opaque.",
        stacked.read_mp4,
    ),
)

_BY_EXTENSION = {ext: f for f in FORMATS.values() for ext in f.extensions}


def _folder_format(path: Path) -> Format:
    """An existing folder: EXR frames, a sprite sheet, or else a PNG sequence."""
    if exr.is_exr_folder(path):
        return FORMATS["exr"]
    if spritesheet.is_spritesheet_folder(path):
        return FORMATS["spritesheet"]
    return FORMATS["png"]


def resolve_format(path: str | os.PathLike, format: str | None = None) -> Format:
    """The explicit ``format`` name if given, else the one the path's extension (or folder) implies."""
    if format is not None:
        if format not in FORMATS:
            raise WanAlphaError(f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
        return FORMATS[format]
    path = Path(path)
    if path.is_dir():
        return _folder_format(path)
    suffix = path.suffix.lower()
    if suffix not in _BY_EXTENSION:
        writable = " ".join(ext for ext, f in _BY_EXTENSION.items() if ext and f.write)
        readable = " ".join(ext for ext, f in _BY_EXTENSION.items() if ext and not f.write)
        raise WanAlphaError(
            f"unknown extension {suffix!r} of {path}: use one of {writable} (read-only: {readable}), a name "
            "without extension for a PNG folder, or pass --format"
        )
    return _BY_EXTENSION[suffix]


def check_suffix(path: Path, fmt: Format) -> None:
    """An output's name must say what it holds: no GIF named ``.webm``, no folder named ``.mov``."""
    suffix = path.suffix.lower()
    if fmt.directory:
        if suffix in _BY_EXTENSION and suffix:
            raise WanAlphaError(f"{fmt.name} writes a folder, not a {suffix} file: name it {path.with_suffix('').name}")
        return
    if suffix not in {*fmt.extensions, fmt.suffix}:
        raise WanAlphaError(f"{path.name} would hold {fmt.description} ({fmt.name}): name it "
                            f"{path.with_suffix(fmt.suffix).name}")
