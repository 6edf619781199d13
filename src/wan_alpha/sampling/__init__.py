"""The transparency-guided mean-shift sampler: noise shift, flow schedules, sampling loop, masks."""

from .noise import DEFAULT_MU_SHIFT, shift_noise
from .samplers import guided_velocity, sample_flow
from .schedules import DEFAULT_TIMESTEP_SHIFT, NUM_TRAIN_TIMESTEPS, SAMPLERS, flow_scheduler, sample_training_sigmas

__all__ = [
    "DEFAULT_MU_SHIFT",
    "DEFAULT_TIMESTEP_SHIFT",
    "NUM_TRAIN_TIMESTEPS",
    "SAMPLERS",
    "flow_scheduler",
    "guided_velocity",
    "sample_flow",
    "sample_training_sigmas",
    "shift_noise",
]
