"""Mask files for the mean-shift sampler, and alpha mattes read as alpha.

A mask is float32 ``(1, 1, F, h, w)`` in [0, 1]: one map per latent frame, white = object, on any grid (the
sampler resizes it to the clip's latent grid, as the reference does). Files: a ``torch.save``d tensor (read with
``torch.load(weights_only=True)``) or a NumPy ``.npy`` array, both recognised by their content, whatever the name
(the reference release ships its ``gauss_mask`` without a suffix), shaped ``(F, h, w)``, ``(1, F, h, w)``,
``(F, 1, h, w)`` or ``(1, 1, F, h, w)``; or any video format of :mod:`wan_alpha.io` as a grayscale clip, one frame
per latent frame.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import WanAlphaError
from .atomic import atomic_output
from .base import DEFAULT_FPS
from .files import read_video, write_video
from .limits import GIB, current_limits
from .video import RGBAVideo

ARRAY_SUFFIXES = (".npy", ".pt")
_NUMPY_MAGIC = b"\x93NUMPY"
_PICKLE_PROTOCOL = b"\x80"  # torch.save's legacy (non-zip) format starts with a pickle protocol byte


def validate_mask(mask: torch.Tensor | np.ndarray, source: str = "mask") -> torch.Tensor:
    """``mask`` as float32 ``(B, 1, F, h, w)`` if its values are finite and in [0, 1]; else a clear error naming
    ``source``. ``(F, h, w)`` gains the two leading axes, ``(1, F, h, w)`` and ``(F, 1, h, w)`` the missing one."""
    mask = torch.as_tensor(mask).float()
    if mask.ndim == 3:
        mask = mask[None, None]
    elif mask.ndim == 4 and 1 in mask.shape[:2]:
        mask = mask[None] if mask.shape[0] == 1 else mask.transpose(0, 1)[None]
    if mask.ndim != 5 or mask.shape[1] != 1:
        raise WanAlphaError(f"{source} must be shaped (F, h, w), (1, F, h, w), (F, 1, h, w) or (B, 1, F, h, w), "
                            f"got {tuple(mask.shape)}")
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise WanAlphaError(f"{source} values must be finite and in [0, 1]")
    return mask


MATTE_GREY_TOLERANCE = 8
"""Most a grayscale matte's R, G and B may differ (of 255): lossy 4:2:0 codecs shift grey by a few levels."""


def read_matte(path: str | os.PathLike, luma_as_alpha: bool = False) -> torch.Tensor:
    """The alpha ``(1, 1, T, H, W)`` in [0, 1] of an RGBA video, or the luma of a grayscale matte (a file
    without an alpha channel). A colour clip without alpha is refused (its luma is no matte) unless ``luma_as_alpha``."""
    video = read_video(path, allow_opaque=True)
    if np.all(video.alpha == 255):
        rgb = video.rgb.astype(np.int16)
        if not luma_as_alpha and np.abs(rgb - rgb[..., 1:2]).max() > MATTE_GREY_TOLERANCE:
            raise WanAlphaError(f"{path} has no alpha channel and is in colour, so it holds no matte: give an RGBA "
                                "video or a grayscale matte, or pass --luma-as-alpha to use its brightness as alpha")
        video = read_video(path, alpha_path=path)
    return video.to_tensors()[1]


def _is_torch_file(path: Path, head: bytes) -> bool:
    if head.startswith(_PICKLE_PROTOCOL):
        return True
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:  # torch.save's zip holds <name>/data.pkl; a zip of PNG frames does not
        return any(name.endswith("/data.pkl") or name == "data.pkl" for name in archive.namelist())


def load_mask(path: str | os.PathLike) -> torch.Tensor:
    """Read a mask file into ``(1, 1, F, h, w)`` float32 (see the module docstring for formats)."""
    path = Path(path)
    if not path.is_file():
        raise WanAlphaError(f"mask file {path} does not exist")
    with open(path, "rb") as fh:
        head = fh.read(len(_NUMPY_MAGIC))
    if head == _NUMPY_MAGIC:
        try:  # memory-mapped: the header's shape and dtype are checked before any data is read
            array = np.load(path, allow_pickle=False, mmap_mode="r")
        except ValueError as err:
            raise WanAlphaError(f"cannot read {path} as a numeric .npy array: {err}") from err
        if array.dtype.kind not in "biuf":
            raise WanAlphaError(f"{path} holds {array.dtype} values, not numbers: a mask is float maps in [0, 1]")
        if array.nbytes > current_limits().max_decoded_bytes:
            raise WanAlphaError(f"{path}: a {array.nbytes / GIB:.1f} GiB array is over the input limit "
                                f"(raise it with wan-alpha --max-decoded-gib G)")
        data = torch.from_numpy(np.array(array))
    elif _is_torch_file(path, head):
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError... for bad files
            raise WanAlphaError(f"cannot read {path} as a tensor file: {err}") from err
        if not isinstance(data, torch.Tensor):
            raise WanAlphaError(f"{path} holds a {type(data).__name__}, not a mask tensor (F, h, w)")
    elif path.suffix.lower() in (*ARRAY_SUFFIXES, ""):
        raise WanAlphaError(f"mask {path} is not a NumPy or torch file (nor, without a suffix, a video): "
                            "make one with `wan-alpha mask fit|draw`")
    else:
        data = torch.from_numpy(read_video(path, alpha_path=path).alpha.astype(np.float32) / 255.0)
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


def check_preview_name(path: str | os.PathLike) -> Path:
    """Mask previews are PNG images."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise WanAlphaError(f"mask previews are .png images: name the output {path.with_suffix('.png').name}")
    return path


def save_mask_preview(path: str | os.PathLike, mask: torch.Tensor, *, overwrite: bool = False, scale: int = 8) -> Path:
    """A PNG of the mask over time: latent frames left to right, each upscaled ``scale``x, 2 px apart."""
    path = check_preview_name(path)
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
