"""End to end at tiny size: a Wan2.1 folder in the original layout plus reference Wan-Alpha files ->
``WanAlphaPipeline.from_wan_files`` and ``wan-alpha generate --model-dir ...``; the result equals a
pipeline assembled from the same weights natively."""

import pytest
import torch
from safetensors.torch import save_file

from tests.models.reference_layouts import (
    original_vae_name,
)
from wan_alpha.cli import main
from wan_alpha.cli.generate import generate
from wan_alpha.errors import WanAlphaError
from wan_alpha.pipelines import WanAlphaFiles, WanAlphaPipeline
from wan_alpha.pipelines.memory import MemorySettings
from wan_alpha.pipelines.wan_alpha import REFERENCE_NEGATIVE_PROMPT
from wan_alpha.sampling.schedules import WanFlowUniPCScheduler, scheduler_shift

pytestmark = pytest.mark.usefixtures("one_thread")


def run(pipe, steps=2):
    pipe.set_progress_bar_config(disable=True)
    return pipe("a puff of smoke", height=32, width=32, num_frames=5, num_inference_steps=steps,
                guidance_scale=1.0, generator=torch.Generator().manual_seed(0))


def test_from_wan_files_equals_native_pipeline(wan_files):
    root, native = wan_files
    pipe = WanAlphaPipeline.from_wan_files(root, vae_file=root / "decoder.safetensors", dora_file=root / "t2v.safetensors",
                                           dtype=torch.float32)
    pipe.register_to_config(max_sequence_length=16)
    summaries = " | ".join(r.summary() for r in pipe.load_reports)
    assert "t2v.safetensors: 60 tensors used" in summaries and "decoder.safetensors" in summaries
    ours, reference = run(pipe), run(native)
    assert torch.allclose(ours.rgb, reference.rgb, atol=1e-4) and torch.allclose(ours.alpha, reference.alpha, atol=1e-4)

    assert (pipe.config.num_inference_steps, pipe.config.guidance_scale) == (50, 5.0)  # no distill LoRA: Wan's recipe
    assert isinstance(pipe.scheduler, WanFlowUniPCScheduler) and scheduler_shift(pipe.scheduler) == 5.0  # the reference's
    assert pipe.config.negative_prompt == REFERENCE_NEGATIVE_PROMPT and native.config.negative_prompt == ""

    plain = WanAlphaPipeline.from_wan_files(root, vae_file=root / "decoder.safetensors", dtype=torch.float32)
    plain.register_to_config(max_sequence_length=16)
    assert not torch.allclose(run(plain).rgb, ours.rgb, atol=1e-3)  # the DoRA file really changed the model


def test_generate_cli_with_wan_files(wan_files, tmp_path, capsys):
    root, _ = wan_files
    save_file({"blocks.0.self_attn.q.lora_down.weight": torch.randn(2, 32) * 0.01,
               "blocks.0.self_attn.q.lora_up.weight": torch.randn(32, 2) * 0.01}, tmp_path / "distill.safetensors")
    out = tmp_path / "clip.webm"
    code = main(["generate", "a puff of smoke", "-o", str(out), "--model-dir", str(root),
                 "--vae-file", str(root / "decoder.safetensors"), "--dora-file", str(root / "t2v.safetensors"),
                 "--distill-lora", str(tmp_path / "distill.safetensors"), "--distill-strength", "0.5",
                 "--size", "32x32", "--frames", "5"])  # the distill recipe: 4 steps, no CFG
    assert code == 0 and out.is_file()
    assert "distill.safetensors: 2 tensors used" in capsys.readouterr().err


def test_wan_files_errors_before_loading(tmp_path):
    with pytest.raises(WanAlphaError, match="--model-dir .* is not a folder"):
        WanAlphaPipeline.from_wan_files(tmp_path / "nope")
    with pytest.raises(WanAlphaError, match="--dora-file .* does not exist"):
        WanAlphaPipeline.from_wan_files(tmp_path, vae_file=None, dora_file=tmp_path / "x.safetensors")
    with pytest.raises(WanAlphaError, match="give --vae-file"):
        WanAlphaPipeline.from_wan_files(tmp_path)
    assert main(["generate", "x", "-o", str(tmp_path / "a.webm"), "--dora-file", "f.safetensors"]) == 2
    with pytest.raises(WanAlphaError, match="need a GPU"):  # refused before any model loads
        generate("x", tmp_path / "b.webm", wan_files=WanAlphaFiles(tmp_path, vae_file=__file__),
                 memory=MemorySettings.low_vram(), device="cpu")


def test_merged_decoders_instead_of_vae_file(wan_files, tmp_path):
    """The ComfyUI route: two merged full-VAE files and no fusion block; decoding equals the native decoders."""
    root, native = wan_files
    paths = {}
    for which, decoder in (("rgb", native.vae.vae_rgb), ("alpha", native.vae.vae_alpha)):
        paths[which] = tmp_path / f"{which}.safetensors"
        save_file({original_vae_name(k): v.contiguous() for k, v in decoder.state_dict().items()}, paths[which])
    pipe = WanAlphaPipeline.from_wan_files(root, rgb_decoder=paths["rgb"], alpha_decoder=paths["alpha"], dtype=torch.float32)
    assert "fusion block not given" in " | ".join(r.summary() for r in pipe.load_reports)
    z = torch.randn(1, 16, 2, 4, 4)
    with torch.no_grad():
        for ours, reference in zip(pipe.vae.decode(z), native.vae.decode(z)):
            assert torch.allclose(ours, reference, atol=1e-6)
