"""``wan-alpha mask fit | draw`` on the latent grid of a model's VAE."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.tiny import VAE_STRIDE_4, tiny_vae
from wan_alpha import EMBEDDED_MODEL
from wan_alpha.cli import main
from wan_alpha.cli.masks import draw_mask_file, fit_mask_file, model_mask_fit, model_patch, model_stride
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import RGBAVideo, write_video
from wan_alpha.io.masks import load_mask, read_matte
from wan_alpha.sampling import DEFAULT_ELLIPSE, fit_alpha_ellipses, masks_from_alpha, render_ellipses
from wan_alpha.rgba import Ellipse


def alpha_clip(frames=9, height=64, width=96, box=(24, 48, 16, 40)):
    rgba = np.zeros((frames, height, width, 4), np.uint8)
    y0, y1, x0, x1 = box
    rgba[:, y0:y1, x0:x1] = (200, 100, 50, 255)
    return RGBAVideo(rgba, 16)


def test_ellipses_fitted_to_an_alpha_video_draw_on_any_grid(tmp_path):
    write_video(tmp_path / "a.zip", alpha_clip())
    own = masks_from_alpha(read_matte(tmp_path / "a.zip"), stride=8)
    assert own.shape == (1, 1, 3, 8, 12)
    iy, ix = divmod(int(own[0, 0, 0].argmax()), 12)
    assert (iy, ix) == (4, 3)  # box centre (36, 28) px -> latent cells 3..5 x 2..4 -> centre (4, 3)
    (ellipses,) = fit_alpha_ellipses(read_matte(tmp_path / "a.zip"), stride=8)
    double = render_ellipses(ellipses, 16, 24)  # same fractions on a finer grid, as generate --mask-from draws them
    iy, ix = divmod(int(double[0, 0, 0].argmax()), 24)
    assert abs(iy + 0.5 - 9) <= 1 and abs(ix + 0.5 - 7) <= 1


def test_fit_and_draw_commands_write_mask_and_preview(tmp_path):
    write_video(tmp_path / "a.zip", alpha_clip())
    fit = fit_mask_file(tmp_path / "a.zip", tmp_path / "fit.npy", stride=8, preview=tmp_path / "fit.png")
    assert torch.equal(load_mask(tmp_path / "fit.npy"), fit)
    assert Image.open(tmp_path / "fit.png").size == (3 * 12 * 8 + 2 * 2, 8 * 8)
    drawn = draw_mask_file("0.2,0.5,0.3,0.3", tmp_path / "d.pt", frames=17, size="48x32", stride=8,
                           ellipse_end=Ellipse(0.8, 0.5, 0.3, 0.3))
    assert drawn.shape == (1, 1, 5, 4, 6)
    with pytest.raises(WanAlphaError, match="1 \\+ 4k"):
        draw_mask_file(DEFAULT_ELLIPSE, tmp_path / "e.npy", frames=16, size=(48, 32), stride=8)
    with pytest.raises(WanAlphaError, match="multiple of 16 .*use e.g. 48x32"):  # what generate needs, not just 8
        draw_mask_file(DEFAULT_ELLIPSE, tmp_path / "e.npy", frames=17, size="48x30", stride=8)
    with pytest.raises(WanAlphaError, match="multiple of 16"):
        draw_mask_file(DEFAULT_ELLIPSE, tmp_path / "e.npy", frames=17, size="40x40", stride=8)
    with pytest.raises(WanAlphaError, match="WIDTHxHEIGHT"):
        draw_mask_file(DEFAULT_ELLIPSE, tmp_path / "e.npy", frames=17, size="48*30", stride=8)
    # an existing preview is refused before anything is written
    with pytest.raises(WanAlphaError, match="exists"):
        draw_mask_file(DEFAULT_ELLIPSE, tmp_path / "new.npy", frames=5, size="48x32", stride=8,
                       preview=tmp_path / "fit.png")
    assert not (tmp_path / "new.npy").exists()


def test_the_stride_is_read_from_the_model(tmp_path):
    assert model_stride(EMBEDDED_MODEL) == 8
    tiny_vae(VAE_STRIDE_4).save_pretrained(tmp_path / "x4" / "vae")  # a wan-alpha folder: its RGBA VAE's base config
    assert model_stride(tmp_path / "x4") == 4
    (tmp_path / "wan" / "vae").mkdir(parents=True)  # a Wan2.1 diffusers folder: the VAE's own config
    (tmp_path / "wan" / "vae" / "config.json").write_text(json.dumps({"temperal_downsample": [True, True]}))
    assert model_stride(tmp_path / "wan") == 4
    (tmp_path / "original").mkdir()  # the original layout: Wan2.1's VAE
    assert model_stride(tmp_path / "original") == 8
    with pytest.raises(WanAlphaError, match="not a folder"):
        model_stride(tmp_path / "missing")


def test_mask_draw_takes_the_sizes_generate_takes(tmp_path, capsys):
    assert model_patch(EMBEDDED_MODEL) == 2
    with pytest.raises(SystemExit):
        main(["mask", "draw", "--help"])
    multiple = model_stride(EMBEDDED_MODEL) * model_patch(EMBEDDED_MODEL)
    assert f"({multiple} for the embedded model and Wan2.1)" in " ".join(capsys.readouterr().out.split())
    (tmp_path / "wan").mkdir()  # the original layout names the patch in its config.json
    (tmp_path / "wan" / "config.json").write_text(json.dumps({"patch_size": [1, 4, 4]}))
    assert model_patch(tmp_path / "wan") == 4 and model_patch(tmp_path) == 2  # no config: Wan2.1's
    draw = ["mask", "draw", "--ellipse", "0.5,0.5,0.4,0.4", "--frames", "5", "-o"]
    assert main([*draw, str(tmp_path / "a.npy"), "--size", "40x40"]) == 2
    assert "not a multiple of 16 (VAE stride 8 x patch 2): use e.g. 32x32" in capsys.readouterr().err
    assert not (tmp_path / "a.npy").exists()
    assert main([*draw, str(tmp_path / "a.npy"), "--size", "48x32"]) == 0
    assert load_mask(tmp_path / "a.npy").shape == (1, 1, 2, 4, 6)
    # without --frames and --size: the clip the model generates by default
    index = json.loads((EMBEDDED_MODEL / "model_index.json").read_text())
    assert main(["mask", "draw", "--ellipse", "0.5,0.5,0.4,0.4", "-o", str(tmp_path / "b.npy")]) == 0
    assert load_mask(tmp_path / "b.npy").shape == (1, 1, (index["default_num_frames"] - 1) // 4 + 1,
                                                   index["default_height"] // 8, index["default_width"] // 8)
    assert main(["mask", "draw", "--ellipse", "0.5,0.5,0.4,0.4", "--model", str(tmp_path / "wan"), "-o", "c.npy"]) == 2
    assert "names no default clip (not a wan-alpha folder): give --frames and --size" in capsys.readouterr().err



def test_the_mask_fit_is_the_one_the_model_was_trained_with(tmp_path):
    assert model_mask_fit(EMBEDDED_MODEL) == "moments"  # the shipped tiny model's training masks
    assert model_mask_fit(tmp_path) == "reference"  # Wan2.1 files: the published weights' fit
    write_video(tmp_path / "a.zip", alpha_clip())
    moments = fit_mask_file(tmp_path / "a.zip", tmp_path / "m.npy", stride=8, fit="moments")
    reference = fit_mask_file(tmp_path / "a.zip", tmp_path / "r.npy", stride=8, fit="reference")
    assert moments.shape == reference.shape and not torch.allclose(moments, reference, atol=0.05)
