"""Conditioning a flow sample on known latent frames (image-to-video, first/last frame, extending a clip) and on a
known clip (SDEdit), without touching the sampler loop.

In rectified flow a clean latent ``x0`` sits at noise level ``sigma`` as ``x_sigma = (1 - sigma) x0 + sigma eps``.
Wan's causal VAE codes video frame 0 alone in latent frame 0 (and frames ``4k-3..4k`` in latent frame ``k``), so
a known first image is a known latent frame: after every sampler step that frame is replaced by the clean latent
noised to the step's sigma with the *same* (mean-shifted) noise the sample started from, and the model denoises the
other frames around it (the "replacement" method). At sigma 0 the frame is the clean latent exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import WanAlphaError


def noise_to_sigma(clean: torch.Tensor, noise: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """``(1 - sigma) * clean + sigma * noise``: ``clean`` at the flow's noise level ``sigma`` (1 = pure noise)."""
    return (1 - sigma) * clean + sigma * noise


class PinnedFrames:
    """Latent frames held to known clean latents: ``pin(x, sigma)`` returns ``x`` with those frames replaced by
    :func:`noise_to_sigma` of their clean latent and of ``noise`` at the same frames.

    ``clean`` is ``(B|1, C, K, h, w)``, the clean latents of the ``K`` frames ``frames`` (indices into the sample's
    latent frames; negative ones count from the end); ``noise`` is the whole sample's starting noise ``(B, C, F, h, w)``.
    """

    def __init__(self, clean: torch.Tensor, frames: Sequence[int], noise: torch.Tensor) -> None:
        latent_frames = noise.shape[2]
        index = [f % latent_frames for f in frames if -latent_frames <= f < latent_frames]
        if len(index) != len(frames) or len(set(index)) != len(index) or clean.shape[2] != len(index):
            raise WanAlphaError(f"cannot pin latent frames {list(frames)} of a {latent_frames}-frame latent with "
                                f"{clean.shape[2]} clean frames: give one clean frame per distinct pinned frame")
        if len(index) >= latent_frames:
            raise WanAlphaError(f"pinning all {latent_frames} latent frames leaves nothing to generate: "
                                "generate more frames than the pinned image(s) cover")
        self.frames = index
        self.clean = clean.to(noise)
        self.noise = noise[:, :, index]

    def __call__(self, x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
        x = x.clone()
        x[:, :, self.frames] = noise_to_sigma(self.clean, self.noise, sigma).to(x.dtype)
        return x
