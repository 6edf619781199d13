"""Training losses: reconstruction and TABD for the RGBA VAE, rectified flow with shifted noise for the DiT."""

from .flow import rectified_flow_pair, shifted_flow_loss

__all__ = ["rectified_flow_pair", "shifted_flow_loss"]
