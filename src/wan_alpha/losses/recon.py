"""The reconstruction term of the RGBA VAE's losses (SPEC section 2).

``recon_loss = l1 * L1 + perceptual * VGG + ssim * (1 - SSIM) + edge * Sobel-L1`` on clips ``(B, C, T, H, W)``
in [-1, 1]; :mod:`.rendering` applies it to alpha and to the soft and hard renders.

Perceptual term: the paper uses VGG16 relu2_2 feature MSE. No PyPI package ships VGG weights for
offline use, so the weights come from a local file (``perceptual_weights``: torchvision's
``vgg16`` state dict, safetensors or a plain tensor ``.pth``); without one the term is off (one
warning) and the default recipe uses SSIM, a non-learned structural term, in its place. That is a
deviation from the paper, made so training runs with nothing downloaded.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file
from torchmetrics.functional.image import structural_similarity_index_measure

from ..errors import WanAlphaError

logger = logging.getLogger(__name__)

VGG16_RELU2_2 = ((0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128))
"""(torchvision ``features`` index, in, out) of VGG16's convolutions up to relu2_2."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ReconLossConfig:
    """Weights of the reconstruction terms (the ``loss`` config section)."""

    l1: float = 1.0
    ssim: float = 1.0
    perceptual: float = 0.0
    perceptual_weights: str | None = None
    edge: float = 1.0


def vgg16_relu2_2() -> nn.Sequential:
    """VGG16 ``features[:9]`` (conv1_1 .. relu2_2) with torchvision's layer indices, untrained."""
    layers: list[nn.Module] = []
    for index, c_in, c_out in VGG16_RELU2_2:
        if index == 5:
            layers.append(nn.MaxPool2d(2, 2))
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=False)]
    return nn.Sequential(*layers)


def load_vgg16_relu2_2(path: str | os.PathLike) -> nn.Sequential:
    """The frozen relu2_2 extractor with weights from a local torchvision ``vgg16`` state dict file."""
    path = Path(path)
    if not path.is_file():
        raise WanAlphaError(f"VGG16 weights {path} not found: give a local torchvision vgg16 state dict file")
    try:
        state = load_file(path) if path.suffix == ".safetensors" else torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise WanAlphaError(f"cannot read VGG16 weights {path}: {err}") from err
    state = {k.removeprefix("features."): v for k, v in state.items()}
    wanted = {f"{i}.{p}" for i, *_ in VGG16_RELU2_2 for p in ("weight", "bias")}
    missing = sorted(wanted - set(state))
    if missing:
        raise WanAlphaError(f"{path} is not a torchvision vgg16 state dict: missing {', '.join(missing)}")
    model = vgg16_relu2_2()
    try:
        model.load_state_dict({k: state[k] for k in wanted})
    except RuntimeError as err:
        raise WanAlphaError(f"{path} has VGG16 tensors of the wrong shape: {err}") from err
    return model.eval().requires_grad_(False)


def build_perceptual(config: ReconLossConfig) -> nn.Sequential | None:
    """The VGG extractor if the perceptual term is on and has weights; warns once when it must be off."""
    if config.perceptual <= 0:
        return None
    if config.perceptual_weights is None:
        logger.warning("perceptual loss off: no VGG16 weights file (loss.perceptual_weights); nothing is downloaded")
        return None
    return load_vgg16_relu2_2(config.perceptual_weights)


def _frames(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, T, H, W)`` -> ``(B*T, C, H, W)``."""
    b, c, t, h, w = x.shape
    return x.transpose(1, 2).reshape(b * t, c, h, w)


def perceptual_distance(vgg: nn.Module, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of VGG relu2_2 features; inputs in [-1, 1], 1 or 3 channels (1 is replicated)."""
    mean = torch.tensor(IMAGENET_MEAN, device=pred.device, dtype=pred.dtype).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=pred.device, dtype=pred.dtype).view(1, 3, 1, 1)

    def features(x: torch.Tensor) -> torch.Tensor:
        x = _frames(x).expand(-1, 3, -1, -1) if x.shape[1] == 1 else _frames(x)
        return vgg(((x + 1) / 2 - mean) / std)

    return F.mse_loss(features(pred), features(target))


def ssim_distance(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - SSIM`` per frame (Gaussian window, at most 11 px), inputs in [-1, 1]."""
    size = min(11, min(pred.shape[-2:]) // 2 * 2 - 1)
    ssim = structural_similarity_index_measure(
        _frames(pred).float(), _frames(target).float(), data_range=2.0, kernel_size=size, sigma=1.5 * size / 11
    )
    return 1 - ssim


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Per-channel Sobel gradient magnitude of ``(B, C, T, H, W)`` frames -> ``(B*T, C, H, W)`` (replicate padding)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device, dtype=x.dtype)
    kernels = torch.stack([kx, kx.T]).unsqueeze(1)  # (2, 1, 3, 3)
    frames = _frames(x)
    n, c, h, w = frames.shape
    flat = F.pad(frames.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    grad = F.conv2d(flat, kernels)
    return torch.sqrt(grad.pow(2).sum(dim=1) + 1e-6).view(n, c, h, w)


def recon_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    config: ReconLossConfig | None = None,
    vgg: nn.Module | None = None,
) -> dict[str, torch.Tensor]:
    """Weighted reconstruction terms of ``pred`` vs ``target`` (B, C, T, H, W) in [-1, 1]; ``"loss"`` is their sum."""
    config = config or ReconLossConfig()
    if pred.shape != target.shape:
        raise WanAlphaError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    terms = {"l1": (pred - target).abs().mean()}
    if config.ssim > 0:
        terms["ssim"] = ssim_distance(pred, target)
    if config.perceptual > 0 and vgg is not None:
        terms["perceptual"] = perceptual_distance(vgg, pred, target)
    if config.edge > 0:
        terms["edge"] = (sobel_magnitude(pred) - sobel_magnitude(target)).abs().mean()
    weights = {"l1": config.l1, "ssim": config.ssim, "perceptual": config.perceptual, "edge": config.edge}
    terms["loss"] = sum(weights[name] * value for name, value in terms.items())
    return terms
