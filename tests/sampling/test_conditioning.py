import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.sampling import SAMPLERS, PinnedFrames, flow_scheduler, noise_to_sigma, sample_flow, set_flow_timesteps


@pytest.mark.parametrize("kind", SAMPLERS)
@pytest.mark.parametrize("strength", [0.2, 0.6])
def test_a_partial_schedule_starts_at_the_strength_and_lands_on_the_data(kind, strength):
    g = torch.Generator().manual_seed(0)
    target, noise = torch.randn(2, 1, 2, 4, 4, 4, generator=g)
    scheduler = flow_scheduler(kind, 5.0)
    set_flow_timesteps(scheduler, 4, strength)
    assert scheduler.sigmas[0] == pytest.approx(strength) and scheduler.sigmas[-1] == 0
    assert (scheduler.sigmas.diff() < 0).all() and len(scheduler.timesteps) == 4
    # the exact velocity of a single data point, started from the data noised to `strength` (SDEdit)
    out = sample_flow(lambda x, t: noise - target, noise_to_sigma(target, noise, strength), scheduler, 4,
                      strength=strength)
    assert torch.allclose(out, target, atol=1e-4)


def test_full_strength_is_the_schedulers_own():
    a, b = flow_scheduler("unipc"), flow_scheduler("unipc")
    a.set_timesteps(4)
    set_flow_timesteps(b, 4, 1.0)
    assert torch.equal(a.sigmas, b.sigmas) and torch.equal(a.timesteps, b.timesteps)


@pytest.mark.parametrize("strength", [0.0, -0.1, 1.5, float("nan")])
def test_strength_outside_zero_one_is_refused(strength):
    with pytest.raises(WanAlphaError, match=r"\(0, 1\]"):
        set_flow_timesteps(flow_scheduler("euler"), 4, strength)


def test_pinned_frames_are_the_clean_latent_noised_with_the_samples_own_noise():
    noise = torch.randn(2, 3, 4, 2, 2)
    clean = torch.randn(1, 3, 2, 2, 2)
    pin = PinnedFrames(clean, [0, -1], noise)
    x = torch.randn(2, 3, 4, 2, 2)
    out = pin(x, 0.25)
    assert torch.equal(out[:, :, 1:3], x[:, :, 1:3])  # the generated frames are untouched
    assert torch.allclose(out[:, :, 0], 0.75 * clean[:, :, 0] + 0.25 * noise[:, :, 0])
    assert torch.allclose(out[:, :, 3], 0.75 * clean[:, :, 1] + 0.25 * noise[:, :, 3])
    assert torch.equal(pin(x, 0.0)[:, :, 0], clean[:, :, 0].expand(2, -1, -1, -1))
    assert torch.equal(pin(x, 1.0)[:, :, 3], noise[:, :, 3])


@pytest.mark.parametrize("frames,clean,match", [([0, 1, 2, 3], 4, "nothing to generate"), ([0, 4], 2, "cannot pin"),
                                                ([0, -4], 2, "cannot pin"), ([0], 2, "cannot pin")])
def test_impossible_pins_are_refused(frames, clean, match):
    with pytest.raises(WanAlphaError, match=match):
        PinnedFrames(torch.zeros(1, 3, clean, 2, 2), frames, torch.zeros(1, 3, 4, 2, 2))
