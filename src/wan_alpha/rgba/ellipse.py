"""Ellipses and the Gaussian transparency maps ``G`` of the mean-shift sampler (SPEC section 3).

Conventions (one place, used by fitting, drawing and the CLI):

* An :class:`Ellipse` is resolution independent: centre ``(cx, cy)`` as fractions of the frame width
  and height, full axis lengths ``w`` (fraction of the width) and ``h`` (fraction of the height), and
  ``angle`` in degrees. In pixels the axes are ``a = w * W`` and ``b = h * H``; the ``a`` axis points
  along ``angle`` measured from +x towards +y (image coordinates, y down, so positive angles turn
  clockwise on screen, as in OpenCV).
* Pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``; its centre ``(j + 0.5, i + 0.5)`` is where maps are
  evaluated and what fitting measures.
* ``G(x, y) = exp(-1/2 [(x' / (a/2))^2 + (y' / (b/2))^2])``, min-max normalised to [0, 1]: 1 at the
  centre (opaque object), towards 0 far away (transparent background).
* Masks are float32 tensors shaped like latents, ``(B, 1, F, h, w)``: one map per latent frame.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import WanAlphaError
from .regions import pool_alpha_to_latent

_PIXEL_AREA_VARIANCE = 1.0 / 12.0
"""Variance of a uniform unit pixel: added to the point-set covariance so that a filled ellipse of
pixels gives back its continuous axes (``a = 4 sqrt(lambda)``) even when it is only a few pixels wide."""


@dataclass(frozen=True)
class Ellipse:
    """An ellipse in frame fractions (see the module docstring for the conventions)."""

    cx: float
    cy: float
    w: float
    h: float
    angle: float = 0.0

    def __post_init__(self) -> None:
        values = (self.cx, self.cy, self.w, self.h, self.angle)
        if not all(math.isfinite(float(v)) for v in values):
            raise WanAlphaError(f"ellipse {values} has a non-finite value")
        if not (0.0 <= self.cx <= 1.0 and 0.0 <= self.cy <= 1.0):
            raise WanAlphaError(
                f"ellipse centre ({self.cx:g}, {self.cy:g}) is outside the frame: give CX,CY as "
                "fractions of the width and height in [0, 1] (0.5,0.5 is the centre)"
            )
        if not (self.w > 0 and self.h > 0):
            raise WanAlphaError(
                f"ellipse axes ({self.w:g}, {self.h:g}) must be > 0: give W,H as fractions of the "
                "width and height (e.g. 0.5,0.3)"
            )

    @classmethod
    def parse(cls, text: str) -> "Ellipse":
        """``"CX,CY,W,H"`` or ``"CX,CY,W,H,ANGLE"`` (fractions of the frame, angle in degrees)."""
        parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) not in (4, 5):
            raise WanAlphaError(
                f"ellipse {text!r} is not CX,CY,W,H[,ANGLE] (e.g. 0.5,0.5,0.4,0.6,30): four or five numbers"
            )
        return cls(*numbers)

    def lerp(self, other: "Ellipse", s: float) -> "Ellipse":
        """The ellipse a fraction ``s`` of the way from ``self`` to ``other`` (linear in every field)."""
        a, b = np.array(self.as_tuple()), np.array(other.as_tuple())
        return Ellipse(*(float(v) for v in a + (b - a) * s))

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        return (self.cx, self.cy, self.w, self.h, self.angle)

    def to_pixels(self, height: int, width: int) -> tuple[float, float, float, float, float]:
        """``(cx, cy, a, b, angle)`` in pixels of a ``height x width`` grid."""
        return (self.cx * width, self.cy * height, self.w * width, self.h * height, self.angle)


DEFAULT_ELLIPSE = Ellipse(0.5, 0.5, 0.5, 0.5, 0.0)
"""Used when the user gives no mask: an object in the middle of the frame, half its width and
height, transparent around it (the usual layout of a sprite or VFX element)."""


def _rotated_coords(height: int, width: int, cx: float, cy: float, angle_deg: float) -> tuple:
    ys = torch.arange(height, dtype=torch.float64)[:, None] + 0.5
    xs = torch.arange(width, dtype=torch.float64)[None, :] + 0.5
    theta = math.radians(angle_deg)
    dx, dy = xs - cx, ys - cy
    return dx * math.cos(theta) + dy * math.sin(theta), -dx * math.sin(theta) + dy * math.cos(theta)


def gaussian_map(ellipse: Ellipse, height: int, width: int) -> torch.Tensor:
    """``G`` of ``ellipse`` on a ``height x width`` grid, float32 in [0, 1], peak 1 at the centre.

    A map that is constant (an ellipse so large that G barely varies) carries no layout information
    and is returned as zeros, like the reference code.
    """
    cx, cy, a, b, angle = ellipse.to_pixels(height, width)
    xr, yr = _rotated_coords(height, width, cx, cy, angle)
    g = torch.exp(-0.5 * ((xr / (a / 2)) ** 2 + (yr / (b / 2)) ** 2))
    lo, hi = g.min(), g.max()
    if hi - lo < 1e-9:
        return torch.zeros(height, width)
    return ((g - lo) / (hi - lo)).float()


def _coverage(xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, a: float, b: float, angle: float) -> float:
    theta = math.radians(angle)
    dx, dy = xs - cx, ys - cy
    xr = dx * math.cos(theta) + dy * math.sin(theta)
    yr = -dx * math.sin(theta) + dy * math.cos(theta)
    return float(np.mean((xr / (a / 2)) ** 2 + (yr / (b / 2)) ** 2 <= 1.0))


def fit_ellipse(
    alpha_frame: np.ndarray | torch.Tensor,
    threshold: float = 0.3,
    coverage: float = 0.98,
    grow: float = 1.02,
) -> Ellipse | None:
    """Fit an ellipse to the pixels of one alpha frame ``(H, W)`` with ``alpha > threshold``.

    Moments of the point set give the centre (mean) and orientation (eigenvectors of the
    covariance); a filled ellipse with full axis ``a`` has variance ``a^2 / 16`` along it, so the
    axes start at ``4 sqrt(lambda)`` and then grow by ``grow`` until ``coverage`` of the points lie
    inside (objects are rarely ellipses; the reference grows until 98 % are covered). Returns
    ``None`` when no pixel passes the threshold (a fully transparent frame).
    """
    frame = torch.as_tensor(alpha_frame).detach().cpu().double().numpy()
    if frame.ndim != 2:
        raise WanAlphaError(f"fit_ellipse takes one alpha frame (H, W), got shape {frame.shape}")
    ys, xs = np.nonzero(frame > threshold)
    if len(xs) == 0:
        return None
    xs, ys = xs + 0.5, ys + 0.5
    cx, cy = float(xs.mean()), float(ys.mean())
    cov = np.cov(np.stack([xs, ys]), bias=True) + _PIXEL_AREA_VARIANCE * np.eye(2)
    eigvals, eigvecs = np.linalg.eigh(cov)  # ascending: column 1 is the major axis
    major = eigvecs[:, 1]
    angle = math.degrees(math.atan2(major[1], major[0]))
    angle = (angle + 90.0) % 180.0 - 90.0  # an axis, not a direction: fold into [-90, 90)
    a, b = 4.0 * math.sqrt(eigvals[1]), 4.0 * math.sqrt(eigvals[0])
    for _ in range(200):
        if _coverage(xs, ys, cx, cy, a, b, angle) >= coverage:
            break
        a, b = a * grow, b * grow
    height, width = frame.shape
    return Ellipse(cx / width, cy / height, a / width, b / height, angle)


def render_ellipses(ellipses: Sequence[Ellipse | None], height: int, width: int) -> torch.Tensor:
    """Maps ``(1, 1, F, h, w)``, one per ellipse; ``None`` (no object) gives an all-zero map, i.e.
    everything transparent and the whole noise shifted."""
    maps = [torch.zeros(height, width) if e is None else gaussian_map(e, height, width) for e in ellipses]
    return torch.stack(maps)[None, None]


def ellipse_masks(
    start: Ellipse, end: Ellipse | None, latent_frames: int, height: int, width: int
) -> torch.Tensor:
    """Maps ``(1, 1, F, h, w)`` of a static ellipse, or one moving linearly from ``start`` to ``end``
    (first latent frame exactly ``start``, last exactly ``end``)."""
    if latent_frames < 1:
        raise WanAlphaError(f"a mask needs at least one latent frame, got {latent_frames}")
    end = start if end is None else end
    steps = [0.0] if latent_frames == 1 else [i / (latent_frames - 1) for i in range(latent_frames)]
    return render_ellipses([start.lerp(end, s) for s in steps], height, width)


def fit_alpha_ellipses(
    alpha: torch.Tensor, threshold: float = 0.3, spatial_stride: int = 8
) -> list[list[Ellipse | None]]:
    """One fitted ellipse per clip and latent frame of an alpha video ``(B, 1, T, H, W)``.

    Alpha is first averaged onto the latent grid with :func:`pool_alpha_to_latent` (frame 0 alone,
    then groups of 4; 8x8 areas), so each ellipse describes exactly the video frames its latent
    frame encodes; it is fitted to the pooled cells above ``threshold`` (``None`` where there is
    none). Ellipses are in frame fractions, so they can be rendered on any grid.
    """
    pooled = pool_alpha_to_latent(alpha.float(), spatial_stride)
    return [[fit_ellipse(frame, threshold) for frame in clip[0]] for clip in pooled]


def masks_from_alpha(alpha: torch.Tensor, threshold: float = 0.3, spatial_stride: int = 8) -> torch.Tensor:
    """Maps ``(B, 1, F, h, w)`` on the latent grid of an alpha video ``(B, 1, T, H, W)``: the
    training-time ``G`` of each clip (see :func:`fit_alpha_ellipses`)."""
    _, _, _, height, width = alpha.shape
    clips = fit_alpha_ellipses(alpha, threshold, spatial_stride)
    return torch.cat([render_ellipses(e, height // spatial_stride, width // spatial_stride) for e in clips])
