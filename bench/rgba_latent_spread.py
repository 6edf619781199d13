"""Does an RGBA VAE's latent depend on the clip? For held-out procedural clips (seed 12345, 17x128x128,
each over a random palette colour as the DiT trainer encodes them): the std of the normalised latents,
their std across clips at each position (near 0: the encoder ignores its input), and the mean alpha
and the shares of fully transparent / opaque pixels of the reconstructions against the clips' own.

    python bench/rgba_latent_spread.py runs/tiny_v5/model runs/tiny_v6/rgba_vae/rgba_vae [--clips 4]
"""

from __future__ import annotations

import torch

from heldout import encode_over_palette, print_rgba_vae_table
from wan_alpha.data import SyntheticClips
from wan_alpha.eval import alpha_shares
from wan_alpha.models import RGBAVAE


@torch.no_grad()
def spread(vae: RGBAVAE, clips: SyntheticClips) -> str:
    latents, truth = encode_over_palette(vae, clips)
    _, alpha = vae.decode(latents)
    shares, true_shares = alpha_shares(alpha.numpy()), alpha_shares(truth.numpy())
    return (f"{latents.std():.2f} | {latents.std(0).mean():.2f} | {alpha.mean():.3f} | {truth.mean():.3f} | "
            f"{shares['transparent']:.2f} / {shares['opaque']:.2f} | {true_shares['transparent']:.2f} / {true_shares['opaque']:.2f}")


if __name__ == "__main__":
    print_rgba_vae_table(__doc__, "latent std | std across clips | reconstructed mean alpha | true mean alpha | "
                         "reconstructed transparent / opaque share | true transparent / opaque share", spread)
