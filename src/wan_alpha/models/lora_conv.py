"""peft LoRA for diffusers' ``WanCausalConv3d`` (the Wan VAE's causal 3D convolution).

peft's own ``Conv3d`` LoRA builds its adapters with ``type(base_layer)(..., bias=False)``, which
``WanCausalConv3d`` does not accept, and it would not see the causal padding and the chunk cache
either (``WanCausalConv3d`` pads in ``forward``, its ``padding`` attribute is zero). This layer is
registered with peft's experimental ``LoraConfig._register_custom_module`` (see :func:`lora_config`):
the adapters are plain ``nn.Conv3d`` (``A``: same kernel and stride as the base, no padding;
``B``: 1x1x1), and ``forward(x, cache_x)`` pads once, exactly as the base layer would, then runs the
base convolution and the adapters on the same padded input. Merging uses peft's ``_ConvNd.merge``,
so after :func:`merge_lora` the module is the original ``WanCausalConv3d`` with updated weights.
peft is pinned (``pyproject.toml``) because the registration API may change.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d
from diffusers.utils.peft_utils import recurse_remove_peft_layers
from peft import LoraConfig
from peft.tuners.lora.layer import Conv3d as LoraConv3d
from peft.tuners.tuners_utils import BaseTunerLayer


class LoraWanCausalConv3d(LoraConv3d):
    """LoRA around a ``WanCausalConv3d``; same call signature ``forward(x, cache_x=None)``."""

    def update_layer(self, adapter_name: str, r: int, lora_alpha: float, config: LoraConfig, **kwargs) -> None:
        if r <= 0:
            raise ValueError(f"LoRA rank must be positive, got {r}")
        if config.use_dora or config.lora_bias:
            raise ValueError("WanCausalConv3d supports plain LoRA only (no DoRA, no lora_bias)")
        base = self.get_base_layer()
        self.r[adapter_name] = r
        self.lora_alpha[adapter_name] = lora_alpha
        self.lora_dropout[adapter_name] = nn.Dropout(config.lora_dropout) if config.lora_dropout > 0 else nn.Identity()
        # The input arrives already padded (see forward), so A has no padding of its own.
        self.lora_A[adapter_name] = nn.Conv3d(self.in_features, r, base.kernel_size, base.stride, bias=False)
        self.lora_B[adapter_name] = nn.Conv3d(r, self.out_features, 1, bias=False)
        self.lora_bias[adapter_name] = False
        self.use_rslora[adapter_name] = config.use_rslora
        self.use_dora[adapter_name] = False
        self.scaling[adapter_name] = lora_alpha / (math.sqrt(r) if config.use_rslora else r)
        if config.init_lora_weights:
            self.reset_lora_parameters(adapter_name, config.init_lora_weights)
        self._move_adapter_to_device_of_base_layer(adapter_name)
        self.set_adapter(self.active_adapters, inference_mode=config.inference_mode)

    def get_delta_weight(self, adapter: str) -> torch.Tensor:
        # peft's 1x1 shortcut assumes 2D kernels; the convolution form is exact for every 3D kernel.
        weight_a, weight_b = self.lora_A[adapter].weight, self.lora_B[adapter].weight
        delta = F.conv3d(weight_a.transpose(0, 1), weight_b).transpose(0, 1)
        return delta * self.scaling[adapter]

    def _causal_pad(self, x: torch.Tensor, cache_x: torch.Tensor | None) -> torch.Tensor:
        """The padding ``WanCausalConv3d.forward`` applies: past frames from the cache, zeros otherwise."""
        padding = list(self.get_base_layer()._padding)
        if cache_x is not None and padding[4] > 0:
            x = torch.cat([cache_x.to(x.device), x], dim=2)
            padding[4] -= cache_x.shape[2]
        return F.pad(x, padding)

    def forward(self, x: torch.Tensor, cache_x: torch.Tensor | None = None) -> torch.Tensor:
        if self.disable_adapters and self.merged:
            self.unmerge()
        x = self._causal_pad(x, cache_x)
        base = self.get_base_layer()
        result = nn.Conv3d.forward(base, x)  # padding done above; base.forward would pad again
        if self.disable_adapters or self.merged:
            return result
        dtype = result.dtype
        for name in self.active_adapters:
            if name not in self.lora_A:
                continue
            lora_a, lora_b = self.lora_A[name], self.lora_B[name]
            h = self._cast_input_dtype(x, lora_a.weight.dtype)
            result = result + lora_b(lora_a(self.lora_dropout[name](h))) * self.scaling[name]
        return result.to(dtype)


def lora_config(rank: int, alpha: float | None, target_modules: list[str]) -> LoraConfig:
    """A LoRA config for the named modules, with ``WanCausalConv3d`` routed to :class:`LoraWanCausalConv3d`."""
    config = LoraConfig(r=rank, lora_alpha=rank if alpha is None else alpha, target_modules=target_modules)
    config._register_custom_module({WanCausalConv3d: LoraWanCausalConv3d})
    return config


def conv_module_names(module: nn.Module) -> list[str]:
    """Every ``WanCausalConv3d`` and ``nn.Conv2d`` (attention projections, upsampler convs) in ``module``."""
    return [name for name, m in module.named_modules() if isinstance(m, (WanCausalConv3d, nn.Conv2d))]


def merge_lora(module: nn.Module) -> None:
    """Fold every LoRA adapter under ``module`` into its base weights and drop the wrappers (in place)."""
    for layer in module.modules():
        if isinstance(layer, BaseTunerLayer):
            layer.merge()
    recurse_remove_peft_layers(module)
