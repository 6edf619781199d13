"""The recipe of the small embedded model ``wan-alpha-tiny``: every stage, its configs, its extensions of the
method's trainers, its ablations and its evaluation (see ``README.md`` beside this file)."""

from __future__ import annotations

import os
from pathlib import Path

from wan_alpha.errors import WanAlphaError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def config_path(name: str | os.PathLike) -> Path:
    """A config file as given, or one of this recipe's configs by name (``tiny_dora`` or ``tiny_dora.yaml``)."""
    path = Path(name)
    if path.exists():
        return path
    shipped = CONFIG_DIR / (path.name if path.suffix else f"{path.name}.yaml")
    if not shipped.exists():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise WanAlphaError(f"config {name} not found (neither a file nor one of the recipe's: {known})")
    return shipped
