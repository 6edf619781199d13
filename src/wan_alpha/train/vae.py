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
from collections.abc import Callable
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
from ..losses import (
    TABD_MODES,
    ReconLossConfig,
    build_perceptual,
    naive_losses,
    rendering_losses,
    tabd_loss,
)
from ..models import RGBAVAE
from ..models.dit import build_dit
from ..models.text_encoders import (
    DEFAULT_MAX_LENGTH,
    TEXT_ENCODER_KINDS,
    load_text_encoder,
)
from ..rgba import black_background, random_palette_colors
from ..sampling import DEFAULT_TIMESTEP_SHIFT
from .estimate import (
    DEFAULT_TFLOPS,
    WAN21_DIT,
    TrainingEstimate,
    count_parameters,
    model_config,
    report_and_check,
    shipped_layouts,
    trace_dtype,
)
from .loop import (
    DataConfig,
    LoopConfig,
    build_datasets,
    cast_frozen_weights,
    make_accelerator,
    make_optimizer,
    prepare_output,
    sample_generators,
    seeded_rng,
    status,
    train_loop,
    trained_model,
)

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
    """One training step's loss terms, each the mean over the batch's clips; ``"loss"`` is the total to
    back-propagate. Each clip's colours and TABD noise come from its own generator (:func:`sample_generators`),
    so the batch may be split over processes in any way."""
    rgb, alpha = batch["rgb"], batch["alpha"]
    generators = sample_generators(generator, batch.get("index", range(len(rgb))))  # no index: clips by position
    if config.rendering:
        background = torch.cat([random_palette_colors(1, g, rgb.device) for g in generators]).to(rgb.dtype)
    else:
        background = black_background(rgb)
    out = vae(rgb, alpha, background=background)
    clips = []
    for i, clip_generator in enumerate(generators):
        one = slice(i, i + 1)
        terms = reconstruction_terms(out.rgb[one], out.alpha[one], rgb[one], alpha[one], config, vgg, clip_generator)
        clips.append(add_tabd(terms, tabd, out.latent[one], alpha[one], config.tabd, clip_generator))
    return {name: torch.stack([terms[name] for terms in clips]).mean() for name in clips[0]}


class RGBAVAETrainer:
    """Stage 1 for one config: build the model and TABD, run :func:`~wan_alpha.train.loop.train_loop`, save
    ``rgba_vae/``. The methods below are the points a recipe overrides."""

    def __init__(self, config: VAETrainConfig) -> None:
        self.config = config
        self.vgg: torch.nn.Module | None = None
        self.tabd: TABD | None = None

    def build_model(self) -> RGBAVAE:
        """The RGBA VAE to train (called under the run's seed), with the ``train`` section's memory levers
        (decoder gradient checkpointing, frozen weights in ``base_dtype``)."""
        vae = build_rgba_vae(self.config.model)
        if self.config.train.gradient_checkpointing:
            vae.enable_gradient_checkpointing()
        cast_frozen_weights(vae, self.config.train)
        return vae

    def _seeded_model(self) -> RGBAVAE:
        """:meth:`build_model` as at the start of the run (its seed): the base a sharded run's weights are gathered into."""
        with seeded_rng(self.config.train.seed):
            return self.build_model()

    def build_tabd(self) -> TABD | None:
        """The frozen DiT and its context (called under the run's seed, after :meth:`build_model`)."""
        return build_tabd(self.config.tabd)

    def loss(self, vae: torch.nn.Module, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """One step's loss terms (``"loss"`` is back-propagated)."""
        return vae_loss(vae, batch, generator, self.config, self.vgg, self.tabd)

    def before_save(self, vae: RGBAVAE, train_set: Dataset) -> None:
        """Change the trained model before it is saved; nothing by default."""

    def estimate(self) -> TrainingEstimate:
        """Memory and time of one training step (:mod:`.estimate`): this config's RGBA VAE, loss and TABD DiT on
        meta tensors, without loading any weights (the VGG perceptual term, if on, is not counted)."""
        cfg, m = self.config, self.config.model
        if m.init_from is not None:
            saved, note = model_config(m.init_from, "", None, "the RGBA VAE")
            base, rank, alpha, layers = saved["base_config"], saved["lora_rank"], saved["lora_alpha"], saved["fusion_layers"]
        else:  # diffusers' AutoencoderKLWan defaults are the Wan2.1 VAE
            base, note = model_config(m.base_vae, "vae", m.base_vae_config, "the base VAE", default={})
            rank, alpha, layers = m.lora_rank, m.lora_alpha, m.fusion_layers
        dtype = trace_dtype(cfg.train)
        with torch.device("meta"):
            vae = RGBAVAE(base, lora_rank=rank, lora_alpha=alpha, fusion_layers=layers)
        torch.nn.Module.to(vae, dtype).train()  # (diffusers' to() warns about fp32 modules: moot on meta)
        params, trainable, block = count_parameters(vae, ("down_blocks", "up_blocks"))
        notes, tabd = [n for n in (note,) if n], None
        if cfg.tabd.enabled:
            arch, dit_note = model_config(cfg.tabd.dit, "transformer", cfg.tabd.dit_config, "the TABD DiT", WAN21_DIT)
            with torch.device("meta"):
                dit = build_dit(arch).requires_grad_(False).eval()
            params += sum(p.numel() for p in dit.parameters())  # frozen, on the GPU too
            length = 1 if cfg.tabd.text_encoder == "none" else DEFAULT_MAX_LENGTH[cfg.tabd.text_encoder]
            tabd = torch.nn.Module.to(dit, dtype), torch.empty(1, length, arch["text_dim"], device="meta", dtype=dtype)
            notes += [n for n in (dit_note,) if n]
        size = cfg.data.synthetic or cfg.data.manifest
        if cfg.loss.perceptual:
            notes.append("the VGG perceptual term is not counted")
        estimate = TrainingEstimate("RGBA VAE", params, trainable, block, cfg.train.base_dtype, cfg.train.optimizer,
                                    cfg.train.batch_size, cfg.train.gradient_checkpointing, notes=notes)

        def step_for(clips: int) -> Callable[[], torch.Tensor]:
            batch = {key: torch.empty(clips, channels, size.frames, size.height, size.width, device="meta", dtype=dtype)
                     for key, channels in (("rgb", 3), ("alpha", 1))}
            batch["index"] = list(range(clips))
            return lambda: vae_loss(vae, batch, torch.Generator().manual_seed(0), cfg, None, tabd)["loss"]

        return estimate.trace(vae, step_for)

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

    def train(self, output_dir: str | os.PathLike, resume: bool = False, tflops: float = DEFAULT_TFLOPS,
              allow_config_change: bool = False) -> Path:
        """Train (or ``resume``) into ``output_dir``; returns the saved ``rgba_vae/`` folder. The memory and time
        estimate (at ``tflops`` per GPU) is printed first on a GPU, and a run that cannot fit is refused."""
        cfg = self.config
        accelerator = make_accelerator(cfg.train, output_dir)
        report_and_check(self.estimate, accelerator, tflops)
        # Build and check everything before the run folder exists (a bad path leaves nothing behind), from
        # the run's seed: a random base (base_vae_config, dit_config) is rebuilt identically on --resume.
        status("building the RGBA VAE" + (" and the frozen TABD DiT" if cfg.tabd.enabled else ""))
        with seeded_rng(cfg.train.seed):
            vae = self.build_model()
            tabd = self.build_tabd()  # after build_model in the same seeded stream, as runs have always drawn them
        vgg = build_perceptual(cfg.loss)
        train_set, val_set = build_datasets(cfg.data)
        output_dir = prepare_output(output_dir, cfg, resume, allow_config_change)
        loader = DataLoader(train_set, batch_size=cfg.train.batch_size, shuffle=True, drop_last=True,
                            num_workers=cfg.train.num_workers)
        optimizer = make_optimizer([p for p in vae.parameters() if p.requires_grad], cfg.train)
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
        final = trained_model(accelerator, vae, self._seeded_model)
        if final is not None:
            final.eval()
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
    dry_run: bool = False,
    tflops: float | None = None,
    allow_config_change: bool = False,
) -> Path | None:
    """Train stage 1 from a YAML config (or shipped config name); returns the saved ``rgba_vae/`` folder.
    ``overrides`` are dotted config keys; ``dry_run`` prints the memory and time estimate only (returns None)."""
    overrides = dict(overrides or {})
    if max_steps is not None:
        overrides["train.max_steps"] = max_steps
    trainer = RGBAVAETrainer(load_config(VAETrainConfig, config, overrides))
    if dry_run:
        print(trainer.estimate().describe(tflops or DEFAULT_TFLOPS, shipped_layouts()))
        return None
    return trainer.train(output_dir, resume, tflops or DEFAULT_TFLOPS, allow_config_change)
