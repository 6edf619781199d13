"""The tiny recipe's base VAE stages (1, 1b, 1c): train a small RGB ``AutoencoderKLWan`` from scratch, in the role
Wan2.1's VAE plays at real scale (where it is given). Each clip is soft-composited over a random background
(palette colour, random solid or gradient: the RGB videos a base model sees), encoded, and decoded from its
posterior mean; the loss is :func:`wan_alpha.losses.recon_loss` plus ``kl_weight * KL``. At the end the per-channel latent mean
and std over ``stats_clips`` training clips are written into the VAE config as ``latents_mean`` /
``latents_std``, so the DiT sees unit-scale latents as with Wan's own statistics. The run folder
gets ``config.yaml``, ``log.jsonl``, ``checkpoints/`` and ``vae/`` (a diffusers folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKLWan
from torch.utils.data import DataLoader, Dataset

from wan_alpha.config import load_config
from wan_alpha.errors import WanAlphaError
from wan_alpha.eval import psnr
from wan_alpha.io import atomic_output
from wan_alpha.losses import ReconLossConfig, recon_loss
from wan_alpha.models.rgba_vae import decode_unclamped
from wan_alpha.rgba import PALETTE, soft_render
from wan_alpha.train.loop import (
    DataConfig,
    LoopConfig,
    build_datasets,
    make_accelerator,
    prepare_output,
    seeded_rng,
    train_loop,
)
from wan_alpha.train.vae import VAEModelConfig
from wan_alpha.train.vae import build_base_vae as load_base_vae

from . import config_path
from .rgba_vae import register_latent_stats

MODEL_DIR = "vae"
BACKGROUNDS = ("palette", "solid", "gradient", "mixed")


@dataclass
class BaseVAETrainConfig:
    """A base VAE stage (``configs/tiny_base_vae*.yaml``)."""

    data: DataConfig
    vae_config: dict[str, Any] | None = None  # a fresh AutoencoderKLWan ...
    # ... or the saved one of an earlier run to continue from: a second phase on longer clips, since a
    # causal VAE only decodes well as many latent frames as its training clips had
    init_from: str | None = None
    loss: ReconLossConfig = field(default_factory=ReconLossConfig)
    kl_weight: float = 1e-6
    background: str = "mixed"
    stats_clips: int = 64
    # A from-scratch Wan VAE barely trains: its decoder is nearly blind to the small initial latents (std ~0.2)
    # while Adam moves the encoder at full rate on tiny gradients; stage 1 uses 10 and 0.1.
    latent_init_scale: float = 1.0  # multiplies the posterior-mean half of quant_conv at init
    encoder_lr_scale: float = 1.0  # encoder + quant_conv learn at this fraction of the learning rate
    train: LoopConfig = field(default_factory=LoopConfig)

    def __post_init__(self) -> None:
        if (self.vae_config is None) == (self.init_from is None):
            raise WanAlphaError("base VAE stage: give exactly one of vae_config (from scratch) and init_from (a VAE folder)")


def random_background(kind: str, height: int, width: int, rng: np.random.Generator) -> torch.Tensor:
    """A background ``(3, 1, H, W)`` in [-1, 1]: a palette colour, a random solid, or a linear gradient."""
    if kind == "mixed":
        kind = BACKGROUNDS[int(rng.integers(3))]
    if kind == "palette":
        colour = PALETTE[int(rng.integers(len(PALETTE)))]
        return colour.view(3, 1, 1, 1).expand(3, 1, height, width).clone()
    if kind == "solid":
        return (
            torch.from_numpy(rng.uniform(-1, 1, 3).astype(np.float32))
            .view(3, 1, 1, 1)
            .expand(3, 1, height, width)
            .clone()
        )
    if kind == "gradient":
        start, end = (torch.from_numpy(rng.uniform(-1, 1, 3).astype(np.float32)).view(3, 1, 1, 1) for _ in range(2))
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
        ramp = xs * np.cos(angle) + ys * np.sin(angle)
        ramp = ((ramp - ramp.min()) / (ramp.max() - ramp.min()).clamp_min(1e-6)).view(1, 1, height, width)
        return start + (end - start) * ramp
    raise WanAlphaError(f"unknown background {kind!r}: choose {', '.join(BACKGROUNDS)}")


def composite(rgb: torch.Tensor, alpha: torch.Tensor, generator: torch.Generator, kind: str = "mixed") -> torch.Tensor:
    """Each clip of ``rgb``/``alpha`` (B,C,T,H,W) soft-rendered over its own random background."""
    seeds = torch.randint(2**31, (rgb.shape[0],), generator=generator).tolist()
    height, width = rgb.shape[-2:]
    backgrounds = torch.stack([random_background(kind, height, width, np.random.default_rng(s)) for s in seeds])
    return soft_render(rgb, alpha, backgrounds.to(rgb))


def latent_stats(vae: AutoencoderKLWan) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, std)`` shaped ``(1, z, 1, 1, 1)`` from the VAE config (zeros/ones when absent)."""
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(vae.config.get("latents_mean") or [0.0] * vae.config.z_dim).view(shape)
    std = torch.tensor(vae.config.get("latents_std") or [1.0] * vae.config.z_dim).view(shape)
    return mean.to(vae.device), std.to(vae.device)


@torch.no_grad()
def encode_rgb(vae: AutoencoderKLWan, rgb: torch.Tensor, normalized: bool = True) -> torch.Tensor:
    """Posterior mean of an RGB clip, normalised with the VAE's latent statistics (as the DiT sees it)."""
    z = vae.encode(rgb.to(vae.device, vae.dtype)).latent_dist.mode()
    if not normalized:
        return z
    mean, std = latent_stats(vae)
    return (z - mean) / std


def base_vae_loss(vae, rgb: torch.Tensor, loss: ReconLossConfig, kl_weight: float) -> dict[str, torch.Tensor]:
    """Reconstruction terms of ``rgb`` decoded from the posterior mean, plus ``kl_weight * KL``.

    The mean, not a sample: a fresh posterior has std ~1 around means ~0, which buries the signal
    (measured: no progress in 300 steps at this scale); the KL term still bounds the latents.
    """
    posterior = vae.encode(rgb).latent_dist
    recon = decode_unclamped(vae, posterior.mean)
    terms = recon_loss(recon, rgb, loss)
    terms["kl"] = 0.5 * (posterior.mean.pow(2) + posterior.var - 1 - posterior.logvar).mean()  # per element
    terms["loss"] = terms["loss"] + kl_weight * terms["kl"]
    return terms


@torch.no_grad()
def reconstruct(vae: AutoencoderKLWan, clip: torch.Tensor) -> torch.Tensor:
    """``clip`` (B, 3, T, H, W) in [-1, 1] encoded to its posterior mean and decoded, clamped to [-1, 1]."""
    return vae.decode(encode_rgb(vae, clip, normalized=False)).sample.clamp(-1, 1)


@torch.no_grad()
def composite_rgb_psnr(vae: AutoencoderKLWan, dataset: Dataset, background: str = "mixed") -> float | None:
    """Mean RGB PSNR of the dataset's clips composited over random backgrounds (seed 0) and reconstructed;
    ``None`` for an empty dataset. The stage's validation metric."""
    vae.eval()
    generator = torch.Generator().manual_seed(0)
    scores = []
    for index in range(len(dataset)):
        item = dataset[index]
        rgb = composite(item["rgb"][None], item["alpha"][None], generator, background).to(vae.device)
        scores.append(psnr((reconstruct(vae, rgb)[0] + 1) / 2, (rgb[0] + 1) / 2))
    return float(np.mean(scores)) if scores else None


def fit_latent_stats(vae: AutoencoderKLWan, dataset: Dataset, clips: int, background: str, seed: int) -> None:
    """Write the per-channel mean/std of the posterior means over ``clips`` clips into the config."""
    register_latent_stats(vae, dataset, clips, seed, lambda item, generator: encode_rgb(
        vae, composite(item["rgb"][None], item["alpha"][None], generator, background), normalized=False))


def build_base_vae(cfg: BaseVAETrainConfig) -> AutoencoderKLWan:
    """The ``init_from`` VAE, or the seeded from-scratch one (rebuilt identically on ``--resume``) with its
    posterior means times ``latent_init_scale``."""
    if cfg.init_from is not None:
        return load_base_vae(VAEModelConfig(base_vae=cfg.init_from))
    with seeded_rng(cfg.train.seed):
        try:
            vae = AutoencoderKLWan(**cfg.vae_config)
        except TypeError as err:
            raise WanAlphaError(f"vae_config is not an AutoencoderKLWan config: {err}") from err
    with torch.no_grad():  # quant_conv's first z_dim outputs are the means; the logvars stay as built
        vae.quant_conv.weight[: vae.config.z_dim] *= cfg.latent_init_scale
        vae.quant_conv.bias[: vae.config.z_dim] *= cfg.latent_init_scale
    return vae


def base_vae_optimizer(vae: AutoencoderKLWan, cfg: BaseVAETrainConfig) -> torch.optim.Optimizer:
    """AdamW with the encoder (and quant_conv) at ``encoder_lr_scale`` times the learning rate."""
    encoder = [p for name, p in vae.named_parameters() if name.startswith(("encoder.", "quant_conv."))]
    ids = {id(p) for p in encoder}
    groups = [{"params": encoder, "lr": cfg.train.learning_rate * cfg.encoder_lr_scale},
              {"params": [p for p in vae.parameters() if id(p) not in ids]}]
    return torch.optim.AdamW(groups, lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)


def train_base_vae(
    config: str | os.PathLike, output_dir: str | os.PathLike, resume: bool = False, overrides: dict[str, Any] | None = None
) -> Path:
    """Train the base RGB VAE; returns the saved diffusers folder ``OUTPUT/vae``."""
    cfg = load_config(BaseVAETrainConfig, config_path(config), overrides)
    vae = build_base_vae(cfg)
    train_set, val_set = build_datasets(cfg.data)
    output_dir = prepare_output(output_dir, cfg, resume)
    accelerator = make_accelerator(cfg.train, output_dir)
    loader = DataLoader(train_set, batch_size=cfg.train.batch_size, shuffle=True, drop_last=True,
                        num_workers=cfg.train.num_workers)
    optimizer = base_vae_optimizer(vae, cfg)
    model, optimizer, loader = accelerator.prepare(vae, optimizer, loader)

    def step_fn(batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        rgb = composite(batch["rgb"], batch["alpha"], generator, cfg.background)
        return base_vae_loss(model, rgb, cfg.loss, cfg.kl_weight)

    def validate_fn(step: int) -> dict[str, float]:
        if val_set is None or not accelerator.is_main_process:
            return {}
        score = composite_rgb_psnr(accelerator.unwrap_model(model), val_set, cfg.background)
        return {} if score is None else {"val_rgb_psnr": score}

    train_loop(accelerator, model, optimizer, loader, step_fn, cfg.train, output_dir, resume, validate_fn)
    final = accelerator.unwrap_model(model).eval()
    target = output_dir / MODEL_DIR
    if accelerator.is_main_process:
        fit_latent_stats(final, train_set, cfg.stats_clips, cfg.background, cfg.train.seed)
        with atomic_output(target, overwrite=True, directory=True) as tmp:
            final.save_pretrained(tmp)
    accelerator.wait_for_everyone()
    return target
