"""Wall geometry: where each display's slice of the wall sits as seen from the eye.

Pure numpy. The runtime turns these numbers into a Panda3D lens with
``Lens.set_frustum_from_corners``; everything here is testable without a GPU.

Coordinates:
    wall space   metres on the wall, (u, v) from its lower-left corner, u right, v up.
    eye space    metres relative to the design eye point, Panda3D's camera convention:
                 +x right, +y forward (into the wall), +z up. The wall plane is y = d,
                 where d is the eye's distance from the wall.

A scene poses a camera rig for show time t; the eye sits at the rig's origin, so the
wall is a window into the scene and every display's frustum is an off-axis slice of it.
Slices that share an edge share it exactly, which is what lets a wall stay seamless.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import DisplayConfig, WallConfig

__all__ = ["Frustum", "display_frustum", "wall_frustum", "centered_frustum", "pixel_rect"]


@dataclass(frozen=True)
class Frustum:
    """The four corners of an image rectangle in eye space (metres).

    Attributes:
        ul, ur, ll, lr: upper-left, upper-right, lower-left, lower-right corners,
            each ``(x, y, z)`` in eye space.
    """

    ul: tuple[float, float, float]
    ur: tuple[float, float, float]
    ll: tuple[float, float, float]
    lr: tuple[float, float, float]

    def as_array(self) -> np.ndarray:
        """Corners as a (4, 3) array in the order ul, ur, ll, lr."""
        return np.array([self.ul, self.ur, self.ll, self.lr], dtype=np.float64)

    @property
    def aspect(self) -> float:
        """Width over height of the image rectangle."""
        c = self.as_array()
        return float(np.linalg.norm(c[1] - c[0]) / np.linalg.norm(c[0] - c[2]))

    def project(self, point: tuple[float, float, float]) -> tuple[float, float]:
        """Where an eye-space point lands in this image, in [0, 1] x [0, 1] from the top-left.

        The point is projected through the eye onto the image plane; values outside
        [0, 1] mean the point falls outside this slice.
        """
        c = self.as_array()
        p = np.asarray(point, dtype=np.float64)
        normal = np.cross(c[1] - c[0], c[2] - c[0])
        denom = float(np.dot(normal, p))
        if abs(denom) < 1e-12:
            raise ValueError("point is parallel to the image plane")
        hit = p * (np.dot(normal, c[0]) / denom)
        x_axis, y_axis = c[1] - c[0], c[2] - c[0]
        rel = hit - c[0]
        return (float(np.dot(rel, x_axis) / np.dot(x_axis, x_axis)),
                float(np.dot(rel, y_axis) / np.dot(y_axis, y_axis)))


def _rect_frustum(wall: WallConfig, x: float, y: float, w: float, h: float) -> Frustum:
    ex, ey, d = wall.eye

    def at(u: float, v: float) -> tuple[float, float, float]:
        return (u - ex, d, v - ey)

    return Frustum(ul=at(x, y + h), ur=at(x + w, y + h), ll=at(x, y), lr=at(x + w, y))


def display_frustum(wall: WallConfig, display: DisplayConfig) -> Frustum:
    """The off-axis frustum of one display's wall rectangle, seen from the eye."""
    return _rect_frustum(wall, *display.rect)


def wall_frustum(wall: WallConfig) -> Frustum:
    """The frustum of the whole wall, seen from the eye (for a single full-wall render)."""
    return _rect_frustum(wall, 0.0, 0.0, wall.width, wall.height)


def centered_frustum(aspect: float, fov_h_deg: float = 60.0) -> Frustum:
    """A symmetric frustum at unit distance, for renders that are not part of a wall.

    Args:
        aspect: image width over height.
        fov_h_deg: horizontal field of view in degrees.
    """
    if aspect <= 0 or not 1.0 <= fov_h_deg <= 170.0:
        raise ValueError("aspect must be > 0 and fov between 1 and 170 degrees")
    half_w = float(np.tan(np.radians(fov_h_deg) / 2.0))
    half_h = half_w / aspect
    return Frustum(ul=(-half_w, 1.0, half_h), ur=(half_w, 1.0, half_h),
                   ll=(-half_w, 1.0, -half_h), lr=(half_w, 1.0, -half_h))


def pixel_rect(wall: WallConfig, display: DisplayConfig, wall_pixels: tuple[int, int]
               ) -> tuple[int, int, int, int]:
    """Where a display's slice lands in a full-wall image of ``wall_pixels`` (w, h).

    Returns:
        ``(left, top, width, height)`` in pixels, rounded to whole pixels; used to
        stitch slices into one picture of the wall.
    """
    W, H = wall_pixels
    x, y, w, h = display.rect
    left = round(x / wall.width * W)
    right = round((x + w) / wall.width * W)
    top = round((wall.height - (y + h)) / wall.height * H)
    bottom = round((wall.height - y) / wall.height * H)
    return left, top, right - left, bottom - top
