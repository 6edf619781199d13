import numpy as np
import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.io import RGBAVideo, write_video
from wan_alpha.rgba import DEFAULT_ELLIPSE, Ellipse, ellipse_masks
from wan_alpha.sampling.masks import (
    draw_mask_file,
    fit_mask_file,
    load_mask,
    masks_from_alpha_video,
    resolve_mask,
    save_mask,
    save_mask_preview,
)


def alpha_clip(frames=9, height=64, width=96, box=(24, 48, 16, 40)):
    rgba = np.zeros((frames, height, width, 4), np.uint8)
    y0, y1, x0, x1 = box
    rgba[:, y0:y1, x0:x1] = (200, 100, 50, 255)
    return RGBAVideo(rgba, 16)


def test_default_mask_is_the_centred_ellipse():
    mask = resolve_mask(3, 4, 6)
    assert mask.shape == (1, 1, 3, 4, 6)
    assert torch.equal(mask, ellipse_masks(DEFAULT_ELLIPSE, None, 3, 4, 6))


def test_mask_with_wrong_latent_frames_or_size_is_refused():
    with pytest.raises(WanAlphaError, match=r"has 2 latent frames \(5 video frames\).*has 3 \(9 frames\)"):
        resolve_mask(3, 4, 6, mask=torch.zeros(2, 4, 6))
    with pytest.raises(WanAlphaError, match="latent cells"):
        resolve_mask(3, 4, 6, mask=torch.zeros(3, 4, 4))
    with pytest.raises(WanAlphaError, match=r"in \[0, 1\]"):
        resolve_mask(3, 4, 6, mask=torch.full((3, 4, 6), 2.0))
    with pytest.raises(WanAlphaError, match="not both"):
        resolve_mask(3, 4, 6, mask=torch.zeros(3, 4, 6), ellipse=DEFAULT_ELLIPSE)
    with pytest.raises(WanAlphaError, match="start ellipse"):
        resolve_mask(3, 4, 6, ellipse_end=DEFAULT_ELLIPSE)


@pytest.mark.parametrize("name", ["mask.npy", "mask.pt", "mask.zip"])
def test_mask_files_round_trip(tmp_path, name):
    mask = ellipse_masks(Ellipse(0.3, 0.5, 0.4, 0.3, 20), Ellipse(0.7, 0.5, 0.4, 0.3, 20), 3, 8, 12)
    save_mask(tmp_path / name, mask)
    back = load_mask(tmp_path / name)
    assert back.shape == (1, 1, 3, 8, 12) and back.dtype == torch.float32
    assert torch.allclose(back, mask, atol=1 / 255 if name.endswith(".zip") else 0)
    with pytest.raises(WanAlphaError, match="exists"):
        save_mask(tmp_path / name, mask)


def test_bad_mask_files(tmp_path):
    with pytest.raises(WanAlphaError, match="does not exist"):
        load_mask(tmp_path / "none.npy")
    torch.save({"a": torch.zeros(1)}, tmp_path / "dict.pt")
    with pytest.raises(WanAlphaError, match="not a mask tensor"):
        load_mask(tmp_path / "dict.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(WanAlphaError, match="cannot read"):
        load_mask(tmp_path / "junk.pt")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(WanAlphaError, match=r"shaped \(F, h, w\)"):
        load_mask(tmp_path / "flat.npy")


def test_masks_from_an_alpha_video_on_any_grid(tmp_path):
    write_video(tmp_path / "a.zip", alpha_clip())
    own = masks_from_alpha_video(tmp_path / "a.zip")
    assert own.shape == (1, 1, 3, 8, 12)
    iy, ix = divmod(int(own[0, 0, 0].argmax()), 12)
    assert (iy, ix) == (4, 3)  # box centre (36, 28) px -> latent cells 3..5 x 2..4 -> centre (4, 3)
    # a grayscale matte (no alpha channel: white = opaque) gives the same masks
    matte = alpha_clip().frames.copy()
    matte[..., :3] = matte[..., 3:]
    matte[..., 3] = 255
    write_video(tmp_path / "matte.zip", RGBAVideo(matte, 16))
    assert torch.equal(masks_from_alpha_video(tmp_path / "matte.zip"), own)
    double = masks_from_alpha_video(tmp_path / "a.zip", height=16, width=24)  # same fractions, finer grid
    iy, ix = divmod(int(double[0, 0, 0].argmax()), 24)
    assert abs(iy + 0.5 - 9) <= 1 and abs(ix + 0.5 - 7) <= 1


def test_fit_and_draw_commands_write_mask_and_preview(tmp_path):
    write_video(tmp_path / "a.zip", alpha_clip())
    fit = fit_mask_file(tmp_path / "a.zip", tmp_path / "fit.npy", preview=tmp_path / "fit.png")
    assert torch.equal(load_mask(tmp_path / "fit.npy"), fit)
    from PIL import Image

    assert Image.open(tmp_path / "fit.png").size == (3 * 12 * 8 + 2 * 2, 8 * 8)
    drawn = draw_mask_file("0.2,0.5,0.3,0.3", tmp_path / "d.pt", frames=17, size="48x32",
                           ellipse_end=Ellipse(0.8, 0.5, 0.3, 0.3))
    assert drawn.shape == (1, 1, 5, 4, 6)
    with pytest.raises(WanAlphaError, match="1 \\+ 4k"):
        draw_mask_file(DEFAULT_ELLIPSE, tmp_path / "e.npy", frames=16, size=(48, 32))
    with pytest.raises(WanAlphaError, match="multiple of 8"):
        draw_mask_file(DEFAULT_ELLIPSE, tmp_path / "e.npy", frames=17, size="48x30")
    with pytest.raises(WanAlphaError, match="WIDTHxHEIGHT"):
        draw_mask_file(DEFAULT_ELLIPSE, tmp_path / "e.npy", frames=17, size="48*30")
    with pytest.raises(WanAlphaError, match=".png"):
        save_mask_preview(tmp_path / "p.jpg", drawn)
    # an existing preview is refused before anything is written
    with pytest.raises(WanAlphaError, match="exists"):
        draw_mask_file(DEFAULT_ELLIPSE, tmp_path / "new.npy", frames=5, size="48x32", preview=tmp_path / "fit.png")
    assert not (tmp_path / "new.npy").exists()
