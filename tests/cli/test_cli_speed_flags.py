"""``generate``'s GPU memory and speed flags (--preset, --quantize, --vae-dtype) and prompt sharding across launched
processes (torchrun / accelerate launch): parsing, refusals, and 2 processes
writing every clip of a batch exactly once."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.tiny import tiny_pipeline
from wan_alpha.cli import build_parser, main
from wan_alpha.cli.generate_commands import PRESET_CHOICES, QUANTIZE_CHOICES, memory_settings
from wan_alpha.cli.processes import ProcessShare, start_context_parallel
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import read_video
from wan_alpha.models.quantize import QUANTIZE_METHODS
from wan_alpha.pipelines.memory import PRESETS, MemorySettings

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("one_thread")


def memory(*flags):
    return memory_settings(build_parser().parse_args(["generate", "p", "-o", "o.webm", *flags]))


def test_flags_make_memory_settings():
    assert tuple(QUANTIZE_CHOICES) == QUANTIZE_METHODS and set(PRESET_CHOICES) == set(PRESETS) - {"low-vram"}
    assert memory() == MemorySettings()
    assert memory("--preset", "24gb") == MemorySettings(mode="model", tiling=True, quantize="int8")
    assert memory("--preset", "24gb", "--quantize", "fp8", "--offload", "none") == MemorySettings(
        mode="none", tiling=True, quantize="fp8")  # flags given with a preset replace its fields
    assert memory("--low-vram", "--vae-dtype", "bf16") == MemorySettings(mode="sequential", tiling=True, slicing=True,
                                                                         vae_dtype="bf16")
    with pytest.raises(WanAlphaError, match="--low-vram or --preset"):
        memory("--low-vram", "--preset", "24gb")
    with pytest.raises(WanAlphaError, match="sequential offload"):
        memory("--low-vram", "--quantize", "int8")


def test_fp8_on_the_cpu_is_refused_before_loading(tmp_path, capsys):
    assert main(["generate", "a red ball", "--quantize", "fp8", "-o", str(tmp_path / "b.zip")]) == 2
    assert "--quantize fp8 needs a GPU with FP8 matmuls" in capsys.readouterr().err
    assert not (tmp_path / "b.zip").exists()


def test_process_share_partitions_the_prompts():
    shares = [ProcessShare.from_env({"RANK": str(r), "WORLD_SIZE": "3", "LOCAL_RANK": str(r)}) for r in range(3)]
    taken = [i for share in shares for i in share.indices(10)]
    assert sorted(taken) == list(range(10))  # every prompt once
    assert shares[2].default_device(cuda_available=True) == "cuda:2" and shares[2].default_device(False) == "cpu"
    assert ProcessShare.from_env({}) == ProcessShare() and ProcessShare().default_device(True) == "cuda"
    with pytest.raises(WanAlphaError, match="RANK 2 and WORLD_SIZE 2"):
        ProcessShare.from_env({"RANK": "2", "WORLD_SIZE": "2"})


def test_a_process_generates_and_checks_only_its_share(tmp_path, monkeypatch, capsys):
    model = tmp_path / "model"
    tiny_pipeline().save_pretrained(model)
    """Process 2 of 2 of a 3-prompt batch writes 001 only; 000 (process 1's, here already on disk) is not its
    concern, so it neither refuses nor touches it."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red ball\na blue cube\na green cone\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "000-a-red-ball.zip").write_bytes(b"process 1's")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["generate", "--prompts-file", str(prompts), "-o", str(tmp_path / "out"), "--model", str(model),
                 "--steps", "1", "--format", "zip"]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "out" / "001-a-blue-cube.zip")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000-a-red-ball.zip", "001-a-blue-cube.zip"]
    assert (tmp_path / "out" / "000-a-red-ball.zip").read_bytes() == b"process 1's"


@pytest.mark.slow
def test_two_processes_write_each_clip_once(tmp_path):
    """torchrun starts 2 CPU processes on the embedded model; 3 prompts: process 1 writes 000 and 002, process 2
    writes 001, and each clip equals the one a single process makes (same seed per prompt index)."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red ball\na blue cube\na green cone\n")
    flags = ["--frames", "5", "--size", "32x32", "--steps", "1", "--format", "zip"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "wan_alpha", "generate",
         "--prompts-file", str(prompts), "-o", str(tmp_path / "out"), *flags],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    written = [line for line in done.stdout.splitlines() if line.endswith(".zip")]
    names = sorted(Path(line).name for line in written)
    assert names == ["000-a-red-ball.zip", "001-a-blue-cube.zip", "002-a-green-cone.zip"]  # each exactly once
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    assert len(re.findall(r"process 1/2: 100%.*2/2", done.stderr)) >= 1
    assert len(re.findall(r"process 2/2: 100%.*1/1", done.stderr)) >= 1
    assert main(["generate", "a blue cube", "--seed", "1", "-o", str(tmp_path / "single.zip"), *flags]) == 0
    assert np.array_equal(read_video(tmp_path / "single.zip").frames, read_video(tmp_path / "out" / names[1]).frames)


@pytest.mark.slow
def test_context_parallel_splits_each_clip_across_two_processes(tmp_path):
    """torchrun, 2 CPU processes, --context-parallel on the embedded model (4 heads, 2 per process): the first
    process writes both clips, and they are the clips one process makes."""
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red ball\na blue cube\n")
    flags = ["--frames", "5", "--size", "32x32", "--steps", "1", "--format", "zip"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         str(REPO / "tests" / "cli" / "context_parallel_main.py"), "generate", "--prompts-file", str(prompts),
         "-o", str(tmp_path / "out"), "--context-parallel", *flags],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "`enable_parallelism` is an experimental feature" in done.stderr  # diffusers' context parallelism ran
    names = ["000-a-red-ball.zip", "001-a-blue-cube.zip"]
    assert [Path(line).name for line in done.stdout.splitlines() if line.endswith(".zip")] == names  # once each
    for seed, (prompt, name) in enumerate(zip(["a red ball", "a blue cube"], names)):
        single = tmp_path / f"single-{seed}.zip"
        assert main(["generate", prompt, "--seed", str(seed), "-o", str(single), *flags]) == 0
        split, whole = read_video(tmp_path / "out" / name).frames, read_video(single).frames
        assert np.abs(split.astype(int) - whole.astype(int)).max() <= 1  # float sums in another order: at most 1/255


def test_context_parallel_is_refused_where_it_cannot_run(tmp_path, capsys, monkeypatch):
    assert main(["generate", "a red ball", "--context-parallel", "-o", str(tmp_path / "a.zip")]) == 2
    assert "start several" in capsys.readouterr().err
    share, transformer = ProcessShare(0, 3, 0, context_parallel=True), tiny_pipeline().transformer  # 2 heads
    if not torch.cuda.is_available():
        with pytest.raises(WanAlphaError, match="needs GPUs"):
            start_context_parallel(share, transformer, "cpu")
    monkeypatch.setattr(torch.accelerator, "device_count", lambda: 1)
    with pytest.raises(WanAlphaError, match="DiT's 2 attention heads .* divides 2, not 3"):
        start_context_parallel(share, transformer, "cpu")
