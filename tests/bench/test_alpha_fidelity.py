"""Every writable format read back by a reader that is not wan-alpha's (bench/alpha_fidelity.py): the ffmpeg
CLI for VP9 / VP8 / ProRes / QuickTime Animation / PNG-in-MOV / stacked MP4, OpenEXR for EXR, Pillow for
the PNG family and the sprite-sheet atlas; lossless formats must come back exact."""

import json
import shutil

import pytest

from wan_alpha.data.synthetic import generate_clip

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="the ffmpeg command-line tool is not installed (apt-get install ffmpeg)")

# format -> max alpha error (0-255) an independent reader may see on the hard-edged clip
BOUNDS = {"mov-png": 0, "mov-qtrle": 0, "png": 0, "zip": 0, "apng": 0, "webp": 0, "spritesheet": 0,
          "exr": 0.1, "mov": 1, "webm": 40, "webm-vp8": 40, "mp4-stacked": 80, "gif": 127}


@pytest.fixture(scope="module")
def bench(load_bench_script):
    return load_bench_script("alpha_fidelity")


@pytest.fixture(scope="module")
def clip():
    return generate_clip("shape", 0, 5, 47, 63)[0]  # odd size: the stacked MP4's halves are padded


@pytest.mark.parametrize("fmt", sorted(BOUNDS))
def test_independent_reader_sees_the_alpha(tmp_path, bench, clip, fmt):
    from wan_alpha.io import write_video

    path = write_video(tmp_path / bench.OUTPUT_NAMES[fmt], clip, format=fmt)
    back, shown, _ = bench.independent_read(path, fmt, clip)
    assert back.shape == shown.shape and back.shape[1:] == clip.frames.shape[1:]
    result = bench.errors(back, shown, fmt)
    assert result["max_alpha"] <= BOUNDS[fmt], result
    if BOUNDS[fmt] == 0:
        assert result["max_colour"] == 0, result


def test_exr_holds_linear_premultiplied_colour(tmp_path, bench):
    """A half-transparent mid grey is stored as linear 0.2158 * 0.5, as Nuke and Unreal expect."""
    import numpy as np

    from wan_alpha.io import RGBAVideo, write_video

    frames = np.full((1, 2, 2, 4), 128, np.uint8)
    path = write_video(tmp_path / "grey", RGBAVideo(frames, 24.0), format="exr")
    back, _, reader = bench.independent_read(path, "exr", RGBAVideo(frames, 24.0))
    assert reader == "OpenEXR" and back[0, 0, 0, 3] == pytest.approx(128 / 255, abs=1e-3)
    assert back[0, 0, 0, 0] == pytest.approx(0.2158 * 128 / 255, abs=1e-3)
    assert json.loads((path / "meta.json").read_text())["alpha"] == "premultiplied"


@pytest.mark.slow
def test_report_covers_every_format(tmp_path, bench):
    from wan_alpha.io import FORMATS

    out = tmp_path / "r.json"
    report = bench.main(["--kinds", "smoke", "--frames", "5", "--size", "32", "--json", str(out)])
    (results,) = report.values()
    assert {name for name, f in FORMATS.items() if f.write} <= set(results)
    assert results["webm --quality 0"]["max_alpha"] <= 1  # VP9's near-lossless setting
    assert json.loads(out.read_text()) == report
