"""``wan-alpha generate`` and ``wan-alpha mask`` end to end, in process, with a tiny saved model."""

import json
import re
import shlex

import numpy as np
import pytest

from tests.tiny import tiny_pipeline
from wan_alpha import EMBEDDED_MODEL
from wan_alpha.cli import main
from wan_alpha.io import RGBAVideo, read_video, write_video


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "pipeline"
    tiny_pipeline().save_pretrained(path)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_generate_writes_video_and_preview_reproducibly(tmp_path, model, capsys):
    args = ["generate", "a puff of white smoke", "--model", model, "--steps", 2, "--guidance", 1, "--seed", 3,
            "--frames", 9, "--size", "48x32"]
    code, out, err = run(capsys, *args, "-o", tmp_path / "a.zip", "--preview", tmp_path / "a.mp4")
    assert code == 0, err
    assert str(tmp_path / "a.zip") in out and (tmp_path / "a.mp4").is_file()
    video = read_video(tmp_path / "a.zip")
    assert video.frames.shape == (9, 32, 48, 4)
    assert run(capsys, *args, "-o", tmp_path / "b.zip")[0] == 0
    assert np.array_equal(read_video(tmp_path / "b.zip").frames, video.frames)
    # model defaults (5 frames, 32x32) and the default WebM output
    assert run(capsys, "generate", "glass", "--model", model, "--steps", 1, "-o", tmp_path / "c.webm")[0] == 0
    assert read_video(tmp_path / "c.webm").frames.shape == (5, 32, 32, 4)


def test_generate_batch_from_prompts_file(tmp_path, model, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# effects\nsmoke\n\nfire sparks\n")
    code, out, err = run(capsys, "generate", "--prompts-file", prompts, "--model", model, "--steps", 1,
                         "--format", "zip", "-o", tmp_path / "out", "--preview", tmp_path / "prev")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000-smoke.zip", "001-fire-sparks.zip"]
    assert sorted(p.name for p in (tmp_path / "prev").iterdir()) == ["000-smoke.mp4", "001-fire-sparks.mp4"]


def test_masks_from_cli_drive_generation(tmp_path, model, capsys):
    code, out, err = run(capsys, "mask", "draw", "--ellipse", "0.2,0.5,0.3,0.3", "--ellipse-end", "0.8,0.5,0.3,0.3",
                         "--frames", 5, "--size", "32x32", "-o", tmp_path / "m.npy", "--preview", tmp_path / "m.png")
    assert code == 0, err
    assert "2 latent frames of 4x4" in out and (tmp_path / "m.png").is_file()
    rgba = np.zeros((5, 32, 32, 4), np.uint8)
    rgba[:, 8:24, 4:20] = 255
    write_video(tmp_path / "alpha.zip", RGBAVideo(rgba, 16))
    # mask fit reads the latent grid and the ellipse fit from the model, as generate --mask-from does
    assert run(capsys, "mask", "fit", tmp_path / "alpha.zip", "--model", model, "-o", tmp_path / "fit.pt")[0] == 0
    base = ["generate", "smoke", "--model", model, "--steps", 1, "--guidance", 1]
    assert run(capsys, *base, "--mask", tmp_path / "m.npy", "-o", tmp_path / "a.zip")[0] == 0
    assert run(capsys, *base, "--mask", tmp_path / "fit.pt", "-o", tmp_path / "b.zip")[0] == 0
    assert run(capsys, *base, "--mask-from", tmp_path / "alpha.zip", "-o", tmp_path / "c.zip")[0] == 0
    assert run(capsys, *base, "--ellipse", "0.3,0.3,0.2,0.2,45", "-o", tmp_path / "d.zip")[0] == 0
    frames = [read_video(tmp_path / f"{n}.zip").frames for n in "abcd"]
    assert not np.array_equal(frames[0], frames[3])
    assert np.array_equal(frames[1], frames[2])  # fitted file == fitting on the fly


@pytest.mark.parametrize(
    "argv,match",
    [
        (["smoke", "--frames", "6"], r"1 \+ 4k"),
        (["smoke", "--size", "40x32"], "multiple of 16"),
        (["smoke", "--size", "forty"], "WIDTHxHEIGHT"),
        (["smoke", "--ellipse", "1.5,0.5,0.2,0.2"], "outside the frame"),
        (["smoke", "--ellipse", "0.5,0.5,0,0.2"], "must be > 0"),
        (["smoke", "--mask", "{mask9}"], "has 3 latent frames"),
        (["smoke", "--mask-from", "{alpha9}", "--frames", "5"], "has 3 latent frames"),
        (["smoke", "--mask-from", "{colour9}"], "no alpha channel and is in colour.*--luma-as-alpha"),
        (["  "], "empty"),
        (["smoke", "--model", "{tmp}"], "not a wan-alpha model folder"),
        (["smoke", "--model", "{tmp}", "--guidance", "0"], "guidance must be >= 1"),  # checked before loading
        (["smoke", "--model", "{tmp}", "--shift-mean", "nan"], "finite"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(tmp_path, model, capsys, argv, match):
    np.save(tmp_path / "m9.npy", np.zeros((3, 4, 4), np.float32))
    write_video(tmp_path / "a9.zip", RGBAVideo(np.full((9, 32, 32, 4), 255, np.uint8), 16))
    write_video(tmp_path / "c9.zip", RGBAVideo(np.tile(np.uint8([200, 90, 40, 255]), (9, 32, 32, 1)), 16))
    names = dict(mask9=tmp_path / "m9.npy", alpha9=tmp_path / "a9.zip", colour9=tmp_path / "c9.zip", tmp=tmp_path)
    argv = [a.format(**names) for a in argv]
    if "--model" not in argv:
        argv += ["--model", model]
    code, _, err = run(capsys, "generate", *argv, "-o", tmp_path / "out.zip", "--steps", 1)
    last = err.strip().splitlines()[-1]  # (progress bars of model loading may precede it)
    assert code == 2 and last.startswith("wan-alpha: error:"), err
    assert re.search(match, last), err
    assert not (tmp_path / "out.zip").exists() and not list(tmp_path.glob(".*part*"))


def test_alpha_less_format_is_refused_before_work(tmp_path, capsys):
    # (no --model means the embedded model: tests/test_shipped_model.py)
    code, _, err = run(capsys, "generate", "smoke", "--model", tmp_path, "-o", tmp_path / "x.mp4")
    assert code == 2 and "cannot store alpha" in err


def test_existing_output_needs_overwrite(tmp_path, model, capsys):
    (tmp_path / "x.zip").write_bytes(b"keep")
    code, _, err = run(capsys, "generate", "smoke", "--model", model, "-o", tmp_path / "x.zip", "--steps", 1)
    assert code == 2 and "--overwrite" in err and (tmp_path / "x.zip").read_bytes() == b"keep"


def test_long_prompt_is_truncated_with_a_warning(tmp_path, model, capsys):
    with pytest.warns(UserWarning, match="truncated"):
        code, _, _ = run(capsys, "generate", "smoke " * 40, "--model", model, "-o", tmp_path / "x.zip", "--steps", 1)
    assert code == 0


def test_generate_help_gives_the_embedded_models_own_settings(capsys):
    config = json.loads((EMBEDDED_MODEL / "model_index.json").read_text())
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert (f"embedded tiny model ({config['default_num_frames']} frames, {config['default_width']}x"
            f"{config['default_height']}, {config['fps']:g} fps, {config['num_inference_steps']} steps, "
            f"guidance {config['guidance_scale']:g};") in text
    assert "sampling steps (default: the model's)" in text


def test_a_negative_prompt_without_guidance_is_flagged(tmp_path, model, capsys):
    base = ["generate", "smoke", "--model", model, "--negative-prompt", "blur", "--steps", 1, "--frames", 1]
    code, _, err = run(capsys, *base, "--guidance", 1, "-o", tmp_path / "a.zip")
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert code == 0 and warnings == ["wan-alpha: warning: --negative-prompt has no effect at guidance 1 "
                                      "(classifier-free guidance is off at <= 1): give --guidance above 1 to use it"]
    code, _, err = run(capsys, *base, "--guidance", 2, "-o", tmp_path / "b.zip")
    assert code == 0 and "warning" not in err


def test_the_top_level_help_starts_a_new_user_with_a_command_that_parses():
    from wan_alpha.cli import build_parser

    parser = build_parser()
    example = re.search(r"start with: wan-alpha (.+?) \(", parser.epilog).group(1)
    args = parser.parse_args(shlex.split(example))
    assert args.command == "generate" and args.model is None  # the embedded model


def test_libraries_import_noise_is_hidden_unless_debug(tmp_path):
    """torchao (pulled in by diffusers when the [quant] extra is installed) logs kernel-loading warnings on import."""
    import logging

    from wan_alpha.cli import _IMPORT_NOISE, main

    for debug, level in (([], logging.ERROR), (["--debug"], logging.NOTSET)):
        for name in _IMPORT_NOISE:
            logging.getLogger(name).setLevel(logging.NOTSET)
        assert main(["info", str(tmp_path / "missing.webm"), *debug]) == 2
        assert {logging.getLogger(name).level for name in _IMPORT_NOISE} == {level}
