"""--resume over a damaged run folder: the newest checkpoint that loads, a log without repeated steps."""

import json

import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.train.loop import LoopConfig, log_metrics, make_accelerator, resume_latest, save_checkpoint


def _run(tmp_path):
    accelerator = make_accelerator(LoopConfig(max_steps=10), tmp_path)
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model, optimizer = accelerator.prepare(model, optimizer)
    return accelerator, model


def test_a_damaged_newest_checkpoint_falls_back_and_the_log_is_cut_back(tmp_path, capsys):
    accelerator, model = _run(tmp_path)
    for step in (1, 2):
        with torch.no_grad():
            model.weight.fill_(step)
        save_checkpoint(accelerator, tmp_path, step, keep=2)
        log_metrics(accelerator, tmp_path, step, {"loss": 1.0 / step})
    log_metrics(accelerator, tmp_path, 3, {"loss": 0.3})  # logged, then killed before its checkpoint
    newest = tmp_path / "checkpoints" / "step-0000002" / "trainable_0.safetensors"
    newest.write_bytes(newest.read_bytes()[:50])  # truncated by a full disk

    accelerator, model = _run(tmp_path)
    assert resume_latest(accelerator, tmp_path) == 1
    assert torch.all(model.weight == 1)
    assert "step-0000002 does not load" in capsys.readouterr().err
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == [1]


def test_no_loadable_checkpoint_is_one_clear_error(tmp_path):
    accelerator, _ = _run(tmp_path)
    save_checkpoint(accelerator, tmp_path, 1, keep=2)
    (tmp_path / "checkpoints" / "step-0000001" / "trainable_0.safetensors").write_bytes(b"junk")
    accelerator, _ = _run(tmp_path)
    with pytest.raises(WanAlphaError, match="no checkpoint loads"):
        resume_latest(accelerator, tmp_path)


def test_resume_with_another_config_is_refused_unless_allowed(tmp_path):
    from wan_alpha.train.loop import CONFIG_FILE, prepare_output

    prepare_output(tmp_path, LoopConfig(max_steps=10), resume=False)
    (tmp_path / "checkpoints" / "step-0000005").mkdir(parents=True)
    prepare_output(tmp_path, LoopConfig(max_steps=20), resume=True)  # a longer run is a resume
    with pytest.raises(WanAlphaError, match="seed differ"):
        prepare_output(tmp_path, LoopConfig(max_steps=20, seed=7), resume=True)
    prepare_output(tmp_path, LoopConfig(max_steps=20, seed=7), resume=True, allow_config_change=True)
    assert "seed: 7" in (tmp_path / CONFIG_FILE).read_text()
