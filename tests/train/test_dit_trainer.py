import json

import pytest
import torch
from safetensors.torch import load_file

from tests.tiny import DIT, dit_train_config, save_training_assets, write_yaml
from wan_alpha.errors import WanAlphaError
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.train.dit import train_dit


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A tiny RGBA VAE folder and a tiny UMT5 text encoder folder (random weights)."""
    root = tmp_path_factory.mktemp("assets")
    save_training_assets(root)
    return root


def write_config(tmp_path, assets, **changes):
    config = {**dit_train_config(assets), "caption_dropout": 0.5, "output_dir": str(tmp_path / "run"),
              "samples": {"prompts": ["smoke"], "steps": 2, "format": "zip"}}
    return write_yaml(tmp_path / "dit.yaml", config, **changes)


def test_training_writes_adapter_pipeline_samples_and_logs(tmp_path, assets):
    pipeline_dir = train_dit(write_config(tmp_path, assets))
    run = tmp_path / "run"
    assert pipeline_dir == run / "pipeline"
    logs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs if "loss" in r] == [1, 2, 3, 4]
    assert [r["step"] for r in logs if "val_loss" in r] == [2, 4]
    assert (run / "samples" / "step-0000004" / "00.zip").is_file()
    # only DoRA parameters are checkpointed (they are the only ones that train)
    (ckpt,) = [p for p in (run / "checkpoints").iterdir() if p.name.endswith("4")]
    keys = load_file(ckpt / "trainable_0.safetensors").keys()
    assert keys and all(("lora_A" in k) or ("lora_B" in k) or ("lora_magnitude_vector" in k) for k in keys)
    assert (run / "dora" / "pytorch_lora_weights.safetensors").is_file()
    pipe = WanAlphaPipeline.from_pretrained(pipeline_dir)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.config.default_num_frames == 5 and pipe.config.max_sequence_length == 8
    assert not any("lora" in name for name, _ in pipe.transformer.named_parameters())  # merged
    out = pipe("smoke", num_inference_steps=2, guidance_scale=1.0, generator=torch.Generator().manual_seed(0))
    assert out.rgb.shape == (1, 3, 5, 32, 32)


def test_resume_continues_exactly(tmp_path, assets):
    quick = dict(samples={"prompts": []}, data={"synthetic": {"num_clips": 2, "frames": 5, "height": 32, "width": 32},
                 "validation_clips": 0}, train={"max_steps": 2, "batch_size": 2, "checkpoint_every": 1})
    straight = tmp_path / "a"
    straight.mkdir()
    train_dit(write_config(straight, assets, **quick))
    split = tmp_path / "b"
    split.mkdir()
    config = write_config(split, assets, **quick)
    train_dit(config, max_steps=1)
    with pytest.raises(WanAlphaError, match="--resume"):
        train_dit(config)
    train_dit(config, resume=True)
    a = load_file(straight / "run" / "dora" / "pytorch_lora_weights.safetensors")
    b = load_file(split / "run" / "dora" / "pytorch_lora_weights.safetensors")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_without_cache_encodes_each_step(tmp_path, assets):
    train_dit(write_config(tmp_path, assets, cache=False, samples={"prompts": []}), max_steps=1)
    assert (tmp_path / "run" / "pipeline" / "model_index.json").is_file()


def test_bad_configs(tmp_path, assets):
    with pytest.raises(WanAlphaError, match="rgba_vae"):
        train_dit(write_config(tmp_path, assets, rgba_vae=""))
    bad_dit = {**DIT, "patch_size": [1, 2, 2], "text_dim": 48}
    with pytest.raises(WanAlphaError, match="text_dim: 32"):
        train_dit(write_config(tmp_path, assets, dit_config=bad_dit), output=tmp_path / "other")


def test_cli_train_dit(tmp_path, assets, capsys):
    from wan_alpha.cli import main

    config = write_config(tmp_path, assets, samples={"prompts": []})
    assert main(["train", "dit", "--config", str(config), "--output", str(tmp_path / "cli"), "--max-steps", "1"]) == 0
    captured = capsys.readouterr()
    assert "generate PROMPT --model" in captured.out
    # what it is doing before the first step: loading, then a bar while it encodes the clips into the cache
    assert "loading the RGBA VAE" in captured.err and "building the DiT" in captured.err
    assert "encode train clips" in captured.err
    assert (tmp_path / "cli" / "pipeline" / "model_index.json").is_file()
    # the shipped tiny config, before its VAE exists: one-line error, no run folder left behind
    assert main(["train", "dit", "--config", "dit_tiny", "--output", str(tmp_path / "none")]) == 2
    assert "--rgba-vae" in capsys.readouterr().err and not (tmp_path / "none").exists()
    # --rgba-vae points the shipped config at a VAE elsewhere
    assert main(["train", "dit", "--config", str(config), "--rgba-vae", str(tmp_path / "elsewhere"), "--output",
                 str(tmp_path / "none")]) == 2
    assert "elsewhere does not exist" in capsys.readouterr().err
