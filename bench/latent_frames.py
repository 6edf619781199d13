"""Are a DiT's last latent frames weaker than the data's? Per latent frame, the std of the normalised latents
of held-out procedural clips (seed 12345, encoded as the DiT trainer encodes them) and of the final latents
the model generates for the held-out prompts of bench/eval_tiny_model.py (default settings, seeds 0..N-1),
and the decoded generated clips' mean peak alpha in each latent frame's pixel frames. ``--scale S`` multiplies
the final latents by S before they are decoded: does undoing the DiT's shrinkage bring the alpha back?

    python bench/latent_frames.py src/wan_alpha/assets/wan-alpha-tiny runs/tiny_v17b/model [--clips 8] [--scale 1.2]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from eval_tiny_model import PROMPTS, generate
from heldout import encode_over_palette, heldout_clips
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.rgba import latent_frame_spans


def per_frame_std(latents: torch.Tensor) -> list[float]:
    """Std over clips, channels and positions of each latent frame of ``(N, C, T', h, w)``."""
    return latents.transpose(0, 2).flatten(1).std(1).tolist()


def generated(pipe: WanAlphaPipeline, count: int, scale: float = 1.0) -> tuple[torch.Tensor, np.ndarray]:
    """Final latents ``(N, C, T', h, w)`` (before ``scale``) and alpha ``(N, T, H, W)`` decoded from them times
    ``scale``, for the first ``count`` prompts, generated as eval_tiny_model.py generates them."""
    last = pipe.config.num_inference_steps - 1
    latents, alphas = [], []
    for seed, prompt in enumerate(PROMPTS[:count]):
        final = {}

        def keep_and_scale(_pipe, step, _t, state):
            final.update(state)
            return {"latents": state["latents"] * scale} if step == last else None

        alphas.append(generate(pipe, prompt, seed, callback_on_step_end=keep_and_scale))
        latents.append(final["latents"])
    return torch.cat(latents), np.stack(alphas)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="model folders")
    parser.add_argument("--clips", type=int, default=8, help="held-out clips and prompts (default 8)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the final latents before decoding")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    for folder in args.models:
        pipe = WanAlphaPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)
        with torch.no_grad():
            encoded, _ = encode_over_palette(pipe.vae, heldout_clips(args.clips))
        latents, alpha = generated(pipe, args.clips, args.scale)
        peak = [alpha[:, span].max(axis=(1, 2, 3)).mean() for span in latent_frame_spans(alpha.shape[1])]
        enc, gen = per_frame_std(encoded), per_frame_std(latents)
        print(f"\n{folder} (final latents x {args.scale} before decoding)\n")
        print("| latent frame | encoded std | generated std | ratio | generated peak alpha |\n|---|---|---|---|---|")
        for k in range(len(peak)):
            print(f"| {k} | {enc[k]:.2f} | {gen[k]:.2f} | {gen[k] / enc[k]:.2f} | {peak[k]:.2f} |")


if __name__ == "__main__":
    main()
