"""oneDNN routing of Conv3d on CPUs: used where PyTorch would pick its slow native path, same numbers."""

import pytest
import torch
from diffusers import AutoencoderKLWan
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d

from wan_alpha.models import RGBAVAE, use_onednn_conv3d

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="PyTorch built without oneDNN")]


@pytest.fixture()
def calls(monkeypatch):
    seen = []
    real = torch.mkldnn_convolution

    def spy(*args):
        seen.append(args[0].shape)
        return real(*args)

    monkeypatch.setattr(torch, "mkldnn_convolution", spy)
    return seen


def conv_and_clip(dtype=torch.float32):
    torch.manual_seed(0)
    conv = WanCausalConv3d(4, 4, 3, padding=1).to(dtype)
    return conv, torch.randn(1, 4, 3, 16, 16, dtype=dtype, requires_grad=True)  # 1*4*3*16 <= 20480: native


def output_and_grads(conv, x):
    y = conv(x)
    return (y, *torch.autograd.grad(y.square().sum(), (x, conv.weight)))


def test_batch_of_one_goes_through_onednn_with_the_same_values_and_gradients(calls):
    conv, x = conv_and_clip()
    native = output_and_grads(conv, x)
    assert calls == []  # PyTorch's own choice for this shape
    routed = output_and_grads(use_onednn_conv3d(conv), x)
    assert len(calls) == 1
    for a, b in zip(native, routed):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)

    use_onednn_conv3d(conv, enabled=False)
    conv(x)
    assert len(calls) == 1  # restored


def test_other_dtypes_take_pytorchs_path(calls):
    conv, x = conv_and_clip(torch.float64)
    torch.testing.assert_close(use_onednn_conv3d(conv)(x), use_onednn_conv3d(conv, enabled=False)(x))
    assert calls == []


def test_rgba_vae_routes_every_conv3d_including_its_lora_layers(calls):
    torch.manual_seed(0)
    base = AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 2, 4, 4], num_res_blocks=1).eval()
    vae = RGBAVAE.from_base(base, lora_rank=4).eval()
    convs = [m for m in vae.modules() if isinstance(m, torch.nn.Conv3d)]
    assert any("lora" in name for name, m in vae.named_modules() if isinstance(m, torch.nn.Conv3d))
    assert all("_conv_forward" in m.__dict__ for m in convs)

    latent = torch.randn(1, 4, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        routed = vae.decode(latent, normalized=False)
        assert calls
        native = use_onednn_conv3d(vae, enabled=False).decode(latent, normalized=False)
    for a, b in zip(native, routed):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)
