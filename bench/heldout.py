"""The held-out procedural clips the bench scripts score models on (training draws seeds 0 and 1),
and the command line and RGBA VAE loading shared by the scripts that take a list of model folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from wan_alpha.data import SyntheticClips
from wan_alpha.models import RGBAVAE
from wan_alpha.pipelines import WanAlphaPipeline

HELDOUT_SEED = 12345


def heldout_clips(count: int) -> SyntheticClips:
    """``count`` procedural clips at the embedded model's size, 17x128x128."""
    return SyntheticClips(count, 17, 128, 128, seed=HELDOUT_SEED)


def load_rgba_vae(folder: str) -> RGBAVAE:
    """The RGBA VAE of a pipeline folder (a tiny-all run's model/) or an RGBAVAE folder, in eval mode."""
    if (Path(folder) / "model_index.json").is_file():
        return WanAlphaPipeline.from_pretrained(folder).vae.eval()
    return RGBAVAE.from_pretrained(folder).eval()


def folders_and_clips(doc: str, name: str, help: str) -> tuple[list[str], SyntheticClips]:
    """Parse ``NAME... [--clips N]`` (``doc``'s first paragraph as the description)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument(name, nargs="+", help=help)
    parser.add_argument("--clips", type=int, default=4, help="held-out clips (default 4)")
    args = parser.parse_args()
    return getattr(args, name), heldout_clips(args.clips)
