"""The off-axis lens: a display's slice of the wall, exactly, with the camera at the eye."""

from __future__ import annotations

import itertools

import pytest
from panda3d.core import Point2, Point3

from exhibit_engine.config import DisplayConfig, WallConfig
from exhibit_engine.errors import RenderError
from exhibit_engine.runtime.render import lens_from_frustum
from exhibit_engine.wall.frustum import Frustum, centered_frustum, display_frustum, wall_frustum

WALL = WallConfig(width=8.0, height=2.5, eye=(3.0, 1.0, 5.0))
FRUSTA = [
    wall_frustum(WALL),
    display_frustum(WALL, DisplayConfig("right", (1920, 1080), (4.0, 0.5, 4.0, 2.0))),
    display_frustum(WALL, DisplayConfig("corner", (800, 600), (0.0, 0.0, 1.0, 0.75))),
    centered_frustum(16 / 9),
]
POINTS = [Point3(*p) for p in itertools.product((-3.0, 0.4, 2.5), (2.0, 9.0, 60.0),
                                                (-1.0, 0.3, 4.0))]


@pytest.mark.parametrize("frustum", FRUSTA)
def test_lens_projects_exactly_like_the_wall_geometry(frustum: Frustum) -> None:
    lens = lens_from_frustum(frustum)
    assert tuple(lens.get_view_vector()) == pytest.approx((0.0, 1.0, 0.0))
    assert tuple(lens.get_up_vector()) == pytest.approx((0.0, 0.0, 1.0))
    for p in POINTS:
        film = Point2()
        lens.project(p, film)       # film coords in [-1, 1], +y up; may lie outside
        u, v = frustum.project(tuple(p))
        assert (film.x + 1.0) / 2.0 == pytest.approx(u, abs=1e-5)
        assert (1.0 - film.y) / 2.0 == pytest.approx(v, abs=1e-5)


def test_corners_map_to_the_image_corners() -> None:
    f = FRUSTA[1]
    lens = lens_from_frustum(f)
    for corner, expect in ((f.ul, (-1, 1)), (f.ur, (1, 1)), (f.ll, (-1, -1)), (f.lr, (1, -1))):
        film = Point2()
        lens.project(Point3(*corner) * 3.0, film)
        assert tuple(film) == pytest.approx(expect, abs=1e-5)


@pytest.mark.parametrize("near, far", [(0.0, 10.0), (5.0, 1.0), (0.1, float("inf"))])
def test_bad_clip_planes(near: float, far: float) -> None:
    with pytest.raises(RenderError):
        lens_from_frustum(FRUSTA[0], near, far)
