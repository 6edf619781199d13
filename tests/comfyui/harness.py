"""Calling nodes the way ComfyUI does, without ComfyUI (it is not installable here).

What is mirrored, from ComfyUI's source (``execution.py`` input validation, ``comfy_extras/nodes_custom_sampler.py``,
``comfy/sample.py``, ``nodes.py``):

* inputs are validated against ``INPUT_TYPES()``: every required input present, widget values cast to their type
  (INT, FLOAT, STRING, BOOLEAN) and checked against ``min``/``max``, combo values one of the listed options, and a
  connection only accepted from an output of the same type; then ``getattr(node(), FUNCTION)(**inputs)``;
* the result is a tuple with one value per ``RETURN_TYPES``, or for an ``OUTPUT_NODE`` a dict with ``ui`` and
  ``result``; IMAGE, MASK and NOISE values are checked for ComfyUI's layouts; nodes run under
  ``torch.inference_mode()``, as ``PromptExecutor.execute`` runs them;
* :class:`RandomNoise` behaves as core's ``Noise_RandomNoise`` with ``prepare_noise`` (CPU generator seeded with
  ``torch.manual_seed(seed)``, one draw per batch index when the latent has ``batch_index``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

WIDGET_TYPES = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}


@dataclass
class Link:
    """A value arriving on a connection, with the type of the output it comes from."""

    value: Any
    type: str


class RandomNoise:
    """Core's ``Noise_RandomNoise`` (what the ``RandomNoise`` node returns)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def generate_noise(self, input_latent: dict) -> torch.Tensor:
        latent = input_latent["samples"]
        generator = torch.manual_seed(self.seed)
        inds = input_latent.get("batch_index")
        if inds is None:
            return torch.randn(latent.size(), dtype=latent.dtype, layout=latent.layout, generator=generator, device="cpu")
        unique, inverse = np.unique(inds, return_inverse=True)
        draws = [torch.randn([1, *latent.shape[1:]], dtype=latent.dtype, generator=generator) for _ in range(unique[-1] + 1)]
        kept = [draws[i] for i in unique]
        return torch.cat([kept[i] for i in inverse])


def _spec(spec: tuple) -> tuple[Any, dict]:
    return spec[0], (spec[1] if len(spec) > 1 else {})


def declared_inputs(node: type) -> dict[str, tuple[str, Any, dict]]:
    """``name -> (section, kind, options)`` for every input, required first, in declaration order."""
    types = node.INPUT_TYPES()
    return {name: (section, *_spec(spec)) for section in ("required", "optional")
            for name, spec in types.get(section, {}).items()}


def is_widget(kind: Any) -> bool:
    return isinstance(kind, list) or kind in WIDGET_TYPES


def widget_defaults(node: type) -> dict[str, Any]:
    """What ComfyUI's page fills each widget with before the user changes it."""
    defaults = {}
    for name, (_, kind, options) in declared_inputs(node).items():
        if is_widget(kind):
            defaults[name] = options.get("default", kind[0] if isinstance(kind, list) else WIDGET_TYPES[kind]())
    return defaults


def validate(node: type, inputs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments ComfyUI would call ``FUNCTION`` with, or an AssertionError naming the bad input."""
    declared = declared_inputs(node)
    unknown = set(inputs) - set(declared)
    assert not unknown, f"{node.__name__} has no inputs {sorted(unknown)}"
    kwargs = {}
    for name, (section, kind, options) in declared.items():
        if name not in inputs:
            assert section == "optional", f"{node.__name__}: required input {name!r} missing"
            continue
        value = inputs[name]
        if isinstance(kind, list):
            assert value in kind, f"{node.__name__}.{name}: {value!r} is not one of {kind}"
        elif kind in WIDGET_TYPES:
            assert not isinstance(value, Link), f"{node.__name__}.{name} is a widget"
            value = WIDGET_TYPES[kind](value)
            if "min" in options:
                assert value >= options["min"], f"{node.__name__}.{name}: {value} < min {options['min']}"
            if "max" in options:
                assert value <= options["max"], f"{node.__name__}.{name}: {value} > max {options['max']}"
        else:
            assert isinstance(value, Link), f"{node.__name__}.{name} takes a connection of type {kind}"
            assert value.type == kind, f"{node.__name__}.{name}: a {value.type} output cannot feed a {kind} input"
            value = value.value
        kwargs[name] = value
    return kwargs


def check_output(kind: str, value: Any) -> None:
    if kind == "IMAGE":
        assert value.ndim == 4 and value.shape[-1] in (3, 4) and value.dtype == torch.float32, value.shape
        assert 0 <= value.min() and value.max() <= 1
    elif kind == "MASK":
        assert value.ndim == 3 and value.dtype == torch.float32, value.shape
        assert 0 <= value.min() and value.max() <= 1
    elif kind == "NOISE":
        assert hasattr(value, "seed") and callable(value.generate_noise)


def call(node: type, **inputs: Any) -> tuple[tuple, dict | None]:
    """Validate ``inputs`` (widget defaults filled in, as the page does), call the node, check its outputs.
    Returns the outputs and, for an output node, its ``ui`` dict."""
    kwargs = validate(node, {**widget_defaults(node), **inputs})
    with torch.inference_mode():  # PromptExecutor.execute runs every node under inference mode
        out, ui = getattr(node(), node.FUNCTION)(**kwargs), None
    if isinstance(out, dict):
        assert getattr(node, "OUTPUT_NODE", False), f"{node.__name__} returned a dict but is no OUTPUT_NODE"
        ui, out = out.get("ui"), out.get("result", ())
    assert isinstance(out, tuple) and len(out) == len(node.RETURN_TYPES), (node.__name__, type(out))
    for kind, value in zip(node.RETURN_TYPES, out):
        check_output(kind, value)
    return out, ui


def run(node: type, **inputs: Any) -> tuple:
    """:func:`call`'s outputs."""
    return call(node, **inputs)[0]
