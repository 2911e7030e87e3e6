"""Warps: where a display's image lands on its projector's output.

Pure numpy. Output pixel coordinates run from the output's top-left corner, x right,
y down, with the output's corners at (0, 0) and (width, height); image coordinates
("uv") run from the image's top-left corner over [0, 1] x [0, 1], v down.
:func:`corner_pin` solves the perspective homography of a corner pin (the direct linear
transform); :func:`warp_map` inverts a display's warp (a corner pin, or a bilinear mesh
by Newton's method): for each output pixel it says which image point to show there.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..config import CornerPin, DisplayConfig, MeshWarp
from ._geometry import check_size

__all__ = ["NO_IMAGE", "apply_homography", "corner_pin", "warp_map"]

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
    w, h = check_size(size)
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
    w, h = check_size(size)
    return pts * np.array([w / display.pixels[0], h / display.pixels[1]])


def _inverse_mesh(mesh: MeshWarp, pts: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Invert a bilinear mesh: for each output pixel centre, the image uv (or NO_IMAGE)."""
    w, h = check_size(size)
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
    w, h = check_size(size)
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
