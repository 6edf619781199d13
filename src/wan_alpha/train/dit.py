"""Stage 2: fine-tune the Wan DiT with DoRA on RGBA latents with the mean-shifted flow loss.

The same trainer also trains the tiny recipe's *base* DiT (``latents: rgb``, ``adapter: none``,
``mu_shift: 0``): full training on latents of a base RGB VAE (clips composited over random
backgrounds), i.e. plain text-to-RGB-video rectified flow; it then writes ``transformer/`` only.

``wan-alpha train dit --config CONFIG``. The frozen RGBA VAE turns each clip (hard-rendered over a
palette colour, as in VAE training) into a normalised latent ``Z``; its alpha gives the ellipse maps
``G`` (one per latent frame); the text encoder gives the caption embeddings. With ``cache: true``
(default) these are computed once before training (8x faster at tiny scale, where VAE encoding
dominates); the palette colour is then fixed per clip. Each step draws shifted timesteps and noise,
and minimises ``|v(Z_t) - (eps + mu (1 - G) - Z)|^2`` over the DoRA parameters only.

Outputs in ``output_dir``: ``checkpoints/`` (resumable), ``log.jsonl`` (loss, validation loss),
``samples/step-N/`` (sample videos), ``dora/`` (the adapter) and ``pipeline/`` (a
:class:`~wan_alpha.pipelines.WanAlphaPipeline` with the adapter merged, for ``wan-alpha generate
--model``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLWan
from torch.utils.data import DataLoader, Dataset

from ..config import load_config
from ..errors import WanAlphaError
from ..io import DEFAULT_FPS, atomic_output, write_video
from ..losses import shifted_flow_loss
from ..models.dit import add_dora, build_dit, merge_dora, save_dora
from ..models.rgba_vae import RGBAVAE
from ..models.text_encoders import TextEncoder, load_text_encoder
from ..pipelines import WanAlphaPipeline
from ..rgba import latent_stride, masks_from_alpha, random_palette_colors
from ..sampling import DEFAULT_MU_SHIFT, DEFAULT_TIMESTEP_SHIFT, flow_scheduler, sample_training_sigmas
from .base_vae import composite, encode_rgb
from .loop import DataConfig, LoopConfig, SyntheticDataConfig, build_datasets, make_accelerator, prepare_output, train_loop
from .vae import VAEModelConfig, build_base_vae

ADAPTER_DIR = "dora"
PIPELINE_DIR = "pipeline"
TRANSFORMER_DIR = "transformer"
ADAPTERS = ("dora", "none")
LATENTS = ("rgba", "rgb")


@dataclass
class TextEncoderConfig:
    """``kind: minilm`` (shipped, 384-d) or ``umt5`` with ``path`` to a local UMT5 folder (4096-d)."""

    kind: str = "minilm"
    path: str | None = None
    max_length: int | None = None


@dataclass
class DoraConfig:
    r: int = 32
    alpha: int = 32


@dataclass
class SampleConfig:
    """Sample videos written at every validation (``train.validate_every``) and at the end."""

    prompts: list[str] = field(default_factory=list)
    steps: int = 20
    guidance: float = 1.0
    sampler: str = "euler"
    seed: int = 0
    format: str = "webm"


@dataclass
class DiTTrainConfig:
    """The ``train dit`` config: one of ``base_dit`` (local folder) or ``dit_config`` (fresh weights).

    ``latents: rgba`` (stage 2) reads ``rgba_vae``; ``latents: rgb`` (the tiny recipe's base DiT) reads
    ``base_vae``, a base ``AutoencoderKLWan`` folder. ``adapter: none`` trains every DiT weight.
    """

    rgba_vae: str = ""
    base_vae: str = ""
    latents: str = "rgba"
    adapter: str = "dora"
    base_dit: str | None = None
    dit_config: dict[str, Any] | None = None
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    dora: DoraConfig = field(default_factory=DoraConfig)
    mu_shift: float = DEFAULT_MU_SHIFT
    timestep_shift: float = DEFAULT_TIMESTEP_SHIFT
    mask_threshold: float = 0.3
    caption_dropout: float = 0.0
    cache: bool = True
    data: DataConfig = field(default_factory=lambda: DataConfig(synthetic=SyntheticDataConfig()))
    train: LoopConfig = field(default_factory=LoopConfig)
    samples: SampleConfig = field(default_factory=SampleConfig)
    fps: float = DEFAULT_FPS
    output_dir: str = "runs/dit"

    def __post_init__(self) -> None:
        if self.latents not in LATENTS or self.adapter not in ADAPTERS:
            raise WanAlphaError(f"latents must be one of {', '.join(LATENTS)} and adapter one of {', '.join(ADAPTERS)}")
        if self.latents == "rgba" and not self.rgba_vae:
            raise WanAlphaError("rgba_vae: give the folder of the trained RGBA VAE (`wan-alpha train vae` output)")
        if self.latents == "rgb" and not self.base_vae:
            raise WanAlphaError("base_vae: latents rgb needs the folder of a base AutoencoderKLWan")
        if not 0.0 <= self.caption_dropout < 1.0:
            raise WanAlphaError(f"caption_dropout must be in [0, 1), got {self.caption_dropout}")


class _Components:
    """The frozen parts of a step: the VAE (RGBA, or a base RGB one) and the text encoder, and how
    they turn a batch into inputs."""

    def __init__(self, vae: RGBAVAE | AutoencoderKLWan, text: TextEncoder, threshold: float) -> None:
        self.vae, self.text, self.threshold = vae, text, threshold
        self.empty_text = text.encode([""], allow_empty=True)[0][0]
        self.warned = False

    @torch.no_grad()
    def encode(self, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``{"latents", "mask", "text"}`` for a batch of clips ``{"rgb", "alpha", "caption"}``."""
        device = self.vae.device
        rgb, alpha = batch["rgb"].to(device), batch["alpha"].to(device)
        if isinstance(self.vae, RGBAVAE):
            background = random_palette_colors(rgb.shape[0], generator, device)
            latents = self.vae.encode(rgb, alpha, background=background).float()
        else:  # a base RGB model learns RGB videos: the clip over a random background
            latents = encode_rgb(self.vae, composite(rgb, alpha, generator)).float()
        mask = masks_from_alpha(alpha.cpu(), self.threshold, latent_stride(alpha, latents)).to(device)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            text = self.text.encode(list(batch["caption"]))[0].float()
        if caught and not self.warned:  # one warning per run, not one per batch
            self.warned = True
            warnings.warn(f"some captions are longer than {self.text.max_length} tokens and are truncated (raise "
                          "text_encoder.max_length to keep them whole); further ones are not reported",
                          UserWarning, stacklevel=2)
        return {"latents": latents, "mask": mask, "text": text}


def cache_inputs(dataset: Dataset, parts: _Components, batch_size: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """Encode every clip once (CPU tensors, one dict per clip); the palette colour is seeded per run."""
    generator = torch.Generator().manual_seed(seed)
    items = []
    for batch in DataLoader(dataset, batch_size=batch_size):
        encoded = parts.encode(batch, generator)
        items += [{k: v[i].cpu() for k, v in encoded.items()} for i in range(len(batch["caption"]))]
    return items


def _check_compatible(transformer, vae: RGBAVAE | AutoencoderKLWan, text: TextEncoder) -> None:
    if transformer.config.text_dim != text.dim:
        raise WanAlphaError(f"the DiT reads {transformer.config.text_dim}-d text but the {type(text.model).__name__} "
                            f"encoder gives {text.dim}-d: set dit_config.text_dim: {text.dim} or change text_encoder")
    z_dim = vae.z_dim if isinstance(vae, RGBAVAE) else vae.config.z_dim
    if transformer.config.in_channels != z_dim:
        raise WanAlphaError(f"the DiT reads {transformer.config.in_channels} latent channels but the VAE "
                            f"gives {z_dim}: set dit_config.in_channels/out_channels to {z_dim}")


def _load_vae(cfg: DiTTrainConfig) -> RGBAVAE | AutoencoderKLWan:
    if cfg.latents == "rgba":
        return RGBAVAE.from_pretrained(cfg.rgba_vae)
    return build_base_vae(VAEModelConfig(base_vae=cfg.base_vae))


def train_dit(
    config: str | os.PathLike,
    *,
    resume: bool = False,
    max_steps: int | None = None,
    output: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Run (or ``resume``) DiT training from a YAML config; returns the saved pipeline folder
    (``transformer/`` for ``latents: rgb``). ``overrides`` are dotted config keys."""
    overrides = dict(overrides or {})
    if max_steps is not None:
        overrides["train.max_steps"] = max_steps
    if output is not None:
        overrides["output_dir"] = str(output)
    cfg = load_config(DiTTrainConfig, config, overrides)
    # load and check the models before the run folder is created: a bad path leaves nothing behind
    vae = _load_vae(cfg).eval().requires_grad_(False)
    text = load_text_encoder(cfg.text_encoder.kind, cfg.text_encoder.path, cfg.text_encoder.max_length)
    with torch.random.fork_rng(devices=[]):  # seeded init: a fresh dit_config base is rebuilt the same on --resume
        torch.manual_seed(cfg.train.seed)
        transformer = build_dit(cfg.dit_config, cfg.base_dit)
        _check_compatible(transformer, vae, text)
        if cfg.adapter == "dora":
            add_dora(transformer, cfg.dora.r, cfg.dora.alpha)
    out = prepare_output(cfg.output_dir, cfg, resume)
    accelerator = make_accelerator(cfg.train, out)
    device = accelerator.device
    vae.to(device)
    text.model.to(device)
    parts = _Components(vae, text, cfg.mask_threshold)

    train_set, val_set = build_datasets(cfg.data)
    if cfg.cache:
        train_set = cache_inputs(train_set, parts, cfg.train.batch_size, cfg.train.seed)
    val_items = cache_inputs(val_set, parts, cfg.train.batch_size, cfg.train.seed + 1) if val_set is not None else []
    loader = DataLoader(train_set, batch_size=cfg.train.batch_size, shuffle=True, drop_last=True,
                        num_workers=cfg.train.num_workers)
    params = [p for p in transformer.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)
    model, optimizer, loader = accelerator.prepare(transformer, optimizer, loader)

    def flow_loss(inputs: dict[str, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
        latents = inputs["latents"].to(device)
        text_states = inputs["text"].to(device)
        batch = latents.shape[0]
        if cfg.caption_dropout:  # learn the unconditional branch classifier-free guidance needs
            drop = torch.rand(batch, generator=generator) < cfg.caption_dropout
            text_states = torch.where(drop.to(device)[:, None, None], parts.empty_text.to(text_states), text_states)
        noise = torch.randn(latents.shape, generator=generator).to(device)
        sigmas = sample_training_sigmas(batch, cfg.timestep_shift, generator).to(device)

        def velocity(z_t: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
            return model(hidden_states=z_t, timestep=timestep, encoder_hidden_states=text_states, return_dict=False)[0]

        return shifted_flow_loss(velocity, latents, noise, sigmas, inputs["mask"].to(device), cfg.mu_shift)

    def step_fn(batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
        inputs = batch if cfg.cache else parts.encode(batch, generator)
        return {"loss": flow_loss(inputs, generator)}

    def pipeline(transformer_, for_saving: bool = False) -> WanAlphaPipeline:
        s = cfg.data.synthetic or cfg.data.manifest
        # MiniLM ships with a dependency: a saved folder names it instead of copying its weights
        by_name = for_saving and cfg.text_encoder.kind == "minilm"
        tokenizer, encoder = (None, None) if by_name else (text.tokenizer, text.model)
        pipe = WanAlphaPipeline(tokenizer, encoder, transformer_, vae, flow_scheduler(cfg.samples.sampler, cfg.timestep_shift),
                                max_sequence_length=text.max_length, fps=cfg.fps, default_height=s.height, default_width=s.width,
                                default_num_frames=s.frames, text_encoder_kind="minilm" if by_name else None,
                                mu_shift=cfg.mu_shift, num_inference_steps=cfg.samples.steps,
                                guidance_scale=cfg.samples.guidance)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def validate(step: int) -> dict[str, float]:
        model.eval()
        metrics = {}
        with torch.no_grad():
            if val_items:  # the same noise and timesteps every time: comparable across steps
                generator = torch.Generator().manual_seed(cfg.train.seed)
                batch = {k: torch.stack([item[k] for item in val_items]) for k in val_items[0]}
                metrics["val_loss"] = float(flow_loss(batch, generator))
            if cfg.samples.prompts and cfg.latents == "rgba" and accelerator.is_main_process:
                write_samples(pipeline(accelerator.unwrap_model(model)), cfg.samples, out / "samples" / f"step-{step:07d}")
        return metrics

    train_loop(accelerator, model, optimizer, loader, step_fn, cfg.train, out, resume=resume, validate_fn=validate)

    final = accelerator.unwrap_model(model)
    target = out / (PIPELINE_DIR if cfg.latents == "rgba" else TRANSFORMER_DIR)
    if accelerator.is_main_process:
        if cfg.adapter == "dora":
            with atomic_output(out / ADAPTER_DIR, overwrite=True, directory=True) as tmp:
                save_dora(final, tmp)
        with atomic_output(target, overwrite=True, directory=True) as tmp:
            if cfg.latents == "rgba":
                pipeline(merge_dora(final).eval(), for_saving=True).save_pretrained(tmp)
            else:
                final.save_pretrained(tmp)
    accelerator.wait_for_everyone()
    return target


def write_samples(pipe: WanAlphaPipeline, samples: SampleConfig, folder: Path) -> list[Path]:
    """One clip per prompt, seeded, written as ``folder/NN.<format>``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, prompt in enumerate(samples.prompts):
        video = pipe(prompt, num_inference_steps=samples.steps, guidance_scale=samples.guidance,
                     generator=torch.Generator().manual_seed(samples.seed + i)).videos[0]
        paths.append(write_video(folder / f"{i:02d}.{samples.format}", video, overwrite=True))
    return paths

