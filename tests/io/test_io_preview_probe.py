"""Previews, probe and the read options (premultiplied input, opaque input)."""

import av
import numpy as np

from wan_alpha.io import RGBAVideo, probe, read_video, write_preview, write_video
from wan_alpha.io.preview import pad_to_even, preview_frames
from wan_alpha.rgba import composite, premultiply


def test_checker_preview_is_the_composite_padded_to_even(tmp_path, clip):
    path = write_preview(tmp_path / "p.mp4", clip)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    back = read_video(path, allow_opaque=True)
    assert back.frames.shape == (9, 48, 64, 4) and back.fps == clip.fps
    expected = pad_to_even(composite(clip.frames))
    assert np.abs(back.rgb.astype(int) - expected.astype(int)).mean() < 2  # H.264 loss only
    assert np.array_equal(expected[:, -1], expected[:, -2])  # padding repeats the edge row


def test_side_by_side_is_rgb_alpha_composite(clip):
    frames = preview_frames(clip, background="#ff0000", layout="side-by-side")
    w = clip.width
    assert frames.shape == (9, 47, 3 * w, 3)
    assert np.array_equal(frames[..., :w, :], clip.rgb)
    assert np.array_equal(frames[..., w : 2 * w, 1], clip.alpha)
    assert np.array_equal(frames[..., 2 * w :, :], composite(clip.frames, np.array([1.0, 0.0, 0.0])))


def test_video_background(tmp_path, clip):
    plate = np.zeros_like(clip.frames)
    plate[..., 2] = plate[..., 3] = 255  # opaque blue
    background = write_video(tmp_path / "bg.zip", RGBAVideo(plate, clip.fps))
    frames = preview_frames(clip, background=str(background))
    transparent = clip.alpha == 0
    assert (frames[transparent] == [0, 0, 255]).all()


def test_probe_reports_alpha_regions(tmp_path, clip):
    info = probe(write_video(tmp_path / "clip.apng", clip))
    assert (info["width"], info["height"], info["frames"], info["fps"]) == (63, 47, 9, clip.fps)
    assert info["format"] == "apng" and info["codec"] == "apng" and info["has_alpha"]
    a = info["alpha"]
    alpha = clip.alpha / 255
    assert a["transparent"] == (alpha == 0).mean() and a["opaque"] == (alpha == 1).mean()
    assert abs(a["transparent"] + a["semi"] + a["opaque"] - 1) < 1e-9
    assert (a["min"], a["max"]) == (0.0, 1.0) and abs(a["mean"] - alpha.mean()) < 1e-6
    assert len(a["histogram"]["shares"]) == 10 and abs(sum(a["histogram"]["shares"]) - 1) < 1e-9


def test_probe_of_opaque_file_says_so(tmp_path, clip):
    info = probe(write_preview(tmp_path / "p.mp4", clip))
    assert not info["has_alpha"] and info["alpha"]["opaque"] == 1.0


def test_premultiplied_input_is_unpremultiplied(tmp_path, clip):
    x = clip.frames.astype(np.float32) / 255
    premul = clip.frames.copy()
    premul[..., :3] = np.rint(premultiply(x[..., :3], x[..., 3:]) * 255)
    path = write_video(tmp_path / "premul.zip", RGBAVideo(premul, clip.fps))
    back = read_video(path, premultiplied=True)
    assert np.array_equal(back.alpha, clip.alpha)
    solid = clip.alpha >= 64  # rounding of the premultiplied value costs up to 255 / (2 * alpha)
    assert np.abs(back.rgb.astype(int) - clip.rgb.astype(int))[solid].max() <= 3
    assert (back.rgb[clip.alpha == 0] == 0).all()
