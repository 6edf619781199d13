"""Metrics and reports for RGBA video; reconstruction and generation scoring and report writing live in submodules."""

from .metrics import (
    alpha_shares,
    clean_background_rate,
    connectivity_error,
    dtssd,
    flicker_score,
    gradient_error,
    mse,
    over_background_psnr,
    over_background_ssim,
    psnr,
    render_backgrounds,
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
    "over_background_ssim",
    "psnr",
    "render_backgrounds",
    "sad",
    "ssim",
    "support_iou",
]
