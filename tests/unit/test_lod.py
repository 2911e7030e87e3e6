"""scenes/_lod.py and wall/frustum.py's LOD views: the level a node draws is a pure
function of show time, the camera and the venue's scale, the same on every node, and a
change of level fades over one grid step instead of popping."""

from __future__ import annotations

import math

import pytest

from exhibit_engine.config import DisplayConfig, WallConfig
from exhibit_engine.scenes import _lod as lod
from exhibit_engine.wall.frustum import (centered_frustum, display_frustum, frustum_lod,
                                         venue_lod)

TRIS = (5_000_000, 1_250_000, 312_500)


def test_errors_double_per_quarter_of_the_triangles() -> None:
    e = lod.level_errors(0.25, TRIS)
    assert e[1] == pytest.approx(2 * e[0]) and e[2] == pytest.approx(2 * e[1])
    assert e[0] == pytest.approx(0.25 * math.sqrt(4 * math.pi / 5e6))


def test_the_coarsest_level_that_does_not_show_is_chosen() -> None:
    e = lod.level_errors(0.25, TRIS)
    scale = 1660.0              # a 1920-pixel slice of a 60-degree view
    far, near, close = 6.0, 1.2, 0.4
    assert lod.choose(e, far, scale) == 2
    assert lod.choose(e, near, scale) == 1
    assert lod.choose(e, close, scale) == 0
    # each decision is the threshold: the level chosen projects to at most 1.5 px,
    # the next coarser one to more
    for d in (far, near, close):
        k = lod.choose(e, d, scale)
        assert e[k] / d * scale <= lod.THRESHOLD_PX or k == 0
        if k + 1 < len(e):
            assert e[k + 1] / d * scale > lod.THRESHOLD_PX
    assert lod.choose(e, far, 0.0) == 0, "no scale: the full model"


def test_a_change_fades_over_the_grid_step_after_it() -> None:
    levels = {k: (2 if k < 10 else 1) for k in range(-2, 30)}
    at = levels.__getitem__
    assert lod.blend(4.9, at) == (2, 2, 1.0)
    t0 = 10 * lod.GRID_S
    assert lod.blend(t0, at) == (2, 1, 0.0)
    old, new, w = lod.blend(t0 + lod.GRID_S / 4, at)
    assert (old, new) == (2, 1) and w == pytest.approx(0.25)
    assert lod.blend(t0 + lod.GRID_S, at) == (1, 1, 1.0)


def test_levels_follow_the_camera_and_remember_little() -> None:
    calls = []

    def eye_at(t: float, state: dict) -> tuple[float, float, float]:
        calls.append(t)
        d = 6.0 if t < 10.0 else 0.4          # the camera closes in at t = 10
        return (0.0, -d, 1.0)

    levels = lod.Levels(TRIS, 0.25, (0.0, 0.0, 1.0), 1660.0, eye_at)
    assert levels.shown(5.0, {}) == (2, 2, 1.0)
    assert levels.shown(10.2, {})[:2] == (2, 0)
    assert levels.shown(11.0, {}) == (0, 0, 1.0)
    n = len(calls)
    levels.shown(11.1, {})
    assert len(calls) == n, "a grid time's level is computed once"
    for k in range(200):
        levels.shown(k * 0.5, {})
    assert len(levels._chosen) <= 65


def _wall() -> tuple[WallConfig, tuple[DisplayConfig, ...]]:
    wall = WallConfig(6.0, 2.0, (3.0, 1.0, 4.0))
    return wall, (DisplayConfig("a", (1920, 1080), (0.0, 0.0, 3.4, 2.0)),
                  DisplayConfig("b", (1280, 720), (2.6, 0.0, 3.4, 2.0)))


def test_every_display_of_a_venue_gets_the_finest_displays_scale() -> None:
    wall, displays = _wall()
    views = [venue_lod(wall, displays, d.rect, d.pixels) for d in displays]
    assert views[0].scale == views[1].scale == pytest.approx(1920 / 3.4 * 4.0)
    # the same wall point is the same wall pixel in both slices: a = 2.9 m across
    for d, v in zip(displays, views, strict=True):
        x_px = (2.9 - d.rect[0]) / d.rect[2] * d.pixels[0]
        assert v.wall_px[0] + x_px * v.wall_px[2] == pytest.approx(2.9 * 1920 / 3.4)
    # on one display alone, the scale is that of its own pixels
    alone = frustum_lod(display_frustum(wall, displays[0]), displays[0].pixels)
    assert alone.scale == pytest.approx(views[0].scale)


def test_a_single_image_uses_its_own_pixels() -> None:
    view = frustum_lod(centered_frustum(16 / 9, 60.0), (1920, 1080))
    assert view.scale == pytest.approx(1920 / (2 * math.tan(math.radians(30))))
    assert view.wall_px == (0.0, 0.0, 1.0, 1.0)
