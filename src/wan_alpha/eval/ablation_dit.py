"""The mean-sampler ablation at small scale (``wan-alpha ablate dit``).

Two DiT trainings of the same config per seed, differing only in ``mu_shift``: with the transparency-guided
mean sampler (the config's shift, noise shifted outside the ellipse) and without it (``mu_shift`` 0).
Each trained pipeline generates one clip per prompt inside a left and a mirrored right ellipse, and the
clips are scored without ground truth (:func:`evaluate_generation`): IoU of the alpha support with the
requested ellipse and with its mirror image (control: the first should exceed the second), the
clean-background rate outside the ellipse, the transparent share and alpha stability.

Rows: ``mean sampler`` (trained and sampled with the shift), ``mean sampler, off at sampling`` (the same
model sampled from plain noise) and ``no mean sampler`` (trained and sampled without it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import WanAlphaError
from ..rgba import Ellipse
from .ablation import ablation_table, cached_result
from .generation import evaluate_generation
from .reconstruction import summarize

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

COLUMNS = {
    "ellipse_iou": "IoU requested ↑", "ellipse_iou_mirror": "IoU mirrored", "clean_background": "clean bg ↑",
    "transparent_share": "transparent", "alpha_stability_dtssd": "α dtSSD ↓",
}

RESULT_FILE = "gen.json"


def train_variant(config: str | os.PathLike, output: Path, training: str, seed: int, max_steps: int | None,
                  overrides: dict[str, Any]) -> Path:
    """Train (or resume) one DiT variant; a finished run (final checkpoint and pipeline) is reused as it is."""
    from ..config import load_config
    from ..train.dit import PIPELINE_DIR, DiTTrainConfig, train_dit
    from ..train.loop import checkpoint_step, checkpoints

    mu = TRAININGS[training]
    run_overrides = {**overrides, "train.seed": seed} | ({} if mu is None else {"mu_shift": mu})
    if max_steps is not None:
        run_overrides["train.max_steps"] = max_steps
    pipeline, done = output / PIPELINE_DIR, checkpoints(output)
    last = load_config(DiTTrainConfig, config, run_overrides).train.max_steps
    if (pipeline / "model_index.json").is_file() and done and checkpoint_step(done[-1]) >= last:
        return pipeline
    return train_dit(config, output=output, overrides=run_overrides, resume=bool(done))


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
            out = output / f"seed-{seed}" / training / (RESULT_FILE if mu is None else f"gen-mu{mu:g}.json")
            result = score_row(pipelines[training], prompts, mu, out, steps=steps, guidance=guidance, seed=seed)
            results[row].append({**result, "seed": seed})
    return results


def dit_ablation_table(results: dict[str, list[dict]]) -> str:
    return ablation_table(results, COLUMNS)
