"""Flow-matching timesteps: shifted sampling for training, schedulers for inference.

Both wrap diffusers' schedulers so that training and inference use the very same shifted sigma
schedule as Wan (``sigma' = shift * sigma / (1 + (shift - 1) * sigma)``, shift 5 by default).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from ..errors import WanAlphaError

DEFAULT_TIMESTEP_SHIFT = 5.0
NUM_TRAIN_TIMESTEPS = 1000
SAMPLERS = ("euler", "unipc")


def flow_scheduler(kind: str = "euler", shift: float = DEFAULT_TIMESTEP_SHIFT) -> SchedulerMixin:
    """A diffusers flow-matching scheduler: ``"euler"`` (FlowMatchEulerDiscrete, the default for the
    few-step distilled model) or ``"unipc"`` (UniPC multistep in flow mode, Wan's 50-step sampler)."""
    if shift <= 0:
        raise WanAlphaError(f"timestep shift must be > 0, got {shift}")
    if kind == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=NUM_TRAIN_TIMESTEPS, shift=shift)
    if kind == "unipc":
        return UniPCMultistepScheduler(
            num_train_timesteps=NUM_TRAIN_TIMESTEPS,
            prediction_type="flow_prediction",
            use_flow_sigmas=True,
            flow_shift=shift,
        )
    raise WanAlphaError(f"unknown sampler {kind!r}: choose one of {', '.join(SAMPLERS)}")


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
