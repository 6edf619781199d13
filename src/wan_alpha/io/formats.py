"""The registry of RGBA file formats and how a path (or ``--format``) picks one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..errors import WanAlphaError
from . import animated, containers, sequence
from .base import Decoded
from .video import RGBAVideo

Reader = Callable[[Path], Decoded]
Writer = Callable[[Path, RGBAVideo, "int | None"], None]


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

    @property
    def suffix(self) -> str:
        """The extension a new file of this format is named with ("" for a folder); ``mov-png`` has no
        extension of its own: it is a ``.mov`` chosen by name."""
        return (self.extensions or (".mov",))[0]


def _formats(*formats: Format) -> dict[str, Format]:
    return {f.name: f for f in formats}


FORMATS: dict[str, Format] = _formats(
    Format(
        "webm", (".webm",), "WebM VP9 yuva420p", False, 8,
        "Browsers (Chrome, Firefox, Edge; not Safari). Alpha is a second VP9 layer: read back with "
        "libvpx (FFmpeg's native vp9 decoder drops it). Chroma at half resolution.",
        containers.read_container, partial(containers.write_rgba, encoder=containers.VP9_ALPHA),
        Quality(0, 63, containers.VP9_ALPHA.default_quality, "VP9 crf, lower = better and bigger"),
    ),
    Format(
        "mov", (".mov",), "QuickTime ProRes 4444 yuva444p10le", False, 10,
        "Editors: After Effects, Premiere, DaVinci Resolve, Final Cut, Unreal/Unity importers. "
        "Near-lossless (alpha error <= 1/255), large files.",
        containers.read_container, partial(containers.write_rgba, encoder=containers.PRORES_4444),
    ),
    Format(
        "mov-png", (), "QuickTime with PNG frames", True, 8,
        "Lossless MOV for editors that import PNG-in-MOV (After Effects, Resolve, Nuke); "
        "select with format='mov-png' / --format mov-png.",
        containers.read_container, partial(containers.write_rgba, encoder=containers.PNG_MOV),
    ),
    Format(
        "png", ("",), "PNG sequence folder", True, 8,
        "frame_00000.png ... plus meta.json {fps, frames}; every tool reads it. "
        "Chosen for a path without extension or an existing folder.",
        sequence.read_folder, sequence.write_folder, directory=True,
    ),
    Format(
        "zip", (".zip",), "zip of a PNG sequence", True, 8,
        "The PNG sequence in one file (stored, not recompressed), as the reference release ships.",
        sequence.read_zip, sequence.write_zip,
    ),
    Format(
        "apng", (".apng", ".png"), "animated PNG", True, 8,
        "Browsers (all current ones) and UI toolkits; delays in ms, exact fps kept in a tEXt tag.",
        animated.read_animated, animated.write_apng,
    ),
    Format(
        "webp", (".webp",), "animated WebP", True, 8,
        "Browsers and Android/web UI; lossless by default, lossy with --quality (alpha stays lossless). "
        "Read with Pillow (FFmpeg cannot decode animated WebP).",
        animated.read_animated, animated.write_webp,
        Quality(0, 100, None, "lossy WebP quality, higher = better; omit for lossless"),
    ),
    Format(
        "gif", (".gif",), "GIF", False, 1,
        f"Everywhere, but 1-bit alpha (alpha >= {animated.GIF_ALPHA_THRESHOLD} -> opaque, colour under "
        f"transparent pixels lost) and {animated.GIF_COLORS} colours per frame; delays in 1/100 s.",
        animated.read_animated, animated.write_gif,
    ),
    Format(
        "mp4", (".mp4", ".m4v", ".mkv", ".avi"), "opaque video (e.g. H.264 MP4)", False, 0,
        "Read-only here: no alpha channel. Use it as --alpha matte video, as a preview background, or "
        "read it with allow_opaque. Write previews with write_preview / `wan-alpha preview`.",
        containers.read_container,
    ),
)

_BY_EXTENSION = {ext: f for f in FORMATS.values() for ext in f.extensions}


def resolve_format(path: str | Path, format: str | None = None) -> Format:
    """The explicit ``format`` name if given, else the one the path's extension (or folder) implies."""
    if format is not None:
        if format not in FORMATS:
            raise WanAlphaError(f"unknown format {format!r}: choose one of {', '.join(FORMATS)}")
        return FORMATS[format]
    path = Path(path)
    if path.is_dir():
        return FORMATS["png"]
    suffix = path.suffix.lower()
    if suffix not in _BY_EXTENSION:
        known = ", ".join(ext for ext in _BY_EXTENSION if ext)
        raise WanAlphaError(
            f"unknown extension {suffix!r} of {path}: use one of {known}, a name without extension for a "
            "PNG folder, or pass --format"
        )
    return _BY_EXTENSION[suffix]
