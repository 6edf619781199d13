"""The Wan DiT (``diffusers.WanTransformer3DModel``) and its DoRA adapter (SPEC section 4).

The transformer itself is diffusers' class, untouched; we only build it (from a local folder or a
config dict, e.g. a tiny one for tests and the laptop model), add DoRA with peft through diffusers'
adapter API, save the adapter as safetensors, and merge it into the weights for inference, so
the inference graph is exactly the base model's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from diffusers import WanTransformer3DModel
from peft import LoraConfig
from peft.tuners.tuners_utils import BaseTunerLayer

from ..errors import WanAlphaError

DORA_TARGET_MODULES = (
    r"blocks\.\d+\.(attn1|attn2)\.(to_q|to_k|to_v|to_out\.0)"  # self- and cross-attention q, k, v, o
    r"|blocks\.\d+\.ffn\.(net\.0\.proj|net\.2)"  # both FFN linears
)
"""peft regex (full match) for the reference's ``q,k,v,o,ffn.0,ffn.2`` in diffusers' key names."""

ADAPTER_WEIGHT_NAME = "pytorch_lora_weights.safetensors"
"""diffusers' file name for adapters; ``load_lora_adapter`` looks for a ``.bin`` unless told this."""


def build_dit(
    config: dict[str, Any] | None = None,
    path: str | os.PathLike | None = None,
    dtype: torch.dtype | None = None,
) -> WanTransformer3DModel:
    """A transformer from a local diffusers folder (``path``: the model folder, or a pipeline folder
    with ``transformer/``) or, with fresh random weights, from a ``config`` dict of
    ``WanTransformer3DModel`` arguments. Exactly one of the two."""
    if (config is None) == (path is None):
        raise WanAlphaError("give exactly one of base_dit (a local folder) or dit_config (a dict)")
    if config is not None:
        try:
            model = WanTransformer3DModel(**config)
        except TypeError as err:
            raise WanAlphaError(f"dit_config is not a WanTransformer3DModel config: {err}") from err
        return model if dtype is None else model.to(dtype)
    path = Path(path)
    folder = path / "transformer" if (path / "transformer").is_dir() else path
    if not (folder / "config.json").is_file():
        raise WanAlphaError(f"{path} is not a diffusers transformer folder (no config.json): give a local Wan DiT folder")
    return WanTransformer3DModel.from_pretrained(folder, local_files_only=True, torch_dtype=dtype)


def add_dora(transformer: WanTransformer3DModel, r: int = 32, alpha: int = 32) -> None:
    """Add a DoRA adapter (reference rank 32, alpha 32) and freeze everything else.

    Initialised so that the output is unchanged (``lora_B = 0``, magnitude = weight norm); only
    the adapter's ``lora_A``, ``lora_B`` and ``lora_magnitude_vector`` parameters train.
    """
    if r < 1 or alpha <= 0:
        raise WanAlphaError(f"DoRA rank must be >= 1 and alpha > 0, got r={r}, alpha={alpha}")
    transformer.requires_grad_(False)
    transformer.add_adapter(
        LoraConfig(r=r, lora_alpha=alpha, use_dora=True, target_modules=DORA_TARGET_MODULES, init_lora_weights=True)
    )


def has_adapter(transformer: torch.nn.Module) -> bool:
    """Whether any peft adapter layer is present (loaded adapters are checked with this)."""
    return any(isinstance(m, BaseTunerLayer) for m in transformer.modules())


def save_dora(transformer: WanTransformer3DModel, directory: str | os.PathLike) -> Path:
    """Write the adapter (weights + its peft config as safetensors metadata) to ``directory``.

    Keys are model-level (``blocks.0.attn1.to_q.lora_A.weight``), without the ``transformer.``
    prefix a pipeline-level LoRA file has: merge it with :func:`~wan_alpha.models.adapters.merge_adapter_file`
    (``pipe.load_lora_weights`` would silently find nothing).
    """
    if not has_adapter(transformer):
        raise WanAlphaError("the transformer has no adapter to save")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    transformer.save_lora_adapter(directory, weight_name=ADAPTER_WEIGHT_NAME)
    return directory / ADAPTER_WEIGHT_NAME


def merge_dora(transformer: WanTransformer3DModel) -> WanTransformer3DModel:
    """Fold the adapter into the base weights and remove the peft layers (same outputs, base graph)."""
    if has_adapter(transformer):
        transformer.fuse_lora()
        transformer.unload_lora()
    return transformer
