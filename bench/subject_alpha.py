"""Does an RGBA VAE find the subject? For held-out emoji clips (``wan-alpha data build emoji --seed 1``),
each encoded over a palette colour drawn from seed 0 (as the DiT trainer encodes them): alpha PSNR, the
reconstructed against the true mean alpha, the reconstructed peak alpha, and the mean reconstructed
alpha where the clip is solid (true alpha >= 0.5; 1.0 = the subject comes back whole).

A base VAE folder (a plain ``AutoencoderKLWan``, e.g. a tiny-all run's ``base_vae_long/vae``) gets the
alpha alone as a grey clip (white subject on black) through its own encoder and decoder: how well the
frozen base the RGBA VAE builds on can carry such shapes at all.

    python bench/subject_alpha.py runs/tiny_v7/model runs/tiny_v7/base_vae_long/vae \
        --emoji-manifest runs/heldout_emoji/manifest.jsonl [--size 32] [--clips 4]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKLWan
from torch.utils.data import Dataset, Subset

from heldout import encode_over_palette, load_rgba_vae, subject_alpha
from wan_alpha.data import RGBAClipDataset
from wan_alpha.eval import psnr


def alpha_reconstructor(folder: str) -> Callable[[Dataset], tuple[torch.Tensor, torch.Tensor]]:
    """``clips -> (reconstructed, true alpha)``, each ``(N, 1, T, H, W)``, by the model in ``folder``."""
    config = Path(folder) / "config.json"
    if config.is_file() and json.loads(config.read_text()).get("_class_name") == "AutoencoderKLWan":
        base = AutoencoderKLWan.from_pretrained(folder).eval()

        def grey(clips: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
            alpha = torch.stack([clips[i]["alpha"] for i in range(len(clips))])
            clip = (alpha * 2 - 1).expand(-1, 3, -1, -1, -1)
            decoded = base.decode(base.encode(clip).latent_dist.mode()).sample.clamp(-1, 1)
            return (decoded.mean(1, keepdim=True) + 1) / 2, alpha
        return grey
    vae = load_rgba_vae(folder)

    def rgba(clips: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
        latents, alpha = encode_over_palette(vae, clips)
        return vae.decode(latents)[1], alpha
    return rgba


@torch.no_grad()
def subject_row(reconstruct: Callable[[Dataset], tuple[torch.Tensor, torch.Tensor]], clips: Dataset) -> str:
    rows = [[psnr(alpha.numpy(), truth.numpy()), alpha.mean().item(), truth.mean().item(), alpha.max().item(),
             subject_alpha(alpha, truth)] for alpha, truth in zip(*reconstruct(clips))]
    psnr_db, mean, true_mean, peak, subject = np.nanmean(rows, axis=0)
    return f"{psnr_db:.1f} | {mean:.3f} / {true_mean:.3f} | {peak:.2f} | {subject:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="pipeline, RGBAVAE or base VAE folders")
    parser.add_argument("--emoji-manifest", required=True, help="held-out emoji manifest")
    parser.add_argument("--size", type=int, default=32, help="clip height and width (default 32, the RGBA VAE stage's)")
    parser.add_argument("--clips", type=int, default=4, help="held-out clips (default 4)")
    args = parser.parse_args()
    dataset = RGBAClipDataset(args.emoji_manifest, frames=17, height=args.size, width=args.size, random_crop=False)
    clips = Subset(dataset, range(min(args.clips, len(dataset))))
    print("| model | alpha PSNR (dB) | mean alpha, reconstructed / true | peak alpha | "
          "mean alpha on subject (true >= 0.5) |\n|---|---|---|---|---|")
    for model in args.models:
        print(f"| {model} | {subject_row(alpha_reconstructor(model), clips)} |", flush=True)


if __name__ == "__main__":
    main()
