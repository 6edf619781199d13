"""Mask files for the mean-shift sampler, and alpha mattes read as alpha.

A mask is float32 ``(1, 1, F, h, w)`` in [0, 1] on the latent grid: one map per latent frame, white = object.
Files: ``.npy`` or ``.pt`` (``(F, h, w)`` arrays; ``.pt`` read with ``torch.load(weights_only=True)``) or any
video format of :mod:`wan_alpha.io` as a grayscale clip at latent resolution, one frame per latent frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import WanAlphaError
from .atomic import atomic_output
from .base import DEFAULT_FPS
from .files import read_video, write_video
from .video import RGBAVideo

ARRAY_SUFFIXES = (".npy", ".pt")


def validate_mask(mask: torch.Tensor | np.ndarray, source: str = "mask") -> torch.Tensor:
    """``mask`` as float32 ``(B, 1, F, h, w)`` (an ``(F, h, w)`` one gains the two leading axes) if its values
    are finite and in [0, 1]; else a clear error naming ``source``."""
    mask = torch.as_tensor(mask).float()
    if mask.ndim == 3:
        mask = mask[None, None]
    if mask.ndim != 5 or mask.shape[1] != 1:
        raise WanAlphaError(f"{source} must be shaped (F, h, w) or (B, 1, F, h, w), got {tuple(mask.shape)}")
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise WanAlphaError(f"{source} values must be finite and in [0, 1]")
    return mask


def read_matte(path: str | os.PathLike) -> torch.Tensor:
    """The alpha ``(1, 1, T, H, W)`` in [0, 1] of an RGBA video, or the luma of a grayscale matte (a file
    without an alpha channel)."""
    video = read_video(path, allow_opaque=True)
    if np.all(video.alpha == 255):
        video = read_video(path, alpha_path=path)
    return video.to_tensors()[1]


def load_mask(path: str | os.PathLike) -> torch.Tensor:
    """Read a mask file into ``(1, 1, F, h, w)`` float32 (see the module docstring for formats)."""
    path = Path(path)
    if not path.exists():
        raise WanAlphaError(f"mask file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            data = torch.from_numpy(np.load(path, allow_pickle=False))
        except ValueError as err:
            raise WanAlphaError(f"cannot read {path} as a numeric .npy array: {err}") from err
    elif suffix == ".pt":
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
            raise WanAlphaError(f"cannot read {path} as a tensor file: {err}") from err
        if not isinstance(data, torch.Tensor):
            raise WanAlphaError(f"{path} holds a {type(data).__name__}, not a mask tensor (F, h, w)")
    else:
        data = torch.from_numpy(read_video(path, alpha_path=path).alpha.astype(np.float32) / 255.0)
    if data.ndim not in (3, 5):
        raise WanAlphaError(f"mask {path} must be shaped (F, h, w), got {tuple(data.shape)}")
    return validate_mask(data, source=f"mask {path}")


def save_mask(
    path: str | os.PathLike, mask: torch.Tensor, *, overwrite: bool = False, format: str | None = None
) -> Path:
    """Write ``mask`` (one clip) as ``.npy``, ``.pt`` or a grayscale video (``format`` or the suffix)."""
    path = Path(path)
    mask = torch.as_tensor(mask).detach().float().cpu()
    if mask.ndim == 5:
        if mask.shape[:2] != (1, 1):
            raise WanAlphaError(f"save_mask writes one mask (1, 1, F, h, w), got {tuple(mask.shape)}")
        mask = mask[0, 0]
    if format is None and path.suffix.lower() in ARRAY_SUFFIXES:
        with atomic_output(path, overwrite=overwrite) as tmp:
            if path.suffix.lower() == ".npy":
                with open(tmp, "wb") as fh:
                    np.save(fh, mask.numpy())
            else:
                torch.save(mask.clone(), tmp)
        return path
    gray = np.rint(mask.clamp(0, 1).numpy() * 255).astype(np.uint8)
    frames = np.concatenate([np.repeat(gray[..., None], 3, axis=-1), np.full_like(gray[..., None], 255)], axis=-1)
    return write_video(path, RGBAVideo(frames, DEFAULT_FPS), format=format, overwrite=overwrite)


def save_mask_preview(path: str | os.PathLike, mask: torch.Tensor, *, overwrite: bool = False, scale: int = 8) -> Path:
    """A PNG of the mask over time: latent frames left to right, each upscaled ``scale``x, 2 px apart."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise WanAlphaError(f"mask previews are .png images: name the output {path.with_suffix('.png').name}")
    maps = torch.as_tensor(mask).detach().float().cpu().reshape(-1, *mask.shape[-2:])
    gap = 2
    tiles = [np.kron(m.clamp(0, 1).numpy(), np.ones((scale, scale))) for m in maps]
    h, w = tiles[0].shape
    strip = np.full((h, len(tiles) * (w + gap) - gap), 0.5)
    for i, tile in enumerate(tiles):
        strip[:, i * (w + gap) : i * (w + gap) + w] = tile
    with atomic_output(path, overwrite=overwrite) as tmp:
        Image.fromarray(np.rint(strip * 255).astype(np.uint8), mode="L").save(tmp, format="PNG")
    return path
