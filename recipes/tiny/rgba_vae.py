"""The tiny recipe's RGBA VAE stages (3, 3b, 3c): the method's stage-1 trainer with the recipe's extensions.

A small base VAE and a small DiT need more than the method's losses to give a usable alpha channel; each
extension is a config key of this recipe (``configs/tiny_rgba_vae*.yaml``), not of the method:

- ``model.fusion_init: rgb``: the fusion block starts as the base VAE's own encoder head on the RGB features
  (identity blocks, posterior-mean head), so the first fused latent already depends on the clip; a random
  fusion block gave latents from which these decoders learnt only the mean alpha.
- ``model.freeze_fusion``: only the decoder LoRAs train, so latents (and a DiT trained on them) stay valid.
- ``loss.alpha_balance``: that share of the alpha term's L1 weighs a clip's transparent and other pixels
  equally (:func:`balanced_alpha_l1`): on clips that are 60-95% transparent, plain L1 gives up the subject.
- ``loss.saturation`` / ``saturation_margin``: a hinge pushing the alpha decoder's unclamped channels past the
  clamp on transparent and opaque pixels (:func:`saturation_margin_loss`), so a sampled latent still decodes
  to exactly 0 or 1 there instead of a haze or a 0.95 subject.
- ``decode_scale_min``: each clip's latent is decoded times U(decode_scale_min, 1), as the slightly shrunk
  latents a small DiT samples are, so the decoders do not turn them into fading subjects.
- ``latent_stats_clips``: refit the fused latents' mean/std after training, so the small DiT sees unit-scale
  latents (Wan2.1's DiT expects Wan's own statistics, which the method keeps).
- ``tabd.context_file``: the empty-prompt context read from a file (:func:`write_tabd_context`), for a GPU
  machine that has the DiT but not the text encoder's weights.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLWan
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset

from wan_alpha.config import load_config
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import atomic_output
from wan_alpha.losses import ReconLossConfig
from wan_alpha.models import RGBAVAE, FusionBlock
from wan_alpha.rgba import random_palette_colors, region_masks
from wan_alpha.train.vae import (
    TABD,
    RGBAVAETrainer,
    TABDConfig,
    VAEModelConfig,
    VAETrainConfig,
    add_tabd,
    build_base_vae,
    encode_tabd_context,
    load_tabd_dit,
    reconstruction_terms,
)

from . import config_path

FUSION_INITS = ("random", "rgb")
TABD_CONTEXT_KEY = "context"


@dataclass
class TinyVAEModelConfig(VAEModelConfig):
    fusion_init: str = "random"
    freeze_fusion: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.fusion_init not in FUSION_INITS:
            raise WanAlphaError(f"model.fusion_init must be one of {', '.join(FUSION_INITS)}, got {self.fusion_init!r}")


@dataclass
class TinyLossConfig(ReconLossConfig):
    alpha_balance: float = 0.0
    saturation: float = 0.0
    saturation_margin: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha_balance <= 1.0:
            raise WanAlphaError(f"loss.alpha_balance must be in [0, 1], got {self.alpha_balance}")
        if self.saturation < 0 or self.saturation_margin < 0:
            raise WanAlphaError(
                f"loss.saturation and loss.saturation_margin must be >= 0, got {self.saturation}, {self.saturation_margin}"
            )


@dataclass
class TinyTABDConfig(TABDConfig):
    context_file: str | None = None


@dataclass
class TinyRGBAVAEConfig(VAETrainConfig):
    """A ``configs/tiny_rgba_vae*.yaml`` stage: the method's config plus the extensions of the module docstring."""

    model: TinyVAEModelConfig
    loss: TinyLossConfig = field(default_factory=TinyLossConfig)
    tabd: TinyTABDConfig = field(default_factory=lambda: TinyTABDConfig(mode="off"))
    decode_scale_min: float = 1.0
    latent_stats_clips: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.decode_scale_min <= 1:
            raise WanAlphaError(f"decode_scale_min must be in (0, 1], got {self.decode_scale_min}")
        if self.extensions and not self.rendering:
            raise WanAlphaError(f"{', '.join(self.extensions)} extend the rendering losses: set rendering: true or "
                                "drop them")

    @property
    def extensions(self) -> list[str]:
        """The recipe's additions to the method's rendering loss that this config switches on."""
        return [name for name, on in (("decode_scale_min", self.decode_scale_min < 1),
                                      ("loss.alpha_balance", self.loss.alpha_balance),
                                      ("loss.saturation", self.loss.saturation)) if on]


@torch.no_grad()
def init_fusion_as_base_head(fusion: FusionBlock, base_vae: AutoencoderKLWan) -> None:
    """Make ``fusion`` the base VAE's encoder head on the RGB features: conv_in passes them through, every
    residual and attention branch starts at zero (identity blocks), and norm_out/conv_out become the base
    norm_out and conv_out composed with the posterior-mean half of quant_conv."""
    dim, z_dim = fusion.conv_out.in_channels, fusion.conv_out.out_channels
    fusion.conv_in.weight.zero_()
    fusion.conv_in.weight[:, :dim, 0, 0, 0] = torch.eye(dim)
    fusion.conv_in.bias.zero_()
    for resnet in fusion.resnets:
        resnet.conv2.weight.zero_()
        resnet.conv2.bias.zero_()
    for attn in fusion.attentions:
        attn.proj.weight.zero_()
        attn.proj.bias.zero_()
    head = base_vae.encoder
    fusion.norm_out.load_state_dict(head.norm_out.state_dict())
    quant = base_vae.quant_conv.weight[:z_dim, :, 0, 0, 0]
    fusion.conv_out.weight.copy_(torch.einsum("zc,cikhw->zikhw", quant, head.conv_out.weight))
    fusion.conv_out.bias.copy_(quant @ head.conv_out.bias + base_vae.quant_conv.bias[:z_dim])


def _half_and_half(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Two ``(error, mask)`` pairs (B, 1, T, H, W): each clip's mean error over each mask, the two counting
    half each (an empty mask counts nothing), averaged over the batch."""
    dims = tuple(range(1, a[1].ndim))
    means = [(error * mask).sum(dims) / mask.sum(dims).clamp_min(1) for error, mask in (a, b)]
    return 0.5 * (means[0] + means[1]).mean()


def balanced_alpha_l1(alpha_hat: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """L1 of alpha on the [-1, 1] scale, the mean over a clip's transparent pixels and the mean over its
    other pixels counting half each (a part a clip lacks counts nothing)."""
    _, _, transparent = region_masks(alpha)
    error = 2 * (alpha_hat - alpha).abs()
    return _half_and_half((error, transparent), (error, ~transparent))


def alpha_balance_shift(alpha_hat: torch.Tensor, alpha: torch.Tensor, loss: TinyLossConfig) -> torch.Tensor:
    """What moving ``loss.alpha_balance`` of the alpha term's L1 weight to :func:`balanced_alpha_l1` adds to the
    method's alpha term (whose L1 is the plain mean of ``|2 (alpha_hat - alpha)|``)."""
    plain = 2 * (alpha_hat - alpha).abs().mean()
    return loss.l1 * loss.alpha_balance * (balanced_alpha_l1(alpha_hat, alpha) - plain)


def saturation_margin_loss(alpha_channels: torch.Tensor, alpha: torch.Tensor, margin: float) -> torch.Tensor:
    """Hinge pushing the alpha decoder's unclamped channels (B, 3, T, H, W), [-1, 1] scale, past -1 - margin
    where the truth is transparent and past 1 + margin where it is opaque; the mean over a clip's transparent
    pixels and the mean over its opaque ones count half each (a part a clip lacks counts nothing)."""
    opaque, _, transparent = region_masks(alpha)
    below = F.relu(1 + margin - alpha_channels).mean(dim=1, keepdim=True)
    above = F.relu(alpha_channels + 1 + margin).mean(dim=1, keepdim=True)
    return _half_and_half((above, transparent), (below, opaque))


@torch.no_grad()
def register_latent_stats(
    model: RGBAVAE | AutoencoderKLWan, dataset: Dataset, clips: int, seed: int,
    encode: Callable[[dict, torch.Generator], torch.Tensor],
) -> None:
    """Write the per-channel ``latents_mean``/``latents_std`` of ``encode(item, generator)`` (raw latents
    ``(1, C, ...)``) over the first ``clips`` items into ``model``'s config, as diffusers VAE configs keep them."""
    generator = torch.Generator().manual_seed(seed)
    latents = [encode(dataset[index], generator) for index in range(min(clips, len(dataset)))]
    z = torch.cat([latent.float().transpose(0, 1).flatten(1) for latent in latents], dim=1)
    model.register_to_config(latents_mean=z.mean(1).tolist(), latents_std=z.std(1).clamp_min(1e-3).tolist())


def fit_rgba_latent_stats(vae: RGBAVAE, dataset: Dataset, clips: int, seed: int) -> None:
    """Write the statistics of the fused latents of ``clips`` clips into ``vae``'s config, each clip
    hard-rendered over a random palette colour as the DiT trainer encodes it."""
    device = vae.device
    register_latent_stats(vae, dataset, clips, seed, lambda item, generator: vae.encode(
        item["rgb"][None].to(device), item["alpha"][None].to(device),
        background=random_palette_colors(1, generator, device), normalized=False))


def write_tabd_context(config: TABDConfig, path: str | os.PathLike) -> Path:
    """Encode the empty prompt with ``config``'s text encoder and save it for ``tabd.context_file``."""
    if config.text_encoder == "none":
        raise WanAlphaError("tabd.text_encoder none has no context to save: name the DiT's text encoder")
    with atomic_output(path) as tmp:
        save_file({TABD_CONTEXT_KEY: encode_tabd_context(config, None).contiguous()}, str(tmp))
    return Path(path)


def load_tabd_context(path: str | os.PathLike, text_dim: int) -> torch.Tensor:
    """A context saved by :func:`write_tabd_context`, checked against the DiT's ``text_dim``."""
    if not Path(path).is_file():
        raise WanAlphaError(f"tabd.context_file {path} does not exist: write it with write_tabd_context "
                            "or drop context_file to encode the empty prompt with tabd.text_encoder")
    context = load_file(str(path)).get(TABD_CONTEXT_KEY)
    if context is None or context.ndim != 3 or context.shape[0] != 1 or context.shape[-1] != text_dim:
        shape = None if context is None else tuple(context.shape)
        raise WanAlphaError(f"tabd.context_file {path} must hold {TABD_CONTEXT_KEY!r} shaped (1, L, {text_dim}) "
                            f"for this DiT, found {shape}: write it again for this DiT's text encoder")
    return context.float()


class TinyRGBAVAETrainer(RGBAVAETrainer):
    """:class:`~wan_alpha.train.vae.RGBAVAETrainer` with the extensions of the module docstring."""

    config: TinyRGBAVAEConfig

    def build_model(self) -> RGBAVAE:
        model = self.config.model
        if model.fusion_init == "rgb" and model.init_from is None:
            base = build_base_vae(model)
            vae = RGBAVAE.from_base(base, lora_rank=model.lora_rank, lora_alpha=model.lora_alpha,
                                    fusion_layers=model.fusion_layers)
            init_fusion_as_base_head(vae.fusion, base)
        else:
            vae = super().build_model()
        if model.freeze_fusion:
            vae.fusion.requires_grad_(False)
        return vae

    def build_tabd(self) -> TABD | None:
        tabd = self.config.tabd
        if not (tabd.enabled and tabd.context_file):
            return super().build_tabd()
        dit = load_tabd_dit(tabd)
        return dit, load_tabd_context(tabd.context_file, dit.config.text_dim)

    def loss(self, vae: torch.nn.Module, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        cfg = self.config
        if not (cfg.rendering and cfg.extensions):  # the method's loss (its draws per clip, so it splits over processes)
            return super().loss(vae, batch, generator)
        rgb, alpha = batch["rgb"], batch["alpha"]
        background = random_palette_colors(rgb.shape[0], generator, rgb.device).to(rgb.dtype)
        scale = None
        if cfg.decode_scale_min < 1:
            scale = cfg.decode_scale_min + (1 - cfg.decode_scale_min) * torch.rand(rgb.shape[0], generator=generator)
        latent = vae.encode(rgb, alpha, background=background)
        decoded = latent if scale is None else latent * scale.view(-1, 1, 1, 1, 1).to(latent)
        rgb_hat, alpha_hat, alpha_channels = vae.decode_straight_through(decoded)
        terms = reconstruction_terms(rgb_hat, alpha_hat, rgb, alpha, cfg, self.vgg, generator)
        loss = cfg.loss
        if loss.alpha_balance:
            shift = alpha_balance_shift(alpha_hat, alpha, loss)
            terms["alpha"] = terms["alpha"] + shift
            terms["loss"] = terms["loss"] + shift
        if loss.saturation:
            terms["saturation"] = saturation_margin_loss(alpha_channels, alpha, loss.saturation_margin)
            terms["loss"] = terms["loss"] + loss.saturation * terms["saturation"]
        return add_tabd(terms, self.tabd, latent, alpha, cfg.tabd, generator)

    def before_save(self, vae: RGBAVAE, train_set: Dataset) -> None:
        if self.config.latent_stats_clips:
            fit_rgba_latent_stats(vae, train_set, self.config.latent_stats_clips, self.config.train.seed)


def train_rgba_vae(config: str | os.PathLike, output_dir: str | os.PathLike, resume: bool = False,
                   overrides: dict[str, Any] | None = None) -> Path:
    """Run one RGBA VAE stage of the recipe; returns its ``rgba_vae/`` folder."""
    return TinyRGBAVAETrainer(load_config(TinyRGBAVAEConfig, config_path(config), overrides)).train(output_dir, resume)
