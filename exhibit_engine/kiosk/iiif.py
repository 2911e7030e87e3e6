"""A level-0 IIIF Image API 3.0 client for a bundle's static tile pyramid.

Packing writes a pyramid (:func:`~exhibit_engine.assets.image.iiif_pyramid`): an
``info.json`` and the tiles under the canonical request paths. To show part of the
image in a rectangle of the screen, :func:`tiles_for` picks the coarsest level that is
still at least as sharp as the screen and lists the tiles that cover the part, each with
the piece of the screen it fills and the piece of the tile that goes there. Pure maths,
no drawing and no reading: the kiosk's picture viewer draws what it lists.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ..errors import BundleError

__all__ = ["Pyramid", "Tile", "parse_info", "tiles_for"]


@dataclass(frozen=True)
class Pyramid:
    """What ``info.json`` says: the folder, full size, tile edge and scale factors."""

    folder: str
    width: int
    height: int
    tile: int
    factors: tuple[int, ...]


@dataclass(frozen=True)
class Tile:
    """One tile to draw: its bundle ``path``, the screen rectangle it fills
    (x, y, w, h, pixels from the top-left) and the part of the tile image used there
    (u0, u1, v0, v1 with v = 0 at the tile's bottom row, as textures count)."""

    path: str
    screen: tuple[float, float, float, float]
    uv: tuple[float, float, float, float]


def parse_info(data: bytes, path: str) -> Pyramid:
    """Read a level-0 ``info.json``.

    Raises:
        BundleError: it is not JSON, or lacks a positive size, tile edge or factors.
    """
    folder = path.rsplit("/", 1)[0]
    try:
        doc: Any = json.loads(data)
        width, height = int(doc["width"]), int(doc["height"])
        t = doc["tiles"][0]
        tile = int(t["width"])
        factors = tuple(sorted(int(f) for f in t["scaleFactors"]))
    except (ValueError, KeyError, IndexError, TypeError):
        raise BundleError(path, "is not a IIIF info.json with width, height and tiles") \
            from None
    if min(width, height, tile) <= 0 or not factors or factors[0] != 1:
        raise BundleError(path, "needs a positive size and tile edge and scale factor 1")
    return Pyramid(folder, width, height, tile, factors)


def tiles_for(p: Pyramid, region: tuple[float, float, float, float],
              screen: tuple[float, float, float, float]) -> list[Tile]:
    """The tiles that show ``region`` of the image (x0, y0, x1, y1 in 0..1, top-left
    origin) in ``screen`` (x, y, w, h pixels)."""
    x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in region)
    if x1 <= x0 or y1 <= y0:
        return []
    sx, sy, sw, sh = screen
    px0, px1, py0, py1 = x0 * p.width, x1 * p.width, y0 * p.height, y1 * p.height
    need = (px1 - px0) / max(sw, 1.0)          # image pixels per screen pixel
    s = max([f for f in p.factors if f <= need] or [1])
    lw, lh = math.ceil(p.width / s), math.ceil(p.height / s)
    out = []
    for ty in range(0, lh, p.tile):
        for tx in range(0, lw, p.tile):
            ix, iy = tx * s, ty * s                      # the tile in full-size pixels
            iw, ih = min(p.tile * s, p.width - ix), min(p.tile * s, p.height - iy)
            cx0, cx1 = max(ix, px0), min(ix + iw, px1)
            cy0, cy1 = max(iy, py0), min(iy + ih, py1)
            if cx1 <= cx0 or cy1 <= cy0:
                continue
            tw, th = math.ceil(iw / s), math.ceil(ih / s)
            full = (iw, ih) == (p.width, p.height)
            region_s = "full" if full else f"{ix},{iy},{iw},{ih}"
            size_s = "max" if (tw, th) == (p.width, p.height) else f"{tw},{th}"
            path = f"{p.folder}/{region_s}/{size_s}/0/default.jpg"
            scr = (sx + (cx0 - px0) / (px1 - px0) * sw, sy + (cy0 - py0) / (py1 - py0) * sh,
                   (cx1 - cx0) / (px1 - px0) * sw, (cy1 - cy0) / (py1 - py0) * sh)
            uv = ((cx0 - ix) / iw, (cx1 - ix) / iw, 1.0 - (cy1 - iy) / ih, 1.0 - (cy0 - iy) / ih)
            out.append(Tile(path, scr, uv))
    return out
