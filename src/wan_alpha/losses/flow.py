"""Rectified flow with mean-shifted noise: the DiT's training loss (SPEC section 3)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..sampling.mean_shift import DEFAULT_MU_SHIFT, shift_noise
from ..sampling.schedules import NUM_TRAIN_TIMESTEPS


def rectified_flow_pair(latents: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``Z_t = t * eps + (1 - t) * Z`` and its velocity ``v = eps - Z`` for per-clip noise levels ``t``."""
    t = sigmas.view(-1, *([1] * (latents.ndim - 1))).to(latents.dtype)
    return t * noise + (1 - t) * latents, noise - latents


def shifted_flow_loss(
    model: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    latents: torch.Tensor,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    mask: torch.Tensor,
    mu: float = DEFAULT_MU_SHIFT,
) -> torch.Tensor:
    """MSE between ``model(Z_t, timestep)`` and ``v~ = eps~ - Z``, where ``eps~ = eps + mu (1 - G)``.

    The shift enters both the noisy input and the target, so the model learns to flow *from* the
    shifted noise the sampler starts at. ``latents``/``noise`` are ``(B, C, F, h, w)``, ``sigmas``
    ``(B,)`` in (0, 1], ``mask`` the maps ``G`` ``(B, 1, F, h, w)``.
    """
    z_t, target = rectified_flow_pair(latents, shift_noise(noise, mask, mu), sigmas)
    prediction = model(z_t, sigmas * NUM_TRAIN_TIMESTEPS)
    return F.mse_loss(prediction.float(), target.float())
