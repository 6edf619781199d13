"""The training estimates of docs/training.md: the reference-scale configs through the trainers' --dry-run estimator.

    python bench/training_estimates.py [--tflops 400] [--out docs/results/training_estimates]

Runs ``DiTTrainer.estimate`` for ``dit_14b`` (81x480x832) and ``RGBAVAETrainer.estimate`` for ``vae_wan21`` at its
17x480x832 and at the reference VAE trainer's 17x272x272, without any weights (the published Wan2.1 architectures
stand in for missing model folders). Writes ``OUT.json`` (every figure, bytes and FLOPs) and ``OUT.md`` (the tables).
These are estimates from a meta-device trace, not GPU measurements.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from wan_alpha.config import load_config
from wan_alpha.train.dit import DiTTrainConfig, DiTTrainer
from wan_alpha.train.estimate import GIB, shipped_layouts
from wan_alpha.train.vae import RGBAVAETrainer, VAETrainConfig

RUNS = {
    "DiT dit_14b, 81x480x832": lambda: DiTTrainer(load_config(DiTTrainConfig, "dit_14b")),
    "VAE vae_wan21, 17x480x832": lambda: RGBAVAETrainer(load_config(VAETrainConfig, "vae_wan21")),
    "VAE vae_wan21, 17x272x272": lambda: RGBAVAETrainer(load_config(
        VAETrainConfig, "vae_wan21", {"data.manifest.height": 272, "data.manifest.width": 272})),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tflops", type=float, default=400.0)
    parser.add_argument("--out", type=Path, default=Path("docs/results/training_estimates"))
    args = parser.parse_args()
    layouts = shipped_layouts()
    results, lines = {}, []
    for name, make in RUNS.items():
        estimate = make().estimate()
        results[name] = {
            "parameters": estimate.parameters, "trainable": estimate.trainable, "batch_size": estimate.batch_size,
            "base_dtype": estimate.base_dtype, "optimizer": estimate.optimizer,
            "activation_bytes_per_clip": {"checkpointing": estimate.activations[True].per_clip,
                                          "none": estimate.activations[False].per_clip},
            "flops_per_clip": {"checkpointing": estimate.flops[True].per_clip, "none": estimate.flops[False].per_clip},
            "step_seconds": {"checkpointing": estimate.step_seconds(args.tflops, True),
                             "none": estimate.step_seconds(args.tflops, False)},
            "per_gpu_bytes": {layout.name: {"checkpointing": estimate.per_gpu(layout, True),
                                            "none": estimate.per_gpu(layout, False)} for layout in layouts},
            "notes": estimate.notes,
        }
        lines += [f"**{name}** (estimate): {estimate.parameters / 1e9:.2f} B parameters, "
                  f"{estimate.trainable / 1e6:.1f} M trainable; frozen weights {estimate.base_dtype}, {estimate.optimizer}, "
                  f"batch {estimate.batch_size} per GPU", "",
                  "| | activations / clip | TFLOP / clip | s / step at "
                  f"{args.tflops:g} TFLOP/s | " + " | ".join(f"{layout.name} GiB/GPU" for layout in layouts) + " |",
                  "|---|---|---|---|" + "---|" * len(layouts)]
        for ckpt in (False, True):
            cells = [f"{estimate.per_gpu(layout, ckpt)['total'] / GIB:.1f}" for layout in layouts]
            lines.append(f"| {'with' if ckpt else 'without'} checkpointing | {estimate.activations[ckpt].per_clip / GIB:.1f} "
                         f"GiB | {estimate.flops[ckpt].per_clip / 1e12:,.0f} | {estimate.step_seconds(args.tflops, ckpt):.1f} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"tflops": args.tflops, "runs": results}, indent=1) + "\n")
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
