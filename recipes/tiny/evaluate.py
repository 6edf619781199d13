"""Evaluate the embedded tiny model: generation on held-out prompts, ellipse control, step count, and
the RGBA VAE on held-out clips. Writes ``OUT.json`` and ``OUT.md``.

    python -m recipes.tiny evaluate --emoji-manifest HELD_OUT/manifest.jsonl --out docs/results/tiny_model_eval

Held-out data: the prompts below appear in no training caption; the synthetic clips use seed 12345
(training uses seeds 0 and 1); the emoji clips come from a set built with another seed
(``wan-alpha data build emoji ... --seed 1``: other animations, sprites may recur).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from wan_alpha import EMBEDDED_MODEL
from wan_alpha.cli.args import read_prompts
from wan_alpha.data import RGBAClipDataset, SyntheticClips
from wan_alpha.eval import alpha_shares, dtssd, over_background_psnr, psnr
from wan_alpha.eval.reconstruction import clip_arrays
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.rgba import Ellipse, black_background, latent_frame_spans
from wan_alpha.sampling import SAMPLERS, flow_scheduler
from wan_alpha.sampling.schedules import scheduler_shift

PROMPTS_FILE = Path(__file__).with_name("prompts_heldout.txt")  # also `ablate-dit --prompts`
PROMPTS = read_prompts(PROMPTS_FILE)
HELDOUT_SEED = 12345
"""Seed of the held-out procedural clips (the recipe's training draws seeds 0 and 1)."""
LEFT, RIGHT = Ellipse(0.25, 0.5, 0.35, 0.6), Ellipse(0.75, 0.5, 0.35, 0.6)
STEP_COUNTS = (1, 2, 4, 8, 16)
REFERENCE_STEPS = 32
LATE_FRAMES = latent_frame_spans(17)[-1]
"""Frames 13-16, the last latent frame's: where the tiny models' subjects fade first."""


def heldout_clips(count: int) -> SyntheticClips:
    """``count`` procedural clips at the embedded model's size, 17x128x128."""
    return SyntheticClips(count, 17, 128, 128, seed=HELDOUT_SEED)


def subject_alpha(alpha, truth) -> float:
    """Mean of ``alpha`` where ``truth`` (same shape, tensor or array) is solid (>= 0.5): 1.0 = the subject
    comes back whole; NaN for a clip without a solid pixel."""
    solid = truth >= 0.5
    return float(alpha[solid].mean()) if solid.any() else float("nan")


def generate(pipe: WanAlphaPipeline, prompt: str, seed: int, **kwargs) -> np.ndarray:
    """Alpha ``(T, H, W)`` in [0, 1] of one seeded clip."""
    out = pipe(prompt, generator=torch.Generator().manual_seed(seed), **kwargs)
    return out.alpha[0, 0].numpy().astype(np.float64)


def centroid_x(alpha: np.ndarray) -> float:
    """Alpha-weighted mean column, as a fraction of the width."""
    columns = alpha.sum(axis=(0, 1))
    return float((columns * np.arange(len(columns))).sum() / max(columns.sum(), 1e-9) / len(columns))


def generation_section(pipe: WanAlphaPipeline, **sampling) -> dict:
    """The must-show checks on the held-out prompts; ``sampling`` overrides the model's defaults
    (``num_inference_steps``, ``guidance_scale``)."""
    clips = []
    for seed, prompt in enumerate(PROMPTS):
        alpha = generate(pipe, prompt, seed, **sampling)
        shares = alpha_shares(alpha)
        left = centroid_x(generate(pipe, prompt, seed, ellipse=LEFT, **sampling))
        right = centroid_x(generate(pipe, prompt, seed, ellipse=RIGHT, **sampling))
        clips.append({"prompt": prompt, **{f"{k}_share": v for k, v in shares.items()}, "dtssd": dtssd(alpha),
                      "peak_alpha": float(alpha.max()), "late_peak_alpha": float(alpha[LATE_FRAMES].max()),
                      "centroid_left": left, "centroid_right": right})
    transparent = [c["transparent_share"] for c in clips]
    return {
        "clips": clips,
        "transparent_share_in_20_95": sum(0.2 <= t <= 0.95 for t in transparent),
        "opaque_pixels_in": sum(c["opaque_share"] > 0 for c in clips),
        "mean_dtssd": float(np.mean([c["dtssd"] for c in clips])),
        "mean_peak_alpha": float(np.mean([c["peak_alpha"] for c in clips])),
        "mean_late_peak_alpha": float(np.mean([c["late_peak_alpha"] for c in clips])),
        "left_of_right": sum(c["centroid_left"] < c["centroid_right"] for c in clips),
        "prompts": len(clips),
    }


def steps_section(pipe: WanAlphaPipeline, prompts: list[str]) -> dict:
    """Alpha PSNR of each step count against the same seed at ``REFERENCE_STEPS`` steps, and its cost."""
    reference = [generate(pipe, p, s, num_inference_steps=REFERENCE_STEPS) for s, p in enumerate(prompts)]
    rows = {}
    for steps in STEP_COUNTS:
        start = time.perf_counter()
        alphas = [generate(pipe, p, s, num_inference_steps=steps) for s, p in enumerate(prompts)]
        seconds = (time.perf_counter() - start) / len(prompts)
        rows[steps] = {
            "alpha_psnr_vs_ref": float(np.mean([psnr(a, r) for a, r in zip(alphas, reference)])),
            "transparent_share": float(np.mean([alpha_shares(a)["transparent"] for a in alphas])),
            "seconds_per_clip": seconds,
        }
    return {"reference_steps": REFERENCE_STEPS, "rows": rows}


@torch.no_grad()
def round_trip(vae, item: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One held-out clip encoded over black and decoded: ``rgb_hat, alpha_hat, rgb, alpha`` as
    :func:`clip_arrays` gives them (``(T, H, W, 3)`` and ``(T, H, W)`` in [0, 1])."""
    rgb, alpha = item["rgb"][None], item["alpha"][None]
    out = vae(rgb, alpha, background=black_background(rgb))
    return *clip_arrays(out.rgb[0], out.alpha[0]), *clip_arrays(rgb[0], alpha[0])


def reconstruct(vae, item: dict) -> dict[str, float]:
    """Alpha PSNR (whole clip, its first 5 and last 4 frames, and that of an all-transparent guess), RGB PSNR
    over the palette renders, alpha dtSSD and the mean reconstructed alpha on the subject (true alpha >= 0.5;
    NaN if the clip has none) of one clip encoded over black.

    Frames 0-4 and 13-16 are the first two and the last of a 17-frame clip's five latent frames: small
    causal VAEs reconstruct the later ones worse."""
    rgb_hat, alpha_hat, rgb_t, alpha_t = round_trip(vae, item)
    return {"alpha_psnr": psnr(alpha_hat, alpha_t), "rgb_psnr": over_background_psnr(rgb_hat, alpha_hat, rgb_t, alpha_t)["mean"],
            "alpha_dtssd": dtssd(alpha_hat, alpha_t),
            "subject_alpha": subject_alpha(alpha_hat, alpha_t),
            "alpha_psnr_frames_0_4": psnr(alpha_hat[:5], alpha_t[:5]),
            "alpha_psnr_frames_13_16": psnr(alpha_hat[13:], alpha_t[13:]),
            "alpha_psnr_all_transparent": psnr(np.zeros_like(alpha_t), alpha_t)}


def heldout_sets(emoji_manifest: str | None, clips: int = 8) -> dict[str, Dataset]:
    """The held-out reconstruction sets: ``clips`` procedural clips and, given a manifest, the emoji clips."""
    sets = {f"synthetic (seed {HELDOUT_SEED})": heldout_clips(clips)}
    if emoji_manifest:
        sets["emoji (held-out build)"] = RGBAClipDataset(emoji_manifest, frames=17, height=128, width=128, random_crop=False)
    return sets


def vae_section(vae, emoji_manifest: str | None, clips: int = 8) -> dict:
    """Mean :func:`reconstruct` scores of ``clips`` held-out synthetic clips and, given a manifest, emoji clips."""
    results = {}
    for name, dataset in heldout_sets(emoji_manifest, clips).items():
        scores = [reconstruct(vae, dataset[i]) for i in range(min(clips, len(dataset)))]
        results[name] = {k: float(np.nanmean([s[k] for s in scores])) for k in scores[0]}
    return results


def markdown(report: dict) -> str:
    g, s = report["generation"], report["steps"]
    lines = [
        f"# Tiny model evaluation ({report['model']})", "",
        f"Generation, {g['prompts']} held-out prompts, settings ({report['defaults']}):", "",
        f"- transparent share in [20%, 95%]: {g['transparent_share_in_20_95']}/{g['prompts']}",
        f"- clips with opaque pixels: {g['opaque_pixels_in']}/{g['prompts']}",
        f"- alpha stability, mean dtSSD (x100, 0 = still alpha): {g['mean_dtssd']:.2f}",
        f"- peak alpha of a clip (how visible the subject is), mean: {g['mean_peak_alpha']:.2f}",
        f"- peak alpha over the last 4 frames (does the subject fade out?), mean: {g['mean_late_peak_alpha']:.2f}",
        f"- ellipse control, alpha centroid with cx=0.25 left of cx=0.75: {g['left_of_right']}/{g['prompts']}", "",
        "| prompt | transparent | opaque | peak alpha (last 4 frames) | dtSSD | centroid x (left / right ellipse) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {c['prompt']} | {c['transparent_share']:.2f} | {c['opaque_share']:.2f} | {c['peak_alpha']:.2f} "
              f"({c['late_peak_alpha']:.2f}) | {c['dtssd']:.2f} | {c['centroid_left']:.2f} / {c['centroid_right']:.2f} |"
              for c in g["clips"]]
    lines += ["", f"Step count (alpha PSNR against {s['reference_steps']} steps, same seeds):", "",
              "| steps | alpha PSNR vs ref (dB) | transparent share | s/clip |", "|---|---|---|---|"]
    lines += [f"| {k} | {v['alpha_psnr_vs_ref']:.1f} | {v['transparent_share']:.2f} | {v['seconds_per_clip']:.2f} |"
              for k, v in s["rows"].items()]
    lines += ["", "RGBA VAE reconstruction of held-out 17x128x128 clips (encoded over black):", "",
              "| clips | alpha PSNR (dB) | RGB PSNR over palette (dB) | alpha dtSSD vs truth | mean alpha on subject (truth >= 0.5) |",
              "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['alpha_psnr']:.1f} | {v['rgb_psnr']:.1f} | {v['alpha_dtssd']:.2f} | {v['subject_alpha']:.2f} |"
              for k, v in report["vae"].items()]
    lines += ["", "Alpha PSNR (dB) by part of the clip, and that of an all-transparent guess (the floor a VAE must beat):", "",
              "| clips | frames 0-4 | frames 13-16 | whole clip | all-transparent guess |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['alpha_psnr_frames_0_4']:.1f} | {v['alpha_psnr_frames_13_16']:.1f} | {v['alpha_psnr']:.1f} | "
              f"{v['alpha_psnr_all_transparent']:.1f} |" for k, v in report["vae"].items()]
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=str(EMBEDDED_MODEL),
                        help="model folder to evaluate (default: the shipped wan-alpha-tiny)")
    parser.add_argument("--emoji-manifest", help="held-out emoji manifest (wan-alpha data build emoji --seed 1); "
                        "without it the RGBA VAE is scored on synthetic clips only")
    parser.add_argument("--out", default="docs/results/tiny_model_eval",
                        help="writes OUT.json and OUT.md (default: %(default)s)")
    parser.add_argument("--skip-steps", action="store_true", help="skip the step-count sweep")
    parser.add_argument("--steps", type=int, help="sampling steps for the generation checks (default: the model's)")
    parser.add_argument("--guidance", type=float,
                        help="guidance scale for the generation checks (default: the model's)")
    parser.add_argument("--sampler", choices=SAMPLERS, help="flow sampler for every generation (default: the model's)")


def run(args: argparse.Namespace) -> None:
    torch.set_flush_denormal(True)
    pipe = WanAlphaPipeline.from_pretrained(args.model)
    pipe.set_progress_bar_config(disable=True)
    if args.sampler is not None:
        pipe.scheduler = flow_scheduler(args.sampler, scheduler_shift(pipe.scheduler))
    c = pipe.config
    sampling = {k: v for k, v in (("num_inference_steps", args.steps), ("guidance_scale", args.guidance))
                if v is not None}
    steps = sampling.get("num_inference_steps", c.num_inference_steps)
    guidance = sampling.get("guidance_scale", c.guidance_scale)
    report = {
        "model": Path(args.model).name,
        "defaults": f"{steps} {args.sampler + ' ' if args.sampler else ''}steps, guidance {guidance}, mu {c.mu_shift}",
        "generation": generation_section(pipe, **sampling),
        "steps": steps_section(pipe, PROMPTS[:4]) if not args.skip_steps else {"reference_steps": REFERENCE_STEPS, "rows": {}},
        "vae": vae_section(pipe.vae, args.emoji_manifest),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
