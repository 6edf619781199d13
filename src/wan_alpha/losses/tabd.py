"""TABD: transparency-aware bidirectional diffusion loss (SPEC section 2).

A frozen DiT scores the fused latent: ``Z_t = t*eps + (1-t)*Z``, ``v = eps - Z``, per element
``L_RF = (v_hat - v)^2``. The sign mask ``M`` (at latent resolution) is +1 on opaque cells, -1 on
transparent cells and 0 on boundary / semi-transparent cells, so the VAE is pulled towards latents
the DiT models well where the clip is opaque, and pushed away from the DiT's manifold where it is
transparent (so background latents are not mistaken for content).

Modes:

- ``paper``: ``mean(M>0 * L_RF - M<0 * min(L_RF, cap))``. The push half is a hinge: once an
  element's error reaches ``cap`` it contributes a constant ``-cap`` and no gradient, so the loss is
  bounded below and cannot diverge.
- ``reference``: ``mean(clamp(M * L_RF, 0, 1))`` as the reference code does: every negative element
  clamps to 0, which switches the push off (and caps the pull at 1).
- ``off``: 0.

The DiT stays frozen (its parameters get no gradient); the gradient flows into ``Z``.
"""

from __future__ import annotations

import torch
from diffusers import WanTransformer3DModel

from ..errors import WanAlphaError
from ..rgba import latent_stride, pool_alpha_to_latent, region_masks
from ..sampling.schedules import DEFAULT_TIMESTEP_SHIFT, NUM_TRAIN_TIMESTEPS, sample_training_sigmas
from .flow import rectified_flow_pair

TABD_MODES = ("paper", "reference", "off")


def tabd_sign_mask(alpha: torch.Tensor, stride: int) -> torch.Tensor:
    """``M`` (B, 1, T', H/stride, W/stride): +1 on opaque latent cells, -1 on transparent ones, 0 elsewhere
    (``stride``: the VAE's pixels per latent cell)."""
    opaque, _, transparent = region_masks(pool_alpha_to_latent(alpha, stride))
    return opaque.to(alpha.dtype) - transparent.to(alpha.dtype)


def combine_tabd(l_rf: torch.Tensor, mask: torch.Tensor, mode: str = "paper", cap: float = 1.0) -> torch.Tensor:
    """Reduce per-element ``L_RF`` with the sign mask according to ``mode`` (see the module docstring)."""
    if mode == "paper":
        pull = torch.where(mask > 0, l_rf, torch.zeros_like(l_rf))
        push = torch.where(mask < 0, l_rf.clamp(max=cap), torch.zeros_like(l_rf))
        return (pull - push).mean()
    if mode == "reference":
        return (mask * l_rf).clamp(0, 1).mean()
    if mode == "off":
        return l_rf.new_zeros(())
    raise WanAlphaError(f"unknown TABD mode {mode!r}: choose one of {', '.join(TABD_MODES)}")


def tabd_loss(
    dit: WanTransformer3DModel,
    z: torch.Tensor,
    alpha: torch.Tensor,
    context: torch.Tensor,
    mode: str = "paper",
    cap: float = 1.0,
    shift: float = DEFAULT_TIMESTEP_SHIFT,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """TABD of the normalised latent ``z`` (B, C, T', h, w) for a clip with ``alpha`` (B, 1, T, H, W).

    ``context`` is the DiT's ``encoder_hidden_states`` for the empty prompt ((1 or B), L, D; cache it).
    Noise levels follow the DiT's training distribution (timestep ``shift``); ``generator`` draws
    them and the noise on the CPU, so a seeded run is reproducible on any device.
    """
    if mode not in TABD_MODES:
        raise WanAlphaError(f"unknown TABD mode {mode!r}: choose one of {', '.join(TABD_MODES)}")
    if mode == "off":
        return z.new_zeros(())
    patch = dit.config.patch_size[1]
    if z.shape[-2] % patch or z.shape[-1] % patch:
        raise WanAlphaError(
            f"latent size {z.shape[-1]}x{z.shape[-2]} (shape {tuple(z.shape)}) is not a multiple of the DiT's "
            f"{patch}x{patch} patches: frame sizes must be multiples of {patch} x the VAE stride"
        )
    mask = tabd_sign_mask(alpha, latent_stride(alpha, z)).to(z.device, z.dtype)
    if mask.shape[2:] != z.shape[2:]:
        raise WanAlphaError(f"alpha {tuple(alpha.shape)} does not match latent {tuple(z.shape)}")
    batch = z.shape[0]
    sigmas = sample_training_sigmas(batch, shift, generator).to(z.device)
    noise = torch.randn(z.shape, generator=generator, dtype=torch.float32).to(z.device, z.dtype)
    z_t, v = rectified_flow_pair(z, noise, sigmas)
    v_hat = dit(
        hidden_states=z_t.to(dit.dtype),
        timestep=(sigmas * NUM_TRAIN_TIMESTEPS).to(dit.dtype),
        encoder_hidden_states=context.expand(batch, -1, -1).to(z.device, dit.dtype),
        return_dict=False,
    )[0]
    l_rf = (v_hat.float() - v.float()) ** 2
    return combine_tabd(l_rf, mask.float(), mode, cap)
