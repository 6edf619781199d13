"""The custom peft LoRA layer for diffusers' WanCausalConv3d (peft's registration API is experimental)."""

import pytest
import torch
import torch.nn as nn
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d
from peft import inject_adapter_in_model

from wan_alpha.models.lora_conv import LoraWanCausalConv3d, conv_module_names, lora_config, merge_lora


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = WanCausalConv3d(4, 6, 3, padding=1)
        self.point = WanCausalConv3d(6, 5, 1)
        self.temporal = WanCausalConv3d(5, 5, (3, 1, 1), padding=(1, 0, 0))
        self.proj = nn.Conv2d(5, 5, 1)

    def forward(self, x, cache=None):
        x = self.conv(x, None if cache is None else cache[0])
        x = self.temporal(self.point(x), None if cache is None else cache[1])
        b, c, t, h, w = x.shape
        y = self.proj(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.view(b, t, c, h, w).transpose(1, 2)


@pytest.fixture()
def nets():
    torch.manual_seed(0)
    base = Net()
    adapted = Net()
    adapted.load_state_dict(base.state_dict())
    inject_adapter_in_model(lora_config(3, None, conv_module_names(adapted)), adapted)
    return base, adapted


def inputs():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 3, 6, 6, generator=g)
    cache = [torch.randn(2, 4, 2, 6, 6, generator=g), torch.randn(2, 5, 1, 6, 6, generator=g)]
    return x, cache


def perturb(model):
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.1)


def test_causal_convs_get_the_custom_layer_and_only_adapters_train(nets):
    _, adapted = nets
    assert isinstance(adapted.conv, LoraWanCausalConv3d) and isinstance(adapted.temporal, LoraWanCausalConv3d)
    trainable = [n for n, p in adapted.named_parameters() if p.requires_grad]
    assert len(trainable) == 8 and all(".lora_A." in n or ".lora_B." in n for n in trainable)


def test_fresh_adapter_output_equals_base_with_and_without_cache(nets):
    base, adapted = nets
    x, cache = inputs()
    with torch.no_grad():
        torch.testing.assert_close(adapted(x), base(x), atol=0, rtol=0)
        torch.testing.assert_close(adapted(x, cache), base(x, cache), atol=0, rtol=0)


def test_adapter_sees_the_cache(nets):
    """The LoRA branch convolves the cached past frames too: matches a conv over the concatenated clip."""
    _, adapted = nets
    perturb(adapted)
    x, cache = inputs()
    full = torch.cat([cache[0], x], dim=2)
    with torch.no_grad():
        streamed = adapted.conv(x, cache[0])
        whole = adapted.conv(full)[:, :, -x.shape[2]:]
    torch.testing.assert_close(streamed, whole, atol=1e-6, rtol=0)


def test_merge_returns_wan_causal_conv_with_same_output(nets):
    _, adapted = nets
    perturb(adapted)
    x, cache = inputs()
    with torch.no_grad():
        before = adapted(x, cache)
        merge_lora(adapted)
        after = adapted(x, cache)
    assert type(adapted.conv) is WanCausalConv3d and type(adapted.proj) is nn.Conv2d
    assert not any("lora" in n for n, _ in adapted.named_parameters())
    assert (after - before).abs().max() < 1e-6


def test_gradients_reach_the_adapters(nets):
    _, adapted = nets
    perturb(adapted)
    x, cache = inputs()
    adapted(x, cache).square().mean().backward()
    assert adapted.conv.lora_A["default"].weight.grad.abs().sum() > 0
    assert adapted.conv.base_layer.weight.grad is None
