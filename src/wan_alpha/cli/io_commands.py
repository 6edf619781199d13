"""``wan-alpha info | convert | preview``: inspect and convert RGBA video files."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the file commands to the top-level parser."""
