"""The RGBA VAE part of bench/eval_tiny_model.py for several models at once: held-out 17x128x128 synthetic
and emoji clips encoded over black, alpha PSNR (and an all-transparent guess's), RGB PSNR over the palette
renders, alpha dtSSD and the mean reconstructed alpha on the subject. Takes RGBA VAE folders (a run's
``rgba_vae/``) as well as model folders, so a stage can be scored before the DiT is fine-tuned on it.

    python bench/rgba_vae_heldout.py runs/tiny_v16c/rgba_vae_long/rgba_vae runs/tiny_v17/rgba_vae_long/rgba_vae \
        --emoji-manifest runs/heldout_emoji/manifest.jsonl [--out bench/results/NAME.json]
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from eval_tiny_model import heldout_parser, vae_section
from heldout import load_rgba_vae


def main() -> None:
    parser = heldout_parser(__doc__)
    parser.add_argument("--out", help="also write the scores to this JSON file")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    report = {}
    with torch.no_grad():
        for folder in args.folders:
            report[folder] = vae_section(load_rgba_vae(folder), args.emoji_manifest, args.clips)
    print("| model | clips | alpha PSNR (dB) | all-transparent guess | RGB PSNR (dB) | alpha dtSSD "
          "| alpha on subject |")
    print("|---|---|---|---|---|---|---|")
    for folder, sets in report.items():
        for name, v in sets.items():
            print(f"| {folder} | {name} | {v['alpha_psnr']:.1f} | {v['alpha_psnr_all_transparent']:.1f} | "
                  f"{v['rgb_psnr']:.1f} | {v['alpha_dtssd']:.2f} | {v['subject_alpha']:.2f} |")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
