import math

import numpy as np
import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.rgba import Ellipse, ellipse_region, fit_ellipse, fit_ellipse_extent, gaussian_map


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


# ---------------------------------------------------------------- the reference release's fit (gen_gaussian_mask.py)
def test_extent_fit_of_a_bar_spans_it_and_keeps_the_two_cell_minimum():
    cells = np.zeros((12, 16))
    cells[5, 2:11] = 1.0  # 9 cells in a row: mean (6, 5), extent 8 along x, 0 across (-> the 2-cell minimum)
    fit = fit_ellipse_extent(cells)
    # integer half axes (4, 1) about (6, 5) already cover every cell: no growth
    assert (fit.cx * 16, fit.cy * 12, fit.w * 16, fit.h * 12) == pytest.approx((6.5, 5.5, 8.0, 2.0))
    assert fit.angle % 180 == pytest.approx(0.0, abs=1e-9)


def test_extent_fit_takes_the_angle_of_the_solid_core():
    cells = np.zeros((24, 24))
    for i in range(4, 16):
        cells[i, i] = 1.0  # a solid diagonal core at 45 degrees
    cells[15:18, 4:20] = 0.5  # a semi-transparent skirt along x: part of the shape, not of the core
    fit = fit_ellipse_extent(cells)
    assert fit.angle % 180 == pytest.approx(45.0, abs=1e-6)
    assert fit_ellipse(cells, threshold=0.2).angle % 180 != pytest.approx(45.0, abs=5)  # moments follow the skirt


def test_extent_fit_grows_until_the_shape_is_covered():
    yy, xx = np.mgrid[0:32, 0:40]
    cells = ((((xx - 20) / 12.0) ** 2 + ((yy - 15) / 6.0) ** 2) <= 1).astype(float)  # a filled ellipse of cells
    cells[15, 34] = 1.0  # one stray cell beyond the tip
    fit = fit_ellipse_extent(cells, coverage=1.0)
    cx, cy = round(fit.cx * 40 - 0.5), round(fit.cy * 32 - 0.5)
    half = (max(1, round(fit.w * 40 / 2)), max(1, round(fit.h * 32 / 2)))
    inside = ((xx - cx) / half[0]) ** 2 + ((yy - cy) / half[1]) ** 2 <= 1
    assert inside[cells > 0.2].all()  # the grown ellipse holds every cell, stray one included
    assert fit.w * 40 > 2 * 14  # the extent 24 + the stray cell, grown by 1.12 steps


def test_extent_fit_of_fewer_than_five_cells_is_their_box():
    cells = np.zeros((8, 8))
    cells[4, 3] = cells[4, 5] = 1.0
    fit = fit_ellipse_extent(cells)
    assert (fit.cx * 8, fit.cy * 8, fit.w * 8, fit.h * 8, fit.angle) == pytest.approx((4.5, 4.5, 2.0, 2.0, 0.0))
    assert fit_ellipse_extent(np.zeros((8, 8))) is None


def test_extent_fit_gives_the_reference_release_values():
    # a soft rotated ellipse of cells and a faint patch away from it; the expected values were computed by the
    # release's gen_gaussian_mask.generate_best_aligned_gaussian (its __main__ settings), see
    # bench/compare_reference.py, which compares the two on whole clips
    yy, xx = np.mgrid[0:16, 0:24]
    theta = math.radians(30)
    dx, dy = xx - 11.3, yy - 7.6
    r = ((dx * math.cos(theta) + dy * math.sin(theta)) / 7.0) ** 2 + ((-dx * math.sin(theta) + dy * math.cos(theta)) / 3.5) ** 2
    cells = np.clip(1.5 - r, 0, 1).round(2)
    cells[12:15, 2:6] = 0.5
    fit = fit_ellipse_extent(cells)
    mean_x, mean_y, a, b = fit.cx * 24 - 0.5, fit.cy * 16 - 0.5, fit.w * 24, fit.h * 16  # the release's integer coords
    assert (mean_x, mean_y, a, b, fit.angle) == pytest.approx(
        (10.39090909090909, 8.136363636363637, 25.09650997353162, 17.78311561573308, -150.51693449768612), abs=1e-9)
