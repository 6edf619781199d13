"""k-diffusion style sampling: short functions of ``(model, x, scheduler)``.

``model`` is any velocity function ``v = model(x, timestep)``; :func:`guided_velocity` builds one from
a transformer and text embeddings, :func:`sample_flow` integrates it with a diffusers scheduler.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .schedules import set_flow_timesteps

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def guided_velocity(
    transformer: torch.nn.Module,
    cond: torch.Tensor,
    uncond: torch.Tensor | None = None,
    guidance_scale: float = 1.0,
) -> VelocityFn:
    """Velocity of ``transformer`` conditioned on ``cond`` text embeddings, with classifier-free
    guidance ``v = v_u + s (v_c - v_u)`` when ``guidance_scale != 1``; at 1.0 the unconditional
    pass is skipped (one transformer call per step)."""
    use_cfg = uncond is not None and guidance_scale != 1.0

    def velocity(x: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        # ModelMixin.dtype skips `_keep_in_fp32_modules`: Wan's first parameter (scale_shift_table) stays fp32 in bf16 models
        dtype = getattr(transformer, "dtype", None) or next(transformer.parameters()).dtype
        x_in = x.to(dtype)
        v = transformer(hidden_states=x_in, timestep=timestep, encoder_hidden_states=cond, return_dict=False)[0]
        if use_cfg:
            v_u = transformer(hidden_states=x_in, timestep=timestep, encoder_hidden_states=uncond, return_dict=False)[0]
            v = v_u + guidance_scale * (v - v_u)
        return v.to(x.dtype)

    return velocity


def sample_flow(
    model: VelocityFn,
    x: torch.Tensor,
    scheduler: SchedulerMixin,
    num_steps: int,
    callback: Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor | None] | None = None,
    strength: float = 1.0,
) -> torch.Tensor:
    """Integrate the flow from ``x`` at noise level ``strength`` (1: pure noise; less: a clip noised to that sigma,
    SDEdit) to a clean latent in ``num_steps`` scheduler steps (:func:`~.schedules.set_flow_timesteps`).

    ``callback(i, t, x)`` runs after every step (``x`` is then at ``scheduler.sigmas[i + 1]``); it may return a
    replacement ``x``.
    """
    set_flow_timesteps(scheduler, num_steps, strength, x.device)
    for i, t in enumerate(scheduler.timesteps):
        v = model(x, t.expand(x.shape[0]))
        x = scheduler.step(v, t, x, return_dict=False)[0]
        replaced = callback(i, t, x) if callback is not None else None
        x = x if replaced is None else replaced
    return x
