"""YAML configs mapped onto dataclasses, strictly: an unknown or mistyped key is an error."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import WanAlphaError

T = TypeVar("T")

CONFIG_DIR = Path(__file__).parent / "configs"


def resolve_config_path(name: str | os.PathLike) -> Path:
    """A path as given, or the name of a config shipped with the package (``tiny_vae`` or ``tiny_vae.yaml``)."""
    path = Path(name)
    if path.exists():
        return path
    shipped = CONFIG_DIR / (path.name if path.suffix else f"{path.name}.yaml")
    if shipped.exists():
        return shipped
    available = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))) or "none"
    raise WanAlphaError(f"config {name} not found (neither a file nor a shipped config: {available})")


def from_dict(cls: type[T], data: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; nested dataclass fields take nested mappings."""
    if not isinstance(data, dict):
        raise WanAlphaError(f"{where} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise WanAlphaError(f"unknown key(s) in {where}: {', '.join(unknown)} (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        section = _dataclass_in(hints[name])
        if section is not None and isinstance(value, dict):
            value = from_dict(section, value, f"{where}.{name}")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise WanAlphaError(f"{where}: {err}") from err


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass a field holds: ``Section``, or ``Section | None`` for an optional section."""
    if dataclasses.is_dataclass(hint):
        return hint
    members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if len(members) == 1 and dataclasses.is_dataclass(members[0]):
        return members[0]
    return None


def load_config(cls: type[T], path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> T:
    """Read a YAML file (or shipped config name) into ``cls``; ``overrides`` use dotted keys."""
    resolved = resolve_config_path(path)
    try:
        data = yaml.safe_load(resolved.read_text()) or {}
    except yaml.YAMLError as err:
        raise WanAlphaError(f"config {resolved} is not valid YAML: {err}") from err
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return from_dict(cls, data, where=str(resolved))


def save_config(config: Any, path: str | os.PathLike) -> None:
    """Write the resolved config next to a run's outputs."""
    Path(path).write_text(yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))
