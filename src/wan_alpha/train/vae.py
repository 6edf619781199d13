"""Stage 1: train the RGBA VAE's fusion block and decoder LoRAs (``wan-alpha train vae``).

Loss per clip (SPEC section 2): the clip is hard-rendered over a random palette colour and encoded
with its alpha; the reconstruction is scored by :func:`wan_alpha.losses.rendering_losses` (alpha,
soft render, hard render) plus ``tabd.weight * TABD`` from a frozen DiT. Only the fusion block and
the two LoRAs train (AdamW). The run folder gets ``config.yaml``, ``log.jsonl``, ``checkpoints/``,
``previews/step-N.mp4`` (ground truth above reconstruction; RGB | alpha | checkerboard composite)
and, at the end, ``rgba_vae/`` (``RGBAVAE.save_pretrained``, LoRA unmerged so training can go on).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, Dataset

from ..config import load_config
from ..errors import WanAlphaError
from ..eval import over_background_psnr, psnr, ssim
from ..io import RGBAVideo, atomic_output, write_preview
from ..losses import (
    TABD_MODES,
    ReconLossConfig,
    alpha_loss,
    build_perceptual,
    recon_loss,
    rendering_losses,
    saturation_margin_loss,
    tabd_loss,
)
from ..models import RGBAVAE
from ..models.dit import build_dit
from ..models.text_encoders import TEXT_ENCODER_KINDS, load_text_encoder
from ..rgba import PALETTE, hard_render, random_palette_colors, soft_render
from ..sampling.schedules import DEFAULT_TIMESTEP_SHIFT
from .loop import DataConfig, LoopConfig, build_datasets, make_accelerator, prepare_output, train_loop

MODEL_DIR = "rgba_vae"
PREVIEW_DIR = "previews"
PREVIEW_FPS = 8.0


@dataclass
class VAEModelConfig:
    """The ``model`` section: the base Wan VAE (a local diffusers folder, or a config for random init), or
    ``init_from``: an RGBA VAE a run saved (its ``rgba_vae/``) to go on training, e.g. on larger clips,
    which then brings its own base, LoRA and fusion settings."""

    base_vae: str | None = None
    base_vae_config: dict | None = None
    init_from: str | None = None
    lora_rank: int = 128
    lora_alpha: float | None = None
    fusion_layers: int = 2
    fusion_init: str = "random"  # "rgb": the fusion block starts as the base VAE's head on the RGB features
    # true: only the decoder LoRAs train, so the latents (and a DiT already fine-tuned on them) stay valid
    freeze_fusion: bool = False

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.base_vae, self.base_vae_config, self.init_from)) != 1:
            raise WanAlphaError("model: give exactly one of base_vae (a local folder), base_vae_config (a dict) "
                                "and init_from (an rgba_vae/ folder a run saved)")
        if self.lora_rank < 1:
            raise WanAlphaError(f"model.lora_rank must be at least 1 for training, got {self.lora_rank}")


@dataclass
class TABDConfig:
    """The ``tabd`` section: a frozen DiT scoring the fused latent (``mode: off`` skips it)."""

    mode: str = "paper"
    weight: float = 0.1
    cap: float = 1.0
    shift: float = DEFAULT_TIMESTEP_SHIFT
    dit: str | None = None
    dit_config: dict | None = None
    text_encoder: str = "minilm"
    text_encoder_path: str | None = None
    # a safetensors file holding the empty-prompt context under "context" (write_tabd_context makes it):
    # used instead of loading the text encoder, which a training machine may lack (UMT5-XXL is 11 GB).
    context_file: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in TABD_MODES:
            raise WanAlphaError(f"tabd.mode must be one of {', '.join(TABD_MODES)}, got {self.mode!r}")
        if self.text_encoder not in (*TEXT_ENCODER_KINDS, "none"):
            raise WanAlphaError(f"tabd.text_encoder must be one of {', '.join(TEXT_ENCODER_KINDS)} or none")
        if self.enabled and (self.dit is None) == (self.dit_config is None):
            raise WanAlphaError("tabd: give exactly one of dit (a local folder) and dit_config (a dict), or mode: off")

    @property
    def enabled(self) -> bool:
        return self.mode != "off" and self.weight > 0


@dataclass
class VAETrainConfig:
    """``wan-alpha train vae`` config (see ``configs/vae_tiny.yaml``)."""

    model: VAEModelConfig
    data: DataConfig
    loss: ReconLossConfig = field(default_factory=ReconLossConfig)
    tabd: TABDConfig = field(default_factory=lambda: TABDConfig(mode="off"))
    train: LoopConfig = field(default_factory=LoopConfig)
    # false: the paper's "naive RGB-A VAE" ablation row: the clip is encoded over black (no random
    # palette colour) and scored on alpha and on that black-filled RGB only (no soft/hard renders).
    rendering: bool = True
    # < 1: each clip's latent is decoded times a factor drawn from U(decode_scale_min, 1), as the slightly
    # shrunk latents a DiT samples are (bench/results/tiny_recipe-v17: 0.83 of the data's std)
    decode_scale_min: float = 1.0
    # > 0: refit the latent statistics on this many training clips after training, so the DiT sees
    # unit-scale fused latents. 0 keeps the base VAE's (the reference, for Wan2.1's DiT); a tiny model's
    # fused latents come out several times wider than its base VAE's (bench/results/rgba_latent_spread.md).
    latent_stats_clips: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.decode_scale_min <= 1:
            raise WanAlphaError(f"decode_scale_min must be in (0, 1], got {self.decode_scale_min}")
        if self.decode_scale_min < 1 and not self.rendering:
            raise WanAlphaError("decode_scale_min applies to the rendering losses: set rendering: true or drop it")


def build_base_vae(config: VAEModelConfig) -> AutoencoderKLWan:
    """The base Wan VAE from a local diffusers folder (``vae/`` of a pipeline folder works) or a config."""
    if config.base_vae_config is not None:
        try:
            return AutoencoderKLWan(**config.base_vae_config)
        except TypeError as err:
            raise WanAlphaError(f"model.base_vae_config is not an AutoencoderKLWan config: {err}") from err
    path = Path(config.base_vae)
    folder = path / "vae" if (path / "vae").is_dir() else path
    if not (folder / "config.json").is_file():
        raise WanAlphaError(f"{path} is not a diffusers AutoencoderKLWan folder (no config.json): give a local Wan VAE")
    return AutoencoderKLWan.from_pretrained(folder, local_files_only=True)


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


TABD_CONTEXT_KEY = "context"


def encode_tabd_context(config: TABDConfig, text_dim: int | None) -> torch.Tensor:
    """The empty-prompt context ``(1, L, text_dim)`` the frozen DiT is scored with (``text_dim`` None:
    whatever width the encoder gives).

    ``text_encoder: none`` uses a single zero token: only for randomly initialised DiTs (tests, tiny
    runs), which were never trained on any text encoder.
    """
    if config.text_encoder == "none":
        return torch.zeros(1, 1, text_dim)
    encoder = load_text_encoder(config.text_encoder, config.text_encoder_path)
    if text_dim is not None and encoder.dim != text_dim:
        raise WanAlphaError(
            f"tabd.text_encoder {config.text_encoder} gives {encoder.dim}-d embeddings, the DiT expects {text_dim}"
        )
    return encoder.encode([""], allow_empty=True)[0]


def write_tabd_context(config: TABDConfig, path: str | os.PathLike) -> Path:
    """Encode the empty prompt with ``config``'s text encoder and save it for ``tabd.context_file``, so a
    training machine without that encoder can run TABD."""
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


def build_tabd(config: TABDConfig) -> tuple[torch.nn.Module, torch.Tensor] | None:
    """The frozen DiT and its cached empty-prompt context (on the CPU), or None when TABD is off."""
    if not config.enabled:
        return None
    dit = build_dit(config=config.dit_config, path=config.dit).requires_grad_(False).eval()
    text_dim = dit.config.text_dim
    if config.context_file:
        return dit, load_tabd_context(config.context_file, text_dim)
    return dit, encode_tabd_context(config, text_dim)


def build_rgba_vae(config: VAEModelConfig) -> RGBAVAE:
    if config.init_from is not None:
        vae = RGBAVAE.from_pretrained(config.init_from)
        if not vae.config.lora_rank:
            raise WanAlphaError(f"{config.init_from} has its LoRA merged into the decoders: continue from the "
                                "rgba_vae/ folder a training run saved (LoRA kept apart)")
        return vae
    return RGBAVAE.from_base(
        build_base_vae(config), lora_rank=config.lora_rank, lora_alpha=config.lora_alpha,
        fusion_layers=config.fusion_layers, fusion_init=config.fusion_init,
    )


def vae_loss(
    vae: torch.nn.Module,
    batch: dict,
    generator: torch.Generator,
    loss_config: ReconLossConfig,
    vgg: torch.nn.Module | None = None,
    tabd: tuple[torch.nn.Module, torch.Tensor] | None = None,
    tabd_config: TABDConfig | None = None,
    rendering: bool = True,
    decode_scale_min: float = 1.0,
) -> dict[str, torch.Tensor]:
    """One training step's loss terms; ``"loss"`` is the total to back-propagate."""
    rgb, alpha = batch["rgb"], batch["alpha"]
    if rendering:
        background = random_palette_colors(rgb.shape[0], generator, rgb.device).to(rgb.dtype)
        scale = None
        if decode_scale_min < 1:
            scale = decode_scale_min + (1 - decode_scale_min) * torch.rand(rgb.shape[0], generator=generator)
        out = vae(rgb, alpha, background=background, latent_scale=scale)
        terms = rendering_losses(out.rgb, out.alpha, rgb, alpha, loss_config, vgg, generator)
    else:
        out = vae(rgb, alpha, background=PALETTE[0].view(1, 3, 1, 1, 1).to(rgb))
        terms = naive_losses(out.rgb, out.alpha, rgb, alpha, loss_config, vgg)
    if loss_config.saturation:
        if out.alpha_channels is None:
            raise WanAlphaError("loss.saturation needs the alpha decoder's unclamped channels, which the RGBA VAE "
                                "returns in training mode only: call vae.train() before vae_loss")
        terms["saturation"] = saturation_margin_loss(out.alpha_channels, alpha, loss_config.saturation_margin)
        terms["loss"] = terms["loss"] + loss_config.saturation * terms["saturation"]
    if tabd is not None:
        dit, context = tabd
        terms["tabd"] = tabd_loss(
            dit, out.latent, alpha, context, tabd_config.mode, tabd_config.cap, tabd_config.shift, generator
        )
        terms["loss"] = terms["loss"] + tabd_config.weight * terms["tabd"]
    return terms


def naive_losses(rgb_hat, alpha_hat, rgb, alpha, loss_config: ReconLossConfig, vgg=None) -> dict[str, torch.Tensor]:
    """``L_alpha + L_rgb`` with RGB as a plain RGB-A VAE sees it: black under transparent pixels."""
    black = PALETTE[0].view(1, 3, 1, 1, 1).to(rgb)
    terms = {
        "alpha": alpha_loss(alpha_hat, alpha, loss_config, vgg),
        "rgb": recon_loss(rgb_hat, hard_render(rgb, alpha, black), loss_config, vgg)["loss"],
    }
    terms["loss"] = terms["alpha"] + terms["rgb"]
    return terms


def _numpy01(x: torch.Tensor) -> np.ndarray:
    """One clip ``(C, T, H, W)`` in [-1, 1] -> ``(T, H, W, C)`` in [0, 1] (C=1 squeezed)."""
    x = ((x.float().cpu() + 1) / 2).permute(1, 2, 3, 0).numpy()
    return x[..., 0] if x.shape[-1] == 1 else x


def reconstruction_metrics(rgb_hat, alpha_hat, rgb, alpha) -> dict[str, float]:
    """PSNR/SSIM of RGB over the palette renders and of alpha, for one clip (tensors without batch)."""
    p_alpha, t_alpha = _numpy01(alpha_hat * 2 - 1), _numpy01(alpha * 2 - 1)
    colours = [c.view(3, 1, 1, 1).to(rgb) for c in PALETTE]
    rgb_ssim = [ssim(_numpy01(soft_render(rgb_hat, alpha_hat, c)), _numpy01(soft_render(rgb, alpha, c))) for c in colours]
    return {
        "val_rgb_psnr": over_background_psnr(_numpy01(rgb_hat), p_alpha, _numpy01(rgb), t_alpha)["mean"],
        "val_rgb_ssim": float(np.mean(rgb_ssim)),
        "val_alpha_psnr": psnr(p_alpha, t_alpha),
        "val_alpha_ssim": ssim(p_alpha, t_alpha),
    }


@torch.no_grad()
def validate(vae: RGBAVAE, dataset, output_dir: Path, step: int) -> dict[str, float]:
    """Reconstruct the validation clips (over black), average the metrics, write a preview of the first."""
    vae.eval()
    device, scores = vae.device, []
    for index in range(len(dataset)):
        item = dataset[index]
        rgb, alpha = item["rgb"][None].to(device), item["alpha"][None].to(device)
        out = vae(rgb, alpha, background=PALETTE[0].view(1, 3, 1, 1, 1).to(device))
        scores.append(reconstruction_metrics(out.rgb[0], out.alpha[0], rgb[0], alpha[0]))
        if index == 0:
            both_rgb = torch.cat([rgb, out.rgb], dim=-2)  # ground truth above reconstruction
            both_alpha = torch.cat([alpha, out.alpha], dim=-2)
            (output_dir / PREVIEW_DIR).mkdir(exist_ok=True)
            write_preview(output_dir / PREVIEW_DIR / f"step-{step:07d}.mp4",
                          RGBAVideo.from_tensors(both_rgb, both_alpha, PREVIEW_FPS), layout="side-by-side", overwrite=True)
    return {k: float(np.mean([s[k] for s in scores])) for k in scores[0]} if scores else {}


def train_vae(
    config: str | os.PathLike,
    output_dir: str | os.PathLike,
    resume: bool = False,
    max_steps: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Train stage 1 from a YAML config (or shipped config name); returns the saved ``rgba_vae/`` folder."""
    cfg = load_config(VAETrainConfig, config, overrides)
    if max_steps is not None:
        cfg.train = dataclasses.replace(cfg.train, max_steps=max_steps)
    # Build and check everything before the run folder exists (a bad path leaves nothing behind), from
    # the run's seed: a random base (base_vae_config, dit_config) is rebuilt identically on --resume.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.train.seed)
        vae = build_rgba_vae(cfg.model)
        if cfg.model.freeze_fusion:
            vae.fusion.requires_grad_(False)
        tabd = build_tabd(cfg.tabd)
    vgg = build_perceptual(cfg.loss)
    train_set, val_set = build_datasets(cfg.data)
    output_dir = prepare_output(output_dir, cfg, resume)
    accelerator = make_accelerator(cfg.train, output_dir)
    loader = DataLoader(train_set, batch_size=cfg.train.batch_size, shuffle=True, drop_last=True,
                        num_workers=cfg.train.num_workers)
    optimizer = torch.optim.AdamW([p for p in vae.parameters() if p.requires_grad],
                                  lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)
    vae, optimizer, loader = accelerator.prepare(vae, optimizer, loader)
    device = accelerator.device
    if tabd is not None:  # the frozen DiT runs in the mixed-precision type, if any
        dit, context = tabd
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.train.mixed_precision, torch.float32)
        dit.to(device)
        if dtype != dit.dtype:
            dit.to(dtype=dtype)
        tabd = dit, context.to(device, dtype)
    vgg = vgg.to(device) if vgg is not None else None

    def step_fn(batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return vae_loss(vae, batch, generator, cfg.loss, vgg, tabd, cfg.tabd, cfg.rendering, cfg.decode_scale_min)

    def validate_fn(step: int) -> dict[str, float]:
        if val_set is None or not accelerator.is_main_process:
            return {}
        return validate(accelerator.unwrap_model(vae), val_set, output_dir, step)

    train_loop(accelerator, vae, optimizer, loader, step_fn, cfg.train, output_dir, resume, validate_fn)
    target = output_dir / MODEL_DIR
    if accelerator.is_main_process:
        final = accelerator.unwrap_model(vae).eval()
        if cfg.latent_stats_clips:
            fit_rgba_latent_stats(final, train_set, cfg.latent_stats_clips, cfg.train.seed)
        with atomic_output(target, overwrite=True, directory=True) as tmp:
            final.save_pretrained(tmp)
    accelerator.wait_for_everyone()
    return target
