"""Output maps: blend and black level where the warp puts each pixel, chords on a cylinder."""

from __future__ import annotations

import numpy as np
import pytest

from exhibit_engine.config import CornerPin, DisplayConfig, NetworkConfig, VenueConfig, WallConfig
from exhibit_engine.wall.blend import blend_weights, encode_blend, weights_at
from exhibit_engine.wall.frustum import display_frustum, wall_point
from exhibit_engine.wall.output import output_maps

from .test_wall_blend import ROW
from .test_wall_frustum import CYL


def test_output_maps_without_warp_are_the_image_space_maps() -> None:
    d = ROW.displays[1]
    m = output_maps(ROW, d, (60, 50))
    assert np.allclose(m.weight, blend_weights(ROW, d, (60, 50)))
    assert np.allclose(m.blend, encode_blend(m.weight, d.gamma))
    xs = (np.arange(60) + 0.5) / 60
    assert np.allclose(m.uv[7, :, 0], xs) and np.allclose(m.uv[:, 3, 1], (np.arange(50) + 0.5) / 50)
    assert np.all(m.black == 0.0)


def test_output_maps_evaluate_the_blend_where_the_warp_puts_each_pixel() -> None:
    wall = WallConfig(7.0, 3.0, (3.5, 1.5, 4.0))
    pin = CornerPin((8, 4), (60, 0), (64, 48), (2, 44))
    a = DisplayConfig("a", (64, 48), (0.0, 0.0, 4.0, 3.0), warp=pin)
    b = DisplayConfig("b", (64, 48), (3.0, 0.0, 4.0, 3.0))
    v = VenueConfig("v", "v", wall, (a, b), NetworkConfig())
    m = output_maps(v, a, (64, 48))
    ok = m.uv[..., 0] >= 0
    u = m.uv[..., 0] * 4.0
    expect = weights_at(v, a, u, 3.0 - m.uv[..., 1] * 3.0)
    assert np.allclose(m.weight[ok], expect[ok]) and np.all(m.blend[~ok] == 0)
    assert m.weight[ok].min() < 0.05 and m.weight[ok].max() == 1.0
    assert not np.allclose(m.weight, blend_weights(v, a, (64, 48)))  # warped, not image space


def test_cylinder_output_maps_sample_the_chord_where_the_eye_sees_the_arc() -> None:
    w = CYL.width
    d = DisplayConfig("l", (80, 50), (0.0, 0.0, w / 2, 2.5))
    v = VenueConfig("v", "v", CYL, (d,), NetworkConfig())
    m = output_maps(v, d, (80, 50))
    f = display_frustum(CYL, d)
    for row, col in ((0, 0), (10, 33), (49, 79), (25, 40)):
        u = (col + 0.5) / 80 * d.rect[2]
        vv = 2.5 - (row + 0.5) / 50 * 2.5
        assert m.uv[row, col] == pytest.approx(f.project(wall_point(CYL, u, vv)), abs=1e-9)
    # arc points near the chord's middle lie farther than the chord: they shrink vertically
    assert m.uv[0, 40, 1] > m.uv[0, 0, 1] and m.uv[0, 0, 1] == pytest.approx(0.01, abs=1e-3)
