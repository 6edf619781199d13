"""``probe``: what a file holds (size, timing, codec) and how its alpha is distributed."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..rgba import region_masks
from .files import decode_file

HISTOGRAM_BINS = 10


def probe(path: str | os.PathLike) -> dict[str, Any]:
    """Decode ``path`` and summarise it; a file without alpha is reported (``has_alpha`` False), not refused."""
    decoded, fmt = decode_file(path)
    frames = decoded.frames
    alpha = frames[..., 3].astype(np.float32) / 255.0
    opaque, semi, transparent = region_masks(alpha)
    counts, edges = np.histogram(alpha, bins=HISTOGRAM_BINS, range=(0.0, 1.0))
    return {
        "path": str(path),
        "format": fmt.name,
        "description": fmt.description,
        "codec": decoded.codec,
        "pixel_format": decoded.pixel_format,
        "alpha_stored": "premultiplied" if decoded.premultiplied or fmt.alpha_convention == "premultiplied" else "straight",
        "width": int(frames.shape[2]),
        "height": int(frames.shape[1]),
        "frames": int(frames.shape[0]),
        "fps": decoded.fps,
        "duration_s": frames.shape[0] / decoded.fps,
        "has_alpha": decoded.has_alpha,
        "alpha": {
            "min": float(alpha.min()),
            "max": float(alpha.max()),
            "mean": float(alpha.mean()),
            "transparent": float(transparent.mean()),
            "semi": float(semi.mean()),
            "opaque": float(opaque.mean()),
            "histogram": {"edges": [round(float(e), 3) for e in edges], "shares": (counts / counts.sum()).tolist()},
        },
    }


def format_probe(info: dict[str, Any]) -> str:
    """The probe as a few aligned lines for a terminal."""
    a = info["alpha"]
    lines = [
        f"file       {info['path']}",
        f"format     {info['format']} ({info['description']})",
        f"codec      {info['codec']}, pixel format {info['pixel_format']}"
        + (f", {info['alpha_stored']} alpha" if info["has_alpha"] else ""),
        f"size       {info['width']}x{info['height']}, {info['frames']} frames at {info['fps']:g} fps "
        f"({info['duration_s']:.2f} s)",
    ]
    if not info["has_alpha"]:
        lines.append("alpha      none (opaque file: read it with --allow-opaque or give --alpha MATTE)")
        return "\n".join(lines)
    lines += [
        f"alpha      min {a['min']:.3f}  max {a['max']:.3f}  mean {a['mean']:.3f}",
        f"regions    transparent {a['transparent']:.1%}  semi {a['semi']:.1%}  opaque {a['opaque']:.1%}",
        "histogram",
    ]
    edges, shares = a["histogram"]["edges"], a["histogram"]["shares"]
    for low, high, share in zip(edges, edges[1:], shares):
        lines.append(f"  {low:.1f}-{high:.1f}  {'#' * round(share * 40):<40} {share:6.1%}")
    return "\n".join(lines)
