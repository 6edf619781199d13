"""PNG sequences: a folder or a ``.zip`` of ``frame_00000.png`` ... plus a ``meta.json`` sidecar.

The sidecar records what PNG cannot: ``{"fps": 16.0, "frames": 9}``, plus ``"premultiplied": true`` for
colour written premultiplied (read back straight). Without it the frames are taken
in natural name order (``f2.png`` before ``f10.png``) at :data:`DEFAULT_FPS`.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import WanAlphaError
from .base import DEFAULT_FPS, Decoded, WriteOptions, check_frame_count, stack_frames
from .limits import check_clip, check_fps, check_zip_members, open_image
from .video import RGBAVideo

META_NAME = "meta.json"
FRAME_NAME = "frame_{index:05d}.png"


def png_bytes(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame), "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def _meta(video: RGBAVideo, options: WriteOptions) -> str:
    meta = {"fps": video.fps, "frames": video.num_frames} | ({"premultiplied": True} if options.premultiplied else {})
    return json.dumps(meta, indent=2)


def write_folder(path: Path, video: RGBAVideo, options: WriteOptions) -> None:
    """``path`` is an (empty, temporary) folder."""
    for index, frame in enumerate(video.frames):
        (path / FRAME_NAME.format(index=index)).write_bytes(png_bytes(frame))
    (path / META_NAME).write_text(_meta(video, options))


def write_zip(path: Path, video: RGBAVideo, options: WriteOptions) -> None:
    # PNG is already deflated: storing avoids compressing twice for nothing.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, frame in enumerate(video.frames):
            archive.writestr(FRAME_NAME.format(index=index), png_bytes(frame))
        archive.writestr(META_NAME, _meta(video, options))


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _decode(members: Iterable[tuple[str, bytes]], meta: bytes | None, path: Path) -> Decoded:
    members = sorted(members, key=lambda item: _natural_key(item[0]))
    if members:  # every frame's header, then the clip's decoded size, before any frame is decoded
        sizes = []
        for name, data in members:
            with open_image(io.BytesIO(data), f"{path}/{name}") as image:
                sizes.append(image.size)
        check_clip(path, len(members), *max(sizes, key=lambda size: size[0] * size[1]))
    frames, has_alpha = [], False
    for name, data in members:
        with Image.open(io.BytesIO(data)) as image:
            has_alpha = has_alpha or image.has_transparency_data
            frames.append(np.asarray(image.convert("RGBA")))
    stacked = stack_frames(frames, path)
    fps, expected, premultiplied = parse_meta(meta, path)
    check_frame_count(path, len(frames), expected)
    return Decoded(stacked, fps, has_alpha, "png", "rgba" if has_alpha else "rgb24", premultiplied=premultiplied)


def parse_meta(meta: bytes | None, path: Path) -> tuple[float, int | None, bool]:
    """-> (fps, declared frame count or None, colour stored premultiplied)."""
    if meta is None:
        return DEFAULT_FPS, None, False
    try:
        info = json.loads(meta)
        fps = float(info.get("fps", DEFAULT_FPS))
        frames = int(info["frames"]) if "frames" in info else None
        premultiplied = bool(info.get("premultiplied", False))
    except (ValueError, TypeError, AttributeError) as err:
        raise WanAlphaError(f"{path}: {META_NAME} is not valid ({err}); fix or delete it") from err
    return check_fps(f"{path}/{META_NAME}", fps), frames, premultiplied


def read_folder(path: Path) -> Decoded:
    if not path.is_dir():
        raise WanAlphaError(f"{path} is not a folder of PNG frames")
    files = [p for p in path.iterdir() if p.suffix.lower() == ".png" and p.is_file()]
    if files:
        check_clip(path, len(files), 1, 1)  # the count alone, before reading any of them
    members = [(p.name, p.read_bytes()) for p in files]
    meta = path / META_NAME
    return _decode(members, meta.read_bytes() if meta.is_file() else None, path)


def read_zip(path: Path) -> Decoded:
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.lower().endswith(".png") and not n.startswith("__MACOSX/")]
        metas = [n for n in archive.namelist() if Path(n).name == META_NAME]
        check_zip_members(path, archive, names + metas[:1])
        members = [(name, archive.read(name)) for name in names]
        meta = archive.read(metas[0]) if metas else None
    return _decode(members, meta, path)
