"""Wall time and peak memory of ``wan-alpha generate`` with the embedded model (default clip, CPU).

    python bench/bench_generate.py --out bench/results/generate_time

1. The README command end to end, as a user runs it (new process: interpreter start, imports, model
   load, generation, WebM writing): wall time over ``--repeats`` runs and the peak resident memory.
2. The same work in one process, timed by phase: imports, model load (incl. the MiniLM text encoder
   from its package), the model part (text encoding, DiT steps, RGBA decoding) and file writing.
Writes ``OUT.json``, ``OUT.md`` and ``OUT.png`` (stacked phases next to the end-to-end time).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "a red balloon floating up, transparent background"


def end_to_end(repeats: int) -> dict:
    """Wall seconds of each CLI run and the peak RSS (MiB) over them."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            start = time.perf_counter()
            subprocess.run(["wan-alpha", "generate", PROMPT, "-o", f"{tmp}/balloon{i}.webm"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": times, "median_s": sorted(times)[len(times) // 2], "peak_rss_mib": peak}


def phases() -> dict:
    """Seconds per phase of one generation in this process (imports first: nothing loaded before)."""
    start = time.perf_counter()
    import torch

    from wan_alpha.io import write_video
    from wan_alpha.pipelines import WanAlphaPipeline
    from wan_alpha.pipelines.generate import DEFAULT_MODEL

    imported = time.perf_counter()
    torch.set_flush_denormal(True)  # as generate() does on CPUs
    pipe = WanAlphaPipeline.from_pretrained(DEFAULT_MODEL)
    pipe.set_progress_bar_config(disable=True)
    loaded = time.perf_counter()
    video = pipe(PROMPT, generator=torch.Generator().manual_seed(0)).videos[0]
    generated = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_video(Path(tmp) / "balloon.webm", video)
    written = time.perf_counter()
    c = pipe.config
    return {
        "imports_s": imported - start, "load_s": loaded - imported, "model_s": generated - loaded,
        "write_s": written - generated, "clip": f"{c.default_num_frames}x{c.default_height}x{c.default_width}, "
        f"{c.num_inference_steps} steps, guidance {c.guidance_scale}", "threads": torch.get_num_threads(),
    }


def figure(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = result["phases"]
    fig, ax = plt.subplots(figsize=(7, 2.2))
    left = 0.0
    for name in ("imports_s", "load_s", "model_s", "write_s"):
        ax.barh("in-process", p[name], left=left, label=name.removesuffix("_s"))
        left += p[name]
    ax.barh("CLI end to end", result["end_to_end"]["median_s"], color="grey")
    ax.set_xlabel("seconds (2 CPU cores)")
    ax.set_title(f"wan-alpha generate, embedded model ({p['clip']})", fontsize=9)
    ax.legend(fontsize=7, ncol=4, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/generate_time")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = {"cpu_count": os.cpu_count(), "python": sys.version.split()[0], "end_to_end": end_to_end(args.repeats),
              "phases": phases()}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    p, e = result["phases"], result["end_to_end"]
    out.with_suffix(".md").write_text(
        f"`wan-alpha generate \"{PROMPT}\" -o balloon.webm` ({p['clip']}), {result['cpu_count']} CPU cores:\n\n"
        f"- end to end (new process, median of {len(e['seconds'])}): {e['median_s']:.1f} s; peak RSS {e['peak_rss_mib']:.0f} MiB\n"
        f"- in one process: imports {p['imports_s']:.1f} s, model load {p['load_s']:.1f} s, "
        f"model part {p['model_s']:.2f} s, writing {p['write_s']:.2f} s\n")
    figure(result, out.with_suffix(".png"))
    print(out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
