"""DiT quantisation (torchao) on the CPU: int8 on the embedded model stays within a stated tolerance of float32, only
the blocks' linears are quantised, the estimate follows the stored bytes, and what cannot run is refused up front."""

import sys

import pytest
import torch

from tests.tiny import tiny_pipeline
from wan_alpha import EMBEDDED_MODEL
from wan_alpha.errors import WanAlphaError
from wan_alpha.models.quantize import check_quantize, quantize_transformer, quantized_linears
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.pipelines.memory import MemorySettings, apply_memory_settings, estimate_memory

pytestmark = pytest.mark.usefixtures("one_thread")


def clip(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe("a red ball bouncing", num_frames=5, height=64, width=64, num_inference_steps=4,
                generator=torch.Generator().manual_seed(0))


def test_int8_stays_close_to_float32_on_the_embedded_model():
    """Tolerance, measured on the trained embedded model (5 frames 64x64, 4 steps): mean |diff| 0.0057 of RGB in
    [-1, 1] and 0.00044 of alpha, max 0.024 (RGB); the bounds below leave ~2x room."""
    torchao = pytest.importorskip("torchao")
    pipe = WanAlphaPipeline.from_pretrained(EMBEDDED_MODEL, dtype=torch.float32)
    reference = clip(pipe)
    embedder = pipe.transformer.condition_embedder.time_embedder.linear_1.weight
    apply_memory_settings(pipe, MemorySettings(quantize="int8"), "cpu")
    linears = quantized_linears(pipe.transformer)
    assert linears and all(isinstance(m.weight, torchao.quantization.Int8Tensor) for m in linears)
    assert pipe.transformer.condition_embedder.time_embedder.linear_1.weight is embedder  # outside the blocks: as loaded
    out = clip(pipe)
    rgb, alpha = (out.rgb - reference.rgb).abs(), (out.alpha - reference.alpha).abs()
    assert 0 < rgb.mean() < 0.012 and rgb.max() < 0.05
    assert alpha.mean() < 0.001


def test_estimate_counts_one_byte_per_quantised_weight():
    pipe = tiny_pipeline()
    plain, int8 = (estimate_memory(pipe, 5, 32, 32, MemorySettings(quantize=q)) for q in ("none", "int8"))
    saved = sum(m.weight.numel() * 3 - m.weight.shape[0] * 4 for m in quantized_linears(pipe.transformer))  # fp32 -> int8
    assert (plain["weights"] - int8["weights"]) * 2**30 == pytest.approx(saved)
    assert int8["dit_activations"] == plain["dit_activations"]


def test_what_cannot_run_is_refused_before_loading(monkeypatch):
    with pytest.raises(WanAlphaError, match="compute capability 8.9.*not the CPU: use --quantize int8"):
        MemorySettings(quantize="fp8").check_device("cpu")
    with pytest.raises(WanAlphaError, match="does not work with sequential offload"):
        MemorySettings(mode="sequential", quantize="int8")
    with pytest.raises(WanAlphaError, match="unknown --quantize 'int4'"):
        MemorySettings(quantize="int4")
    monkeypatch.setitem(sys.modules, "torchao", None)  # as if not installed: its import fails
    with pytest.raises(WanAlphaError, match=r"pip install 'wan-alpha\[quant\]'"):
        check_quantize("int8", "cpu")
    check_quantize("none", "cpu")  # no torchao needed


def test_presets_and_overrides():
    preset = MemorySettings.preset("24gb", quantize="fp8")
    assert (preset.mode, preset.tiling, preset.quantize) == ("model", True, "fp8")
    assert MemorySettings.low_vram() == MemorySettings(mode="sequential", tiling=True, slicing=True)
    with pytest.raises(WanAlphaError, match="unknown preset '8gb'"):
        MemorySettings.preset("8gb")



@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (none in CPU CI)")
def test_quantised_on_the_gpu_and_returned_to_the_cpu():
    """The offload path: a DiT kept on the CPU is quantised one block at a time on the GPU and stays on the CPU."""
    pytest.importorskip("torchao")
    pipe = tiny_pipeline()
    reference = clip(pipe)
    apply_memory_settings(pipe, MemorySettings(quantize="int8"), "cpu")  # as the CPU run, for the values
    on_cpu = clip(pipe)
    pipe = tiny_pipeline()
    quantize_transformer(pipe.transformer, "int8", "cuda")
    assert all(p.device.type == "cpu" for p in pipe.transformer.parameters())
    out = clip(pipe)
    assert torch.allclose(out.rgb, on_cpu.rgb, atol=1e-4) and not torch.equal(out.rgb, reference.rgb)


@pytest.mark.skipif(not (torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 9)),
                    reason="fp8 needs a GPU of compute capability 8.9+ (none in CPU CI)")
@pytest.mark.parametrize("method", ["int8", "fp8"])
def test_quantised_bf16_on_the_gpu_stays_close(method):
    """bf16 on the GPU vs the same model quantised: the relative change of the clip stays small (a bound, 5 %, not
    yet measured on a GPU: no GPU was available when this was written)."""
    pytest.importorskip("torchao")
    pipe = tiny_pipeline().to("cuda", torch.bfloat16)
    reference = clip(pipe)
    apply_memory_settings(pipe, MemorySettings(quantize=method), "cuda")
    out = clip(pipe)
    change = (out.rgb - reference.rgb).norm() / reference.rgb.norm()
    assert 0 < change < 0.05
