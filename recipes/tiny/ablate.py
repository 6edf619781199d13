"""The tiny recipe's ablations: ``python -m recipes.tiny ablate-vae ...`` and ``... ablate-dit ...``.

Both train the method's own stages (:mod:`wan_alpha.train`) several ways with identical data, seeds and steps, score
every run with :mod:`wan_alpha.eval`, and print mean ± sample std over seeds. Rerunning a command skips finished
runs and resumes unfinished ones.

VAE ablation (the paper's VAE table plus the reference code's TABD), one row per variant:

- ``naive``: no palette rendering (the clip is encoded over black, losses on alpha and on that
  black-filled RGB only) and no TABD: a plain RGB-A VAE.
- ``rendering``: random palette colour under the input, alpha + soft + hard render losses; no TABD.
- ``rendering+tabd``: plus TABD with the paper's bounded push (``tabd.mode: paper``).
- ``rendering+tabd_ref``: plus TABD as the reference code computes it (``tabd.mode: reference``:
  the push half clamps to zero).

Mean-sampler ablation: two DiT trainings per seed, differing only in ``mu_shift`` (the config's, and 0); each
pipeline generates every prompt inside a left and a mirrored right ellipse, scored without ground truth: IoU of
the alpha support with the requested ellipse and with its mirror image (the first should exceed the second), the
clean-background rate outside the ellipse, the transparent share and alpha stability. Rows: ``mean sampler``,
``mean sampler, off at sampling`` (the same model sampled from plain noise) and ``no mean sampler``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from wan_alpha.cli.args import read_prompts
from wan_alpha.config import load_config
from wan_alpha.data import SyntheticClips
from wan_alpha.errors import WanAlphaError
from wan_alpha.eval.generation import evaluate_generation
from wan_alpha.eval.reconstruction import HELD_OUT_SEED, evaluate_vae, summarize, transparent_baseline
from wan_alpha.io import atomic_output
from wan_alpha.models import RGBAVAE
from wan_alpha.rgba import Ellipse
from wan_alpha.train.dit import PIPELINE_DIR, DiTTrainConfig, train_dit
from wan_alpha.train.loop import checkpoint_step, checkpoints
from wan_alpha.train.vae import VAETrainConfig, train_vae

from . import config_path

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

RESULT_FILE = "eval.json"

BASELINE = "all transparent (no model)"
"""The reference row: every clip predicted as alpha 0 (see :func:`transparent_baseline`)."""


def held_out_clips(config: str | os.PathLike, count: int, overrides: dict[str, Any] | None = None) -> SyntheticClips:
    """``count`` procedural clips of the config's training size, none of them trained on."""
    cfg = load_config(VAETrainConfig, config_path(config), overrides)
    s = cfg.data.synthetic
    if s is None:
        raise WanAlphaError("ablate vae needs synthetic training data (data.synthetic) to draw held-out clips from")
    return SyntheticClips(count, s.frames, s.height, s.width, seed=s.seed + HELD_OUT_SEED)  # none trained on


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
    def train_and_score() -> dict:
        run_overrides = {**(overrides or {}), **VARIANTS[variant], "train.seed": seed}
        model_dir = train_vae(config_path(config), output, max_steps=max_steps, overrides=run_overrides,
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


TRAININGS: dict[str, float | None] = {"mean-sampler": None, "no-mean-sampler": 0.0}
"""Training folder -> ``mu_shift`` override (``None``: the config's own shift)."""

ROWS: dict[str, tuple[str, float | None]] = {
    "mean sampler": ("mean-sampler", None),
    "mean sampler, off at sampling": ("mean-sampler", 0.0),
    "no mean sampler": ("no-mean-sampler", None),
}
"""Table row -> (training folder, sampling shift; ``None``: the shift the model was trained with)."""

ELLIPSES = (Ellipse(0.3, 0.5, 0.4, 0.6), Ellipse(0.7, 0.5, 0.4, 0.6))
"""A left ellipse and its mirror image; each is requested once per prompt, scored against both."""

DIT_COLUMNS = {
    "ellipse_iou": "IoU requested ↑", "ellipse_iou_mirror": "IoU mirrored", "clean_background": "clean bg ↑",
    "transparent_share": "transparent", "alpha_stability_dtssd": "α dtSSD ↓",
}

GEN_RESULT_FILE = "gen.json"


def train_variant(config: str | os.PathLike, output: Path, training: str, seed: int, max_steps: int | None,
                  overrides: dict[str, Any]) -> Path:
    """Train (or resume) one DiT variant; a finished run (final checkpoint and pipeline) is reused as it is."""
    mu = TRAININGS[training]
    run_overrides = {**overrides, "train.seed": seed} | ({} if mu is None else {"mu_shift": mu})
    if max_steps is not None:
        run_overrides["train.max_steps"] = max_steps
    pipeline, done = output / PIPELINE_DIR, checkpoints(output)
    last = load_config(DiTTrainConfig, config_path(config), run_overrides).train.max_steps
    if (pipeline / "model_index.json").is_file() and done and checkpoint_step(done[-1]) >= last:
        return pipeline
    return train_dit(config_path(config), output=output, overrides=run_overrides, resume=bool(done))


def score_row(pipeline: Path, prompts: list[str], mu: float | None, out: Path, **sampling: Any) -> dict:
    """Mean scores over both ellipses and every prompt; cached in ``out`` (rerunning reads it back)."""

    def score() -> dict:
        clips = []
        for ellipse, mirror in zip(ELLIPSES, reversed(ELLIPSES)):
            clips += evaluate_generation(pipeline, prompts, ellipse, mu=mu, mirror=mirror, **sampling)["clips"]
        numeric = [{k: v for k, v in c.items() if k != "prompt"} for c in clips]
        return {"mean": summarize(numeric), "clips": len(clips), "mu": mu}

    return cached_result(out, score)


def run_dit_ablation(
    config: str | os.PathLike,
    output: str | os.PathLike,
    seeds: list[int],
    prompts: list[str],
    *,
    max_steps: int | None = None,
    steps: int = 8,
    guidance: float = 1.0,
    overrides: dict[str, Any] | None = None,
) -> dict[str, list[dict]]:
    """Train both variants for every seed under ``output/seed-S/TRAINING`` and score every row."""
    if not seeds:
        raise WanAlphaError("give at least one seed")
    if not prompts:
        raise WanAlphaError("no prompts: give a file with one prompt per line")
    output = Path(output)
    results: dict[str, list[dict]] = {row: [] for row in ROWS}
    for seed in seeds:
        pipelines = {t: train_variant(config, output / f"seed-{seed}" / t, t, seed, max_steps, overrides or {})
                     for t in TRAININGS}
        for row, (training, mu) in ROWS.items():
            out = output / f"seed-{seed}" / training / (GEN_RESULT_FILE if mu is None else f"gen-mu{mu:g}.json")
            result = score_row(pipelines[training], prompts, mu, out, steps=steps, guidance=guidance, seed=seed)
            results[row].append({**result, "seed": seed})
    return results


def dit_ablation_table(results: dict[str, list[dict]]) -> str:
    return ablation_table(results, DIT_COLUMNS)


def write_results(output: Path, summary: dict, header: str, table: str) -> Path:
    """``OUTPUT/results.json`` (the per-seed means) and ``OUTPUT/table.md`` (``header`` above ``table``); returns the
    table's path."""
    with atomic_output(output / "results.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    with atomic_output(output / "table.md", overwrite=True) as tmp:
        tmp.write_text(f"{header}\n\n{table}\n")
    return output / "table.md"


def ablate_vae_command(
    config: str | os.PathLike,
    output: str | os.PathLike,
    seeds: list[int],
    *,
    max_steps: int | None = None,
    eval_clips: int = 8,
    variants: list[str] | None = None,
    base_vae: str | None = None,
) -> Path:
    """``ablate-vae``: run the variants and write ``results.json`` and ``table.md``."""
    overrides = None if base_vae is None else {"model.base_vae": base_vae, "model.base_vae_config": None}
    results = run_vae_ablation(config, output, seeds, max_steps=max_steps, eval_clips=eval_clips, variants=variants,
                               overrides=overrides)
    summary = {v: [{"seed": r["seed"], **r["mean"]} for r in runs] for v, runs in results.items()}
    base = "" if base_vae is None else f", base VAE {base_vae}"
    header = (f"VAE ablation: config {config}{base}, seeds {' '.join(map(str, seeds))}, {eval_clips} held-out clips; "
              "mean ± std over seeds (ddof=1)")
    return write_results(Path(output), summary, header, ablation_table(results))


def ablate_dit_command(
    config: str | os.PathLike,
    output: str | os.PathLike,
    seeds: list[int],
    prompts: str | os.PathLike,
    *,
    max_steps: int | None = None,
    steps: int = 8,
    guidance: float = 1.0,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """``ablate-dit``: run the mean-sampler ablation and write ``results.json`` and ``table.md``."""
    prompt_list = read_prompts(prompts)
    results = run_dit_ablation(config, output, seeds, prompt_list, max_steps=max_steps, steps=steps,
                               guidance=guidance, overrides=overrides)
    summary = {row: [{"seed": r["seed"], "mu": r["mu"], **r["mean"]} for r in runs] for row, runs in results.items()}
    header = (f"Mean-sampler ablation: config {config}, seeds {' '.join(map(str, seeds))}, {len(prompt_list)} "
              f"prompts x ellipses {' and '.join(f'({e.cx:g},{e.cy:g},{e.w:g},{e.h:g})' for e in ELLIPSES)}, "
              f"{steps} steps, guidance {guidance:g}; mean ± std over seeds (ddof=1)")
    return write_results(Path(output), summary, header, dit_ablation_table(results))
