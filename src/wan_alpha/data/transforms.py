"""Resampling RGBA frames without colour fringes: every resize or warp runs on premultiplied alpha.

Straight-alpha colour under transparent pixels is arbitrary (often black); interpolating it
directly bleeds that colour into soft edges. Premultiplying first makes transparent pixels
contribute nothing, and dividing back afterwards restores straight alpha.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..rgba import premultiply, unpremultiply


def premultiplied_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 straight ``(T, H, W, 4)`` -> float premultiplied ``(T, 4, H, W)`` in [0, 1]."""
    x = torch.from_numpy(np.require(frames, requirements=["C", "W"])).permute(0, 3, 1, 2).float() / 255.0
    return torch.cat([premultiply(x[:, :3], x[:, 3:]), x[:, 3:]], dim=1)


def straight_frames(x: torch.Tensor) -> np.ndarray:
    """float premultiplied ``(T, 4, H, W)`` -> uint8 straight ``(T, H, W, 4)``."""
    alpha = x[:, 3:].clamp(0, 1)
    rgb = unpremultiply(x[:, :3].clamp(0, 1), alpha, eps=0.5 / 255)
    out = torch.cat([rgb, alpha], dim=1).permute(0, 2, 3, 1)
    return torch.round(out * 255).to(torch.uint8).numpy()


def resize_premultiplied(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Antialiased bilinear resize of premultiplied ``(T, 4, H, W)`` (identity when the size matches)."""
    if tuple(x.shape[-2:]) == (height, width):
        return x
    return F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def warp_premultiplied(source: torch.Tensor, theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sample one premultiplied image ``(4, h, w)`` through per-frame affine maps ``theta (T, 2, 3)``.

    ``theta`` maps output coordinates to source coordinates, both normalised to [-1, 1] as in
    ``torch.nn.functional.affine_grid``; outside the source is transparent.
    """
    frames = theta.shape[0]
    grid = F.affine_grid(theta.float(), [frames, 4, height, width], align_corners=False)
    batch = source.unsqueeze(0).expand(frames, -1, -1, -1)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False).clamp(0, 1)


def crop_theta(boxes: np.ndarray, height: int, width: int) -> torch.Tensor:
    """Affine maps for crop windows ``boxes (T, 4)`` = ``x0, y0, x1, y1`` in pixels of an ``height x width`` source."""
    boxes = torch.as_tensor(boxes, dtype=torch.float32)
    theta = torch.zeros(boxes.shape[0], 2, 3)
    theta[:, 0, 0] = (boxes[:, 2] - boxes[:, 0]) / width
    theta[:, 1, 1] = (boxes[:, 3] - boxes[:, 1]) / height
    theta[:, 0, 2] = (boxes[:, 0] + boxes[:, 2]) / width - 1
    theta[:, 1, 2] = (boxes[:, 1] + boxes[:, 3]) / height - 1
    return theta


def placement_theta(centre: np.ndarray, size: np.ndarray, angle: np.ndarray, height: int, width: int) -> torch.Tensor:
    """Affine maps that draw a square sprite on an ``height x width`` canvas, one per frame.

    ``centre (T, 2)`` in canvas pixels (x, y), ``size (T,)`` the sprite's side in pixels,
    ``angle (T,)`` its rotation in radians (counter-clockwise on screen).
    """
    centre = torch.as_tensor(centre, dtype=torch.float32)
    size = torch.as_tensor(size, dtype=torch.float32)
    angle = torch.as_tensor(angle, dtype=torch.float32)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Canvas pixel of output coordinate u is (u + 1) * W / 2; the sprite coordinate is the
    # offset from its centre, rotated back and divided by its half size.
    k = 2.0 / size
    theta = torch.zeros(centre.shape[0], 2, 3)
    theta[:, 0, 0] = k * cos * width / 2
    theta[:, 0, 1] = -k * sin * height / 2
    theta[:, 1, 0] = k * sin * width / 2
    theta[:, 1, 1] = k * cos * height / 2
    ox, oy = width / 2 - centre[:, 0], height / 2 - centre[:, 1]
    theta[:, 0, 2] = k * (cos * ox - sin * oy)
    theta[:, 1, 2] = k * (sin * ox + cos * oy)
    return theta


def over(top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
    """Porter-Duff "over" for premultiplied ``(..., 4, H, W)`` tensors."""
    return top + bottom * (1 - top[..., 3:4, :, :])
