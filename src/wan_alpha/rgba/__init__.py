"""Alpha maths on straight-alpha video: rendering, palette, regions, compositing, latent pooling.

Functions use only arithmetic and comparisons, so they accept torch tensors and numpy arrays alike;
the caller arranges broadcastable shapes (channels first for tensors ``(B,C,T,H,W)``, channels last
for frames ``(T,H,W,C)``).
"""

from .ellipse import (
    DEFAULT_ELLIPSE,
    Ellipse,
    ellipse_masks,
    fit_alpha_ellipses,
    fit_ellipse,
    gaussian_map,
    masks_from_alpha,
    render_ellipses,
)
from .palette import PALETTE, PALETTE_NAMES, random_palette_colors
from .regions import (
    OPAQUE_EPS,
    latent_frame_count,
    latent_frame_spans,
    latent_stride,
    pool_alpha_to_latent,
    region_masks,
)
from .render import (
    checkerboard,
    composite,
    hard_render,
    parse_color,
    premultiply,
    soft_render,
    unpremultiply,
)

__all__ = [
    "DEFAULT_ELLIPSE",
    "Ellipse",
    "ellipse_masks",
    "fit_alpha_ellipses",
    "fit_ellipse",
    "gaussian_map",
    "masks_from_alpha",
    "render_ellipses",
    "PALETTE",
    "PALETTE_NAMES",
    "OPAQUE_EPS",
    "checkerboard",
    "composite",
    "hard_render",
    "latent_frame_count",
    "latent_frame_spans",
    "latent_stride",
    "parse_color",
    "pool_alpha_to_latent",
    "premultiply",
    "random_palette_colors",
    "region_masks",
    "soft_render",
    "unpremultiply",
]
