"""Looking at a dataset: a contact sheet over a checkerboard, and counts of its alpha regions."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..errors import WanAlphaError
from ..io import atomic_output
from ..io.limits import check_frame_size
from ..rgba import composite, region_masks
from .captions import CAPTION_PREFIX
from .dataset import load_row
from .manifest import read_rows

_LABEL_HEIGHT = 14
_GAP = 4
_UNREADABLE_COLOUR = (90, 20, 20)


def _spread(count: int, total: int) -> list[int]:
    """``count`` indices evenly spread over ``range(total)`` (all of them when ``count >= total``)."""
    if count >= total:
        return list(range(total))
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, count)})


def _thumbnail(frame_rgb: np.ndarray, size: int) -> Image.Image:
    """A frame scaled to fit ``size x size``, centred on a dark cell."""
    image = Image.fromarray(frame_rgb)
    factor = size / max(image.size)
    # Small clips are enlarged with nearest-neighbour so their pixels stay visible.
    resample = Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.NEAREST
    image = image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))), resample)
    cell = Image.new("RGB", (size, size), (32, 32, 32))
    cell.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
    return cell


def contact_sheet(
    manifest: str | os.PathLike,
    out: str | os.PathLike,
    *,
    clips: int = 16,
    frames_per_clip: int = 4,
    thumb: int = 128,
    overwrite: bool = False,
) -> Path:
    """A PNG with one row per clip (up to ``clips``, spread over the manifest): ``frames_per_clip``
    frames composited over a checkerboard, and the caption beneath. Unreadable clips get a dark red
    row naming the error."""
    if clips < 1 or frames_per_clip < 1 or thumb < 16:
        raise WanAlphaError(
            f"need clips >= 1, frames_per_clip >= 1 and thumb >= 16, got {clips}, {frames_per_clip}, {thumb}"
        )
    if Path(out).suffix.lower() != ".png":
        raise WanAlphaError(f"contact sheet {out} must be a .png file")
    rows = read_rows(manifest)
    root = Path(manifest).parent
    chosen = [rows[i] for i in _spread(clips, len(rows))]
    row_height = thumb + _LABEL_HEIGHT + _GAP
    size = (frames_per_clip * (thumb + _GAP) + _GAP, len(chosen) * row_height + _GAP)
    check_frame_size(f"contact sheet {out} (--thumb, --clips, --frames-per-clip)", *size)
    sheet = Image.new("RGB", size, (16, 16, 16))
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(chosen):
        top = _GAP + r * row_height
        try:
            video = load_row(row, root)
            cells = [
                _thumbnail(composite(video.frames[[i]])[0], thumb) for i in _spread(frames_per_clip, video.num_frames)
            ]
            label = f"{Path(row.key).name} ({video.num_frames} f): {row.caption.removeprefix(CAPTION_PREFIX)}"
        except WanAlphaError as err:
            cells = [Image.new("RGB", (thumb, thumb), _UNREADABLE_COLOUR)]
            label = f"{row.key}: cannot read: {err}"
        for c, cell in enumerate(cells):
            sheet.paste(cell, (_GAP + c * (thumb + _GAP), top))
        draw.text((_GAP, top + thumb + 1), _fit(draw, label, sheet.width - 2 * _GAP), fill=(230, 230, 230))
    with atomic_output(out, overwrite=overwrite) as tmp:
        sheet.save(tmp, format="PNG")
    return Path(out)


def _fit(draw: ImageDraw.ImageDraw, text: str, width: int) -> str:
    """Shorten ``text`` with an ellipsis until it fits ``width`` pixels."""
    text = " ".join(text.split())
    if draw.textlength(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # longest prefix that fits with "..."
        mid = (low + high + 1) // 2
        low, high = (mid, high) if draw.textlength(text[:mid] + "...") <= width else (low, mid - 1)
    return text[:low] + "..."


def manifest_stats(manifest: str | os.PathLike, *, limit: int | None = None) -> dict[str, Any]:
    """Rows, frames, sources and the share of opaque / semi-transparent / transparent pixels.

    Pixel shares read the clips (``limit``: only that many, spread over the manifest); rows whose
    files cannot be read are counted, not fatal.
    """
    rows = read_rows(manifest)
    root = Path(manifest).parent
    chosen = [rows[i] for i in _spread(limit, len(rows))] if limit else rows
    counts = np.zeros(3, dtype=np.int64)  # opaque, semi, transparent
    frames, unreadable = [], []
    for row in chosen:
        try:
            video = load_row(row, root)
        except WanAlphaError as err:
            unreadable.append(f"{row.key}: {err}")
            continue
        frames.append(video.num_frames)
        masks = region_masks(video.alpha.astype(np.float32) / 255.0)
        counts += [int(m.sum()) for m in masks]
    total = max(int(counts.sum()), 1)
    return {
        "manifest": str(manifest),
        "rows": len(rows),
        "read": len(frames),
        "unreadable": len(unreadable),
        "unreadable_examples": unreadable[:5],
        "frames": {"total": int(sum(frames)), "min": min(frames, default=0), "max": max(frames, default=0)},
        "sources": dict(Counter(r.source or "?" for r in rows).most_common()),
        "licenses": dict(Counter(r.license or "?" for r in rows).most_common()),
        "pixels": {name: float(c / total) for name, c in zip(("opaque", "semi", "transparent"), counts)},
        "semi_of_visible": float(counts[1] / max(int(counts[0] + counts[1]), 1)),
    }


def format_stats(stats: dict[str, Any]) -> str:
    """The stats as a few lines for a terminal."""
    f, p = stats["frames"], stats["pixels"]
    lines = [
        f"manifest     {stats['manifest']}",
        f"clips        {stats['rows']} rows, {stats['read']} read, {stats['unreadable']} unreadable",
        f"frames       {f['total']} in total, {f['min']}-{f['max']} per clip",
        f"pixels       opaque {p['opaque']:.1%}  semi {p['semi']:.1%}  transparent {p['transparent']:.1%}  "
        f"(semi is {stats['semi_of_visible']:.1%} of visible pixels)",
        "sources      " + ", ".join(f"{k} {v}" for k, v in stats["sources"].items()),
        "licenses     " + ", ".join(f"{k} {v}" for k, v in stats["licenses"].items()),
    ]
    lines += [f"  unreadable: {e}" for e in stats["unreadable_examples"]]
    return "\n".join(lines)
