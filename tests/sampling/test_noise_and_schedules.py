import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler

from wan_alpha.errors import WanAlphaError
from wan_alpha.sampling import flow_scheduler, sample_training_sigmas, shift_noise


def test_shift_moves_the_transparent_side_by_mu():
    noise = torch.randn(2, 16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(1, 1, 3, 8, 8)
    mask[..., 2:6, 2:6] = 1.0  # opaque object in the middle
    out = shift_noise(noise, mask, mu=0.5)
    assert torch.equal(out[..., 2:6, 2:6], noise[..., 2:6, 2:6])
    assert torch.allclose(out[..., 0, :] - noise[..., 0, :], torch.full_like(out[..., 0, :], 0.5))
    assert out.dtype == noise.dtype and out.shape == noise.shape


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
