"""diffusers' and transformers' loading chatter off while we load our own components.

Every run printed their "Loading weights" / "Loading pipeline components" bars (for a model that loads in under a
second) and their log lines; what a load did is ours to report (load reports, our own bar over the real-scale
model's parts). Errors and Python warnings still show; their verbosity and bars are restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from diffusers.utils import logging as diffusers_logging
from transformers.utils import logging as transformers_logging

_LIBRARIES = (diffusers_logging, transformers_logging)


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Within the block the libraries log errors only and show no progress bars of their own."""
    saved = [(library.get_verbosity(), library.is_progress_bar_enabled()) for library in _LIBRARIES]
    for library in _LIBRARIES:
        library.set_verbosity_error()
        library.disable_progress_bar()
    try:
        yield
    finally:
        for library, (verbosity, bars) in zip(_LIBRARIES, saved):
            library.set_verbosity(verbosity)
            if bars:
                library.enable_progress_bar()
