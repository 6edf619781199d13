"""Route ``nn.Conv3d`` layers through oneDNN on CPUs.

For a batch of one, PyTorch picks its native (im2col) 3-D convolution over oneDNN whenever
``N * C * T * H <= 20480``, a rule written for 2-D inputs. A Wan VAE decoding one clip a few frames
at a time meets it in nearly every layer, and the native path is several times slower there
(``python bench/bench_decode.py``). oneDNN gives the same result up to float rounding, with gradients.
"""

from __future__ import annotations

import types

import torch
from torch import nn


def _onednn_conv_forward(self: nn.Conv3d, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
    if (input.device.type == "cpu" and input.dtype == torch.float32 and self.padding_mode == "zeros"
            and not isinstance(self.padding, str) and torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled):
        return torch.mkldnn_convolution(input, weight, bias, self.padding, self.stride, self.dilation, self.groups)
    return nn.Conv3d._conv_forward(self, input, weight, bias)


def use_onednn_conv3d(module: nn.Module, enabled: bool = True) -> nn.Module:
    """Make every ``nn.Conv3d`` under ``module`` use oneDNN for float32 CPU inputs (other inputs, e.g.
    on a GPU, take PyTorch's usual path); ``enabled=False`` restores PyTorch's choice. In place."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv3d):
            if enabled:
                layer._conv_forward = types.MethodType(_onednn_conv_forward, layer)
            else:
                layer.__dict__.pop("_conv_forward", None)
    return module
