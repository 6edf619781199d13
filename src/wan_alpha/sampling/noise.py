"""The transparency-guided mean shift of the rectified-flow noise (SPEC section 3)."""

from __future__ import annotations

import torch

DEFAULT_MU_SHIFT = 0.05
"""Reference ``mu_shift``: a fixed scalar, the same for every latent channel."""


def shift_noise(noise: torch.Tensor, mask: torch.Tensor, mu: float = DEFAULT_MU_SHIFT) -> torch.Tensor:
    """``eps~ = eps + mu * (1 - G)``: move the noise mean by ``mu`` where the mask says *transparent*.

    ``noise`` is ``(B, C, F, h, w)``; ``mask`` (``G`` in [0, 1], 1 on the object) broadcasts to it,
    normally ``(B or 1, 1, F, h, w)``. The paper writes ``eps~ ~ N(G * mu, I)`` (shift the opaque
    side); the reference code, and so its published checkpoints, shift the transparent side
    ``(1 - G)``. We follow the reference so those checkpoints behave as released. The same function
    shifts the training noise (noisy input and target) and the initial noise at inference.
    """
    return noise + mu * (1 - mask.to(noise.dtype))
