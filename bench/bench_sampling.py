"""Sampling cost on the tiny model: few-step vs 50-step CFG, and Wan-Alpha's shared latent vs a
TransPixeler-style sequence with separate RGB and alpha tokens.

    python bench/bench_sampling.py [--frames 17] [--size 128] [--repeats 3]

The model is the shipped tiny recipe with random weights (``dit_tiny``: 6 layers, 4 heads x 32, ffn
512, MiniLM 384-d text; ``vae_tiny``'s Wan VAE), which is enough for timing. Prints the median time
per clip (prompt encoding + sampling + RGBA decode) for 4 steps without CFG and 50 steps with CFG,
and the median time of one transformer step on the shared RGBA latent vs the same transformer on a
sequence twice as long (RGB tokens then alpha tokens, TransPixeler's layout), with their ratios.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import yaml
from diffusers import AutoencoderKLWan

from wan_alpha.config import load_config, resolve_config_path
from wan_alpha.models.dit import build_dit
from wan_alpha.models.rgba_vae import RGBAVAE
from wan_alpha.models.text_encoders import load_minilm
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.rgba import latent_frame_count
from wan_alpha.sampling import flow_scheduler
from wan_alpha.train.dit import DiTTrainConfig


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tiny_pipeline() -> WanAlphaPipeline:
    torch.manual_seed(0)
    dit_config = load_config(DiTTrainConfig, "dit_tiny").dit_config
    vae_config = yaml.safe_load(resolve_config_path("vae_tiny").read_text())["model"]["base_vae_config"]
    text = load_minilm(max_length=64)
    vae = RGBAVAE.from_base(AutoencoderKLWan(**vae_config), lora_rank=0)
    pipe = WanAlphaPipeline(text.tokenizer, text.model, build_dit(dit_config).eval(), vae.eval(),
                            flow_scheduler("euler"), max_sequence_length=text.max_length)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--size", type=int, default=128, help="square frame size, multiple of 16")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    pipe = tiny_pipeline()
    shape = dict(num_frames=args.frames, height=args.size, width=args.size)

    def clip(steps: int, guidance: float) -> None:
        pipe("a puff of white smoke", num_inference_steps=steps, guidance_scale=guidance,
             generator=torch.Generator().manual_seed(0), **shape)

    clip(1, 1.0)  # warm-up: first calls build kernels
    fast = median_seconds(lambda: clip(4, 1.0), args.repeats)
    full = median_seconds(lambda: clip(50, 5.0), args.repeats)

    text, _ = pipe.prompt_encoder.encode(["a puff of white smoke"])
    latent_frames, grid = latent_frame_count(args.frames), args.size // pipe.vae.spatial_stride
    shared = torch.randn(1, 16, latent_frames, grid, grid)
    separate = torch.randn(1, 16, 2 * latent_frames, grid, grid)  # RGB tokens then alpha tokens
    t = torch.tensor([500.0])

    def step(latents: torch.Tensor) -> None:
        with torch.no_grad():
            pipe.transformer(hidden_states=latents, timestep=t, encoder_hidden_states=text, return_dict=False)

    step(shared), step(separate)
    repeats = max(5, 3 * args.repeats)
    one = median_seconds(lambda: step(shared), repeats)
    two = median_seconds(lambda: step(separate), repeats)

    tokens = latent_frames * (grid // 2) ** 2
    print(f"tiny Wan-Alpha, {args.frames} frames {args.size}x{args.size} ({tokens} tokens), "
          f"{torch.get_num_threads()} threads, medians of {args.repeats} clips / {repeats} steps")
    print("| setting | seconds | ratio |\n|---|---|---|")
    print(f"| clip, 4 steps, no CFG | {fast:.3f} | 1.00 |")
    print(f"| clip, 50 steps, CFG 5 | {full:.3f} | {full / fast:.2f} |")
    print(f"| transformer step, shared RGBA latent ({tokens} tokens) | {one:.4f} | 1.00 |")
    print(f"| transformer step, separate RGB + alpha tokens ({2 * tokens}) | {two:.4f} | {two / one:.2f} |")


if __name__ == "__main__":
    main()
