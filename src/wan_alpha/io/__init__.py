"""Reading and writing RGBA video files and previews."""

from .atomic import atomic_output, check_writable
from .video import RGBAVideo

__all__ = ["RGBAVideo", "atomic_output", "check_writable"]
