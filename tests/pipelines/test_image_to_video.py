"""The image, video and extend modes with the embedded tiny model (64x64, few frames and steps: ~seconds each)."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wan_alpha.cli import main
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import RGBAVideo, read_video, write_video
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.pipelines.conditioning import join_extension

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pipe():
    pipe = WanAlphaPipeline.from_pretrained()  # no argument: the embedded model
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sprite(size=64, left=8) -> np.ndarray:
    """A red disc with a soft edge left of centre on a transparent canvas, uint8 (size, size, 4)."""
    y, x = np.mgrid[:size, :size]
    r = np.hypot(x - left - 12, y - size / 2)
    frame = np.zeros((size, size, 4), np.uint8)
    frame[..., 0], frame[..., 1], frame[..., 2] = 220, 40, 30
    frame[..., 3] = np.clip((14 - r) * 80, 0, 255).astype(np.uint8)
    return frame


def run(pipe, seed=0, **kwargs):
    kwargs.setdefault("num_inference_steps", 2)
    return pipe("a red ball bouncing", generator=torch.Generator().manual_seed(seed), **kwargs)


def test_the_embedded_model_loads_without_arguments(pipe):
    assert pipe.config.default_height == 128 and pipe.config.text_encoder_kind == "minilm"


def test_image_mode_starts_on_the_image_and_fits_the_ellipse_to_it(pipe):
    image = sprite()
    latents = []
    out = run(pipe, image=image, num_frames=5,
              callback_on_step_end=lambda p, i, t, kw: latents.append(kw["latents"].clone()) or {})
    assert out.rgb.shape == (1, 3, 5, 64, 64) and out.alpha.shape == (1, 1, 5, 64, 64)
    clean = pipe.encode_frames(image[None])
    assert torch.equal(latents[-1][:, :, :1], clean)  # the last step leaves latent frame 0 exactly the image's
    rgb_rt, alpha_rt = pipe.vae.decode(clean)
    # frame 0 is the VAE's round trip of the image (the causal decoder decodes it from latent frame 0 alone)
    assert torch.allclose(out.alpha[:, :, 0], alpha_rt[:, :, 0].clamp(0, 1), atol=1e-4)
    assert torch.allclose(out.rgb[:, :, 0], rgb_rt[:, :, 0].clamp(-1, 1), atol=1e-4)
    assert (out.alpha[0, 0, 0] - torch.from_numpy(image[..., 3] / 255)).abs().mean() < 0.1  # close to the input
    column = out.mask[0, 0, 0].sum(0)  # the default ellipse is fitted to the image: left of centre
    assert column.argmax() < out.mask.shape[-1] // 2


def test_last_image_pins_the_last_latent_frame(pipe):
    image, last = sprite(left=8), sprite(left=32)
    latents = []
    out = run(pipe, image=image, last_image=last, num_frames=9,
              callback_on_step_end=lambda p, i, t, kw: latents.append(kw["latents"].clone()) or {})
    still = pipe.encode_frames(np.repeat(last[None], 5, axis=0))
    assert torch.equal(latents[-1][:, :, -1:], still[:, :, -1:]) and out.rgb.shape[2] == 9
    assert out.mask[0, 0, 0].sum(0).argmax() < out.mask[0, 0, -1].sum(0).argmax()  # the ellipse moves along


def test_video_mode_keeps_the_clip_at_low_strength(pipe):
    frames = np.stack([np.roll(sprite(), 2 * t, axis=1) for t in range(5)])
    alpha_in = torch.from_numpy(frames[..., 3] / 255).float() >= 0.5

    def iou(strength):
        alpha = run(pipe, video=RGBAVideo(frames, 8), strength=strength).alpha[0, 0] >= 0.5
        return float((alpha & alpha_in).sum() / (alpha | alpha_in).sum())

    low, full = iou(0.2), iou(1.0)
    assert low > 0.5 and low > full  # measured 0.9 / 0.0


@pytest.mark.parametrize("kwargs,match", [
    (dict(image=Image.new("RGB", (64, 64))), "no alpha channel"),
    (dict(image=np.zeros((64, 64, 3), np.uint8)), "must be RGBA"),
    (dict(image=sprite()[:, :56]), r"56x64 is not a multiple of 16.*crop or resize"),
    (dict(image=sprite(), height=128), "64x64 but the clip asked for is 64x128"),
    (dict(image=np.zeros((64, 64, 4), np.uint8)), "fully transparent"),
    (dict(image=sprite(), video=sprite()), "cannot be combined"),
    (dict(first_frames=np.stack([sprite()] * 5), num_frames=5), "nothing to generate"),
    (dict(video=np.stack([sprite()] * 6)), "trim it to 5 frames"),
    (dict(video=np.stack([sprite()] * 5), num_frames=9), "keeps the clip's length"),
    (dict(video=sprite(), strength=0.0), r"\(0, 1\]"),
    (dict(video=sprite(), strength=1.5), r"\(0, 1\]"),
    (dict(image=sprite(), strength=0.5), "strength applies to a video"),
])
def test_bad_inputs_are_refused_with_a_clear_message(pipe, kwargs, match):
    with pytest.raises(WanAlphaError, match=match):
        run(pipe, **kwargs)


def test_cli_image_needs_alpha_a_matte_or_the_opaque_flag(tmp_path, capsys):
    Image.fromarray(sprite()[..., :3]).save(tmp_path / "rgb.png")
    Image.fromarray(sprite()[..., 3]).save(tmp_path / "matte.png")
    base = ["generate", "a ball", "--image", str(tmp_path / "rgb.png"), "--frames", "5", "--steps", "1"]
    assert main([*base, "-o", str(tmp_path / "a.zip")]) == 2
    assert "--image-alpha MATTE, or --opaque-image" in capsys.readouterr().err
    assert main([*base, "--image-alpha", str(tmp_path / "matte.png"), "-o", str(tmp_path / "b.zip")]) == 0
    assert read_video(tmp_path / "b.zip").frames.shape == (5, 64, 64, 4)
    assert main(["generate", "x", "--video", str(tmp_path / "b.zip"), "--strength", "2", "-o", str(tmp_path / "c.zip")]) == 2
    assert "(0, 1]" in capsys.readouterr().err


def test_cli_extend_appends_the_continuation_to_the_untouched_clip(tmp_path, capsys):
    clip = RGBAVideo(np.stack([np.roll(sprite(), 2 * t, axis=1) for t in range(9)]), 8)
    write_video(tmp_path / "clip.zip", clip)
    code = main(["generate", "a red ball rolling", "--extend", str(tmp_path / "clip.zip"), "--frames", "9", "--steps", "1",
                 "-o", str(tmp_path / "longer.zip")])
    assert code == 0, capsys.readouterr().err
    joined = read_video(tmp_path / "longer.zip")
    assert joined.frames.shape == (13, 64, 64, 4)  # 9 + (9 - 5 context frames)
    assert np.array_equal(joined.frames[:9], clip.frames)


def test_the_crossfade_moves_from_the_clip_to_its_re_creation():
    rng = np.random.default_rng(0)
    clip = RGBAVideo(rng.integers(0, 256, (9, 8, 8, 4), dtype=np.uint8), 8)
    recreated = np.concatenate([np.full((5, 8, 8, 4), 255, np.uint8), rng.integers(0, 256, (4, 8, 8, 4), dtype=np.uint8)])
    cut = join_extension(clip, RGBAVideo(recreated, 8), overlap=5)
    faded = join_extension(clip, RGBAVideo(recreated, 8), overlap=5, crossfade=True)
    assert np.array_equal(cut.frames, np.concatenate([clip.frames, recreated[5:]]))
    assert np.array_equal(faded.frames[:4], clip.frames[:4]) and np.array_equal(faded.frames[9:], recreated[5:])
    alpha = faded.frames[4:9, ..., 3].astype(int)  # weights 1/6 .. 5/6 towards the (opaque white) re-creation
    expected = np.rint(clip.frames[4:9, ..., 3] * (1 - np.arange(1, 6)[:, None, None] / 6) + 255 * np.arange(1, 6)[:, None, None] / 6)
    assert np.abs(alpha - expected).max() <= 1


def test_the_readme_python_snippet_runs(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    snippet = re.search(r"### Python API\n\n```python\n(.*?)```", readme, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    assert read_video(tmp_path / "smoke.webm").frames.shape == (9, 64, 64, 4)
    assert namespace["out"].frames.shape == (1, 9, 64, 64, 4) and namespace["ball"].frames.shape == (9, 64, 64, 4)
