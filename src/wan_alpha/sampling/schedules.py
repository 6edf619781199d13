"""Flow-matching timesteps: shifted sampling for training, schedulers for inference.

Both use the shifted sigmas of Wan (``sigma' = shift * sigma / (1 + (shift - 1) * sigma)``, shift 5 by default).
Inference has three samplers, all diffusers' schedulers:

- ``euler``: ``FlowMatchEulerDiscreteScheduler``, sigmas spaced from 1 (the embedded tiny model's);
- ``unipc``: UniPC in flow mode with Wan2.1's own spacing (the reference release's default): sigmas spaced
  linearly from ``1 - 1/1000`` to 0 before the shift, and integer timesteps for the DiT, as Wan's
  ``FlowUniPCMultistepScheduler`` feeds them; 4 steps at shift 5 give timesteps 999, 937, 833, 624
  (diffusers' own flow spacing, from 1, ends at 625);
- ``dpm++``: DPM-Solver++ (2nd order) in flow mode with Wan's ``dpm++`` spacing: from 1 to 0 before the shift.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from diffusers import DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from ..errors import WanAlphaError

DEFAULT_TIMESTEP_SHIFT = 5.0
NUM_TRAIN_TIMESTEPS = 1000
SAMPLERS = ("euler", "unipc", "dpm++")


def wan_sigmas(num_steps: int, shift: float, first: float) -> np.ndarray:
    """Wan2.1's inference sigmas: ``num_steps`` spaced linearly from ``first`` towards 0, then shifted."""
    sigmas = np.linspace(first, 0, num_steps + 1)[:-1]
    return shift * sigmas / (1 + (shift - 1) * sigmas)


class _WanSpacing:
    """Replaces a diffusers flow scheduler's sigmas by :func:`wan_sigmas` and its timesteps by their integer part, as
    the reference solvers compute them (the step maths stays the scheduler's)."""

    first_sigma: float

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None, **kwargs) -> None:
        super().set_timesteps(num_inference_steps, device=device)  # the solver's own state for a new run
        sigmas = wan_sigmas(num_inference_steps, self.config.flow_shift, self.first_sigma)
        self.sigmas = torch.from_numpy(np.append(sigmas, 0.0).astype(np.float32))
        self.timesteps = torch.from_numpy(sigmas * self.config.num_train_timesteps).to(device, torch.int64)


class WanFlowUniPCScheduler(_WanSpacing, UniPCMultistepScheduler):
    """diffusers' UniPC (flow prediction) stepping Wan2.1's ``unipc`` timesteps (see the module docstring)."""

    first_sigma = 1 - 1 / NUM_TRAIN_TIMESTEPS


class WanFlowDPMSolverScheduler(_WanSpacing, DPMSolverMultistepScheduler):
    """diffusers' DPM-Solver++ (flow prediction) stepping Wan2.1's ``dpm++`` timesteps (see the module docstring)."""

    first_sigma = 1.0


def flow_scheduler(kind: str = "euler", shift: float = DEFAULT_TIMESTEP_SHIFT) -> SchedulerMixin:
    """The inference scheduler ``kind`` (one of :data:`SAMPLERS`, see the module docstring) at timestep ``shift``."""
    if shift <= 0:
        raise WanAlphaError(f"timestep shift must be > 0, got {shift}")
    flow = dict(num_train_timesteps=NUM_TRAIN_TIMESTEPS, prediction_type="flow_prediction", use_flow_sigmas=True,
                flow_shift=shift)
    if kind == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=shift)
    if kind == "unipc":
        return WanFlowUniPCScheduler(**flow)
    if kind == "dpm++":
        return WanFlowDPMSolverScheduler(**flow, algorithm_type="dpmsolver++", solver_order=2)
    raise WanAlphaError(f"unknown sampler {kind!r}: choose one of {', '.join(SAMPLERS)}")


def set_flow_timesteps(
    scheduler: SchedulerMixin, num_steps: int, strength: float = 1.0, device: str | torch.device | None = None
) -> None:
    """``num_steps`` timesteps of ``scheduler`` (made by :func:`flow_scheduler`) from noise level ``strength`` to 0.

    ``strength`` 1 is the scheduler's own schedule, from pure noise. Below 1 (SDEdit, resampling) it is the
    tail of the same shifted schedule below sigma ``strength``, spread over ``num_steps`` steps: the unshifted
    position of ``strength`` is spaced linearly to 0 and shifted (:func:`wan_sigmas`), so the first step runs at
    sigma ``strength`` exactly and the steps are as dense in sigma as the full schedule's there."""
    if not 0 < strength <= 1:
        raise WanAlphaError(f"strength must be in (0, 1] (1 = from pure noise), got {strength}")
    scheduler.set_timesteps(num_steps, device=device)
    if strength < 1:
        shift = scheduler_shift(scheduler)
        sigmas = wan_sigmas(num_steps, shift, first=strength / (shift - (shift - 1) * strength))
        timestep_dtype = scheduler.timesteps.dtype
        scheduler.sigmas = torch.from_numpy(np.append(sigmas, 0.0).astype(np.float32))
        scheduler.timesteps = torch.from_numpy(sigmas * NUM_TRAIN_TIMESTEPS).to(device, timestep_dtype)
    scheduler.set_begin_index(0)


def scheduler_shift(scheduler: SchedulerMixin) -> float:
    """The timestep shift a scheduler made by :func:`flow_scheduler` runs at."""
    config = scheduler.config
    return config.get("flow_shift") if config.get("use_flow_sigmas") else config.get("shift")


@lru_cache(maxsize=8)
def _training_sigmas(shift: float) -> torch.Tensor:
    return flow_scheduler("euler", shift).sigmas.clone()


def sample_training_sigmas(
    batch: int, shift: float = DEFAULT_TIMESTEP_SHIFT, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw ``batch`` noise levels in (0, 1]: uniform over the 1000 shifted training sigmas.

    With shift 5 most draws are noisy (median sigma ~0.83), as in Wan's and the reference's
    training. Multiply by ``NUM_TRAIN_TIMESTEPS`` for the transformer's ``timestep`` input.
    """
    sigmas = _training_sigmas(float(shift))
    return sigmas[torch.randint(len(sigmas), (batch,), generator=generator)]
