"""Ellipses: their Gaussian map ``G``, fitting one to an alpha frame, and the pixels inside one (SPEC section 3).

Two fits: :func:`fit_ellipse_extent` is the reference release's (``gen_gaussian_mask.py``), the default;
:func:`fit_ellipse` fits moments (tighter axes, its angle from every cell above the threshold).

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
* The maps of a whole clip, one per latent frame, are built in :mod:`wan_alpha.sampling.mean_shift`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import WanAlphaError

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


def _cells_above(frame: np.ndarray | torch.Tensor, threshold: float, fit: str) -> tuple[np.ndarray, ...]:
    """One frame ``(H, W)`` as float64 and the column and row indices of its values above ``threshold``."""
    frame = torch.as_tensor(frame).detach().cpu().double().numpy()
    if frame.ndim != 2:
        raise WanAlphaError(f"{fit} takes one frame (H, W), got shape {frame.shape}")
    ys, xs = np.nonzero(frame > threshold)
    return frame, xs, ys


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
    frame, xs, ys = _cells_above(alpha_frame, threshold, "fit_ellipse")
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


def _principal_axes(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points ``(N, 2)``, their mean and the eigenvectors of their covariance, major axis first (columns)."""
    points = np.stack([xs, ys], axis=1).astype(np.float64)
    mean = points.mean(axis=0)
    eigvals, eigvecs = np.linalg.eigh(np.cov(points - mean, rowvar=False))
    return points, mean, eigvecs[:, np.argsort(eigvals)[::-1]]


def _filled_cells(height: int, width: int, cx: int, cy: int, half_a: int, half_b: int, angle: float) -> np.ndarray:
    """Cells inside an ellipse as the reference measures its coverage: OpenCV's filled polygon (``cv2.ellipse``
    rounds the angle to a degree and draws the outline too), which a pixel-centre test misses by a ring of cells."""
    import cv2  # only this fit needs OpenCV: keep it out of every other import

    cells = np.zeros((height, width), np.uint8)
    cv2.ellipse(cells, center=(cx, cy), axes=(half_a, half_b), angle=float(angle), startAngle=0, endAngle=360,
                color=1, thickness=-1)
    return cells > 0


def fit_ellipse_extent(
    cells: np.ndarray | torch.Tensor,
    shape_threshold: float = 0.2,
    orient_threshold: float = 0.9,
    coverage: float = 0.98,
    grow: float = 1.12,
    max_tries: int = 10,
    min_axis: float = 2.0,
) -> Ellipse | None:
    """The reference release's fit of one latent frame ``(h, w)`` of pooled, binarised alpha.

    Cells above ``shape_threshold`` give the centre (their mean) and the principal directions; each axis is the full
    extent of those cells along its direction (at least ``min_axis`` cells). The angle is the major direction of
    the cells above ``orient_threshold`` (the solid core) when there are 5 of them, else of the shape cells; fewer
    than 5 shape cells give their bounding box at angle 0. The axes then grow by ``grow`` until ``coverage`` of the
    shape cells lie inside (at most ``max_tries`` sizes, keeping the best). ``None`` when no cell passes.
    Parameters default to the release's ``gen_gaussian_mask.py`` run (its function defaults: 0.6 and 8 tries).
    """
    frame, xs, ys = _cells_above(cells, shape_threshold, "fit_ellipse_extent")
    if len(xs) == 0:
        return None
    if len(xs) < 5:
        mean = np.array([xs.min() + xs.max(), ys.min() + ys.max()]) / 2.0
        a, b, angle = max(np.ptp(xs), min_axis), max(np.ptp(ys), min_axis), 0.0
    else:
        points, mean, axes = _principal_axes(xs, ys)
        along = (points - mean) @ axes
        a, b = max(np.ptp(along[:, 0]), min_axis), max(np.ptp(along[:, 1]), min_axis)
        core_ys, core_xs = np.nonzero(frame > orient_threshold)
        if len(core_xs) >= 5:
            axes = _principal_axes(core_xs, core_ys)[2]
        angle = math.degrees(math.atan2(axes[1, 0], axes[0, 0]))
    height, width = frame.shape
    cx, cy = (int(np.clip(round(v), 0, n - 1)) for v, n in ((mean[0], width), (mean[1], height)))
    best, best_axes = 0.0, (a, b)
    for _ in range(max_tries):
        inside = _filled_cells(height, width, cx, cy, max(1, round(a / 2)), max(1, round(b / 2)), angle)
        covered = float(inside[ys, xs].mean())
        if covered > best:
            best, best_axes = covered, (a, b)
        if covered >= coverage:
            break
        a, b = a * grow, b * grow
    # the reference measures at integer cell coordinates; ours are cell centres (+0.5)
    return Ellipse((mean[0] + 0.5) / width, (mean[1] + 0.5) / height, best_axes[0] / width, best_axes[1] / height, angle)


def ellipse_region(ellipse: Ellipse, height: int, width: int) -> np.ndarray:
    """Pixels (centres) inside ``ellipse``: ``(H, W)`` bool, the same geometry as its Gaussian map."""
    cx, cy, a, b, angle = ellipse.to_pixels(height, width)
    xr, yr = _rotated_coords(height, width, cx, cy, angle)
    return ((xr / (a / 2)) ** 2 + (yr / (b / 2)) ** 2 <= 1).numpy()
