"""How much alpha can a frozen base RGB VAE carry? Each held-out procedural clip's alpha (seed 12345,
17x128x128) is encoded and decoded as a grey RGB clip (alpha in all three channels), with no adapter and
no training on masks; the table gives its alpha PSNR, beside the RGB PSNR of the clip composited over a
random background. An RGBA VAE's alpha decoder is a LoRA on this decoder, so this is a reference for what
its alpha PSNR can reach without retraining the base (an estimate, not a bound: the LoRA adapts).

    python bench/base_vae_alpha.py runs/tiny/base_vae_long/vae runs/tiny/base_vae_128/vae [--clips 4]
"""

from __future__ import annotations

import numpy as np
from diffusers import AutoencoderKLWan

from heldout import folders_and_clips
from wan_alpha.eval import psnr
from wan_alpha.train.base_vae import composite_rgb_psnr, reconstruct


def main() -> None:
    vaes, clips = folders_and_clips(__doc__, "vaes", "AutoencoderKLWan folders (a tiny-all run's base_vae*/vae)")
    print("| base VAE | alpha as grey RGB: alpha PSNR (dB) | RGB composite: RGB PSNR (dB) |\n|---|---|---|")
    for path in vaes:
        vae = AutoencoderKLWan.from_pretrained(path).eval()
        alpha_scores = []
        for index in range(len(clips)):
            alpha = clips[index]["alpha"]
            grey = alpha[None].expand(1, 3, -1, -1, -1) * 2 - 1
            alpha_scores.append(psnr((reconstruct(vae, grey)[0].mean(0) + 1) / 2, alpha[0]))
        print(f"| {path} | {np.mean(alpha_scores):.1f} | {composite_rgb_psnr(vae, clips):.1f} |", flush=True)


if __name__ == "__main__":
    main()
