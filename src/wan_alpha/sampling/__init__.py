"""The transparency-guided mean-shift sampler: the map ``G`` and the noise shift, flow schedules, the sampling loop."""

from .conditioning import PinnedFrames, noise_to_sigma
from .mean_shift import (
    DEFAULT_ELLIPSE,
    DEFAULT_MU_SHIFT,
    MASK_FITS,
    check_mask,
    ellipse_masks,
    fit_alpha_ellipses,
    masks_from_alpha,
    render_ellipses,
    resize_mask,
    resolve_mask,
    shift_noise,
)
from .samplers import guided_velocity, sample_flow
from .schedules import (
    DEFAULT_TIMESTEP_SHIFT,
    NUM_TRAIN_TIMESTEPS,
    SAMPLERS,
    flow_scheduler,
    sample_training_sigmas,
    set_flow_timesteps,
)

__all__ = [
    "DEFAULT_ELLIPSE",
    "DEFAULT_MU_SHIFT",
    "DEFAULT_TIMESTEP_SHIFT",
    "MASK_FITS",
    "NUM_TRAIN_TIMESTEPS",
    "PinnedFrames",
    "SAMPLERS",
    "check_mask",
    "ellipse_masks",
    "fit_alpha_ellipses",
    "flow_scheduler",
    "guided_velocity",
    "masks_from_alpha",
    "noise_to_sigma",
    "render_ellipses",
    "resize_mask",
    "resolve_mask",
    "sample_flow",
    "sample_training_sigmas",
    "set_flow_timesteps",
    "shift_noise",
]
