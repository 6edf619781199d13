import numpy as np
import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.rgba import (
    PALETTE,
    PALETTE_NAMES,
    checkerboard,
    composite,
    hard_render,
    parse_color,
    premultiply,
    random_palette_colors,
    soft_render,
    unpremultiply,
)


def test_palette_is_the_rgb_cube_corners():
    assert len(PALETTE_NAMES) == 8
    corners = {tuple(c) for c in PALETTE.tolist()}
    assert corners == {(x, y, z) for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (-1.0, 1.0)}
    assert PALETTE[PALETTE_NAMES.index("red")].tolist() == [1.0, -1.0, -1.0]


def test_random_palette_colors_are_seeded_and_broadcastable():
    a = random_palette_colors(16, torch.Generator().manual_seed(3))
    b = random_palette_colors(16, torch.Generator().manual_seed(3))
    assert a.shape == (16, 3, 1, 1, 1)
    assert torch.equal(a, b)
    assert len({tuple(c) for c in a.flatten(1).tolist()}) > 1
    assert all(tuple(c) in {tuple(p) for p in PALETTE.tolist()} for c in a.flatten(1).tolist())


def test_soft_and_hard_render_differ_only_on_semi_transparent_pixels():
    rgb = torch.full((1, 3, 1, 1, 3), 0.5)
    alpha = torch.tensor([0.0, 0.25, 1.0]).view(1, 1, 1, 1, 3)
    bg = PALETTE[PALETTE_NAMES.index("blue")].view(1, 3, 1, 1, 1)
    soft = soft_render(rgb, alpha, bg)
    hard = hard_render(rgb, alpha, bg)
    # transparent pixel shows the background, opaque pixel the colour, in both renders
    assert torch.allclose(soft[..., 0].flatten(), bg.flatten())
    assert torch.allclose(hard[..., 0].flatten(), bg.flatten())
    assert torch.allclose(soft[..., 2], rgb[..., 2])
    assert torch.allclose(hard[..., 2], rgb[..., 2])
    # the semi pixel: soft blends 0.25 of colour, hard shows the full colour
    assert torch.allclose(soft[..., 1].flatten(), 0.5 * 0.25 + bg.flatten() * 0.75)
    assert torch.allclose(hard[..., 1], rgb[..., 1])


def test_render_accepts_numpy_too():
    rgb = np.full((2, 2, 3), 0.2, dtype=np.float32)
    alpha = np.array([[0.0, 1.0], [0.5, 0.5]], dtype=np.float32)[..., None]
    out = soft_render(rgb, alpha, np.array([1.0, 1.0, 1.0], dtype=np.float32))
    assert np.allclose(out[1, 0], 0.6)


def test_premultiply_round_trip_and_transparent_colour_is_zero():
    rgb = torch.rand(3, 4, 4)
    alpha = torch.rand(1, 4, 4).clamp(min=0.05)
    alpha[0, 0, 0] = 0.0
    back = unpremultiply(premultiply(rgb, alpha), alpha)
    mask = alpha > 0
    assert torch.allclose(back * mask, rgb * mask, atol=1e-5)
    assert back[:, 0, 0].abs().sum() == 0


def test_checkerboard_alternates():
    board = checkerboard(32, 32, cell=16)
    assert board.shape == (32, 32, 3)
    assert board[0, 0, 0] != board[0, 16, 0]
    assert board[0, 0, 0] == board[16, 16, 0]


def test_composite_over_colour_and_video():
    frames = np.zeros((2, 4, 4, 4), dtype=np.uint8)
    frames[..., 0] = 255
    frames[:, :2, :, 3] = 255  # top half opaque red, bottom half transparent
    out = composite(frames, parse_color("#00ff00"))
    assert out.shape == (2, 4, 4, 3)
    assert out[0, 0, 0].tolist() == [255, 0, 0]
    assert out[0, 3, 0].tolist() == [0, 255, 0]
    video_bg = np.zeros((2, 4, 4, 3), dtype=np.float32)
    video_bg[1] = 1.0
    out = composite(frames, video_bg)
    assert out[0, 3, 0].tolist() == [0, 0, 0] and out[1, 3, 0].tolist() == [255, 255, 255]


def test_composite_rejects_mismatched_background():
    frames = np.zeros((2, 4, 4, 4), dtype=np.uint8)
    with pytest.raises(WanAlphaError, match="3 frames"):
        composite(frames, np.zeros((3, 4, 4, 3), dtype=np.float32))
    with pytest.raises(WanAlphaError, match="resize"):
        composite(frames, np.zeros((8, 8, 3), dtype=np.float32))


@pytest.mark.parametrize("bad", ["red", "#12345", "#gg0000"])
def test_parse_color_rejects_bad_text(bad):
    with pytest.raises(WanAlphaError, match="RRGGBB"):
        parse_color(bad)
