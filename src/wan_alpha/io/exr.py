"""OpenEXR sequences: a folder of half-float RGBA ``frame_00000.exr`` ... plus ``meta.json``.

EXR's convention (Nuke, Unreal's ImgMedia, Blender, Resolve) is scene-linear colour premultiplied by
alpha, so the 8-bit sRGB frames are decoded to linear light and multiplied by alpha before they are
stored as float16; reading undoes both. The OpenEXR project's own Python bindings write and read the
files (FFmpeg's ``exr`` encoder truncates to half instead of rounding and its decoder's conversion to
float32 is off by up to 5e-4: colour errors of 16/255 under faint alpha).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import OpenEXR

from ..errors import WanAlphaError
from .base import Decoded, WriteOptions, check_frame_count, stack_frames
from .limits import DecodeBudget
from .sequence import META_NAME, parse_meta
from .video import RGBAVideo

FRAME_NAME = "frame_{index:05d}.exr"
# ZIP over 16 scanlines: Nuke's and Blender's default, lossless and read by every EXR reader
_HEADER = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """The sRGB transfer function's inverse (IEC 61966-2-1), for values in [0, 1]."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)


def linear_premultiplied(frames: np.ndarray) -> np.ndarray:
    """uint8 straight sRGB ``(..., 4)`` -> float32 linear colour premultiplied by alpha."""
    x = frames.astype(np.float32) / 255.0
    alpha = x[..., 3:]
    return np.concatenate([srgb_to_linear(x[..., :3]) * alpha, alpha], axis=-1).astype(np.float32)


def straight_srgb(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`linear_premultiplied` (fully transparent pixels get colour 0)."""
    alpha = np.clip(x[..., 3:], 0.0, 1.0)
    linear = np.divide(x[..., :3], alpha, out=np.zeros_like(x[..., :3]), where=alpha > 0)
    rgba = np.concatenate([linear_to_srgb(linear), alpha], axis=-1)
    return np.rint(rgba * 255.0).astype(np.uint8)


def write_exr(path: Path, video: RGBAVideo, options: WriteOptions) -> None:
    """``path`` is an (empty, temporary) folder; colour is always premultiplied, as EXR readers expect."""
    for index, frame in enumerate(video.frames):
        pixels = linear_premultiplied(frame).astype(np.float16)
        OpenEXR.File(dict(_HEADER), {"RGBA": pixels}).write(str(path / FRAME_NAME.format(index=index)))
    meta = {"fps": video.fps, "frames": video.num_frames, "alpha": "premultiplied", "colour": "linear, sRGB primaries"}
    (path / META_NAME).write_text(json.dumps(meta, indent=2))


def is_exr_folder(path: Path) -> bool:
    return path.is_dir() and any(p.suffix.lower() == ".exr" for p in path.iterdir())


def read_exr(path: Path) -> Decoded:
    """A folder of EXR frames (ours or a renderer's: RGB or RGBA, half or float) in name order."""
    if not path.is_dir():
        raise WanAlphaError(f"{path} is not a folder of EXR frames")
    names = sorted(p for p in path.iterdir() if p.suffix.lower() == ".exr" and p.is_file())
    budget = DecodeBudget(path)
    for name in names:  # every frame's size from its header before any is decoded
        with OpenEXR.File(str(name), header_only=True) as image:
            low, high = image.header()["dataWindow"]
        budget.add(int(high[0] - low[0] + 1), int(high[1] - low[1] + 1))
    frames, has_alpha, stored = [], False, "unknown"
    for name in names:
        with OpenEXR.File(str(name), separate_channels=True) as image:
            channels = image.channels()
            if not {"R", "G", "B"} <= channels.keys():
                raise WanAlphaError(f"{name} has channels {', '.join(sorted(channels))}, not R, G, B (and A)")
            red = channels["R"].pixels
            alpha = channels["A"].pixels if "A" in channels else np.ones_like(red)
            has_alpha = has_alpha or "A" in channels
            stored = f"{'rgba' if 'A' in channels else 'rgb'} {red.dtype}"  # e.g. "rgba float16"
            pixels = np.stack([red, channels["G"].pixels, channels["B"].pixels, alpha], axis=-1)
        frames.append(straight_srgb(pixels.astype(np.float32)))
    stacked = stack_frames(frames, path)
    meta = path / META_NAME
    fps, expected, _ = parse_meta(meta.read_bytes() if meta.is_file() else None, path)
    check_frame_count(path, len(frames), expected)
    return Decoded(stacked, fps, has_alpha, "exr", stored)
