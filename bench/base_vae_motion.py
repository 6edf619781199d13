"""Does a base RGB VAE's decoder read motion from its later latent frames? For held-out procedural clips
(seed 12345, 17x128x128, composited over random backgrounds), the mean change of the decoded frames 5-16
when latent frames 2-4 are replaced by a copy of latent frame 1, next to how much the clip itself changes
over those frames (mean |frame t - frame 4|, t = 5..16), both in [-1, 1] units.

    python bench/base_vae_motion.py runs/tiny/base_vae_long/vae [more VAE folders ...]

A decoder that follows the clip changes its output about as much as the clip changes; one that draws
the first frames' content again from its temporal cache barely changes, and its reconstructions of
moving subjects stay where the subject started.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AutoencoderKLWan

from heldout import folders_and_clips
from wan_alpha.train.base_vae import composite, encode_rgb


@torch.no_grad()
def motion_readout(vae: AutoencoderKLWan, clips) -> tuple[float, float]:
    """(decoder's change when latent frames 2.. are frozen, the clips' own change), averaged over clips."""
    generator = torch.Generator().manual_seed(0)
    decoded, own = [], []
    for index in range(len(clips)):
        item = clips[index]
        rgb = composite(item["rgb"][None], item["alpha"][None], generator)
        z = encode_rgb(vae, rgb, normalized=False)
        frozen = z.clone()
        frozen[:, :, 2:] = z[:, :, 1:2]
        decoded.append(float((vae.decode(z).sample - vae.decode(frozen).sample)[:, :, 5:].abs().mean()))
        own.append(float((rgb[:, :, 5:] - rgb[:, :, 4:5]).abs().mean()))
    return float(np.mean(decoded)), float(np.mean(own))


def main() -> None:
    vaes, clips = folders_and_clips(__doc__, "vaes", "AutoencoderKLWan folders (a tiny-all run's base_vae/vae)")
    print("| base VAE | decoded change, latent frames 2-4 frozen | the clips' own change |\n|---|---|---|")
    for path in vaes:
        decoded, own = motion_readout(AutoencoderKLWan.from_pretrained(path).eval(), clips)
        print(f"| {path} | {decoded:.3f} | {own:.3f} |", flush=True)


if __name__ == "__main__":
    main()
