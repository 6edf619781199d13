"""``read_video`` / ``write_video``: RGBA clips to and from files, in any registered format."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import av
import numpy as np

from ..errors import WanAlphaError
from ..rgba import unpremultiply
from .atomic import atomic_output, check_writable
from .base import Decoded
from .formats import Format, resolve_format
from .video import RGBAVideo

# What decoders raise on a damaged or misnamed file: Pillow uses OSError/SyntaxError/EOFError, and its
# GIF reader an IndexError when the file ends mid-frame.
_DECODE_ERRORS = (av.FFmpegError, OSError, SyntaxError, EOFError, IndexError, zipfile.BadZipFile)


def decode_file(path: str | os.PathLike, format: str | None = None) -> tuple[Decoded, Format]:
    """Decode ``path`` with its format's reader; damaged files become a one-line :class:`WanAlphaError`."""
    path = Path(path)
    if not path.exists():
        raise WanAlphaError(f"{path} does not exist")
    fmt = resolve_format(path, format)
    try:
        return fmt.read(path), fmt
    except _DECODE_ERRORS as err:
        detail = " ".join(str(err).split()) or type(err).__name__
        raise WanAlphaError(
            f"cannot read {path}: {detail} (the file is corrupt, truncated or not a {fmt.name} file)"
        ) from err


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
        frames = _with_matte(decoded.frames, _luma(decode_file(alpha_path)[0].frames), path, alpha_path)
    elif decoded.has_alpha or allow_opaque:
        frames = decoded.frames
    else:
        raise WanAlphaError(
            f"{path} has no alpha channel: pass its matte with --alpha MATTE_VIDEO, or --allow-opaque to read it "
            "fully opaque"
        )
    if premultiplied:
        frames = _unpremultiply(frames)
    return RGBAVideo(frames, decoded.fps)


def _luma(frames: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB frames as uint8 (a grey matte gives its grey value back exactly)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.rint(frames[..., :3].astype(np.float32) @ weights), 0, 255).astype(np.uint8)


def _with_matte(rgb: np.ndarray, alpha: np.ndarray, path, alpha_path) -> np.ndarray:
    if rgb.shape[:3] != alpha.shape:
        (t, h, w), (ta, ha, wa) = rgb.shape[:3], alpha.shape
        raise WanAlphaError(
            f"{path} ({t} frames, {w}x{h}) and its matte {alpha_path} ({ta} frames, {wa}x{ha}) do not match: "
            "they must have the same frame count and size"
        )
    return np.concatenate([rgb[..., :3], alpha[..., None]], axis=-1)


def _unpremultiply(frames: np.ndarray) -> np.ndarray:
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
) -> Path:
    """Write ``video`` atomically (nothing appears at ``path`` unless the whole file was written)."""
    path = Path(path)
    fmt = output_format(path, format, quality)
    with atomic_output(path, overwrite=overwrite, directory=fmt.directory) as tmp:
        fmt.write(tmp, video, quality)
    return path


def output_format(path: Path, format: str | None, quality: int | None) -> Format:
    """The format to write ``path`` in, refusing read-only formats and out-of-range quality up front."""
    fmt = resolve_format(path, format)
    if fmt.write is None:
        raise WanAlphaError(
            f"{fmt.name} ({fmt.description}) cannot store alpha: write .webm, .mov, .png folder, .zip, .apng, "
            ".webp or .gif, or make an H.264 preview with `wan-alpha preview`"
        )
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
) -> Path:
    """Read ``source`` (options as :func:`read_video`) and write ``target`` (as :func:`write_video`)."""
    check_writable(target, overwrite)  # fail before decoding a long clip, not after
    output_format(Path(target), format, quality)
    video = read_video(source, alpha_path=alpha_path, premultiplied=premultiplied, allow_opaque=allow_opaque)
    return write_video(target, video, format=format, overwrite=overwrite, quality=quality)
