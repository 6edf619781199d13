import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

from wan_alpha.errors import WanAlphaError
from wan_alpha.sampling import flow_scheduler, sample_training_sigmas


def test_training_sigmas_are_shifted_and_seeded():
    draw = lambda seed: sample_training_sigmas(20000, shift=5.0, generator=torch.Generator().manual_seed(seed))
    sigmas = draw(0)
    assert torch.equal(sigmas, draw(0)) and not torch.equal(sigmas, draw(1))
    assert sigmas.min() > 0 and sigmas.max() <= 1
    # shift 5 maps the uniform median 0.5 to 5*0.5 / (1 + 4*0.5) = 0.833
    assert sigmas.median().item() == pytest.approx(0.833, abs=0.01)
    assert sample_training_sigmas(20000, shift=1.0, generator=torch.Generator()).median().item() == pytest.approx(0.5, abs=0.02)


def test_flow_schedulers():
    euler, unipc = flow_scheduler("euler", 5.0), flow_scheduler("unipc", 3.0)
    assert isinstance(euler, FlowMatchEulerDiscreteScheduler) and euler.config.shift == 5.0
    assert isinstance(unipc, UniPCMultistepScheduler) and unipc.config.flow_shift == 3.0
    assert unipc.config.prediction_type == "flow_prediction" and unipc.config.use_flow_sigmas
    with pytest.raises(WanAlphaError, match="unknown sampler"):
        flow_scheduler("ddim")
    with pytest.raises(WanAlphaError, match="> 0"):
        flow_scheduler("euler", 0)
