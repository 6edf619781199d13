"""``wan-alpha mask fit | draw``: mask files for ``generate --mask``, on the latent grid of a model's VAE."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import torch

from ..errors import WanAlphaError
from ..io import check_writable
from ..io.masks import check_preview_name, read_matte, save_mask, save_mask_preview
from ..pipelines import check_video_size
from ..pipelines.model_checks import read_model_json
from ..rgba import Ellipse, latent_frame_count, vae_spatial_stride
from ..sampling import ellipse_masks, masks_from_alpha
from .args import parse_size


def model_stride(model: str | os.PathLike) -> int:
    """Pixels per latent cell of a model folder's VAE: a wan-alpha folder (its RGBA VAE's base config) or a
    Wan2.1 folder (diffusers ``vae/``, or the original layout, whose VAE is Wan2.1's)."""
    model = Path(model)
    if not model.is_dir():
        raise WanAlphaError(f"--model {model} is not a folder: give a wan-alpha model folder or a Wan2.1 folder")
    config_file = model / "vae" / "config.json"
    config = read_model_json(config_file) if config_file.is_file() else {}
    return vae_spatial_stride(config.get("base_config", config))


WAN21_PATCH = 2
"""Wan2.1's DiT patch, each way (``patch_size`` ``(1, 2, 2)``): pixels per token = VAE stride x this."""
WAN21_ROPE_MAX_SEQ_LEN = 1024
"""Positions per axis of diffusers' Wan DiT rotary embedding (``WanTransformer3DModel``'s default)."""


def model_dit_config(model: str | os.PathLike) -> SimpleNamespace:
    """``patch_size`` and ``rope_max_seq_len`` of a model folder's DiT, read from its config without loading it (a
    wan-alpha or diffusers Wan2.1 folder, or the original layout's ``config.json``); Wan2.1's where none names them."""
    config = {}
    for config_file in (Path(model) / "transformer" / "config.json", Path(model) / "config.json"):
        if config_file.is_file() and "patch_size" in (config := read_model_json(config_file)):
            break
    return SimpleNamespace(patch_size=config.get("patch_size", (1, WAN21_PATCH, WAN21_PATCH)),
                           rope_max_seq_len=config.get("rope_max_seq_len", WAN21_ROPE_MAX_SEQ_LEN))


def model_patch(model: str | os.PathLike) -> int:
    """Latent cells per DiT token, each way, of a model folder (see :func:`model_dit_config`)."""
    return model_dit_config(model).patch_size[-1]


def _model_index(model: str | os.PathLike) -> dict:
    """A wan-alpha folder's settings (its ``model_index.json``); ``{}`` for a Wan2.1 folder."""
    index = Path(model) / "model_index.json"
    return read_model_json(index) if index.is_file() else {}


def model_mask_fit(model: str | os.PathLike) -> str:
    """The ellipse fit a wan-alpha folder's model was trained with (its ``mask_fit``); ``reference`` otherwise."""
    return _model_index(model).get("mask_fit", "reference")


def model_clip(model: str | os.PathLike, frames: int | None, size: str | None) -> tuple[int, str]:
    """``frames`` and ``size`` (``"WxH"``), the clip a wan-alpha folder's model generates by default for either not
    given (what ``generate`` makes without --frames and --size)."""
    index = _model_index(model)
    if frames is None:
        frames = index.get("default_num_frames")
    if size is None and "default_width" in index:
        size = f"{index['default_width']}x{index['default_height']}"
    if frames is None or size is None:
        raise WanAlphaError(f"--model {model} names no default clip (not a wan-alpha folder): give --frames and --size")
    return frames, size


def _save(mask: torch.Tensor, output, preview, overwrite: bool) -> torch.Tensor:
    save_mask(output, mask, overwrite=overwrite)
    if preview is not None:
        save_mask_preview(preview, mask, overwrite=overwrite)
    return mask


def _check_outputs(output, preview, overwrite: bool) -> None:
    """Every output name and folder, before anything is computed or written."""
    check_writable(output, overwrite)
    if preview is not None:
        check_preview_name(preview)
        check_writable(preview, overwrite)


def fit_mask_file(
    alpha_video: str | os.PathLike,
    output: str | os.PathLike,
    *,
    stride: int,
    preview: str | os.PathLike | None = None,
    fit: str = "reference",
    threshold: float | None = None,
    luma_as_alpha: bool = False,
    overwrite: bool = False,
) -> torch.Tensor:
    """``mask fit``: one ellipse per latent frame fitted to an alpha video (``fit`` and ``threshold`` as
    :func:`~wan_alpha.sampling.fit_alpha_ellipses` takes them, ``luma_as_alpha`` as
    :func:`~wan_alpha.io.masks.read_matte`), saved (and previewed)."""
    if threshold is not None and not 0 <= threshold <= 1:  # also refuses nan
        raise WanAlphaError(f"--threshold {threshold} must be between 0 and 1")
    _check_outputs(output, preview, overwrite)
    alpha = read_matte(alpha_video, luma_as_alpha)
    return _save(masks_from_alpha(alpha, stride, fit, threshold), output, preview, overwrite)


def draw_mask_file(
    ellipse: Ellipse | str,
    output: str | os.PathLike,
    *,
    frames: int,
    size: str | tuple[int, int],
    stride: int,
    patch: int = WAN21_PATCH,
    ellipse_end: Ellipse | str | None = None,
    preview: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> torch.Tensor:
    """``mask draw``: a static or moving ellipse for a ``frames``-frame video of ``size`` (``"WxH"``) on the latent
    grid of a VAE with ``stride`` pixels per latent cell; ellipses as :class:`~wan_alpha.rgba.Ellipse` or
    ``"CX,CY,W,H[,ANGLE]"``. ``size`` and ``frames`` must be ones ``generate`` takes: the size a multiple of
    ``stride`` x the DiT's ``patch``."""
    width, height = parse_size(size)
    check_video_size(height, width, frames, patch, stride)
    start = Ellipse.parse(ellipse) if isinstance(ellipse, str) else ellipse
    end = Ellipse.parse(ellipse_end) if isinstance(ellipse_end, str) else ellipse_end
    _check_outputs(output, preview, overwrite)
    mask = ellipse_masks(start, end, latent_frame_count(frames), height // stride, width // stride)
    return _save(mask, output, preview, overwrite)
