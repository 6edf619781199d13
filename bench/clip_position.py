"""Does an RGBA VAE's alpha error grow with a frame's position in the clip, or with what the frame shows? Each
held-out clip of bench/eval_tiny_model.py is reconstructed (encoded over black) as it is and played backwards;
the table gives alpha PSNR by latent frame of the original clip for both. A frame scored at position k forwards
sits at position 16 - k backwards, so a gap that flips sign between the first and last latent frames is the
position (the causal VAE's cache drifting); a gap that does not is the content (later frames harder).

    python bench/clip_position.py src/wan_alpha/assets/wan-alpha-tiny --emoji-manifest runs/heldout_emoji/manifest.jsonl
"""

from __future__ import annotations

import numpy as np
import torch

from eval_tiny_model import heldout_parser, heldout_sets, round_trip
from heldout import load_rgba_vae
from wan_alpha.rgba import latent_frame_spans


def reversed_item(item: dict) -> dict:
    """The clip played backwards (time is dim 1 of ``rgb`` and ``alpha``)."""
    return {**item, "rgb": item["rgb"].flip(1), "alpha": item["alpha"].flip(1)}


def psnr_by_latent_frame(vae, dataset, clips: int) -> tuple[list[float], list[float]]:
    """Alpha PSNR per latent frame of the original clips, reconstructed forwards and backwards (pooled MSE)."""
    forward: list[list[float]] = []
    backward: list[list[float]] = []
    for index in range(min(clips, len(dataset))):
        item = dataset[index]
        _, alpha, _, truth = round_trip(vae, item)
        _, alpha_rev, _, _ = round_trip(vae, reversed_item(item))
        alpha_back = alpha_rev[::-1]
        spans = latent_frame_spans(truth.shape[0])
        forward.append([float(((alpha[s] - truth[s]) ** 2).mean()) for s in spans])
        backward.append([float(((alpha_back[s] - truth[s]) ** 2).mean()) for s in spans])
    to_db = lambda rows: [10 * np.log10(1 / m) for m in np.mean(rows, axis=0)]  # noqa: E731
    return to_db(forward), to_db(backward)


def main() -> None:
    parser = heldout_parser(__doc__)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    print("| model | clips | played | alpha PSNR (dB), latent frame 0 (frame 0) | 1 (frames 1-4) | 2 (5-8) | 3 (9-12) "
          "| 4 (13-16) |\n|---|---|---|---|---|---|---|---|")
    for folder in args.folders:
        vae = load_rgba_vae(folder)
        for name, dataset in heldout_sets(args.emoji_manifest, args.clips).items():
            with torch.no_grad():
                forward, backward = psnr_by_latent_frame(vae, dataset, args.clips)
            for played, row in (("forwards", forward), ("backwards", backward)):
                print(f"| {folder} | {name} | {played} | " + " | ".join(f"{p:.1f}" for p in row) + " |", flush=True)


if __name__ == "__main__":
    main()
