"""Transparency metrics: over-background RGB quality, image-matting errors, temporal stability.

Alpha arguments are arrays in [0, 1]; videos are ``(T, H, W)`` for alpha and ``(T, H, W, 3)`` for
RGB in [0, 1] unless a function says otherwise. PSNR/SSIM come from torchmetrics; the matting
errors follow the definitions of the image-matting literature (Rhemann et al. 2009, as used by the
Deep Image Matting benchmark), computed over the whole frame (no trimap).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_gradient_magnitude
from skimage.measure import label
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from ..errors import WanAlphaError
from ..rgba import PALETTE, PALETTE_NAMES, checkerboard, region_masks, soft_render


def _as_frames(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(T, H, W)`` or ``(T, H, W, C)`` -> ``(T, C, H, W)`` float64 tensor for torchmetrics."""
    if isinstance(x, torch.Tensor):  # a model's output may be on the GPU or require grad
        x = x.detach().cpu().double()
    else:
        x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    if x.ndim != 4:
        raise WanAlphaError(f"expected a video shaped (T, H, W) or (T, H, W, C), got {tuple(x.shape)}")
    return x.permute(0, 3, 1, 2)


def _check_pair(pred, target) -> None:
    if np.shape(pred) != np.shape(target):
        raise WanAlphaError(f"prediction {np.shape(pred)} and target {np.shape(target)} differ in shape")


def psnr(pred, target, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over the whole clip; ``inf`` for a perfect prediction."""
    _check_pair(pred, target)
    p, t = _as_frames(pred), _as_frames(target)
    if torch.equal(p, t):
        return float("inf")
    return float(peak_signal_noise_ratio(p, t, data_range=data_range))


def ssim(pred, target, data_range: float = 1.0) -> float:
    """Mean structural similarity over frames (Gaussian window 11, sigma 1.5)."""
    _check_pair(pred, target)
    return float(structural_similarity_index_measure(_as_frames(pred), _as_frames(target), data_range=data_range))


def over_background_psnr(rgb_pred, alpha_pred, rgb_target, alpha_target) -> dict[str, float]:
    """PSNR of the clip rendered over each palette colour and a checkerboard (AlphaVAE-style).

    Rendering judges RGB where it is visible: colour under alpha 0 does not count, colour under
    alpha 0.1 counts a tenth.
    """
    return _over_backgrounds(psnr, rgb_pred, alpha_pred, rgb_target, alpha_target)


def over_background_ssim(rgb_pred, alpha_pred, rgb_target, alpha_target) -> dict[str, float]:
    """SSIM of the clip rendered over each palette colour and a checkerboard (see ``over_background_psnr``)."""
    return _over_backgrounds(ssim, rgb_pred, alpha_pred, rgb_target, alpha_target)


def render_backgrounds(height: int, width: int) -> dict[str, np.ndarray]:
    """The 8 palette colours (RGB in [0, 1]) and a ``(H, W, 3)`` checkerboard, by name."""
    backgrounds = {name: (PALETTE[i].numpy() + 1) / 2 for i, name in enumerate(PALETTE_NAMES)}
    backgrounds["checker"] = checkerboard(height, width)
    return backgrounds


def _over_backgrounds(metric, rgb_pred, alpha_pred, rgb_target, alpha_target) -> dict[str, float]:
    _check_pair(rgb_pred, rgb_target)
    _check_pair(alpha_pred, alpha_target)
    a_pred, a_target = np.asarray(alpha_pred)[..., None], np.asarray(alpha_target)[..., None]
    scores = {
        name: metric(soft_render(rgb_pred, a_pred, bg), soft_render(rgb_target, a_target, bg))
        for name, bg in render_backgrounds(*np.shape(alpha_target)[-2:]).items()
    }
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores


def sad(pred, target) -> float:
    """Sum of absolute alpha differences, in thousands (the matting literature's unit), per frame."""
    _check_pair(pred, target)
    diff = np.abs(np.asarray(pred, np.float64) - np.asarray(target, np.float64))
    frames = diff.reshape(-1, *diff.shape[-2:])
    return float(frames.sum(axis=(1, 2)).mean() / 1000.0)


def mse(pred, target) -> float:
    """Mean squared alpha error."""
    _check_pair(pred, target)
    return float(np.mean((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2))


def gradient_error(pred, target, sigma: float = 1.4) -> float:
    """Sum of squared differences of Gaussian-derivative gradient magnitudes, in thousands, per frame."""
    _check_pair(pred, target)
    p = np.asarray(pred, np.float64).reshape(-1, *np.shape(pred)[-2:])
    t = np.asarray(target, np.float64).reshape(-1, *np.shape(target)[-2:])
    per_frame = [
        np.sum((gaussian_gradient_magnitude(a, sigma) - gaussian_gradient_magnitude(b, sigma)) ** 2)
        for a, b in zip(p, t)
    ]
    return float(np.mean(per_frame) / 1000.0)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels = label(mask, connectivity=1)
    if labels.max() == 0:
        return np.zeros_like(mask, dtype=bool)
    counts = np.bincount(labels.ravel())
    counts[0] = 0
    return labels == counts.argmax()


def _connectivity_frame(pred: np.ndarray, target: np.ndarray, step: float) -> float:
    # Each pixel's level: the last threshold at which it still belonged to the largest region that
    # both mattes agree on; alpha above that level by >= 0.15 counts as disconnected.
    thresholds = np.arange(0.0, 1.0 + step / 2, step)
    level = np.full(pred.shape, -1.0)
    for previous, current in zip(thresholds[:-1], thresholds[1:]):
        connected = _largest_component((pred >= current) & (target >= current))
        level[(level == -1) & ~connected] = previous
    level[level == -1] = 1.0

    def phi(alpha: np.ndarray) -> np.ndarray:
        d = alpha - level
        return 1.0 - d * (d >= 0.15)

    return float(np.abs(phi(pred) - phi(target)).sum())


def connectivity_error(pred, target, step: float = 0.1) -> float:
    """Connectivity error (Rhemann et al. 2009), in thousands, per frame."""
    _check_pair(pred, target)
    p = np.asarray(pred, np.float64).reshape(-1, *np.shape(pred)[-2:])
    t = np.asarray(target, np.float64).reshape(-1, *np.shape(target)[-2:])
    return float(np.mean([_connectivity_frame(a, b, step) for a, b in zip(p, t)]) / 1000.0)


def dtssd(pred, target=None) -> float:
    """Temporal coherence error (x100, as in video-matting papers): RMS of the difference between the
    predicted and true frame-to-frame alpha change. Without a target, the change itself is scored
    (0 means perfectly still alpha)."""
    p = np.asarray(pred, np.float64)
    if p.ndim != 3 or p.shape[0] < 2:
        raise WanAlphaError(f"dtSSD needs an alpha video (T>=2, H, W), got shape {p.shape}")
    change = np.diff(p, axis=0)
    if target is not None:
        _check_pair(pred, target)
        change = change - np.diff(np.asarray(target, np.float64), axis=0)
    return float(np.sqrt(np.sum(change**2) / p.size) * 100.0)


def flicker_score(video) -> float:
    """VBench-style temporal flicker score ``(255 - MAE) / 255`` of consecutive frames (1 = no flicker)."""
    v = np.asarray(video, np.float64) * 255.0
    if v.shape[0] < 2:
        raise WanAlphaError("flicker needs at least 2 frames")
    return float((255.0 - np.abs(np.diff(v, axis=0)).mean()) / 255.0)


def alpha_shares(alpha) -> dict[str, float]:
    """Share of transparent / semi-transparent / opaque pixels."""
    opaque, semi, transparent = region_masks(np.asarray(alpha))
    return {
        "transparent": float(transparent.mean()),
        "semi": float(semi.mean()),
        "opaque": float(opaque.mean()),
    }


def clean_background_rate(alpha, region, threshold: float = 0.05) -> float:
    """Share of pixels outside ``region`` (bool, broadcastable) whose alpha stays below ``threshold``."""
    alpha = np.asarray(alpha)
    outside = ~np.broadcast_to(np.asarray(region, bool), alpha.shape)
    if not outside.any():
        return 1.0
    return float((alpha[outside] < threshold).mean())


def support_iou(alpha, region, threshold: float = 0.5) -> float:
    """IoU of the alpha support (alpha >= threshold) with a requested region (e.g. an ellipse)."""
    alpha = np.asarray(alpha)
    support = alpha >= threshold
    region = np.broadcast_to(np.asarray(region, bool), alpha.shape)
    union = (support | region).sum()
    return float((support & region).sum() / union) if union else 1.0
