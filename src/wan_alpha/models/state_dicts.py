"""Reading checkpoint files safely and fitting their tensors to a model, strictly.

Rules kept by every loader in :mod:`wan_alpha.models`:

* safe formats only: safetensors, or ``torch.load(weights_only=True)`` for ``.pth`` / ``.bin`` / ``.ckpt``;
* every key of a file is either used, or reported: keys deliberately not used are listed in a
  :class:`LoadReport`; anything unknown, missing or mis-shaped raises :class:`CheckpointMismatch`
  naming the keys;
* big models are built on the ``meta`` device and the weights assigned, so a 14B DiT never exists twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import load_file

from ..errors import WanAlphaError, first_names


class CheckpointMismatch(WanAlphaError):
    """A file does not fit the model: the full key lists are kept on the exception, the message names the first few."""

    def __init__(self, source: str, missing=(), unexpected=(), mismatched=(), hint: str = "") -> None:
        self.missing, self.unexpected, self.mismatched = sorted(missing), sorted(unexpected), sorted(mismatched)
        parts = [f"{label} [{first_names(keys)}]" for label, keys in (
            ("missing keys", self.missing), ("unknown keys", self.unexpected), ("wrong shapes", self.mismatched)) if keys]
        super().__init__(f"{source} does not match the model: {'; '.join(parts)}" + (f" ({hint})" if hint else ""))


@dataclass
class LoadReport:
    """What a loader did with a file: keys used, and keys deliberately not used, grouped by reason."""

    source: str
    used: int = 0
    ignored: dict[str, list[str]] = field(default_factory=dict)
    differs: list[str] = field(default_factory=list)
    """How keys used here are treated unlike the reference release's loader (said once, on the same line)."""

    def ignore(self, reason: str, key: str) -> None:
        self.ignored.setdefault(reason, []).append(key)

    def summary(self) -> str:
        skipped = "; ".join(f"{len(keys)} {reason} (e.g. {keys[0]})" for reason, keys in self.ignored.items())
        differs = "; ".join(self.differs)
        return (f"{self.source}: {self.used} tensors used" + (f"; not used: {skipped}" if skipped else "")
                + (f"; unlike the reference release: {differs}" if differs else ""))


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file, or of a ``.pth/.pt/.bin/.ckpt`` file read with ``weights_only=True``
    (a Lightning ``{"state_dict": ...}`` wrapper is unwrapped)."""
    path = Path(path)
    if not path.is_file():
        raise WanAlphaError(f"checkpoint file {path} does not exist")
    if path.suffix == ".safetensors":
        return load_file(path)
    if path.suffix not in (".pth", ".pt", ".bin", ".ckpt"):
        raise WanAlphaError(f"{path}: unknown checkpoint format {path.suffix!r}: give a .safetensors, .pth, .pt, .bin or .ckpt file")
    try:
        data = _torch_load(path)
    except Exception as err:  # pickle refusing a non-tensor object is the common case
        raise WanAlphaError(f"{path} cannot be read safely (torch.load weights_only=True): {err}") from err
    data = data.get("state_dict", data) if isinstance(data, dict) else data
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WanAlphaError(f"{path} does not hold a flat dict of tensors")
    return data


def _torch_load(path: Path):
    """``weights_only`` always; memory-mapped when the file allows it (zip format), since a 11 GB T5 need not be read twice."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as err:
        if "mmap" not in str(err):
            raise
        return torch.load(path, map_location="cpu", weights_only=True)


def safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    with safe_open(path, framework="pt") as f:
        return f.metadata() or {}


def check_keys(source: str, expected: Mapping[str, torch.Size], given: Mapping[str, torch.Tensor],
               optional: Iterable[str] = (), hint: str = "") -> None:
    """Raise :class:`CheckpointMismatch` unless ``given`` has exactly the ``expected`` keys (``optional``
    ones may be absent) with the expected shapes."""
    optional = set(optional)
    missing = [k for k in expected if k not in given and k not in optional]
    unexpected = [k for k in given if k not in expected]
    mismatched = [f"{k} {tuple(v.shape)} != {tuple(expected[k])}" for k, v in given.items()
                  if k in expected and v.shape != expected[k]]
    if missing or unexpected or mismatched:
        raise CheckpointMismatch(source, missing, unexpected, mismatched, hint)


def shapes(module: nn.Module) -> dict[str, torch.Size]:
    """The shape of every tensor of ``module``'s state dict."""
    return {k: v.shape for k, v in module.state_dict().items()}


def assign_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str,
                      dtype: torch.dtype | None = None, hint: str = "") -> nn.Module:
    """Strictly load ``state_dict`` into a (possibly ``meta``) model by assignment, casting to ``dtype``
    except the modules the model keeps in float32 (diffusers' ``_keep_in_fp32_modules``: norms, time embedder)."""
    check_keys(source, shapes(model), state_dict, hint=hint)
    keep = set(getattr(model, "_keep_in_fp32_modules", None) or ())
    if dtype is not None:
        state_dict = {k: v.to(torch.float32 if keep & set(k.split(".")) else dtype) for k, v in state_dict.items()}
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.eval()
