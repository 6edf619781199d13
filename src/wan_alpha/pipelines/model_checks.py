"""Checks on a model folder the user names (``--model``), so a broken or foreign one is a one-line error.

diffusers only warns about a ``config.json`` key the class does not take (the setting is then silently ignored)
and fails deep inside with a truncated ``.safetensors``, a tensor of another shape or a broken
``model_index.json``; these turn each of them into a :class:`WanAlphaError` naming the folder and the fix.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import WanAlphaError, one_line

_MODEL_COMPONENTS = ("transformer", "vae")  # schedulers carry version-specific extras diffusers rightly ignores


def read_model_json(path: Path) -> dict:
    """A model folder's JSON file (an object), or a one-line error naming it."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise WanAlphaError(f"{path} is not valid JSON ({one_line(err)}): restore it from the model's source") from err
    if not isinstance(data, dict):
        raise WanAlphaError(f"{path} does not hold a JSON object: restore it from the model's source")
    return data


def check_config_keys(model: str | os.PathLike) -> None:
    """Refuse a component ``config.json`` with keys its class does not take (a typo or another model's file)."""
    model = Path(model)
    index = model / "model_index.json"
    if not index.is_file():
        return
    entries = read_model_json(index)
    for name in _MODEL_COMPONENTS:
        library, class_name = (entries.get(name) or [None, None])[:2]
        config = model / name / "config.json"
        if not (library and class_name and config.is_file()):
            continue
        try:
            cls = getattr(importlib.import_module(library), class_name)
        except (ImportError, AttributeError) as err:
            raise WanAlphaError(f"{index}: {name} names {library}.{class_name}, which does not exist here") from err
        parameters = inspect.signature(cls.__init__).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
            continue
        unknown = sorted(k for k in read_model_json(config) if not k.startswith("_") and k not in parameters)
        if unknown:
            raise WanAlphaError(f"{config}: unknown key(s) {', '.join(unknown)} for {class_name}: remove them or fix "
                                "their spelling (they would be ignored)")


@contextlib.contextmanager
def model_folder_errors(model: str | os.PathLike) -> Iterator[None]:
    """Whatever fails while loading the files of ``model`` is a damaged or foreign model folder, not a bug."""
    try:
        yield
    except WanAlphaError:
        raise
    except Exception as err:  # diffusers/safetensors/json raise OSError, ValueError, SafetensorError, KeyError...
        raise WanAlphaError(
            f"cannot load the model in {model}: {type(err).__name__}: {one_line(err, 300)} (a file there is corrupt, "
            "truncated or from another model: copy it again or retrain)"
        ) from err
