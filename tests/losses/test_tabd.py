import pytest
import torch
from diffusers import WanTransformer3DModel

from tests.tiny import DIT_Z4
from wan_alpha.errors import WanAlphaError
from wan_alpha.losses import combine_tabd, tabd_loss, tabd_sign_mask
from wan_alpha.losses.flow import rectified_flow_pair
from wan_alpha.sampling.schedules import DEFAULT_TIMESTEP_SHIFT, NUM_TRAIN_TIMESTEPS, sample_training_sigmas



pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def dit():
    torch.manual_seed(0)
    return WanTransformer3DModel(**DIT_Z4).eval().requires_grad_(False)


def context():
    return torch.randn(1, 3, DIT_Z4["text_dim"], generator=torch.Generator().manual_seed(5))


def striped_alpha(frames=5, size=32):
    """Columns 0-15 opaque, 16-23 semi-transparent, 24-31 transparent; one mixed cell at (0, 0)."""
    alpha = torch.zeros(1, 1, frames, size, size)
    alpha[..., :16] = 1.0
    alpha[..., 16:24] = 0.5
    alpha[..., 0, 0, 0] = 0.0  # one transparent pixel in frame 0 makes that cell a boundary cell
    return alpha


def test_sign_mask_opaque_transparent_boundary():
    mask = tabd_sign_mask(striped_alpha(), 8)
    assert mask.shape == (1, 1, 2, 4, 4)
    assert (mask[..., :2][..., 1:, :] == 1).all() and (mask[:, :, 1, :, :2] == 1).all()
    assert mask[0, 0, 0, 0, 0] == 0  # mixed cell
    assert (mask[..., 2] == 0).all()  # semi-transparent column
    assert (mask[..., 3] == -1).all()  # transparent column


def test_combine_modes_on_known_values():
    l_rf = torch.tensor([0.5, 3.0, 0.5, 3.0, 2.0])
    mask = torch.tensor([1.0, 1.0, -1.0, -1.0, 0.0])
    torch.testing.assert_close(combine_tabd(l_rf, mask, "paper", cap=1.0), torch.tensor((0.5 + 3.0 - 0.5 - 1.0) / 5))
    torch.testing.assert_close(combine_tabd(l_rf, mask, "reference"), torch.tensor((0.5 + 1.0) / 5))
    assert combine_tabd(l_rf, mask, "off") == 0
    with pytest.raises(WanAlphaError, match="unknown TABD mode"):
        combine_tabd(l_rf, mask, "push")


def latent_grad(dit, mode, alpha):
    z = torch.randn(1, 4, 2, 4, 4, generator=torch.Generator().manual_seed(1), requires_grad=True)
    loss = tabd_loss(dit, z, alpha, context(), mode=mode, generator=torch.Generator().manual_seed(2))
    loss.backward()
    return loss, z.grad


def test_paper_mode_pushes_transparent_cells_reference_does_not(dit):
    transparent = torch.zeros(1, 1, 5, 32, 32)
    loss, grad = latent_grad(dit, "paper", transparent)
    assert loss <= 0 and grad.abs().sum() > 0
    loss, grad = latent_grad(dit, "reference", transparent)
    assert loss == 0 and grad.abs().sum() == 0


def test_opaque_cells_pull_in_both_modes_and_dit_stays_frozen(dit):
    opaque = torch.ones(1, 1, 5, 32, 32)
    for mode in ("paper", "reference"):
        loss, grad = latent_grad(dit, mode, opaque)
        assert loss > 0 and grad.abs().sum() > 0
    assert all(p.grad is None for p in dit.parameters())


def test_paper_push_is_bounded(dit):
    z = torch.full((1, 4, 2, 4, 4), 1e3)
    loss = tabd_loss(dit, z, torch.zeros(1, 1, 5, 32, 32), context(), mode="paper", cap=0.5)
    assert loss >= -0.5 - 1e-6


def test_seeded_and_off(dit):
    z, alpha = torch.randn(1, 4, 2, 4, 4), striped_alpha()
    a = tabd_loss(dit, z, alpha, context(), generator=torch.Generator().manual_seed(7))
    b = tabd_loss(dit, z, alpha, context(), generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b)
    assert tabd_loss(dit, z, alpha, context(), mode="off") == 0


def test_odd_latent_and_mismatched_alpha_are_rejected(dit):
    with pytest.raises(WanAlphaError, match="multiple of the DiT.s 2x2 patches"):
        tabd_loss(dit, torch.randn(1, 4, 2, 3, 4), torch.zeros(1, 1, 5, 24, 32), context())
    with pytest.raises(WanAlphaError, match="does not match latent"):
        tabd_loss(dit, torch.randn(1, 4, 2, 4, 4), torch.zeros(1, 1, 9, 32, 32), context())


def test_stride_follows_the_latent_size():
    """A VAE with 4x4 pixels per latent cell under 4x4 patches: the sign mask pools 4x4 areas."""
    alpha = striped_alpha()
    mask = tabd_sign_mask(alpha, stride=4)
    assert mask.shape == (1, 1, 2, 8, 8) and (mask[:, :, 1:, :, :4] == 1).all() and (mask[..., 6:] == -1).all()
    torch.manual_seed(0)
    dit4 = WanTransformer3DModel(**{**DIT_Z4, "patch_size": [1, 4, 4]}).eval().requires_grad_(False)
    z = torch.randn(1, 4, 2, 8, 8, generator=torch.Generator().manual_seed(1))
    loss = tabd_loss(dit4, z, alpha, context(), generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(2)  # the same draws as tabd_loss
    sigmas = sample_training_sigmas(1, DEFAULT_TIMESTEP_SHIFT, g)
    z_t, v = rectified_flow_pair(z, torch.randn(z.shape, generator=g), sigmas)
    v_hat = dit4(hidden_states=z_t, timestep=sigmas * NUM_TRAIN_TIMESTEPS, encoder_hidden_states=context(),
                 return_dict=False)[0]
    torch.testing.assert_close(loss, combine_tabd((v_hat - v) ** 2, mask))
