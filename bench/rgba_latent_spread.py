"""Does an RGBA VAE's latent depend on the clip? For held-out procedural clips (seed 12345, 17x128x128,
each over a random palette colour as the DiT trainer encodes them): the std of the normalised latents,
their std across clips at each position (near 0: the encoder ignores its input), and the mean alpha
and the shares of fully transparent / opaque pixels of the reconstructions against the clips' own.

    python bench/rgba_latent_spread.py runs/tiny_v5/model runs/tiny_v6/rgba_vae/rgba_vae [--clips 4]
"""

from __future__ import annotations

import torch

from heldout import folders_and_clips, load_rgba_vae
from wan_alpha.data import SyntheticClips
from wan_alpha.eval import alpha_shares
from wan_alpha.rgba import random_palette_colors


@torch.no_grad()
def spread(model: str, clips: SyntheticClips) -> str:
    vae = load_rgba_vae(model)
    generator = torch.Generator().manual_seed(0)
    latents = torch.cat([vae.encode(clips[i]["rgb"][None], clips[i]["alpha"][None],
                                    background=random_palette_colors(1, generator)) for i in range(len(clips))])
    _, alpha = vae.decode(latents)
    truth = torch.stack([clips[i]["alpha"] for i in range(len(clips))])
    shares, true_shares = alpha_shares(alpha.numpy()), alpha_shares(truth.numpy())
    return (f"| {model} | {latents.std():.2f} | {latents.std(0).mean():.2f} | {alpha.mean():.3f} | {truth.mean():.3f} | "
            f"{shares['transparent']:.2f} / {shares['opaque']:.2f} | {true_shares['transparent']:.2f} / {true_shares['opaque']:.2f} |")


def main() -> None:
    models, clips = folders_and_clips(__doc__, "models", "pipeline folders (a tiny-all run's model/) or RGBAVAE folders")
    print("| model | latent std | std across clips | reconstructed mean alpha | true mean alpha | reconstructed "
          "transparent / opaque share | true transparent / opaque share |\n|---|---|---|---|---|---|---|")
    for model in models:
        print(spread(model, clips), flush=True)


if __name__ == "__main__":
    main()
