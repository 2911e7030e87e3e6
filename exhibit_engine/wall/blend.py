"""Edge blending: the linear-light weight of every display at every wall point.

Pure numpy. Every display's blend weight is a function on the wall: the product of one
ramp per edge that has a blend width, divided by the sum of the same products of every
display covering that wall point. Ramps use f(x) = x^p / (x^p + (1 - x)^p), for which
f(x) + f(1 - x) = 1, so two neighbours whose ramps span the same overlap already sum to
one and the division changes nothing; it is what keeps the sum at exactly one in every
other layout (unequal blend widths, three displays on one spot). Weights are linear
light: the light of all displays at a wall point adds up to the light of one display
there.

:func:`blend_weights` samples the weights on a display's image; :func:`encode_blend`
turns them into the factor applied once to the gamma-encoded output; :func:`black_level`
is the uplift that matches the black of overlaps. :mod:`exhibit_engine.wall.output`
evaluates the same functions per output pixel, after the warp.
"""

from __future__ import annotations

import numpy as np

from ..config import DisplayConfig, VenueConfig
from ._geometry import auto_blend, check_size, covers, edges

__all__ = ["black_level", "black_level_at", "blend_ramp", "blend_weights", "blend_widths",
           "encode_blend", "pixel_centres", "weights_at"]


def blend_ramp(x: np.ndarray, exponent: float) -> np.ndarray:
    """The blend curve ``x^p / (x^p + (1 - x)^p)`` on ``x`` clipped to [0, 1].

    ``ramp(x) + ramp(1 - x) == 1`` for every ``x``: the curve is a partition of unity
    across an overlap. ``p = 1`` is linear; larger ``p`` is flatter near 0 and 1.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    a = x ** exponent
    b = (1.0 - x) ** exponent
    return a / (a + b)


def blend_widths(venue: VenueConfig, display: DisplayConfig
                 ) -> tuple[float, float, float, float]:
    """The blend widths ``(left, right, top, bottom)`` (m) a display actually uses.

    A width given in the venue is used as it is; 0 means automatic: how far the
    displays that overlap this one reach in across that edge (0 where nothing does).
    A width never exceeds the display's own size on that axis.
    """
    auto, _ = auto_blend(venue, display)
    sizes = (display.rect[2], display.rect[2], display.rect[3], display.rect[3])
    return tuple(min(given if given > 0 else a, size)  # type: ignore[return-value]
                 for given, a, size in zip(display.blend, auto, sizes))


def pixel_centres(display: DisplayConfig, size: tuple[int, int]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Wall coordinates of a display's pixel centres, as two 1-D arrays.

    Args:
        display: the display.
        size: the image size ``(width, height)`` in pixels (the display's own, or a
            scaled render of it).

    Returns:
        ``(u, v)``: ``u[i]`` the wall x (m) of column ``i``, ``v[j]`` the wall y (m) of
        row ``j``; row 0 is the top row, so ``v`` decreases.
    """
    w, h = check_size(size)
    x, y, rw, rh = display.rect
    u = x + (np.arange(w, dtype=np.float64) + 0.5) * (rw / w)
    v = y + rh - (np.arange(h, dtype=np.float64) + 0.5) * (rh / h)
    return u, v


def _raw_weight(venue: VenueConfig, display: DisplayConfig, u: np.ndarray, v: np.ndarray
                ) -> np.ndarray:
    """The display's unnormalised ramp product at wall points ``(u, v)`` (broadcast).

    0 where the display does not cover the point.
    """
    x0, x1, y0, y1 = edges(display.rect)
    left, right, top, bottom = blend_widths(venue, display)
    p = display.blend_exponent
    eps = 1e-9
    wx = ((u >= x0 - eps) & (u <= x1 + eps)).astype(np.float64)
    wy = ((v >= y0 - eps) & (v <= y1 + eps)).astype(np.float64)
    if left > 0:
        wx = wx * blend_ramp((u - x0) / left, p)
    if right > 0:
        wx = wx * blend_ramp((x1 - u) / right, p)
    if bottom > 0:
        wy = wy * blend_ramp((v - y0) / bottom, p)
    if top > 0:
        wy = wy * blend_ramp((y1 - v) / top, p)
    return wx * wy


def weights_at(venue: VenueConfig, display: DisplayConfig, u: np.ndarray, v: np.ndarray
               ) -> np.ndarray:
    """A display's linear-light blend weight at wall points ``(u, v)`` (m, broadcast).

    The display's ramp product divided by the sum of the ramp products of every
    display covering the point: all displays' weights at a point sum to 1. Points
    the display does not cover weigh 0.
    """
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    own = _raw_weight(venue, display, u, v)
    shape = np.broadcast_shapes(u.shape, v.shape)
    total = np.zeros(shape, dtype=np.float64)
    count = np.zeros(shape, dtype=np.float64)  # displays covering: the split where all ramps are 0
    for other in venue.displays:
        total = total + (own if other.id == display.id else _raw_weight(venue, other, u, v))
        count = count + covers(other, u, v)
    even = np.where(covers(display, u, v), 1.0 / np.maximum(count, 1.0), 0.0)
    out = np.where(total > 0, own / np.where(total > 0, total, 1.0), even)
    return np.clip(out, 0.0, 1.0)


def blend_weights(venue: VenueConfig, display: DisplayConfig, size: tuple[int, int]
                  ) -> np.ndarray:
    """The linear-light blend weight of each pixel of a display's image.

    Sampled at pixel centres of an image of ``size`` that covers ``display.rect``
    (row 0 at the top). At every wall point, the weights of all displays covering it
    sum to 1 (to rounding); where only this display covers the wall, its weight is 1.
    The weights live on the image, before any warp: a final pass samples them with
    the same warp coordinates as the image (or uses
    :func:`~exhibit_engine.wall.output.output_maps`).

    Args:
        venue: the venue (every display's rect and blend settings).
        display: the display to weigh.
        size: ``(width, height)`` of the image in pixels.

    Returns:
        float64 array of shape ``(height, width)`` with values in [0, 1].
    """
    u, v = pixel_centres(display, size)
    return weights_at(venue, display, u[None, :], v[:, None])


def encode_blend(weights: np.ndarray, gamma: float) -> np.ndarray:
    """The factor a gamma-encoded output is multiplied by: ``weights ** (1 / gamma)``.

    A display with transfer ``light = value ** gamma`` emits ``weight`` times the
    light when its encoded value is multiplied by this factor. Apply it once, in the
    final pass, to the encoded image (never to linear light as well).

    Raises:
        ValueError: ``gamma`` is not positive or a weight is outside [0, 1].
    """
    w = np.asarray(weights, dtype=np.float64)
    if not gamma > 0:
        raise ValueError(f"gamma must be greater than 0, not {gamma!r}")
    if w.size and (np.nanmin(w) < 0.0 or np.nanmax(w) > 1.0 or np.isnan(w).any()):
        raise ValueError("blend weights must lie in [0, 1]")
    return w ** (1.0 / gamma)


def black_level_at(venue: VenueConfig, display: DisplayConfig, u: np.ndarray,
                   v: np.ndarray) -> np.ndarray:
    """The black-level uplift at wall points ``(u, v)`` (broadcast); see :func:`black_level`."""
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    covered = np.zeros(np.broadcast_shapes(u.shape, v.shape), dtype=np.int32)
    for other in venue.displays:
        x0, x1, y0, y1 = edges(other.rect)
        covered = covered + ((u > x0) & (u < x1) & (v > y0) & (v < y1))
    return np.where(covered <= 1, display.black_level, 0.0).astype(np.float64)


def black_level(venue: VenueConfig, display: DisplayConfig, size: tuple[int, int]
                ) -> np.ndarray:
    """The black-level uplift of each pixel of a display's image (0-1 of full output).

    ``display.black_level`` where no other display covers the wall point, 0 inside
    overlaps (where the overlapping projectors' black already adds up). The final
    pass lifts the encoded output ``c`` to ``b + (1 - b) * c``: black rises to ``b``,
    white stays white. The step at an overlap's edge is deliberate: it is where the
    neighbour's black light starts.

    Returns:
        float64 array of shape ``(height, width)``, image space like
        :func:`blend_weights`.
    """
    u, v = pixel_centres(display, size)
    return black_level_at(venue, display, u[None, :], v[:, None])
