"""Where the sampler's transparency map ``G`` comes from: user ellipses, alpha videos, mask files.

Masks are float32 ``(1, 1, F, h, w)`` in [0, 1] on the latent grid (``F`` latent frames, ``h x w`` =
size / the VAE's stride, 8 for Wan2.1). Files: ``.npy`` or ``.pt`` (``(F, h, w)`` arrays; ``.pt`` read with
``torch.load(weights_only=True)``) or any video format of :mod:`wan_alpha.io` as a grayscale clip at
latent resolution, one frame per latent frame (white = object).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import WanAlphaError
from ..io import DEFAULT_FPS, RGBAVideo, atomic_output, check_writable, read_video, write_video
from ..rgba import (
    DEFAULT_ELLIPSE,
    Ellipse,
    ellipse_masks,
    fit_alpha_ellipses,
    latent_frame_count,
    masks_from_alpha,
    render_ellipses,
)

ARRAY_SUFFIXES = (".npy", ".pt")
LATENT_STRIDE = 8
"""Wan2.1's VAE stride: the latent grid's default where no model says otherwise."""


def _frames_for(latent_frames: int) -> int:
    return 4 * (latent_frames - 1) + 1


def check_mask(
    mask: torch.Tensor, latent_frames: int, height: int, width: int, source: str = "mask", stride: int = LATENT_STRIDE
) -> torch.Tensor:
    """``mask`` as float32 ``(B, 1, F, h, w)`` if it fits a latent grid of ``F x h x w``; else a clear error."""
    mask = torch.as_tensor(mask).float()
    if mask.ndim == 3:
        mask = mask[None, None]
    if mask.ndim != 5 or mask.shape[1] != 1:
        raise WanAlphaError(f"{source} must be shaped (F, h, w) or (B, 1, F, h, w), got {tuple(mask.shape)}")
    f, h, w = mask.shape[2:]
    if f != latent_frames:
        raise WanAlphaError(
            f"{source} has {f} latent frames ({_frames_for(f)} video frames) but the video has "
            f"{latent_frames} ({_frames_for(latent_frames)} frames): use a mask made for "
            f"{_frames_for(latent_frames)} frames or generate {_frames_for(f)} frames"
        )
    if (h, w) != (height, width):
        raise WanAlphaError(
            f"{source} is {w}x{h} latent cells (a {w * stride}x{h * stride} video at this model's VAE stride {stride}) "
            f"but the video needs {width}x{height} ({width * stride}x{height * stride}): make the mask at that size"
        )
    if not torch.isfinite(mask).all() or mask.min() < 0 or mask.max() > 1:
        raise WanAlphaError(f"{source} values must be finite and in [0, 1]")
    return mask


def resolve_mask(
    latent_frames: int,
    height: int,
    width: int,
    *,
    mask: torch.Tensor | None = None,
    ellipse: Ellipse | None = None,
    ellipse_end: Ellipse | None = None,
    stride: int = LATENT_STRIDE,
) -> torch.Tensor:
    """The map ``G`` for one generation: an explicit ``mask``, a (moving) ``ellipse``, or by default
    :data:`~wan_alpha.rgba.DEFAULT_ELLIPSE` (a centred ellipse, half the frame each way). ``stride``
    (the VAE's) only names the video size in errors."""
    if mask is not None and (ellipse is not None or ellipse_end is not None):
        raise WanAlphaError("give a mask or an ellipse, not both")
    if ellipse_end is not None and ellipse is None:
        raise WanAlphaError("an end ellipse needs a start ellipse (--ellipse) to move from")
    if mask is not None:
        return check_mask(mask, latent_frames, height, width, stride=stride)
    return ellipse_masks(ellipse or DEFAULT_ELLIPSE, ellipse_end, latent_frames, height, width)


def _read_alpha(path: str | os.PathLike) -> RGBAVideo:
    """An RGBA video, or a grayscale matte (no alpha channel: its luma is the alpha)."""
    video = read_video(path, allow_opaque=True)
    if np.all(video.alpha == 255):
        video = read_video(path, alpha_path=path)
    return video


def masks_from_alpha_video(
    path: str | os.PathLike, height: int | None = None, width: int | None = None, threshold: float = 0.3,
    stride: int = LATENT_STRIDE,
) -> torch.Tensor:
    """Fit one ellipse per latent frame of an alpha video (see :func:`~wan_alpha.rgba.fit_alpha_ellipses`)
    and render them on a latent grid of ``height x width`` cells (default: the video's own at ``stride``)."""
    _, alpha = _read_alpha(path).to_tensors()
    if height is None or width is None:
        return masks_from_alpha(alpha, threshold, stride)
    (ellipses,) = fit_alpha_ellipses(alpha, threshold, stride)
    return render_ellipses(ellipses, height, width)


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
    return check_mask(data, *data.shape[-3:], source=f"mask {path}")


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


def _check_outputs(output: str | os.PathLike, preview: str | os.PathLike | None, overwrite: bool) -> None:
    check_writable(output, overwrite)
    if preview is not None:
        check_writable(preview, overwrite)


def fit_mask_file(
    alpha_video: str | os.PathLike,
    output: str | os.PathLike,
    *,
    preview: str | os.PathLike | None = None,
    threshold: float = 0.3,
    overwrite: bool = False,
) -> torch.Tensor:
    """``wan-alpha mask fit``: ellipse masks fitted to an alpha video, saved (and previewed)."""
    _check_outputs(output, preview, overwrite)
    mask = masks_from_alpha_video(alpha_video, threshold=threshold)
    save_mask(output, mask, overwrite=overwrite)
    if preview is not None:
        save_mask_preview(preview, mask, overwrite=overwrite)
    return mask


def parse_size(size: str | tuple[int, int]) -> tuple[int, int]:
    """``"WxH"`` (or a ``(width, height)`` pair) -> ``(width, height)`` as positive ints."""
    if isinstance(size, str):
        parts = size.lower().replace(" ", "").split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise WanAlphaError(f"size {size!r} is not WIDTHxHEIGHT (e.g. 832x480)")
        size = (int(parts[0]), int(parts[1]))
    width, height = size
    if width <= 0 or height <= 0:
        raise WanAlphaError(f"size {width}x{height} must be positive")
    return width, height


def draw_mask_file(
    ellipse: Ellipse | str,
    output: str | os.PathLike,
    *,
    frames: int,
    size: str | tuple[int, int],
    ellipse_end: Ellipse | str | None = None,
    preview: str | os.PathLike | None = None,
    overwrite: bool = False,
    stride: int = LATENT_STRIDE,
) -> torch.Tensor:
    """``wan-alpha mask draw``: a static or moving user ellipse for a ``frames``-frame video of ``size``
    (``"WxH"``) on the latent grid of a VAE of ``stride``; ellipses as :class:`~wan_alpha.rgba.Ellipse`
    or ``"CX,CY,W,H[,ANGLE]"``."""
    width, height = parse_size(size)
    if height % stride or width % stride:
        raise WanAlphaError(f"size {width}x{height} is not a multiple of {stride} (the VAE stride)")
    start = Ellipse.parse(ellipse) if isinstance(ellipse, str) else ellipse
    end = Ellipse.parse(ellipse_end) if isinstance(ellipse_end, str) else ellipse_end
    _check_outputs(output, preview, overwrite)
    mask = ellipse_masks(start, end, latent_frame_count(frames), height // stride, width // stride)
    save_mask(output, mask, overwrite=overwrite)
    if preview is not None:
        save_mask_preview(preview, mask, overwrite=overwrite)
    return mask
