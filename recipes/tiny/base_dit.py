"""The tiny recipe's base DiT stage (2): a small text-to-RGB-video Wan DiT trained from scratch, in the role
Wan2.1-T2V plays at real scale (where it is given).

It is the method's stage-2 trainer with other latents and other weights: every DiT weight trains (no adapter),
with the plain rectified-flow loss (``mu_shift: 0``), on latents of the recipe's base RGB VAE of clips
composited over random backgrounds (the RGB videos a base model sees); it writes ``transformer/`` only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wan_alpha.config import load_config
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import atomic_output
from wan_alpha.models.dit import build_dit
from wan_alpha.models.text_encoders import TextEncoder
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.train.dit import DiTTrainConfig, DiTTrainer
from wan_alpha.train.vae import VAEModelConfig, build_base_vae

from . import config_path
from .base_vae import composite, encode_rgb

TRANSFORMER_DIR = "transformer"


@dataclass
class BaseDiTConfig(DiTTrainConfig):
    """``configs/tiny_base_dit.yaml``: the method's DiT config on latents of ``base_vae`` (a base VAE folder)."""

    base_vae: str = ""

    def check_latent_source(self) -> None:
        if not self.base_vae:
            raise WanAlphaError("base_vae: give the folder of the base AutoencoderKLWan (the base VAE stage's vae/)")


class BaseDiTTrainer(DiTTrainer):
    config: BaseDiTConfig
    result_dir = TRANSFORMER_DIR

    def load_vae(self) -> torch.nn.Module:
        return build_base_vae(VAEModelConfig(base_vae=self.config.base_vae))

    def latent_channels(self, vae: torch.nn.Module) -> int:
        return vae.config.z_dim

    def encode_latents(self, vae: torch.nn.Module, rgb: torch.Tensor, alpha: torch.Tensor,
                       generator: torch.Generator) -> torch.Tensor:
        return encode_rgb(vae, composite(rgb, alpha, generator)).float()

    def build_transformer(self) -> torch.nn.Module:
        return build_dit(self.config.dit_config, self.config.base_dit)

    def write_samples(self, pipe: WanAlphaPipeline, folder: Path) -> list[Path]:
        return []  # an RGB model: no RGBA VAE to decode samples with

    def save(self, transformer: torch.nn.Module, output_dir: Path, vae: torch.nn.Module, text: TextEncoder) -> None:
        with atomic_output(output_dir / self.result_dir, overwrite=True, directory=True) as tmp:
            transformer.save_pretrained(tmp)


def train_base_dit(config: str | os.PathLike, output: str | os.PathLike, resume: bool = False,
                   overrides: dict[str, Any] | None = None) -> Path:
    """Run the base DiT stage into ``output``; returns its ``transformer/`` folder."""
    overrides = {**(overrides or {}), "output_dir": str(output)}
    return BaseDiTTrainer(load_config(BaseDiTConfig, config_path(config), overrides)).train(resume)
