"""What the web app's *Generate* runs, without a browser: the page's values checked into a request, progress through
sampling and decoding, every download format written with its alpha, and the three placements."""

import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from tests.app.alpha import centroid_x
from tests.pipelines.test_image_to_video import sprite
from tests.pipelines.conftest import wan_files  # noqa: F401  (the tiny Wan2.1 + Wan-Alpha files fixture)
from wan_alpha.app.generation import DOWNLOAD_FORMATS, AppModel
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import FORMATS, RGBAVideo, read_video, write_video
from wan_alpha.pipelines import WanAlphaFiles
from wan_alpha.rgba import Ellipse

LEFT = Ellipse(0.25, 0.5, 0.35, 0.6)


@pytest.fixture(scope="module")
def app_model(one_thread):
    return AppModel()  # the embedded model, as `wan-alpha app` without --model


def page_values(**changes):
    """The page's values as they arrive from the browser (numbers as floats), 5 frames of 64x64."""
    values = dict(prompts="a red apple", seed=0.0, steps=4.0, guidance=1.0, frames=5.0, width=64.0, height=64.0,
                  fps=8.0, formats=["webp"], placement="ellipse", ellipse=LEFT, ellipse_end=None, upload=None)
    return {**values, **changes}


def test_every_format_written_with_its_alpha_and_progress_through_decoding(app_model, tmp_path):
    request = app_model.request(**page_values(formats=list(DOWNLOAD_FORMATS), fps=12.0))
    seen = []
    (clip,) = app_model.generate(request, tmp_path, lambda done, what: seen.append((done, what)))
    assert set(clip.files) == set(DOWNLOAD_FORMATS) == {n for n, f in FORMATS.items() if f.write}
    shown = read_video(clip.display)
    alpha = shown.alpha
    assert shown.frames.shape == (5, 64, 64, 4) and shown.fps == pytest.approx(12.0)
    assert 0 < (alpha > 127).mean() < 0.9  # a real matte: neither empty nor full
    for name, path in clip.files.items():
        if FORMATS[name].directory:  # downloaded as a zip of the folder written beside it
            folder = path.with_suffix("")
            assert sorted(zipfile.ZipFile(path).namelist()) == sorted(p.name for p in folder.iterdir()), name
            path = folder
        written = read_video(path, format=name)
        assert written.frames.shape == shown.frames.shape, name
        tolerance = 255 if name == "gif" else 8  # GIF stores 1-bit alpha; the rest 8 or 10 bits (VP9/ProRes lossy)
        assert np.abs(written.alpha.astype(int) - alpha).mean() < (tolerance / 4 if name == "gif" else tolerance), name
    matte = read_video(clip.matte)
    assert (matte.alpha == 255).all() and np.array_equal(matte.rgb[..., 0], alpha)  # opaque grey = the alpha
    fractions = [done for done, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    steps = [what for _, what in seen]
    passes = app_model.pipe.vae.decoder_calls(torch.zeros(1, app_model.pipe.vae.z_dim, 2, 8, 8))  # 5 frames, 64x64
    decoding = [f"decoding {n}/{passes}" for n in range(passes + 1)]
    assert steps == [*(f"sampling step {n}/4" for n in range(1, 5)), *decoding, "writing " + ", ".join(DOWNLOAD_FORMATS),
                     "done"]


def test_several_prompts_get_one_clip_each_with_consecutive_seeds(app_model, tmp_path):
    request = app_model.request(**page_values(prompts="a red apple\n\n  a blue ball \n", seed=7.0))
    clips = app_model.generate(request, tmp_path, lambda done, what: None)
    assert [(c.prompt, c.seed) for c in clips] == [("a red apple", 7), ("a blue ball", 8)]
    assert len({c.files["webp"] for c in clips}) == 2


def test_alpha_video_and_mask_file_placements_steer_the_object(app_model, tmp_path):
    def one_clip(request, folder):
        (tmp_path / folder).mkdir()
        (clip,) = app_model.generate(request, tmp_path / folder, lambda *_: None)
        return clip

    left = one_clip(app_model.request(**page_values()), "ellipse")
    fitted = app_model.request(**page_values(placement="alpha video", upload=str(left.files["webp"]),
                                             ellipse=Ellipse(0.75, 0.5, 0.35, 0.6)))
    assert fitted.ellipse is None  # the uploaded alpha decides, not the sliders
    again = one_clip(fitted, "fitted")
    mask = tmp_path / "right.npy"
    grid = np.zeros((2, 8, 8), np.float32)
    grid[:, 2:6, 5:8] = 1.0  # object on the right of the latent grid
    np.save(mask, grid)
    right = one_clip(app_model.request(**page_values(placement="mask file", upload=str(mask))), "mask")

    assert centroid_x(read_video(again.display).alpha) < 0.5 < centroid_x(read_video(right.display).alpha)


def test_end_ellipse_moves_the_object_over_the_clip(app_model, tmp_path):
    request = app_model.request(**page_values(frames=9.0, ellipse_end=Ellipse(0.75, 0.5, 0.35, 0.6)))
    (clip,) = app_model.generate(request, tmp_path, lambda *_: None)
    alpha = read_video(clip.display).alpha
    assert centroid_x(alpha[:1]) < 0.45 < 0.55 < centroid_x(alpha[-1:])


@pytest.mark.parametrize("changes, message", [
    (dict(prompts=" \n "), "no prompt given"),
    (dict(formats=[]), "no output format chosen"),
    (dict(formats=["avi"]), "unknown format 'avi'"),
    (dict(frames=6.0), "6 frames"),
    (dict(width=72.0), "not a multiple of 16"),
    (dict(steps=2.5), "steps must be a whole number"),
    (dict(fps=0.0), "fps must be a positive number"),
    (dict(placement="mask file"), "needs a file"),
    (dict(placement="somewhere"), "unknown placement"),
])
def test_bad_page_values_are_refused_with_the_fix(app_model, changes, message):
    with pytest.raises(WanAlphaError, match=message):
        app_model.request(**page_values(**changes))


def test_model_choice_is_checked_before_loading(tmp_path):
    with pytest.raises(WanAlphaError, match="not both"):
        AppModel(tmp_path, WanAlphaFiles(tmp_path, tmp_path / "decoder.bin"))
    with pytest.raises(WanAlphaError, match="--vae-file .* does not exist"):
        AppModel(wan_files=WanAlphaFiles(tmp_path, tmp_path / "decoder.bin"))


def test_real_scale_files_load_as_the_cli_loads_them(wan_files, tmp_path, one_thread):  # noqa: F811
    root, _ = wan_files
    save_file({"blocks.0.self_attn.q.lora_down.weight": torch.randn(2, 32) * 0.01,
               "blocks.0.self_attn.q.lora_up.weight": torch.randn(32, 2) * 0.01}, tmp_path / "distill.safetensors")
    model = AppModel(wan_files=WanAlphaFiles(root, root / "decoder.safetensors", root / "t2v.safetensors",
                                             distill_lora=tmp_path / "distill.safetensors"))
    assert model.pipe.config.num_inference_steps == 4 and model.size_multiple == 16  # the distill recipe
    request = model.request(**page_values(width=32.0, height=32.0, steps=float(model.pipe.config.num_inference_steps)))
    (clip,) = model.generate(request, tmp_path, lambda *_: None)
    assert read_video(clip.files["webp"]).frames.shape == (5, 32, 32, 4)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """An RGBA sprite, the same without alpha, and clips of it (9 frames 64x64, 9 frames 72x64, 6 frames 64x64)."""
    folder = tmp_path_factory.mktemp("inputs")
    files = {"sprite": folder / "sprite.png", "rgb": folder / "rgb.png"}
    Image.fromarray(sprite()).save(files["sprite"])
    Image.fromarray(sprite()[..., :3]).save(files["rgb"])
    for name, frames in {"clip": np.stack([np.roll(sprite(), 2 * t, axis=1) for t in range(9)]),
                         "wide": np.stack([np.pad(sprite(), ((0, 0), (0, 8), (0, 0)))] * 9),
                         "six": np.stack([sprite()] * 6)}.items():
        files[name] = write_video(folder / f"{name}.webp", RGBAVideo(frames, 8.0))
    return files


def from_input(**changes):
    """Page values starting from an image or clip: the ellipse fitted to its alpha, 2 steps."""
    return page_values(**{"placement": "input's alpha", "steps": 2.0, **changes})


def test_image_start_makes_frame_0_the_image_round_trip_at_its_size(app_model, inputs, tmp_path):
    request = app_model.request(**from_input(start="image", image=inputs["sprite"], width=128.0, frames=9.0))
    assert (request.width, request.height, request.ellipse) == (64, 64, None)  # the image's size and alpha decide
    (clip,) = app_model.generate(request, tmp_path, lambda *_: None)
    shown = read_video(clip.display)
    assert shown.frames.shape == (9, 64, 64, 4)
    pipe = app_model.pipe
    with torch.no_grad():
        rgb, alpha = pipe.vae.decode(pipe.encode_frames(sprite()[None]))
    alpha_round_trip = (alpha[0, 0, 0].clamp(0, 1) * 255).numpy()
    rgb_round_trip = ((rgb[0, :, 0].clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).numpy()
    assert np.abs(shown.alpha[0] - alpha_round_trip).max() <= 2  # the lossless WebP rounds to uint8
    opaque = shown.alpha[0] > 127
    assert np.abs(shown.rgb[0][opaque] - rgb_round_trip[opaque]).mean() < 2
    assert np.abs(shown.alpha[0].astype(int) - sprite()[..., 3]).mean() < 25  # and close to the input itself


def test_clip_start_keeps_its_shape_and_extend_appends_to_it(app_model, inputs, tmp_path):
    restyled = app_model.request(**from_input(start="clip", clip=inputs["clip"], strength=0.5, frames=5.0))
    assert restyled.frames == 9  # the clip's length, not the page's
    (tmp_path / "restyled").mkdir()
    (clip,) = app_model.generate(restyled, tmp_path / "restyled", lambda *_: None)
    assert read_video(clip.display).frames.shape == (9, 64, 64, 4)

    extension = app_model.request(**from_input(start="extend", clip=inputs["clip"], frames=9.0))
    (tmp_path / "extended").mkdir()
    (clip,) = app_model.generate(extension, tmp_path / "extended", lambda *_: None)
    joined, original = read_video(clip.display), read_video(inputs["clip"])
    assert joined.frames.shape == (9 - 5 + 9, 64, 64, 4)  # the clip, its last 5 frames re-created, 4 new ones
    assert np.array_equal(joined.frames[:9], original.frames)  # the clip itself untouched


@pytest.mark.parametrize("changes, message", [
    (dict(start="image", image="rgb"), "rgb.png has no alpha channel"),
    (dict(start="image", image=None), "starting from an image needs one"),
    (dict(start="clip", clip="clip", strength=0.0), r"strength must be in \(0, 1\]"),
    (dict(start="clip", clip="clip", strength=1.5), r"strength must be in \(0, 1\]"),
    (dict(start="clip", clip="wide"), "the input image/video size 72x64 is not a multiple of 16"),
    (dict(start="clip", clip="six"), "6 frames, not 1 \\+ 4k"),
    (dict(start="extend", clip="clip", frames=5.0), "5 first frames leave nothing to generate"),
    (dict(start="text"), "placement 'input's alpha' needs an image or a clip"),
])
def test_bad_start_inputs_are_refused_naming_the_field(app_model, inputs, changes, message):
    changes = {k: inputs[v] if k in ("image", "clip") and v else v for k, v in changes.items()}
    with pytest.raises(WanAlphaError, match=message):
        app_model.request(**from_input(**changes))


def test_an_image_without_alpha_is_accepted_when_marked_opaque(app_model, inputs):
    request = app_model.request(**from_input(start="image", image=inputs["rgb"], opaque_image=True))
    assert (request.inputs["image"].alpha == 255).all()
