"""Animated images through Pillow: APNG, animated WebP, GIF.

FFmpeg cannot decode animated WebP, so all three go through Pillow for symmetry. These formats store a
delay per frame (milliseconds; GIF: 1/100 s) rather than a frame rate, and Pillow merges identical
consecutive frames into one longer frame. So that fps and frame count survive exactly:

* delays are rounded cumulatively (frame ``i`` starts at ``round(i * 1000 / fps)`` ms), so timing
  never drifts even when ``1000 / fps`` is not a whole number of ticks;
* the exact fps and frame count are stored in a small text tag (PNG tEXt, WebP XMP, GIF comment);
* on reading, frames are expanded back onto the constant-rate grid from their start times. Files
  without our tag (made elsewhere) get ``fps = 1000 / most common delay``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, PngImagePlugin

from ..errors import WanAlphaError
from .base import DEFAULT_FPS, Decoded, WriteOptions, check_frame_count, stack_frames
from .limits import DecodeBudget, check_clip, check_fps, open_image
from .video import RGBAVideo

GIF_ALPHA_THRESHOLD = 128
"""GIF transparency is 1 bit: alpha >= 128 is written opaque, alpha < 128 fully transparent."""

GIF_COLORS = 255
"""Per-frame adaptive palette (median cut over the frame's opaque pixels, no dithering, so a still
area does not shimmer); palette index 255 is reserved for transparency."""

_GIF_TRANSPARENT_INDEX = 255
_BROWSER_DEFAULT_DELAY_MS = 100  # what browsers show for a zero delay
_TAG = re.compile(r"wan-alpha fps=(\d+(?:\.\d+)?(?:e[+-]?\d+)?) frames=(\d+)")
_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:wanalpha="https://github.com/wan-alpha/ns/1.0/" '
    'wanalpha:timing="{tag}"/></rdf:RDF></x:xmpmeta>'
)


def _tag(video: RGBAVideo) -> str:
    # repr(float) round-trips exactly, so 30000/1001 comes back as the same float.
    return f"wan-alpha fps={video.fps!r} frames={video.num_frames}"


def frame_delays(fps: float, frames: int, tick_ms: int = 1) -> list[int]:
    """Per-frame delays in ms, multiples of ``tick_ms``, rounded cumulatively so timing never drifts."""
    ticks = [round(i * 1000 / fps / tick_ms) for i in range(frames + 1)]
    delays = [(end - start) * tick_ms for start, end in zip(ticks, ticks[1:])]
    if min(delays) < 2 * tick_ms:
        raise WanAlphaError(
            f"{fps:g} fps is too fast for this format (its delays are in {tick_ms} ms steps and players "
            f"slow down delays under {2 * tick_ms} ms): use .webm, .mov or a PNG sequence"
        )
    return delays


def _images(video: RGBAVideo) -> list[Image.Image]:
    return [Image.fromarray(np.ascontiguousarray(frame), "RGBA") for frame in video.frames]


def write_apng(path: Path, video: RGBAVideo, options: WriteOptions) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("wan-alpha", _tag(video))
    first, *rest = _images(video)
    first.save(
        path, format="PNG", save_all=True, append_images=rest, duration=frame_delays(video.fps, video.num_frames),
        loop=0, disposal=0, blend=0, pnginfo=info,
    )


def write_webp(path: Path, video: RGBAVideo, options: WriteOptions) -> None:
    """Lossless unless a lossy quality is given; the alpha plane is always lossless.

    libwebp's animation encoder does not keep the colour of fully transparent pixels (Pillow passes
    ``exact`` only to still images), so "lossless" means every visible pixel and all alpha.
    """
    lossy = {"lossless": False, "quality": options.quality} if options.quality is not None else {"lossless": True}
    first, *rest = _images(video)
    first.save(
        path, format="WEBP", save_all=True, append_images=rest, duration=frame_delays(video.fps, video.num_frames),
        loop=0, alpha_quality=100, xmp=_XMP.format(tag=_tag(video)).encode(), **lossy,
    )


def write_gif(path: Path, video: RGBAVideo, options: WriteOptions) -> None:
    first, *rest = [_gif_frame(frame) for frame in video.frames]
    first.save(
        path, format="GIF", save_all=True, append_images=rest,
        duration=frame_delays(video.fps, video.num_frames, tick_ms=10), loop=0, disposal=2,
        transparency=_GIF_TRANSPARENT_INDEX, optimize=False, comment=_tag(video).encode(),
    )


def _gif_frame(frame: np.ndarray) -> Image.Image:
    """Threshold alpha, quantise the visible colours to a palette, mark the rest transparent."""
    opaque = frame[..., 3] >= GIF_ALPHA_THRESHOLD
    rgb = np.ascontiguousarray(frame[..., :3])
    visible = rgb[opaque][None] if opaque.any() else np.zeros((1, 1, 3), np.uint8)
    palette = Image.fromarray(visible).quantize(GIF_COLORS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    indices = np.asarray(Image.fromarray(rgb).quantize(palette=palette, dither=Image.Dither.NONE)).copy()
    indices[~opaque] = _GIF_TRANSPARENT_INDEX
    image = Image.fromarray(indices, "P")
    colors = palette.getpalette()[: 3 * GIF_COLORS]
    image.putpalette(colors + [0] * (768 - len(colors)))
    return image


def read_animated(path: Path) -> Decoded:
    """Read APNG / WebP / GIF (or a still PNG) onto a constant frame rate."""
    with open_image(path) as image:
        codec = image.format.lower()
        if codec == "png" and getattr(image, "is_animated", False):
            codec = "apng"
            check_clip(path, image.n_frames, *image.size)  # APNG declares its frame count up front
        tag = _TAG.search(_tag_text(image))
        has_alpha = image.has_transparency_data
        frames, delays, budget = [], [], DecodeBudget(path)
        for frame in ImageSequence.Iterator(image):
            budget.add(*image.size)
            frames.append(np.asarray(frame.convert("RGBA")))
            delays.append(frame.info.get("duration") or 0)
            has_alpha = has_alpha or frame.has_transparency_data
    stacked = stack_frames(frames, path)
    fps = check_fps(path, float(tag.group(1)) if tag else _fps_from_delays(delays))
    expanded = _to_constant_rate(stacked, delays, fps, path) if any(delays) else stacked
    if tag and len(frames) == 1:  # a clip of identical frames: Pillow writes one still image
        check_clip(path, int(tag.group(2)), stacked.shape[2], stacked.shape[1])
        expanded = np.repeat(stacked, int(tag.group(2)), axis=0)
    check_frame_count(path, len(expanded), int(tag.group(2)) if tag else None)
    stored = "pal8" if codec == "gif" else "rgba" if has_alpha else "rgb24"  # GIF: a palette, one index transparent
    return Decoded(expanded, fps, has_alpha, codec, stored)


def _tag_text(image: Image.Image) -> str:
    """Our timing tag wherever this format keeps text: PNG tEXt, GIF comment, WebP XMP."""
    parts = [image.info.get("wan-alpha"), image.info.get("comment"), image.info.get("xmp")]
    return " ".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else p for p in parts if p)


def _fps_from_delays(delays: list[float]) -> float:
    positive = [round(d) for d in delays if d > 0]
    return 1000 / Counter(positive).most_common(1)[0][0] if positive else DEFAULT_FPS


def _to_constant_rate(frames: np.ndarray, delays: list[float], fps: float, path: Path) -> np.ndarray:
    """Repeat each stored frame for as many ``1 / fps`` slots as its delay spans (undoes merged holds)."""
    delays = [d if d > 0 else _BROWSER_DEFAULT_DELAY_MS for d in delays]
    starts = np.concatenate([[0.0], np.cumsum(delays)])
    slots = np.rint(starts * fps / 1000).astype(np.int64)
    check_clip(path, int(slots[-1]), frames.shape[2], frames.shape[1])  # a 65535 s delay must not expand
    return np.repeat(frames, np.diff(slots), axis=0)
