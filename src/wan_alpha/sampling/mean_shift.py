"""The transparency-guided mean shift (SPEC section 3): the map ``G`` and the shifted noise.

``G`` (1 on the object, towards 0 on the transparent surround) is float32 ``(B, 1, F, h, w)`` on the latent
grid, one map per latent frame, built from user ellipses (static or moving), from ellipses fitted to an alpha
video, or given as a mask (on any grid: it is resized to the latent grid bilinearly, as the reference resizes its
published mask). The noise of training and of sampling is shifted the same way,
``eps~ = eps + mu * (1 - G)``. The paper writes ``eps~ ~ N(G * mu, I)`` (shift the opaque side); the reference
code, and so its published checkpoints, shift the transparent side ``(1 - G)``. We follow the reference so those
checkpoints behave as released. The ellipse geometry (fitting one frame, one Gaussian map) is
:mod:`wan_alpha.rgba.ellipse`; mask files are :mod:`wan_alpha.io.masks`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..errors import WanAlphaError
from ..io.masks import validate_mask
from ..rgba import Ellipse, fit_ellipse, fit_ellipse_extent, gaussian_map, pool_alpha_to_latent

DEFAULT_MU_SHIFT = 0.05
"""Reference ``mu_shift``: a fixed scalar, the same for every latent channel."""

DEFAULT_ELLIPSE = Ellipse(0.5, 0.5, 0.5, 0.5, 0.0)
"""Used when the user gives no mask: an object in the middle of the frame, half its width and
height, transparent around it (the usual layout of a sprite or VFX element)."""


def resize_mask(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``mask`` ``(B, 1, F, h', w')`` on a ``height x width`` grid: each latent frame resized bilinearly
    (``align_corners=False``, as the reference resizes its mask); unchanged when already there."""
    if mask.shape[-2:] == (height, width):
        return mask
    b, _, f, h, w = mask.shape
    frames = F.interpolate(mask.reshape(b * f, 1, h, w), size=(height, width), mode="bilinear", align_corners=False)
    return frames.reshape(b, 1, f, height, width)


def shift_noise(
    noise: torch.Tensor, mask: torch.Tensor, mu: float = DEFAULT_MU_SHIFT, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """``eps~ = eps + mu * (1 - G)``: move the noise mean by ``mu`` where the mask says *transparent*.

    ``noise`` is ``(B, C, F, h, w)``; ``mask`` (``G`` in [0, 1]) is ``(B or 1, 1, F, h', w')``, resized to the
    noise's grid (:func:`resize_mask`). The shift is computed in ``dtype`` (default the noise's), mask, ``mu`` and
    product each rounded to it, as the reference computes it in bfloat16 before adding it to float32 noise.
    """
    dtype = dtype or noise.dtype
    mask = resize_mask(mask.to(noise.device, dtype), *noise.shape[-2:])
    return noise + (1 - mask) * torch.tensor(mu, dtype=dtype, device=noise.device)


def render_ellipses(ellipses: Sequence[Ellipse | None], height: int, width: int) -> torch.Tensor:
    """Maps ``(1, 1, F, h, w)``, one per ellipse; ``None`` (no object) gives an all-zero map, i.e.
    everything transparent and the whole noise shifted."""
    maps = [torch.zeros(height, width) if e is None else gaussian_map(e, height, width) for e in ellipses]
    return torch.stack(maps)[None, None]


def ellipse_masks(start: Ellipse, end: Ellipse | None, latent_frames: int, height: int, width: int) -> torch.Tensor:
    """Maps ``(1, 1, F, h, w)`` of a static ellipse, or one moving linearly from ``start`` to ``end``
    (first latent frame exactly ``start``, last exactly ``end``)."""
    if latent_frames < 1:
        raise WanAlphaError(f"a mask needs at least one latent frame, got {latent_frames}")
    end = start if end is None else end
    steps = [0.0] if latent_frames == 1 else [i / (latent_frames - 1) for i in range(latent_frames)]
    return render_ellipses([start.lerp(end, s) for s in steps], height, width)


MASK_FITS = ("reference", "moments")
DEFAULT_FIT_THRESHOLD = {"reference": 0.1, "moments": 0.3}
"""Alpha above this counts as object: per pixel, before pooling, for ``reference``; per pooled cell for ``moments``."""


def fit_alpha_ellipses(
    alpha: torch.Tensor, stride: int, fit: str = "reference", threshold: float | None = None
) -> list[list[Ellipse | None]]:
    """One fitted ellipse per clip and latent frame of an alpha video ``(B, 1, T, H, W)``.

    Alpha is averaged onto the latent grid of a VAE with ``stride`` pixels per latent cell
    (:func:`~wan_alpha.rgba.pool_alpha_to_latent`: frame 0 alone, then groups of 4), so each ellipse describes
    exactly the video frames its latent frame encodes (``None`` where nothing is opaque). ``fit`` (one of
    :data:`MASK_FITS`):

    - ``reference``: the release's ``gen_gaussian_mask.py``: pixels binarised at ``threshold`` (default 0.1) before
      pooling, then :func:`~wan_alpha.rgba.fit_ellipse_extent` (axes spanning the object, angle of its solid core);
    - ``moments``: alpha pooled as it is, :func:`~wan_alpha.rgba.fit_ellipse` of the cells above ``threshold``
      (default 0.3; tighter axes, the angle of every such cell).

    Ellipses are in frame fractions, so they can be rendered on any grid.
    """
    if fit not in MASK_FITS:
        raise WanAlphaError(f"unknown mask fit {fit!r}: choose one of {', '.join(MASK_FITS)}")
    threshold = DEFAULT_FIT_THRESHOLD[fit] if threshold is None else threshold
    if fit == "reference":
        pooled = pool_alpha_to_latent((alpha > threshold).float(), stride)
        return [[fit_ellipse_extent(frame) for frame in clip[0]] for clip in pooled]
    pooled = pool_alpha_to_latent(alpha.float(), stride)
    return [[fit_ellipse(frame, threshold) for frame in clip[0]] for clip in pooled]


def masks_from_alpha(
    alpha: torch.Tensor, stride: int, fit: str = "reference", threshold: float | None = None
) -> torch.Tensor:
    """Maps ``(B, 1, F, h, w)`` on the latent grid of an alpha video ``(B, 1, T, H, W)``: the training-time
    ``G`` of each clip (see :func:`fit_alpha_ellipses`)."""
    _, _, _, height, width = alpha.shape
    clips = fit_alpha_ellipses(alpha, stride, fit, threshold)
    return torch.cat([render_ellipses(e, height // stride, width // stride) for e in clips])


def _frames_for(latent_frames: int) -> int:
    return 4 * (latent_frames - 1) + 1


def check_mask(mask: torch.Tensor, latent_frames: int, source: str = "mask") -> torch.Tensor:
    """``mask`` as float32 ``(B, 1, F, h, w)`` (on its own grid, which :func:`shift_noise` resizes) if it has
    ``latent_frames`` maps; else a clear error naming the frame counts."""
    mask = validate_mask(mask, source)
    f = mask.shape[2]
    if f != latent_frames:
        raise WanAlphaError(
            f"{source} has {f} latent frames ({_frames_for(f)} video frames) but the video has "
            f"{latent_frames} ({_frames_for(latent_frames)} frames): use a mask made for "
            f"{_frames_for(latent_frames)} frames or generate {_frames_for(f)} frames"
        )
    return mask


def resolve_mask(
    latent_frames: int,
    height: int,
    width: int,
    *,
    mask: torch.Tensor | None = None,
    ellipse: Ellipse | None = None,
    ellipse_end: Ellipse | None = None,
) -> torch.Tensor:
    """The map ``G`` for one generation on a latent grid of ``latent_frames x height x width``: an explicit
    ``mask`` (on its own grid), a (moving) ``ellipse``, or by default :data:`DEFAULT_ELLIPSE`."""
    if mask is not None and (ellipse is not None or ellipse_end is not None):
        raise WanAlphaError("give a mask or an ellipse, not both")
    if ellipse_end is not None and ellipse is None:
        raise WanAlphaError("an end ellipse needs a start ellipse (--ellipse) to move from")
    if mask is not None:
        return check_mask(mask, latent_frames)
    return ellipse_masks(ellipse or DEFAULT_ELLIPSE, ellipse_end, latent_frames, height, width)
