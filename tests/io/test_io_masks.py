"""Mask files (.npy, .pt, a grayscale video) round trip; bad files are named; a matte reads as alpha."""

import numpy as np
import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.io import RGBAVideo, write_video
from wan_alpha.io.masks import load_mask, read_matte, save_mask, save_mask_preview


def alpha_clip(frames=9, height=64, width=96, box=(24, 48, 16, 40)):
    rgba = np.zeros((frames, height, width, 4), np.uint8)
    y0, y1, x0, x1 = box
    rgba[:, y0:y1, x0:x1] = (200, 100, 50, 255)
    return RGBAVideo(rgba, 16)


@pytest.mark.parametrize("name", ["mask.npy", "mask.pt", "mask.zip"])
def test_mask_files_round_trip(tmp_path, name):
    mask = torch.rand(1, 1, 3, 8, 12, generator=torch.Generator().manual_seed(0))
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
    for junk in ("junk.pt", "junk"):
        (tmp_path / junk).write_bytes(b"junk")
        with pytest.raises(WanAlphaError, match="not a NumPy or torch file"):
            load_mask(tmp_path / junk)
    torch.save(torch.zeros(3, 4, 4), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    (tmp_path / "cut.pt").write_bytes((tmp_path / "legacy.pt").read_bytes()[:100])  # a torch file, cut short
    with pytest.raises(WanAlphaError, match="cannot read"):
        load_mask(tmp_path / "cut.pt")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(WanAlphaError, match=r"shaped \(F, h, w\)"):
        load_mask(tmp_path / "flat.npy")


@pytest.mark.parametrize("zip_format", [True, False])
def test_a_published_mask_file_is_read_by_its_content(tmp_path, zip_format):
    # the reference release ships `gauss_mask`: torch.save of a float tensor (21, 96, 170), no suffix
    mask = torch.rand(5, 12, 20, generator=torch.Generator().manual_seed(0))
    torch.save(mask, tmp_path / "gauss_mask", _use_new_zipfile_serialization=zip_format)
    assert torch.equal(load_mask(tmp_path / "gauss_mask"), mask[None, None])
    np.save(tmp_path / "array.npy", mask.numpy())
    (tmp_path / "array.npy").rename(tmp_path / "array.mask")
    assert torch.equal(load_mask(tmp_path / "array.mask"), mask[None, None])


@pytest.mark.parametrize("shape", [(1, 5, 12, 20), (5, 1, 12, 20), (1, 1, 5, 12, 20)])
def test_four_and_five_dimensional_masks(tmp_path, shape):
    mask = torch.rand(5, 12, 20, generator=torch.Generator().manual_seed(0))
    arranged = mask[:, None] if shape[1] == 1 and len(shape) == 4 else mask.reshape(shape)
    torch.save(arranged, tmp_path / "m.pt")
    assert torch.equal(load_mask(tmp_path / "m.pt"), mask[None, None])


def test_a_grayscale_matte_reads_as_the_alpha_of_an_rgba_clip(tmp_path):
    write_video(tmp_path / "a.zip", alpha_clip())
    matte = alpha_clip().frames.copy()
    matte[..., :3] = matte[..., 3:]  # no alpha channel: white = opaque
    matte[..., 3] = 255
    write_video(tmp_path / "matte.zip", RGBAVideo(matte, 16))
    alpha = read_matte(tmp_path / "a.zip")
    assert alpha.shape == (1, 1, 9, 64, 96) and alpha.max() == 1 and alpha.min() == 0
    assert torch.equal(read_matte(tmp_path / "matte.zip"), alpha)
    colour = alpha_clip().frames.copy()  # no alpha channel and not grey: no matte unless asked to read its luma
    colour[..., 3] = 255
    write_video(tmp_path / "colour.zip", RGBAVideo(colour, 16))
    with pytest.raises(WanAlphaError, match="no alpha channel and is in colour.*--luma-as-alpha"):
        read_matte(tmp_path / "colour.zip")
    luma = read_matte(tmp_path / "colour.zip", luma_as_alpha=True)
    assert luma.shape == alpha.shape and 0 < luma.max() < 1 and luma.min() == 0
    with pytest.raises(WanAlphaError, match=".png"):
        save_mask_preview(tmp_path / "p.jpg", alpha[:, :, :3, :8, :12])
