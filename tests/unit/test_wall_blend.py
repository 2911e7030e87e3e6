"""Blend ramps: the light of all displays at every wall point sums to one, in linear light."""

from __future__ import annotations

import numpy as np
import pytest

from exhibit_engine.config import DisplayConfig, NetworkConfig, VenueConfig, WallConfig
from exhibit_engine.wall.blend import (black_level, blend_ramp, blend_weights, blend_widths,
                                       encode_blend, weights_at)

PITCH = 0.01  # metres per pixel in the composited tests: every display's pixel centres align


def venue(*displays: DisplayConfig, width: float = 8.0, height: float = 2.5) -> VenueConfig:
    return VenueConfig("v", "v", WallConfig(width, height, (width / 2, height / 2, 4.0)),
                       tuple(displays), NetworkConfig())


def disp(did: str, rect: tuple[float, float, float, float], **kw: object) -> DisplayConfig:
    px = (round(rect[2] / PITCH), round(rect[3] / PITCH))
    return DisplayConfig(did, px, rect, **kw)  # type: ignore[arg-type]


def composite(v: VenueConfig) -> tuple[np.ndarray, np.ndarray]:
    """Every display's blend weights placed on one wall image; and how many cover each pixel."""
    total = np.zeros((round(v.wall.height / PITCH), round(v.wall.width / PITCH)))
    count = np.zeros_like(total, dtype=int)
    for d in v.displays:
        w = blend_weights(v, d, d.pixels)
        col = round(d.rect[0] / PITCH)
        row = round((v.wall.height - d.rect[1] - d.rect[3]) / PITCH)
        total[row:row + w.shape[0], col:col + w.shape[1]] += w
        count[row:row + w.shape[0], col:col + w.shape[1]] += 1
    return total, count


ROW = venue(disp("left", (0.0, 0.0, 3.0, 2.5)), disp("centre", (2.5, 0.0, 3.0, 2.5)),
            disp("right", (5.0, 0.0, 3.0, 2.5)))


@pytest.mark.parametrize("p", [0.5, 1.0, 2.0, 3.7, 8.0])
def test_the_ramp_is_a_partition_of_unity(p: float) -> None:
    x = np.linspace(0.0, 1.0, 1001)
    r = blend_ramp(x, p)
    assert np.abs(r + blend_ramp(1.0 - x, p) - 1.0).max() < 1e-12
    assert r[0] == 0.0 and r[-1] == 1.0 and np.all(np.diff(r) >= 0)
    assert np.all(np.diff(r[100:901]) > 0)  # strictly rising away from the ends
    if p == 1.0:
        assert np.allclose(r, x)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_two_neighbours_sum_to_one_at_every_overlap_position(p: float) -> None:
    a = DisplayConfig("a", (600, 500), (0.0, 0.0, 3.0, 2.5), blend_exponent=p)
    b = DisplayConfig("b", (600, 500), (2.4, 0.0, 3.0, 2.5), blend_exponent=p)
    v = venue(a, b, width=5.4)
    assert blend_widths(v, a)[1] == pytest.approx(0.6) and blend_widths(v, b)[0] == \
        pytest.approx(0.6)
    u = np.linspace(2.4, 3.0, 20001)[:, None]       # every position across the overlap
    vv = np.linspace(0.0, 2.5, 7)[None, :]
    wa, wb = weights_at(v, a, u, vv), weights_at(v, b, u, vv)
    assert np.abs(wa + wb - 1.0).max() < 1e-6
    assert wa[0, 0] == pytest.approx(1.0) and wb[-1, 0] == pytest.approx(1.0)
    # the same at the displays' own pixel centres (both grids have a 5 mm pitch here)
    ia, ib = blend_weights(v, a, a.pixels), blend_weights(v, b, b.pixels)
    overlap_a, overlap_b = ia[:, 480:], ib[:, :120]  # x = 2.4..3.0 in both images
    assert np.abs(overlap_a + overlap_b - 1.0).max() < 1e-6
    assert 0.0 < overlap_a.min() and overlap_a.max() < 1.0


def test_three_in_a_row_sum_to_one_and_are_one_outside_overlaps() -> None:
    total, count = composite(ROW)
    assert count.min() == 1 and count.max() == 2
    assert np.abs(total - 1.0).max() < 1e-6
    left = blend_weights(ROW, ROW.displays[0], ROW.displays[0].pixels)
    centre = blend_weights(ROW, ROW.displays[1], ROW.displays[1].pixels)
    assert np.all(left[:, :250] == 1.0) and np.all(centre[:, 50:250] == 1.0)
    ramp_down, ramp_up = left[0, 250:], centre[0, :50]
    assert np.all(np.diff(ramp_down) < 0) and np.all(np.diff(ramp_up) > 0)
    assert np.all(centre[:, 250:] < 1.0) and np.allclose(left, left[0])  # rows identical


def test_a_two_by_two_grid_sums_to_one_in_the_four_way_corner() -> None:
    v = venue(disp("tl", (0.0, 1.0, 4.5, 1.5)), disp("tr", (3.5, 1.0, 4.5, 1.5)),
              disp("bl", (0.0, 0.0, 4.5, 1.5)), disp("br", (3.5, 0.0, 4.5, 1.5)))
    total, count = composite(v)
    assert count.max() == 4
    assert np.abs(total - 1.0).max() < 1e-6
    corner = total[count == 4]
    assert corner.size == 100 * 50
    tl = blend_weights(v, v.displays[0], v.displays[0].pixels)
    assert 0.0 < tl[-1, -1] < tl[-50, -100] < 1.0  # ramps down towards the far corner


def test_general_layouts_still_sum_to_one() -> None:
    """Unequal explicit blends, a small display across a corner: normalisation holds."""
    v = venue(DisplayConfig("big", (500, 250), (0.0, 0.0, 5.0, 2.5), blend=(0, 0.3, 0, 0)),
              DisplayConfig("side", (300, 250), (4.2, 0.0, 3.8, 2.5), blend=(1.1, 0, 0, 0),
                            blend_exponent=3.0),
              DisplayConfig("patch", (150, 100), (3.0, 1.5, 1.5, 1.0)))
    rng = np.random.default_rng(7)
    u, vv = rng.uniform(0, 8.0, 5000), rng.uniform(0, 2.5, 5000)
    total = sum(weights_at(v, d, u, vv) for d in v.displays)
    assert np.abs(total - 1.0).max() < 1e-9
    assert np.all(weights_at(v, v.displays[2], np.array([0.5]), np.array([0.5])) == 0.0)


def test_encoding_applies_gamma_once() -> None:
    w = blend_weights(ROW, ROW.displays[1], (120, 20))
    f = encode_blend(w, 2.2)
    assert np.allclose(f ** 2.2, w) and np.all(f >= w)
    left = encode_blend(blend_weights(ROW, ROW.displays[0], (150, 10)), 2.2)
    centre = encode_blend(blend_weights(ROW, ROW.displays[1], (150, 10)), 2.2)
    # encoded factors overshoot 1 in the seam; their light (factor ** gamma) does not
    assert (left[0, 125:] + centre[0, :25]).max() > 1.2
    assert np.abs(left[0, 125:] ** 2.2 + centre[0, :25] ** 2.2 - 1).max() < 1e-9
    with pytest.raises(ValueError):
        encode_blend(np.array([1.5]), 2.2)
    with pytest.raises(ValueError):
        encode_blend(w, 0.0)


def test_black_level_uplift_only_outside_overlaps() -> None:
    v = venue(disp("left", (0.0, 0.0, 3.0, 2.5), black_level=0.03),
              disp("centre", (2.5, 0.0, 3.0, 2.5)), disp("right", (5.0, 0.0, 3.0, 2.5)))
    b = black_level(v, v.displays[0], (300, 10))
    assert np.all(b[:, :250] == 0.03) and np.all(b[:, 250:] == 0.0)
    assert np.all(black_level(v, v.displays[1], (300, 10)) == 0.0)


def test_blends_follow_the_render_size() -> None:
    """A scaled render gets the same ramp, sampled at its own pixel centres."""
    d = ROW.displays[0]
    full = blend_weights(ROW, d, (300, 250))
    half = blend_weights(ROW, d, (150, 125))
    assert full.shape == (250, 300) and half.shape == (125, 150)
    assert np.allclose(half[0], (full[0, 0::2] + full[0, 1::2]) / 2, atol=2e-2)
    with pytest.raises(ValueError):
        blend_weights(ROW, d, (0, 10))
