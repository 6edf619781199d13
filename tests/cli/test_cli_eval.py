"""``wan-alpha eval vae | gen`` end to end on tiny models: the reports and their files."""

import json

import pytest

from tests.tiny import tiny_pipeline, tiny_vae
from wan_alpha import EMBEDDED_MODEL
from wan_alpha.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def test_eval_vae_writes_report(tmp_path, capsys):
    tiny_vae().save_pretrained(tmp_path / "rgba_vae")
    report = tmp_path / "report"
    argv = ["eval", "vae", "--model", str(tmp_path / "rgba_vae"), "--synthetic", "2", "--frames", "5", "--size", "16x16",
            "--output", str(report)]
    assert main(argv) == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert len(metrics["clips"]) == 2 and len(metrics["per_frame"]["alpha_psnr"]) == 5
    assert {"rgb_psnr_black", "rgb_psnr_checker", "alpha_conn", "alpha_dtssd", "gt_alpha_flicker"} <= set(metrics["mean"])
    assert "LPIPS skipped" in (report / "report.md").read_text()
    assert sorted(p.name for p in (report / "plots").iterdir()) == ["alpha_psnr.png", "alpha_sad.png", "rgb_psnr.png"]
    assert "RGBA VAE reconstruction" in capsys.readouterr().out


def test_eval_vae_user_errors(tmp_path, capsys):
    assert main(["eval", "vae", "--model", str(tmp_path), "--synthetic", "1", "--output", str(tmp_path / "r")]) == 2
    assert "RGBAVAE folder" in capsys.readouterr().err
    assert main(["eval", "vae", "--model", str(tmp_path), "--synthetic", "0", "--output", str(tmp_path / "r")]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_eval_gen_command(tmp_path, capsys):
    tiny_pipeline().save_pretrained(tmp_path / "model")
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red ball\n# comment\na puff of smoke\n")
    argv = ["eval", "gen", "--model", str(tmp_path / "model"), "--prompts", str(prompts), "--output",
            str(tmp_path / "gen"), "--steps", "2", "--guidance", "1", "--shift-mean", "0", "--ellipse", "0.5,0.5,0.6,0.4"]
    assert main(argv) == 0
    metrics = json.loads((tmp_path / "gen" / "metrics.json").read_text())
    assert [c["prompt"] for c in metrics["clips"]] == ["a red ball", "a puff of smoke"] and metrics["mu"] == 0
    for key in ("clean_background", "ellipse_iou", "transparent_share", "alpha_flicker"):
        assert 0 <= metrics["mean"][key] <= 1
    assert len(metrics["per_frame"]["ellipse_iou"]) == 5
    assert sorted(p.name for p in (tmp_path / "gen" / "clips").iterdir()) == ["000.webm", "001.webm"]
    assert "requested ellipse: 0.5,0.5,0.6,0.4" in capsys.readouterr().out


def test_eval_gen_defaults_to_the_embedded_model_and_its_own_sampling_settings(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red balloon\n")
    assert main(["eval", "gen", "--prompts", str(prompts), "--output", str(tmp_path / "gen"), "--frames", "5"]) == 0
    index = json.loads((EMBEDDED_MODEL / "model_index.json").read_text())
    metrics = json.loads((tmp_path / "gen" / "metrics.json").read_text())
    assert (metrics["steps"], metrics["guidance"], metrics["mu"]) == (
        index["num_inference_steps"], index["guidance_scale"], index["mu_shift"])
    out = capsys.readouterr().out
    assert f"model: {EMBEDDED_MODEL}" in out
    assert f"{index['num_inference_steps']} steps, guidance {index['guidance_scale']}," in out


def test_eval_vae_defaults_to_the_embedded_models_vae(tmp_path, capsys):
    argv = ["eval", "vae", "--synthetic", "1", "--frames", "1", "--size", "16x16", "--output", str(tmp_path / "r")]
    assert main(argv) == 0
    assert len(json.loads((tmp_path / "r" / "metrics.json").read_text())["clips"]) == 1
    captured = capsys.readouterr()
    assert f"model: {EMBEDDED_MODEL / 'vae'}" in captured.out
    assert "eval vae: 100%" in captured.err  # a bar over the clips
    assert main(argv) == 2  # an earlier report is kept unless asked
    assert "already holds a report: pass --overwrite" in capsys.readouterr().err
