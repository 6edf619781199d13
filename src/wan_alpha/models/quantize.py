"""Quantising the DiT's transformer blocks with torchao, after loading and after the adapters are merged.

* ``int8``: int8 weights, one scale per output row, bf16/fp32 activations (torchao ``Int8WeightOnlyConfig``):
  half the bf16 weight memory on any GPU or the CPU;
* ``fp8``: float8 (e4m3) weights and dynamically quantised activations, per-row scales (torchao
  ``Float8DynamicActivationFloat8WeightConfig``): half the memory and FP8 tensor-core matmuls, on GPUs of compute
  capability 8.9+ (Ada, Hopper and newer) only.

Only the ``nn.Linear`` layers inside ``transformer.blocks`` are quantised (attention q/k/v/o and the FFN: >99 % of
Wan2.1-14B's weights); the patch embedding, the time/text embedders, norms and modulation tables stay as loaded.
torchao is an optional extra (``pip install 'wan-alpha[quant]'``): each torchao release supports only a narrow
range of torch versions, so it must not constrain the torch of users who never quantise.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import WanAlphaError

QUANTIZE_METHODS = ("none", "int8", "fp8")
FP8_MIN_CAPABILITY = (8, 9)
"""FP8 tensor cores: Ada (sm_89), Hopper (sm_90) and newer."""


def require_torchao() -> None:
    """Refuse (one line, with the fix) when torchao is missing."""
    try:
        import torchao  # noqa: F401
    except ImportError as err:
        raise WanAlphaError(f"--quantize needs torchao ({err}): pip install 'wan-alpha[quant]'") from err


def check_quantize_method(method: str) -> None:
    """Refuse a method that is not one of ``QUANTIZE_METHODS``."""
    if method not in QUANTIZE_METHODS:
        raise WanAlphaError(f"unknown --quantize {method!r}: choose one of {', '.join(QUANTIZE_METHODS)}")


def check_quantize(method: str, device: str | torch.device) -> None:
    """Refuse an unknown method, fp8 where the device has no FP8 matmuls, and a missing torchao, before any load."""
    check_quantize_method(method)
    if method == "none":
        return
    device = torch.device(device)
    if method == "fp8":
        capability = torch.cuda.get_device_capability(device) if device.type == "cuda" else None
        if capability is None or capability < FP8_MIN_CAPABILITY:
            where = "the CPU" if capability is None else f"this GPU (compute capability {capability[0]}.{capability[1]})"
            raise WanAlphaError(f"--quantize fp8 needs a GPU with FP8 matmuls (Ada/Hopper, compute capability 8.9+), "
                                f"not {where}: use --quantize int8")
    require_torchao()


def _config(method: str):
    from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, Int8WeightOnlyConfig, PerRow

    if method == "int8":
        return Int8WeightOnlyConfig()  # per-row scales (torchao's default granularity)
    return Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())


def quantized_linears(transformer: nn.Module) -> list[nn.Linear]:
    """The layers ``quantize_transformer`` quantises: every ``nn.Linear`` inside the repeated blocks."""
    return [m for m in transformer.blocks.modules() if isinstance(m, nn.Linear)]


def quantize_transformer(transformer: nn.Module, method: str, device: str | torch.device | None = None) -> None:
    """Quantise ``transformer``'s block linears in place with ``method`` (``none`` does nothing).

    Block by block: each block is moved to ``device`` (the accelerator, where torchao quantises fast and fp8
    must), quantised, and moved back to where it was, so a DiT held on the CPU for offloading needs one
    block's memory on the GPU."""
    if method == "none":
        return
    from torchao.quantization import quantize_

    config = _config(method)
    for block in transformer.blocks:
        home = next(block.parameters()).device
        block.to(device or home)
        quantize_(block, config, filter_fn=lambda module, _name: isinstance(module, nn.Linear))
        block.to(home)


def quantized_parameters(transformer: nn.Module, method: str) -> set[int]:
    """``id()`` of the parameters that ``method`` stores quantised (none for ``none``)."""
    return set() if method == "none" else {id(m.weight) for m in quantized_linears(transformer)}


def stored_bytes(param: torch.Tensor, quantized: bool) -> int:
    """Memory of one parameter: a quantised weight takes one byte per element plus one float32 scale per output
    row; anything else its dtype's size. From shapes, so it holds for ``meta`` models and quantised ones alike."""
    return param.numel() + param.shape[0] * 4 if quantized else param.numel() * param.element_size()
