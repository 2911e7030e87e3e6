"""The kiosk's IIIF level-0 client picks the right tiles of a packed pyramid."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from exhibit_engine.assets.image import iiif_pyramid
from exhibit_engine.errors import BundleError
from exhibit_engine.kiosk.iiif import parse_info, tiles_for


def _pyramid(w: int, h: int):
    outs = iiif_pyramid(Image.new("RGB", (w, h), (200, 100, 50)), "prints/x/iiif", tile=256)
    files = {o.path: o.data for o in outs}
    return parse_info(files["prints/x/iiif/info.json"], "prints/x/iiif/info.json"), files


def test_the_whole_picture_in_a_small_screen_is_one_coarse_tile_that_exists() -> None:
    p, files = _pyramid(1000, 700)
    tiles = tiles_for(p, (0, 0, 1, 1), (0, 0, 250, 175))
    assert len(tiles) == 1 and tiles[0].path in files
    assert tiles[0].screen == pytest.approx((0, 0, 250, 175))
    assert tiles[0].uv == pytest.approx((0, 1, 0, 1))


def test_a_zoomed_region_uses_full_resolution_tiles_that_cover_it_exactly() -> None:
    p, files = _pyramid(1000, 700)
    region = (0.2, 0.3, 0.45, 0.55)          # 250 x 175 image pixels
    tiles = tiles_for(p, region, (100, 50, 500, 350))
    assert tiles and all(t.path in files for t in tiles)
    assert all("/max/" not in t.path and t.path.count(",") >= 4 for t in tiles)
    area = sum(t.screen[2] * t.screen[3] for t in tiles)
    assert area == pytest.approx(500 * 350)
    xs = [t.screen[0] for t in tiles]
    assert min(xs) == pytest.approx(100)
    for t in tiles:
        u0, u1, v0, v1 = t.uv
        assert 0 <= u0 < u1 <= 1 and 0 <= v0 < v1 <= 1


def test_a_bad_info_json_is_a_bundle_error() -> None:
    with pytest.raises(BundleError):
        parse_info(b"{}", "prints/x/iiif/info.json")
    with pytest.raises(BundleError):
        parse_info(json.dumps({"width": 10, "height": 10, "tiles": [
            {"width": 0, "scaleFactors": [1]}]}).encode(), "i.json")
