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
