"""Training losses: the rendering loss and TABD for the RGBA VAE, rectified flow with shifted noise for the DiT."""

from .flow import rectified_flow_pair, shifted_flow_loss
from .recon import ReconLossConfig, build_perceptual, load_vgg16_relu2_2, recon_loss
from .rendering import alpha_loss, naive_losses, rendering_losses
from .tabd import TABD_MODES, combine_tabd, tabd_loss, tabd_sign_mask

__all__ = [
    "TABD_MODES",
    "ReconLossConfig",
    "alpha_loss",
    "build_perceptual",
    "combine_tabd",
    "load_vgg16_relu2_2",
    "naive_losses",
    "recon_loss",
    "rectified_flow_pair",
    "rendering_losses",
    "shifted_flow_loss",
    "tabd_loss",
    "tabd_sign_mask",
]
