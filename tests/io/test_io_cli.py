"""Bad input through ``wan-alpha info | convert | preview``: exit 2, one line naming the problem,
and nothing new left in the output folder."""

import json
import zipfile
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from wan_alpha.cli import main
from wan_alpha.io import RGBAVideo, read_video, write_preview, write_video


def _fails(capsys, argv: list[str], *needles: str) -> str:
    """Run the CLI, expect a user error: exit 2 and a single stderr line containing every needle."""
    folder_before = {p: p.stat().st_mtime_ns for p in _tree(argv)}
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wan-alpha: error: ") and "\n" not in err, err
    for needle in needles:
        assert needle in err, err
    assert {p: p.stat().st_mtime_ns for p in _tree(argv)} == folder_before  # no partial output, nothing touched
    return err


def _tree(argv: list[str]) -> list[Path]:
    folders = {Path(a).parent for a in argv if Path(a).is_absolute()}
    return sorted(p for folder in folders for p in folder.rglob("*"))


def _truncate(path, fraction: float = 0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


@pytest.fixture
def src(tmp_path, clip):
    return write_video(tmp_path / "clip.webm", clip)


# --- damaged files ----------------------------------------------------------------------------


@pytest.mark.parametrize("name,fmt", [("a.webm", None), ("a.mov", None), ("b.mov", "mov-png"), ("a.zip", None),
                                      ("a.apng", None), ("a.webp", None), ("a.gif", None)])
def test_truncated_file_is_refused(tmp_path, capsys, clip, name, fmt):
    path = _truncate(write_video(tmp_path / name, clip, format=fmt))
    _fails(capsys, ["convert", str(path), str(tmp_path / "out.webm")], str(path))


@pytest.mark.parametrize("name", ["junk.webm", "junk.mov", "junk.gif", "junk.zip", "junk.webp", "junk.png"])
def test_corrupt_file_is_refused(tmp_path, capsys, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    _fails(capsys, ["convert", str(path), str(tmp_path / "out.mov")], "cannot read", name)
    _fails(capsys, ["info", str(path)], "cannot read")


def test_corrupt_frame_inside_png_folder(tmp_path, capsys, clip):
    folder = write_video(tmp_path / "frames", clip)
    _truncate(folder / "frame_00004.png")
    _fails(capsys, ["convert", str(folder), str(tmp_path / "out.gif")], "cannot read")


# --- no alpha -----------------------------------------------------------------------------------


@pytest.fixture
def opaque_mp4(tmp_path, clip):
    return write_preview(tmp_path / "opaque.mp4", clip)


def test_file_without_alpha_needs_allow_opaque(tmp_path, capsys, opaque_mp4):
    _fails(capsys, ["convert", str(opaque_mp4), str(tmp_path / "out.webm")], "no alpha channel", "--allow-opaque")
    assert main(["convert", str(opaque_mp4), str(tmp_path / "out.webm"), "--allow-opaque"]) == 0
    assert (read_video(tmp_path / "out.webm").alpha == 255).all()


def test_png_sequence_without_alpha_is_opaque(tmp_path, capsys, clip):
    folder = tmp_path / "rgb"
    folder.mkdir()
    for i, frame in enumerate(clip.rgb):
        Image.fromarray(frame).save(folder / f"f{i}.png")
    _fails(capsys, ["convert", str(folder), str(tmp_path / "out.zip")], "no alpha channel")
    assert np.array_equal(read_video(folder, allow_opaque=True).rgb, clip.rgb)


# --- zero frames --------------------------------------------------------------------------------


def test_empty_png_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _fails(capsys, ["convert", str(tmp_path / "empty"), str(tmp_path / "out.webm")], "no video frames")


def test_zip_without_frames(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "empty.zip", "w") as archive:
        archive.writestr("meta.json", json.dumps({"fps": 16}))
    _fails(capsys, ["info", str(tmp_path / "empty.zip")], "no video frames")


def test_video_without_frames(tmp_path, capsys):
    path = tmp_path / "empty.mov"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=16)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgba"
        container.start_encoding()
    _fails(capsys, ["convert", str(path), str(tmp_path / "out.webm")], "no video stream")


# --- rgb / alpha pairs --------------------------------------------------------------------------


def _matte(clip: RGBAVideo) -> RGBAVideo:
    """The clip's alpha as a grey, opaque video, as matting datasets ship it."""
    grey = np.repeat(clip.alpha[..., None], 4, axis=-1)
    grey[..., 3] = 255
    return RGBAVideo(grey, clip.fps)


def test_alpha_from_a_matte_video(tmp_path, clip):
    colour = write_video(tmp_path / "colour.mov", RGBAVideo(clip.frames.copy(), clip.fps), format="mov-png")
    matte = write_video(tmp_path / "matte", _matte(clip))
    assert main(["convert", str(colour), str(tmp_path / "out.apng"), "--alpha", str(matte)]) == 0
    assert np.array_equal(read_video(tmp_path / "out.apng").frames, clip.frames)


@pytest.mark.parametrize("frames,size,needle", [(8, (47, 63), "8 frames"), (9, (48, 64), "64x48")])
def test_mismatched_matte_is_refused(tmp_path, capsys, src, make_clip, frames, size, needle):
    matte = write_video(tmp_path / "matte.zip", _matte(make_clip(frames, *size)))
    _fails(capsys, ["convert", str(src), str(tmp_path / "out.mov"), "--alpha", str(matte)], needle, "do not match")


# --- names and overwriting ----------------------------------------------------------------------


def test_unknown_extensions(tmp_path, capsys, src):
    _fails(capsys, ["convert", str(src), str(tmp_path / "out.xyz")], "unknown extension '.xyz'")
    odd = tmp_path / "clip.xyz"
    odd.write_bytes(src.read_bytes())
    _fails(capsys, ["info", str(odd)], "unknown extension")


def test_missing_input(tmp_path, capsys):
    _fails(capsys, ["info", str(tmp_path / "nope.webm")], "does not exist")


def test_read_only_format_is_refused_as_output(tmp_path, capsys, src):
    _fails(capsys, ["convert", str(src), str(tmp_path / "out.mp4")], "cannot store alpha", "--format mp4-stacked")
    err = _fails(capsys, ["convert", str(src), str(tmp_path / "cat.avi")], ".avi is read-only", "cannot store alpha")
    assert "mp4-stacked" not in err


def test_unknown_extension_lists_read_only_ones_apart(tmp_path, capsys, src):
    err = _fails(capsys, ["convert", str(src), str(tmp_path / "out.xyz")], "(read-only: .mp4 .m4v .mkv .avi)")
    assert ".mp4" not in err.split("(read-only")[0]


@pytest.mark.parametrize("out,fmt,needle", [("x.webm", "gif", "name it x.gif"), ("x.webm", "mov-png", "name it x.mov"),
                                            ("frames.mov", "png", "writes a folder"),
                                            ("sheet.png", "spritesheet", "name it sheet")])
def test_output_named_for_another_format_is_refused(tmp_path, capsys, src, out, fmt, needle):
    _fails(capsys, ["convert", str(src), str(tmp_path / out), "--format", fmt], needle)


@pytest.mark.parametrize("out,flags,needle", [("out.gif", ["--quality", "5"], "no quality"),
                                              ("out.webm", ["--quality", "99"], "out of range")])
def test_bad_quality(tmp_path, capsys, src, out, flags, needle):
    _fails(capsys, ["convert", str(src), str(tmp_path / out), *flags], needle)


def test_existing_output_needs_overwrite(tmp_path, capsys, src):
    for out, command in [("out.gif", "convert"), ("frames", "convert"), ("out.mp4", "preview")]:
        target = tmp_path / out
        target.mkdir() if out == "frames" else target.write_bytes(b"keep me")
        _fails(capsys, [command, str(src), str(target)], "already exists", "--overwrite")
        assert main([command, str(src), str(target), "--overwrite"]) == 0
        assert read_video(target, allow_opaque=True).num_frames == 9


def test_failure_while_writing_leaves_nothing(tmp_path, capsys):
    fast = write_video(tmp_path / "fast.zip", RGBAVideo(np.zeros((3, 4, 4, 4), np.uint8), fps=120))
    _fails(capsys, ["convert", str(fast), str(tmp_path / "out.gif")], "too fast")


def test_bad_preview_background(tmp_path, capsys, src, make_clip):
    _fails(capsys, ["preview", str(src), str(tmp_path / "p.mp4"), "--background", "#12"], "#RRGGBB")
    _fails(capsys, ["preview", str(src), str(tmp_path / "p.mp4"), "--background", "sky"], "neither")
    short = write_video(tmp_path / "short.zip", make_clip(5))
    _fails(capsys, ["preview", str(src), str(tmp_path / "p.mp4"), "--background", str(short)], "5 frames")


# --- the happy paths ------------------------------------------------------------------------------


def test_info_text_and_json(capsys, src):
    assert main(["info", str(src)]) == 0
    text = capsys.readouterr().out
    assert "63x47, 9 frames at 29.97 fps" in text and "semi" in text
    assert main(["info", str(src), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["has_alpha"] and info["format"] == "webm" and info["frames"] == 9


def test_convert_and_preview(tmp_path, capsys, src):
    assert main(["convert", str(src), str(tmp_path / "clip"), "--format", "png"]) == 0
    assert (tmp_path / "clip" / "frame_00008.png").exists()
    assert main(["preview", str(src), str(tmp_path / "p.mp4"), "--side-by-side", "--background", "#00ff00"]) == 0
    assert read_video(tmp_path / "p.mp4", allow_opaque=True).frames.shape == (9, 48, 3 * 63 + 1, 4)


def test_every_flag_is_explained(capsys):
    for command in ("info", "convert", "preview"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        help_text = capsys.readouterr().out
        flags = {"info": ["--json"], "convert": ["--format", "--alpha", "--premultiplied", "--allow-opaque",
                                                 "--quality", "--overwrite", "--premultiplied-output",
                                                 "--stacked-layout", "--columns", "--max-size"],
                 "preview": ["--background", "--side-by-side", "--html", "--overwrite"]}[command]
        for flag in flags:
            assert flag in help_text
