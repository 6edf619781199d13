"""Stage 2: fine-tune the Wan DiT with DoRA on RGBA latents with the mean-shifted flow loss.

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

:class:`DiTTrainer` is the stage; a recipe subclasses it to train on other latents or other weights
(the tiny recipe trains its base text-to-video DiT this way) by overriding :meth:`~DiTTrainer.load_vae`,
:meth:`~DiTTrainer.encode_latents`, :meth:`~DiTTrainer.build_transformer`, :meth:`~DiTTrainer.write_samples`
or :meth:`~DiTTrainer.save`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ..config import load_config
from ..errors import WanAlphaError
from ..io import DEFAULT_FPS, atomic_output, write_video
from ..losses import shifted_flow_loss
from ..models.dit import add_dora, build_dit, merge_dora, save_dora
from ..models.rgba_vae import RGBAVAE
from ..models.text_encoders import DEFAULT_MAX_LENGTH, TextEncoder, load_text_encoder
from ..pipelines import WanAlphaPipeline
from ..rgba import (
    latent_frame_count,
    latent_stride,
    random_palette_colors,
    vae_spatial_stride,
)
from ..sampling import (
    DEFAULT_MU_SHIFT,
    DEFAULT_TIMESTEP_SHIFT,
    MASK_FITS,
    flow_scheduler,
    masks_from_alpha,
    sample_training_sigmas,
)
from .cache import CachedClips, build_cache
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
    SyntheticDataConfig,
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

ADAPTER_DIR = "dora"
PIPELINE_DIR = "pipeline"
CACHE_DIR = "cache"
CACHED_KEYS = ("latents", "mask", "text")


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
    """The ``train dit`` config: the trained RGBA VAE and one of ``base_dit`` (a local folder) or ``dit_config``
    (fresh weights)."""

    rgba_vae: str = ""
    base_dit: str | None = None
    dit_config: dict[str, Any] | None = None
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    dora: DoraConfig = field(default_factory=DoraConfig)
    mu_shift: float = DEFAULT_MU_SHIFT
    timestep_shift: float = DEFAULT_TIMESTEP_SHIFT
    mask_fit: str = "reference"
    mask_threshold: float | None = None  # None: the fit's own (see sampling.fit_alpha_ellipses)
    caption_dropout: float = 0.0
    # encode latents, masks and caption states once into OUTPUT/cache (memory-mapped files, not RAM);
    # offload_encoders then moves the frozen VAE and text encoder to the CPU for the rest of the run
    cache: bool = True
    offload_encoders: bool = False
    data: DataConfig = field(default_factory=lambda: DataConfig(synthetic=SyntheticDataConfig()))
    train: LoopConfig = field(default_factory=LoopConfig)
    samples: SampleConfig = field(default_factory=SampleConfig)
    fps: float = DEFAULT_FPS
    output_dir: str = "runs/dit"

    def __post_init__(self) -> None:
        self.check_latent_source()
        if not 0.0 <= self.caption_dropout < 1.0:
            raise WanAlphaError(f"caption_dropout must be in [0, 1), got {self.caption_dropout}")
        if self.mask_fit not in MASK_FITS:
            raise WanAlphaError(f"mask_fit must be one of {', '.join(MASK_FITS)}, got {self.mask_fit!r}")
        if self.offload_encoders and not self.cache:
            raise WanAlphaError("offload_encoders: true needs cache: true (without a cache every step encodes its clips)")

    def check_latent_source(self) -> None:
        if not self.rgba_vae:
            raise WanAlphaError("rgba_vae: give the folder of the trained RGBA VAE (`wan-alpha train vae` output, "
                                "its rgba_vae/), in the config or with --rgba-vae")


class DiTTrainer:
    """Stage 2 for one config: encode the clips (once, with ``cache``), train, save ``dora/`` and ``pipeline/``.
    The methods below are the points a recipe overrides."""

    def __init__(self, config: DiTTrainConfig) -> None:
        self.config = config
        self._warned_truncation = False  # one caption-truncation warning per run, not one per batch

    # ------------------------------------------------------------------ points to override
    def load_vae(self) -> torch.nn.Module:
        """The frozen VAE whose latents the DiT learns."""
        if not Path(self.config.rgba_vae).exists():
            raise WanAlphaError(f"rgba_vae {self.config.rgba_vae} does not exist: train the RGBA VAE first (`wan-alpha "
                                "train vae --config vae_tiny --output runs/vae_tiny` writes runs/vae_tiny/rgba_vae) or "
                                "pass --rgba-vae DIR")
        return RGBAVAE.from_pretrained(self.config.rgba_vae)

    def latent_channels(self, vae: torch.nn.Module) -> int:
        return vae.z_dim

    def encode_latents(self, vae: torch.nn.Module, rgb: torch.Tensor, alpha: torch.Tensor,
                       generator: torch.Generator) -> torch.Tensor:
        """Normalised latents of clips hard-rendered over a random palette colour each."""
        background = random_palette_colors(rgb.shape[0], generator, rgb.device)
        return vae.encode(rgb, alpha, background=background).float()

    def build_transformer(self) -> torch.nn.Module:
        """The DiT with a fresh DoRA adapter (called under the run's seed), with the ``train`` section's
        memory levers applied (gradient checkpointing, frozen weights in ``base_dtype``)."""
        cfg = self.config
        transformer = build_dit(cfg.dit_config, cfg.base_dit)
        add_dora(transformer, cfg.dora.r, cfg.dora.alpha)
        if cfg.train.gradient_checkpointing:
            transformer.enable_gradient_checkpointing()
        cast_frozen_weights(transformer, cfg.train)
        return transformer

    def write_samples(self, pipe: WanAlphaPipeline, folder: Path) -> list[Path]:
        """One clip per sample prompt, seeded, written as ``folder/NN.<format>``."""
        samples = self.config.samples
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, prompt in enumerate(samples.prompts):
            video = pipe(prompt, num_inference_steps=samples.steps, guidance_scale=samples.guidance,
                         generator=torch.Generator().manual_seed(samples.seed + i)).videos[0]
            paths.append(write_video(folder / f"{i:02d}.{samples.format}", video, overwrite=True))
        return paths

    result_dir = PIPELINE_DIR
    """The folder under ``output_dir`` that :meth:`save` writes the model to (what :meth:`train` returns)."""

    def save(self, transformer: torch.nn.Module, output_dir: Path, vae: torch.nn.Module, text: TextEncoder) -> None:
        """Write ``dora/`` (the adapter) and ``pipeline/`` (a pipeline with the adapter merged)."""
        with atomic_output(output_dir / ADAPTER_DIR, overwrite=True, directory=True) as tmp:
            save_dora(transformer, tmp)
        pipe = self.pipeline(merge_dora(transformer).eval(), vae, text, for_saving=True)
        with atomic_output(output_dir / self.result_dir, overwrite=True, directory=True) as tmp:
            pipe.save_pretrained(tmp)

    # ------------------------------------------------------------------ the stage
    def pipeline(self, transformer: torch.nn.Module, vae: torch.nn.Module, text: TextEncoder,
                 for_saving: bool = False) -> WanAlphaPipeline:
        """A pipeline around the model being trained, with the settings it is trained at."""
        cfg = self.config
        size = cfg.data.synthetic or cfg.data.manifest
        # MiniLM ships with a dependency: a saved folder names it instead of copying its weights
        by_name = for_saving and cfg.text_encoder.kind == "minilm"
        tokenizer, encoder = (None, None) if by_name else (text.tokenizer, text.model)
        pipe = WanAlphaPipeline(
            tokenizer, encoder, transformer, vae, flow_scheduler(cfg.samples.sampler, cfg.timestep_shift),
            max_sequence_length=text.max_length, fps=cfg.fps, default_height=size.height, default_width=size.width,
            default_num_frames=size.frames, text_encoder_kind="minilm" if by_name else None, mu_shift=cfg.mu_shift,
            num_inference_steps=cfg.samples.steps, guidance_scale=cfg.samples.guidance, mask_fit=cfg.mask_fit)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    @torch.no_grad()
    def encode_clip(self, vae: torch.nn.Module, text: TextEncoder, item: dict,
                    generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``{"latents", "mask", "text"}`` (no batch axis) of one clip ``{"rgb", "alpha", "caption"}``; ``generator``
        draws its palette colour."""
        device = vae.device
        rgb, alpha = item["rgb"][None].to(device), item["alpha"][None].to(device)
        latents = self.encode_latents(vae, rgb, alpha, generator)
        cfg = self.config
        mask = masks_from_alpha(alpha.cpu(), latent_stride(alpha, latents), cfg.mask_fit, cfg.mask_threshold).to(device)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            states = text.encode([item["caption"]])[0].float()
        if caught and not self._warned_truncation:
            self._warned_truncation = True
            warnings.warn(f"some captions are longer than {text.max_length} tokens and are truncated (raise "
                          "text_encoder.max_length to keep them whole); further ones are not reported",
                          UserWarning, stacklevel=2)
        return {"latents": latents[0], "mask": mask[0], "text": states[0]}

    def encode_batch(self, vae: torch.nn.Module, text: TextEncoder, batch: dict,
                     generators: list[torch.Generator]) -> dict[str, torch.Tensor]:
        """:meth:`encode_clip` of each clip of a batch (one generator each), stacked."""
        clips = [self.encode_clip(vae, text, {k: batch[k][i] for k in ("rgb", "alpha", "caption")}, generator)
                 for i, generator in enumerate(generators)]
        return {k: torch.stack([clip[k] for clip in clips]) for k in clips[0]}

    def cache_inputs(self, vae: torch.nn.Module, text: TextEncoder, dataset: Dataset, folder: Path,
                     seed: int) -> CachedClips:
        """Encode every clip once into ``folder`` (memory-mapped, see :mod:`.cache`); clip ``i``'s palette colour
        comes from ``(seed, i)``, so any number of processes writes the same cache."""
        base = torch.Generator().manual_seed(seed)
        return build_cache(folder, dataset, lambda item, index: self.encode_clip(
            vae, text, item, sample_generators(base, [index])[0]), desc=f"encode {folder.name} clips")

    def _seeded_transformer(self) -> torch.nn.Module:
        """:meth:`build_transformer` under the run's seed: a fresh dit_config base is rebuilt the same on --resume."""
        with seeded_rng(self.config.train.seed):
            return self.build_transformer()

    def flow_loss(self, model: torch.nn.Module, inputs: dict[str, torch.Tensor], generators: list[torch.Generator],
                  empty_text: torch.Tensor) -> torch.Tensor:
        """The mean-shifted flow loss of a batch of encoded clips on ``empty_text``'s device; each clip's caption
        dropout, noise and timestep from its own generator."""
        cfg, device = self.config, empty_text.device
        latents = inputs["latents"].to(device)
        text_states = inputs["text"].to(device)
        if cfg.caption_dropout:  # learn the unconditional branch classifier-free guidance needs
            drop = torch.cat([torch.rand(1, generator=g) for g in generators]) < cfg.caption_dropout
            text_states = torch.where(drop.to(device)[:, None, None], empty_text.to(text_states), text_states)
        noise = torch.stack([torch.randn(latents.shape[1:], generator=g) for g in generators]).to(device, latents.dtype)
        sigmas = torch.cat([sample_training_sigmas(1, cfg.timestep_shift, g) for g in generators]).to(device)

        def velocity(z_t: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
            return model(hidden_states=z_t, timestep=timestep, encoder_hidden_states=text_states, return_dict=False)[0]

        return shifted_flow_loss(velocity, latents, noise, sigmas, inputs["mask"].to(device), cfg.mu_shift)

    def estimate(self) -> TrainingEstimate:
        """Memory and time of one training step (:mod:`.estimate`): this config's model and loss on meta tensors,
        without loading any weights."""
        cfg = self.config
        arch, note = model_config(cfg.base_dit, "transformer", cfg.dit_config, "the DiT", WAN21_DIT)
        vae_arch, vae_note = model_config(cfg.rgba_vae, "", None, "the RGBA VAE", default={})
        stride = vae_spatial_stride(vae_arch.get("base_config", vae_arch))
        size = cfg.data.synthetic or cfg.data.manifest
        text_length = cfg.text_encoder.max_length or DEFAULT_MAX_LENGTH[cfg.text_encoder.kind]
        dtype = trace_dtype(cfg.train)
        with torch.device("meta"):
            transformer = build_dit(arch)
            add_dora(transformer, cfg.dora.r, cfg.dora.alpha)
        torch.nn.Module.to(transformer, dtype).train()  # (diffusers' to() warns about fp32 modules: moot on meta)
        latents = (arch["in_channels"], latent_frame_count(size.frames), size.height // stride, size.width // stride)
        empty_text = torch.empty(text_length, arch["text_dim"], device="meta", dtype=dtype)
        params, trainable, block = count_parameters(transformer, ("blocks",))
        estimate = TrainingEstimate("DiT", params, trainable, block, cfg.train.base_dtype, cfg.train.optimizer,
                                    cfg.train.batch_size, cfg.train.gradient_checkpointing,
                                    notes=[n for n in (note, vae_note) if n])

        def step_for(batch: int) -> Callable[[], torch.Tensor]:
            inputs = {"latents": torch.empty(batch, *latents, device="meta", dtype=dtype),
                      "mask": torch.empty(batch, 1, *latents[1:], device="meta", dtype=dtype),
                      "text": torch.empty(batch, text_length, arch["text_dim"], device="meta", dtype=dtype)}
            generators = sample_generators(torch.Generator().manual_seed(0), range(batch))
            return lambda: self.flow_loss(transformer, inputs, generators, empty_text)

        return estimate.trace(transformer, step_for)

    def check_compatible(self, transformer: torch.nn.Module, vae: torch.nn.Module, text: TextEncoder) -> None:
        if transformer.config.text_dim != text.dim:
            raise WanAlphaError(f"the DiT reads {transformer.config.text_dim}-d text but the {type(text.model).__name__} "
                                f"encoder gives {text.dim}-d: set dit_config.text_dim: {text.dim} or change text_encoder")
        z_dim = self.latent_channels(vae)
        if transformer.config.in_channels != z_dim:
            raise WanAlphaError(f"the DiT reads {transformer.config.in_channels} latent channels but the VAE "
                                f"gives {z_dim}: set dit_config.in_channels/out_channels to {z_dim}")

    def train(self, resume: bool = False, tflops: float = DEFAULT_TFLOPS, allow_config_change: bool = False) -> Path:
        """Run (or ``resume``) training into ``config.output_dir``; returns the saved model folder. The memory
        and time estimate (at ``tflops`` per GPU) is printed first on a GPU, and a run that cannot fit is refused."""
        cfg = self.config
        accelerator = make_accelerator(cfg.train, cfg.output_dir)
        report_and_check(self.estimate, accelerator, tflops)
        # load and check the models before the run folder is created: a bad path leaves nothing behind
        status(f"loading the RGBA VAE ({cfg.rgba_vae})")
        vae = self.load_vae().eval().requires_grad_(False)
        status(f"loading the {cfg.text_encoder.kind} text encoder")
        text = load_text_encoder(cfg.text_encoder.kind, cfg.text_encoder.path, cfg.text_encoder.max_length)
        status(f"building the DiT ({cfg.base_dit or 'fresh weights from dit_config'}) with DoRA r={cfg.dora.r}")
        transformer = self._seeded_transformer()
        self.check_compatible(transformer, vae, text)
        out = prepare_output(cfg.output_dir, cfg, resume, allow_config_change)
        device = accelerator.device
        vae.to(device)
        text.model.to(device)
        empty_text = text.encode([""], allow_empty=True)[0][0]

        train_set, val_set = build_datasets(cfg.data)
        if cfg.cache:
            train_set = self.cache_inputs(vae, text, train_set, out / CACHE_DIR / "train", cfg.train.seed)
        val_items = self.cache_inputs(vae, text, val_set, out / CACHE_DIR / "validation", cfg.train.seed + 1) \
            if val_set is not None else []
        if cfg.offload_encoders:  # frozen and, with the cache, only needed again for sample videos
            vae.to("cpu")
            text.model.to("cpu")
        loader = DataLoader(train_set, batch_size=cfg.train.batch_size, shuffle=True, drop_last=True,
                            num_workers=cfg.train.num_workers)
        optimizer = make_optimizer([p for p in transformer.parameters() if p.requires_grad], cfg.train)
        model, optimizer, loader = accelerator.prepare(transformer, optimizer, loader)

        def step_fn(batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
            generators = sample_generators(generator, batch["index"])
            inputs = batch if cfg.cache else self.encode_batch(vae, text, batch, generators)
            return {"loss": self.flow_loss(model, inputs, generators, empty_text)}

        def validate(step: int) -> dict[str, float]:
            model.eval()
            metrics = {}
            with torch.no_grad():
                if val_items:  # the same noise and timesteps every time: comparable across steps
                    batch = {k: torch.stack([val_items[i][k] for i in range(len(val_items))]) for k in CACHED_KEYS}
                    generators = sample_generators(torch.Generator().manual_seed(cfg.train.seed), range(len(val_items)))
                    metrics["val_loss"] = float(self.flow_loss(model, batch, generators, empty_text))
                if cfg.samples.prompts and accelerator.is_main_process:
                    vae.to(device)
                    text.model.to(device)
                    pipe = self.pipeline(accelerator.unwrap_model(model), vae, text)
                    self.write_samples(pipe, out / "samples" / f"step-{step:07d}")
                    if cfg.offload_encoders:
                        vae.to("cpu")
                        text.model.to("cpu")
            return metrics

        train_loop(accelerator, model, optimizer, loader, step_fn, cfg.train, out, resume=resume, validate_fn=validate)
        trained = trained_model(accelerator, model, self._seeded_transformer)
        if trained is not None:
            status(f"saving {out / ADAPTER_DIR} and {out / self.result_dir}")
            self.save(trained, out, vae, text)
        accelerator.wait_for_everyone()
        return out / self.result_dir


def train_dit(
    config: str | os.PathLike,
    *,
    resume: bool = False,
    max_steps: int | None = None,
    output: str | os.PathLike | None = None,
    rgba_vae: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    dry_run: bool = False,
    tflops: float | None = None,
    allow_config_change: bool = False,
) -> Path | None:
    """Run (or ``resume``) DiT training from a YAML config; returns the saved pipeline folder. ``overrides`` are
    dotted config keys; ``dry_run`` prints the memory and time estimate only (and returns None)."""
    overrides = dict(overrides or {})
    if max_steps is not None:
        overrides["train.max_steps"] = max_steps
    if output is not None:
        overrides["output_dir"] = str(output)
    if rgba_vae is not None:
        overrides["rgba_vae"] = str(rgba_vae)
    trainer = DiTTrainer(load_config(DiTTrainConfig, config, overrides))
    if dry_run:
        print(trainer.estimate().describe(tflops or DEFAULT_TFLOPS, shipped_layouts()))
        return None
    return trainer.train(resume, tflops or DEFAULT_TFLOPS, allow_config_change)
