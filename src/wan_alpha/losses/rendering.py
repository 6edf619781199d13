"""The rendering loss of the RGBA VAE (SPEC section 2), and the naive RGB-A baseline it improves on.

Rendering loss: ``L_alpha + L_rgb_soft + L_rgb_hard``, each a :func:`~wan_alpha.losses.recon.recon_loss`
on clips in [-1, 1]:

- ``L_alpha``: reconstructed alpha against the clip's alpha (both mapped to [-1, 1]);
- ``L_rgb_soft``: the clip soft-rendered over a palette colour, ``rgb * a + c * (1 - a)``, against the
  reconstruction rendered the same way with the *reconstructed* alpha;
- ``L_rgb_hard``: the same with the hard render ``rgb * [a > 0] + c * (1 - [a > 0])`` over an independently
  drawn colour (its support passes no gradient to alpha, only to rgb).

The encoder sees the clip hard-rendered over a random palette colour, so RGB under transparent pixels is
never a fixed value the VAE could learn by heart. The naive baseline (the paper's "RGB-A VAE" row) encodes
the clip over black and scores alpha and that black-filled RGB only.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..rgba import black_background, hard_render, random_palette_colors, soft_render
from .recon import ReconLossConfig, recon_loss


def alpha_loss(
    alpha_hat: torch.Tensor, alpha: torch.Tensor, config: ReconLossConfig | None = None, vgg: nn.Module | None = None
) -> torch.Tensor:
    """``L_alpha``: :func:`recon_loss` of alpha on the [-1, 1] scale of the renders."""
    return recon_loss(alpha_hat * 2 - 1, alpha * 2 - 1, config, vgg)["loss"]


def rendering_losses(
    rgb_hat: torch.Tensor,
    alpha_hat: torch.Tensor,
    rgb: torch.Tensor,
    alpha: torch.Tensor,
    config: ReconLossConfig | None = None,
    vgg: nn.Module | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """``L_alpha + L_rgb_soft + L_rgb_hard`` (``"loss"``) and each of them (``"alpha"``, ``"soft"``, ``"hard"``)."""
    batch = rgb.shape[0]
    soft_bg = random_palette_colors(batch, generator, rgb.device).to(rgb.dtype)
    hard_bg = random_palette_colors(batch, generator, rgb.device).to(rgb.dtype)
    terms = {
        "alpha": alpha_loss(alpha_hat, alpha, config, vgg),
        "soft": recon_loss(soft_render(rgb_hat, alpha_hat, soft_bg), soft_render(rgb, alpha, soft_bg), config, vgg)["loss"],
        "hard": recon_loss(hard_render(rgb_hat, alpha_hat, hard_bg), hard_render(rgb, alpha, hard_bg), config, vgg)["loss"],
    }
    terms["loss"] = terms["alpha"] + terms["soft"] + terms["hard"]
    return terms


def naive_losses(
    rgb_hat: torch.Tensor,
    alpha_hat: torch.Tensor,
    rgb: torch.Tensor,
    alpha: torch.Tensor,
    config: ReconLossConfig | None = None,
    vgg: nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """``L_alpha + L_rgb`` with RGB as a plain RGB-A VAE sees it: black under transparent pixels."""
    terms = {
        "alpha": alpha_loss(alpha_hat, alpha, config, vgg),
        "rgb": recon_loss(rgb_hat, hard_render(rgb, alpha, black_background(rgb)), config, vgg)["loss"],
    }
    terms["loss"] = terms["alpha"] + terms["rgb"]
    return terms
