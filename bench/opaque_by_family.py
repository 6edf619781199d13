"""How opaque is each family of the procedural training clips? For each synthetic kind, the share of clips
with opaque pixels (as bench/eval_tiny_model.py counts them on generated clips) and the mean peak alpha, at
the embedded model's size (17x128x128, training seed 0). A generated clip of a family whose training clips are
never opaque (smoke, glass/bubbles) has no reason to be.

    python bench/opaque_by_family.py [--clips 24]
"""

from __future__ import annotations

import argparse

import numpy as np

from wan_alpha.data.synthetic import SYNTHETIC_KINDS, generate_clip
from wan_alpha.eval.metrics import alpha_shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=24, help="clips per family (default 24)")
    args = parser.parse_args()
    print("| family | clips with opaque pixels | peak alpha, mean | example caption |")
    print("|---|---|---|---|")
    for kind in SYNTHETIC_KINDS:
        clips = [generate_clip(kind, seed, 17, 128, 128) for seed in range(args.clips)]
        alphas = [video.to_tensors()[1] for video, _ in clips]
        opaque = sum(alpha_shares(a)["opaque"] > 0 for a in alphas)
        peak = np.mean([a.max().item() for a in alphas])
        print(f"| {kind} | {opaque}/{len(alphas)} | {peak:.2f} | {clips[0][1]} |")


if __name__ == "__main__":
    main()
