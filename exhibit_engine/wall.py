"""Wall geometry: where each display's slice of the wall sits as seen from the eye.

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
output mapping (:func:`output_maps`): each output pixel, which lights a known point of
the cylinder, samples the chord image where the eye's ray to that point crosses the
chord. Neighbouring chords differ, so neighbours agree along the cylinder, not on a
shared plane; flat walls are the case ``heading_deg == 0`` everywhere.

Blending and warping: :func:`blend_weights` gives linear-light weights that sum to one
over every overlap (ramps ``x^p / (x^p + (1 - x)^p)``, normalised over all displays
covering a point); :func:`encode_blend` turns them into the factor applied once to the
gamma-encoded output; :func:`corner_pin` and :func:`warp_map` place the image on the
projector's output; :func:`output_maps` combines it all per output pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import ArrayLike

from .config import CornerPin, DisplayConfig, MeshWarp, VenueConfig, WallConfig

__all__ = ["Frustum", "display_frustum", "wall_frustum", "centered_frustum", "pixel_rect",
           "blend_ramp", "blend_widths", "blend_weights", "encode_blend", "black_level",
           "pixel_centres", "weights_at", "wall_point", "output_maps", "OutputMaps",
           "black_level_at", "corner_pin", "apply_homography", "warp_map", "NO_IMAGE",
           "Problem", "Overlap", "overlaps", "check_venue"]


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


# --------------------------------------------------------------------------- blending
#
# Every display's blend weight is a function on the wall: the product of one ramp per
# edge that has a blend width, divided by the sum of the same products of every
# display covering that wall point. Ramps use f(x) = x^p / (x^p + (1 - x)^p), for
# which f(x) + f(1 - x) = 1, so two neighbours whose ramps span the same overlap
# already sum to one and the division changes nothing; it is what keeps the sum at
# exactly one in every other layout (unequal blend widths, three displays on one spot).
# Weights are linear light: the light of all displays at a wall point adds up to the
# light of one display there.


def blend_ramp(x: np.ndarray, exponent: float) -> np.ndarray:
    """The blend curve ``x^p / (x^p + (1 - x)^p)`` on ``x`` clipped to [0, 1].

    ``ramp(x) + ramp(1 - x) == 1`` for every ``x``: the curve is a partition of unity
    across an overlap. ``p = 1`` is linear; larger ``p`` is flatter near 0 and 1.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    a = x ** exponent
    b = (1.0 - x) ** exponent
    return a / (a + b)


def _edges(rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, w, h = rect
    return x, x + w, y, y + h  # left, right, bottom, top


def _auto_blend(venue: VenueConfig, display: DisplayConfig
                ) -> tuple[list[float], list[list[str]]]:
    """How far overlapping displays reach in across each edge (left, right, top, bottom),
    and which displays they are."""
    x0, x1, y0, y1 = _edges(display.rect)
    auto = [0.0, 0.0, 0.0, 0.0]
    who: list[list[str]] = [[], [], [], []]
    for other in venue.displays:
        if other.id == display.id:
            continue
        a0, a1, b0, b1 = _edges(other.rect)
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


def blend_widths(venue: VenueConfig, display: DisplayConfig
                 ) -> tuple[float, float, float, float]:
    """The blend widths ``(left, right, top, bottom)`` (m) a display actually uses.

    A width given in the venue is used as it is; 0 means automatic: how far the
    displays that overlap this one reach in across that edge (0 where nothing does).
    A width never exceeds the display's own size on that axis.
    """
    auto, _ = _auto_blend(venue, display)
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
    w, h = _check_size(size)
    x, y, rw, rh = display.rect
    u = x + (np.arange(w, dtype=np.float64) + 0.5) * (rw / w)
    v = y + rh - (np.arange(h, dtype=np.float64) + 0.5) * (rh / h)
    return u, v


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    w, h = (int(s) for s in size)
    if w < 1 or h < 1:
        raise ValueError(f"image size must be at least 1 x 1, not {size!r}")
    return w, h


def _raw_weight(venue: VenueConfig, display: DisplayConfig, u: np.ndarray, v: np.ndarray
                ) -> np.ndarray:
    """The display's unnormalised ramp product at wall points ``(u, v)`` (broadcast).

    0 where the display does not cover the point.
    """
    x0, x1, y0, y1 = _edges(display.rect)
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
        count = count + _covers(other, u, v)
    even = np.where(_covers(display, u, v), 1.0 / np.maximum(count, 1.0), 0.0)
    out = np.where(total > 0, own / np.where(total > 0, total, 1.0), even)
    return np.clip(out, 0.0, 1.0)


def _covers(display: DisplayConfig, u: np.ndarray, v: np.ndarray, eps: float = 1e-9
            ) -> np.ndarray:
    x0, x1, y0, y1 = _edges(display.rect)
    return (u >= x0 - eps) & (u <= x1 + eps) & (v >= y0 - eps) & (v <= y1 + eps)


def blend_weights(venue: VenueConfig, display: DisplayConfig, size: tuple[int, int]
                  ) -> np.ndarray:
    """The linear-light blend weight of each pixel of a display's image.

    Sampled at pixel centres of an image of ``size`` that covers ``display.rect``
    (row 0 at the top). At every wall point, the weights of all displays covering it
    sum to 1 (to rounding); where only this display covers the wall, its weight is 1.
    The weights live on the image, before any warp: a final pass samples them with
    the same warp coordinates as the image (or uses :func:`output_maps`).

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
        x0, x1, y0, y1 = _edges(other.rect)
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


# --------------------------------------------------------------------------- warps
#
# A warp says where the image lands on a display's output. Output pixel coordinates
# run from the output's top-left corner, x right, y down, with the output's corners at
# (0, 0) and (width, height); image coordinates ("uv") run from the image's top-left
# corner over [0, 1] x [0, 1], v down. warp_map inverts the warp: for each output
# pixel it says which image point to show there.

#: The uv a warp map gives an output pixel that no part of the image lands on.
NO_IMAGE = -1.0


def corner_pin(src_quad: ArrayLike, dst_quad: ArrayLike) -> np.ndarray:
    """The perspective homography taking four source points to four destination points.

    Solved by the direct linear transform (with Hartley normalisation) on the
    8 equations of the 4 point pairs: ``dst ~ H @ [x, y, 1]``.

    Args:
        src_quad: four ``(x, y)`` points, e.g. the image's corners.
        dst_quad: the four ``(x, y)`` points they must land on, in the same order.

    Returns:
        a 3 x 3 float64 matrix, scaled so that ``H[2, 2] == 1`` where possible.

    Raises:
        ValueError: the shapes are wrong or three of the points lie on one line (no
            homography takes the quad there).
    """
    src = np.asarray(src_quad, dtype=np.float64)
    dst = np.asarray(dst_quad, dtype=np.float64)
    if src.shape != (4, 2) or dst.shape != (4, 2):
        raise ValueError("corner_pin needs two lists of four (x, y) points")
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise ValueError("corner_pin points must be finite")
    for quad in (src, dst):
        for i in range(4):
            a, b, c = (quad[j] for j in range(4) if j != i)
            cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
            scale = max(float(np.ptp(quad[:, 0])), float(np.ptp(quad[:, 1])), 1e-300)
            if abs(cross) <= 1e-9 * scale * scale:
                raise ValueError("three corners of a corner pin lie on one line")

    def normaliser(pts: np.ndarray) -> np.ndarray:
        centre = pts.mean(axis=0)
        spread = np.sqrt(((pts - centre) ** 2).sum(axis=1)).mean()
        k = np.sqrt(2.0) / spread
        return np.array([[k, 0, -k * centre[0]], [0, k, -k * centre[1]], [0, 0, 1.0]])

    ts, td = normaliser(src), normaliser(dst)
    s = apply_homography(ts, src)
    d = apply_homography(td, dst)
    rows = []
    for (x, y), (X, Y) in zip(s, d):
        rows.append([x, y, 1, 0, 0, 0, -X * x, -X * y, -X])
        rows.append([0, 0, 0, x, y, 1, -Y * x, -Y * y, -Y])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    hn = vt[-1].reshape(3, 3)
    h = np.linalg.inv(td) @ hn @ ts
    if abs(h[2, 2]) > 1e-12:
        h = h / h[2, 2]
    return h


def apply_homography(h: ArrayLike, points: ArrayLike) -> np.ndarray:
    """Map ``(..., 2)`` points through a 3 x 3 homography (with the perspective divide).

    Points the homography sends to infinity come back as ``inf``/``nan``.
    """
    m = np.asarray(h, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    if m.shape != (3, 3) or p.shape[-1:] != (2,):
        raise ValueError("apply_homography needs a 3 x 3 matrix and (..., 2) points")
    x = m[0, 0] * p[..., 0] + m[0, 1] * p[..., 1] + m[0, 2]
    y = m[1, 0] * p[..., 0] + m[1, 1] * p[..., 1] + m[1, 2]
    w = m[2, 0] * p[..., 0] + m[2, 1] * p[..., 1] + m[2, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack([x / w, y / w], axis=-1)


_UNIT_QUAD = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def _output_centres(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    w, h = _check_size(size)
    xs = np.arange(w, dtype=np.float64) + 0.5
    ys = np.arange(h, dtype=np.float64) + 0.5
    return np.meshgrid(xs, ys)


def _warp_points(display: DisplayConfig, size: tuple[int, int]) -> np.ndarray:
    """The warp's points scaled from the display's pixels to an output of ``size``."""
    warp = display.warp
    if warp is None:
        raise ValueError(f"display {display.id!r} has no warp")
    pts = np.asarray(warp.quad() if isinstance(warp, CornerPin) else warp.points,
                     dtype=np.float64)
    w, h = _check_size(size)
    return pts * np.array([w / display.pixels[0], h / display.pixels[1]])


def _inverse_mesh(mesh: MeshWarp, pts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Invert a bilinear mesh: for each output pixel centre, the image uv (or NO_IMAGE)."""
    w, h = _check_size(size)
    grid = pts.reshape(mesh.rows, mesh.cols, 2)
    out = np.full((h, w, 2), NO_IMAGE)
    found = np.zeros((h, w), dtype=bool)
    for r in range(mesh.rows - 1):
        for c in range(mesh.cols - 1):
            p00, p01 = grid[r, c], grid[r, c + 1]
            p10, p11 = grid[r + 1, c], grid[r + 1, c + 1]
            cell = np.array([p00, p01, p10, p11])
            x_lo = max(int(np.floor(cell[:, 0].min() - 0.5)), 0)
            x_hi = min(int(np.ceil(cell[:, 0].max() - 0.5)), w - 1)
            y_lo = max(int(np.floor(cell[:, 1].min() - 0.5)), 0)
            y_hi = min(int(np.ceil(cell[:, 1].max() - 0.5)), h - 1)
            if x_lo > x_hi or y_lo > y_hi:
                continue
            px, py = np.meshgrid(np.arange(x_lo, x_hi + 1) + 0.5,
                                 np.arange(y_lo, y_hi + 1) + 0.5)
            target = np.stack([px, py], axis=-1)
            s = np.full(px.shape, 0.5)
            t = np.full(px.shape, 0.5)
            a = p01 - p00
            b = p10 - p00
            e = p00 - p01 - p10 + p11
            for _ in range(12):  # Newton on p(s, t) = p00 + s a + t b + s t e
                pos = (p00 + s[..., None] * a + t[..., None] * b
                       + (s * t)[..., None] * e)
                res = pos - target
                if np.abs(res).max() < 1e-9:
                    break
                ds = a + t[..., None] * e      # dp/ds
                dt = b + s[..., None] * e      # dp/dt
                det = ds[..., 0] * dt[..., 1] - ds[..., 1] * dt[..., 0]
                det = np.where(np.abs(det) < 1e-12, 1e-12, det)
                s = s - (dt[..., 1] * res[..., 0] - dt[..., 0] * res[..., 1]) / det
                t = t - (-ds[..., 1] * res[..., 0] + ds[..., 0] * res[..., 1]) / det
                s = np.clip(s, -1.0, 2.0)
                t = np.clip(t, -1.0, 2.0)
            pos = p00 + s[..., None] * a + t[..., None] * b + (s * t)[..., None] * e
            tol = 1e-7
            ok = ((np.abs(pos - target).max(axis=-1) < 1e-6)
                  & (s >= -tol) & (s <= 1 + tol) & (t >= -tol) & (t <= 1 + tol))
            region = (slice(y_lo, y_hi + 1), slice(x_lo, x_hi + 1))
            ok &= ~found[region]
            uv = np.stack([(c + np.clip(s, 0, 1)) / (mesh.cols - 1),
                           (r + np.clip(t, 0, 1)) / (mesh.rows - 1)], axis=-1)
            out[region] = np.where(ok[..., None], uv, out[region])
            found[region] |= ok
    return out


def warp_map(display: DisplayConfig, size: tuple[int, int]) -> np.ndarray:
    """For each output pixel, the image point shown there.

    Args:
        display: the display (its ``warp``; ``None`` is the identity).
        size: ``(width, height)`` of the output in pixels; the warp's points, given in
            the display's own pixels, are scaled to it.

    Returns:
        float64 array ``(height, width, 2)``: image ``(u, v)`` from the image's
        top-left corner, v down, in [0, 1], sampled at output pixel centres.
        Output pixels no part of the image lands on hold ``NO_IMAGE`` (-1): black.
    """
    xs, ys = _output_centres(size)
    w, h = _check_size(size)
    if display.warp is None:
        return np.stack([xs / w, ys / h], axis=-1)
    pts = _warp_points(display, size)
    if isinstance(display.warp, CornerPin):
        inv = np.linalg.inv(corner_pin(_UNIT_QUAD, pts))
        m = inv
        den = m[2, 0] * xs + m[2, 1] * ys + m[2, 2]
        uv = apply_homography(inv, np.stack([xs, ys], axis=-1))
        # the forward map's sign of w must match the image's (no points "behind")
        fwd_sign = np.sign(np.linalg.inv(inv)[2] @ np.array([0.5, 0.5, 1.0]))
        ok = (np.isfinite(uv).all(axis=-1) & (np.sign(den) * fwd_sign > 0)
              & (uv >= 0).all(axis=-1) & (uv <= 1).all(axis=-1))
        return np.where(ok[..., None], uv, NO_IMAGE)
    return _inverse_mesh(display.warp, pts, size)



# --------------------------------------------------------------------------- the final pass


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


# --------------------------------------------------------------------------- checking a venue

_TOL = 1e-6  # metres: coordinates closer than this are the same edge
_SIDES = ("left", "right", "top", "bottom")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a venue's wall, in words.

    Attributes:
        severity: ``"error"`` (the wall will show it) or ``"warning"`` (worth a look).
        kind: ``"gap"``, ``"overlap"``, ``"outside"``, ``"aspect"``, ``"blend"``,
            ``"warp"`` or ``"eye"``.
        message: one plain sentence naming the displays.
        displays: the ids of the displays involved.
        area: the wall rectangle ``(x, y, width, height)`` (m) concerned, if any.
    """

    severity: str
    kind: str
    message: str
    displays: tuple[str, ...] = ()
    area: tuple[float, float, float, float] | None = None

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass(frozen=True)
class Overlap:
    """Two displays' common wall area.

    Attributes:
        a, b: the two display ids.
        rect: ``(x, y, width, height)`` of the common area (m).
        axis: ``"x"`` for side-by-side neighbours (the blend runs across x), ``"y"``
            for neighbours one above the other, ``""`` for a corner or a containment.
    """

    a: str
    b: str
    rect: tuple[float, float, float, float]
    axis: str


def overlaps(venue: VenueConfig) -> list[Overlap]:
    """Every pair of displays whose wall rectangles share an area (not just an edge)."""
    out = []
    ds = venue.displays
    for i, a in enumerate(ds):
        ax0, ax1, ay0, ay1 = _edges(a.rect)
        for b in ds[i + 1:]:
            bx0, bx1, by0, by1 = _edges(b.rect)
            x0, x1 = max(ax0, bx0), min(ax1, bx1)
            y0, y1 = max(ay0, by0), min(ay1, by1)
            if x1 - x0 <= _TOL or y1 - y0 <= _TOL:
                continue
            full_y = y1 - y0 >= min(a.rect[3], b.rect[3]) - _TOL
            full_x = x1 - x0 >= min(a.rect[2], b.rect[2]) - _TOL
            axis = "x" if full_y and not full_x else "y" if full_x and not full_y else ""
            out.append(Overlap(a.id, b.id, (x0, y0, x1 - x0, y1 - y0), axis))
    return out


def _m(a: float, b: float) -> str:
    return f"{a:.2f}-{b:.2f} m"


def _quoted(ids: list[str]) -> str:
    quoted = [f"'{i}'" for i in ids]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _names(ids: list[str]) -> str:
    return ("display " if len(ids) == 1 else "displays ") + _quoted(ids)


def _gaps(venue: VenueConfig) -> list[tuple[float, float, float, float]]:
    """Wall rectangles no display covers, merged into as few rectangles as is easy."""
    wall = venue.wall

    def cuts(values: list[float], hi: float) -> list[float]:
        out: list[float] = []
        for c in sorted(min(max(v, 0.0), hi) for v in [0.0, hi, *values]):
            if not out or c - out[-1] > _TOL:
                out.append(c)
        return out

    xs = cuts([e for d in venue.displays for e in _edges(d.rect)[:2]], wall.width)
    ys = cuts([e for d in venue.displays for e in _edges(d.rect)[2:]], wall.height)
    # per column band: runs of uncovered y cells
    bands: list[tuple[float, float, list[tuple[float, float]]]] = []
    for x0, x1 in pairwise(xs):
        cx = (x0 + x1) / 2
        runs: list[tuple[float, float]] = []
        for y0, y1 in pairwise(ys):
            cy = (y0 + y1) / 2
            if any(_covers(d, np.float64(cx), np.float64(cy), 0.0) for d in venue.displays):
                continue
            if runs and abs(runs[-1][1] - y0) <= _TOL:
                runs[-1] = (runs[-1][0], y1)
            else:
                runs.append((y0, y1))
        bands.append((x0, x1, runs))
    rects: list[list[float]] = []  # x0, x1, y0, y1, merged across neighbouring bands
    open_: dict[tuple[float, float], list[float]] = {}
    for x0, x1, runs in bands:
        nxt: dict[tuple[float, float], list[float]] = {}
        for y0, y1 in runs:
            key = (round(y0, 6), round(y1, 6))
            r = open_.get(key)
            if r is not None and abs(r[1] - x0) <= _TOL:
                r[1] = x1
            else:
                r = [x0, x1, y0, y1]
                rects.append(r)
            nxt[key] = r
        open_ = nxt
    return [(r[0], r[2], r[1] - r[0], r[3] - r[2]) for r in rects]


def _touching(venue: VenueConfig, area: tuple[float, float, float, float]) -> list[str]:
    """Displays whose rectangles border a wall area along an edge (in wall order)."""
    x, y, w, h = area
    found = []
    for d in venue.displays:
        dx0, dx1, dy0, dy1 = _edges(d.rect)
        share_y = min(dy1, y + h) - max(dy0, y) > _TOL
        share_x = min(dx1, x + w) - max(dx0, x) > _TOL
        if share_y and (abs(dx1 - x) <= _TOL or abs(dx0 - (x + w)) <= _TOL) or \
                share_x and (abs(dy1 - y) <= _TOL or abs(dy0 - (y + h)) <= _TOL):
            found.append(d)
    found.sort(key=lambda d: (d.rect[0], -d.rect[1]))
    return [d.id for d in found]


def _gap_problem(venue: VenueConfig, area: tuple[float, float, float, float]) -> Problem:
    x, y, w, h = area
    wall = venue.wall
    full_h = h >= wall.height - _TOL
    full_w = w >= wall.width - _TOL
    if full_h:
        where, size = f"x = {_m(x, x + w)}", f"{w:.2f} m"
    elif full_w:
        where, size = f"y = {_m(y, y + h)}", f"{h:.2f} m"
    else:
        where, size = f"x = {_m(x, x + w)}, y = {_m(y, y + h)}", f"{w:.2f} m x {h:.2f} m"
    ids = _touching(venue, area)
    if len(ids) >= 2:
        msg = f"{_names(ids)} leave a {size} gap at {where}"
    elif ids:
        msg = f"{_names(ids)} leaves a {size} strip of the wall uncovered at {where}"
    else:
        msg = f"no display covers a {size} part of the wall at {where}"
    return Problem("error", "gap", msg, tuple(ids), area)


def _convex_same_turn(quad: np.ndarray) -> bool:
    """A closed polygon is convex and turns the way the image does (clockwise, y down)."""
    n = len(quad)
    turns = []
    for i in range(n):
        a, b, c = quad[i], quad[(i + 1) % n], quad[(i + 2) % n]
        turns.append((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]))
    return all(t > 0 for t in turns)


def _warp_problems(d: DisplayConfig) -> list[Problem]:
    warp = d.warp
    if warp is None:
        return []
    if isinstance(warp, CornerPin):
        if not _convex_same_turn(np.asarray(warp.quad(), dtype=np.float64)):
            return [Problem("error", "warp", f"display '{d.id}': the corner pin's corners "
                            "do not form a convex quad in the order top-left, top-right, "
                            "bottom-right, bottom-left", (d.id,))]
        return []
    grid = np.asarray(warp.points, dtype=np.float64).reshape(warp.rows, warp.cols, 2)
    for r in range(warp.rows - 1):
        for c in range(warp.cols - 1):
            quad = np.array([grid[r, c], grid[r, c + 1], grid[r + 1, c + 1], grid[r + 1, c]])
            if not _convex_same_turn(quad):
                return [Problem("error", "warp", f"display '{d.id}': mesh cell at row {r}, "
                                f"column {c} is folded or not convex", (d.id,))]
    return []


def _warp_aspect(d: DisplayConfig) -> float:
    """Width over height (pixels) of the output area the image lands on."""
    w, h = d.pixels
    if d.warp is None:
        return w / h
    if isinstance(d.warp, CornerPin):
        q = np.asarray(d.warp.quad(), dtype=np.float64)
    else:
        g = np.asarray(d.warp.points, dtype=np.float64).reshape(d.warp.rows, d.warp.cols, 2)
        q = np.array([g[0, 0], g[0, -1], g[-1, -1], g[-1, 0]])
    top, bottom = np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3])
    left, right = np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1])
    return float((top + bottom) / max(left + right, 1e-12))


def check_venue(venue: VenueConfig) -> list[Problem]:
    """Everything about a venue's wall that will look wrong, in plain sentences.

    Errors: gaps no display covers, displays reaching outside the wall, an overlap as
    wide as a display, blends that collide inside a display, pixels whose aspect
    differs from the wall rectangle's by more than 1 %, folded warps, a curved
    wall's chord not in front of the eye. Warnings: blend widths that do not match
    the overlap they blend, black-level uplift on a display nothing overlaps.

    Returns:
        the problems, errors first, each naming the displays involved.
    """
    wall = venue.wall
    problems: list[Problem] = []
    for d in venue.displays:
        x0, x1, y0, y1 = _edges(d.rect)
        if x0 < -_TOL or y0 < -_TOL or x1 > wall.width + _TOL or y1 > wall.height + _TOL:
            problems.append(Problem(
                "error", "outside", f"display '{d.id}' (x = {_m(x0, x1)}, y = {_m(y0, y1)}) "
                f"reaches outside the {wall.width:.2f} m x {wall.height:.2f} m wall", (d.id,),
                d.rect))
    for area in _gaps(venue):
        if area[2] > _TOL and area[3] > _TOL:
            problems.append(_gap_problem(venue, area))
    pairs = overlaps(venue)
    for o in pairs:
        a, b = venue.display(o.a), venue.display(o.b)
        x, y, w, h = o.rect
        full_x = [d for d in (a, b) if w >= d.rect[2] - _TOL]
        full_y = [d for d in (a, b) if h >= d.rect[3] - _TOL]
        if not (full_x and full_y):
            continue  # neighbours side by side, one above the other, or at a corner
        where = f"x = {_m(x, x + w)}, y = {_m(y, y + h)}"
        inside = [d for d in full_x if d in full_y]
        if inside:
            outer = b if inside[0] is a else a
            msg = (f"displays '{o.a}' and '{o.b}' overlap across the whole of display "
                   f"'{inside[0].id}' ({where}): it lies entirely inside '{outer.id}'")
        else:
            msg = (f"displays '{o.a}' and '{o.b}' overlap across the whole width of "
                   f"'{full_x[0].id}' and the whole height of '{full_y[0].id}' ({where})")
        problems.append(Problem("error", "overlap", msg, (o.a, o.b), o.rect))
    for d in venue.displays:
        widths = blend_widths(venue, d)
        auto, who = _auto_blend(venue, d)
        for i, j, size, dim in ((0, 1, d.rect[2], "width"), (2, 3, d.rect[3], "height")):
            b1, b2 = widths[i], widths[j]
            if b1 > 0 and b2 > 0 and b1 + b2 > size + _TOL:
                n1, n2 = _SIDES[i], _SIDES[j]
                if d.blend[i] <= 0 and d.blend[j] <= 0:
                    msg = (f"display '{d.id}' is overlapped by {_quoted(who[i])} on the "
                           f"{n1} ({b1:.2f} m) and by {_quoted(who[j])} on the {n2} "
                           f"({b2:.2f} m), more than its {size:.2f} m {dim}")
                else:
                    msg = (f"display '{d.id}': its {n1} and {n2} blends ({b1:.2f} m + "
                           f"{b2:.2f} m) are more than its {dim} ({size:.2f} m)")
                problems.append(Problem("error", "overlap", msg,
                                        (d.id, *who[i], *who[j]), d.rect))
        given = dict(zip(_SIDES, d.blend))
        for (side, g), a_ in zip(given.items(), auto):
            if g <= 0:
                continue
            if a_ <= _TOL:
                problems.append(Problem(
                    "warning", "blend", f"display '{d.id}': a {g:.2f} m {side} blend, but "
                    f"no display overlaps its {side} edge, so it has no effect", (d.id,)))
            elif g > a_ + _TOL:
                problems.append(Problem(
                    "warning", "blend", f"display '{d.id}': its {side} blend ({g:.2f} m) is "
                    f"wider than the {a_:.2f} m overlap there; the ramp is cut short",
                    (d.id,)))
        warp_problems = _warp_problems(d)
        problems.extend(warp_problems)
        aspect_px = _warp_aspect(d)
        aspect_m = d.rect[2] / d.rect[3]
        off = aspect_px / aspect_m - 1.0
        if abs(off) > 0.01 and not warp_problems:
            what = "output" if d.warp is None else "warped output"
            problems.append(Problem(
                "error", "aspect", f"display '{d.id}': its {what} is {aspect_px:.3f}:1 but its "
                f"wall rectangle is {aspect_m:.3f}:1, so the picture is stretched "
                f"{abs(off) * 100:.1f} % {'wider' if off > 0 else 'taller'}", (d.id,), d.rect))
        if d.black_level > 0 and not any(d.id in (o.a, o.b) for o in pairs):
            problems.append(Problem(
                "warning", "blend", f"display '{d.id}': black_level {d.black_level:g} but no "
                "display overlaps it, so nothing needs matching", (d.id,)))
        if wall.shape == "cylinder":
            f = display_frustum(wall, d)
            if f.ul[1] <= 0.05:
                problems.append(Problem(
                    "error", "eye", f"display '{d.id}': its chord of the curved wall is not "
                    "in front of the eye; split it into narrower displays or move the eye",
                    (d.id,), d.rect))
    order = {"error": 0, "warning": 1}
    problems.sort(key=lambda p: order[p.severity])
    return problems
