"""RGBA VAE reconstruction evaluation (``wan-alpha eval vae``): every transparency metric per clip.

Clips are encoded over black (palette colour 0), as the trainer's validation does: that is the
naive variant's own input convention and one of the palette colours the rendering variants train
on, so every ablation variant is scored on the same inputs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..rgba import black_background
from .metrics import (
    connectivity_error,
    dtssd,
    flicker_score,
    gradient_error,
    mse,
    over_background_psnr,
    over_background_ssim,
    psnr,
    sad,
    ssim,
)

LPIPSFn = Callable[[np.ndarray, np.ndarray], float]
"""``(pred, target)`` videos ``(T, H, W, 3)`` in [0, 1] -> mean LPIPS (see :mod:`wan_alpha.eval.lpips`)."""

HELD_OUT_SEED = 10_000
"""Seed of the procedural clips ``wan-alpha eval vae --synthetic`` scores on; training configs draw theirs from small
seeds, so no clip is shared."""


def clip_arrays(rgb: torch.Tensor, alpha: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """One clip ``rgb (3, T, H, W)`` in [-1, 1], ``alpha (1, T, H, W)`` in [0, 1] -> float64
    ``(T, H, W, 3)`` and ``(T, H, W)`` in [0, 1] (clamped: decoders may overshoot)."""
    rgb01 = ((rgb.detach().double().cpu() + 1) / 2).clamp(0, 1).permute(1, 2, 3, 0).numpy()
    return rgb01, alpha.detach().double().cpu().clamp(0, 1)[0].numpy()


def reconstruction_scores(rgb_hat, alpha_hat, rgb, alpha, lpips: LPIPSFn | None = None) -> dict[str, float]:
    """All scalar metrics of one reconstructed clip (numpy, as :func:`clip_arrays` returns them).

    RGB is judged where it is visible (soft-rendered over the 8 palette colours and a checkerboard);
    ``*_flicker`` of the reconstruction sits next to ``gt_*_flicker`` of the clip itself, since the
    clip's own motion sets what "no flicker" can be.
    """
    psnrs = over_background_psnr(rgb_hat, alpha_hat, rgb, alpha)
    scores = {f"rgb_psnr_{name}": value for name, value in psnrs.items() if name != "mean"}
    scores |= {
        "rgb_psnr": psnrs["mean"],
        "rgb_ssim": over_background_ssim(rgb_hat, alpha_hat, rgb, alpha)["mean"],
        "alpha_psnr": psnr(alpha_hat, alpha),
        "alpha_ssim": ssim(alpha_hat, alpha),
        "alpha_sad": sad(alpha_hat, alpha),
        "alpha_mse": mse(alpha_hat, alpha),
        "alpha_grad": gradient_error(alpha_hat, alpha),
        "alpha_conn": connectivity_error(alpha_hat, alpha),
    }
    if alpha.shape[0] > 1:
        # Premultiplied RGB: what a viewer sees over black; colour under alpha 0 cannot flicker.
        scores |= {
            "alpha_dtssd": dtssd(alpha_hat, alpha),
            "rgb_flicker": flicker_score(rgb_hat * alpha_hat[..., None]),
            "alpha_flicker": flicker_score(alpha_hat),
            "gt_rgb_flicker": flicker_score(rgb * alpha[..., None]),
            "gt_alpha_flicker": flicker_score(alpha),
        }
    if lpips is not None:
        scores["rgb_lpips"] = lpips(rgb_hat * alpha_hat[..., None], rgb * alpha[..., None])
        scores["alpha_lpips"] = lpips(np.repeat(alpha_hat[..., None], 3, -1), np.repeat(alpha[..., None], 3, -1))
    return scores


def frame_scores(rgb_hat, alpha_hat, rgb, alpha) -> dict[str, list[float]]:
    """Per-frame RGB PSNR (over-background mean), alpha PSNR and alpha SAD of one clip."""
    frames = range(alpha.shape[0])
    return {
        "rgb_psnr": [over_background_psnr(rgb_hat[t:t + 1], alpha_hat[t:t + 1], rgb[t:t + 1], alpha[t:t + 1])["mean"]
                     for t in frames],
        "alpha_psnr": [psnr(alpha_hat[t:t + 1], alpha[t:t + 1]) for t in frames],
        "alpha_sad": [sad(alpha_hat[t:t + 1], alpha[t:t + 1]) for t in frames],
    }


def summarize(clips: list[dict[str, float]]) -> dict[str, float]:
    """Mean over clips of every metric the clips share."""
    keys = [k for k in clips[0] if all(k in c for c in clips)]
    return {k: float(np.mean([c[k] for c in clips])) for k in keys}


@torch.no_grad()
def evaluate_vae(vae, dataset, lpips: LPIPSFn | None = None) -> dict:
    """Reconstruct every clip of ``dataset`` (items ``{"rgb", "alpha"}``) and score it.

    Returns ``{"clips": [scores...], "mean": {...}, "per_frame": {metric: [mean over clips per frame]}}``
    (per-frame means over the clips that have that frame).
    """
    vae.eval()
    device, clips, frames = vae.device, [], []
    for index in tqdm(range(len(dataset)), desc="eval vae", unit="clip"):
        item = dataset[index]
        rgb, alpha = item["rgb"][None].to(device, vae.dtype), item["alpha"][None].to(device, vae.dtype)
        out = vae(rgb, alpha, background=black_background(rgb))
        pred, target = clip_arrays(out.rgb[0], out.alpha[0]), clip_arrays(rgb[0], alpha[0])
        clips.append(reconstruction_scores(*pred, *target, lpips=lpips))
        frames.append(frame_scores(*pred, *target))
    return {"clips": clips, "mean": summarize(clips), "per_frame": mean_curves(frames)}


def transparent_baseline(dataset) -> dict[str, float]:
    """Mean scores of predicting every clip as fully transparent black: the floor a VAE whose output
    collapsed to "nothing there" would score (transparent pixels dominate small clips)."""
    clips = []
    for index in range(len(dataset)):
        rgb, alpha = clip_arrays(dataset[index]["rgb"], dataset[index]["alpha"])
        clips.append(reconstruction_scores(np.zeros_like(rgb), np.zeros_like(alpha), rgb, alpha))
    return summarize(clips)


def mean_curves(curves: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Average per-frame curves of several clips frame by frame (clips may differ in length)."""
    length = max(len(next(iter(c.values()))) for c in curves)
    return {
        name: [float(np.mean([c[name][t] for c in curves if t < len(c[name])])) for t in range(length)]
        for name in curves[0]
    }
