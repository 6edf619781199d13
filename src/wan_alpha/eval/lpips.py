"""LPIPS from a local file only.

The ``lpips`` package ships only LPIPS's linear heads and downloads its AlexNet/VGG backbone, and
torchmetrics' LPIPS needs torchvision and a download too. So LPIPS here is a user-given TorchScript
file holding the whole network: ``torch.jit.save(torch.jit.script(lpips.LPIPS(net="alex")), PATH)``
made once on a machine that has the weights. It maps two ``(N, 3, H, W)`` batches in [-1, 1] to
distances of shape ``(N,)`` or ``(N, 1, 1, 1)``. Without a file, reports skip LPIPS with a note.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..errors import WanAlphaError


def load_lpips(path: str | os.PathLike) -> Callable[[np.ndarray, np.ndarray], float]:
    """``(pred, target)`` videos ``(T, H, W, 3)`` in [0, 1] -> mean LPIPS over frames."""
    path = Path(path)
    if not path.is_file():
        raise WanAlphaError(f"LPIPS weights {path} not found: give a TorchScript LPIPS file (see wan_alpha.eval.lpips)")
    try:
        net = torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError) as err:
        raise WanAlphaError(f"{path} is not a TorchScript LPIPS module: {err}") from err

    @torch.no_grad()
    def distance(pred: np.ndarray, target: np.ndarray) -> float:
        def frames(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x), dtype=torch.float32).permute(0, 3, 1, 2) * 2 - 1

        return float(net(frames(pred), frames(target)).mean())

    return distance
