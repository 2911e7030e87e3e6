"""Putting blended projector slices back together, the way light adds up on the wall.

Pure numpy. Each display's captured slice is what its projector would emit: the
scene's gamma-encoded colour times ``weight ** (1/gamma)`` (see
:mod:`exhibit_engine.runtime.output`). On the wall the *light* of overlapping
projectors adds, so a faithful picture of the wall decodes every slice to linear
light (``value ** gamma``), adds the slices at their wall pixel positions, and
re-encodes (``light ** (1/gamma)``). Adding the encoded values instead would make
every overlap too bright.

Used by ``exhibit demo`` (``out/demo/wall.png``) and ``exhibit bench wall`` (the
stitch test).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..config import VenueConfig
from .frustum import pixel_rect

__all__ = ["SliceOverlap", "composite_encoded", "composite_linear", "psnr", "slice_overlaps",
           "wall_pixels"]


def wall_pixels(venue: VenueConfig, scale: float = 1.0) -> tuple[int, int]:
    """The whole wall's size in pixels at the densest display's resolution, scaled."""
    per_m = max(d.pixels[0] / d.rect[2] for d in venue.displays) * scale
    return round(venue.wall.width * per_m), round(venue.wall.height * per_m)


@dataclass(frozen=True)
class SliceOverlap:
    """Where two displays' slices overlap in a full-wall image.

    Attributes:
        a, b: the two display ids (in venue order).
        box: ``(left, top, width, height)`` in wall pixels.
    """

    a: str
    b: str
    box: tuple[int, int, int, int]

    @property
    def name(self) -> str:
        """``a|b``."""
        return f"{self.a}|{self.b}"

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The overlap's pixels of a full-wall image (rows, columns, ...)."""
        x, y, w, h = self.box
        return image[y:y + h, x:x + w]


def slice_overlaps(venue: VenueConfig, size: tuple[int, int]) -> list[SliceOverlap]:
    """Every pair of displays whose slices share pixels in a ``size`` (w, h) wall image."""
    rects = [(d.id, pixel_rect(venue.wall, d, size)) for d in venue.displays]
    out = []
    for i, (a, (ax, ay, aw, ah)) in enumerate(rects):
        for b, (bx, by, bw, bh) in rects[i + 1:]:
            x0, y0 = max(ax, bx), max(ay, by)
            x1, y1 = min(ax + aw, bx + bw), min(ay + ah, by + bh)
            if x1 > x0 and y1 > y0:
                out.append(SliceOverlap(a, b, (x0, y0, x1 - x0, y1 - y0)))
    return out


def _resize(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float (h, w, c) image to ``size`` (w, h): bilinear, pixel centres aligned."""
    h0, w0 = plane.shape[:2]
    w, h = size
    x = np.clip((np.arange(w) + 0.5) * (w0 / w) - 0.5, 0.0, w0 - 1.0)
    y = np.clip((np.arange(h) + 0.5) * (h0 / h) - 0.5, 0.0, h0 - 1.0)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w0 - 1), np.minimum(y0 + 1, h0 - 1)
    fx, fy = (x - x0)[None, :, None], (y - y0)[:, None, None]
    top = plane[y0][:, x0] * (1 - fx) + plane[y0][:, x1] * fx
    bottom = plane[y1][:, x0] * (1 - fx) + plane[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def _accumulate(venue: VenueConfig, slices: Mapping[str, np.ndarray], size: tuple[int, int],
                linear: bool) -> tuple[np.ndarray, float]:
    w, h = size
    gamma = venue.displays[0].gamma
    canvas = np.zeros((h, w, 3), dtype=np.float64)
    for d in venue.displays:
        img = np.asarray(slices[d.id], dtype=np.float64)[..., :3] / 255.0
        if linear:
            img = img ** d.gamma
        left, top, sw, sh = pixel_rect(venue.wall, d, size)
        if img.shape[:2] != (sh, sw):   # a slice not drawn on the wall's pixel grid
            img = _resize(img, (sw, sh))
        canvas[top:top + sh, left:left + sw] += img
    return canvas, gamma


def composite_linear(venue: VenueConfig, slices: Mapping[str, np.ndarray],
                     size: tuple[int, int]) -> np.ndarray:
    """The wall as its light adds up: decode, add at wall positions, re-encode.

    Args:
        venue: the venue (display rects and gammas).
        slices: each display's captured output, ``(h, w, 3)`` uint8, by display id.
            A slice whose size differs from its place in the wall image is resized.
        size: the wall image's size ``(width, height)``.

    Returns:
        ``(h, w, 3)`` uint8, encoded with the first display's gamma.

    Raises:
        KeyError: a display has no slice.
    """
    canvas, gamma = _accumulate(venue, slices, size, linear=True)
    encoded = np.clip(canvas, 0.0, 1.0) ** (1.0 / gamma)
    return np.round(encoded * 255.0).astype(np.uint8)


def composite_encoded(venue: VenueConfig, slices: Mapping[str, np.ndarray],
                      size: tuple[int, int]) -> np.ndarray:
    """The naive composite: encoded values added as they are (a control, never the wall)."""
    canvas, _ = _accumulate(venue, slices, size, linear=False)
    return np.round(np.clip(canvas, 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of two 8-bit images, in dB (``inf`` when equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * float(np.log10(255.0 ** 2 / mse))
