"""The paper's VAE ablation at small scale (``wan-alpha ablate vae``).

Each variant is one ``train_vae`` run of the same config with a few overrides; every variant of a
seed shares data, initialisation and step count. Each trained VAE is scored on held-out clips
(:func:`evaluate_vae`), and the table gives mean and sample standard deviation over seeds.

Variants (the rows of the paper's VAE table, plus the reference code's TABD):

- ``naive``: no palette rendering (the clip is encoded over black, losses on alpha and on that
  black-filled RGB only) and no TABD: a plain RGB-A VAE.
- ``rendering``: random palette colour under the input, alpha + soft + hard render losses; no TABD.
- ``rendering+tabd``: plus TABD with the paper's bounded push (``tabd.mode: paper``).
- ``rendering+tabd_ref``: plus TABD as the reference code computes it (``tabd.mode: reference``:
  the push half clamps to zero).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..config import load_config
from ..data import SyntheticClips
from ..errors import WanAlphaError
from ..io import atomic_output
from .reconstruction import evaluate_vae, transparent_baseline

VARIANTS: dict[str, dict[str, Any]] = {
    "naive": {"rendering": False, "tabd.mode": "off"},
    "rendering": {"rendering": True, "tabd.mode": "off"},
    "rendering+tabd": {"rendering": True, "tabd.mode": "paper"},
    "rendering+tabd_ref": {"rendering": True, "tabd.mode": "reference"},
}

TABLE_COLUMNS = {
    "rgb_psnr": "RGB PSNR ↑", "rgb_ssim": "RGB SSIM ↑", "alpha_psnr": "α PSNR ↑", "alpha_ssim": "α SSIM ↑",
    "alpha_sad": "SAD ↓", "alpha_mse": "MSE ↓", "alpha_grad": "Grad ↓", "alpha_conn": "Conn ↓",
    "alpha_dtssd": "dtSSD ↓",
}

HELD_OUT_SEED = 10_000
"""Offset of the held-out clips' seed from the training data's seed (no clip is shared)."""

RESULT_FILE = "eval.json"

BASELINE = "all transparent (no model)"
"""The reference row: every clip predicted as alpha 0 (see :func:`transparent_baseline`)."""


def held_out_clips(config: str | os.PathLike, count: int, overrides: dict[str, Any] | None = None) -> SyntheticClips:
    """``count`` procedural clips of the config's training size, none of them trained on."""
    from ..train.vae import VAETrainConfig  # train imports eval: import it when called

    cfg = load_config(VAETrainConfig, config, overrides)
    s = cfg.data.synthetic
    if s is None:
        raise WanAlphaError("ablate vae needs synthetic training data (data.synthetic) to draw held-out clips from")
    return SyntheticClips(count, s.frames, s.height, s.width, seed=s.seed + HELD_OUT_SEED)


def cached_result(path: Path, compute: Callable[[], dict]) -> dict:
    """``path``'s JSON if an earlier run wrote it, else ``compute()``, written there atomically: what lets a
    rerun ablation command skip finished work."""
    if path.is_file():
        return json.loads(path.read_text())
    result = compute()
    with atomic_output(path, overwrite=True) as tmp:
        Path(tmp).write_text(json.dumps(result, indent=1))
    return result


def run_variant(config, output: Path, variant: str, seed: int, max_steps: int | None, eval_set, overrides) -> dict:
    """Train one variant for one seed and score it; a finished run (``eval.json``) is read back instead."""
    from ..models import RGBAVAE
    from ..train.loop import checkpoints
    from ..train.vae import train_vae

    def train_and_score() -> dict:
        run_overrides = {**(overrides or {}), **VARIANTS[variant], "train.seed": seed}
        model_dir = train_vae(config, output, max_steps=max_steps, overrides=run_overrides,
                              resume=bool(checkpoints(output)))
        return evaluate_vae(RGBAVAE.from_pretrained(model_dir), eval_set) | {"variant": variant, "seed": seed}

    return cached_result(output / RESULT_FILE, train_and_score)


def run_vae_ablation(
    config: str | os.PathLike,
    output: str | os.PathLike,
    seeds: list[int],
    max_steps: int | None = None,
    eval_clips: int = 8,
    variants: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, list[dict]]:
    """Train and score every variant for every seed under ``output/seed-S/VARIANT``; results by variant,
    then the :data:`BASELINE` row.

    Rerunning the same command skips finished runs and resumes unfinished ones from their last checkpoint.
    """
    variants = variants or list(VARIANTS)
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise WanAlphaError(f"unknown ablation variant(s) {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    if not seeds:
        raise WanAlphaError("give at least one seed")
    eval_set = held_out_clips(config, eval_clips, overrides)
    output = Path(output)
    results: dict[str, list[dict]] = {v: [] for v in variants}
    for seed in seeds:  # seed-major: a partial run still has every variant for the first seeds
        for variant in variants:
            results[variant].append(
                run_variant(config, output / f"seed-{seed}" / variant, variant, seed, max_steps, eval_set, overrides)
            )
    results[BASELINE] = [{"mean": transparent_baseline(eval_set), "seed": None}]
    return results


def _mean_spread(values: list[float]) -> str:
    """``mean ± sample std`` (std over seeds, ddof=1; a single seed has no spread)."""
    mean = float(np.mean(values))
    digits = 4 if abs(mean) < 1 else 2
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {float(np.std(values, ddof=1)):.{digits}f}"


def ablation_table(results: dict[str, list[dict]], names: dict[str, str] | None = None) -> str:
    """Markdown table: one row per variant, ``mean ± std over seeds`` of each metric's held-out mean;
    ``names`` maps the metrics to show to their column titles (default: the VAE table's)."""
    names = names or TABLE_COLUMNS
    columns = [c for c in names if all(c in r["mean"] for runs in results.values() for r in runs)]
    lines = [
        "| variant | seeds | " + " | ".join(names[c] for c in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for variant, runs in results.items():
        if runs:
            cells = [_mean_spread([r["mean"][c] for r in runs]) for c in columns]
            lines.append(f"| {variant} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
