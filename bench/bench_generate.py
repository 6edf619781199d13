"""Wall time and peak memory of ``wan-alpha generate`` with the embedded model (default clip, CPU), optionally
against another checkout of the project, in one run.

    python bench/bench_generate.py --out docs/results/generate_time
    git worktree add /tmp/before COMMIT && python bench/bench_generate.py --baseline /tmp/before/src

Each measurement is a new process, so interpreter start and imports are included; with ``--baseline`` the two
trees alternate run by run (same machine load for both) and the table gives their medians and ratios. The
libraries' imports alone are the same code for both trees: their ratio shows how far the machine's noise goes.

1. ``wan-alpha --help``: start-up of the command line.
2. ``wan-alpha generate PROMPT -o clip.webm``, end to end as a user runs it; peak resident memory of each run.
3. The same work timed by phase inside one new process: imports (torch, the pipeline, the file writer),
   model load (incl. the MiniLM text encoder from its package), the model part (text encoding, DiT steps,
   RGBA decoding) and file writing; next to it, the imports of the libraries alone (torch, diffusers' Wan
   classes, transformers' BERT, PyAV), the floor of the imports phase.

Writes ``OUT.json``, ``OUT.md`` and ``OUT.png`` (stacked phases next to the end-to-end time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROMPT = "a red balloon floating up, transparent background"
HERE = Path(__file__).resolve().parents[1] / "src"

LIBRARIES = ("import torch, av; from diffusers import AutoencoderKLWan, DiffusionPipeline, FlowMatchEulerDiscreteScheduler, "
             "WanTransformer3DModel; from transformers import AutoTokenizer, BertModel")
"""What generating needs from the libraries themselves: the floor of the imports phase."""

PHASES = """
import json, sys, tempfile, time
start = time.perf_counter()
import torch
from wan_alpha.io import write_video
from wan_alpha.pipelines import WanAlphaPipeline
imported = time.perf_counter()
torch.set_flush_denormal(True)  # as generate does on CPUs
pipe = WanAlphaPipeline.from_pretrained(sys.argv[1])
pipe.set_progress_bar_config(disable=True)
loaded = time.perf_counter()
video = pipe(sys.argv[2], generator=torch.Generator().manual_seed(0)).videos[0]
generated = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    write_video(tmp + "/clip.webm", video)
written = time.perf_counter()
c = pipe.config
print(json.dumps({"imports_s": imported - start, "load_s": loaded - imported, "model_s": generated - loaded,
                  "write_s": written - generated, "threads": torch.get_num_threads(),
                  "clip": f"{c.default_num_frames}x{c.default_height}x{c.default_width}, "
                          f"{c.num_inference_steps} steps, guidance {c.guidance_scale}"}))
"""


def run(command: list[str], src: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of ``command`` run with ``src`` first on the import path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
    start = os.times().elapsed
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = os.times().elapsed - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command[:4])} ... failed with {process.returncode} (PYTHONPATH {src})")
    return seconds, usage.ru_maxrss / 1024, out


def measure(trees: dict[str, Path], repeats: int, model: Path) -> dict:
    """Every measurement ``repeats`` times per tree, the trees alternating in A B B A order (a machine that slows down
    or warms up over the run favours neither)."""
    raw = {name: {"help_s": [], "end_to_end_s": [], "peak_rss_mib": [], "phases": [], "libraries_s": []}
           for name in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            for name, src in (list(trees.items()) if i % 2 == 0 else list(trees.items())[::-1]):
                r = raw[name]
                r["help_s"].append(run([sys.executable, "-m", "wan_alpha", "--help"], src)[0])
                seconds, rss, _ = run([sys.executable, "-m", "wan_alpha", "generate", PROMPT,
                                       "-o", f"{tmp}/{name}{i}.webm"], src)
                r["end_to_end_s"].append(seconds)
                r["peak_rss_mib"].append(rss)
                r["phases"].append(json.loads(run([sys.executable, "-c", PHASES, str(model), PROMPT], src)[2]))
                r["libraries_s"].append(run([sys.executable, "-c", LIBRARIES], src)[0])
    result = {}
    for name, r in raw.items():
        phases = {k: statistics.median(p[k] for p in r["phases"]) for k in ("imports_s", "load_s", "model_s", "write_s")}
        result[name] = {
            "help_s": statistics.median(r["help_s"]), "end_to_end_s": statistics.median(r["end_to_end_s"]),
            "libraries_s": statistics.median(r["libraries_s"]),
            "peak_rss_mib": max(r["peak_rss_mib"]), "phases": phases,
            "imports_share": phases["imports_s"] / sum(phases.values()),
            "clip": r["phases"][0]["clip"], "threads": r["phases"][0]["threads"], "raw": r,
        }
    return result


def markdown(result: dict, repeats: int) -> str:
    names = list(result)
    first = result[names[0]]
    lines = [f"`wan-alpha generate \"{PROMPT}\" -o clip.webm` ({first['clip']}), {os.cpu_count()} CPU cores, "
             f"{first['threads']} threads; medians of {repeats} new processes per tree"
             + (", trees alternating run by run" if len(names) > 1 else "") + ":", "",
             "| | " + " | ".join(names) + (" | ratio |" if len(names) > 1 else " |"),
             "|---|" + "---|" * (len(names) + (len(names) > 1))]

    def row(label: str, values: list[float], fmt: str) -> str:
        ratio = f" {values[-1] / values[0]:.2f}x |" if len(values) > 1 else ""
        return f"| {label} | " + " | ".join(format(v, fmt) for v in values) + " |" + ratio

    lines.append(row("`wan-alpha --help` (s)", [result[n]["help_s"] for n in names], ".2f"))
    lines.append(row("generate, end to end (s)", [result[n]["end_to_end_s"] for n in names], ".2f"))
    for phase in ("imports_s", "load_s", "model_s", "write_s"):
        lines.append(row(f"in one process: {phase.removesuffix('_s')} (s)", [result[n]["phases"][phase] for n in names], ".2f"))
    lines.append(row("imports, share of the in-process time", [result[n]["imports_share"] for n in names], ".0%"))
    lines.append(row("the libraries' imports alone, a new process (s)", [result[n]["libraries_s"] for n in names], ".2f"))
    lines.append(row("peak RSS of generate (MiB)", [result[n]["peak_rss_mib"] for n in names], ".0f"))
    return "\n".join(lines) + "\n"


def figure(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.8 * len(result)))
    colours = {"imports_s": "C0", "load_s": "C1", "model_s": "C2", "write_s": "C3"}
    for name, r in result.items():
        left = 0.0
        for phase, seconds in r["phases"].items():
            ax.barh(f"{name}: in-process", seconds, left=left, color=colours[phase],
                    label=phase.removesuffix("_s") if name == next(iter(result)) else None)
            left += seconds
        ax.barh(f"{name}: CLI end to end", r["end_to_end_s"], color="grey")
    ax.set_xlabel(f"seconds ({os.cpu_count()} CPU cores)")
    ax.set_title(f"wan-alpha generate, embedded model ({next(iter(result.values()))['clip']})", fontsize=9)
    ax.legend(fontsize=7, ncol=4, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/results/generate_time", help="writes OUT.json, OUT.md, OUT.png")
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement and tree (default 5)")
    parser.add_argument("--baseline", type=Path, metavar="SRC",
                        help="the src/ folder of another checkout, measured alongside this one as 'before'")
    args = parser.parse_args()
    model = HERE / "wan_alpha" / "assets" / "wan-alpha-tiny"
    trees = {"before": args.baseline.resolve(), "after": HERE} if args.baseline else {"this tree": HERE}
    result = measure(trees, args.repeats, model)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                                                     "repeats": args.repeats, "trees": result}, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result, args.repeats))
    figure(result, out.with_suffix(".png"))
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
