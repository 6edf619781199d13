"""Training scaffolding shared by the stages: accelerator, seeding, checkpoints, resume, progress.

A stage (``train/vae.py``, ``train/dit.py``) builds its model, optimizer and dataloader, then hands a
``step_fn(batch, generator) -> {"loss": tensor, other terms...}`` to :func:`train_loop`. Everything
else lives here:

- one accelerate ``Accelerator`` (single CPU process, or ``accelerate launch`` for several GPUs);
- randomness inside a step comes from a generator seeded by ``(seed, micro-step, process)``, and the
  data order from accelerate's seedable sampler, so a resumed run replays exactly what an
  uninterrupted run would have done;
- checkpoints (``OUTPUT/checkpoints/step-NNNNNNN``) hold only the *trainable* parameters plus the
  optimizer and RNG state (accelerate ``save_state``): frozen base weights are not copied every time;
- a tqdm bar shows the loss terms; losses and validation metrics go to ``OUTPUT/log.jsonl``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from safetensors.torch import load_file, save_file
from torch.utils.data import ConcatDataset, Dataset, Subset
from tqdm.auto import tqdm

from ..config import save_config
from ..data import RGBAClipDataset, SyntheticClips
from ..errors import WanAlphaError, first_names
from .resume import check_config_unchanged, load_newest, trim_log

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PREFIX = "step-"
LOG_FILE = "log.jsonl"
CONFIG_FILE = "config.yaml"

StepFn = Callable[[Any, torch.Generator], dict[str, torch.Tensor]]


@dataclass
class SyntheticDataConfig:
    """Procedural clips made on the fly (:class:`wan_alpha.data.SyntheticClips`)."""

    num_clips: int = 64
    frames: int = 5
    height: int = 64
    width: int = 64
    seed: int = 0


@dataclass
class ManifestDataConfig:
    """Clips of a manifest (:class:`wan_alpha.data.RGBAClipDataset`), resized and cropped to one size;
    ``max_clips`` keeps only the first ones (e.g. where every clip is encoded up front)."""

    path: str = ""
    frames: int = 17
    height: int = 256
    width: int = 256
    seed: int = 0
    max_clips: int | None = None


def _manifest_dataset(m: ManifestDataConfig, random_crop: bool = True) -> Dataset:
    clips = RGBAClipDataset(m.path, frames=m.frames, height=m.height, width=m.width, seed=m.seed, random_crop=random_crop)
    return clips if m.max_clips is None else Subset(clips, range(min(m.max_clips, len(clips))))


@dataclass
class DataConfig:
    """The ``data`` config section: ``synthetic``, ``manifest`` or both (concatenated).

    Validation uses ``validation_clips`` extra synthetic clips (another seed) or, for a manifest only,
    its first clips centre-cropped (they are also trained on: add a held-out manifest if that matters).
    """

    synthetic: SyntheticDataConfig | None = None
    manifest: ManifestDataConfig | None = None
    validation_clips: int = 2

    def __post_init__(self) -> None:
        if self.synthetic is None and self.manifest is None:
            raise WanAlphaError("data: give synthetic: {...}, manifest: {path: ...} or both")
        if self.validation_clips < 0:
            raise WanAlphaError(f"data.validation_clips must be >= 0, got {self.validation_clips}")


def build_datasets(data: DataConfig) -> tuple[Dataset, Dataset | None]:
    """``(train, validation)`` datasets of ``{"rgb", "alpha", "caption"}`` items."""
    if data.synthetic is not None:
        s = data.synthetic
        train = SyntheticClips(s.num_clips, s.frames, s.height, s.width, seed=s.seed)
        if data.manifest is not None:
            train = ConcatDataset([train, _manifest_dataset(data.manifest)])
        val = SyntheticClips(data.validation_clips, s.frames, s.height, s.width, seed=s.seed + 1) if data.validation_clips else None
        return train, val
    train = _manifest_dataset(data.manifest)
    if not data.validation_clips:
        return train, None
    fixed = _manifest_dataset(data.manifest, random_crop=False)
    return train, Subset(fixed, range(min(data.validation_clips, len(fixed))))


@dataclass
class LoopConfig:
    """Optimisation and bookkeeping settings common to every stage (the ``train`` config section)."""

    max_steps: int = 1000
    batch_size: int = 1
    learning_rate: float = 1e-4
    weight_decay: float = 1e-2
    gradient_accumulation_steps: int = 1
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    validate_every: int = 500
    log_every: int = 10
    num_workers: int = 0
    # either schedule starts with a linear warm-up over warmup_steps; cosine then falls as a half cosine from
    # learning_rate to 0 at max_steps (a short continued run ends settled instead of at full step size)
    lr_schedule: str = "constant"
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "gradient_accumulation_steps", "checkpoint_every",
                     "keep_checkpoints", "validate_every", "log_every"):
            if getattr(self, name) < 1:
                raise WanAlphaError(f"train.{name} must be at least 1, got {getattr(self, name)}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise WanAlphaError(f"train.mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise WanAlphaError(f"train.lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if not 0 <= self.warmup_steps < self.max_steps:
            raise WanAlphaError(
                f"train.warmup_steps must be in [0, max_steps), got {self.warmup_steps} with max_steps {self.max_steps}"
            )


def lr_factor(loop: LoopConfig, step: int) -> float:
    """The multiplier of each parameter group's learning rate for the optimizer step after ``step`` steps.

    A pure function of the step, so a resumed run continues the schedule without any scheduler state.
    """
    if step < loop.warmup_steps:
        return (step + 1) / (loop.warmup_steps + 1)
    if loop.lr_schedule == "constant":
        return 1.0
    progress = (step - loop.warmup_steps) / (loop.max_steps - loop.warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints under ``output_dir``, oldest first (unfinished ``.part`` folders are skipped)."""
    root = Path(output_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX) and p.suffix != ".part"]
    return sorted(found, key=checkpoint_step)


def checkpoint_step(path: str | os.PathLike) -> int:
    """The optimizer step a checkpoint folder was written at."""
    return int(Path(path).name[len(CHECKPOINT_PREFIX):])


def prepare_output(output_dir: str | os.PathLike, config: Any, resume: bool, allow_config_change: bool = False) -> Path:
    """Create the run folder and write the resolved config; refuse to mix runs by accident (a resume with another
    config too, unless ``allow_config_change``)."""
    output_dir = Path(output_dir)
    existing = checkpoints(output_dir)
    if resume and not existing:
        raise WanAlphaError(f"--resume: no checkpoint in {output_dir / CHECKPOINT_DIR}: start without --resume")
    if not resume and existing:
        raise WanAlphaError(
            f"{output_dir} already holds checkpoints: pass --resume to continue that run or choose another --output"
        )
    if resume:
        check_config_unchanged(output_dir / CONFIG_FILE, config, allow_config_change)
    output_dir.mkdir(parents=True, exist_ok=True)
    save_config(config, output_dir / CONFIG_FILE)
    return output_dir


def make_accelerator(loop: LoopConfig, output_dir: str | os.PathLike) -> Accelerator:
    """An accelerator with seeded, resumable data order; seeds every library RNG.

    On a CPU it also flushes denormal floats to zero (process-wide): small randomly initialised
    models produce them, and they make CPU convolutions 10-100x slower while changing nothing visible.
    """
    accelerator = Accelerator(
        gradient_accumulation_steps=loop.gradient_accumulation_steps,
        mixed_precision=loop.mixed_precision,
        project_dir=str(output_dir),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=loop.seed),
    )
    set_seed(loop.seed)
    if accelerator.device.type == "cpu":
        torch.set_flush_denormal(True)
    _save_trainable_only(accelerator)
    return accelerator


def trainable_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that train (``requires_grad``), detached and contiguous for safetensors."""
    return {n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state_dict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into the trainable parameters of ``model``; every one must be there, nothing else."""
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise WanAlphaError(
            f"{source} does not match the model being trained: missing {first_names(missing, 5)}, unexpected "
            f"{first_names(unexpected, 5)} (was it written with another config?)"
        )
    model.load_state_dict(state, strict=False)


def _save_trainable_only(accelerator: Accelerator) -> None:
    """Make ``save_state``/``load_state`` handle only trainable parameters (``trainable_N.safetensors``)."""

    def save_hook(models: list, weights: list, output_dir: str) -> None:
        for i, model in enumerate(models):
            if accelerator.is_main_process:
                save_file(trainable_state_dict(accelerator.unwrap_model(model)), Path(output_dir) / f"trainable_{i}.safetensors")
        weights.clear()  # accelerate then saves no full model copies

    def load_hook(models: list, input_dir: str) -> None:
        for i, model in enumerate(models):
            path = Path(input_dir) / f"trainable_{i}.safetensors"
            if not path.exists():
                raise WanAlphaError(f"checkpoint {input_dir} has no {path.name}: it is incomplete, delete it")
            load_trainable_state_dict(accelerator.unwrap_model(model), load_file(path), str(path))
        models.clear()

    accelerator.register_save_state_pre_hook(save_hook)
    accelerator.register_load_state_pre_hook(load_hook)


def save_checkpoint(accelerator: Accelerator, output_dir: str | os.PathLike, step: int, keep: int) -> Path:
    """Write a checkpoint for ``step`` (into ``.part``, renamed when complete) and prune old ones."""
    final = Path(output_dir) / CHECKPOINT_DIR / f"{CHECKPOINT_PREFIX}{step:07d}"
    part = final.with_name(final.name + ".part")
    if accelerator.is_main_process:
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(part))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(part, final)
        for old in checkpoints(output_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def resume_latest(accelerator: Accelerator, output_dir: str | os.PathLike) -> int:
    """Load the newest checkpoint that loads into the prepared objects (see :func:`.resume.load_newest`); returns
    its step, with ``log.jsonl`` cut back to it so the resumed steps are not logged twice."""
    step = load_newest(accelerator, checkpoints(output_dir), checkpoint_step)
    if accelerator.is_main_process:
        trim_log(Path(output_dir) / LOG_FILE, step)
    return step


def step_generator(seed: int, micro_step: int, process_index: int, device: torch.device | str = "cpu") -> torch.Generator:
    """The RNG for one micro-step: a pure function of the step, so resuming replays it exactly."""
    state = np.random.SeedSequence([seed, micro_step, process_index]).generate_state(1, np.uint64)[0]
    return torch.Generator(device).manual_seed(int(state >> np.uint64(1)))


def log_metrics(accelerator: Accelerator, output_dir: str | os.PathLike, step: int, metrics: dict[str, float]) -> None:
    """Append one JSON line ``{"step": ..., **metrics}`` to ``OUTPUT/log.jsonl`` (main process)."""
    if accelerator.is_main_process:
        with open(Path(output_dir) / LOG_FILE, "a") as fh:
            fh.write(json.dumps({"step": step, **metrics}) + "\n")


def _batches(accelerator: Accelerator, dataloader, micro_step: int) -> Iterable:
    """Endless batches starting at ``micro_step``: the seeded epoch order, skipping what was consumed."""
    per_epoch = len(dataloader)
    if per_epoch == 0:
        raise WanAlphaError("the training set yields no batch: add clips or lower train.batch_size")
    epoch, skip = divmod(micro_step, per_epoch)
    while True:
        dataloader.set_epoch(epoch)
        yield from accelerator.skip_first_batches(dataloader, skip) if skip else dataloader
        epoch, skip = epoch + 1, 0


def train_loop(
    accelerator: Accelerator,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    dataloader,
    step_fn: StepFn,
    loop: LoopConfig,
    output_dir: str | os.PathLike,
    resume: bool = False,
    validate_fn: Callable[[int], dict[str, float]] | None = None,
) -> int:
    """Run optimizer steps until ``loop.max_steps``; returns the last step.

    ``model``, ``optimizer`` and ``dataloader`` must already be ``accelerator.prepare``-d.
    ``validate_fn(step)`` runs every ``validate_every`` steps and at the end, before the checkpoint
    of that step, and must not touch the global RNG (use its own generator).
    """
    base_lrs = [group["lr"] for group in optimizer.param_groups]  # as configured: a checkpoint holds scheduled ones
    step = resume_latest(accelerator, output_dir) if resume else 0
    accum = loop.gradient_accumulation_steps
    micro_step = step * accum
    params = [p for p in model.parameters() if p.requires_grad]
    bar = tqdm(total=loop.max_steps, initial=step, desc="train", disable=not accelerator.is_main_process)
    model.train()
    batches = iter(_batches(accelerator, dataloader, micro_step))
    while step < loop.max_steps:
        batch = next(batches)
        with accelerator.accumulate(model):
            generator = step_generator(loop.seed, micro_step, accelerator.process_index)
            terms = step_fn(batch, generator)
            accelerator.backward(terms["loss"])
            if accelerator.sync_gradients and loop.max_grad_norm > 0:
                accelerator.clip_grad_norm_(params, loop.max_grad_norm)
            for group, base_lr in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base_lr * lr_factor(loop, step)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        micro_step += 1
        if not accelerator.sync_gradients:
            continue
        step += 1
        values = {k: float(v.detach()) for k, v in terms.items()}
        if loop.lr_schedule != "constant" or loop.warmup_steps:
            values["lr"] = float(optimizer.param_groups[0]["lr"])
        bar.update(1)
        bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()})
        if step % loop.log_every == 0:
            log_metrics(accelerator, output_dir, step, values)
        if validate_fn is not None and (step % loop.validate_every == 0 or step == loop.max_steps):
            log_metrics(accelerator, output_dir, step, validate_fn(step))
            model.train()
        if step % loop.checkpoint_every == 0 or step == loop.max_steps:
            save_checkpoint(accelerator, output_dir, step, loop.keep_checkpoints)
    bar.close()
    return step
