"""Tiny files that expand to gigabytes: refused from their headers, in one line, with nothing written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wan_alpha.data.build import JobList
from wan_alpha.errors import WanAlphaError
from wan_alpha.io.masks import load_mask

from . import inputs
from .conftest import assert_refused

# what each bomb's one line names besides the file
DEFECT = {"apng_delay": "frame count", "png_20000": "frame size", "zip_12000x40": "frame size",
          "zip_4096x200": "decoded size", "zip_member": "expands"}
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(DEFECT))
def test_info_and_convert_refuse_each_bomb(cli, bombs, tmp_path, name):
    bomb = bombs[name]
    before = inputs.tree_digest(bomb)
    assert_refused(*cli("info", bomb)[:2], bomb.name, DEFECT[name])
    assert_refused(*cli("convert", bomb, "out.webm")[:2], bomb.name, DEFECT[name])
    assert not list(tmp_path.iterdir())  # no output, no temporary left
    assert inputs.tree_digest(bomb) == before


def test_the_limits_can_be_raised_anywhere_on_the_command_line(cli, tmp_path):
    clip = inputs.png_folder(tmp_path / "seq", {"fps": 16.0, "frames": 5})  # 16x16 frames: 256 pixels
    assert_refused(*cli("info", clip, "--max-pixels", "100")[:2], "seq", "--max-pixels")
    assert_refused(*cli("--max-frames", "4", "info", clip)[:2], "frame count 5")
    code, err, out = cli("info", clip, "--max-pixels", "256", "--max-frames", "5")
    assert code == 0 and "16x16, 5 frames" in out
    assert cli("info", clip)[0] == 0  # a raised or lowered limit does not outlive its command


def test_preview_background_and_mask_fit_refuse_a_bomb(cli, bombs, tmp_path):
    clip = inputs.png_folder(tmp_path / "seq", {"fps": 16.0, "frames": 5})
    assert_refused(*cli("preview", clip, "p.mp4", "--background", bombs["png_20000"])[:2], "big.png", "frame size")
    assert_refused(*cli("mask", "fit", bombs["png_20000"], "-o", "m.npy")[:2], "big.png", "frame size")
    assert not (tmp_path / "p.mp4").exists() and not (tmp_path / "m.npy").exists()


def test_data_build_skips_and_counts_bombs_and_keeps_the_good_clip(cli, bombs, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("apng_delay", "zip_12000x40", "zip_4096x200", "zip_member"):
        os.symlink(bombs[name], folder / bombs[name].name)
    good = inputs.png_folder(tmp_path / "good", {"fps": 16.0, "frames": 5})
    assert cli("convert", good, folder / "good.zip")[0] == 0
    code, err, out = cli("data", "build", "videos", folder, "-o", "out", "--frames", "5", "--short-side", "0",
                         "--no-progress")
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["written"] == 1 and report["skipped"] == {"too_large": 4}


def test_images_build_skips_a_bomb(cli, bombs, tmp_path):
    (tmp_path / "in").mkdir()
    os.symlink(bombs["png_20000"], tmp_path / "in" / "big.png")
    inputs.rgba_png(tmp_path / "in" / "ok.png")
    code, err, _ = cli("data", "build", "images", "in", "-o", "out", "--frames", "1", "--no-progress")
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "build_report.json").read_text())["skipped"] == {"too_large": 1}


def test_contact_sheet_size_is_limited(cli, tmp_path):
    inputs.png_folder(tmp_path / "c", {"fps": 16.0, "frames": 5})
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"caption": "a square", "rgba": "c"}) + "\n")
    assert_refused(*cli("data", "preview", "manifest.jsonl", "-o", "s.png", "--thumb", "100000")[:2],
                   "s.png", "--thumb")
    assert not (tmp_path / "s.png").exists()


def test_npy_masks_are_checked_before_loading(tmp_path):
    with pytest.raises(WanAlphaError, match="m.npy"):  # a 4 TB header over a file of a few bytes
        load_mask(inputs.npy_bomb(tmp_path / "m.npy"))
    with pytest.raises(WanAlphaError, match="not numbers"):
        load_mask(inputs.string_npy(tmp_path / "s.npy"))


def test_job_lists_are_lazy():
    jobs = JobList(10**9, lambda i: i)
    assert len(jobs) == 10**9 and jobs[5] == 5 and jobs[-1] == 10**9 - 1
    with pytest.raises(IndexError):
        jobs[10**9]


_CHILD = """
import sys
from wan_alpha.cli import main
bombs, out = sys.argv[1:-1], sys.argv[-1]
codes = [main(["info", b]) for b in bombs] + [main(["convert", b, out + "/x.webm"]) for b in bombs]
codes.append(main(["data", "build", "videos", out + "/in", "-o", out + "/set", "--frames", "1", "--no-progress"]))
sys.exit(0 if codes == [2] * len(codes) else 1)
"""


def test_peak_rss_on_every_bomb_stays_under_1_gb(bombs, tmp_path):
    """info, convert and data build on each bomb, in one child process: its ru_maxrss is the peak of them all."""
    (tmp_path / "in").mkdir()
    for name in ("apng_delay", "zip_12000x40", "zip_4096x200", "zip_member"):
        os.symlink(bombs[name], tmp_path / "in" / bombs[name].name)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as err:  # wait4 gives this child's own rusage (RUSAGE_CHILDREN mixes in earlier tests')
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, *map(str, bombs.values()), str(tmp_path)], env=env,
                                stderr=err, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, stderr.read_text()[-2000:]
    assert "Traceback" not in stderr.read_text()
    assert usage.ru_maxrss < 1024**2, f"peak RSS {usage.ru_maxrss / 1024:.0f} MB"  # KiB: under 1 GB


@pytest.mark.parametrize("fmt", ["spritesheet", "exr"])
def test_folder_formats_check_their_headers_against_the_limits(cli, tmp_path, fmt):
    """A sprite sheet's frame rectangles and an EXR's data window are sized before any pixel is decoded."""
    from wan_alpha.io import RGBAVideo, write_video

    clip = tmp_path / fmt
    write_video(clip, RGBAVideo(inputs.rgba_frames(5, 16), 8.0), format=fmt)
    assert cli("info", clip)[0] == 0
    assert_refused(*cli("info", clip, "--max-pixels", "100")[:2], "frame size", "16x16", "--max-pixels")
    assert_refused(*cli("convert", clip, "x.zip", "--max-frames", "3")[:2], "frame count", "--max-frames")
    assert not (tmp_path / "x.zip").exists()
