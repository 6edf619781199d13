"""Memory and time of a training run, estimated before it starts (``wan-alpha train dit|vae --dry-run``).

Activations and FLOPs are not guessed from formulas: the stage's own training step (its loss function, the
model it builds with its memory levers) runs once on PyTorch's ``meta`` device, where every operator computes
only shapes. A dispatch mode adds up the bytes of every tensor the step creates and subtracts them when the
tensor is freed; the peak is what the step needs on top of weights and optimizer state, as a GPU's
``max_memory_allocated`` counts it. ``torch.utils.flop_counter`` counts the matmul, convolution and attention
FLOPs of the same step (with checkpointing, the recomputed forward included). On meta, attention runs through
the fused kernel CPUs use (output + log-sum-exp kept, no L x L matrix), as flash attention does on a GPU.

Weights, gradients and optimizer state follow from the parameter counts for each shipped accelerate config
(``configs/accelerate/*.yaml``): what one GPU holds under plain data parallelism, DeepSpeed ZeRO-2 (optimizer
state and gradients sharded, bf16 weights) and FSDP2 full-shard (everything sharded, one block gathered at a
time). Not counted: the CUDA context and allocator fragmentation (~1-3 GiB), DDP's gradient buckets, and
communication buffers.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from ..config import CONFIG_DIR
from ..errors import WanAlphaError
from .loop import BASE_DTYPES, LoopConfig

GIB = 1024**3
DEFAULT_TFLOPS = 400.0  # sustained bf16 TFLOP/s of one H100/H200 in a training step (~40% of its dense peak)
ACCELERATE_CONFIG_DIR = CONFIG_DIR / "accelerate"
OPTIMIZER_STATE_BYTES = {"adamw": 8, "adamw8bit": 2}  # per trainable parameter: two moments, fp32 or 8-bit


WAN21_DIT = {  # the published Wan2.1-T2V transformer/config.json files, for a dry run without the weights
    "14B": dict(patch_size=[1, 2, 2], num_attention_heads=40, attention_head_dim=128, in_channels=16, out_channels=16,
                text_dim=4096, freq_dim=256, ffn_dim=13824, num_layers=40, cross_attn_norm=True, qk_norm="rms_norm_across_heads"),
    "1.3B": dict(patch_size=[1, 2, 2], num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
                 text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True, qk_norm="rms_norm_across_heads"),
}


def model_config(folder: str | None, subfolder: str, config: dict | None, what: str,
                 known: dict[str, dict] | None = None, default: dict | None = None) -> tuple[dict, str | None]:
    """The architecture of a model the config names, without loading weights: ``config`` as given, else the
    ``config.json`` of its local folder, else (a dry run on a machine without the weights) the published
    architecture its folder name names (``known``, by a key found in the name) or ``default``; with a note."""
    import json

    if config is not None:
        return dict(config), None
    path = Path(folder)
    for candidate in (path / subfolder / "config.json", path / "config.json"):
        if candidate.is_file():
            return {k: v for k, v in json.loads(candidate.read_text()).items() if not k.startswith("_")}, None
    for key, arch in (known or {}).items():
        if key.lower() in path.name.lower():
            return dict(arch), f"{path} not found: {what} assumed to be the published Wan2.1 {key} architecture"
    if default is not None:
        return dict(default), f"{path} not found: {what} assumed to be the published Wan2.1 architecture"
    raise WanAlphaError(f"{path} has no config.json: the estimate needs the {what}'s local folder")


class PeakMemory(TorchDispatchMode):
    """Bytes of the tensors created inside the mode and still alive, and their peak: the step's own memory
    (weights and state made before it are not counted). Works on any device, ``meta`` included."""

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = 0
        self._storages: set[int] = set()

    def _free(self, key: int, size: int) -> None:
        self.live -= size
        self._storages.discard(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                storage = tensor.untyped_storage()
                key = id(storage)
                if key not in self._storages:  # views share their base's storage: count it once
                    self._storages.add(key)
                    size = storage.nbytes()
                    self.live += size
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(storage, self._free, key, size)
        return out


_sdpa = torch.nn.functional.scaled_dot_product_attention


def _flash_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """``scaled_dot_product_attention`` through the fused CPU kernel (it has meta kernels): no L x L matrix."""
    if attn_mask is not None or enable_gqa:
        return _sdpa(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale,
                     enable_gqa=enable_gqa)
    return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(query, key, value, dropout_p, is_causal,
                                                                        scale=scale)[0]


def _attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_flop_count

    return sdpa_flop_count(query_shape, key_shape, value_shape)


def _attention_backward_flops(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    from torch.utils.flop_counter import sdpa_backward_flop_count

    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


@contextlib.contextmanager
def _fused_attention() -> Iterator[None]:
    torch.nn.functional.scaled_dot_product_attention = _flash_attention
    try:
        yield
    finally:
        torch.nn.functional.scaled_dot_product_attention = _sdpa


def trace_step(step: Callable[[], torch.Tensor]) -> tuple[int, int]:
    """``(peak bytes, FLOPs)`` of ``step()`` (returns the loss) and its backward pass."""
    with _fused_attention():
        with PeakMemory() as memory:
            step().backward()
        aten = torch.ops.aten
        mapping = {aten._scaled_dot_product_flash_attention_for_cpu: _attention_flops,
                   aten._scaled_dot_product_flash_attention_for_cpu_backward: _attention_backward_flops}
        with FlopCounterMode(display=False, custom_mapping=mapping) as flops:
            step().backward()
    return memory.peak, flops.get_total_flops()


@dataclass(frozen=True)
class PerBatch:
    """A cost linear in the batch: ``fixed + batch * per_clip`` (DoRA's weight norms, rotary tables and the like
    do not grow with the batch)."""

    fixed: float
    per_clip: float

    def at(self, batch: int) -> float:
        return self.fixed + batch * self.per_clip


def trace_dtype(loop: LoopConfig) -> torch.dtype:
    """The dtype a traced step runs in: the mixed-precision type's (autocast's, roughly), else float32."""
    return torch.bfloat16 if loop.mixed_precision == "bf16" else torch.float32

def trace_batches(step_for: Callable[[int], Callable[[], torch.Tensor]]) -> tuple[PerBatch, PerBatch]:
    """``(memory, FLOPs)`` of a step as functions of the batch, from traces at batch 1 and 2
    (``step_for(batch)`` returns the step)."""
    (memory_1, flops_1), (memory_2, flops_2) = trace_step(step_for(1)), trace_step(step_for(2))
    return (PerBatch(2 * memory_1 - memory_2, memory_2 - memory_1), PerBatch(2 * flops_1 - flops_2, flops_2 - flops_1))


@dataclass(frozen=True)
class Layout:
    """How an accelerate config places the run on its GPUs (read from the config file)."""

    name: str
    gpus: int
    engine: str  # "ddp" (one GPU or plain data parallel), "deepspeed" or "fsdp"
    zero_stage: int = 0

    @classmethod
    def from_file(cls, path: Path) -> Layout:
        data = yaml.safe_load(path.read_text())
        kind = data.get("distributed_type", "NO")
        gpus = int(data.get("num_processes", 1))
        if kind == "DEEPSPEED":
            return cls(path.stem, gpus, "deepspeed", int(data["deepspeed_config"]["zero_stage"]))
        return cls(path.stem, gpus, "fsdp" if kind == "FSDP" else "ddp")


def shipped_layouts() -> list[Layout]:
    return [Layout.from_file(p) for p in sorted(ACCELERATE_CONFIG_DIR.glob("*.yaml"))]


@dataclass
class TrainingEstimate:
    """One stage's memory and time per step: counts, bytes per clip, FLOPs per clip."""

    stage: str
    parameters: int
    trainable: int
    largest_block: int  # parameters of the largest repeated block (what FSDP gathers at once)
    base_dtype: str
    optimizer: str
    batch_size: int
    checkpointing: bool
    activations: dict[bool, PerBatch] = field(default_factory=dict)  # step bytes, by gradient checkpointing on/off
    flops: dict[bool, PerBatch] = field(default_factory=dict)  # forward + backward FLOPs, by checkpointing
    notes: list[str] = field(default_factory=list)

    def trace(self, model: torch.nn.Module, step_for: Callable[[int], Callable[[], torch.Tensor]]) -> TrainingEstimate:
        """Fill :attr:`activations` and :attr:`flops` from :func:`trace_batches` with ``model``'s gradient
        checkpointing off, then on."""
        for checkpointing in (False, True):
            model.enable_gradient_checkpointing() if checkpointing else model.disable_gradient_checkpointing()
            self.activations[checkpointing], self.flops[checkpointing] = trace_batches(step_for)
        return self

    def per_gpu(self, layout: Layout, checkpointing: bool | None = None) -> dict[str, float]:
        """Bytes on one GPU under ``layout``: weights, gradients, optimizer state, activations, total."""
        checkpointing = self.checkpointing if checkpointing is None else checkpointing
        frozen, trainable, n = self.parameters - self.trainable, self.trainable, layout.gpus
        optimizer = trainable * OPTIMIZER_STATE_BYTES[self.optimizer]
        if layout.engine == "deepspeed":  # bf16 module, fp32 master weights + states in the ZeRO optimizer
            weights = self.parameters * 2 / (n if layout.zero_stage >= 3 else 1)
            weights += 2 * self.largest_block * 2 if layout.zero_stage >= 3 else 0
            grads = trainable * 2 / (n if layout.zero_stage >= 2 else 1)
            optimizer = (optimizer + trainable * 4) / n
        else:
            weights = frozen * BASE_DTYPES[self.base_dtype].itemsize + trainable * 4
            grads, shard = trainable * 4, (n if layout.engine == "fsdp" else 1)
            weights, grads, optimizer = weights / shard, grads / shard, optimizer / shard
            if layout.engine == "fsdp":  # the unit being computed and the prefetched next one, gathered
                weights += 2 * self.largest_block * BASE_DTYPES[self.base_dtype].itemsize
        activations = self.activations[checkpointing].at(self.batch_size)
        parts = {"weights": weights, "gradients": grads, "optimizer": optimizer, "activations": activations}
        return {**parts, "total": sum(parts.values())}

    def step_seconds(self, tflops: float, checkpointing: bool | None = None) -> float:
        checkpointing = self.checkpointing if checkpointing is None else checkpointing
        return self.flops[checkpointing].at(self.batch_size) / (tflops * 1e12)

    def describe(self, tflops: float, layouts: list[Layout]) -> str:
        lines = [f"{self.stage} training estimate (meta-device trace of one step; not measured on a GPU):",
                 f"  parameters {self.parameters / 1e6:,.1f} M, trainable {self.trainable / 1e6:,.2f} M "
                 f"(frozen weights {self.base_dtype}, optimizer {self.optimizer})"]
        for ckpt in (False, True):
            lines.append(f"  activations per clip {'with' if ckpt else 'without'} gradient checkpointing: "
                         f"{_size(self.activations[ckpt].per_clip)}; {self.flops[ckpt].per_clip / 1e12:,.3g} TFLOP per clip, "
                         f"{self.step_seconds(tflops, ckpt):,.3g} s per step at {tflops:g} TFLOP/s"
                         + ("  <- this config" if ckpt == self.checkpointing else ""))
        lines.append(f"  per GPU at batch_size {self.batch_size} (weights + gradients + optimizer + activations):")
        for layout in layouts:
            cells = [f"{_size(self.per_gpu(layout, ckpt)['total'])} {'with' if ckpt else 'without'} checkpointing"
                     for ckpt in (False, True)]
            m = self.per_gpu(layout)
            lines.append(f"    {layout.name:<12} ({layout.gpus} GPU{'s' if layout.gpus > 1 else ''}): {'; '.join(cells)} "
                         f"[weights {_size(m['weights'])}, optimizer {_size(m['optimizer'])}]")
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def check_fits(self, layout: Layout, gpu_bytes: int, layouts: list[Layout]) -> None:
        """Refuse a run that cannot fit ``gpu_bytes``, naming the settings that would make it fit."""
        need = self.per_gpu(layout)["total"]
        if need <= gpu_bytes:
            return
        fixes = []
        if not self.checkpointing and self.per_gpu(layout, True)["total"] <= gpu_bytes:
            fixes.append(f"train.gradient_checkpointing: true (~{self.per_gpu(layout, True)['total'] / GIB:.0f} GiB)")
        for other in layouts:
            total = self.per_gpu(other, True)["total"]
            if other.engine != layout.engine and total <= gpu_bytes:
                fixes.append(f"accelerate launch --config_file {ACCELERATE_CONFIG_DIR / other.name}.yaml with "
                             f"checkpointing (~{total / GIB:.0f} GiB)")
        if self.base_dtype == "float32":
            fixes.append("train.base_dtype: bfloat16")
        if self.batch_size > 1:
            fixes.append("a smaller train.batch_size")
        fixes.append("fewer frames or a smaller size in data")
        raise WanAlphaError(f"this run needs ~{need / GIB:.0f} GiB per GPU ({layout.name}) but the GPU has "
                            f"{gpu_bytes / GIB:.0f} GiB: use {'; or '.join(fixes)}")


def _size(nbytes: float) -> str:
    return f"{nbytes / GIB:,.1f} GiB" if nbytes >= GIB / 10 else f"{nbytes / 2**20:,.1f} MiB"


def current_layout(accelerator) -> Layout:
    """The layout this process was launched with."""
    from accelerate.utils import DistributedType

    kind = accelerator.distributed_type
    if kind == DistributedType.DEEPSPEED:
        stage = accelerator.state.deepspeed_plugin.zero_stage
        return Layout(f"deepspeed ZeRO-{stage}", accelerator.num_processes, "deepspeed", stage)
    if kind == DistributedType.FSDP:
        return Layout("fsdp", accelerator.num_processes, "fsdp")
    return Layout("this launch", accelerator.num_processes, "ddp")


def report_and_check(estimate: Callable[[], TrainingEstimate], accelerator, tflops: float) -> None:
    """On a GPU: print the stage's ``estimate()`` (main process) and refuse a run that cannot fit. On a CPU the
    trace is skipped (it costs seconds; GPU memory is moot there): ``--dry-run`` prints it anyway."""
    from .loop import status

    if accelerator.device.type != "cuda":
        return
    layouts, result = shipped_layouts(), estimate()
    status(result.describe(tflops, layouts))
    total = torch.cuda.get_device_properties(accelerator.device).total_memory
    result.check_fits(current_layout(accelerator), total, layouts)


def count_parameters(model: torch.nn.Module, block_lists: tuple[str, ...]) -> tuple[int, int, int]:
    """``(all, trainable, largest block)`` parameters; blocks are the children of the named ``ModuleList``s."""
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    blocks = [block for name, module in model.named_modules() if name.endswith(block_lists)
              for block in module.children()]
    largest = max((sum(p.numel() for p in b.parameters()) for b in blocks), default=params)
    return params, trainable, largest
