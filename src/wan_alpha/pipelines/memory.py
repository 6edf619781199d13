"""Memory settings for real-scale generation on one GPU, and a rough up-front estimate of what a run needs.

Modes (diffusers' offloading, unchanged):

* ``none``: every model on the GPU (fastest; Wan2.1-14B + UMT5-XXL in bf16 ~ 41 GB of weights);
* ``model``: ``enable_model_cpu_offload`` moves one whole model at a time to the GPU (peak ~ the DiT, 28.6 GB);
* ``sequential``: ``enable_sequential_cpu_offload`` streams layer by layer (for 24 GB cards; slow).

``--low-vram`` is ``sequential`` plus VAE tiling and slicing, and the RGB and alpha decoders run one after the
other (peak: one decoder's activations); with memory to spare they run concurrently on two CUDA streams.
``--quantize int8|fp8`` stores the DiT blocks' weights in one byte (:mod:`wan_alpha.models.quantize`), and
``--preset 24gb`` combines it with ``model`` offload and VAE tiling (see ``PRESETS``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..errors import WanAlphaError
from ..models.quantize import (
    check_quantize,
    check_quantize_method,
    quantize_transformer,
    quantized_parameters,
    stored_bytes,
)
from ..rgba import latent_frame_count

MEMORY_MODES = ("none", "model", "sequential")
VAE_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
GIB = 1024**3
PRESETS = {
    "low-vram": dict(mode="sequential", tiling=True, slicing=True),
    # int8 rather than fp8: every GPU has it, and weight-only int8 is the closer to bf16 (fp8 also rounds activations)
    "24gb": dict(mode="model", tiling=True, quantize="int8"),
}


@dataclass(frozen=True)
class MemorySettings:
    """How to place and run the models: ``mode`` (see module doc), VAE ``tiling``/``slicing``, ``compile`` the DiT
    blocks, ``quantize`` the DiT blocks (``none``, ``int8``, ``fp8``), ``vae_dtype`` (``fp32``/``bf16``; ``None``:
    as loaded)."""

    mode: str = "none"
    tiling: bool = False
    slicing: bool = False
    compile: bool = False
    quantize: str = "none"
    vae_dtype: str | None = None

    @classmethod
    def low_vram(cls) -> MemorySettings:
        return cls.preset("low-vram")

    @classmethod
    def preset(cls, name: str, **overrides) -> MemorySettings:
        """A named preset (``PRESETS``), with any field given in ``overrides`` replacing the preset's."""
        if name not in PRESETS:
            raise WanAlphaError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def __post_init__(self) -> None:
        if self.mode not in MEMORY_MODES:
            raise WanAlphaError(f"unknown offload mode {self.mode!r}: choose one of {', '.join(MEMORY_MODES)}")
        check_quantize_method(self.quantize)
        if self.vae_dtype is not None and self.vae_dtype not in VAE_DTYPES:
            raise WanAlphaError(f"unknown --vae-dtype {self.vae_dtype!r}: choose one of {', '.join(VAE_DTYPES)}")
        if self.quantize != "none" and self.mode == "sequential":  # diffusers#10470: accelerate re-wraps each
            # parameter as a plain nn.Parameter when streaming it, which torchao's tensor subclasses do not survive
            raise WanAlphaError(f"--quantize {self.quantize} does not work with sequential offload (--low-vram): "
                                "use --preset 24gb (model offload) or --quantize none")

    def check_device(self, device: str | torch.device) -> None:
        """Refuse on ``device`` what it cannot run (before any model loads): offload hooks need an accelerator,
        fp8 an FP8-capable GPU, quantisation torchao."""
        if self.mode != "none" and torch.device(device).type == "cpu":
            raise WanAlphaError(f"--offload {self.mode} / --low-vram / --preset need a GPU; on the CPU use --offload none")
        check_quantize(self.quantize, device)


def apply_memory_settings(pipe, settings: MemorySettings, device: str | torch.device) -> None:
    """Place ``pipe``'s models on ``device`` as ``settings`` say (offload hooks need an accelerator)."""
    device = torch.device(device)
    settings.check_device(device)
    if settings.vae_dtype is not None:  # nn.Module.to: ModelMixin.to warns on every dtype cast
        torch.nn.Module.to(pipe.vae, VAE_DTYPES[settings.vae_dtype])
    # after loading and merging adapters, before placement: on a GPU one block at a time is quantised there
    quantize_transformer(pipe.transformer, settings.quantize, device if device.type == "cuda" else None)
    if settings.mode == "none":
        pipe.to(device)
    elif settings.mode == "model":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)
    vae = pipe.vae
    vae.enable_tiling() if settings.tiling else vae.disable_tiling()
    vae.enable_slicing() if settings.slicing else vae.disable_slicing()
    vae.parallel_decode = settings.mode == "none" and device.type == "cuda"
    if settings.compile:
        pipe.transformer.compile_repeated_blocks(fullgraph=True)


def _bytes(module: torch.nn.Module, recurse: bool = True, quantized: set[int] = frozenset()) -> int:
    return sum(stored_bytes(p, id(p) in quantized) for p in module.parameters(recurse=recurse))


def estimate_memory(pipe, num_frames: int, height: int, width: int, settings: MemorySettings, batch: int = 1) -> dict[str, float]:
    """Rough GPU memory need in GiB: weights resident at the peak plus the largest activations.

    DiT activations: per token, ~4 hidden-size and 2 FFN-size tensors alive at once (inference, no grads).
    VAE decode (per decoder, frame by frame): ~12 full-resolution maps of ``base_dim`` channels over
    4 frames + cache, plus the decoded clips. Weights as ``settings.quantize`` stores them (from shapes, so a
    ``meta`` pipeline can be estimated). Good to ~20%; printed so a run that cannot fit says so first.
    """
    cfg = pipe.transformer.config
    bytes_per = torch.finfo(pipe.transformer.dtype).bits // 8
    cell = pipe.vae.spatial_stride * cfg.patch_size[1]  # pixels per token, each way
    tokens = batch * latent_frame_count(num_frames) * (height // cell) * (width // cell)
    hidden = cfg.num_attention_heads * cfg.attention_head_dim
    dit_act = tokens * (4 * hidden + 2 * cfg.ffn_dim) * bytes_per
    base_dim = pipe.vae.config.base_config.get("base_dim", 96)
    vae_bytes = torch.finfo(VAE_DTYPES[settings.vae_dtype] if settings.vae_dtype else pipe.vae.dtype).bits // 8
    per_clip = 12 * base_dim * height * width * 6 * vae_bytes  # 4 decoded frames + 2 cached, ~12 maps alive
    frame_maps = per_clip * (1 if settings.slicing else batch) / (4 if settings.tiling else 1)
    clips = batch * 4 * num_frames * height * width * 4  # rgb + alpha, float32
    vae_act = frame_maps * (1 if not getattr(pipe.vae, "parallel_decode", False) else 2) + clips
    quantized = quantized_parameters(pipe.transformer, settings.quantize)
    vae_weights = sum(p.numel() for p in pipe.vae.parameters()) * vae_bytes
    weights = {"text_encoder": _bytes(pipe.text_encoder), "transformer": _bytes(pipe.transformer, quantized=quantized),
               "vae": vae_weights}
    if settings.mode == "none":
        resident = sum(weights.values())
    elif settings.mode == "model":
        resident = max(weights.values())
    else:  # accelerate streams each module's own parameters in just before it runs: the largest one decides
        # (measured on an H200: UMT5-XXL's 2 GiB embedding table, not a 0.7 GiB DiT block)
        resident = max(_bytes(m, recurse=False, quantized=quantized)
                       for c in (pipe.text_encoder, pipe.transformer, pipe.vae) for m in c.modules())
    return {"weights": resident / GIB, "dit_activations": dit_act / GIB, "vae_activations": vae_act / GIB,
            "total": (resident + max(dit_act, vae_act)) / GIB}


def describe_estimate(estimate: dict[str, float], settings: MemorySettings, device: str | torch.device = "cuda") -> str:
    where = "GPU" if torch.device(device).type == "cuda" else "CPU"
    extras = "".join((f", DiT {settings.quantize}" if settings.quantize != "none" else "",
                      f", VAE {settings.vae_dtype}" if settings.vae_dtype else "", ", VAE tiling" if settings.tiling else ""))
    return (f"estimated {where} memory ({settings.mode} offload{extras}): "
            f"~{estimate['total']:.1f} GiB (weights {estimate['weights']:.1f}, DiT activations "
            f"{estimate['dit_activations']:.1f}, VAE decode {estimate['vae_activations']:.1f})")


def available_ram_gib() -> float | None:
    """Memory the system can give this process now (Linux ``MemAvailable``; total RAM elsewhere)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / GIB
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(estimate: dict[str, float], device: str | torch.device) -> None:
    """Refuse a run whose estimate exceeds the GPU's total memory (or the RAM free for a CPU run), naming the
    flags that reduce it."""
    device = torch.device(device)
    if device.type != "cuda":
        free = available_ram_gib()
        if free is not None and estimate["total"] > free:
            raise WanAlphaError(f"this run needs ~{estimate['total']:.1f} GiB of RAM but {free:.1f} GiB is free: "
                                "use fewer frames or a smaller --size")
        return
    total = torch.cuda.get_device_properties(device).total_memory / GIB
    if estimate["total"] > total:
        raise WanAlphaError(f"this run needs ~{estimate['total']:.0f} GiB but the GPU has {total:.0f} GiB: "
                            "use --preset 24gb, --offload model, or --low-vram (slower), or fewer frames / a smaller size")


def peak_vram_gib(device: str | torch.device) -> float | None:
    device = torch.device(device)
    return torch.cuda.max_memory_allocated(device) / GIB if device.type == "cuda" else None
