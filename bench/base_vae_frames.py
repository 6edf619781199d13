"""Does a base RGB VAE hold up over the clip length it is used at? RGB PSNR of held-out procedural
clips (seed 12345, composited over random backgrounds) reconstructed at 128x128 with the first 5
frames (two latent frames, the most a 5-frame training clip exercises) and with all 17.

    python bench/base_vae_frames.py runs/tiny/base_vae/vae [more VAE folders ...]

A causal Wan VAE trained only on 5-frame clips never sees a chunk that follows a 4-frame chunk in
its temporal cache; this shows whether the later latent frames decode as well as the first two.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AutoencoderKLWan

from heldout import folders_and_clips
from wan_alpha.data import SyntheticClips
from wan_alpha.eval import psnr
from wan_alpha.train.base_vae import composite, encode_rgb


@torch.no_grad()
def frames_psnr(vae: AutoencoderKLWan, clips: SyntheticClips, frames: int) -> float:
    generator = torch.Generator().manual_seed(0)
    scores = []
    for index in range(len(clips)):
        item = clips[index]
        rgb = composite(item["rgb"][None, :, :frames], item["alpha"][None, :, :frames], generator)
        recon = vae.decode(encode_rgb(vae, rgb, normalized=False)).sample
        scores.append(psnr((recon[0].numpy() + 1) / 2, (rgb[0].numpy() + 1) / 2))
    return float(np.mean(scores))


def main() -> None:
    vaes, clips = folders_and_clips(__doc__, "vaes", "AutoencoderKLWan folders (a tiny-all run's base_vae/vae)")
    print("| base VAE | RGB PSNR, 5 frames (dB) | RGB PSNR, 17 frames (dB) |\n|---|---|---|")
    for path in vaes:
        vae = AutoencoderKLWan.from_pretrained(path).eval()
        print(f"| {path} | {frames_psnr(vae, clips, 5):.1f} | {frames_psnr(vae, clips, 17):.1f} |", flush=True)

if __name__ == "__main__":
    main()
