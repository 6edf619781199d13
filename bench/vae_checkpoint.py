"""An RGBA VAE folder from a `wan-alpha train vae` checkpoint, so the bench scripts can score a run
part-way: the run's final RGBA VAE (architecture, config, frozen weights, latent statistics) with the
checkpoint's trainable tensors put back. Reconstruction figures do not depend on the latent statistics.

    python bench/vae_checkpoint.py runs/tiny_v13/rgba_vae_long/rgba_vae \
        runs/tiny_v13/rgba_vae_long/checkpoints/step-0000200 -o runs/tiny_v13_step200
"""

from __future__ import annotations

import argparse
from pathlib import Path

from safetensors.torch import load_file

from wan_alpha.errors import WanAlphaError
from wan_alpha.models import RGBAVAE
from wan_alpha.train.loop import load_trainable_state_dict


def vae_at_checkpoint(final: str | Path, checkpoint: str | Path) -> RGBAVAE:
    vae = RGBAVAE.from_pretrained(final)
    path = Path(checkpoint) / "trainable_0.safetensors"
    if not path.exists():
        raise WanAlphaError(f"{checkpoint} has no trainable_0.safetensors: is it a `train vae` checkpoint folder?")
    load_trainable_state_dict(vae, load_file(path), str(path))  # the trainable set is the trainer's: fusion + LoRA
    return vae


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("final", help="the run's saved RGBA VAE folder")
    parser.add_argument("checkpoint", help="a checkpoints/step-NNNNNNN folder of the same run")
    parser.add_argument("-o", "--output", required=True, help="new folder for the RGBA VAE (must not exist)")
    args = parser.parse_args()
    if Path(args.output).exists():
        raise SystemExit(f"{args.output} exists: pick a new folder")
    vae_at_checkpoint(args.final, args.checkpoint).save_pretrained(args.output)
    print(f"wrote {args.output}")
