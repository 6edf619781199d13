import pytest
import torch

from wan_alpha.models.dit import build_dit
from wan_alpha.sampling import SAMPLERS, flow_scheduler, guided_velocity, sample_flow

TINY = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4,
            text_dim=24, freq_dim=32, ffn_dim=64, num_layers=2, rope_max_seq_len=256)


@pytest.mark.parametrize("kind", SAMPLERS)
@pytest.mark.parametrize("steps", [4, 50])
def test_exact_velocity_lands_on_the_data(kind, steps):
    # for a single data point Z the ideal velocity at (x, t) is (x - Z) / t: every sampler must reach Z
    g = torch.Generator().manual_seed(0)
    target = torch.randn(1, 4, 2, 4, 4, generator=g)
    noise = torch.randn(1, 4, 2, 4, 4, generator=g)
    scheduler = flow_scheduler(kind, 5.0)

    def model(x, timestep):  # UniPC rounds timesteps to integers: look the exact sigma up
        sigma = scheduler.sigmas[(scheduler.timesteps == timestep[0]).nonzero()[0, 0]]
        return (x - target) / sigma

    calls = []
    out = sample_flow(model, noise, scheduler, steps, callback=lambda i, t, x: calls.append(i))
    assert calls == list(range(steps))
    assert torch.allclose(out, target, atol=1e-4)


def test_callback_may_replace_the_latents():
    noise = torch.randn(1, 4, 2, 4, 4)
    out = sample_flow(lambda x, t: torch.zeros_like(x), noise, flow_scheduler(), 3, callback=lambda i, t, x: x * 0 + i)
    assert torch.all(out == 2)


@pytest.mark.parametrize("scale,passes", [(1.0, 1), (5.0, 2)])
def test_guidance_one_skips_the_unconditional_pass(scale, passes):
    torch.manual_seed(0)
    dit = build_dit(TINY).eval()
    calls = []
    dit.register_forward_hook(lambda module, args, output: calls.append(1))
    cond, uncond = torch.randn(1, 5, 24), torch.zeros(1, 5, 24)
    x, t = torch.randn(1, 4, 2, 8, 8), torch.tensor([500.0])
    with torch.no_grad():
        v = guided_velocity(dit, cond, uncond, scale)(x, t)
        assert len(calls) == passes
        v_c = dit(hidden_states=x, timestep=t, encoder_hidden_states=cond, return_dict=False)[0]
        v_u = dit(hidden_states=x, timestep=t, encoder_hidden_states=uncond, return_dict=False)[0]
    assert torch.allclose(v, v_u + scale * (v_c - v_u), atol=1e-5)


def test_bf16_transformer_with_fp32_kept_modules():
    # diffusers loads Wan in bf16 but keeps `_keep_in_fp32_modules` (scale_shift_table, the first parameter) in
    # fp32: the latents must follow the model's dtype, not its first parameter's (found on the GPU benchmark)
    dit = build_dit(TINY).eval().to(torch.bfloat16)
    dit.scale_shift_table.data = dit.scale_shift_table.data.float()
    assert next(dit.parameters()).dtype == torch.float32 and dit.dtype == torch.bfloat16
    x = torch.randn(1, 4, 2, 8, 8)
    with torch.no_grad():
        v = guided_velocity(dit, torch.randn(1, 5, 24, dtype=torch.bfloat16))(x, torch.tensor([500.0]))
    assert v.dtype == torch.float32 and v.shape == x.shape and torch.isfinite(v).all()
