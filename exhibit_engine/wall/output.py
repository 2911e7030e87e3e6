"""The final pass's maps: warp, blend and black level of a display, per output pixel.

Pure numpy. :func:`output_maps` puts the other wall modules together: the warp
(:mod:`~exhibit_engine.wall.warp`) says which point of the display's wall rectangle
each output pixel lights, the blend and black level (:mod:`~exhibit_engine.wall.blend`)
are evaluated at that wall point, and on a curved wall the point is looked up in the
chord image the display renders (:mod:`~exhibit_engine.wall.frustum`).
:mod:`exhibit_engine.runtime.output` turns the maps into textures and a shader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import DisplayConfig, VenueConfig
from .blend import black_level_at, encode_blend, weights_at
from .frustum import display_frustum, wall_point
from .warp import NO_IMAGE, warp_map

__all__ = ["OutputMaps", "output_maps"]


@dataclass(frozen=True)
class OutputMaps:
    """Everything a display's final pass needs, per output pixel (row 0 at the top).

    The pass shows, at output pixel ``p`` with ``(u, v) = uv[p]``::

        c = image(u, v) * blend[p] * dim      # image: the rendered, gamma-encoded slice
        out = black[p] + (1 - black[p]) * c   # and pure black where u < 0 (no image)

    Attributes:
        uv: ``(h, w, 2)`` the rendered image's point to sample, from its top-left
            corner, v down, in [0, 1]; ``NO_IMAGE`` (-1) where no image lands.
        blend: ``(h, w)`` the gamma-encoded blend factor (``encode_blend`` of the
            linear-light weight of the wall point this pixel lights); 0 off the image.
        black: ``(h, w)`` black-level uplift; 0 off the image.
        weight: ``(h, w)`` the linear-light weight itself (for tests and diagrams).
    """

    uv: np.ndarray
    blend: np.ndarray
    black: np.ndarray
    weight: np.ndarray


def output_maps(venue: VenueConfig, display: DisplayConfig, size: tuple[int, int]
                ) -> OutputMaps:
    """Warp, blend and black level of one display, resolved per output pixel.

    The warp says which point of the display's wall rectangle each output pixel
    lights; blend and black level are evaluated at that wall point; on a cylinder the
    point is then looked up in the chord image the display renders.

    Args:
        venue: the venue (wall shape, every display's blend settings).
        display: the display whose output this is.
        size: output size ``(width, height)`` in pixels (the warp is scaled to it).
    """
    rect_uv = warp_map(display, size)
    valid = rect_uv[..., 0] >= 0.0
    x, y, w, h = display.rect
    u = x + rect_uv[..., 0] * w
    v = y + h - rect_uv[..., 1] * h
    weight = np.where(valid, weights_at(venue, display, u, v), 0.0)
    blend = encode_blend(weight, display.gamma)
    black = np.where(valid, black_level_at(venue, display, u, v), 0.0)
    uv = rect_uv
    if venue.wall.shape == "cylinder":
        frustum = display_frustum(venue.wall, display)
        c = frustum.as_array()
        p = frustum.to_camera(wall_point(venue.wall, u, v))
        depth = c[0, 1]  # the chord plane is y = depth in the camera frame
        with np.errstate(divide="ignore", invalid="ignore"):
            hit = p * (depth / p[..., 1:2])
        su = (hit[..., 0] - c[0, 0]) / (c[1, 0] - c[0, 0])
        sv = (hit[..., 2] - c[0, 2]) / (c[2, 2] - c[0, 2])
        chord = np.clip(np.stack([su, sv], axis=-1), 0.0, 1.0)
        uv = np.where(valid[..., None], chord, NO_IMAGE)
    return OutputMaps(uv=uv, blend=blend, black=black, weight=weight)
