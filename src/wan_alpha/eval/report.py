"""Report writing for ``wan-alpha eval``: ``metrics.json``, ``report.md`` and per-frame plots (``plots/*.png``) in
one output folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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
