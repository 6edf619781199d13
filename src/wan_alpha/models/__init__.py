"""Models: the RGBA VAE (stage 1) and its LoRA layer; the DiT and its DoRA, text encoders (stage 2); checkpoint
files by job: ``state_dicts``, ``wan_loaders``, ``reference_vae``, ``adapters``."""

from .lora_conv import LoraWanCausalConv3d, merge_lora
from .onednn_conv import use_onednn_conv3d
from .rgba_vae import RGBAVAE, FusionBlock, RGBAVAEOutput

__all__ = ["RGBAVAE", "FusionBlock", "LoraWanCausalConv3d", "RGBAVAEOutput", "merge_lora", "use_onednn_conv3d"]
