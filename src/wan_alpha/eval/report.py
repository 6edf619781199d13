"""Report writing for ``wan-alpha eval`` and ``wan-alpha ablate``: ``metrics.json``, ``report.md`` and
per-frame plots (``plots/*.png``) in one output folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import WanAlphaError
from ..io import atomic_output

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
PLOT_DIR = "plots"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table of ``rows`` restricted to ``columns`` (missing cells blank)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def plot_curves(per_frame: dict[str, list[float]], folder: Path) -> list[Path]:
    """One PNG per metric: its value at each frame (mean over clips)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, values in per_frame.items():
        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot(range(len(values)), values, marker="o")
        ax.set(xlabel="frame", ylabel=name, title=f"{name} per frame")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(output: str | os.PathLike, title: str, report: dict, notes: list[str] = ()) -> Path:
    """Write ``metrics.json`` (the whole ``report``), plots of ``report["per_frame"]`` and ``report.md``
    (notes, the mean of every metric, one row per clip); returns the Markdown file."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    with atomic_output(output / METRICS_FILE, overwrite=True) as tmp:
        tmp.write_text(json.dumps(report, indent=1))
    plots = plot_curves(report["per_frame"], output / PLOT_DIR)
    clips = report["clips"]
    columns = ["clip"] + [k for k in clips[0] if k != "clip"]
    lines = [f"# {title}", "", *[f"- {n}" for n in notes], "", "## Mean over clips", "",
             markdown_table([{"metric": k, "mean": v} for k, v in report["mean"].items()], ["metric", "mean"]),
             "", "## Per clip", "", markdown_table([{"clip": i, **c} for i, c in enumerate(clips)], columns),
             "", "## Per frame", "", *[f"![{p.stem}]({PLOT_DIR}/{p.name})" for p in plots], ""]
    with atomic_output(output / REPORT_FILE, overwrite=True) as tmp:
        tmp.write_text("\n".join(lines))
    return output / REPORT_FILE


def _lpips(weights: str | None, notes: list[str]):
    from .lpips import load_lpips

    if weights is None:
        notes.append("LPIPS skipped: no local weights (--lpips-weights); nothing is downloaded")
        return None
    return load_lpips(weights)


def eval_vae_command(
    model: str | os.PathLike,
    output: str | os.PathLike,
    *,
    data: str | None = None,
    synthetic: int | None = None,
    frames: int = 9,
    size: str = "64x64",
    max_clips: int | None = None,
    lpips_weights: str | None = None,
) -> Path:
    """``wan-alpha eval vae``: score a saved RGBA VAE on a manifest or on held-out procedural clips."""
    import torch
    from torch.utils.data import Subset

    from ..data import RGBAClipDataset, SyntheticClips
    from ..models import RGBAVAE
    from ..sampling.masks import parse_size
    from .ablation import HELD_OUT_SEED
    from .reconstruction import evaluate_vae

    if (data is None) == (synthetic is None):
        raise WanAlphaError("give exactly one of --data MANIFEST and --synthetic N")
    width, height = parse_size(size)
    if synthetic is not None:
        if synthetic < 1:
            raise WanAlphaError(f"--synthetic must be at least 1, got {synthetic}")
        dataset, source = SyntheticClips(synthetic, frames, height, width, seed=HELD_OUT_SEED), f"{synthetic} procedural clips"
    else:
        dataset = RGBAClipDataset(data, frames=frames, height=height, width=width, random_crop=False)
        dataset = Subset(dataset, range(min(max_clips or len(dataset), len(dataset))))
        source = f"{len(dataset)} clips of {data}"
    notes = [f"model: {model}", f"data: {source}, {frames} frames at {width}x{height}, encoded over black"]
    lpips = _lpips(lpips_weights, notes)
    torch.set_flush_denormal(True)  # denormals make small random models 10-100x slower on CPUs
    report = evaluate_vae(RGBAVAE.from_pretrained(model), dataset, lpips=lpips)
    return write_report(output, "RGBA VAE reconstruction", report, notes)


def eval_gen_command(
    model: str | os.PathLike,
    prompts: str | os.PathLike,
    output: str | os.PathLike,
    *,
    ellipse: str = "0.5,0.5,0.5,0.5",
    frames: int | None = None,
    size: str | None = None,
    steps: int = 50,
    guidance: float = 5.0,
    mu: float | None = None,
    seed: int = 0,
) -> Path:
    """``wan-alpha eval gen``: generate each prompt inside ``ellipse`` and score the clips without ground truth."""
    from ..pipelines.generate import read_prompts
    from ..rgba import Ellipse
    from .generation import evaluate_generation

    texts, requested = read_prompts(prompts), Ellipse.parse(ellipse)
    report = evaluate_generation(model, texts, requested, frames=frames, size=size, steps=steps,
                                 guidance=guidance, mu=mu, seed=seed, clip_dir=Path(output) / "clips")
    notes = [f"model: {model}", f"prompts: {prompts} ({len(texts)})", f"requested ellipse: {ellipse}",
             f"{steps} steps, guidance {guidance}, mean shift {report['mu']}, seeds {seed}..{seed + len(texts) - 1}"]
    return write_report(output, "Generated RGBA clips", report, notes)


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
    """``wan-alpha ablate vae``: run the variants and write ``results.json`` and ``table.md``."""
    from .ablation import ablation_table, run_vae_ablation

    overrides = None if base_vae is None else {"model.base_vae": base_vae, "model.base_vae_config": None}
    results = run_vae_ablation(config, output, seeds, max_steps=max_steps, eval_clips=eval_clips, variants=variants,
                               overrides=overrides)
    output = Path(output)
    summary = {v: [{"seed": r["seed"], **r["mean"]} for r in runs] for v, runs in results.items()}
    with atomic_output(output / "results.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    base = "" if base_vae is None else f", base VAE {base_vae}"
    header = (f"VAE ablation: config {config}{base}, seeds {' '.join(map(str, seeds))}, {eval_clips} held-out clips; "
              "mean ± std over seeds (ddof=1)\n\n")
    with atomic_output(output / "table.md", overwrite=True) as tmp:
        tmp.write_text(header + ablation_table(results) + "\n")
    return output / "table.md"


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
    """``wan-alpha ablate dit``: run the mean-sampler ablation and write ``results.json`` and ``table.md``."""
    from ..pipelines.generate import read_prompts
    from .ablation_dit import ELLIPSES, dit_ablation_table, run_dit_ablation

    prompt_list = read_prompts(prompts)
    results = run_dit_ablation(config, output, seeds, prompt_list, max_steps=max_steps, steps=steps,
                               guidance=guidance, overrides=overrides)
    output = Path(output)
    summary = {row: [{"seed": r["seed"], "mu": r["mu"], **r["mean"]} for r in runs] for row, runs in results.items()}
    with atomic_output(output / "results.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(summary, indent=1))
    header = (f"Mean-sampler ablation: config {config}, seeds {' '.join(map(str, seeds))}, {len(prompt_list)} "
              f"prompts x ellipses {' and '.join(f'({e.cx:g},{e.cy:g},{e.w:g},{e.h:g})' for e in ELLIPSES)}, "
              f"{steps} steps, guidance {guidance:g}; mean ± std over seeds (ddof=1)\n\n")
    with atomic_output(output / "table.md", overwrite=True) as tmp:
        tmp.write_text(header + dit_ablation_table(results) + "\n")
    return output / "table.md"
