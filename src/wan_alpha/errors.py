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


def one_line(error: BaseException | str, limit: int = 600) -> str:
    """An error's text on one line: the part that names the problem in a library's multi-line message (torch's
    refusal to unpickle: the line naming the blocked global), whitespace collapsed, at most ``limit`` chars."""
    text = str(error)
    start = text.find("Weights only load failed")  # torch.load(weights_only=True): all but one line is advice
    named = [line for line in text[start:].splitlines() if "GLOBAL" in line or "WeightsUnpickler error:" in line]
    if start >= 0 and named:
        text = text[:start] + "refused to unpickle: " + named[0].split("WeightsUnpickler error:")[-1].strip()
    text = " ".join(text.split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
