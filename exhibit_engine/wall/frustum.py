"""Where each display's slice of the wall sits as seen from the eye: off-axis frusta.

Pure numpy. The runtime turns these numbers into a Panda3D lens with
``Lens.set_frustum_from_corners``; everything here is testable without a GPU.

Coordinates:
    wall space   metres on the wall, (u, v) from its lower-left corner, u right, v up.
    eye space    metres relative to the design eye point, Panda3D's camera convention:
                 +x right, +y forward (into the wall), +z up. A flat wall is the plane
                 y = d, where d is the eye's distance from the wall.

A scene poses a camera rig for show time t; the eye sits at the rig's origin, so the
wall is a window into the scene and every display's frustum is an off-axis slice of it.
Slices that share an edge share it exactly, which is what lets a wall stay seamless.

Curved walls (``shape = "cylinder"``): wall coordinates are the wall unrolled (x is arc
length). Each display renders the flat *chord* of its arc: the plane through the arc's
two vertical end lines. Its frustum is off-axis in a camera turned by
``Frustum.heading_deg`` to face that chord, so the image plane stays a plane and the
lens needs no keystone. The chord image is then bent onto the arc by the display's
output mapping (:func:`~exhibit_engine.wall.output.output_maps`): each output pixel,
which lights a known point of the cylinder, samples the chord image where the eye's ray
to that point crosses the chord. Neighbouring chords differ, so neighbours agree along
the cylinder, not on a shared plane; flat walls are the case ``heading_deg == 0``
everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ..config import DisplayConfig, WallConfig

__all__ = ["Frustum", "LodView", "MAX_RASTER", "WallRaster", "centered_frustum",
           "display_frustum", "frustum_lod", "guard_frustum", "guard_margin", "pixel_rect",
           "venue_lod", "wall_frustum", "wall_point", "wall_raster"]


@dataclass(frozen=True)
class Frustum:
    """The four corners of an image rectangle as seen from the eye (metres).

    Attributes:
        ul, ur, ll, lr: upper-left, upper-right, lower-left, lower-right corners,
            each ``(x, y, z)`` in the camera's frame: eye space turned by ``heading_deg``.
        heading_deg: how far the camera turns about +z (up) from eye space, in degrees,
            counter-clockwise seen from above (Panda3D's heading: positive turns left).
            0 for every flat wall; a cylinder's displays turn to face their chords.
    """

    ul: tuple[float, float, float]
    ur: tuple[float, float, float]
    ll: tuple[float, float, float]
    lr: tuple[float, float, float]
    heading_deg: float = 0.0

    def to_camera(self, point: ArrayLike) -> np.ndarray:
        """An eye-space point (or ``(..., 3)`` points) in this frustum's camera frame."""
        p = np.asarray(point, dtype=np.float64)
        if self.heading_deg == 0.0:
            return p
        h = np.radians(self.heading_deg)
        fwd = np.array([-np.sin(h), np.cos(h)])
        right = np.array([np.cos(h), np.sin(h)])
        return np.stack([p[..., 0] * right[0] + p[..., 1] * right[1],
                         p[..., 0] * fwd[0] + p[..., 1] * fwd[1], p[..., 2]], axis=-1)

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
        p = self.to_camera(point)
        normal = np.cross(c[1] - c[0], c[2] - c[0])
        denom = float(np.dot(normal, p))
        if abs(denom) < 1e-12:
            raise ValueError("point is parallel to the image plane")
        hit = p * (np.dot(normal, c[0]) / denom)
        x_axis, y_axis = c[1] - c[0], c[2] - c[0]
        rel = hit - c[0]
        return (float(np.dot(rel, x_axis) / np.dot(x_axis, x_axis)),
                float(np.dot(rel, y_axis) / np.dot(y_axis, y_axis)))


def wall_point(wall: WallConfig, u: ArrayLike, v: ArrayLike) -> np.ndarray:
    """Eye-space positions of wall points ``(u, v)`` (m, broadcast) -> ``(..., 3)``.

    Flat wall: the plane ``y = distance``. Cylinder: the wall point at the eye's x is
    straight ahead at ``distance``; arc length ``u`` turns by ``(u - eye_x) / radius``
    around the cylinder's axis.
    """
    ex, ey, d = wall.eye
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u, v = np.broadcast_arrays(u, v)
    if wall.shape == "cylinder":
        theta = (u - ex) / wall.radius
        x = wall.radius * np.sin(theta)
        y = (d - wall.radius) + wall.radius * np.cos(theta)
    else:
        x, y = u - ex, np.full(u.shape, float(d))
    return np.stack([x, y, v - ey], axis=-1)


def _rect_frustum(wall: WallConfig, x: float, y: float, w: float, h: float) -> Frustum:
    heading = 0.0
    if wall.shape == "cylinder":
        heading = -float(np.degrees((x + w / 2.0 - wall.eye[0]) / wall.radius))
    probe = Frustum((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), heading)

    def at(u: float, v: float) -> tuple[float, float, float]:
        if wall.shape != "cylinder":
            return (u - wall.eye[0], wall.eye[2], v - wall.eye[1])
        cx, cy, cz = probe.to_camera(wall_point(wall, u, v))
        return (float(cx), float(cy), float(cz))

    return Frustum(ul=at(x, y + h), ur=at(x + w, y + h), ll=at(x, y), lr=at(x + w, y),
                   heading_deg=heading)


def display_frustum(wall: WallConfig, display: DisplayConfig) -> Frustum:
    """The off-axis frustum of one display's wall rectangle, seen from the eye.

    On a cylinder: the frustum of the rectangle's chord, in a camera turned to face it
    (see the module docstring).
    """
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


@dataclass(frozen=True)
class LodView:
    """What a scene needs to pick levels of detail that every projector agrees on.

    Attributes:
        scale: pixels per unit of tangent (an object of size s at distance D spans
            ``s / D * scale`` pixels): the wall's finest display, the same on every node
            of a venue, so that nodes sharing an overlap pick the same level.
        wall_px: ``(ox, oy, sx, sy)``: this output's pixel ``(x, y)`` (from the lower
            left, as ``gl_FragCoord``) is the wall pixel ``(ox + x * sx, oy + y * sy)``
            on the grid of ``scale`` (a screen-door fade between two levels then falls
            on the same wall pixels in every slice).
    """

    scale: float
    wall_px: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


def frustum_lod(frustum: Frustum, size: tuple[int, int]) -> LodView:
    """The view of a single image (no venue): its own pixels, its own grid."""
    width = abs(frustum.ur[0] - frustum.ul[0]) / max(abs(frustum.ul[1]), 1e-9)
    return LodView(size[0] / max(width, 1e-9))


def venue_lod(wall: WallConfig, displays: tuple[DisplayConfig, ...],
              rect: tuple[float, float, float, float], size: tuple[int, int]) -> LodView:
    """The view of an output showing wall rectangle ``rect`` (metres) at ``size`` pixels:
    the finest display's density (pixels per metre of wall, times the eye's distance)
    and where its pixels fall on that density's grid."""
    density = max((d.pixels[0] / d.rect[2] for d in displays if d.rect[2] > 0),
                  default=size[0] / max(rect[2], 1e-9))
    x, y, w, h = rect
    return LodView(density * wall.eye[2], (x * density, y * density,
                                           w / size[0] * density, h / size[1] * density))


# --------------------------------------------------------------------------- guard bands


def guard_margin(reach_px: float) -> int:
    """The guard band, in pixels on each side, for effects that reach ``reach_px``.

    A slice is drawn that much larger than its output and then cropped, so that whatever
    reads or spreads over neighbouring pixels (a bloom kernel, a point sprite clipped by
    its centre, a refraction lookup) sees beyond the slice's edge exactly as its
    neighbour does. One pixel more than the reach covers rasterisation's rounding; the
    margin is even so that the 2x2 pixel quads derivatives are taken over (``fwidth``)
    fall on the same pixels with and without it.
    """
    if not reach_px > 0.0:
        return 0
    m = int(np.ceil(min(float(reach_px), 4096.0))) + 1
    return m + (m & 1)


def guard_frustum(frustum: Frustum, size: tuple[int, int], margin: int) -> Frustum:
    """``frustum`` grown by ``margin`` pixels of its ``size`` on every side.

    The image plane stays the same plane and its pixels the same pixels: pixel ``(x, y)``
    of the output is pixel ``(x + margin, y + margin)`` of the grown image.
    """
    if margin <= 0:
        return frustum
    c = frustum.as_array()
    right, down = (c[1] - c[0]) / size[0], (c[2] - c[0]) / size[1]
    m = float(margin)

    def at(a: float, b: float) -> tuple[float, float, float]:
        p = c[0] + a * right + b * down
        return (float(p[0]), float(p[1]), float(p[2]))

    w, h = size[0] + m, size[1] + m
    return Frustum(ul=at(-m, -m), ur=at(w, -m), ll=at(-m, h), lr=at(w, h),
                   heading_deg=frustum.heading_deg)


#: The widest or tallest wall raster a node draws into (the common GPU texture limit).
MAX_RASTER = 16384


@dataclass(frozen=True)
class WallRaster:
    """A flat wall's one pixel grid, which a display's slice is drawn on.

    Every node of the wall sees the scene through the same lens (the whole wall's
    frustum) and the same viewport (the whole grid, ``size``); each draws only its own
    pixels and its guard band (a scissor) and crops them. Rasterisation, depth, the
    2x2 quads of derivatives and ``gl_FragCoord`` are then the whole wall's, bit for bit,
    so a silhouette or a one-pixel flake in an overlap falls on the same pixels in both
    projectors. (A slice's own off-axis lens differs from its neighbour's in the last
    bits of its matrix: about one silhouette pixel in ten thousand flips between them.)

    Attributes:
        frustum: the whole wall's frustum (:func:`wall_frustum`).
        size: the grid's size in pixels (width, height).
        origin: this output's lower-left pixel on the grid (from the left, from the
            bottom, as ``gl_FragCoord``).
    """

    frustum: Frustum
    size: tuple[int, int]
    origin: tuple[int, int]


def wall_raster(wall: WallConfig, displays: tuple[DisplayConfig, ...],
                display: DisplayConfig | None, size: tuple[int, int] | None = None
                ) -> WallRaster | None:
    """The wall grid ``display`` is drawn on (``None``: the whole wall's own render), or
    ``None`` where there is none: a curved wall (each display draws its own chord), a
    display whose pixels are not whole pixels of the finest display's square grid, or
    a grid larger than :data:`MAX_RASTER` a side.

    ``size``: the output's pixels when they are not the display's own (a node drawing at
    a render scale; every node of the wall uses the same one), which scales the grid.
    """
    if wall.shape != "flat" or not displays or not all(d.rect[2] > 0 for d in displays):
        return None
    density = max(d.pixels[0] / d.rect[2] for d in displays)
    if size is not None and display is not None:
        density *= size[0] / display.pixels[0]
    elif size is not None:
        density = size[0] / wall.width
    grid_m = (wall.width * density, wall.height * density)

    def whole(v: float) -> int | None:
        return round(v) if abs(v - round(v)) < 1e-6 else None

    grid = (whole(grid_m[0]), whole(grid_m[1]))
    if display is None:
        rect, pixels = (0.0, 0.0, wall.width, wall.height), size or grid
    else:
        rect, pixels = display.rect, size or display.pixels
    x, y, w, h = (whole(v * density) for v in rect)
    if (None in (*grid, x, y) or (w, h) != tuple(pixels)
            or not all(0 < v <= MAX_RASTER for v in grid)):
        return None
    assert grid[0] is not None and grid[1] is not None and x is not None and y is not None
    return WallRaster(wall_frustum(wall), (grid[0], grid[1]), (x, y))
