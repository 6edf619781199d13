"""Resuming from damaged run folders: a checkpoint that does not load falls back to the one before it, and the
log is cut back to the resumed step (steps after it are run, and logged, again)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from accelerate import Accelerator

from ..errors import WanAlphaError, one_line
from ..io import atomic_output


def load_newest(accelerator: Accelerator, found: list[Path], step_of: Callable[[Path], int]) -> int:
    """Load the newest of ``found`` (oldest first) that loads, saying which were skipped; -> its step."""
    failures = []
    for candidate in reversed(found):
        try:
            accelerator.load_state(str(candidate))
        except Exception as err:  # a truncated .safetensors, a missing file, RNG state cut short...
            failures.append(f"{candidate.name}: {one_line(err, 200)}")
            if accelerator.is_main_process:
                print(f"wan-alpha: checkpoint {candidate} does not load ({failures[-1]}); trying the one before",
                      file=sys.stderr)
            continue
        return step_of(candidate)
    raise WanAlphaError(f"--resume: no checkpoint loads ({'; '.join(failures) or 'none found'}): delete the damaged "
                        "ones, or start again without --resume")


def trim_log(log: Path, step: int) -> None:
    """Drop lines of ``log`` (JSON lines with a ``step``) after ``step``, and a torn last line."""
    if not log.is_file():
        return
    kept = []
    for line in log.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("step", 0) <= step:
            kept.append(line)
    with atomic_output(log, overwrite=True) as tmp:
        tmp.write_text("".join(f"{line}\n" for line in kept))
