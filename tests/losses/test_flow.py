import torch

from wan_alpha.losses import rectified_flow_pair, shifted_flow_loss
from wan_alpha.rgba import Ellipse
from wan_alpha.sampling import ellipse_masks


def setup(seed=0):
    g = torch.Generator().manual_seed(seed)
    latents = torch.randn(2, 4, 3, 6, 8, generator=g)
    noise = torch.randn(2, 4, 3, 6, 8, generator=g)
    sigmas = torch.tensor([0.9, 0.3])
    mask = ellipse_masks(Ellipse(0.5, 0.5, 0.5, 0.5), None, 3, 6, 8).expand(2, -1, -1, -1, -1)
    return latents, noise, sigmas, mask


def test_flow_pair_interpolates_noise_and_data():
    latents, noise, sigmas, _ = setup()
    z_t, v = rectified_flow_pair(latents, noise, sigmas)
    assert torch.allclose(z_t[0], 0.9 * noise[0] + 0.1 * latents[0], atol=1e-6)
    assert torch.allclose(z_t[1], 0.3 * noise[1] + 0.7 * latents[1], atol=1e-6)
    assert torch.equal(v, noise - latents)


def test_loss_uses_shifted_noise_in_input_and_target():
    latents, noise, sigmas, mask = setup()
    mu = 0.05
    seen = {}

    def model(z_t, timestep):
        seen["z_t"], seen["timestep"] = z_t, timestep
        return torch.zeros_like(z_t)

    loss = shifted_flow_loss(model, latents, noise, sigmas, mask, mu=mu)
    shifted = noise + mu * (1 - mask)
    t = sigmas.view(-1, 1, 1, 1, 1)
    assert torch.allclose(seen["z_t"], t * shifted + (1 - t) * latents)
    assert torch.allclose(seen["timestep"], sigmas * 1000)
    assert torch.allclose(loss, ((shifted - latents) ** 2).mean())

    # predicting the shifted velocity is perfect; the unshifted one is off by exactly mu * (1 - G)
    def exact(target):
        return lambda z_t, timestep: target

    assert shifted_flow_loss(exact(shifted - latents), latents, noise, sigmas, mask, mu) < 1e-12
    off = shifted_flow_loss(exact(noise - latents), latents, noise, sigmas, mask, mu)
    assert torch.allclose(off, ((mu * (1 - mask)).expand_as(noise) ** 2).mean())
    assert off > 1e-5
