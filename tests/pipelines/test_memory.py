"""Memory settings: offload hooks reach every component (RGBAVAE.decode included), the estimate scales
with the clip, CPU-only misuse is refused, and the decoders on two CUDA streams give what one after the other gives
(on a GPU)."""

import pytest
import torch

from tests.tiny import tiny_pipeline
from wan_alpha.errors import WanAlphaError
from wan_alpha.pipelines.memory import MemorySettings, apply_memory_settings, describe_estimate, estimate_memory

pytestmark = pytest.mark.usefixtures("one_thread")


def generate(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe("smoke", num_inference_steps=1, guidance_scale=1.0, generator=torch.Generator().manual_seed(0))


def test_model_cpu_offload_gives_the_same_clip():
    reference = generate(tiny_pipeline())
    pipe = tiny_pipeline()
    pipe.enable_model_cpu_offload(device="cpu")  # the hooks run on a CPU too; on a GPU they move the models
    assert hasattr(pipe.vae, "_hf_hook")
    out = generate(pipe)
    assert torch.allclose(out.rgb, reference.rgb, atol=1e-6) and torch.allclose(out.alpha, reference.alpha, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the two-stream decode runs on a GPU only")
def test_parallel_decode_on_two_streams_matches_one_after_the_other():
    vae = tiny_pipeline().vae.to("cuda")
    z = torch.randn(2, 16, 2, 4, 4, device="cuda")
    with torch.no_grad():
        sequential = vae.decode(z)
        vae.parallel_decode = True
        parallel = vae.decode(z)
        torch.cuda.synchronize()
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(parallel, sequential))
    assert not torch.equal(sequential[0][0], sequential[0][1])  # two clips: a stream mix-up would show


def test_estimate_and_settings():
    pipe = tiny_pipeline()
    small = estimate_memory(pipe, 5, 32, 32, MemorySettings())
    big = estimate_memory(pipe, 17, 64, 64, MemorySettings())
    assert big["dit_activations"] > small["dit_activations"] and big["weights"] == small["weights"] > 0
    tiled = estimate_memory(pipe, 17, 64, 64, MemorySettings.low_vram())
    assert tiled["weights"] < big["weights"] and tiled["vae_activations"] < big["vae_activations"]
    assert "sequential offload, VAE tiling" in describe_estimate(tiled, MemorySettings.low_vram())
    embedding = pipe.text_encoder.get_input_embeddings().weight  # the largest single module of the tiny pipeline
    assert tiled["weights"] * 2**30 == pytest.approx(embedding.numel() * embedding.element_size())
    with pytest.raises(WanAlphaError, match="unknown offload mode"):
        MemorySettings(mode="disk")
    with pytest.raises(WanAlphaError, match="need a GPU"):
        apply_memory_settings(pipe, MemorySettings(mode="model"), "cpu")
    apply_memory_settings(pipe, MemorySettings(tiling=True), "cpu")
    assert pipe.vae.vae_rgb.use_tiling and not pipe.vae.parallel_decode
