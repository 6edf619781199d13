"""User-facing errors.

Anything a user can cause (bad file, bad flag, bad shape) raises :class:`WanAlphaError` with a
message that names the problem and the fix; ``wan-alpha`` prints it on one line and exits 2.
Everything else is a bug and keeps its traceback.
"""


class WanAlphaError(Exception):
    """An error caused by input the user can correct."""
