"""How fast does the tiny base VAE learn? Short runs of the base-VAE stage's model and optimiser (L1 loss only)
on a stream of procedural clips, next to the error of predicting each clip's mean colour.

    python bench/base_vae_probe.py                                   # the shipped recipe's settings
    python bench/base_vae_probe.py --latent-init-scale 10 --encoder-lr-scale 0.1 --lr 3e-4 --batch 4
    python bench/base_vae_probe.py --fixed 8 --batch 8               # fit 8 fixed clips (capacity check)

Prints the mean L1 (in [-1, 1] units) every 25 steps; a VAE that reads its latents must go well below
the mean-colour column. One thread, seeded: runs are comparable side by side.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from wan_alpha.config import load_config
from wan_alpha.data import SyntheticClips
from wan_alpha.models.rgba_vae import decode_unclamped
from wan_alpha.train.base_vae import BaseVAETrainConfig, base_vae_optimizer, build_base_vae, composite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="tiny_base_vae", help="base VAE config (default tiny_base_vae)")
    parser.add_argument("--latent-init-scale", type=float, help="override latent_init_scale")
    parser.add_argument("--encoder-lr-scale", type=float, help="override encoder_lr_scale")
    parser.add_argument("--lr", type=float, help="override train.learning_rate")
    parser.add_argument("--batch", type=int, default=1, help="clips per step (default 1, as the recipe)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--clips", type=int, default=256, help="size of the clip pool")
    parser.add_argument("--fixed", type=int, help="train on these many fixed clips, all in every step")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    overrides = {"data.manifest": None}
    for key, value in (("latent_init_scale", args.latent_init_scale), ("encoder_lr_scale", args.encoder_lr_scale),
                       ("train.learning_rate", args.lr)):
        if value is not None:
            overrides[key] = value
    cfg = load_config(BaseVAETrainConfig, args.config, overrides)
    vae = build_base_vae(cfg).train()
    optimizer = base_vae_optimizer(vae, cfg)
    clips = SyntheticClips(args.fixed or args.clips, args.frames, args.size, args.size, seed=0)
    g = torch.Generator().manual_seed(0)
    losses, baseline, start = [], [], time.perf_counter()
    for step in range(1, args.steps + 1):
        index = list(range(args.fixed)) if args.fixed else torch.randint(len(clips), (args.batch,), generator=g).tolist()
        items = [clips[i] for i in index]
        rgb = composite(torch.stack([x["rgb"] for x in items]), torch.stack([x["alpha"] for x in items]), g, cfg.background)
        loss = (decode_unclamped(vae, vae.encode(rgb).latent_dist.mean) - rgb).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        baseline.append((rgb - rgb.mean((2, 3, 4), keepdim=True)).abs().mean().item())
        if step % 25 == 0:
            print(f"step {step:5d}  L1 {np.mean(losses[-25:]):.3f}  mean-colour L1 {np.mean(baseline[-25:]):.3f}  "
                  f"{time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
