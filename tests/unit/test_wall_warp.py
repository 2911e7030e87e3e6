"""Corner pins are true perspective; mesh warps interpolate their grid."""

from __future__ import annotations

import numpy as np
import pytest

from exhibit_engine.config import CornerPin, DisplayConfig, MeshWarp
from exhibit_engine.wall.warp import NO_IMAGE, apply_homography, corner_pin, warp_map

UNIT = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
SKEW = [(12.0, 30.0), (610.0, 4.0), (580.0, 470.0), (40.0, 400.0)]  # a keystoned quad


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _intersection(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, p4: np.ndarray
                  ) -> np.ndarray:
    """Where line p1-p2 crosses line p3-p4."""
    d1, d2 = p2 - p1, p4 - p3
    t = _cross(p3 - p1, d2) / _cross(d1, d2)
    return p1 + t * d1


def test_corner_pin_maps_the_four_corners_exactly() -> None:
    h = corner_pin(UNIT, SKEW)
    assert np.abs(apply_homography(h, UNIT) - np.array(SKEW)).max() < 1e-9
    h2 = corner_pin(SKEW, UNIT)
    assert np.abs(apply_homography(h2 @ h, UNIT) - np.array(UNIT)).max() < 1e-12


def test_corner_pin_maps_the_centre_to_the_diagonals_crossing() -> None:
    q = np.array(SKEW)
    centre = apply_homography(corner_pin(UNIT, SKEW), [(0.5, 0.5)])[0]
    crossing = _intersection(q[0], q[2], q[1], q[3])
    assert np.abs(centre - crossing).max() < 1e-9
    assert np.abs(centre - q.mean(axis=0)).max() > 5.0  # not the average of the corners
    # straight lines stay straight: image points on a diagonal land on the quad's diagonal
    pts = apply_homography(corner_pin(UNIT, SKEW), [(t, t) for t in np.linspace(0, 1, 9)])
    d = q[2] - q[0]
    assert np.abs(_cross(pts - q[0], d) / np.linalg.norm(d)).max() < 1e-9


def test_corner_pin_rejects_degenerate_quads() -> None:
    with pytest.raises(ValueError, match="one line"):
        corner_pin(UNIT, [(0, 0), (1, 1), (2, 2), (0, 5)])
    with pytest.raises(ValueError):
        corner_pin(UNIT, [(0, 0), (1, 0), (1, 1)])


def _display(warp: CornerPin | MeshWarp | None, pixels: tuple[int, int] = (64, 48)
             ) -> DisplayConfig:
    return DisplayConfig("d", pixels, (0.0, 0.0, 4.0, 3.0), warp=warp)


def _identity(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    xs, ys = np.meshgrid((np.arange(w) + 0.5) / w, (np.arange(h) + 0.5) / h)
    return np.stack([xs, ys], axis=-1)


def test_identity_warps_are_the_identity() -> None:
    ident = _identity((64, 48))
    assert np.array_equal(warp_map(_display(None), (64, 48)), ident)
    pin = CornerPin((0, 0), (64, 0), (64, 48), (0, 48))
    assert np.abs(warp_map(_display(pin), (64, 48)) - ident).max() < 1e-9
    mesh = MeshWarp(3, 4, tuple((c * 64 / 3, r * 48 / 2) for r in range(3) for c in range(4)))
    assert np.abs(warp_map(_display(mesh), (64, 48)) - ident).max() < 1e-9
    # warp points are display pixels: the same identity mesh on a half-size output
    assert np.abs(warp_map(_display(mesh), (32, 24)) - _identity((32, 24))).max() < 1e-9


def test_corner_pin_warp_map_inverts_the_pin() -> None:
    pin = CornerPin(*SKEW)
    size = (640, 480)
    uv = warp_map(_display(pin, size), size)
    inside = uv[..., 0] >= 0
    assert 0.5 < inside.mean() < 0.95
    assert np.all(uv[~inside] == NO_IMAGE) and not inside[0, 639] and not inside[479, 0]
    xs, ys = np.meshgrid(np.arange(640) + 0.5, np.arange(480) + 0.5)
    back = apply_homography(corner_pin(UNIT, SKEW), uv[inside])
    assert np.abs(back - np.stack([xs, ys], axis=-1)[inside]).max() < 1e-6
    q = np.array(SKEW)
    cx, cy = _intersection(q[0], q[2], q[1], q[3])
    assert np.abs(uv[int(cy), int(cx)] - 0.5).max() < 3 / 480  # the image's centre


def test_mesh_warp_interpolates_its_grid_bilinearly() -> None:
    rng = np.random.default_rng(3)
    rows, cols, size = 4, 5, (200, 150)
    base = [(c * 200 / (cols - 1), r * 150 / (rows - 1)) for r in range(rows) for c in range(cols)]
    pts = np.array(base) + rng.uniform(-8, 8, (rows * cols, 2))
    mesh = MeshWarp(rows, cols, tuple(map(tuple, pts)))
    uv = warp_map(_display(mesh, size), size)
    inside = uv[..., 0] >= 0
    assert inside.mean() > 0.8
    grid = pts.reshape(rows, cols, 2)
    xs, ys = np.meshgrid(np.arange(200) + 0.5, np.arange(150) + 0.5)
    target = np.stack([xs, ys], axis=-1)[inside]
    gu, gv = uv[inside][:, 0] * (cols - 1), uv[inside][:, 1] * (rows - 1)
    c, r = np.minimum(gu.astype(int), cols - 2), np.minimum(gv.astype(int), rows - 2)
    s, t = (gu - c)[:, None], (gv - r)[:, None]
    fwd = ((1 - s) * (1 - t) * grid[r, c] + s * (1 - t) * grid[r, c + 1]
           + (1 - s) * t * grid[r + 1, c] + s * t * grid[r + 1, c + 1])
    assert np.abs(fwd - target).max() < 1e-5
