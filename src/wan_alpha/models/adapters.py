"""Merging DiT adapter files (the Wan-Alpha DoRA, step-distillation LoRAs such as LightX2V's) into a
``diffusers.WanTransformer3DModel``'s weights, in place.

We only read the file: prefixes, kohya / ComfyUI names (``lora_down/lora_up``, ``dora_scale``, ``alpha``), the
scale in a safetensors ``lora_adapter_metadata``, original Wan names -> diffusers names. The LoRA / DoRA merge
maths is peft's: the tensors are loaded as a peft adapter (``load_lora_adapter``), fused (``fuse_lora``) and the
adapter layers removed, one transformer block at a time in float32. Full-weight differences (``diff``, ``diff_b``, ``diff_m``) are added directly.
The raw file does not go to ``load_lora_weights``: diffusers' Wan converter drops norm ``diff`` keys and refuses
``diff_m`` and conv keys.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from diffusers import WanTransformer3DModel
from peft.utils import get_peft_model_state_dict

from ..errors import WanAlphaError
from .dit import has_adapter
from .key_maps import wan_dit_names
from .state_dicts import CheckpointMismatch, LoadReport, read_state_dict, safetensors_metadata

_ADAPTER_KEY = re.compile(
    r"(?P<module>.+?)\.(?P<kind>lora_A|lora_B|lora_down|lora_up|lora_magnitude_vector|dora_scale|alpha|diff_b|diff_m|diff)"
    r"(?:\.default)?(?:\.weight)?"
)
_ADAPTER_PREFIXES = ("base_model.model.", "transformer.", "model.diffusion_model.", "diffusion_model.")
_KIND = {"lora_down": "lora_A", "lora_up": "lora_B", "dora_scale": "lora_magnitude_vector"}
_TARGET_PARAM = {"diff_b": "bias", "diff_m": "modulation"}
_PEFT_KINDS = ("lora_A", "lora_B", "lora_magnitude_vector")
_DIFF_KINDS = ("diff", "diff_b", "diff_m")
_ADAPTER_NAME = "wan_alpha_merge"


def _strip_prefix(key: str) -> str:
    for prefix in _ADAPTER_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _group_adapter(raw: Mapping[str, torch.Tensor], source: str) -> dict[str, dict[str, torch.Tensor]]:
    """``{target parameter name (file's naming): {kind: tensor}}``; unparseable keys raise."""
    groups, unknown = {}, []
    for key, value in raw.items():
        match = _ADAPTER_KEY.fullmatch(_strip_prefix(key))
        if not match:
            unknown.append(key)
            continue
        kind = _KIND.get(match["kind"], match["kind"])
        target = f"{match['module']}.{_TARGET_PARAM.get(kind, 'weight')}"
        groups.setdefault(target, {})[kind] = value
    if unknown:
        raise CheckpointMismatch(source, unexpected=unknown, hint="expected lora_A/lora_B, lora_down/lora_up, "
                                 "lora_magnitude_vector, alpha, diff, diff_b or diff_m keys")
    return groups


def _resolve_targets(groups: dict, params: Mapping[str, torch.Tensor], source: str) -> dict[str, dict]:
    """Rename targets to our parameter names (diffusers names pass through; original Wan names are mapped)."""
    original = [t for t in groups if t not in params]
    renamed = wan_dit_names(original)
    resolved = {renamed.get(t, t): parts for t, parts in groups.items()}
    unknown = [f"{t} (-> {renamed.get(t, t)})" for t in groups if renamed.get(t, t) not in params]
    if unknown:
        raise CheckpointMismatch(source, unexpected=unknown, hint="these modules are not in the transformer")
    return resolved


def _lora_scale(parts: dict, rank: int, metadata_scale: float | None) -> float:
    if "alpha" in parts:  # kohya / ComfyUI convention: scale alpha / rank
        return float(parts["alpha"]) / rank
    return 1.0 if metadata_scale is None else metadata_scale


def _metadata_scale(path: Path) -> float | None:
    """``lora_alpha / r`` from the peft config diffusers writes into a safetensors adapter's metadata."""
    if path.suffix != ".safetensors":
        return None
    meta = safetensors_metadata(path).get("lora_adapter_metadata")
    if not meta:
        return None
    config = json.loads(meta)
    return config["lora_alpha"] / config["r"] if config.get("r") else None


def _peft_state_dicts(groups: dict[str, dict], params: Mapping[str, torch.Tensor], metadata_scale: float | None,
                      source: str) -> list[dict[str, torch.Tensor]]:
    """The LoRA / DoRA tensors as peft state dicts in diffusers names (``blocks.0.attn1.to_q.lora_A.weight``),
    each module's scale folded into its ``lora_A`` so that peft runs at scale 1. DoRA and plain-LoRA modules
    come in separate dicts, since a peft config turns DoRA on for every module it loads."""
    dora, lora, mismatched = {}, {}, []
    for name, parts in groups.items():
        if not any(kind in parts for kind in _PEFT_KINDS):
            continue
        if "lora_A" not in parts or "lora_B" not in parts:
            present = next(kind for kind in _PEFT_KINDS if kind in parts)
            raise CheckpointMismatch(source, missing=[f"{name}: the partner of {present}"])
        weight, a, b = params[name], parts["lora_A"], parts["lora_B"]
        rank, magnitude = a.shape[0], parts.get("lora_magnitude_vector")
        if (b.shape[0] != weight.shape[0] or b.flatten(1).shape[1] != rank
                or a.flatten(1).shape[1] != weight[0].numel()):
            mismatched.append(
                f"{name}: lora_B {tuple(b.shape)} @ lora_A {tuple(a.shape)} != weight {tuple(weight.shape)}")
            continue
        if magnitude is not None and magnitude.numel() != weight.shape[0]:
            mismatched.append(f"{name}: magnitude {tuple(magnitude.shape)} != ({weight.shape[0]},)")
            continue
        module, ones = name.removesuffix(".weight"), [1] * (weight.ndim - 2)
        scale = _lora_scale(parts, rank, metadata_scale)
        out = lora if magnitude is None else dora
        # peft's layouts: conv lora_A is a conv with the base kernel, lora_B a 1x1 conv (files may store them flat)
        out[f"{module}.lora_A.weight"] = (a.float() * scale if scale != 1 else a).reshape(rank, *weight.shape[1:])
        out[f"{module}.lora_B.weight"] = b.reshape(weight.shape[0], rank, *ones)
        if magnitude is not None:  # peft's shapes: (out,) for Linear, (1, out, 1, ...) for conv; ComfyUI's: (out, 1)
            out[f"{module}.lora_magnitude_vector"] = magnitude.reshape(1, -1, *ones) if ones else magnitude.reshape(-1)
    if mismatched:
        raise CheckpointMismatch(source, mismatched=mismatched)
    return [state_dict for state_dict in (dora, lora) if state_dict]


def _diffs(groups: dict[str, dict], params: Mapping[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """``{parameter name: sum of its full-weight differences}``, shape-checked."""
    diffs, mismatched = {}, []
    for name, parts in groups.items():
        for kind in _DIFF_KINDS:
            if kind in parts:
                if parts[kind].numel() != params[name].numel():
                    mismatched.append(f"{name}: {kind} {tuple(parts[kind].shape)} != {tuple(params[name].shape)}")
                else:
                    diffs[name] = diffs.get(name, 0) + parts[kind].float().view_as(params[name])
    if mismatched:
        raise CheckpointMismatch(source, mismatched=mismatched)
    return diffs


def _by_block(state_dict: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """``state_dict`` split by transformer block (``blocks.N``; any other module on its own)."""
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        module = key.split(".lora_")[0]
        block = ".".join(module.split(".")[:2]) if module.startswith("blocks.") else module
        parts.setdefault(block, {})[key] = value
    return parts


def _fuse_with_peft(transformer: WanTransformer3DModel, state_dict: dict[str, torch.Tensor], strength: float,
                    source: str) -> None:
    """Load ``state_dict`` as a peft adapter, fuse it at ``strength`` and remove the adapter layers, one block at a
    time with the block's adapted layers in float32: peft keeps adapters and merges in the layer's dtype, and in bf16
    that rounds an fp32 file and puts a DoRA merge (row norms, rescaling) ~1 % off; a block at a time bounds the
    extra memory of a 14B model to one block's layers."""
    for part in _by_block(state_dict).values():
        layers = {name: transformer.get_submodule(name) for name in {key.split(".lora_")[0] for key in part}}
        dtypes = {name: layer.weight.dtype for name, layer in layers.items()}
        for layer in layers.values():
            layer.float()
        transformer.load_lora_adapter(dict(part), prefix=None, adapter_name=_ADAPTER_NAME)
        try:
            loaded = _ADAPTER_NAME in getattr(transformer, "peft_config", {})
            held = get_peft_model_state_dict(transformer, adapter_name=_ADAPTER_NAME) if loaded else {}
            # diffusers only warns about keys it could not place: check that peft holds every tensor before fusing
            not_loaded = [key for key, value in part.items()
                          if key not in held or not torch.equal(held[key], value.to(held[key]))]
            if not_loaded:
                raise CheckpointMismatch(source, missing=not_loaded, hint="peft did not load these adapter tensors")
            transformer.fuse_lora(lora_scale=strength, adapter_names=[_ADAPTER_NAME])
        finally:
            transformer.unload_lora()
            for name, layer in layers.items():
                layer.to(dtypes[name])


def _reference_differences(groups: dict[str, dict], params: Mapping[str, torch.Tensor]) -> list[str]:
    """Plain LoRAs we merge otherwise than the reference's LightX2V loader, which multiplies ``B A`` by the strength
    alone (no ``alpha / r``) and skips the pairs of conv weights (diffusers and ComfyUI do as we do)."""
    loras = [(name, parts) for name, parts in groups.items()
             if "lora_A" in parts and "lora_B" in parts and "lora_magnitude_vector" not in parts]
    scaled = sum("alpha" in parts and float(parts["alpha"]) != parts["lora_A"].shape[0] for _, parts in loras)
    convs = sum(params[name].ndim > 2 for name, _ in loras)
    return ([f"{scaled} LoRAs scaled by alpha/rank (it ignores alpha)"] if scaled else []) + (
        [f"{convs} conv LoRAs merged (it skips them)"] if convs else [])


@torch.no_grad()
def merge_adapter_file(transformer: WanTransformer3DModel, path: str | os.PathLike,
                       strength: float = 1.0) -> LoadReport:
    """Merge a DiT adapter file into ``transformer``'s weights, in place, where the weights are (device, dtype).

    Reads DoRA (``lora_A``, ``lora_B``, ``lora_magnitude_vector`` or ``dora_scale``), LoRA (``lora_A/lora_B``
    or ``lora_down/lora_up``, optional ``alpha``), and full-weight differences (``diff``, ``diff_b`` for biases,
    ``diff_m`` for modulation), with original Wan names (``blocks.N.self_attn.q``, optional ``diffusion_model.``
    prefix) or diffusers names. DoRA: ``W' = m (W + s dW) / ||W + s dW||_row``; LoRA: ``W' = W + s (alpha / r) B A``
    (peft's merge; ``s`` is ``strength``); differences: ``W' = W + s diff`` (added before the DoRA rescaling).
    """
    if has_adapter(transformer):  # unload_lora() would drop those adapters too, and names carry ``base_layer``
        raise WanAlphaError("merge adapter files into a transformer without peft adapters (fuse or unload them first)")
    path = Path(path)
    source = str(path)
    params = dict(transformer.named_parameters())
    groups = _resolve_targets(_group_adapter(read_state_dict(path), source), params, source)
    state_dicts = _peft_state_dicts(groups, params, _metadata_scale(path), source)
    diffs = _diffs(groups, params, source)
    for name, diff in diffs.items():  # no peft layer holds a full-weight difference: add it (in float32) directly
        param = params[name]
        param.copy_(param.float() + strength * diff.to(param.device))
    for state_dict in state_dicts:
        _fuse_with_peft(transformer, state_dict, strength, source)
    return LoadReport(source, used=sum(len(p) for p in groups.values()), differs=_reference_differences(groups, params))
