"""Every writable format: write the synthetic clip, read it back, check what each format promises."""

import av
import numpy as np
import pytest

from wan_alpha.io import FORMATS, RGBAVideo, read_video, write_video
from wan_alpha.io.animated import GIF_ALPHA_THRESHOLD

# format -> (file name, max alpha error, max colour error where alpha > 0)
EXPECTED = {
    "png": ("clip", 0, 0),
    "zip": ("clip.zip", 0, 0),
    "apng": ("clip.apng", 0, 0),
    "mov-png": ("clip.mov", 0, 0),
    "mov-qtrle": ("clip.mov", 0, 0),
    "exr": ("clip", 0, 0),
    "spritesheet": ("clip", 0, 0),
    "webp": ("clip.webp", 0, 0),
    "mov": ("clip.mov", 1, 2),
    "webm": ("clip.webm", 8, 10),
    "webm-vp8": ("clip.webm", 8, 8),
    "mp4-stacked": ("clip.mp4", 20, 12),
}


def _round_trip(tmp_path, clip: RGBAVideo, name: str, fmt: str | None = None) -> RGBAVideo:
    out = write_video(tmp_path / name, clip, format=fmt)
    assert out == tmp_path / name and out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary left behind
    return read_video(out)


def _errors(back: RGBAVideo, clip: RGBAVideo) -> tuple[int, int]:
    diff = np.abs(back.frames.astype(int) - clip.frames.astype(int))
    return diff[..., 3].max(), diff[..., :3][clip.alpha > 0].max()


def test_every_writable_format_is_covered():
    assert {n for n, f in FORMATS.items() if f.write} == set(EXPECTED) | {"gif"}


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_round_trip(tmp_path, clip, fmt):
    name, max_alpha_err, max_rgb_err = EXPECTED[fmt]
    back = _round_trip(tmp_path, clip, name, fmt)
    assert back.frames.shape == clip.frames.shape  # frame count and odd size kept
    assert back.fps == clip.fps  # exactly, 30000/1001 included
    alpha_err, rgb_err = _errors(back, clip)
    assert alpha_err <= max_alpha_err and rgb_err <= max_rgb_err, (alpha_err, rgb_err)
    assert FORMATS[fmt].lossless == (max_alpha_err == max_rgb_err == 0)


@pytest.mark.parametrize("fmt", ["png", "zip", "apng", "mov-png", "mov-qtrle", "spritesheet"])
def test_lossless_formats_keep_colour_under_transparent_pixels(tmp_path, clip, fmt):
    back = _round_trip(tmp_path, clip, EXPECTED[fmt][0], fmt)
    assert np.array_equal(back.frames, clip.frames)


def test_gif_alpha_is_binary_at_the_documented_threshold(tmp_path, clip):
    back = _round_trip(tmp_path, clip, "clip.gif")
    assert back.frames.shape == clip.frames.shape and back.fps == clip.fps
    opaque = clip.alpha >= GIF_ALPHA_THRESHOLD
    assert np.array_equal(back.alpha, np.where(opaque, 255, 0))
    colour_err = np.abs(back.rgb.astype(int) - clip.rgb.astype(int))[opaque]
    assert colour_err.max() <= 16 and colour_err.mean() < 2  # palette quantisation only


@pytest.mark.parametrize("fps", [12.0, 24.0, 7.5])
def test_animated_formats_keep_other_frame_rates(tmp_path, fps):
    frames = np.zeros((5, 2, 3, 4), np.uint8)
    frames[...] = (np.arange(5, dtype=np.uint8) * 50)[:, None, None, None]  # every frame different
    clip = RGBAVideo(frames, fps)
    for name in ("c.gif", "c.webp", "c.apng"):
        back = read_video(write_video(tmp_path / name, clip))
        assert back.fps == fps and back.num_frames == 5, name


def test_webm_stores_alpha_as_vp9_alpha_layer(tmp_path, clip):
    """Other players find the alpha only via the alpha_mode flag; FFmpeg's vp9 decoder drops it."""
    path = write_video(tmp_path / "clip.webm", clip)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "vp9"
        assert {k.lower(): v for k, v in stream.metadata.items()}.get("alpha_mode") == "1"
        native = next(container.decode(stream))
        assert native.format.name == "yuv420p"  # why read_video uses libvpx instead


def test_webm_quality_sets_crf(tmp_path, clip):
    small = write_video(tmp_path / "small.webm", clip, quality=50).stat().st_size
    large = write_video(tmp_path / "large.webm", clip, quality=5).stat().st_size
    assert small < large


def test_lossy_webp_keeps_alpha_lossless(tmp_path, clip):
    back = read_video(write_video(tmp_path / "clip.webp", clip, quality=60))
    assert np.array_equal(back.alpha, clip.alpha)
