"""Guard bands and the wall grid (issue 18): the wall maths behind seamless screen effects.

- :func:`guard_margin` covers an effect's reach, plus a pixel, and stays even;
- :func:`guard_frustum` grows a slice by whole pixels of its own grid;
- :func:`wall_raster` puts a display on the flat wall's one pixel grid, or says it cannot;
- :func:`~exhibit_engine.runtime.post.post_spec` turns a scene's effects into pixels.
"""

from __future__ import annotations

import math

import pytest

from exhibit_engine.config import DisplayConfig, WallConfig
from exhibit_engine.runtime.post import MAX_TAPS, post_spec
from exhibit_engine.scenes.base import ScreenEffects
from exhibit_engine.scenes.ice import EFFECTS
from exhibit_engine.wall.frustum import (MAX_RASTER, display_frustum, guard_frustum,
                                         guard_margin, wall_frustum, wall_raster)

WALL = WallConfig(width=8.0, height=2.5, eye=(4.0, 1.25, 4.0))
LEFT = DisplayConfig("left", (1920, 1000), (0.0, 0.0, 4.8, 2.5))      # 400 pixels a metre
RIGHT = DisplayConfig("right", (1920, 1000), (3.2, 0.0, 4.8, 2.5))


@pytest.mark.parametrize("reach, margin", [(0.0, 0), (-3.0, 0), (0.4, 2), (1.0, 2),
                                           (11.2, 14), (12.0, 14), (12.5, 14), (13.0, 14)])
def test_the_margin_covers_the_reach_and_a_pixel_and_is_even(reach: float, margin: int
                                                             ) -> None:
    m = guard_margin(reach)
    assert m == margin and m % 2 == 0
    assert m == 0 or m >= reach + 1.0


def test_a_grown_frustum_keeps_every_pixel_where_it_was() -> None:
    size, m = (1920, 1000), 14
    f = display_frustum(WALL, RIGHT)
    g = guard_frustum(f, size, m)
    assert guard_frustum(f, size, 0) is f
    gw, gh = size[0] + 2 * m, size[1] + 2 * m
    assert g.aspect == pytest.approx(gw / gh)
    # a point behind the wall lands on output pixel (x, y) and grown pixel (x + m, y + m)
    for p in [(0.3, 9.0, 0.2), (2.0, 5.0, -0.9), (-0.1, 30.0, 1.0)]:
        u, v = f.project(p)
        ug, vg = g.project(p)
        assert ug * gw == pytest.approx(u * size[0] + m, abs=1e-6)
        assert vg * gh == pytest.approx(v * size[1] + m, abs=1e-6)


def test_displays_of_a_flat_wall_share_its_grid() -> None:
    displays = (LEFT, RIGHT)
    left, right = wall_raster(WALL, displays, LEFT), wall_raster(WALL, displays, RIGHT)
    whole = wall_raster(WALL, displays, None)
    assert left is not None and right is not None and whole is not None
    assert left.size == right.size == whole.size == (3200, 1000)
    assert (left.origin, right.origin, whole.origin) == ((0, 0), (1280, 0), (0, 0))
    assert left.frustum == right.frustum == whole.frustum == wall_frustum(WALL)


@pytest.mark.parametrize("wall, displays, why", [
    (WallConfig(width=8.0, height=2.5, eye=(4.0, 1.25, 4.0), shape="cylinder", radius=6.0),
     (LEFT, RIGHT), "a curved wall: each display draws its own chord"),
    (WALL, (LEFT, DisplayConfig("right", (1280, 666), (3.2, 0.0, 4.8, 2.5))),
     "a coarser projector is not on the finest grid"),
    (WALL, (LEFT, DisplayConfig("right", (1920, 1000), (3.201, 0.0, 4.8, 2.5))),
     "a display between two grid pixels"),
    (WALL, (LEFT, DisplayConfig("right", (1920, 1200), (3.2, 0.0, 4.8, 2.5))),
     "pixels that are not square"),
])
def test_no_grid_where_the_pixels_do_not_line_up(wall: WallConfig, displays, why: str
                                                 ) -> None:
    assert wall_raster(wall, displays, displays[1]) is None, why


def test_no_grid_wider_than_a_texture_can_be() -> None:
    wide = WallConfig(width=80.0, height=2.5, eye=(40.0, 1.25, 40.0))
    d = DisplayConfig("a", (1920, 1000), (0.0, 0.0, 4.8, 2.5))
    assert 80.0 / 4.8 * 1920 > MAX_RASTER and wall_raster(wide, (d,), d) is None


def test_effects_become_pixels_at_the_venue_scale() -> None:
    assert post_spec(None, (640, 400), 800.0) is None
    spec = post_spec(EFFECTS, (640, 400), 800.0)
    assert spec is not None and spec.hdr and spec.bloom == EFFECTS.bloom
    assert spec.taps == math.ceil(EFFECTS.bloom_radius * 800.0)
    # the half-resolution bloom's reach: bilinear footprint, blur both ways, 2x2 means;
    # off the wall grid the snow's sprites need their radius too
    bloom_reach = 2 * spec.half_taps + 3
    assert spec.half_taps == (spec.taps + 1) // 2
    assert spec.margin == guard_margin(max(EFFECTS.sprite_px, bloom_reach))
    assert spec.scene_size == spec.grown == (640 + 2 * spec.margin, 400 + 2 * spec.margin)
    assert spec.low == spec.bloom_at == (0, 0)
    assert spec.half == ((spec.grown[0] + 1) // 2, (spec.grown[1] + 1) // 2)
    w = spec.weights()
    assert len(w) == spec.half_taps + 1 and w[0] + 2 * sum(w[1:]) == pytest.approx(1.0)
    assert post_spec(EFFECTS, (640, 400), 800.0, guard=False).margin == 0
    # a huge view: the kernel stops at MAX_TAPS
    assert post_spec(EFFECTS, (640, 400), 1e6).taps == MAX_TAPS


def test_on_the_wall_grid_only_what_reads_neighbours_needs_a_band() -> None:
    raster = wall_raster(WALL, (LEFT, RIGHT), RIGHT)
    assert raster is not None
    spec = post_spec(EFFECTS, RIGHT.pixels, 400.0, raster=raster)
    assert spec is not None and spec.raster == (3200, 1000) and spec.origin == (1280, 0)
    assert spec.margin == guard_margin(2 * spec.half_taps + 3)
    # drawn: the slice and its band (and what the bloom reads), cut at the grid's edges
    assert spec.low == (1280 - spec.margin, -spec.margin)
    assert spec.drawn == (1280 - spec.margin, 0, 1920 + spec.margin, 1000)
    sprites = ScreenEffects(sprite_px=12.0)
    assert post_spec(sprites, RIGHT.pixels, 400.0, raster=raster).margin == 0
    assert post_spec(sprites, RIGHT.pixels, 400.0).margin == guard_margin(12.0)


def test_a_render_scale_scales_the_grid_or_leaves_none() -> None:
    half = wall_raster(WALL, (LEFT, RIGHT), RIGHT, (960, 500))
    assert half is not None and (half.size, half.origin) == ((1600, 500), (640, 0))
    # 5 % of 1920 pixels over 4.8 m: 20 a metre, the 8 m wall 160 wide, the right at 64
    tiny = wall_raster(WALL, (LEFT, RIGHT), RIGHT, (96, 50))
    assert tiny is not None and tiny.size == (160, 50) and tiny.origin == (64, 0)
    assert wall_raster(WALL, (LEFT, RIGHT), RIGHT, (97, 50)) is None
    assert wall_raster(WALL, (LEFT, RIGHT), None, (3200, 1000)) == wall_raster(
        WALL, (LEFT, RIGHT), None)


def test_every_slice_blooms_on_the_same_half_resolution_grid() -> None:
    """Texel k of the bloom covers wall pixels 2k and 2k + 1 in every slice, whatever
    the parity of the slice's origin."""
    wall = WallConfig(width=8.0, height=2.5, eye=(4.0, 1.25, 4.0))
    odd = DisplayConfig("odd", (1921, 1000), (3.1975, 0.0, 4.8025, 2.5))
    raster = wall_raster(wall, (LEFT, odd), odd)
    assert raster is not None and raster.origin == (1279, 0)
    spec = post_spec(EFFECTS, odd.pixels, 400.0, raster=raster)
    assert spec is not None and spec.low[0] % 2 == 1
    bx, by = spec.bloom_at
    assert bx % 2 == 0 and by % 2 == 0 and bx <= spec.low[0] and by <= spec.low[1]
    # the half grid covers the grown output
    assert bx + 2 * spec.half[0] >= spec.low[0] + spec.grown[0]
    assert by + 2 * spec.half[1] >= spec.low[1] + spec.grown[1]
