"""``read_video`` / ``write_video``: RGBA clips to and from files, in any registered format."""

from __future__ import annotations

import os
import zipfile
from dataclasses import replace
from pathlib import Path

import av
import numpy as np

from ..errors import WanAlphaError
from ..rgba import unpremultiply
from .atomic import atomic_output, check_writable
from . import spritesheet, stacked
from .base import Decoded, WriteOptions, luma
from .formats import FORMATS, Format, check_suffix, resolve_format
from .limits import check_regular_input
from .video import RGBAVideo

# What decoders raise on a damaged or misnamed file: Pillow uses OSError/SyntaxError/EOFError, and its
# GIF reader an IndexError when the file ends mid-frame.
_DECODE_ERRORS = (av.FFmpegError, OSError, SyntaxError, EOFError, IndexError, zipfile.BadZipFile)


def decode_file(path: str | os.PathLike, format: str | None = None) -> tuple[Decoded, Format]:
    """Decode ``path`` with its format's reader -> (decoded, the format its codec shows: a .mov says which MOV it
    is); damaged files become a one-line :class:`WanAlphaError`."""
    path = Path(path)
    if not path.exists():
        raise WanAlphaError(f"{path} does not exist")
    check_regular_input(path)
    fmt = resolve_format(path, format)
    try:
        decoded = fmt.read(path)
    except _DECODE_ERRORS as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise WanAlphaError(
            f"cannot read {path}: {detail} (the file is corrupt, truncated or not a {fmt.name} file)"
        ) from err
    return decoded, FORMATS[decoded.format] if decoded.format else fmt


def read_video(
    path: str | os.PathLike,
    *,
    alpha_path: str | os.PathLike | None = None,
    premultiplied: bool = False,
    allow_opaque: bool = False,
    format: str | None = None,
) -> RGBAVideo:
    """Read an RGBA clip (straight alpha).

    ``alpha_path``: a second video whose luma is the alpha (matting datasets, TransPixeler); the
    colour then comes from ``path``. ``premultiplied``: the colour was multiplied by alpha; undo it.
    A file without an alpha channel is refused unless ``allow_opaque`` (alpha 255).
    """
    decoded, _ = decode_file(path, format)
    if alpha_path is not None:
        frames = _with_matte(decoded.frames, luma(decode_file(alpha_path)[0].frames), path, alpha_path)
    elif decoded.has_alpha or allow_opaque:
        frames = decoded.frames
    else:
        raise WanAlphaError(
            f"{path} has no alpha channel: pass its matte with --alpha MATTE_VIDEO, or --allow-opaque to read it "
            "fully opaque"
        )
    if premultiplied or decoded.premultiplied:  # a tag we wrote marks colour stored premultiplied
        frames = unpremultiply_frames(frames)
    return RGBAVideo(frames, decoded.fps)


def read_image(
    path: str | os.PathLike, *, alpha_path: str | os.PathLike | None = None, opaque: bool = False, frame: int = 0
) -> RGBAVideo:
    """One RGBA frame (a one-frame clip) of an image or of any clip format (frame ``frame`` of an animated WebP,
    GIF, APNG or video), straight alpha.

    ``alpha_path``: a grayscale (or RGBA) image whose luma is the alpha of an RGB image. An image without an alpha
    channel is refused unless ``opaque`` (alpha 255): animating an opaque rectangle is rarely what was meant.
    """
    decoded, _ = decode_file(path)
    if not -decoded.frames.shape[0] <= frame < decoded.frames.shape[0]:
        raise WanAlphaError(f"{path} has {decoded.frames.shape[0]} frames, no frame {frame}")
    rgba = decoded.frames[frame][None]
    if decoded.premultiplied:  # a tag we wrote marks colour stored premultiplied, as in read_video
        rgba = unpremultiply_frames(rgba)
    if alpha_path is not None:
        rgba = _with_matte(rgba, luma(decode_file(alpha_path)[0].frames[:1]), path, alpha_path)
    elif not (decoded.has_alpha or opaque):
        raise WanAlphaError(
            f"{path} has no alpha channel: give an RGBA image, its matte with --image-alpha MATTE, or --opaque-image "
            "to animate it fully opaque"
        )
    return RGBAVideo(rgba, decoded.fps)


def _with_matte(rgb: np.ndarray, alpha: np.ndarray, path, alpha_path) -> np.ndarray:
    if rgb.shape[:3] != alpha.shape:
        (t, h, w), (ta, ha, wa) = rgb.shape[:3], alpha.shape
        raise WanAlphaError(
            f"{path} ({t} frames, {w}x{h}) and its matte {alpha_path} ({ta} frames, {wa}x{ha}) do not match: "
            "they must have the same frame count and size"
        )
    return np.concatenate([rgb[..., :3], alpha[..., None]], axis=-1)


def unpremultiply_frames(frames: np.ndarray) -> np.ndarray:
    """uint8 RGBA frames with premultiplied colour -> straight colour (alpha unchanged)."""
    x = frames.astype(np.float32) / 255.0
    rgb = unpremultiply(x[..., :3], x[..., 3:])
    return np.concatenate([np.rint(rgb * 255.0).astype(np.uint8), frames[..., 3:]], axis=-1)


def write_video(
    path: str | os.PathLike,
    video: RGBAVideo,
    *,
    format: str | None = None,
    overwrite: bool = False,
    quality: int | None = None,
    options: WriteOptions | None = None,
) -> Path:
    """Write ``video`` atomically (nothing appears at ``path`` unless the whole file was written).

    ``options``: premultiplied colour, stacked layout, atlas columns...; ``quality`` overrides its quality.
    """
    path = Path(path)
    options = _with_quality(options, quality)
    fmt = output_format(path, format, options)
    if options.premultiplied and fmt.alpha_convention == "either":
        video = RGBAVideo(premultiply_frames(video.frames), video.fps)
    with atomic_output(path, overwrite=overwrite, directory=fmt.directory) as tmp:
        fmt.write(tmp, video, options)
    return path


def _with_quality(options: WriteOptions | None, quality: int | None) -> WriteOptions:
    options = options or WriteOptions()
    return options if quality is None else replace(options, quality=quality)


def premultiply_frames(frames: np.ndarray) -> np.ndarray:
    """uint8 straight ``(..., 4)`` -> colour multiplied by alpha, rounded (alpha unchanged)."""
    x = frames.astype(np.float32)
    rgb = np.rint(x[..., :3] * x[..., 3:] / 255.0).astype(np.uint8)
    return np.concatenate([rgb, frames[..., 3:]], axis=-1)


def output_format(path: Path, format: str | None, options: WriteOptions | None = None) -> Format:
    """The format to write ``path`` in, refusing read-only formats, misnamed outputs and options the format
    cannot honour up front."""
    options = options or WriteOptions()
    fmt = resolve_format(path, format)
    if fmt.write is None:
        raise WanAlphaError(
            f"{path.suffix} is read-only here ({fmt.description}), it cannot store alpha: write "
            ".webm, .mov, .zip, .apng, .webp, .gif or a PNG folder"
            + (", or --format mp4-stacked for an MP4 with alpha" if path.suffix.lower() == ".mp4" else "")
            + ", or make an opaque preview with `wan-alpha preview`"
        )
    if format is not None:
        check_suffix(path, fmt)
    if options.premultiplied and fmt.alpha_convention == "straight":
        raise WanAlphaError(f"{fmt.name} is read as straight alpha (browsers, game engines): drop the premultiplied "
                            "option, or write .mov, .zip, a PNG folder, an EXR folder or a sprite sheet")
    if fmt.name == "mp4-stacked":
        stacked.check_layout(options.stacked_layout)
    if fmt.name == "spritesheet":
        spritesheet.grid(1, 1, 1, options.columns, options.max_size)  # refuses --columns 0 before any work
    quality = options.quality
    if quality is None:
        return fmt
    if fmt.quality is None:
        raise WanAlphaError(f"{fmt.name} has no quality setting: drop --quality")
    if not fmt.quality.low <= quality <= fmt.quality.high:
        raise WanAlphaError(
            f"quality {quality} is out of range for {fmt.name} ({fmt.quality.meaning}): "
            f"use {fmt.quality.low}..{fmt.quality.high}"
        )
    return fmt


def convert(
    source: str | os.PathLike,
    target: str | os.PathLike,
    *,
    format: str | None = None,
    alpha_path: str | os.PathLike | None = None,
    premultiplied: bool = False,
    allow_opaque: bool = False,
    quality: int | None = None,
    overwrite: bool = False,
    options: WriteOptions | None = None,
) -> Path:
    """Read ``source`` (options as :func:`read_video`) and write ``target`` (as :func:`write_video`)."""
    check_writable(target, overwrite)  # fail before decoding a long clip, not after
    options = _with_quality(options, quality)
    output_format(Path(target), format, options)
    video = read_video(source, alpha_path=alpha_path, premultiplied=premultiplied, allow_opaque=allow_opaque)
    return write_video(target, video, format=format, overwrite=overwrite, options=options)
