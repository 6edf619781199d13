"""Metrics and reports for RGBA video."""

from .metrics import (
    alpha_shares,
    clean_background_rate,
    connectivity_error,
    dtssd,
    flicker_score,
    gradient_error,
    mse,
    over_background_psnr,
    psnr,
    sad,
    ssim,
    support_iou,
)

__all__ = [
    "alpha_shares",
    "clean_background_rate",
    "connectivity_error",
    "dtssd",
    "flicker_score",
    "gradient_error",
    "mse",
    "over_background_psnr",
    "psnr",
    "sad",
    "ssim",
    "support_iou",
]
