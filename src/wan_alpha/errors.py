"""User-facing errors.

Anything a user can cause (bad file, bad flag, bad shape) raises :class:`WanAlphaError` with a
message that names the problem and the fix; ``wan-alpha`` prints it on one line and exits 2.
Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class WanAlphaError(Exception):
    """An error caused by input the user can correct."""


def first_names(names: Iterable[str], limit: int = 8) -> str:
    """``"a, b, c and 5 more"``: the first ``limit`` names, sorted, for a one-line message ("none" when empty)."""
    names = sorted(names)
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
