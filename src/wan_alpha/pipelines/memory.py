"""Memory settings for real-scale generation on one GPU, and a rough up-front estimate of what a run needs.

Modes (diffusers' offloading, unchanged):

* ``none``: every model on the GPU (fastest; Wan2.1-14B + UMT5-XXL in bf16 ~ 41 GB of weights);
* ``model``: ``enable_model_cpu_offload`` moves one whole model at a time to the GPU (peak ~ the DiT, 28.6 GB);
* ``sequential``: ``enable_sequential_cpu_offload`` streams layer by layer (for 24 GB cards; slow).

``--low-vram`` is ``sequential`` plus VAE tiling and slicing, and the RGB and alpha decoders run one after the
other (peak: one decoder's activations); with memory to spare they run concurrently on two CUDA streams.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import WanAlphaError
from ..rgba import latent_frame_count

MEMORY_MODES = ("none", "model", "sequential")
GIB = 1024**3


@dataclass(frozen=True)
class MemorySettings:
    """How to place the models: ``mode`` (see module doc), VAE ``tiling``/``slicing``, ``compile`` the DiT blocks."""

    mode: str = "none"
    tiling: bool = False
    slicing: bool = False
    compile: bool = False

    @classmethod
    def low_vram(cls) -> MemorySettings:
        return cls(mode="sequential", tiling=True, slicing=True)

    def __post_init__(self) -> None:
        if self.mode not in MEMORY_MODES:
            raise WanAlphaError(f"unknown offload mode {self.mode!r}: choose one of {', '.join(MEMORY_MODES)}")

    def check_device(self, device: str | torch.device) -> None:
        """Offload hooks need an accelerator: refuse them on the CPU (before any model loads)."""
        if self.mode != "none" and torch.device(device).type == "cpu":
            raise WanAlphaError(f"--offload {self.mode} / --low-vram need a GPU; on the CPU use --offload none")


def apply_memory_settings(pipe, settings: MemorySettings, device: str | torch.device) -> None:
    """Place ``pipe``'s models on ``device`` as ``settings`` say (offload hooks need an accelerator)."""
    device = torch.device(device)
    settings.check_device(device)
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


def _bytes(module: torch.nn.Module, recurse: bool = True) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters(recurse=recurse))


def estimate_memory(pipe, num_frames: int, height: int, width: int, settings: MemorySettings, batch: int = 1) -> dict[str, float]:
    """Rough GPU memory need in GiB: weights resident at the peak plus the largest activations.

    DiT activations: per token, ~4 hidden-size and 2 FFN-size tensors alive at once (inference, no grads).
    VAE decode (per decoder, frame by frame): ~12 full-resolution maps of ``base_dim`` channels over
    4 frames + cache, plus the decoded clips. Good to ~20%; printed so a run that cannot fit says so first.
    """
    cfg = pipe.transformer.config
    bytes_per = torch.finfo(pipe.transformer.dtype).bits // 8
    cell = pipe.vae.spatial_stride * cfg.patch_size[1]  # pixels per token, each way
    tokens = batch * latent_frame_count(num_frames) * (height // cell) * (width // cell)
    hidden = cfg.num_attention_heads * cfg.attention_head_dim
    dit_act = tokens * (4 * hidden + 2 * cfg.ffn_dim) * bytes_per
    base_dim = pipe.vae.config.base_config.get("base_dim", 96)
    vae_bytes = torch.finfo(pipe.vae.dtype).bits // 8
    per_clip = 12 * base_dim * height * width * 6 * vae_bytes  # 4 decoded frames + 2 cached, ~12 maps alive
    frame_maps = per_clip * (1 if settings.slicing else batch) / (4 if settings.tiling else 1)
    clips = batch * 4 * num_frames * height * width * 4  # rgb + alpha, float32
    vae_act = frame_maps * (1 if not getattr(pipe.vae, "parallel_decode", False) else 2) + clips
    weights = {"text_encoder": _bytes(pipe.text_encoder), "transformer": _bytes(pipe.transformer), "vae": _bytes(pipe.vae)}
    if settings.mode == "none":
        resident = sum(weights.values())
    elif settings.mode == "model":
        resident = max(weights.values())
    else:  # accelerate streams each module's own parameters in just before it runs: the largest one decides
        # (measured on an H200: UMT5-XXL's 2 GiB embedding table, not a 0.7 GiB DiT block)
        resident = max(_bytes(m, recurse=False) for c in (pipe.text_encoder, pipe.transformer, pipe.vae) for m in c.modules())
    return {"weights": resident / GIB, "dit_activations": dit_act / GIB, "vae_activations": vae_act / GIB,
            "total": (resident + max(dit_act, vae_act)) / GIB}


def describe_estimate(estimate: dict[str, float], settings: MemorySettings) -> str:
    return (f"estimated GPU memory ({settings.mode} offload{', VAE tiling' if settings.tiling else ''}): "
            f"~{estimate['total']:.1f} GiB (weights {estimate['weights']:.1f}, DiT activations "
            f"{estimate['dit_activations']:.1f}, VAE decode {estimate['vae_activations']:.1f})")


def check_fits(estimate: dict[str, float], device: str | torch.device) -> None:
    """Refuse a run whose estimate exceeds the GPU's total memory, naming the flags that reduce it."""
    device = torch.device(device)
    if device.type != "cuda":
        return
    total = torch.cuda.get_device_properties(device).total_memory / GIB
    if estimate["total"] > total:
        raise WanAlphaError(f"this run needs ~{estimate['total']:.0f} GiB but the GPU has {total:.0f} GiB: "
                            "use --offload model, or --low-vram (slower), or fewer frames / a smaller size")


def peak_vram_gib(device: str | torch.device) -> float | None:
    device = torch.device(device)
    return torch.cuda.max_memory_allocated(device) / GIB if device.type == "cuda" else None
