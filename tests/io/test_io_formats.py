"""The destination formats: what `info` says of each, premultiplied output, sprite-sheet layout, the
stacked MP4's layout and tag, and the HTML preview page."""

import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from wan_alpha.cli import main
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import FORMATS, PLAYER, WriteOptions, probe, read_video, write_video
from wan_alpha.io.formats import check_suffix
from wan_alpha.io.stacked import STACKED_H264, stacked_layout

# written as (name, --format) -> what info reports: format, codec, pixel format
INFO = {
    ("a.webm", None): ("webm", "vp9", "yuva420p"),
    ("b.webm", "webm-vp8"): ("webm-vp8", "vp8", "yuva420p"),
    ("a.mov", None): ("mov", "prores", "yuva444p12le"),  # FFmpeg decodes 4444 at 12 bits
    ("b.mov", "mov-png"): ("mov-png", "png", "rgba"),
    ("c.mov", "mov-qtrle"): ("mov-qtrle", "qtrle", "argb"),
    ("a.mp4", "mp4-stacked"): ("mp4-stacked", "h264", "yuv420p"),
    ("e", "exr"): ("exr", "exr", "rgba float16"),
    ("s", "spritesheet"): ("spritesheet", "png", "rgba"),
    ("a.gif", None): ("gif", "gif", "pal8"),
}


@pytest.mark.parametrize("name,fmt", INFO)
def test_info_names_format_codec_and_pixel_format(tmp_path, capsys, clip, name, fmt):
    path = write_video(tmp_path / name, clip, format=fmt)
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["format"], info["codec"], info["pixel_format"]) == INFO[name, fmt]
    assert info["has_alpha"] and info["frames"] == clip.num_frames
    assert info["alpha_stored"] == ("premultiplied" if fmt == "exr" else "straight")


@pytest.mark.parametrize("name,fmt", [("p.mov", "mov-png"), ("q.mov", "mov-qtrle"), ("f", "png"), ("z.zip", "zip"),
                                      ("s", "spritesheet")])
def test_premultiplied_output_is_stored_premultiplied_and_read_back_straight(tmp_path, clip, name, fmt):
    path = write_video(tmp_path / name, clip, format=fmt, options=WriteOptions(premultiplied=True))
    assert probe(path)["alpha_stored"] == "premultiplied"
    stored = read_video(path, allow_opaque=True)  # tagged: read_video already divides; check the file itself
    if fmt in ("mov-png", "mov-qtrle"):
        with av.open(str(path)) as container:
            raw = np.stack([f.to_ndarray(format="rgba") for f in container.decode(video=0)])
        expected = np.rint(clip.rgb.astype(np.float32) * clip.alpha[..., None] / 255)
        assert np.abs(raw[..., :3].astype(int) - expected).max() == 0 and np.array_equal(raw[..., 3], clip.alpha)
    visible = clip.alpha >= 64  # dividing a rounded premultiplied value costs up to 255 / (2 * alpha)
    assert np.array_equal(stored.alpha, clip.alpha)
    assert np.abs(stored.rgb.astype(int) - clip.rgb)[visible].max() <= 2


@pytest.mark.parametrize("name,fmt", [("a.webm", None), ("a.apng", None), ("a.mp4", "mp4-stacked")])
def test_premultiplied_output_is_refused_where_readers_expect_straight(tmp_path, clip, name, fmt):
    with pytest.raises(WanAlphaError, match="straight alpha"):
        write_video(tmp_path / name, clip, format=fmt, options=WriteOptions(premultiplied=True))
    assert not list(tmp_path.iterdir())


def test_spritesheet_layout_json_and_limits(tmp_path, capsys, clip):
    sheet = write_video(tmp_path / "walk", clip, format="spritesheet", options=WriteOptions(columns=4))
    atlas = Image.open(sheet / "sheet.png")
    meta = json.loads((sheet / "sheet.json").read_text())
    assert atlas.size == (4 * clip.width, 3 * clip.height) and atlas.mode == "RGBA"
    rects = [f["frame"] for f in meta["frames"].values()]
    assert rects[5] == {"x": clip.width, "y": clip.height, "w": clip.width, "h": clip.height}
    assert meta["meta"]["fps"] == clip.fps and meta["meta"]["image"] == "sheet.png" and len(rects) == 9
    assert sum(f["duration"] for f in meta["frames"].values()) == round(9 * 1000 / clip.fps)
    square = write_video(tmp_path / "fit", clip, format="spritesheet", options=WriteOptions(max_size=3 * clip.width))
    assert Image.open(square / "sheet.png").size == (3 * clip.width, 3 * clip.height)  # exactly at the limit
    for options in (WriteOptions(max_size=3 * clip.width - 1), WriteOptions(columns=9, max_size=300)):
        with pytest.raises(WanAlphaError, match=f"over --max-size {options.max_size}"):
            write_video(tmp_path / "big", clip, format="spritesheet", options=options)
    assert main(["convert", str(sheet), str(tmp_path / "x"), "--format", "spritesheet", "--columns", "0"]) == 2
    assert "--columns 0" in capsys.readouterr().err


def test_stacked_mp4_right_layout_and_tag(tmp_path, clip):
    path = write_video(tmp_path / "r.mp4", clip, format="mp4-stacked", options=WriteOptions(stacked_layout="right"))
    assert stacked_layout(path) == ("right", clip.width, clip.height)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (2 * (clip.width + 1), clip.height + 1)  # halves padded to even
        assert stream.codec_context.profile == "High"
    back = read_video(path)
    assert back.frames.shape == clip.frames.shape and np.abs(back.alpha.astype(int) - clip.alpha).max() <= 20
    assert STACKED_H264.pix_fmt == "yuv420p"  # what Safari / iOS decode in hardware


def test_a_plain_mp4_is_not_mistaken_for_stacked(tmp_path, clip):
    from wan_alpha.io import write_preview

    path = write_preview(tmp_path / "p.mp4", clip)
    assert stacked_layout(path) is None and not probe(path)["has_alpha"]


def test_html_preview_embeds_the_clip_or_a_webp(tmp_path, capsys, clip):
    assert PLAYER.is_file()  # package data
    stacked = write_video(tmp_path / "a.mp4", clip, format="mp4-stacked")
    mov = write_video(tmp_path / "a.mov", clip)
    for source, kind, mime in [(stacked, "stacked", "video/mp4"), (mov, "image", "image/webp")]:
        page = tmp_path / f"{source.name}.html"
        assert main(["preview", str(source), str(page), "--html", "--background", "#ff00ff"]) == 0
        text = page.read_text()
        config = json.loads(text.split('id="wan-alpha-clip">')[1].split("</script>")[0])
        assert config["kind"] == kind and config["src"].startswith(f"data:{mime};base64,")
        assert config["background"] == "#ff00ff"
    assert config.get("layout") is None
    assert main(["preview", str(mov), str(tmp_path / "p.mp4"), "--html"]) == 2
    assert "name the output p.html" in capsys.readouterr().err
    assert main(["preview", str(mov), str(tmp_path / "q.html"), "--html", "--side-by-side"]) == 2


def test_every_writable_format_names_its_files():
    """generate's batch outputs take each format's suffix; an output must carry it (or be a folder)."""
    suffixes = {name: f.suffix for name, f in FORMATS.items() if f.write}
    assert suffixes == {"webm": ".webm", "webm-vp8": ".webm", "mov": ".mov", "mov-png": ".mov", "mov-qtrle": ".mov",
                        "mp4-stacked": ".mp4", "png": "", "exr": "", "spritesheet": "", "zip": ".zip", "apng": ".apng",
                        "webp": ".webp", "gif": ".gif"}
    for name, suffix in suffixes.items():
        check_suffix(Path("clip" + suffix), FORMATS[name])
