"""The final output pass: blend (in linear light), black level, warp and dim, on real frames.

Every test draws the ice castle (no snow, so frames are exactly repeatable) at a tiny
size, once plainly and once through the pass, and checks the pass's arithmetic per
pixel against numpy, to the 8-bit rounding of the frame.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.errors import RenderError

pytestmark = pytest.mark.render

SCENE, T, NO_SNOW = "castle-night", 27.0, {"snow": False}
W, H = 96, 60
GAMMA = 2.2


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float64)


@pytest.fixture
def castle(ice_bundle, make_renderer):
    r = make_renderer((W, H))
    r.load(ice_bundle, SCENE)
    return r


def draw(r, **kw) -> np.ndarray:
    r.render(T, NO_SNOW, **kw)
    return pixels(r.snapshot())


def ramp() -> np.ndarray:
    """Linear-light weights falling from 1 (left) to 0 (right), like a blend edge."""
    return np.tile(1.0 - (np.arange(W) + 0.5) / W, (H, 1))


def test_no_correction_and_identity_are_the_plain_frame_exactly(castle) -> None:
    from exhibit_engine.runtime.output import OutputCorrection

    plain = draw(castle)
    assert plain.std() > 10.0
    castle.set_output(OutputCorrection((W, H), blend=np.ones((H, W))))
    assert castle.output_correction is None, "an all-ones blend is the identity"
    assert np.array_equal(draw(castle), plain)
    assert np.array_equal(draw(castle, dim=1.0), plain)


def test_blend_is_the_weight_applied_once_in_linear_light(castle) -> None:
    from exhibit_engine.runtime.output import OutputCorrection

    plain = draw(castle)
    w = ramp()
    castle.set_output(OutputCorrection((W, H), blend=w ** (1.0 / GAMMA)))
    out = draw(castle)
    expect = plain * w[..., None] ** (1.0 / GAMMA)
    assert np.abs(out - expect).max() <= 1.0
    # decoded, the light is weight x light; an encoded-space blend would be far off
    lin = (out / 255.0) ** GAMMA
    want = w[..., None] * (plain / 255.0) ** GAMMA
    bright = plain.max(axis=2) > 100
    assert np.abs(lin - want)[bright].max() < 0.02
    assert np.abs(out - plain * w[..., None])[bright].mean() > 10.0
    # two complementary weights add up to the plain frame's light
    castle.set_output(OutputCorrection((W, H), blend=(1.0 - w) ** (1.0 / GAMMA)))
    other = draw(castle)
    total = ((out / 255.0) ** GAMMA + (other / 255.0) ** GAMMA) ** (1.0 / GAMMA) * 255.0
    assert np.abs(total - plain).max() <= 2.0
    castle.set_output(None)
    assert np.array_equal(draw(castle), plain)


def test_dim_scales_the_final_image_and_zero_is_black(castle) -> None:
    from exhibit_engine.runtime.output import OutputCorrection

    plain = draw(castle)
    assert np.abs(draw(castle, dim=0.5) - plain * 0.5).max() <= 1.0
    assert draw(castle, dim=0.0).max() == 0.0
    assert np.array_equal(draw(castle), plain), "dim 1 again: the plain frame"
    k = ramp() ** (1.0 / GAMMA)
    castle.set_output(OutputCorrection((W, H), blend=k))
    assert np.abs(draw(castle, dim=0.25) - plain * k[..., None] * 0.25).max() <= 1.0
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(RenderError, match="dim"):
            castle.render(T, NO_SNOW, dim=bad)


def test_black_level_lifts_black_keeps_white_and_survives_a_blackout(castle) -> None:
    from exhibit_engine.runtime.output import OutputCorrection

    plain = draw(castle)
    black = np.zeros((H, W))
    black[:, W // 2:] = 0.05
    castle.set_output(OutputCorrection((W, H), black=black))
    out = draw(castle)
    assert np.array_equal(out[:, :W // 2], plain[:, :W // 2]), "no uplift, no change"
    expect = 0.05 * 255.0 + 0.95 * plain[:, W // 2:]
    assert np.abs(out[:, W // 2:] - expect).max() <= 1.0
    # blacked out, the uplift stays: the wall's black is as even as before
    dark = draw(castle, dim=0.0)
    assert dark[:, :W // 2].max() == 0.0
    assert np.abs(dark[:, W // 2:] - 0.05 * 255.0).max() <= 0.5


def _flip_h() -> np.ndarray:
    return np.array([[-1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _quarter() -> np.ndarray:
    """Output uv -> source uv halved: the output shows the source's top-left quarter."""
    return np.diag([0.5, 0.5, 1.0])


def _map(hm: np.ndarray) -> np.ndarray:
    u, v = np.meshgrid((np.arange(W) + 0.5) / W, (np.arange(H) + 0.5) / H)
    p = np.stack([u, v, np.ones_like(u)], axis=-1) @ hm.T
    return p[..., :2] / p[..., 2:]


def bilinear(img: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Sample ``img`` at source uv (top-left origin) like GL's linear filter, clamped."""
    x = np.clip(uv[..., 0] * W - 0.5, 0, W - 1)
    y = np.clip(uv[..., 1] * H - 0.5, 0, H - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, W - 1), np.minimum(y0 + 1, H - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def test_homography_and_warp_map_move_pixels_the_same_way(castle) -> None:
    from exhibit_engine.runtime.output import OutputCorrection

    plain = draw(castle)
    castle.set_output(OutputCorrection((W, H), homography=np.eye(3)))
    assert castle.output_correction is not None
    assert np.abs(draw(castle) - plain).max() <= 1.0, "identity pin: the same frame"
    castle.set_output(OutputCorrection((W, H), homography=_flip_h()))
    assert np.abs(draw(castle) - plain[:, ::-1]).max() <= 1.0
    castle.set_output(OutputCorrection((W, H), homography=_quarter()))
    pinned = draw(castle)
    # the top-left quarter of the source, magnified twice and filtered (top stays top)
    tl = bilinear(plain, _map(_quarter()))
    assert np.abs(pinned - tl).max() <= 2.0 and np.abs(pinned - tl).mean() < 0.5
    flipped = bilinear(plain[::-1], _map(_quarter()))
    assert np.abs(pinned - flipped).mean() > 10.0
    castle.set_output(OutputCorrection((W, H), warp=_map(_quarter())))
    assert np.abs(draw(castle) - pinned).max() <= 1.0, "map and homography agree"
    castle.set_output(OutputCorrection((W, H), warp=_map(_flip_h())))
    assert np.abs(draw(castle) - plain[:, ::-1]).max() <= 1.0


def test_outside_the_image_is_black_and_maps_are_per_output_pixel(castle) -> None:
    from exhibit_engine.runtime.output import OutputCorrection

    plain = draw(castle)
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    k = np.ones((H, W))
    k[:, :W // 4] = 0.5            # the output's left quarter at half (encoded) level
    castle.set_output(OutputCorrection((W, H), homography=shift, blend=k))
    out = draw(castle)
    assert out[:, W // 2 + 1:].max() == 0.0, "uv beyond the image's right edge: no light"
    # the output's left half shows the image's right half, the blend map stays put
    assert np.abs(out[:, W // 4:W // 2 - 1] - plain[:, 3 * W // 4:W - 1]).max() <= 1.0
    assert np.abs(out[:, :W // 4] - 0.5 * plain[:, W // 2:3 * W // 4]).max() <= 1.0
    # the same through a map, with NO_IMAGE (-1) where nothing lands
    uv = _map(shift)
    uv[uv[..., 0] > 1.0] = -1.0
    castle.set_output(OutputCorrection((W, H), warp=uv, blend=k))
    assert np.abs(draw(castle) - out).max() <= 1.0


def test_bad_corrections_are_render_errors(castle) -> None:
    from exhibit_engine.runtime.output import OutputCorrection

    with pytest.raises(RenderError, match="not the output's"):
        OutputCorrection((W, H), blend=np.ones((H, W + 1)))
    with pytest.raises(RenderError, match=r"\[0, 1\]"):
        OutputCorrection((W, H), blend=np.full((H, W), 1.5))
    with pytest.raises(RenderError, match="not both"):
        OutputCorrection((W, H), warp=_map(np.eye(3)), homography=np.eye(3))
    with pytest.raises(RenderError, match="invertible"):
        OutputCorrection((W, H), homography=np.zeros((3, 3)))
    with pytest.raises(RenderError, match="output is 96x60"):
        castle.set_output(OutputCorrection((W + 1, H), blend=np.zeros((H, W + 1))))


def test_for_display_takes_the_walls_maps_and_a_corner_pin_matches_its_warp_map(
        castle) -> None:
    from dataclasses import replace

    from exhibit_engine.bench.wall import bench_venue
    from exhibit_engine.config import CornerPin
    from exhibit_engine.runtime.output import OutputCorrection
    from exhibit_engine.wall.blend import blend_weights, encode_blend
    from exhibit_engine.wall.output import output_maps

    venue, _ = bench_venue((W, H), 0.25)
    left, centre, _ = venue.displays
    corr = OutputCorrection.for_display(venue, centre, (W, H))
    assert corr.warp is None and corr.homography is None and corr.black is None
    assert np.allclose(corr.blend, encode_blend(blend_weights(venue, centre, (W, H)), 2.2))
    assert corr.blend[:, W // 2].min() == 1.0 and corr.blend[:, 0].max() < 0.5
    lone = replace(venue, displays=(replace(left, rect=(0.0, 0.0, venue.wall.width,
                                                        venue.wall.height)),))
    assert OutputCorrection.for_display(lone, lone.displays[0], (W, H)).identity

    # a keystoned projector: the homography drawn by the shader and the wall's warp map
    pin = CornerPin(top_left=(8.0, 3.0), top_right=(W - 2.0, 9.0),
                    bottom_right=(W - 10.0, H - 1.0), bottom_left=(1.0, H - 6.0))
    pinned = replace(centre, warp=pin)
    venue = replace(venue, displays=(left, pinned, venue.displays[2]))
    corr = OutputCorrection.for_display(venue, pinned, (W, H))
    assert corr.homography is not None and corr.warp is None
    castle.set_output(corr)
    by_homography = draw(castle)
    maps = output_maps(venue, pinned, (W, H))
    castle.set_output(OutputCorrection((W, H), blend=maps.blend, warp=maps.uv))
    by_map = draw(castle)
    assert by_homography.std() > 10.0
    diff = np.abs(by_homography - by_map)
    assert diff.mean() < 0.2 and np.percentile(diff, 99.5) <= 2.0
    assert by_map[0, 0].max() == 0.0, "the pinned image does not reach the output corner"
