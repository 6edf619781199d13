"""Does a base RGB VAE hold up over the clip length it is used at? RGB PSNR of held-out procedural
clips (seed 12345, composited over random backgrounds) reconstructed at 128x128 with the first 5
frames (two latent frames, the most a 5-frame training clip exercises) and with all 17.

    python bench/base_vae_frames.py runs/tiny/base_vae/vae [more VAE folders ...]

A causal Wan VAE trained only on 5-frame clips never sees a chunk that follows a 4-frame chunk in
its temporal cache; this shows whether the later latent frames decode as well as the first two. The
last two columns split the 17-frame decode into its first two latent frames (frames 0-4) and its last
(13-16): a VAE trained on 17-frame clips can still lose PSNR over the clip.
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
def frames_psnr(vae: AutoencoderKLWan, clips: SyntheticClips, frames: int) -> dict[str, float]:
    """Mean RGB PSNR of the clips' first ``frames`` frames encoded and decoded; for 17 frames also over the
    decode's frames 0-4 and 13-16 (its first two and its last latent frame)."""
    generator = torch.Generator().manual_seed(0)
    scores = []
    for index in range(len(clips)):
        item = clips[index]
        rgb = composite(item["rgb"][None, :, :frames], item["alpha"][None, :, :frames], generator)
        recon = (vae.decode(encode_rgb(vae, rgb, normalized=False)).sample[0].numpy() + 1) / 2
        truth = (rgb[0].numpy() + 1) / 2
        row = {"all": psnr(recon, truth)}
        if frames == 17:
            row |= {"0-4": psnr(recon[:, :5], truth[:, :5]), "13-16": psnr(recon[:, 13:], truth[:, 13:])}
        scores.append(row)
    return {k: float(np.mean([r[k] for r in scores])) for k in scores[0]}


def main() -> None:
    vaes, clips = folders_and_clips(__doc__, "vaes", "AutoencoderKLWan folders (a tiny-all run's base_vae/vae)")
    print("| base VAE | RGB PSNR, 5 frames (dB) | RGB PSNR, 17 frames (dB) | 17 frames: frames 0-4 | frames 13-16 |\n"
          "|---|---|---|---|---|")
    for path in vaes:
        vae = AutoencoderKLWan.from_pretrained(path).eval()
        short, full = frames_psnr(vae, clips, 5), frames_psnr(vae, clips, 17)
        print(f"| {path} | {short['all']:.1f} | {full['all']:.1f} | {full['0-4']:.1f} | {full['13-16']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
