"""Generation metrics (``wan-alpha eval gen``): transparency of generated clips, without ground truth.

Per clip: transparent / semi / opaque shares, the clean-background rate outside the requested
ellipse (alpha < 0.05 there), ellipse adherence (IoU of the alpha support, alpha >= 0.5, with the
ellipse), alpha stability (dtSSD of alpha against a still matte: 0 = alpha does not change) and the
VBench-style flicker score of the premultiplied RGB and of alpha.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..io import write_video
from ..pipelines import WanAlphaPipeline
from ..rgba import Ellipse, ellipse_region
from .metrics import alpha_shares, clean_background_rate, dtssd, flicker_score, support_iou
from .reconstruction import clip_arrays, mean_curves, summarize


def generation_scores(rgb: np.ndarray, alpha: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """Scalar metrics of one generated clip (``(T, H, W, 3)``, ``(T, H, W)`` in [0, 1]) and its requested region."""
    scores = {f"{k}_share": v for k, v in alpha_shares(alpha).items()}
    scores |= {"clean_background": clean_background_rate(alpha, region), "ellipse_iou": support_iou(alpha, region)}
    if alpha.shape[0] > 1:
        scores |= {
            "alpha_stability_dtssd": dtssd(alpha),
            "rgb_flicker": flicker_score(rgb * alpha[..., None]),
            "alpha_flicker": flicker_score(alpha),
        }
    return scores


def generation_frames(alpha: np.ndarray, region: np.ndarray) -> dict[str, list[float]]:
    """Per-frame transparent share, clean-background rate and ellipse IoU."""
    return {
        "transparent_share": [alpha_shares(a)["transparent"] for a in alpha],
        "clean_background": [clean_background_rate(a, region) for a in alpha],
        "ellipse_iou": [support_iou(a, region) for a in alpha],
    }


def evaluate_generation(
    model: str | os.PathLike,
    prompts: list[str],
    ellipse: Ellipse,
    *,
    frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    mu: float | None = None,
    seed: int = 0,
    clip_dir: Path | None = None,
    mirror: Ellipse | None = None,
) -> dict:
    """Generate one clip per prompt (seeds ``seed``, ``seed+1``, ...) inside ``ellipse`` and score them.

    ``steps``, ``guidance`` and ``mu`` default to the model's own (as ``wan-alpha generate`` samples).
    Returns ``{"clips", "mean", "per_frame", "steps", "guidance", "mu"}`` (the settings used); with ``clip_dir``
    the clips are written there as WebM.
    With ``mirror`` (another ellipse, e.g. the requested one mirrored) each clip also gets
    ``ellipse_iou_mirror``: a model that follows the request scores higher on ``ellipse_iou``.
    """
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_flush_denormal(True)  # denormals make small random models 10-100x slower on CPUs
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    pipe = WanAlphaPipeline.from_pretrained(model, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    steps, guidance, mu = pipe.sampling_settings(steps, guidance, mu)
    clips, curves = [], []
    for i, prompt in enumerate(tqdm(prompts, desc="eval gen", unit="clip")):
        out = pipe(prompt, height=height, width=width, num_frames=frames, num_inference_steps=steps,
                   guidance_scale=guidance, generator=torch.Generator().manual_seed(seed + i), ellipse=ellipse, mu=mu)
        rgb, alpha = clip_arrays(out.rgb[0], out.alpha[0])
        region = ellipse_region(ellipse, *alpha.shape[1:])
        clips.append({"prompt": prompt, **generation_scores(rgb, alpha, region)})
        if mirror is not None:
            clips[-1]["ellipse_iou_mirror"] = support_iou(alpha, ellipse_region(mirror, *alpha.shape[1:]))
        curves.append(generation_frames(alpha, region))
        if clip_dir is not None:
            clip_dir.mkdir(parents=True, exist_ok=True)
            write_video(clip_dir / f"{i:03d}.webm", out.videos[0], overwrite=True)
    numeric = [{k: v for k, v in c.items() if k != "prompt"} for c in clips]
    return {"clips": clips, "mean": summarize(numeric), "per_frame": mean_curves(curves), "steps": steps,
            "guidance": guidance, "mu": mu}
