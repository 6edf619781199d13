"""``wan-alpha ablate vae`` and ``wan-alpha eval vae`` end to end at a tiny size, and the naive variant's loss."""

import json

import pytest
import torch
import yaml

from wan_alpha.cli import main
from wan_alpha.errors import WanAlphaError
from wan_alpha.eval.ablation import BASELINE, VARIANTS, ablation_table
from wan_alpha.losses import ReconLossConfig
from wan_alpha.rgba import PALETTE, hard_render
from wan_alpha.train.vae import naive_losses

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {
    "model": {
        "base_vae_config": {"base_dim": 8, "z_dim": 4, "dim_mult": [1, 2, 2, 2], "num_res_blocks": 1,
                            "latents_mean": [0.0] * 4, "latents_std": [1.0] * 4},
        "lora_rank": 2,
        "fusion_layers": 1,
    },
    "data": {"synthetic": {"num_clips": 2, "frames": 5, "height": 16, "width": 16, "seed": 0}, "validation_clips": 0},
    "tabd": {
        "mode": "paper", "weight": 0.1, "text_encoder": "none",
        "dit_config": {"patch_size": [1, 2, 2], "num_attention_heads": 2, "attention_head_dim": 8, "in_channels": 4,
                       "out_channels": 4, "text_dim": 16, "freq_dim": 16, "ffn_dim": 32, "num_layers": 1,
                       "rope_max_seq_len": 64},
    },
    "train": {"max_steps": 1, "learning_rate": 1e-3, "checkpoint_every": 1000, "validate_every": 1000, "log_every": 1},
}


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    """Every variant, 2 seeds, 1 step each: the committed command at a tiny size."""
    root = tmp_path_factory.mktemp("ablate")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    argv = ["ablate", "vae", "--config", str(config), "--output", str(root / "out"), "--seeds", "0", "1",
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


def test_eval_vae_writes_report(ablation, tmp_path, capsys):
    out, _ = ablation
    report = tmp_path / "report"
    argv = ["eval", "vae", "--model", str(out / "seed-0" / "rendering" / "rgba_vae"), "--synthetic", "2",
            "--frames", "5", "--size", "16x16", "--output", str(report)]
    assert main(argv) == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert len(metrics["clips"]) == 2 and len(metrics["per_frame"]["alpha_psnr"]) == 5
    assert {"rgb_psnr_black", "rgb_psnr_checker", "alpha_conn", "alpha_dtssd", "gt_alpha_flicker"} <= set(metrics["mean"])
    assert "LPIPS skipped" in (report / "report.md").read_text()
    assert sorted(p.name for p in (report / "plots").iterdir()) == ["alpha_psnr.png", "alpha_sad.png", "rgb_psnr.png"]


def test_user_errors(tmp_path, capsys):
    config = tmp_path / "manifest.yaml"
    config.write_text(yaml.safe_dump({**TINY, "data": {"manifest": {"path": "x.jsonl"}}}))
    assert main(["ablate", "vae", "--config", str(config), "--output", str(tmp_path / "o")]) == 2
    assert "synthetic" in capsys.readouterr().err
    assert main(["ablate", "vae", "--config", str(config), "--output", str(tmp_path / "o"), "--variants", "vgg"]) == 2
    assert "unknown ablation variant" in capsys.readouterr().err
    assert main(["eval", "vae", "--model", str(tmp_path), "--synthetic", "1", "--output", str(tmp_path / "r")]) == 2
    assert "RGBAVAE folder" in capsys.readouterr().err


def test_naive_loss_is_zero_for_the_black_filled_clip():
    torch.manual_seed(0)
    rgb, alpha = torch.rand(1, 3, 5, 16, 16) * 2 - 1, (torch.rand(1, 1, 5, 16, 16) > 0.5).float()
    black_filled = hard_render(rgb, alpha, PALETTE[0].view(1, 3, 1, 1, 1))
    terms = naive_losses(black_filled, alpha, rgb, alpha, ReconLossConfig())
    assert terms["loss"].item() == pytest.approx(0.0, abs=1e-5)
    # The colour under transparent pixels is not the naive target: reproducing it costs loss.
    assert naive_losses(rgb, alpha, rgb, alpha, ReconLossConfig())["rgb"].item() > 0.1


def test_ablation_table_mean_and_sample_std():
    results = {"naive": [{"mean": {"rgb_psnr": 20.0, "alpha_mse": 0.1}}, {"mean": {"rgb_psnr": 22.0, "alpha_mse": 0.3}}]}
    table = ablation_table(results)
    # mean 21, std (ddof=1) sqrt(2); mean 0.2, std sqrt(0.02)
    assert "| naive | 2 | 21.00 ± 1.41 | 0.2000 ± 0.1414 |" in table
    assert table.splitlines()[0] == "| variant | seeds | RGB PSNR ↑ | MSE ↓ |"


def test_unknown_variant_fails_before_training(tmp_path):
    from wan_alpha.eval.ablation import run_vae_ablation

    with pytest.raises(WanAlphaError, match="unknown ablation variant"):
        run_vae_ablation("ablate_vae_tiny", tmp_path, [0], variants=["nope"])


def test_ablation_on_a_saved_base_vae(tmp_path, capsys):
    from diffusers import AutoencoderKLWan

    AutoencoderKLWan(**TINY["model"]["base_vae_config"]).save_pretrained(tmp_path / "base")
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    argv = ["ablate", "vae", "--config", str(config), "--output", str(tmp_path / "out"), "--seeds", "3",
            "--eval-clips", "1", "--variants", "naive", "--base-vae", str(tmp_path / "base")]
    assert main(argv) == 0
    saved = yaml.safe_load((tmp_path / "out" / "seed-3" / "naive" / "config.yaml").read_text())
    assert saved["model"]["base_vae"] == str(tmp_path / "base") and saved["model"]["base_vae_config"] is None
    assert f"base VAE {tmp_path / 'base'}" in capsys.readouterr().out
