"""Two CPU processes under ``accelerate launch`` (gloo) train exactly as one process with the same global batch,
checkpoint once, and resume exactly.

accelerate starts one process per ``accelerate launch`` on a CPU (several are normally started by mpirun, which
sets each one's rank): the test starts two, with the ranks in the environment as mpirun would.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import wan_alpha
from tests.tiny import (
    VAE_TRAIN,
    dit_train_config,
    save_training_assets,
    train_log,
    write_yaml,
)
from wan_alpha.train.dit import train_dit
from wan_alpha.train.vae import train_vae

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

TERMS = {"vae": ("loss", "alpha", "soft", "hard", "tabd"), "dit": ("loss",)}


def launch_two(args: list[str], cwd: Path) -> None:
    """``accelerate launch --cpu --num_processes 2 -m wan_alpha ARGS`` as ranks 0 and 1; both must succeed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = str(Path(wan_alpha.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), "WORLD_SIZE": "2",
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(port), "-m", "wan_alpha",
               *args]
    ranks = [subprocess.Popen(command, cwd=cwd, env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for r in (0, 1)]
    outputs = [p.communicate(timeout=300)[0] for p in ranks]
    for rank, (process, output) in enumerate(zip(ranks, outputs)):
        assert process.returncode == 0, f"rank {rank} failed:\n{output[-3000:]}"


def assert_same_run(one: Path, two: Path, terms: tuple[str, ...], steps: int) -> None:
    losses_one, _ = train_log(one)
    losses_two, _ = train_log(two)
    assert sorted(losses_two) == list(range(1, steps + 1))  # every step logged once (by the main process only)
    rows = (two / "log.jsonl").read_text().splitlines()
    assert len([r for r in rows if '"loss"' in r]) == steps
    for step in range(1, steps + 1):
        for term in terms:
            assert losses_two[step][term] == pytest.approx(losses_one[step][term], rel=1e-4, abs=1e-5), (step, term)
    checkpoint = two / "checkpoints" / f"step-{steps:07d}"
    assert sorted(p.name for p in checkpoint.iterdir()) == [
        "optimizer.bin", "random_states_0.pkl", "random_states_1.pkl", "trainable_0.safetensors"]
    a = load_file(one / "checkpoints" / f"step-{steps:07d}" / "trainable_0.safetensors")
    b = load_file(checkpoint / "trainable_0.safetensors")
    assert a.keys() == b.keys()
    for key in a:  # AdamW divides by sqrt(v): rounding in a near-zero gradient moves a weight by up to ~lr (3e-3)
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-3)


def test_vae_two_processes_train_and_resume_as_one_with_the_same_global_batch(tmp_path):
    data = {"synthetic": {"num_clips": 4, "frames": 5, "height": 32, "width": 32, "seed": 0}, "validation_clips": 1}
    config = write_yaml(tmp_path / "vae.yaml", VAE_TRAIN, data=data,
                        train={**VAE_TRAIN["train"], "max_steps": 4, "batch_size": 1, "checkpoint_every": 2})
    train_vae(config, tmp_path / "one", overrides={"train.batch_size": 2})
    launch_two(["train", "vae", "--config", str(config), "--output", "two", "--max-steps", "2"], tmp_path)
    launch_two(["train", "vae", "--config", str(config), "--output", "two", "--resume"], tmp_path)
    assert_same_run(tmp_path / "one", tmp_path / "two", TERMS["vae"], 4)


def test_dit_two_processes_train_and_resume_as_one_with_the_same_global_batch(tmp_path):
    save_training_assets(tmp_path / "assets")
    base = dit_train_config(tmp_path / "assets")
    config = write_yaml(tmp_path / "dit.yaml", base, caption_dropout=0.5, samples={"prompts": []},
                        output_dir=str(tmp_path / "two"),
                        train={**base["train"], "max_steps": 4, "batch_size": 1, "checkpoint_every": 2})
    train_dit(config, output=tmp_path / "one", overrides={"train.batch_size": 2})
    launch_two(["train", "dit", "--config", str(config), "--max-steps", "2"], tmp_path)
    launch_two(["train", "dit", "--config", str(config), "--resume"], tmp_path)
    assert_same_run(tmp_path / "one", tmp_path / "two", TERMS["dit"], 4)
    # the cache both processes wrote holds what one process wrote
    for key in ("latents", "mask", "text"):
        one, two = (np.load(tmp_path / run / "cache" / "train" / f"{key}.npy") for run in ("one", "two"))
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
