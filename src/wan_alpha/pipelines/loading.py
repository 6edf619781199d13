"""Loading a :class:`~wan_alpha.pipelines.WanAlphaPipeline` for generation, as ``wan-alpha generate`` and
``wan-alpha app`` do: the embedded model by default, a wan-alpha folder or the real-scale Wan2.1 files, on the
device and memory placement asked for; and the transparency maps fitted to an alpha video for a loaded model."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from .. import EMBEDDED_MODEL
from ..errors import WanAlphaError
from ..io.masks import read_matte
from ..sampling import fit_alpha_ellipses, flow_scheduler, render_ellipses
from ..sampling.schedules import scheduler_shift
from .memory import MemorySettings, apply_memory_settings
from .model_checks import check_config_keys, model_folder_errors
from .wan_alpha import WanAlphaPipeline
from .wan_files import WanAlphaFiles


def model_folder(model: str | os.PathLike | None) -> Path:
    """``--model``, or the embedded tiny model when none is given (checked: a broken install may lack it)."""
    if model is not None:
        return Path(model)
    if not (EMBEDDED_MODEL / "model_index.json").is_file():
        raise WanAlphaError(f"the embedded model is missing from this install ({EMBEDDED_MODEL}): reinstall wan-alpha "
                            "or pass --model DIR")
    return EMBEDDED_MODEL


def check_model_choice(model: str | os.PathLike | None, wan_files: WanAlphaFiles | None) -> Path | None:
    """The wan-alpha folder to load (the embedded model when neither is given), or None for ``wan_files``;
    checked before anything heavy loads."""
    if wan_files is not None and model is not None:
        raise WanAlphaError("give --model (a wan-alpha folder) or --model-dir (Wan2.1 files), not both")
    if wan_files is not None:
        wan_files.check()
        return None
    return model_folder(model)


def generation_device(device: str | None, memory: MemorySettings) -> str:
    """``device`` (default: CUDA if present, else the CPU), checked against ``memory``'s offload mode."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    memory.check_device(device)
    if device == "cpu":
        # Denormal floats are 10-100x slower on CPUs (measured: tiny VAE decode 5 s -> 0.05 s); flushing
        # them to zero changes nothing visible. Process-wide, so only where generation is set up.
        torch.set_flush_denormal(True)
    return device


def load_pipeline(model: Path | None, wan_files: WanAlphaFiles | None, device: str, memory: MemorySettings,
                  sampler: str | None = None) -> WanAlphaPipeline:
    """A wan-alpha folder, or the real-scale model from Wan2.1 files (reports printed), placed per ``memory``
    in bfloat16 on CUDA (float32 elsewhere), with ``sampler`` instead of the model's own if given."""
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    if wan_files is None:
        check_config_keys(model)
        with model_folder_errors(model):
            pipe = WanAlphaPipeline.from_pretrained(model, dtype=dtype)
    else:
        # adapters merge where the DiT lives: on the GPU when every model goes there, else on the CPU
        merge_device = device if memory.mode == "none" else None
        with model_folder_errors(wan_files.model_dir):
            pipe = WanAlphaPipeline.from_wan_files(**asdict(wan_files), dtype=dtype, merge_device=merge_device)
        for report in pipe.load_reports:
            print(report.summary(), file=sys.stderr)
    apply_memory_settings(pipe, memory, device)
    if sampler is not None:
        pipe.scheduler = flow_scheduler(sampler, scheduler_shift(pipe.scheduler))
    return pipe


def matte_mask(pipe: WanAlphaPipeline, matte: str | os.PathLike, height: int, width: int,
               fit: str | None = None, luma_as_alpha: bool = False) -> torch.Tensor:
    """The transparency maps ``(1, 1, F, h, w)`` of ``matte``'s latent frames (an RGBA video's alpha or a grayscale
    matte; a colour clip's luma only with ``luma_as_alpha``), fitted with ``fit`` (default: the model's own) and drawn
    on the latent grid of a ``height x width`` clip."""
    stride = pipe.vae.spatial_stride
    (ellipses,) = fit_alpha_ellipses(read_matte(matte, luma_as_alpha), stride, fit or pipe.config.mask_fit)
    return render_ellipses(ellipses, height // stride, width // stride)
