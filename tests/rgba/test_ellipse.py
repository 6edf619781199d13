import math

import numpy as np
import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.rgba import Ellipse, ellipse_region, fit_ellipse, gaussian_map


def filled_ellipse(height, width, cx, cy, a, b, angle):
    """Binary frame of a filled ellipse in pixels (full axes a, b; angle in degrees)."""
    ys = np.arange(height)[:, None] + 0.5
    xs = np.arange(width)[None, :] + 0.5
    t = math.radians(angle)
    dx, dy = xs - cx, ys - cy
    xr = dx * math.cos(t) + dy * math.sin(t)
    yr = -dx * math.sin(t) + dy * math.cos(t)
    return ((xr / (a / 2)) ** 2 + (yr / (b / 2)) ** 2 <= 1).astype(np.float32)


def angle_diff(x, y):
    """Difference of two axis orientations (mod 180)."""
    return abs((x - y + 90) % 180 - 90)


@pytest.mark.parametrize(
    "cx,cy,a,b,angle",
    [(64, 48, 80, 30, 0), (40, 60, 50, 20, 30), (90, 30, 60, 24, -60), (64, 48, 40, 70, 75)],
)
def test_fit_recovers_rotated_off_centre_ellipses(cx, cy, a, b, angle):
    frame = filled_ellipse(96, 128, cx, cy, a, b, angle)
    fit = fit_ellipse(frame, threshold=0.3)
    fcx, fcy, fa, fb, fangle = fit.to_pixels(96, 128)
    assert abs(fcx - cx) < 0.5 and abs(fcy - cy) < 0.5
    major, minor = max(a, b), min(a, b)
    assert abs(fa - major) / major < 0.04 and abs(fb - minor) / minor < 0.06
    expected_angle = angle if a >= b else angle + 90
    assert angle_diff(fangle, expected_angle) < 1.5


def test_fit_of_an_ellipse_cut_by_the_frame_covers_the_visible_part():
    # centre 14 px from the right edge, semi-major 30 px: a third of the ellipse is outside
    frame = filled_ellipse(96, 128, 114, 48, 60, 30, 0)
    fit = fit_ellipse(frame)
    fcx, fcy, fa, fb, fangle = fit.to_pixels(96, 128)
    assert 100 < fcx < 114 and abs(fcy - 48) < 0.5 and angle_diff(fangle, 0) < 1
    # grown until >= 98 % of the visible points are inside
    inside = filled_ellipse(96, 128, fcx, fcy, fa, fb, fangle)
    assert (inside * frame).sum() / frame.sum() >= 0.98
    assert abs(fb - 30) / 30 < 0.15


def test_fit_uses_the_threshold_and_returns_none_when_empty():
    frame = filled_ellipse(64, 64, 32, 32, 40, 20, 0) * 0.2
    assert fit_ellipse(frame, threshold=0.3) is None
    assert fit_ellipse(frame, threshold=0.1) is not None


def test_gaussian_map_is_in_unit_range_with_peak_at_centre():
    e = Ellipse(0.3, 0.6, 0.4, 0.2, 20)
    g = gaussian_map(e, 30, 40)
    assert g.shape == (30, 40) and g.dtype == torch.float32
    assert g.min() == 0 and g.max() == 1
    iy, ix = divmod(int(g.argmax()), 40)
    assert abs(ix + 0.5 - 0.3 * 40) <= 1 and abs(iy + 0.5 - 0.6 * 30) <= 1
    # G = exp(-1/2) on the ellipse boundary (before min-max; min is ~0 for a small ellipse)
    g_fine = gaussian_map(Ellipse(0.5, 0.5, 0.25, 0.25), 401, 401)
    assert g_fine[200, 200 + 50].item() == pytest.approx(math.exp(-0.5), abs=0.01)


@pytest.mark.parametrize(
    "text,match",
    [
        ("0.5,0.5,0.4", "four or five"),
        ("a,b,c,d", "four or five"),
        ("1.5,0.5,0.4,0.4", "outside the frame"),
        ("400,300,200,100,0", "outside the frame"),
        ("0.5,0.5,0,0.4", "must be > 0"),
        ("0.5,0.5,0.4,-1", "must be > 0"),
    ],
)
def test_bad_user_ellipses_are_refused(text, match):
    with pytest.raises(WanAlphaError, match=match):
        Ellipse.parse(text)


def test_parse():
    assert Ellipse.parse("0.5, 0.4,0.3,0.2,15") == Ellipse(0.5, 0.4, 0.3, 0.2, 15)
    assert Ellipse.parse("0.5,0.4,0.3,0.2").angle == 0


def test_ellipse_region_geometry():
    region = ellipse_region(Ellipse(0.5, 0.5, 0.5, 0.5), 32, 32)
    assert region[16, 16] and not region[0, 0] and not region[16, 3] and region[16, 9]
    assert region.sum() == pytest.approx(math.pi * 8 * 8, rel=0.08)
    tilted = ellipse_region(Ellipse(0.5, 0.5, 0.8, 0.2, angle=90), 32, 32)
    assert tilted[4:28, 16].all() and not tilted[16, 4]  # the long axis turned vertical
