"""Reading and writing RGBA video files and previews.

``read_video`` / ``write_video`` pick the format from the extension (or ``format=``, see ``FORMATS``);
``write_preview`` makes an H.264 checkerboard or side-by-side preview; ``probe`` summarises a file.
All writes are atomic and never replace an existing output without ``overwrite=True``.
"""

from .atomic import atomic_output, check_writable
from .base import DEFAULT_FPS
from .files import convert, read_video, write_video
from .formats import FORMATS, Format, resolve_format
from .preview import write_preview
from .probe import format_probe, probe
from .video import RGBAVideo

__all__ = [
    "DEFAULT_FPS",
    "FORMATS",
    "Format",
    "RGBAVideo",
    "atomic_output",
    "check_writable",
    "convert",
    "format_probe",
    "probe",
    "read_video",
    "resolve_format",
    "write_preview",
    "write_video",
]
