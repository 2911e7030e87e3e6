"""Off-axis frusta of neighbouring displays share their edge exactly; curved walls."""

from __future__ import annotations

import math

import numpy as np
import pytest

from exhibit_engine.config import DisplayConfig, WallConfig
from exhibit_engine.wall.frustum import (centered_frustum, display_frustum, pixel_rect,
                                         wall_frustum, wall_point)

WALL = WallConfig(width=8.0, height=2.5, eye=(4.0, 1.25, 4.0))
LEFT = DisplayConfig("left", (1920, 1200), (0.0, 0.0, 4.0, 2.5))
RIGHT = DisplayConfig("right", (1920, 1200), (4.0, 0.0, 4.0, 2.5))


def test_neighbours_share_their_edge_and_tile_the_wall() -> None:
    left, right, whole = (display_frustum(WALL, LEFT), display_frustum(WALL, RIGHT),
                          wall_frustum(WALL))
    assert left.ur == right.ul and left.lr == right.ll
    assert left.ul == whole.ul and right.lr == whole.lr
    assert left.aspect == pytest.approx(1.6) and whole.aspect == pytest.approx(3.2)


def test_a_point_projects_consistently_into_slice_and_whole_wall() -> None:
    left, right, whole = (display_frustum(WALL, LEFT), display_frustum(WALL, RIGHT),
                          wall_frustum(WALL))
    p = (3.0, 20.0, 0.7)  # a point behind the wall, right of centre
    u_whole, v_whole = whole.project(p)
    u_right, v_right = right.project(p)
    assert 0.5 < u_whole < 1.0 and 0.0 <= u_right <= 1.0
    assert u_whole == pytest.approx(0.5 + 0.5 * u_right)
    assert v_whole == pytest.approx(v_right)
    u_left, _ = left.project(p)
    assert u_left > 1.0  # falls outside the left slice


def test_pixel_rects_stitch_without_gap_or_overlap() -> None:
    a = pixel_rect(WALL, LEFT, (1281, 400))
    b = pixel_rect(WALL, RIGHT, (1281, 400))
    assert a[0] == 0 and a[0] + a[2] == b[0] and b[0] + b[2] == 1281
    assert a[1] == b[1] == 0 and a[3] == b[3] == 400


def test_centered_frustum_is_symmetric() -> None:
    f = centered_frustum(16 / 9, 60.0)
    c = f.as_array()
    assert np.allclose(c[:, 1], 1.0)
    assert np.allclose(c[0, [0, 2]], -c[3, [0, 2]]) and f.aspect == pytest.approx(16 / 9)
    with pytest.raises(ValueError):
        centered_frustum(1.0, 0.0)


CYL = WallConfig(width=5.0 * math.pi / 2, height=2.5, eye=(5.0 * math.pi / 4, 1.25, 5.0),
                 shape="cylinder", radius=5.0)


def test_cylinder_frusta_face_their_chords_and_meet_on_the_arc() -> None:
    w = CYL.width
    left = DisplayConfig("l", (800, 500), (0.0, 0.0, w / 2, 2.5))
    right = DisplayConfig("r", (800, 500), (w / 2, 0.0, w / 2, 2.5))
    fl, fr = display_frustum(CYL, left), display_frustum(CYL, right)
    assert fl.heading_deg == pytest.approx(22.5) and fr.heading_deg == pytest.approx(-22.5)
    for f in (fl, fr):  # each chord is a plane facing its camera: an off-axis frustum
        c = f.as_array()
        assert np.allclose(c[:, 1], c[0, 1]) and c[0, 1] == pytest.approx(5 * math.cos(
            math.pi / 8))
    edge = wall_point(CYL, w / 2, 2.0)   # on both chords' shared end line
    assert fl.project(edge)[0] == pytest.approx(1.0) and fr.project(edge)[0] == \
        pytest.approx(0.0)
    assert fl.project(edge)[1] == pytest.approx(fr.project(edge)[1])
    mid = wall_point(CYL, w / 4, 1.25)   # arc middle of the left display: behind its chord
    assert fl.project(mid) == pytest.approx((0.5, 0.5))
    assert np.linalg.norm(mid) == pytest.approx(5.0)
