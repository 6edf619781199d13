"""The whole tiny recipe, stage by stage: ``python -m recipes.tiny train --output DIR [--config tiny_all_gpu]``.

Stages (each its own resumable run folder under ``OUTPUT``; a finished stage is skipped):

0. ``data/emoji``: animated Noto emoji clips (when the emoji package is given; else synthetic only);
1. ``base_vae``: base RGB video VAE (:mod:`.base_vae`), Wan2.1's VAE role, on short clips;
   ``base_vae_long``: the same VAE continued on full-length clips (skipped when the config names none);
   ``base_vae_128``: continued again at 17x128x128, the size used downstream (a GPU stage; none by default);
2. ``base_dit``: base text-to-RGB-video DiT (:mod:`.base_dit`), Wan2.1-T2V's role;
3. ``rgba_vae``: the RGBA VAE with rendering losses and TABD against the frozen base DiT (:mod:`.rgba_vae`);
   ``rgba_vae_long``: the same RGBA VAE continued on larger clips (skipped when the config names none);
   ``rgba_vae_shrink``: continued again decoding shrunk latents, as the DiT samples them (none by default);
4. ``dora``: DoRA fine-tuning on RGBA latents with the mean-shifted flow loss (the method's stage 2 as it is);
5. ``model``: the export: decoder LoRAs merged, float16 weights, MiniLM named not copied.

Wall time per stage is written to ``OUTPUT/stages.json`` and ``OUTPUT/stages.md`` (summed over
resumed runs). This module only wires folders together; the maths lives in the trainers.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from wan_alpha.config import load_config
from wan_alpha.data import build_emoji
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import atomic_output
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.train.dit import PIPELINE_DIR, train_dit
from wan_alpha.train.vae import MODEL_DIR as RGBA_VAE_DIR

from . import config_path
from .base_dit import TRANSFORMER_DIR, train_base_dit
from .base_vae import MODEL_DIR as BASE_VAE_DIR
from .base_vae import train_base_vae
from .rgba_vae import train_rgba_vae

STAGES = ("data", "base_vae", "base_vae_long", "base_vae_128", "base_dit", "rgba_vae", "rgba_vae_long",
          "rgba_vae_shrink", "dora", "model")
MODEL_DIR = "model"
TIMES_FILE = "stages.json"


@dataclass
class EmojiDataConfig:
    count: int = 240
    seed: int = 0
    frames: int = 17
    height: int = 128
    width: int = 128


@dataclass
class TinyAllConfig:
    """``configs/tiny_all.yaml``: the emoji set to build and the config of each training stage (names of this
    recipe's configs, or paths)."""

    emoji: EmojiDataConfig = field(default_factory=EmojiDataConfig)
    base_vae: str = "tiny_base_vae"
    base_vae_long: str | None = "tiny_base_vae_long"
    base_vae_128: str | None = None
    base_dit: str = "tiny_base_dit"
    rgba_vae: str = "tiny_rgba_vae"
    rgba_vae_long: str | None = "tiny_rgba_vae_128"
    rgba_vae_shrink: str | None = None
    dora: str = "tiny_dora"


def export_model(pipeline_dir: str | os.PathLike, target: str | os.PathLike, dtype: torch.dtype = torch.float16) -> Path:
    """The shippable model: RGBA VAE LoRAs merged into the decoders, weights in ``dtype``."""
    pipe = WanAlphaPipeline.from_pretrained(pipeline_dir)
    pipe.vae.merge_lora()
    pipe.transformer.to(dtype)
    pipe.vae.to(dtype)
    tokenizer, encoder = pipe.tokenizer, pipe.text_encoder
    if pipe.config.text_encoder_kind is not None:  # named in the config, loaded from its package
        pipe.register_modules(tokenizer=None, text_encoder=None)
    with atomic_output(target, overwrite=True, directory=True) as tmp:
        pipe.save_pretrained(tmp)
    pipe.register_modules(tokenizer=tokenizer, text_encoder=encoder)
    return Path(target)


def _record(out: Path, stage: str, seconds: float) -> None:
    """Add ``seconds`` to the stage's wall time in ``stages.json`` and rewrite ``stages.md``."""
    path = out / TIMES_FILE
    times = json.loads(path.read_text()) if path.exists() else {}
    times[stage] = round(times.get(stage, 0.0) + seconds, 1)
    path.write_text(json.dumps(times, indent=2) + "\n")
    rows = "".join(f"| {name} | {times[name] / 60:.1f} |\n" for name in STAGES if name in times)
    total = sum(times.values()) / 60
    (out / "stages.md").write_text(f"| stage | wall time (min) |\n|---|---|\n{rows}| total | {total:.1f} |\n")


def _run_stage(out: Path, stage: str, done: Path, run: Callable[[], Any]) -> None:
    if done.exists():
        print(f"[tiny] {stage}: done ({done})")
        return
    print(f"[tiny] {stage}: running")
    start = time.perf_counter()
    run()
    _record(out, stage, time.perf_counter() - start)


def train_tiny_all(
    output_dir: str | os.PathLike, *, resume: bool = False, emoji_package: str | os.PathLike | None = None,
    config: str | os.PathLike = "tiny_all",
) -> Path:
    """Run every stage into ``output_dir``; returns the exported model folder ``OUTPUT/model``."""
    cfg = load_config(TinyAllConfig, config_path(config))
    out = Path(output_dir)
    if out.exists() and any(out.iterdir()) and not resume:
        raise WanAlphaError(f"{out} is not empty: pass --resume to continue that run or choose another --output")
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "data" / "emoji" / "manifest.jsonl"
    if emoji_package is not None:
        e = cfg.emoji
        _run_stage(out, "data", manifest, lambda: build_emoji(
            emoji_package, manifest.parent, count=e.count, seed=e.seed, frames=e.frames, height=e.height,
            width=e.width, progress=False))
    data = {"data.manifest.path": str(manifest)} if manifest.exists() else {"data.manifest": None}

    def resuming(stage: str) -> bool:
        return (out / stage / "checkpoints").is_dir()

    base_vae = out / "base_vae" / BASE_VAE_DIR
    _run_stage(out, "base_vae", base_vae, lambda: train_base_vae(
        cfg.base_vae, out / "base_vae", resume=resuming("base_vae"), overrides=data))
    for stage in ("base_vae_long", "base_vae_128"):  # each continues the VAE of the phase before it
        if getattr(cfg, stage) is None:
            continue
        previous, base_vae = base_vae, out / stage / BASE_VAE_DIR
        _run_stage(out, stage, base_vae, lambda: train_base_vae(
            getattr(cfg, stage), out / stage, resume=resuming(stage),
            overrides={**data, "init_from": str(previous)}))
    base_dit = out / "base_dit" / TRANSFORMER_DIR
    rgba_vae = out / "rgba_vae" / RGBA_VAE_DIR
    pipeline = out / "dora" / PIPELINE_DIR
    _run_stage(out, "base_dit", base_dit, lambda: train_base_dit(
        cfg.base_dit, out / "base_dit", resume=resuming("base_dit"), overrides={**data, "base_vae": str(base_vae)}))
    _run_stage(out, "rgba_vae", rgba_vae, lambda: train_rgba_vae(
        cfg.rgba_vae, out / "rgba_vae", resume=resuming("rgba_vae"),
        overrides={**data, "model.base_vae": str(base_vae), "tabd.dit": str(base_dit)}))
    for stage in ("rgba_vae_long", "rgba_vae_shrink"):  # each continues the RGBA VAE of the phase before it
        if getattr(cfg, stage) is None:
            continue
        previous, rgba_vae = rgba_vae, out / stage / RGBA_VAE_DIR
        _run_stage(out, stage, rgba_vae, lambda: train_rgba_vae(
            getattr(cfg, stage), out / stage, resume=resuming(stage),
            overrides={**data, "model.init_from": str(previous), "tabd.dit": str(base_dit)}))
    _run_stage(out, "dora", pipeline, lambda: train_dit(
        config_path(cfg.dora), resume=resuming("dora"), output=out / "dora",
        overrides={**data, "rgba_vae": str(rgba_vae), "base_dit": str(base_dit)}))
    _run_stage(out, "model", out / MODEL_DIR / "model_index.json", lambda: export_model(pipeline, out / MODEL_DIR))
    return out / MODEL_DIR
