"""Hostile and broken inputs, made at test time: each is a few KB on disk and declares gigabytes (bombs), or is
damaged in one way. Shared by tests/hostile and bench/hostile_rss.py (needs only NumPy, Pillow and the stdlib)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _ihdr(width: int, height: int, bit_depth: int, colour: int) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0))


def _zero_rows(width_bytes: int, height: int) -> bytes:
    """zlib stream of ``height`` all-zero filter-0 rows, built a row batch at a time (never the raw image)."""
    packer, row = zlib.compressobj(9), bytes(width_bytes + 1)
    batch = 256
    out = [packer.compress(row * batch) for _ in range(height // batch)]
    out.append(packer.compress(row * (height % batch)))
    return b"".join(out) + packer.flush()


def bilevel_png(width: int, height: int) -> bytes:
    """A 1-bit black PNG of any size: 20000x20000 is 48 KB on disk, 1.6 GB as RGBA."""
    data = _zero_rows((width + 7) // 8, height)
    return b"\x89PNG\r\n\x1a\n" + _ihdr(width, height, 1, 0) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def apng_long_delay(path: Path, seconds: int = 65535) -> Path:
    """A 2-frame 64x64 APNG, frame 0 shown 10 ms and frame 1 ``seconds`` s: 6.5 million frames on a 100 fps grid."""
    size = 64
    frame = _zero_rows(size * 4, size)
    parts = [b"\x89PNG\r\n\x1a\n", _ihdr(size, size, 8, 6), _chunk(b"acTL", struct.pack(">II", 2, 0))]
    for index, (num, den) in enumerate([(10, 1000), (seconds, 1)]):
        fctl = struct.pack(">IIIIIHHBB", index, size, size, 0, 0, num, den, 0, 0)  # sequence numbers 0, 1, 2
        parts.append(_chunk(b"fcTL", fctl))
        parts.append(_chunk(b"IDAT", frame) if index == 0 else _chunk(b"fdAT", struct.pack(">I", 2) + frame))
    path.write_bytes(b"".join(parts) + _chunk(b"IEND", b""))
    return path


def png_bomb(path: Path, side: int = 20000) -> Path:
    path.write_bytes(bilevel_png(side, side))
    return path


def zip_of_frames(path: Path, frames: int, side: int) -> Path:
    """A PNG-sequence zip of ``frames`` copies of a ``side`` x ``side`` 1-bit frame."""
    png = bilevel_png(side, side)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index in range(frames):
            archive.writestr(f"frame_{index:05d}.png", png)
    return path


def zip_member_bomb(path: Path, mib: int = 64) -> Path:
    """One deflated member of ``mib`` MiB of zeros (about 1000:1) named like a frame."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("frame_00000.png", "w", force_zip64=True) as member:
            block = bytes(1024**2)
            for _ in range(mib):
                member.write(block)
    return path


def npy_bomb(path: Path) -> Path:
    """A .npy header declaring a 4 TB float32 array, followed by nothing."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (10000, 10000, 10000)}
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
    return path


def string_npy(path: Path) -> Path:
    np.save(path, np.array([["a", "b"], ["c", "d"]]))
    return path


def rgba_frames(frames: int = 5, size: int = 16) -> np.ndarray:
    """A small clip with a soft alpha: a bright square on a transparent field."""
    clip = np.zeros((frames, size, size, 4), np.uint8)
    clip[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = (200, 80, 40, 255)
    clip[..., 3] = np.maximum(clip[..., 3], 40)
    return clip


def png_folder(path: Path, meta: dict | str | None, frames: int = 5) -> Path:
    """A PNG-sequence folder with the given ``meta.json`` (dict, raw text, or none)."""
    path.mkdir()
    for index, frame in enumerate(rgba_frames(frames)):
        Image.fromarray(frame, "RGBA").save(path / f"frame_{index:05d}.png")
    if meta is not None:
        (path / "meta.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return path


def rgba_png(path: Path, size: int = 32) -> Path:
    """A still with a soft alpha (a data build images input)."""
    image = np.zeros((size, size, 4), np.uint8)
    image[..., :3] = 180
    image[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4, 3] = 255
    image[..., 3] = np.maximum(image[..., 3], 30)
    Image.fromarray(image, "RGBA").save(path)
    return path


def png_bytes(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def tree_digest(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (or the file itself) with its bytes: an input must be the same after a run."""
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
