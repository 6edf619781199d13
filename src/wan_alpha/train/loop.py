"""Training scaffolding shared by the stages: accelerator, seeding, checkpoints, resume, progress.

A stage (``train/vae.py``, ``train/dit.py``) builds its model, optimizer and dataloader, then hands a
``step_fn(batch, generator) -> {"loss": tensor, other terms...}`` to :func:`train_loop`. Everything
else lives here:

- one accelerate ``Accelerator`` (single CPU process, or ``accelerate launch`` for several GPUs);
- randomness inside a step comes from a generator seeded by ``(seed, micro-step)``, the same on every
  process; draws for one clip come from :func:`sample_generators` (seeded by that generator and the clip's
  dataset ``index``), and the data order from accelerate's seedable sampler. So a resumed run replays exactly
  what an uninterrupted run would have done, and N processes with batch B train as one process with batch N*B;
- checkpoints (``OUTPUT/checkpoints/step-NNNNNNN``) hold only the *trainable* parameters plus the
  optimizer and RNG state (accelerate ``save_state``): frozen base weights are not copied every time;
- a tqdm bar shows the loss terms (averaged over processes); losses and validation metrics go to
  ``OUTPUT/log.jsonl``;
- memory levers of the ``train`` section: ``base_dtype`` (frozen weights in bf16, trainable ones and the
  optimizer state in fp32), ``optimizer: adamw8bit`` (bitsandbytes), ``gradient_checkpointing`` (each stage
  applies it to its own model).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DataLoaderConfiguration, DistributedType, set_seed
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
BASE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
OPTIMIZERS = ("adamw", "adamw8bit")

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
    """Clips of a manifest (:class:`wan_alpha.data.RGBAClipDataset`), or of several (``path`` a list: e.g. one per
    matting set), resized and cropped to one size; ``max_clips`` keeps only the first ones (e.g. where every clip
    is encoded up front)."""

    path: str | list[str] = ""
    frames: int = 17
    height: int = 256
    width: int = 256
    seed: int = 0
    max_clips: int | None = None


def _manifest_dataset(m: ManifestDataConfig, random_crop: bool = True) -> Dataset:
    paths = [m.path] if isinstance(m.path, str) else m.path
    clips = ConcatDataset([RGBAClipDataset(path, frames=m.frames, height=m.height, width=m.width, seed=m.seed,
                                           random_crop=random_crop) for path in paths])
    return clips if m.max_clips is None else Subset(clips, range(min(m.max_clips, len(clips))))


class IndexedClips(Dataset):
    """``dataset``'s items with their ``"index"`` added: per-clip randomness is seeded by it."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        return {**self.dataset[index], "index": index}


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
    """``(train, validation)`` datasets of ``{"rgb", "alpha", "caption"}`` items (training ones with ``"index"``)."""
    if data.synthetic is not None:
        s = data.synthetic
        train = SyntheticClips(s.num_clips, s.frames, s.height, s.width, seed=s.seed)
        if data.manifest is not None:
            train = ConcatDataset([train, _manifest_dataset(data.manifest)])
        val = SyntheticClips(data.validation_clips, s.frames, s.height, s.width, seed=s.seed + 1) if data.validation_clips else None
        return IndexedClips(train), val
    train = IndexedClips(_manifest_dataset(data.manifest))
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
    # memory levers (docs/training.md): recompute each block's activations in the backward pass instead of
    # keeping them; frozen base weights in bfloat16 (needs mixed_precision bf16: trainable weights and the
    # optimizer state stay float32); 8-bit AdamW states (bitsandbytes)
    gradient_checkpointing: bool = False
    base_dtype: str = "float32"
    optimizer: str = "adamw"

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "gradient_accumulation_steps", "checkpoint_every",
                     "keep_checkpoints", "validate_every", "log_every"):
            if getattr(self, name) < 1:
                raise WanAlphaError(f"train.{name} must be at least 1, got {getattr(self, name)}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise WanAlphaError(f"train.mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise WanAlphaError(f"train.lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.base_dtype not in BASE_DTYPES:
            raise WanAlphaError(f"train.base_dtype must be one of {', '.join(BASE_DTYPES)}, got {self.base_dtype!r}")
        if self.base_dtype == "bfloat16" and self.mixed_precision != "bf16":
            raise WanAlphaError("train.base_dtype: bfloat16 needs train.mixed_precision: bf16 (the float32 adapter "
                                "layers then run in bf16 autocast next to the bf16 base weights)")
        if self.optimizer not in OPTIMIZERS:
            raise WanAlphaError(f"train.optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
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


def status(message: str) -> None:
    """One line on stderr about what a run is doing (main process only), between tqdm bars."""
    if PartialState().is_main_process:
        tqdm.write(message, file=sys.stderr)


def make_optimizer(params: list[torch.nn.Parameter], loop: LoopConfig) -> torch.optim.Optimizer:
    """AdamW over ``params`` (float32 states), or bitsandbytes' 8-bit AdamW (``optimizer: adamw8bit``)."""
    if loop.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=loop.learning_rate, weight_decay=loop.weight_decay)
    try:
        import bitsandbytes
    except ImportError as err:
        raise WanAlphaError("train.optimizer: adamw8bit needs bitsandbytes (pip install bitsandbytes; it runs on "
                            "CUDA GPUs): install it or set train.optimizer: adamw") from err
    return bitsandbytes.optim.AdamW8bit(params, lr=loop.learning_rate, weight_decay=loop.weight_decay)


def cast_frozen_weights(model: torch.nn.Module, loop: LoopConfig) -> None:
    """Store the frozen parameters in ``train.base_dtype``; trainable ones (and so the optimizer state) stay
    float32, and so do the modules the model class keeps in float32 (diffusers' ``_keep_in_fp32_modules``)."""
    dtype = BASE_DTYPES[loop.base_dtype]
    if dtype == torch.float32:
        return
    keep = set(getattr(model, "_keep_in_fp32_modules", None) or ())
    for name, param in model.named_parameters():  # diffusers matches any part of the name, as here
        if not param.requires_grad and param.is_floating_point() and keep.isdisjoint(name.split(".")):
            param.data = param.data.to(dtype)


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


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """Torch's CPU generator at ``seed`` inside, restored after: models built there are rebuilt the same on --resume."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield

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


def uses_engine(accelerator: Accelerator) -> bool:
    """Whether DeepSpeed or FSDP (not plain data parallel) holds the model, its checkpoints and its optimizer."""
    return accelerator.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP)


def trained_model(accelerator: Accelerator, model: torch.nn.Module,
                  rebuild: Callable[[], torch.nn.Module]) -> torch.nn.Module | None:
    """The trained model whole, on the main process (None on the others). Under FSDP or ZeRO-3 the weights are
    sharded: every process gathers them (accelerate's ``get_state_dict``) and the main process loads the trained
    parameters into ``rebuild()``, a fresh copy of the model as it was before training."""
    sharded = accelerator.distributed_type == DistributedType.FSDP or (
        accelerator.distributed_type == DistributedType.DEEPSPEED and accelerator.state.deepspeed_plugin.zero_stage == 3)
    if not sharded:
        return accelerator.unwrap_model(model) if accelerator.is_main_process else None
    state = accelerator.get_state_dict(model)
    if not accelerator.is_main_process:
        return None
    fresh = rebuild()
    trainable = {n for n, p in fresh.named_parameters() if p.requires_grad}
    load_trainable_state_dict(fresh, {k: v for k, v in state.items() if k in trainable}, "the gathered weights")
    return fresh


def _save_trainable_only(accelerator: Accelerator) -> None:
    """Make ``save_state``/``load_state`` handle only trainable parameters (``trainable_N.safetensors``)."""

    def save_hook(models: list, weights: list, output_dir: str) -> None:
        if uses_engine(accelerator):  # DeepSpeed / FSDP write their own (sharded) model files
            return
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
    # DeepSpeed: frozen base weights are not written at every checkpoint (load_state reads them non-strictly)
    engine_args = {"exclude_frozen_parameters": True} if accelerator.distributed_type == DistributedType.DEEPSPEED else {}
    accelerator.save_state(str(part), **engine_args)
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
    engine_args = {"load_module_strict": False} if accelerator.distributed_type == DistributedType.DEEPSPEED else {}
    step = load_newest(accelerator, checkpoints(output_dir), checkpoint_step, **engine_args)
    if accelerator.is_main_process:
        trim_log(Path(output_dir) / LOG_FILE, step)
    return step


def _seeded_generator(entropy: list[int]) -> torch.Generator:
    state = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state >> np.uint64(1)))


def step_generator(seed: int, micro_step: int) -> torch.Generator:
    """The RNG of one micro-step, the same on every process: a pure function of the step, so resuming replays
    it exactly. (The trailing 0 keeps the streams of runs made when it also took the process index.)"""
    return _seeded_generator([seed, micro_step, 0])


def sample_generators(generator: torch.Generator, indices: torch.Tensor | list[int]) -> list[torch.Generator]:
    """One RNG per clip of a batch, from the step's ``generator`` and each clip's dataset index: a clip gets the
    same draws whichever process and batch position it lands on (N processes train as one with N times the
    batch)."""
    return [_seeded_generator([generator.initial_seed(), int(i)]) for i in indices]


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
            generator = step_generator(loop.seed, micro_step)
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
        names = list(terms)  # the mean over processes: each process holds its own part of the global batch
        means = accelerator.reduce(torch.stack([terms[k].detach().float() for k in names]), reduction="mean")
        values = dict(zip(names, means.tolist()))
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
