"""The held-out procedural clips the bench scripts score models on (training draws seeds 0 and 1),
and the command line, RGBA VAE loading and encoding shared by the scripts that take a list of model folders."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset

from wan_alpha.data import SyntheticClips
from wan_alpha.models import RGBAVAE
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.rgba import random_palette_colors

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


@torch.no_grad()
def encode_over_palette(vae: RGBAVAE, clips: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised latents ``(N, z, T', h, w)`` of the clips, each encoded over a palette colour drawn
    from seed 0 (as the DiT trainer encodes them), and the clips' alpha ``(N, 1, T, H, W)``."""
    generator = torch.Generator().manual_seed(0)
    latents = torch.cat([vae.encode(clips[i]["rgb"][None], clips[i]["alpha"][None],
                                    background=random_palette_colors(1, generator)) for i in range(len(clips))])
    return latents, torch.stack([clips[i]["alpha"] for i in range(len(clips))])


def subject_alpha(alpha, truth) -> float:
    """Mean of ``alpha`` where ``truth`` (same shape, tensor or array) is solid (>= 0.5): 1.0 = the subject
    comes back whole; NaN for a clip without a solid pixel."""
    solid = truth >= 0.5
    return float(alpha[solid].mean()) if solid.any() else float("nan")


def print_rgba_vae_table(doc: str, header: str, row: Callable[[RGBAVAE, SyntheticClips], str]) -> None:
    """Parse ``MODELS... [--clips N]``, print ``header`` (the columns after "model"), then one row per model
    folder: ``row(vae, clips)`` gives the cells after the folder's name."""
    models, clips = folders_and_clips(doc, "models", "pipeline folders (a tiny-all run's model/) or RGBAVAE folders")
    columns = header.count(" | ") + 2
    print(f"| model | {header} |\n" + "|---" * columns + "|")
    for model in models:
        print(f"| {model} | {row(load_rgba_vae(model), clips)} |", flush=True)
