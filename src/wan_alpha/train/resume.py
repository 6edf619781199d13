"""Resuming from damaged run folders: a checkpoint that does not load falls back to the one before it, and the
log is cut back to the resumed step (steps after it are run, and logged, again)."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from accelerate import Accelerator

from ..errors import WanAlphaError, first_names, one_line
from ..io import atomic_output

RESUMABLE_CHANGES = {"max_steps", "output_dir"}
"""Settings a resume may change (by their last key): a longer run, the same run folder named another way."""


def load_newest(accelerator: Accelerator, found: list[Path], step_of: Callable[[Path], int], **load_args: Any) -> int:
    """Load the newest of ``found`` (oldest first) that loads, saying which were skipped; -> its step.
    ``load_args`` go to ``accelerator.load_state`` (an engine's own options)."""
    failures = []
    for candidate in reversed(found):
        try:
            accelerator.load_state(str(candidate), **load_args)
        except Exception as err:  # a truncated .safetensors, a missing file, RNG state cut short...
            failures.append(f"{candidate.name}: {one_line(err, 200)}")
            if accelerator.is_main_process:
                print(f"wan-alpha: checkpoint {candidate} does not load ({failures[-1]}); trying the one before",
                      file=sys.stderr)
            continue
        return step_of(candidate)
    raise WanAlphaError(f"--resume: no checkpoint loads ({'; '.join(failures) or 'none found'}): delete the damaged "
                        "ones, or start again without --resume")


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix[:-1]: data}
    return {k: v for key, value in data.items() for k, v in _flat(value, f"{prefix}{key}.").items()}


def check_config_unchanged(saved: Path, config: Any, allow_change: bool) -> None:
    """A resume continues the run ``saved`` (its config.yaml) describes: refuse another config unless allowed."""
    if allow_change or not saved.is_file():
        return
    try:
        before = _flat(yaml.safe_load(saved.read_text()) or {})
    except yaml.YAMLError as err:
        raise WanAlphaError(f"{saved} is not valid YAML ({one_line(err, 200)}): pass --allow-config-change to "
                            "resume with the current config") from err
    now = _flat(yaml.safe_load(yaml.safe_dump(dataclasses.asdict(config))))  # the types config.yaml holds
    changed = {k for k in before.keys() | now.keys()
               if before.get(k) != now.get(k) and k.rsplit(".", 1)[-1] not in RESUMABLE_CHANGES}
    if changed:
        raise WanAlphaError(f"--resume with another config than the run's {saved.name} ({first_names(changed, 5)} "
                            "differ): resume with the same config, or pass --allow-config-change")


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
