"""Alpha maths on straight-alpha video: rendering, palette, regions, compositing, the latent grid, ellipses.

Functions use only arithmetic and comparisons, so they accept torch tensors and numpy arrays alike;
the caller arranges broadcastable shapes (channels first for tensors ``(B,C,T,H,W)``, channels last
for frames ``(T,H,W,C)``). Submodules load on first use, so the command line's help needs no torch.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "ellipse": ["Ellipse", "ellipse_region", "fit_ellipse", "fit_ellipse_extent", "gaussian_map"],
    "latent_grid": ["WAN21_TEMPORAL_DOWNSAMPLE", "latent_frame_count", "latent_frame_spans", "latent_stride",
                    "vae_spatial_stride"],
    "palette": ["PALETTE", "PALETTE_NAMES", "black_background", "random_palette_colors"],
    "regions": ["OPAQUE_EPS", "pool_alpha_to_latent", "region_masks"],
    "render": ["checkerboard", "composite", "hard_render", "parse_color", "premultiply", "soft_render",
               "unpremultiply"],
})
