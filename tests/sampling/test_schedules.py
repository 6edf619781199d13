import pytest
import torch
import numpy as np
from diffusers import DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

from wan_alpha.errors import WanAlphaError
from wan_alpha.cli.generate_commands import SAMPLER_CHOICES
from wan_alpha.sampling import SAMPLERS, flow_scheduler, sample_training_sigmas
from wan_alpha.sampling.schedules import scheduler_shift


def test_training_sigmas_are_shifted_and_seeded():
    draw = lambda seed: sample_training_sigmas(20000, shift=5.0, generator=torch.Generator().manual_seed(seed))
    sigmas = draw(0)
    assert torch.equal(sigmas, draw(0)) and not torch.equal(sigmas, draw(1))
    assert sigmas.min() > 0 and sigmas.max() <= 1
    # shift 5 maps the uniform median 0.5 to 5*0.5 / (1 + 4*0.5) = 0.833
    assert sigmas.median().item() == pytest.approx(0.833, abs=0.01)
    assert sample_training_sigmas(20000, shift=1.0, generator=torch.Generator()).median().item() == pytest.approx(0.5, abs=0.02)


def test_flow_schedulers():
    euler, unipc, dpm = flow_scheduler("euler", 5.0), flow_scheduler("unipc", 3.0), flow_scheduler("dpm++", 2.0)
    assert isinstance(euler, FlowMatchEulerDiscreteScheduler) and scheduler_shift(euler) == 5.0
    assert isinstance(unipc, UniPCMultistepScheduler) and scheduler_shift(unipc) == 3.0
    assert unipc.config.prediction_type == "flow_prediction" and unipc.config.use_flow_sigmas
    assert isinstance(dpm, DPMSolverMultistepScheduler) and scheduler_shift(dpm) == 2.0
    assert dpm.config.algorithm_type == "dpmsolver++" and dpm.config.solver_order == 2
    with pytest.raises(WanAlphaError, match="unknown sampler"):
        flow_scheduler("ddim")
    with pytest.raises(WanAlphaError, match="> 0"):
        flow_scheduler("euler", 0)


@pytest.mark.parametrize("kind, first, timesteps", [
    # the reference release's 4 steps (Wan's FlowUniPCMultistepScheduler spaces from 1 - 1/1000, then shifts)
    ("unipc", 0.999, [999, 937, 833, 624]),
    ("dpm++", 1.0, [1000, 937, 833, 625]),  # Wan's get_sampling_sigmas spaces from 1
])
def test_wan_timesteps_at_four_steps(kind, first, timesteps):
    scheduler = flow_scheduler(kind, 5.0)
    scheduler.set_timesteps(4)
    assert scheduler.timesteps.tolist() == timesteps and scheduler.timesteps.dtype == torch.int64
    unshifted = np.array([first, first * 0.75, first * 0.5, first * 0.25])
    expected = np.append(5 * unshifted / (1 + 4 * unshifted), 0.0)
    np.testing.assert_allclose(scheduler.sigmas.numpy(), expected, rtol=1e-6, atol=0)
    # diffusers' own flow spacing starts at sigma 1 and ends at timestep 625: the difference the spacing makes
    plain = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0)
    plain.set_timesteps(4)
    assert plain.timesteps.tolist()[-1] == 625


@pytest.mark.parametrize("kind", ["unipc", "dpm++"])
def test_wan_spacing_survives_a_second_run(kind):
    scheduler = flow_scheduler(kind, 5.0)
    scheduler.set_timesteps(4)
    first = (scheduler.timesteps.clone(), scheduler.sigmas.clone())
    scheduler.set_timesteps(8)
    scheduler.set_timesteps(4)
    assert torch.equal(scheduler.timesteps, first[0]) and torch.equal(scheduler.sigmas, first[1])


def test_the_command_line_offers_every_sampler():
    assert tuple(SAMPLER_CHOICES) == SAMPLERS
