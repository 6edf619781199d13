"""Where an RGBA VAE's alpha error lies, on the held-out clips of bench/eval_tiny_model.py (encoded over black):
the share of the squared alpha error in each region of the true matte, and the alpha PSNR by a frame's place
in its latent frame (frame 0 is a latent frame alone; later frames come 4 to a latent frame).

Regions, per frame: the edge band (within 2 px of the true 0.5 contour), clear pixels (alpha <= 0.01) 3-10 px
from the subject and further out, solid pixels (>= 0.99), and the rest (semi-transparent interiors: smoke,
glass). Error near the subject but off its edge is blur or a misplaced subject; far out, a haze.

    python bench/alpha_error_split.py src/wan_alpha/assets/wan-alpha-tiny --emoji-manifest runs/heldout_emoji/manifest.jsonl
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from eval_tiny_model import heldout_parser, heldout_sets, round_trip
from heldout import load_rgba_vae
from wan_alpha.rgba import latent_frame_spans

REGIONS = ("edge band", "clear, 3-10 px out", "clear, further", "solid", "semi-transparent")


def regions(truth: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks ``(H, W)`` of :data:`REGIONS` for one true alpha frame; they partition the frame."""
    inside = truth > 0.5
    band = ndimage.binary_dilation(inside, iterations=2) & ~ndimage.binary_erosion(inside, iterations=2)
    distance = ndimage.distance_transform_edt(truth <= 0.01)
    clear = (truth <= 0.01) & ~band
    masks = {"edge band": band, "clear, 3-10 px out": clear & (distance <= 10), "clear, further": clear & (distance > 10),
             "solid": (truth >= 0.99) & ~band}
    masks["semi-transparent"] = ~(band | clear | masks["solid"])
    return masks


def error_split(vae, dataset, clips: int) -> tuple[dict[str, float], list[float]]:
    """Share of the squared alpha error per region, and alpha PSNR by place in the latent frame (0, then 1-4)."""
    squared = dict.fromkeys(REGIONS, 0.0)
    by_place: list[list[float]] = [[] for _ in range(5)]
    for index in range(min(clips, len(dataset))):
        _, alpha, _, truth = round_trip(vae, dataset[index])
        error = (alpha - truth) ** 2
        for frame in range(truth.shape[0]):
            for name, mask in regions(truth[frame]).items():
                squared[name] += float(error[frame][mask].sum())
        for span in latent_frame_spans(truth.shape[0]):
            for place, frame in enumerate(range(span.start, span.stop), start=0 if span.start == 0 else 1):
                by_place[place].append(float(error[frame].mean()))
    total = sum(squared.values())
    return ({k: v / total for k, v in squared.items()},
            [10 * np.log10(1 / np.mean(mse)) for mse in by_place])


def main() -> None:
    parser = heldout_parser(__doc__)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    print("| model | clips | " + " | ".join(f"error share: {r}" for r in REGIONS)
          + " | alpha PSNR, frame 0 | place 1 | place 2 | place 3 | place 4 |")
    print("|---|---|" + "---|" * (len(REGIONS) + 5))
    for folder in args.folders:
        vae = load_rgba_vae(folder)
        for name, dataset in heldout_sets(args.emoji_manifest, args.clips).items():
            shares, psnrs = error_split(vae, dataset, args.clips)
            print(f"| {folder} | {name} | " + " | ".join(f"{shares[r]:.2f}" for r in REGIONS) + " | "
                  + " | ".join(f"{p:.1f}" for p in psnrs) + " |", flush=True)


if __name__ == "__main__":
    main()
