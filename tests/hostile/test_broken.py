"""Broken inputs and careless commands: one line, exit 2, nothing written, the input untouched."""

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import wan_alpha.io
from wan_alpha import EMBEDDED_MODEL
from wan_alpha.cli.input_checks import check_rotary_range
from wan_alpha.errors import WanAlphaError, one_line
from wan_alpha.io import atomic_output, write_video
from wan_alpha.io.masks import load_mask
from wan_alpha.pipelines.memory import check_fits
from wan_alpha.pipelines.model_checks import check_config_keys

from . import inputs
from .conftest import assert_refused

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


@pytest.mark.parametrize("fps", [1e300, 1e-300])
def test_meta_json_fps_out_of_range(cli, tmp_path, fps):
    clip = inputs.png_folder(tmp_path / "seq", {"fps": fps})
    before = inputs.tree_digest(clip)
    assert_refused(*cli("convert", clip, "out.webm")[:2], "meta.json", "frame rate")
    assert not (tmp_path / "out.webm").exists() and inputs.tree_digest(clip) == before


def test_output_whose_parent_is_a_file(cli, tmp_path):
    clip = inputs.png_folder(tmp_path / "seq", None)
    (tmp_path / "file").write_text("x")
    assert_refused(*cli("convert", clip, "file/out.webm")[:2], "file/out.webm", "is a file")


def test_fifo_input_is_refused_not_waited_on(tmp_path):
    os.mkfifo(tmp_path / "f.webm")
    run = subprocess.run([sys.executable, "-m", "wan_alpha", "convert", "f.webm", "o.zip"], cwd=tmp_path, env=ENV,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "f.webm is not a regular file" in run.stderr


def test_seed_out_of_range_is_refused_before_the_model_loads(cli):
    assert_refused(*cli("generate", "a cat", "-o", "g.webm", "--seed", str(2**70))[:2], "--seed")
    assert_refused(*cli("generate", "a cat", "-o", "g.webm", "--seed", "-1")[:2], "no random seed")


def test_mask_files_that_are_not_masks(cli, tmp_path):
    inputs.string_npy(tmp_path / "s.npy")
    assert_refused(*cli("generate", "a cat", "-o", "g.webm", "--mask", "s.npy")[:2], "s.npy", "not numbers")
    with open(tmp_path / "evil.pt", "wb") as fh:  # a legacy torch file whose unpickling would call os.system
        pickle.dump(_Payload(), fh, protocol=2)
    code, err, _ = cli("generate", "a cat", "-o", "g.webm", "--mask", "evil.pt")
    assert_refused(code, err, "evil.pt", "refused to unpickle", "posix.system")
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "g.webm").exists()


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_the_pickle_refusal_is_one_short_line():
    older = ("Weights only load failed. This file can still be loaded, to do so you have two options\n\t(1) In "
             "PyTorch 2.6...\n\t(2) Alternatively...\n WeightsUnpickler error: Unsupported global: GLOBAL "
             "posix.system\n\nCheck the documentation of torch.load to learn more.")
    assert one_line(older) == "refused to unpickle: Unsupported global: GLOBAL posix.system"
    newer = ("Weights only load failed. In PyTorch 2.6, we changed...\n\n\nTrying to load unsupported GLOBAL "
             "posix.system whose module posix is blocked.\n\nCheck the documentation of torch.load to learn more.")
    assert one_line(newer) == "refused to unpickle: Trying to load unsupported GLOBAL posix.system whose module posix is blocked."


def test_mask_commands_check_every_output_before_writing(cli, tmp_path):
    clip = inputs.png_folder(tmp_path / "seq", {"fps": 16.0})
    assert_refused(*cli("mask", "fit", clip, "-o", "m.npy", "--threshold", "nan")[:2], "--threshold nan")
    assert_refused(*cli("mask", "draw", "--ellipse", "0.5,0.5,0.4,0.4", "--frames", "5", "--size", "64x64", "-o",
                        "m.npy", "--preview", "x.jpg")[:2], "x.png")
    assert not (tmp_path / "m.npy").exists()


def test_prompts_file_that_is_empty_or_a_device(cli, tmp_path):
    assert_refused(*cli("generate", "--prompts-file", "/dev/null", "-o", "outs")[:2], "/dev/null holds no prompt")
    assert_refused(*cli("generate", "--prompts-file", "nope.txt", "-o", "outs")[:2], "does not exist")


@pytest.fixture
def model_copy(tmp_path):
    target = tmp_path / "model"
    shutil.copytree(EMBEDDED_MODEL, target)
    return target


def _damage(model: Path, how: str) -> None:
    weights = model / "transformer" / "diffusion_pytorch_model.safetensors"
    if how == "truncated safetensors":
        weights.write_bytes(weights.read_bytes()[:100_000])
    elif how == "wrong-shape tensor":
        from safetensors.torch import load_file, save_file

        tensors = load_file(weights)
        first = sorted(tensors)[0]
        tensors[first] = tensors[first].new_zeros(3, 3)
        save_file(tensors, weights)
    elif how == "broken model_index.json":
        (model / "model_index.json").write_text("{ not json")
    else:
        config = json.loads((model / "transformer" / "config.json").read_text())
        (model / "transformer" / "config.json").write_text(json.dumps({**config, "num_layer": 2}))


@pytest.mark.parametrize("how", ["truncated safetensors", "wrong-shape tensor", "broken model_index.json",
                                 "unknown config.json key"])
def test_damaged_model_folder(cli, model_copy, how):
    _damage(model_copy, how)
    code, err, _ = cli("generate", "a cat", "-o", "g.webm", "--model", model_copy, "--steps", "1", "--frames", "1")
    assert_refused(code, err, "model")
    assert not Path("g.webm").exists()


def test_unknown_config_key_names_the_key(model_copy):
    _damage(model_copy, "unknown config.json key")
    with pytest.raises(WanAlphaError, match="num_layer"):
        check_config_keys(model_copy)
    check_config_keys(EMBEDDED_MODEL)  # the shipped model passes


def test_rotary_range_and_cpu_memory_are_checked_up_front():
    config = SimpleNamespace(rope_max_seq_len=1024, patch_size=(1, 2, 2))
    check_rotary_range(config, 8, 5, 16 * 1024, 16)
    with pytest.raises(WanAlphaError, match="width is past the model's rotary position range"):
        check_rotary_range(config, 8, 5, 16, 16400)
    with pytest.raises(WanAlphaError, match="GiB of RAM"):
        check_fits({"total": 1e9}, "cpu")


def test_unexpected_errors_are_one_line_unless_debug(cli, tmp_path, monkeypatch):
    def bug(path):
        raise RuntimeError("something broke\nin two lines")

    monkeypatch.setattr(wan_alpha.io, "probe", bug)
    code, err, _ = cli("info", "x.webm")
    assert code == 1 and err == ["wan-alpha: internal error: RuntimeError: something broke in two lines (rerun with "
                                 "--debug for the traceback)"]
    code, err, _ = cli("info", "x.webm", "--debug")
    assert code == 1 and err[0].startswith("Traceback") and "RuntimeError: something broke" in "\n".join(err)


def test_closed_pipe_ends_quietly(tmp_path):
    clip = inputs.png_folder(tmp_path / "seq", None)
    proc = subprocess.Popen([sys.executable, "-m", "wan_alpha", "convert", str(clip), str(tmp_path / "o.zip")],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # as `| head` does once it has its lines
    stderr = proc.communicate(timeout=120)[1].decode()
    assert proc.returncode == 141 and stderr == ""


# ---- the output path: no-replace publish, stale temporaries, SIGTERM


@pytest.mark.parametrize("directory", [False, True])
def test_an_output_that_appears_meanwhile_is_never_replaced(tmp_path, directory):
    target = tmp_path / ("out" if directory else "out.zip")
    with pytest.raises(WanAlphaError, match="appeared while it was being written"):
        with atomic_output(target, directory=directory) as tmp:
            (tmp / "a").write_text("new") if directory else tmp.write_text("new")
            target.mkdir() if directory else target.write_text("theirs")  # another run finished first
            (target / "a").write_text("theirs") if directory else None
    assert (target / "a" if directory else target).read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # our temporary is gone


def test_stale_parts_of_dead_runs_are_removed_live_ones_kept(tmp_path):
    dead = tmp_path / ".out.zip.99999999.abc.part.zip"  # pids never reach 99999999 (pid_max <= 2**22)
    live = tmp_path / f".out.zip.{os.getpid()}.def.part.zip"
    dead.write_text("x")
    live.write_text("y")
    write_video(tmp_path / "out.zip", wan_alpha.io.RGBAVideo(inputs.rgba_frames(1), 16.0))
    assert not dead.exists() and live.exists()


def test_sigterm_removes_partial_outputs_and_a_billion_jobs_cost_no_memory(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "wan_alpha", "data", "build", "synthetic", "--count",
                             "1000000000", "-o", "out", "--frames", "1", "--height", "8", "--width", "8",
                             "--no-progress"], cwd=tmp_path, env=ENV, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not list((tmp_path / "out" / "clips").glob("*.zip")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 143
    assert b"terminated" in proc.stderr.read()
    assert usage.ru_maxrss < 1024**2  # KiB: under 1 GB
    assert not [p for p in (tmp_path / "out").rglob("*") if ".part" in p.name]


# ---- data build


def _build_images(cli, *extra):
    return cli("data", "build", "images", "in", "-o", "out", "--frames", "1", "--no-progress", *extra)


def test_colliding_names_make_distinct_clips(cli, tmp_path):
    for name in ("c d.png", "c_d.png", "sub/e.png", "sub__e.png"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        inputs.rgba_png(tmp_path / "in" / name)
    assert _build_images(cli)[0] == 0
    rows = (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()
    assert len(rows) == 4 and len(list((tmp_path / "out" / "clips").iterdir())) == 4


def test_an_output_inside_the_input_is_not_ingested(cli, tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):  # the build's own clips are .zip videos too
        assert cli("convert", inputs.png_folder(tmp_path / name, {"fps": 16.0}), f"in/{name}.zip")[0] == 0
    for _ in range(2):
        code, err, _ = cli("data", "build", "videos", "in", "-o", "in/out", "--frames", "5", "--short-side", "0",
                           "--no-progress")
        assert code == 0, err
    assert len((tmp_path / "in" / "out" / "manifest.jsonl").read_text().splitlines()) == 2


def test_a_failed_build_leaves_no_options_that_refuse_the_corrected_command(cli, tmp_path):
    from PIL import Image

    for folder, mode in (("in", "RGB"), ("mattes", "L")):
        (tmp_path / folder).mkdir()
        Image.new(mode, (32, 32), 128).save(tmp_path / folder / "a.png")
    code, err, _ = _build_images(cli)
    assert code == 2 and "no_alpha" in err[0]
    assert _build_images(cli, "--alpha-dir", "mattes")[0] == 0


def test_a_truncated_webm_is_counted_corrupt(cli, tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("good", "cut"):
        assert cli("convert", inputs.png_folder(tmp_path / name, {"fps": 16.0}, frames=9), f"in/{name}.webm")[0] == 0
    cut = tmp_path / "in" / "cut.webm"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    code, err, _ = cli("data", "build", "videos", "in", "-o", "out", "--frames", "5", "--short-side", "0",
                       "--no-progress")
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "build_report.json").read_text())["skipped"] == {"corrupt": 1}


def test_load_mask_reads_a_numeric_npy(tmp_path):
    import numpy as np

    np.save(tmp_path / "m.npy", np.full((2, 4, 4), 0.5, np.float32))
    assert load_mask(tmp_path / "m.npy").shape == (1, 1, 2, 4, 4)


@pytest.mark.parametrize("size", ["16400x16", "16x16400"])
def test_a_size_past_the_rotary_range_is_refused_before_the_model_loads(cli, monkeypatch, size):
    def never(*args, **kwargs):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr("wan_alpha.cli.generate.load_pipeline", never)
    code, err, _ = cli("generate", "a cat", "-o", "g.webm", "--size", size, "--frames", "5")
    assert_refused(code, err, "rotary position range", "at most 16384 pixels")
