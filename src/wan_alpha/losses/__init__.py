"""Training losses: reconstruction and TABD for the RGBA VAE, rectified flow with shifted noise for the DiT."""

from .flow import rectified_flow_pair, shifted_flow_loss
from .recon import (
    ReconLossConfig,
    alpha_loss,
    balanced_alpha_l1,
    build_perceptual,
    load_vgg16_relu2_2,
    recon_loss,
    rendering_losses,
    saturation_margin_loss,
)
from .tabd import TABD_MODES, combine_tabd, tabd_loss, tabd_sign_mask

__all__ = [
    "TABD_MODES",
    "ReconLossConfig",
    "alpha_loss",
    "balanced_alpha_l1",
    "build_perceptual",
    "combine_tabd",
    "load_vgg16_relu2_2",
    "recon_loss",
    "rectified_flow_pair",
    "rendering_losses",
    "saturation_margin_loss",
    "shifted_flow_loss",
    "tabd_loss",
    "tabd_sign_mask",
]
