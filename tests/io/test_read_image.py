import numpy as np
import pytest
from PIL import Image

from wan_alpha.errors import WanAlphaError
from wan_alpha.io import RGBAVideo, read_image, write_video


def frames(t=3, size=16) -> np.ndarray:
    x = np.zeros((t, size, size, 4), np.uint8)
    for i in range(t):
        x[i, 4:12, 2 + i : 10 + i] = [200, 50, 20, 255]
    return x


@pytest.mark.parametrize("name", ["clip.webp", "clip.gif", "clip.apng", "clip.zip"])
def test_the_first_frame_of_an_animated_rgba_file(tmp_path, name):
    write_video(tmp_path / name, RGBAVideo(frames(), 8))
    image = read_image(tmp_path / name)
    assert image.frames.shape == (1, 16, 16, 4)
    assert np.array_equal(image.frames[0, ..., 3], frames()[0, ..., 3])
    assert np.array_equal(read_image(tmp_path / name, frame=-1).frames[0, ..., 3], frames()[-1, ..., 3])


def test_an_rgb_image_needs_a_matte_or_the_opaque_flag(tmp_path):
    rgba = frames(1)[0]
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.png")
    Image.fromarray(rgba[..., 3]).save(tmp_path / "matte.png")
    with pytest.raises(WanAlphaError, match="no alpha channel.*--image-alpha MATTE.*--opaque-image"):
        read_image(tmp_path / "rgb.png")
    assert np.array_equal(read_image(tmp_path / "rgb.png", alpha_path=tmp_path / "matte.png").frames[0], rgba)
    assert (read_image(tmp_path / "rgb.png", opaque=True).frames[0, ..., 3] == 255).all()
    with pytest.raises(WanAlphaError, match="no frame 5"):
        read_image(tmp_path / "rgb.png", opaque=True, frame=5)


def test_a_frame_stored_premultiplied_comes_back_straight(tmp_path):
    from wan_alpha.io import WriteOptions

    clip = frames()
    clip[..., 3] = np.where(clip[..., 3] > 0, 128, 0)  # half alpha: premultiplying halves the stored colour
    path = write_video(tmp_path / "clip.zip", RGBAVideo(clip, 8), options=WriteOptions(premultiplied=True))
    image = read_image(path)
    assert np.abs(image.frames[0].astype(int) - clip[0].astype(int)).max() <= 1
