"""The GPU benchmark's code path at tiny size on the CPU: meta-built random models, the pipeline call with
per-stage timers, the TransPixeler-style step, the JSON report."""

import json

import pytest
import torch
from accelerate import init_empty_weights
from diffusers import WanTransformer3DModel


@pytest.fixture(scope="module")
def bench(load_bench_script):
    return load_bench_script("gpu_realscale")


@pytest.mark.usefixtures("one_thread")
def test_tiny_run_reports_every_stage(bench, tmp_path):
    out = tmp_path / "r.json"
    results = bench.main(["--tiny", "--steps", "2", "--repeats", "1", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    stages = {"text encode", "DiT (2 steps)", "RGB decode", "alpha decode", "end to end (one pipeline call)",
              "both decoders one after the other"}
    assert stages <= set(results["seconds"])
    assert results["frames"] == 5 and results["transpixeler_ratio"] > 0 and results["peak_vram_gib"] is None
    assert results["outputs_finite"]


def test_materialize_creates_bf16_weights_and_keeps_fp32_modules(bench):
    with init_empty_weights():
        model = WanTransformer3DModel(**bench.TINY["dit"])
    bench.materialize(model, torch.device("cpu"), torch.bfloat16)
    assert model.blocks[0].attn1.to_q.weight.dtype == torch.bfloat16  # not cast back to the meta model's float32
    assert model.blocks[0].scale_shift_table.dtype == torch.float32  # diffusers keeps these in float32
    assert not any(p.is_meta for p in model.parameters()) and model.rope.freqs_cos.abs().sum() > 0
    assert torch.equal(model.blocks[0].norm2.weight, torch.ones_like(model.blocks[0].norm2.weight))
