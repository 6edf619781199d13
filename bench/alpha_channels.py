"""Do an RGBA VAE's three alpha-decoder channels agree? Inference clamps each decoded channel to [-1, 1]
and then averages them into alpha, so channels that only *average* to -1 on a transparent pixel (one
below -1, two above) decode to a haze, not to alpha 0. For held-out procedural clips (seed 12345,
17x128x128, over a random palette colour): the median of each raw channel on truly transparent pixels,
and the transparent share (alpha <= 1e-3) of the reconstruction averaged after the clamp (what inference
gives) and before it, against the clips' own.

    python bench/alpha_channels.py runs/tiny_v6/model runs/tiny_v7/rgba_vae/rgba_vae [--clips 4]
"""

from __future__ import annotations

import torch

from heldout import encode_over_palette, print_rgba_vae_table
from wan_alpha.data import SyntheticClips
from wan_alpha.models import RGBAVAE
from wan_alpha.models.rgba_vae import decode_unclamped
from wan_alpha.rgba import OPAQUE_EPS


@torch.no_grad()
def channels(vae: RGBAVAE, clips: SyntheticClips) -> str:
    latents, truth = encode_over_palette(vae, clips)
    raw = torch.cat([decode_unclamped(vae.vae_alpha, vae.denormalize_latents(z)) for z in latents.split(1)])
    raw, truth = raw.transpose(0, 1), truth[:, 0]  # (3, N, T, H, W), (N, T, H, W)
    transparent = truth <= OPAQUE_EPS
    medians = " / ".join(f"{c[transparent].median():.2f}" for c in raw)
    after = (raw.clamp(-1, 1).mean(0) + 1) / 2
    before = ((raw.mean(0) + 1) / 2).clamp(0, 1)
    share = lambda a: f"{(a <= OPAQUE_EPS).float().mean():.2f}"  # noqa: E731
    return f"{medians} | {share(after)} | {share(before)} | {share(truth)}"


if __name__ == "__main__":
    print_rgba_vae_table(__doc__, "raw channel medians on transparent pixels (R / G / B) | transparent share, clamp "
                         "then average (inference) | average then clamp | true", channels)
