"""Sprite sheets: every frame on one PNG atlas plus a JSON of frame rectangles and timing.

The JSON is TexturePacker's "JSON (Hash)" layout, which Phaser, PixiJS, Godot's and Unity's atlas
importers read: ``frames`` maps a name to its ``frame`` rectangle (and a ``duration`` in ms, as
Aseprite writes), ``meta`` names the ``image`` and its ``size``; ``meta.fps`` keeps the exact rate.
The sheet is a folder holding ``sheet.png`` and ``sheet.json``, written and replaced as one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import WanAlphaError
from .animated import frame_delays
from .base import DEFAULT_FPS, Decoded, WriteOptions, stack_frames
from .limits import check_clip, open_image
from .sequence import png_bytes
from .video import RGBAVideo

APP = "wan-alpha"
SHEET_NAME = "sheet"


def grid(frames: int, width: int, height: int, columns: int | None, max_size: int | None) -> tuple[int, int]:
    """(columns, rows) of the atlas: near-square by default, within ``max_size`` pixels each way."""
    if columns is not None and columns < 1:
        raise WanAlphaError(f"--columns {columns}: use 1 or more")
    if columns is None:
        columns = math.ceil(math.sqrt(frames * height / width))  # a square atlas, whatever the frame's shape
        if max_size is not None:
            columns = max(1, min(columns, max_size // width))
    columns = min(columns, frames)
    rows = math.ceil(frames / columns)
    if max_size is not None and (columns * width > max_size or rows * height > max_size):
        raise WanAlphaError(
            f"{frames} frames of {width}x{height} in {columns} columns make a {columns * width}x{rows * height} atlas, "
            f"over --max-size {max_size}: change --columns, raise --max-size, or write fewer or smaller frames"
        )
    return columns, rows


def write_spritesheet(path: Path, video: RGBAVideo, options: WriteOptions) -> None:
    """``path`` is an (empty, temporary) folder."""
    columns, rows = grid(video.num_frames, video.width, video.height, options.columns, options.max_size)
    w, h = video.width, video.height
    atlas = np.zeros((rows * h, columns * w, 4), np.uint8)
    frames, delays = {}, frame_delays(video.fps, video.num_frames)
    for index, (frame, delay) in enumerate(zip(video.frames, delays)):
        x, y = (index % columns) * w, (index // columns) * h
        atlas[y:y + h, x:x + w] = frame
        frames[f"frame_{index:05d}"] = {
            "frame": {"x": x, "y": y, "w": w, "h": h}, "rotated": False, "trimmed": False,
            "spriteSourceSize": {"x": 0, "y": 0, "w": w, "h": h}, "sourceSize": {"w": w, "h": h}, "duration": delay,
        }
    meta = {
        "app": APP, "image": f"{SHEET_NAME}.png", "format": "RGBA8888", "size": {"w": columns * w, "h": rows * h},
        "scale": "1", "fps": video.fps, "frames": video.num_frames, "premultipliedAlpha": options.premultiplied,
    }
    (path / f"{SHEET_NAME}.png").write_bytes(png_bytes(atlas))
    (path / f"{SHEET_NAME}.json").write_text(json.dumps({"frames": frames, "meta": meta}, indent=1))


def _sheet_json(path: Path) -> Path | None:
    """The atlas JSON in a folder: a ``.json`` (not ``meta.json``) with ``frames`` and ``meta.image``."""
    for candidate in sorted(path.glob("*.json")):
        try:
            sheet = json.loads(candidate.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if isinstance(sheet, dict) and "frames" in sheet and "image" in sheet.get("meta", {}):
            return candidate
    return None


def is_spritesheet_folder(path: Path) -> bool:
    return path.is_dir() and _sheet_json(path) is not None


def read_spritesheet(path: Path) -> Decoded:
    """Cut the frames out of the atlas in the JSON's order (hash or array ``frames``, untrimmed)."""
    sheet_path = _sheet_json(path) if path.is_dir() else None
    if sheet_path is None:
        raise WanAlphaError(f"{path} is not a sprite-sheet folder (an atlas .png and its .json)")
    sheet = json.loads(sheet_path.read_text())
    entries = sheet["frames"]
    entries = list(entries.values()) if isinstance(entries, dict) else entries
    try:
        rects = [(e["frame"]["x"], e["frame"]["y"], e["frame"]["w"], e["frame"]["h"]) for e in entries]
    except (KeyError, TypeError) as err:
        raise WanAlphaError(f"{sheet_path}: a frame has no frame rectangle {{x, y, w, h}} ({err})") from err
    if rects:  # the frames the JSON asks to cut, before the atlas is decoded
        check_clip(sheet_path, len(rects), max(w for _, _, w, _ in rects), max(h for _, _, _, h in rects))
    with open_image(path / sheet["meta"]["image"]) as image:
        has_alpha = image.has_transparency_data
        atlas = np.asarray(image.convert("RGBA"))
    frames = stack_frames([atlas[y:y + h, x:x + w] for x, y, w, h in rects], path)
    meta = sheet["meta"]
    durations = [e.get("duration") for e in entries if e.get("duration")]
    fps = float(meta["fps"]) if "fps" in meta else (1000 / durations[0] if durations else DEFAULT_FPS)
    return Decoded(frames, fps, has_alpha, "png", "rgba", premultiplied=bool(meta.get("premultipliedAlpha", False)))
