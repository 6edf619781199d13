"""Straight/premultiplied conversion, soft and hard rendering, compositing backgrounds."""

from __future__ import annotations

import re
from typing import TypeVar

import numpy as np

from ..errors import WanAlphaError

Array = TypeVar("Array")  # torch.Tensor or np.ndarray


def premultiply(rgb: Array, alpha: Array) -> Array:
    """Straight -> premultiplied colour. Colour values must be in [0, 1] (black is 0)."""
    return rgb * alpha


def unpremultiply(rgb_premul: Array, alpha: Array, eps: float = 1e-6) -> Array:
    """Premultiplied -> straight colour; fully transparent pixels become 0 (their colour is lost)."""
    safe = alpha + (alpha <= eps) * 1.0
    straight = rgb_premul / safe * (alpha > eps)
    return straight.clip(0.0, 1.0)


def soft_render(rgb: Array, alpha: Array, background: Array) -> Array:
    """``R_s = rgb * a + c * (1 - a)``: the clip composited over ``background``."""
    return rgb * alpha + background * (1 - alpha)


def hard_render(rgb: Array, alpha: Array, background: Array) -> Array:
    """``R_h = rgb * [a > 0] + c * (1 - [a > 0])``: every non-transparent pixel shown at full colour."""
    support = (alpha > 0) * 1.0
    return rgb * support + background * (1 - support)


def checkerboard(
    height: int, width: int, cell: int = 16, light: float = 0.8, dark: float = 0.6
) -> np.ndarray:
    """A grey checkerboard ``(H, W, 3)`` float32 in [0, 1], the usual "this is transparent" backdrop."""
    ys = (np.arange(height) // cell)[:, None]
    xs = (np.arange(width) // cell)[None, :]
    board = np.where((ys + xs) % 2 == 0, light, dark).astype(np.float32)
    return np.repeat(board[..., None], 3, axis=-1)


_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_color(text: str) -> np.ndarray:
    """``"#RRGGBB"`` -> float32 ``(3,)`` in [0, 1]."""
    match = _HEX.match(text.strip())
    if not match:
        raise WanAlphaError(f"colour {text!r} is not #RRGGBB (e.g. #00ff00)")
    value = match.group(1)
    return np.array([int(value[i : i + 2], 16) / 255.0 for i in (0, 2, 4)], dtype=np.float32)


def composite(frames: np.ndarray, background: np.ndarray | None = None) -> np.ndarray:
    """Composite straight-alpha uint8 frames ``(T, H, W, 4)`` over a background -> uint8 ``(T, H, W, 3)``.

    ``background`` is a colour ``(3,)``, an image ``(H, W, 3)`` or a video ``(T, H, W, 3)`` in [0, 1];
    ``None`` means a checkerboard.
    """
    if frames.ndim != 4 or frames.shape[-1] != 4:
        raise WanAlphaError(f"expected RGBA frames shaped (T, H, W, 4), got {tuple(frames.shape)}")
    t, h, w, _ = frames.shape
    if background is None:
        background = checkerboard(h, w)
    background = np.asarray(background, dtype=np.float32)
    if background.ndim == 4 and background.shape[0] != t:
        raise WanAlphaError(
            f"background video has {background.shape[0]} frames, the clip has {t}: trim or loop it first"
        )
    if background.ndim >= 3 and background.shape[-3:-1] != (h, w):
        raise WanAlphaError(
            f"background is {background.shape[-2]}x{background.shape[-3]}, the clip is {w}x{h}: resize it first"
        )
    rgb = frames[..., :3].astype(np.float32) / 255.0
    alpha = frames[..., 3:].astype(np.float32) / 255.0
    out = soft_render(rgb, alpha, background)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
