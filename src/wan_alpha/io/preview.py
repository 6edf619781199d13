"""Previews of RGBA clips: H.264 composited over a background (or RGB | alpha | composite side by side), and
an HTML page that shows the clip itself, with its transparency, over a background in a browser."""

from __future__ import annotations

import base64
import io
import json
import os
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from ..errors import WanAlphaError
from ..rgba import composite, parse_color
from .animated import frame_delays
from .atomic import atomic_output, check_writable
from .containers import H264_PREVIEW, pad_to_even, write_frames
from .files import decode_file, read_video, unpremultiply_frames
from .stacked import stacked_layout
from .video import RGBAVideo

LAYOUTS = ("composite", "side-by-side")


def _background(background: str) -> np.ndarray | None:
    """``"checker"`` -> None (composite's default), ``"#RRGGBB"`` -> colour, else a video file's RGB."""
    if background == "checker":
        return None
    if background.startswith("#"):
        return parse_color(background)
    if not Path(background).exists():
        raise WanAlphaError(
            f"background {background!r} is neither 'checker', a #RRGGBB colour nor an existing video file"
        )
    return read_video(background, allow_opaque=True).frames[..., :3].astype(np.float32) / 255.0


def preview_frames(video: RGBAVideo, background: str = "checker", layout: str = "composite") -> np.ndarray:
    """uint8 RGB ``(T, H, W', 3)``: the composite, or RGB | alpha | composite (``W' = 3W``)."""
    if layout not in LAYOUTS:
        raise WanAlphaError(f"unknown preview layout {layout!r}: choose {' or '.join(LAYOUTS)}")
    mixed = composite(video.frames, _background(background))
    if layout == "composite":
        return mixed
    alpha = np.repeat(video.alpha[..., None], 3, axis=-1)
    return np.concatenate([video.rgb, alpha, mixed], axis=2)


def write_preview(
    path: str | os.PathLike,
    video: RGBAVideo | str | os.PathLike,
    *,
    background: str = "checker",
    layout: Literal["composite", "side-by-side"] = "composite",
    overwrite: bool = False,
) -> Path:
    """Write an H.264 ``.mp4`` (yuv420p, odd sizes padded by one edge row/column) that any player shows.

    ``video`` is a clip or a path to read; ``background`` is ``"checker"``, ``"#RRGGBB"`` or a video
    file with the clip's size and frame count.
    """
    path = Path(path)
    if path.suffix.lower() != ".mp4":
        raise WanAlphaError(f"previews are H.264 .mp4 files: name the output {path.with_suffix('.mp4').name}")
    check_writable(path, overwrite)  # fail before decoding, not after
    if not isinstance(video, RGBAVideo):
        video = read_video(video)
    frames = pad_to_even(preview_frames(video, background, layout))
    with atomic_output(path, overwrite=overwrite) as tmp:
        write_frames(tmp, frames, video.fps, H264_PREVIEW)
    return path


PLAYER = resources.files(__package__) / "web" / "player.html"
"""The clip player page (package data): a stacked-alpha MP4 on a canvas, other web formats as they are."""

# formats a browser shows with their alpha as they are: format -> (player kind, MIME type)
_WEB_FORMATS = {
    "mp4-stacked": ("stacked", "video/mp4"),
    "webm": ("video", "video/webm"),
    "webm-vp8": ("video", "video/webm"),
    "apng": ("image", "image/apng"),
    "webp": ("image", "image/webp"),
    "gif": ("image", "image/gif"),
}


def write_html_preview(
    path: str | os.PathLike, source: str | os.PathLike, *, background: str = "checker", overwrite: bool = False
) -> Path:
    """Write a self-contained ``.html`` page (the clip inside as a data URL) showing ``source`` over
    ``background`` (``"checker"`` or ``"#RRGGBB"``). Formats a browser cannot show (MOV, EXR, PNG
    folders...) are embedded as a lossless animated WebP of the clip."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise WanAlphaError(f"an HTML preview is a web page: name the output {path.with_suffix('.html').name}")
    if background != "checker":
        parse_color(background)  # a video background is not offered in the page
    check_writable(path, overwrite)
    decoded, fmt = decode_file(source)
    if fmt.name in _WEB_FORMATS:
        kind, mime = _WEB_FORMATS[fmt.name]
        data = Path(source).read_bytes()
    else:
        if not decoded.has_alpha:
            raise WanAlphaError(f"{source} has no alpha channel: there is nothing to show over a background")
        kind, mime = "image", "image/webp"
        buffer = io.BytesIO()
        straight = unpremultiply_frames(decoded.frames) if decoded.premultiplied else decoded.frames  # as browsers expect
        frames = [Image.fromarray(frame, "RGBA") for frame in straight]
        frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:], lossless=True,
                       duration=frame_delays(decoded.fps, len(frames)), loop=0)
        data = buffer.getvalue()
    clip = {"src": f"data:{mime};base64,{base64.b64encode(data).decode()}", "kind": kind, "background": background}
    if kind == "stacked":  # the layout and true size from the file's tag
        clip |= dict(zip(("layout", "width", "height"), stacked_layout(source)))
    page = PLAYER.read_text().replace(
        '<script type="application/json" id="wan-alpha-clip">{}</script>',
        f'<script type="application/json" id="wan-alpha-clip">{json.dumps(clip)}</script>',
    )
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(page)
    return path
