"""ComfyUI's tensor layouts and ours, converted in one place.

What ComfyUI passes between nodes (read in its source: ``nodes.py`` ``LoadImage``/``VAEDecode``,
``comfy_extras/nodes_compositing.py``, ``comfy/latent_formats.py``, ``comfy/samplers.py``):

* ``IMAGE``: float ``[N, H, W, C]`` in 0..1; a video is its ``N`` frames. ``C`` is 3 (RGB) or 4 (RGBA with
  straight alpha, as ``JoinImageWithAlpha`` makes it).
* ``MASK``: float ``[N, H, W]`` (or ``[H, W]``). A mask made from alpha is ``1 - alpha``: ``LoadImage`` and
  ``SplitImageWithAlpha`` invert alpha into the mask and ``JoinImageWithAlpha`` inverts it back (ComfyUI's
  Wan-Alpha template puts an ``InvertMask`` between its alpha decode and ``JoinImageWithAlpha`` for this).
  Masks from segmentation nodes are 1 on the object instead, so every node here that reads or writes a
  MASK says which it means (:data:`MASK_MEANS`).
* ``LATENT``: ``{"samples": [B, 16, F, h, w]}`` for Wan, holding *raw* VAE latents: a sampler normalises
  them with ``latent_formats.Wan21`` (``(z - latents_mean) / latents_std``, scale 1) on the way in and undoes
  it on the way out, and the noise a ``NOISE`` object generates lives in that normalised space.
"""

from __future__ import annotations

import torch

from ..errors import WanAlphaError

COMFY_MASK = "1 - alpha (ComfyUI)"
ALPHA_MASK = "alpha (1 = opaque)"
MASK_MEANS = (COMFY_MASK, ALPHA_MASK)
"""What a MASK holds: ComfyUI's own convention for masks from alpha (``LoadImage``, ``SplitImageWithAlpha``,
``JoinImageWithAlpha``), or alpha itself (e.g. a segmentation mask, 1 on the object)."""

WAN21_LATENTS_MEAN = (-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                      0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921)
WAN21_LATENTS_STD = (2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                     3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160)
"""``comfy.latent_formats.Wan21``'s statistics (also diffusers' ``AutoencoderKLWan`` defaults): what ComfyUI
normalises every Wan2.1 latent with, whatever VAE made it."""


def check_video_latent(samples: torch.Tensor, channels: int | None = None) -> None:
    """Refuse anything but a plain video latent ``[B, C, F, h, w]`` (``channels`` of them if given): an image latent,
    or the nested audio + video latents some ComfyUI models use."""
    nested = getattr(samples, "is_nested", False)
    if nested or samples.ndim != 5 or channels not in (None, samples.shape[1]):
        raise WanAlphaError(f"expected a Wan2.1 video latent [B, {channels or 'C'}, F, h, w], got "
                            f"{'a nested latent' if nested else tuple(samples.shape)}: connect the LATENT of "
                            "EmptyHunyuanLatentVideo or of a Wan2.1 sampler")


def normalize_comfy_latent(samples: torch.Tensor) -> torch.Tensor:
    """A ComfyUI Wan ``LATENT["samples"]`` (raw) -> the normalised latent the DiT produced (float32)."""
    check_video_latent(samples, len(WAN21_LATENTS_MEAN))
    shape = (1, -1, 1, 1, 1)
    mean = torch.tensor(WAN21_LATENTS_MEAN, device=samples.device).view(shape)
    std = torch.tensor(WAN21_LATENTS_STD, device=samples.device).view(shape)
    return (samples.float() - mean) / std


def _check_mask_layout(mask: torch.Tensor) -> torch.Tensor:
    mask = mask[None] if mask.ndim == 2 else mask
    if mask.ndim != 3:
        raise WanAlphaError(f"a MASK must be [N, H, W] or [H, W], got {tuple(mask.shape)}")
    return mask.float()


def alpha_of(image: torch.Tensor | None, mask: torch.Tensor | None, mask_means: str) -> torch.Tensor:
    """Straight alpha ``[N, H, W]`` in 0..1 from a MASK (read as ``mask_means`` says) or the 4th channel of an
    RGBA IMAGE; exactly one of the two must carry it. A one-frame mask is repeated over the image's frames."""
    if mask_means not in MASK_MEANS:
        raise WanAlphaError(f"unknown mask meaning {mask_means!r}: choose one of {', '.join(MASK_MEANS)}")
    rgba = image is not None and image.ndim == 4 and image.shape[-1] == 4
    if image is not None and (image.ndim != 4 or image.shape[-1] not in (3, 4)):
        raise WanAlphaError(f"an IMAGE must be [N, H, W, 3 or 4], got {tuple(image.shape)}")
    if mask is not None and rgba:
        raise WanAlphaError("the IMAGE has an alpha channel and a MASK is connected too: connect one of them")
    if mask is None and not rgba:
        raise WanAlphaError("no alpha: connect a MASK, or an RGBA IMAGE (e.g. from JoinImageWithAlpha)")
    if mask is None:
        return image[..., 3].float()
    mask = _check_mask_layout(mask)
    if image is not None:
        if mask.shape[1:] != image.shape[1:3] or mask.shape[0] not in (1, image.shape[0]):
            raise WanAlphaError(f"MASK {tuple(mask.shape)} does not fit IMAGE {tuple(image.shape)}: "
                                "give one mask per frame (or one for all) at the image's size")
        mask = mask.expand(image.shape[0], -1, -1)
    return 1 - mask if mask_means == COMFY_MASK else mask


def frames_to_clip(image: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IMAGE ``[T, H, W, C]`` + alpha ``[T, H, W]`` -> one clip ``rgb (1, 3, T, H, W)`` in [-1, 1] and
    ``alpha (1, 1, T, H, W)`` in [0, 1] (our layout, SPEC section 1)."""
    rgb = image[..., :3].float().permute(3, 0, 1, 2)[None] * 2 - 1
    return rgb, alpha.float()[None, None]


def clip_to_frames(rgb: torch.Tensor, alpha: torch.Tensor, mask_means: str = COMFY_MASK) -> tuple[torch.Tensor, torch.Tensor]:
    """Clips ``rgb (B, 3, T, H, W)`` in [-1, 1] and ``alpha (B, 1, T, H, W)`` -> IMAGE ``[B*T, H, W, 3]`` in 0..1 and
    MASK ``[B*T, H, W]`` (``1 - alpha`` by default, ComfyUI's convention), frames of every clip in turn, as
    ComfyUI's ``VAEDecode`` flattens a video batch."""
    image = ((rgb.float() + 1) / 2).clamp(0, 1).permute(0, 2, 3, 4, 1).flatten(0, 1)
    alpha = alpha.float().clamp(0, 1)[:, 0].flatten(0, 1)
    return image.cpu(), (1 - alpha if mask_means == COMFY_MASK else alpha).cpu()
