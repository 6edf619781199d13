"""The 8-colour background palette: the corners of the RGB cube in [-1, 1]^3 (SPEC section 1)."""

from __future__ import annotations

import torch

PALETTE_NAMES: tuple[str, ...] = ("black", "white", "red", "green", "blue", "cyan", "magenta", "yellow")

PALETTE = torch.tensor(
    [
        [-1.0, -1.0, -1.0],
        [1.0, 1.0, 1.0],
        [1.0, -1.0, -1.0],
        [-1.0, 1.0, -1.0],
        [-1.0, -1.0, 1.0],
        [-1.0, 1.0, 1.0],
        [1.0, -1.0, 1.0],
        [1.0, 1.0, -1.0],
    ]
)


def random_palette_colors(
    batch: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """Draw one palette colour per clip, shaped ``(batch, 3, 1, 1, 1)`` to broadcast over a video."""
    index = torch.randint(len(PALETTE), (batch,), generator=generator)
    return PALETTE[index].view(batch, 3, 1, 1, 1).to(device)


def black_background(like: torch.Tensor) -> torch.Tensor:
    """Palette colour 0 (black), ``(1, 3, 1, 1, 1)`` on ``like``'s device and dtype: the background clips are
    encoded over when no random colour is wanted (the naive baseline, evaluation)."""
    return PALETTE[0].view(1, 3, 1, 1, 1).to(like)
