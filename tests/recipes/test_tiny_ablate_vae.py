"""The VAE ablation (``python -m recipes.tiny ablate-vae``) end to end at a tiny size."""

import json

import pytest
import yaml
from diffusers import AutoencoderKLWan

from recipes.tiny.__main__ import main
from recipes.tiny.ablate import BASELINE, VARIANTS, ablation_table, run_vae_ablation
from tests.tiny import VAE_TRAIN
from wan_alpha.errors import WanAlphaError

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {**VAE_TRAIN, "model": {**VAE_TRAIN["model"], "lora_rank": 2},
        "data": {"synthetic": {"num_clips": 2, "frames": 5, "height": 16, "width": 16, "seed": 0}, "validation_clips": 0},
        "train": {"max_steps": 1, "learning_rate": 1e-3, "checkpoint_every": 1000, "validate_every": 1000,
                  "log_every": 1}}


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    """Every variant, 2 seeds, 1 step each: the committed command at a tiny size."""
    root = tmp_path_factory.mktemp("ablate")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    argv = ["ablate-vae", "--config", str(config), "--output", str(root / "out"), "--seeds", "0", "1",
            "--eval-clips", "1"]
    assert main(argv) == 0
    return root / "out", argv


def test_ablation_runs_every_variant_and_seed(ablation, capsys):
    out, _ = ablation
    results = json.loads((out / "results.json").read_text())
    assert list(results) == [*VARIANTS, BASELINE]
    for variant in VARIANTS:
        runs = results[variant]
        assert [r["seed"] for r in runs] == [0, 1]
        assert all(0 < r["alpha_mse"] < 1 and r["rgb_psnr"] > 0 for r in runs)
    table = (out / "table.md").read_text()
    assert all(f"| {v} | 2 |" in table for v in VARIANTS) and " ± " in table
    assert f"| {BASELINE} | 1 |" in table
    # Within a seed the variants start from the same weights and data: they differ only through training.
    configs = [yaml.safe_load((out / "seed-1" / v / "config.yaml").read_text()) for v in VARIANTS]
    assert {c["train"]["seed"] for c in configs} == {1}
    assert [(c["rendering"], c["tabd"]["mode"]) for c in configs] == [
        (False, "off"), (True, "off"), (True, "paper"), (True, "reference")]


def test_ablation_rerun_reads_finished_runs(ablation, capsys):
    out, argv = ablation
    before = (out / "results.json").read_text()
    stamp = (out / "seed-0" / "naive" / "eval.json").stat().st_mtime_ns
    assert main(argv) == 0
    assert (out / "seed-0" / "naive" / "eval.json").stat().st_mtime_ns == stamp
    assert (out / "results.json").read_text() == before
    assert "rendering+tabd_ref" in capsys.readouterr().out


def test_user_errors(tmp_path, capsys):
    config = tmp_path / "manifest.yaml"
    config.write_text(yaml.safe_dump({**TINY, "data": {"manifest": {"path": "x.jsonl"}}}))
    assert main(["ablate-vae", "--config", str(config), "--output", str(tmp_path / "o")]) == 2
    assert "synthetic" in capsys.readouterr().err
    assert main(["ablate-vae", "--config", str(config), "--output", str(tmp_path / "o"), "--variants", "vgg"]) == 2
    assert "unknown ablation variant" in capsys.readouterr().err


def test_ablation_table_mean_and_sample_std():
    results = {"naive": [{"mean": {"rgb_psnr": 20.0, "alpha_mse": 0.1}}, {"mean": {"rgb_psnr": 22.0, "alpha_mse": 0.3}}]}
    table = ablation_table(results)
    # mean 21, std (ddof=1) sqrt(2); mean 0.2, std sqrt(0.02)
    assert "| naive | 2 | 21.00 ± 1.41 | 0.2000 ± 0.1414 |" in table
    assert table.splitlines()[0] == "| variant | seeds | RGB PSNR ↑ | MSE ↓ |"


def test_unknown_variant_fails_before_training(tmp_path):
    with pytest.raises(WanAlphaError, match="unknown ablation variant"):
        run_vae_ablation("ablate_vae_tiny", tmp_path, [0], variants=["nope"])


def test_ablation_on_a_saved_base_vae(tmp_path, capsys):
    AutoencoderKLWan(**TINY["model"]["base_vae_config"]).save_pretrained(tmp_path / "base")
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    argv = ["ablate-vae", "--config", str(config), "--output", str(tmp_path / "out"), "--seeds", "3",
            "--eval-clips", "1", "--variants", "naive", "--base-vae", str(tmp_path / "base")]
    assert main(argv) == 0
    saved = yaml.safe_load((tmp_path / "out" / "seed-3" / "naive" / "config.yaml").read_text())
    assert saved["model"]["base_vae"] == str(tmp_path / "base") and saved["model"]["base_vae_config"] is None
    assert f"base VAE {tmp_path / 'base'}" in capsys.readouterr().out
