"""The reference release's recipe, pinned at tiny size: what ``from_wan_files`` and ``generate --model-dir`` do by
default with the published files (``bench/compare_reference.py`` compares each piece with the release's own code)."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from wan_alpha.cli import main
from wan_alpha.io import read_video
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.pipelines.wan_alpha import REFERENCE_NEGATIVE_PROMPT
from wan_alpha.sampling import resize_mask

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def distilled(wan_files, tmp_path_factory):
    """The files with a step-distillation LoRA: the release's 4-step recipe."""
    root, _ = wan_files
    lora = tmp_path_factory.mktemp("lora") / "distill.safetensors"
    g = torch.Generator().manual_seed(0)
    save_file({"blocks.0.self_attn.q.lora_down.weight": torch.randn(2, 32, generator=g) * 0.01,
               "blocks.0.self_attn.q.lora_up.weight": torch.randn(32, 2, generator=g) * 0.01}, lora)
    pipe = WanAlphaPipeline.from_wan_files(root, vae_file=root / "decoder.safetensors",
                                           dora_file=root / "t2v.safetensors", distill_lora=lora, dtype=torch.float32)
    pipe.register_to_config(max_sequence_length=16)
    pipe.set_progress_bar_config(disable=True)
    return root, lora, pipe


def test_the_default_recipe_samples_wan_unipc_timesteps_without_cfg(distilled):
    _, _, pipe = distilled
    seen = []
    hook = pipe.transformer.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["timestep"].tolist()), with_kwargs=True)
    try:
        pipe("a puff of smoke", height=32, width=32, num_frames=5, generator=torch.Generator().manual_seed(0))
    finally:
        hook.remove()
    assert seen == [[999], [937], [833], [624]]  # 4 steps, one pass each (no CFG), the release's UniPC timesteps
    assert pipe.config.negative_prompt == REFERENCE_NEGATIVE_PROMPT  # used as soon as CFG is turned on


def test_prompts_reach_umt5_cleaned_as_wan_cleans_them(distilled):
    _, _, pipe = distilled
    raw, clean = "smoke &amp;amp; ash，“sparks”\n over   glass", 'smoke & ash,"sparks" over glass'
    encoder = pipe.prompt_encoder
    assert torch.equal(encoder.encode([raw])[0], encoder.encode([clean])[0])
    assert not torch.equal(encoder.encode([raw])[0], encoder.encode(["smoke &amp; ash, sparks over glass"])[0])


def test_a_published_style_mask_file_drives_generation(distilled, tmp_path, capsys):
    root, lora, _ = distilled
    # as the release ships gauss_mask: torch.save of (F, h, w) floats, no suffix, on another grid than the clip's
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 6), torch.linspace(0, 1, 10), indexing="ij")
    published = torch.exp(-((xx - 0.3) ** 2 + (yy - 0.5) ** 2) / 0.05).expand(2, 6, 10).clone()
    torch.save(published, tmp_path / "gauss_mask")
    torch.save(resize_mask(published[None, None], 4, 4)[0, 0].clone(), tmp_path / "on_grid.pt")
    base = ["generate", "a puff of smoke", "--model-dir", root, "--vae-file", root / "decoder.safetensors",
            "--dora-file", root / "t2v.safetensors", "--distill-lora", lora, "--size", "32x32", "--frames", 5]
    outputs = {}
    for name, extra in {"published": ["--mask", tmp_path / "gauss_mask"], "on_grid": ["--mask", tmp_path / "on_grid.pt"],
                        "default": []}.items():
        code = main([str(a) for a in [*base, *extra, "-o", tmp_path / f"{name}.zip"]])
        assert code == 0, capsys.readouterr().err
        outputs[name] = read_video(tmp_path / f"{name}.zip").frames
    assert np.array_equal(outputs["published"], outputs["on_grid"])  # resized bilinearly to the 4x4 latent grid
    assert not np.array_equal(outputs["published"], outputs["default"])  # and it steered the noise
