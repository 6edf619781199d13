"""Stage 1: train the RGBA VAE's fusion block and decoder LoRAs (``wan-alpha train vae``).

Loss per clip (SPEC section 2): the clip is hard-rendered over a random palette colour and encoded with its
alpha; the reconstruction is scored by the rendering loss (:mod:`wan_alpha.losses.rendering`: alpha, soft and
hard render) plus ``tabd.weight * TABD`` from a frozen DiT (:mod:`wan_alpha.losses.tabd`). ``rendering: false``
trains the paper's naive baseline instead. Only the fusion block and the two LoRAs train (AdamW). The run folder
gets ``config.yaml``, ``log.jsonl`` (with the validation clips' loss terms), ``checkpoints/``,
``previews/step-N.mp4`` (ground truth above reconstruction; RGB | alpha | checkerboard composite) and, at the
end, ``rgba_vae/`` (``RGBAVAE.save_pretrained``, LoRA unmerged so training can go on).

:class:`RGBAVAETrainer` is the stage; a recipe that needs more (extra loss terms, another initialisation)
subclasses it and overrides :meth:`~RGBAVAETrainer.build_model`, :meth:`~RGBAVAETrainer.build_tabd`,
:meth:`~RGBAVAETrainer.loss` or :meth:`~RGBAVAETrainer.before_save`.
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

from ..config import load_config
from ..errors import WanAlphaError
from ..io import RGBAVideo, atomic_output, write_preview
from ..losses import TABD_MODES, ReconLossConfig, build_perceptual, naive_losses, rendering_losses, tabd_loss
from ..models import RGBAVAE
from ..models.dit import build_dit
from ..models.text_encoders import TEXT_ENCODER_KINDS, load_text_encoder
from ..rgba import black_background, random_palette_colors
from ..sampling import DEFAULT_TIMESTEP_SHIFT
from .loop import DataConfig, LoopConfig, build_datasets, make_accelerator, prepare_output, train_loop

MODEL_DIR = "rgba_vae"
PREVIEW_DIR = "previews"
PREVIEW_FPS = 8.0

TABD = tuple[torch.nn.Module, torch.Tensor]
"""The frozen DiT of TABD and its empty-prompt context."""


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


def build_rgba_vae(config: VAEModelConfig) -> RGBAVAE:
    """A new RGBA VAE around the configured base, or the saved one ``init_from`` names (LoRA still apart)."""
    if config.init_from is not None:
        vae = RGBAVAE.from_pretrained(config.init_from)
        if not vae.config.lora_rank:
            raise WanAlphaError(f"{config.init_from} has its LoRA merged into the decoders: continue from the "
                                "rgba_vae/ folder a training run saved (LoRA kept apart)")
        return vae
    return RGBAVAE.from_base(build_base_vae(config), lora_rank=config.lora_rank, lora_alpha=config.lora_alpha,
                             fusion_layers=config.fusion_layers)


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


def load_tabd_dit(config: TABDConfig) -> torch.nn.Module:
    """The frozen DiT that scores the fused latents (a local folder, or fresh weights from ``dit_config``)."""
    return build_dit(config=config.dit_config, path=config.dit).requires_grad_(False).eval()


def build_tabd(config: TABDConfig) -> TABD | None:
    """The frozen DiT and its empty-prompt context (on the CPU), or None when TABD is off."""
    if not config.enabled:
        return None
    dit = load_tabd_dit(config)
    return dit, encode_tabd_context(config, dit.config.text_dim)


def reconstruction_terms(
    rgb_hat: torch.Tensor, alpha_hat: torch.Tensor, rgb: torch.Tensor, alpha: torch.Tensor, config: VAETrainConfig,
    vgg: torch.nn.Module | None, generator: torch.Generator,
) -> dict[str, torch.Tensor]:
    """The rendering loss's terms, or the naive baseline's (``rendering: false``)."""
    if config.rendering:
        return rendering_losses(rgb_hat, alpha_hat, rgb, alpha, config.loss, vgg, generator)
    return naive_losses(rgb_hat, alpha_hat, rgb, alpha, config.loss, vgg)


def add_tabd(terms: dict[str, torch.Tensor], tabd: TABD | None, latent: torch.Tensor, alpha: torch.Tensor,
             config: TABDConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``terms`` with ``"tabd"`` and ``weight * TABD`` added to ``"loss"`` (unchanged when TABD is off)."""
    if tabd is not None:
        dit, context = tabd
        terms["tabd"] = tabd_loss(dit, latent, alpha, context, config.mode, config.cap, config.shift, generator)
        terms["loss"] = terms["loss"] + config.weight * terms["tabd"]
    return terms


def vae_loss(
    vae: torch.nn.Module, batch: dict, generator: torch.Generator, config: VAETrainConfig,
    vgg: torch.nn.Module | None = None, tabd: TABD | None = None,
) -> dict[str, torch.Tensor]:
    """One training step's loss terms; ``"loss"`` is the total to back-propagate."""
    rgb, alpha = batch["rgb"], batch["alpha"]
    if config.rendering:
        background = random_palette_colors(rgb.shape[0], generator, rgb.device).to(rgb.dtype)
    else:
        background = black_background(rgb)
    out = vae(rgb, alpha, background=background)
    terms = reconstruction_terms(out.rgb, out.alpha, rgb, alpha, config, vgg, generator)
    return add_tabd(terms, tabd, out.latent, alpha, config.tabd, generator)


class RGBAVAETrainer:
    """Stage 1 for one config: build the model and TABD, run :func:`~wan_alpha.train.loop.train_loop`, save
    ``rgba_vae/``. The methods below are the points a recipe overrides."""

    def __init__(self, config: VAETrainConfig) -> None:
        self.config = config
        self.vgg: torch.nn.Module | None = None
        self.tabd: TABD | None = None

    def build_model(self) -> RGBAVAE:
        """The RGBA VAE to train (called under the run's seed)."""
        return build_rgba_vae(self.config.model)

    def build_tabd(self) -> TABD | None:
        """The frozen DiT and its context (called under the run's seed, after :meth:`build_model`)."""
        return build_tabd(self.config.tabd)

    def loss(self, vae: torch.nn.Module, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One step's loss terms (``"loss"`` is back-propagated)."""
        return vae_loss(vae, batch, generator, self.config, self.vgg, self.tabd)

    def before_save(self, vae: RGBAVAE, train_set: Dataset) -> None:
        """Change the trained model before it is saved; nothing by default."""

    @torch.no_grad()
    def validate(self, vae: RGBAVAE, dataset: Dataset, output_dir: Path, step: int) -> dict[str, float]:
        """Mean reconstruction terms of the validation clips, encoded over black with the same render colours every
        time (comparable across steps); writes a preview of the first clip."""
        vae.eval()
        device, scores = vae.device, []
        generator = torch.Generator().manual_seed(self.config.train.seed)
        for index in range(len(dataset)):
            item = dataset[index]
            rgb, alpha = item["rgb"][None].to(device), item["alpha"][None].to(device)
            out = vae(rgb, alpha, background=black_background(rgb))
            terms = reconstruction_terms(out.rgb, out.alpha, rgb, alpha, self.config, self.vgg, generator)
            scores.append({f"val_{name}": float(value) for name, value in terms.items()})
            if index == 0:
                both_rgb = torch.cat([rgb, out.rgb], dim=-2)  # ground truth above reconstruction
                both_alpha = torch.cat([alpha, out.alpha], dim=-2)
                (output_dir / PREVIEW_DIR).mkdir(exist_ok=True)
                write_preview(output_dir / PREVIEW_DIR / f"step-{step:07d}.mp4",
                              RGBAVideo.from_tensors(both_rgb, both_alpha, PREVIEW_FPS), layout="side-by-side",
                              overwrite=True)
        return {k: float(np.mean([s[k] for s in scores])) for k in scores[0]} if scores else {}

    def train(self, output_dir: str | os.PathLike, resume: bool = False, allow_config_change: bool = False) -> Path:
        """Train (or ``resume``) into ``output_dir``; returns the saved ``rgba_vae/`` folder."""
        cfg = self.config
        # Build and check everything before the run folder exists (a bad path leaves nothing behind), from
        # the run's seed: a random base (base_vae_config, dit_config) is rebuilt identically on --resume.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.train.seed)
            vae = self.build_model()
            tabd = self.build_tabd()
        vgg = build_perceptual(cfg.loss)
        train_set, val_set = build_datasets(cfg.data)
        output_dir = prepare_output(output_dir, cfg, resume, allow_config_change)
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
        self.vgg, self.tabd = (vgg.to(device) if vgg is not None else None), tabd

        def validate_fn(step: int) -> dict[str, float]:
            if val_set is None or not accelerator.is_main_process:
                return {}
            return self.validate(accelerator.unwrap_model(vae), val_set, output_dir, step)

        train_loop(accelerator, vae, optimizer, loader, lambda batch, generator: self.loss(vae, batch, generator),
                   cfg.train, output_dir, resume, validate_fn)
        target = output_dir / MODEL_DIR
        if accelerator.is_main_process:
            final = accelerator.unwrap_model(vae).eval()
            self.before_save(final, train_set)
            with atomic_output(target, overwrite=True, directory=True) as tmp:
                final.save_pretrained(tmp)
        accelerator.wait_for_everyone()
        return target


def train_vae(
    config: str | os.PathLike,
    output_dir: str | os.PathLike,
    resume: bool = False,
    max_steps: int | None = None,
    overrides: dict[str, Any] | None = None,
    allow_config_change: bool = False,
) -> Path:
    """Train stage 1 from a YAML config (or shipped config name); returns the saved ``rgba_vae/`` folder.
    ``overrides`` are dotted config keys."""
    overrides = dict(overrides or {})
    if max_steps is not None:
        overrides["train.max_steps"] = max_steps
    return RGBAVAETrainer(load_config(VAETrainConfig, config, overrides)).train(output_dir, resume, allow_config_change)
