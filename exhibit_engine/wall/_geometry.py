"""Display rectangles on the wall, as the blend and the venue check both read them.

Private to :mod:`exhibit_engine.wall`: which edges a rectangle has, which wall points it
covers, how far overlapping neighbours reach in across each edge, and the one check of
an image size that every per-pixel map makes.
"""

from __future__ import annotations

import numpy as np

from ..config import DisplayConfig, VenueConfig

__all__ = ["auto_blend", "check_size", "covers", "edges"]


def edges(rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A wall rectangle ``(x, y, width, height)`` as its edges (left, right, bottom, top)."""
    x, y, w, h = rect
    return x, x + w, y, y + h  # left, right, bottom, top


def auto_blend(venue: VenueConfig, display: DisplayConfig
               ) -> tuple[list[float], list[list[str]]]:
    """How far overlapping displays reach in across each edge (left, right, top, bottom),
    and which displays they are."""
    x0, x1, y0, y1 = edges(display.rect)
    auto = [0.0, 0.0, 0.0, 0.0]
    who: list[list[str]] = [[], [], [], []]
    for other in venue.displays:
        if other.id == display.id:
            continue
        a0, a1, b0, b1 = edges(other.rect)
        ox = min(x1, a1) - max(x0, a0)
        oy = min(y1, b1) - max(y0, b0)
        if ox <= 1e-9 or oy <= 1e-9:
            continue  # no common area (touching edges are not an overlap)
        for side, (hit, amount) in enumerate((
                (a0 <= x0 < a1 < x1, ox),    # reaches in across the left edge
                (x0 < a0 < x1 <= a1, ox),    # across the right edge
                (y0 < b0 < y1 <= b1, oy),    # across the top edge
                (b0 <= y0 < b1 < y1, oy))):  # across the bottom edge
            if hit:
                auto[side] = max(auto[side], amount)
                who[side].append(other.id)
    return auto, who


def covers(display: DisplayConfig, u: np.ndarray, v: np.ndarray, eps: float = 1e-9
           ) -> np.ndarray:
    """Which wall points ``(u, v)`` (broadcast) the display's rectangle covers, edges included."""
    x0, x1, y0, y1 = edges(display.rect)
    return (u >= x0 - eps) & (u <= x1 + eps) & (v >= y0 - eps) & (v <= y1 + eps)


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    """An image size ``(width, height)`` as two ints.

    Raises:
        ValueError: either is below 1.
    """
    w, h = (int(s) for s in size)
    if w < 1 or h < 1:
        raise ValueError(f"image size must be at least 1 x 1, not {size!r}")
    return w, h
