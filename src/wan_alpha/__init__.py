"""wan-alpha: transparent (RGBA) video generation from text."""

__version__ = "0.1.0"
