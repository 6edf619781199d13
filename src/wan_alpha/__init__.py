"""wan-alpha: transparent (RGBA) video generation from text."""

from pathlib import Path

__version__ = "0.1.0"

EMBEDDED_MODEL = Path(__file__).resolve().parent / "assets" / "wan-alpha-tiny"
"""The small model shipped inside the package, the default of ``wan-alpha generate`` (see its README.md)."""
