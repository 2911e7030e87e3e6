"""Mesh helpers for the sample-content generators: lathe, sweep, grid surfaces, a GLB writer.

Everything here is numpy on float64, with the CPU-dependent parts (trigonometry, powers,
matrix products and vector lengths) taken from :mod:`exhibit_engine.assets.portable_math`,
and rounded to a fixed grid (``-0.0`` made ``0.0``) before it becomes float32, so a
generator that uses it writes the same bytes on every run and on every CPU.

- :func:`lathe` revolves a profile (r, z) polyline about +Z, optionally displacing the
  surface along its normal (cast relief, carved petals), and returns a :class:`Grid`.
- :func:`sweep` moves a closed cross-section along a closed path (loop handles).
- A :class:`Grid` is a rectangular vertex grid (rings x columns) whose normals come from
  finite differences of the final, displaced positions; :meth:`Mesh.add_grid` turns it
  into triangles with per-vertex RGBA colours and surface UVs.
- :func:`write_glb` writes meshes as one self-contained glTF 2.0 binary, Z-up converted
  to glTF's Y-up, with POSITION, NORMAL, TEXCOORD_0, TEXCOORD_1 and COLOR_0 on every
  primitive, as one ordinary metallic-roughness material (see :func:`material_uv`).

The generators colour a grid with RGBA: RGB the albedo (sRGB), A a material code:
0.5..1 bronze (metalness ``2 a - 1``: gold edges 1, patina crust 0), about 0.3 glazed
ceramic, below 0.2 unglazed clay or stone. The GLB carries that as glTF expects it:
COLOR_0 the linear albedo, and per vertex a metalness and roughness, read through a
2 x 2 metallic-roughness ramp texture by TEXCOORD_1.
"""

from __future__ import annotations

from dataclasses import dataclass

import _glb
import numpy as np

from exhibit_engine.assets import portable_math as pm

__all__ = ["Grid", "Mesh", "RAMP", "lathe", "material_uv", "resample", "sweep", "value_noise",
           "write_glb"]


#: The metallic-roughness ramp: B (metal) grows left to right, G (rough) top to bottom.
RAMP = np.array([[[0, 0, 0], [0, 0, 255]], [[0, 255, 0], [0, 255, 255]]], dtype=np.uint8)


def _smooth(e0: float, e1: float, x) -> np.ndarray:
    u = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def material_uv(code) -> np.ndarray:
    """TEXCOORD_1 for a material code: (metal, rough) at the :data:`RAMP` texel centres.

    Bronze is rough (0.85) in its patina and smoother (0.30) where worn to metal, glaze
    is glossy (0.09), clay matte (0.85).
    """
    code = np.asarray(code, dtype=np.float64)
    bronze = (code >= 0.45).astype(np.float64)
    metal = bronze * np.clip(2.0 * code - 1.0, 0.0, 1.0)
    glaze = (1.0 - bronze) * _smooth(0.2, 0.28, code)
    rough = 0.85 + (0.30 - 0.85) * metal
    rough = rough + (0.09 - rough) * glaze
    return np.stack([0.25 + 0.5 * metal, 0.25 + 0.5 * rough], axis=-1)


def resample(points, n: int) -> np.ndarray:
    """``n`` points evenly spaced by arc length along a Catmull-Rom curve through ``points``."""
    p = np.asarray(points, dtype=np.float64)
    ext = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    dense = []
    for k in range(len(p) - 1):
        p0, p1, p2, p3 = ext[k], ext[k + 1], ext[k + 2], ext[k + 3]
        t = np.linspace(0.0, 1.0, 33)[:-1, None]
        t2 = t * t          # products, not ``**``: np.power has CPU-specific kernels
        dense.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                            + (-p0 + 3 * p1 - 3 * p2 + p3) * (t2 * t)))
    dense.append(p[-1:])
    d = np.concatenate(dense)
    s = np.concatenate([[0.0], np.cumsum(pm.norm(np.diff(d, axis=0), axis=1))])
    target = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(target, s, d[:, k]) for k in range(d.shape[1])], axis=1)


@dataclass
class Grid:
    """A rectangular grid of vertices: ``pos`` (R, C, 3), ``uv`` (R, C, 2) in metres.

    Columns wrap when ``wrap_c``; rows wrap when ``wrap_r``. The last column (row) of a
    wrapped grid repeats the first with a continued UV, so textures need no seam logic.
    """

    pos: np.ndarray
    uv: np.ndarray
    wrap_c: bool = True
    wrap_r: bool = False

    def normals(self) -> np.ndarray:
        """Unit normals from finite differences of the positions (outward for a lathe)."""
        p = self.pos

        def diff(a: np.ndarray, axis: int, wrap: bool) -> np.ndarray:
            if wrap:  # the last line duplicates the first: difference on the periodic part
                core = np.take(a, range(a.shape[axis] - 1), axis=axis)
                d = np.roll(core, -1, axis=axis) - np.roll(core, 1, axis=axis)
                first = np.take(d, [0], axis=axis)
                return np.concatenate([d, first], axis=axis)
            return np.gradient(a, axis=axis)

        dr = diff(p, 0, self.wrap_r)
        dc = diff(p, 1, self.wrap_c)
        n = np.cross(dc, dr)
        length = pm.norm(n, axis=-1, keepdims=True)
        return n / np.maximum(length, 1e-12)


def lathe(profile, columns: int, displace=None, seam_angle: float = 0.0) -> tuple[Grid, dict]:
    """Revolve a profile about +Z.

    Args:
        profile: (R, 2) points (r, z), walked so that the solid is on the right: up the
            outside, over the lip, down the inside (then the normals point outwards).
        columns: segments around.
        displace: optional ``f(phi, s, z) -> metres`` (arrays of shape (R, C+1)), a
            displacement along the profile's normal; phi in radians, s = arc length.
        seam_angle: where the UV seam sits (radians).

    Returns:
        The grid, and fields for colouring: ``phi``, ``s``, ``z``, ``r``, ``disp``,
        ``bend`` (profile curvature, 1/m, positive where the profile turns convex).
    """
    prof = np.asarray(profile, dtype=np.float64)
    phi = seam_angle + np.linspace(0.0, 2.0 * np.pi, columns + 1)
    seg = np.diff(prof, axis=0)
    s = np.concatenate([[0.0], np.cumsum(pm.norm(seg, axis=1))])
    tang = np.gradient(prof, axis=0)
    tang /= np.maximum(pm.norm(tang, axis=1, keepdims=True), 1e-12)
    nrm2 = np.stack([tang[:, 1], -tang[:, 0]], axis=1)          # (dz, -dr): outward
    turn = np.gradient(np.unwrap(pm.arctan2(tang[:, 1], tang[:, 0])))
    ds = np.maximum(np.gradient(s), 1e-9)
    bend = -turn / ds
    R, C = len(prof), columns + 1
    PHI = np.broadcast_to(phi[None, :], (R, C))
    S = np.broadcast_to(s[:, None], (R, C))
    Z = np.broadcast_to(prof[:, 1:2], (R, C))
    disp = np.zeros((R, C)) if displace is None else np.asarray(displace(PHI, S, Z), float)
    r = prof[:, 0:1] + nrm2[:, 0:1] * disp
    z = prof[:, 1:2] + nrm2[:, 1:2] * disp
    pos = np.stack([r * pm.cos(PHI), r * pm.sin(PHI), z * np.ones_like(PHI)], axis=-1)
    circumference = 2.0 * np.pi * max(float(prof[:, 0].max()), 1e-3)
    uv = np.stack([PHI / (2.0 * np.pi) * circumference, S], axis=-1)
    fields = {"phi": PHI, "s": S, "z": Z, "r": np.broadcast_to(prof[:, 0:1], (R, C)),
              "disp": disp, "bend": np.broadcast_to(bend[:, None], (R, C))}
    return Grid(pos, uv), fields


def sweep(path, section) -> Grid:
    """A closed cross-section swept along a closed path.

    Args:
        path: (P, 3) points of a closed path (not repeating the first).
        section: (K, 2) points of a closed cross-section, counter-clockwise, in the
            path's (normal, binormal) plane; the path's plane normal is the binormal.
    """
    path = np.asarray(path, dtype=np.float64)
    sec = np.asarray(section, dtype=np.float64)
    tang = np.roll(path, -1, axis=0) - np.roll(path, 1, axis=0)
    tang /= pm.norm(tang, axis=1, keepdims=True)
    centre = path.mean(axis=0)
    plane_n = np.cross(path[len(path) // 4] - centre, path[0] - centre)
    plane_n /= pm.norm(plane_n)
    side = np.cross(tang, plane_n)                      # in the plane, across the path
    side /= pm.norm(side, axis=1, keepdims=True)
    binorm = np.cross(side, tang)
    pts = (path[None, :, :] + sec[:, None, 0:1] * side[None] + sec[:, None, 1:2] * binorm[None])
    pts = np.concatenate([pts, pts[:1]], axis=0)
    pts = np.concatenate([pts, pts[:, :1]], axis=1)
    along = np.concatenate([[0.0], np.cumsum(pm.norm(np.diff(
        np.concatenate([path, path[:1]]), axis=0), axis=1))])
    around = np.concatenate([[0.0], np.cumsum(pm.norm(np.diff(
        np.concatenate([sec, sec[:1]]), axis=0), axis=1))])
    uv = np.stack(np.broadcast_arrays(along[None, :], around[:, None]), axis=-1)
    return Grid(pts, uv, wrap_c=True, wrap_r=True)


def value_noise(u, v, seed: int, freq: tuple[int, int], octaves: int = 3) -> np.ndarray:
    """Smooth value noise in [0, 1], periodic in ``u`` (u, v in [0, 1])."""
    rng = np.random.default_rng(seed)
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    out = np.zeros(np.broadcast(u, v).shape)
    amp, total = 1.0, 0.0
    fu, fv = freq
    for _ in range(octaves):
        lat = rng.random((fv + 2, fu))
        x = (u % 1.0) * fu
        y = np.clip(v, 0.0, 1.0) * fv
        x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
        tx, ty = x - x0, y - y0
        tx, ty = tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty)
        x0 %= fu
        x1 = (x0 + 1) % fu
        y0 = np.clip(y0, 0, fv)
        y1 = y0 + 1
        a = lat[y0, x0] * (1 - tx) + lat[y0, x1] * tx
        b = lat[y1, x0] * (1 - tx) + lat[y1, x1] * tx
        out += amp * (a * (1 - ty) + b * ty)
        total += amp
        amp *= 0.5
        fu, fv = fu * 2, fv * 2
    return out / total


class Mesh:
    """Collects triangles with position, normal, surface UV and RGBA COLOR_0."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, ...]] = []

    @property
    def triangle_count(self) -> int:
        """Triangles added so far."""
        return sum(len(p[4]) for p in self._parts)

    def add_grid(self, grid: Grid, rgba: np.ndarray, transform: np.ndarray | None = None,
                 flip: bool = False) -> None:
        """Add a grid's quads as triangles.

        Args:
            grid: the vertices.
            rgba: (R, C, 4) colours in 0..1.
            transform: an optional 4x4 rigid transform applied to positions and normals.
            flip: reverse the winding and normals (a grid walked the other way).
        """
        R, C = grid.pos.shape[:2]
        pos = grid.pos.reshape(-1, 3)
        nrm = grid.normals().reshape(-1, 3)
        if flip:
            nrm = -nrm
        if transform is not None:
            m = np.asarray(transform, dtype=np.float64)
            pos = pm.matmul(pos, m[:3, :3].T) + m[:3, 3]
            nrm = pm.matmul(nrm, m[:3, :3].T)
        i = np.arange(R - 1)[:, None] * C + np.arange(C - 1)[None, :]
        a, b, c, d = i, i + 1, i + C + 1, i + C
        tris = np.stack([a, b, c, a, c, d], axis=-1).reshape(-1, 3)
        if flip:
            tris = tris[:, ::-1]
        col = np.clip(np.asarray(rgba, dtype=np.float64).reshape(-1, 4), 0.0, 1.0)
        self._parts.append((pos, nrm, grid.uv.reshape(-1, 2), col, tris))

    def arrays(self) -> dict[str, np.ndarray]:
        """The glTF-ready arrays, converted from Z-up to Y-up and quantised."""
        offsets = np.cumsum([0] + [len(p[0]) for p in self._parts[:-1]])
        idx = np.concatenate([p[4] + o for p, o in zip(self._parts, offsets)])
        pos, nrm, uv, col = (np.concatenate(p) for p in list(zip(*self._parts))[:4])
        nrm = nrm / np.maximum(pm.norm(nrm, axis=1, keepdims=True), 1e-12)

        def yup(a: np.ndarray) -> np.ndarray:
            return np.stack([a[:, 0], a[:, 2], -a[:, 1]], axis=1)

        # panda3d-gltf flips v (v -> 1 - v) on load; pre-flip so the scene sees metres.
        tex = np.stack([uv[:, 0], 1.0 - uv[:, 1]], axis=1)
        return {
            "POSITION": pm.quantize(yup(pos), 1e-4).astype("<f4"),
            "NORMAL": pm.quantize(yup(nrm), 1e-5).astype("<f4"),
            "TEXCOORD_0": pm.quantize(tex, 1e-4).astype("<f4"),
            "TEXCOORD_1": pm.quantize(material_uv(col[:, 3]), 1e-4).astype("<f4"),
            "COLOR_0": pm.quantize(pm.power(col[:, :3], 2.2), 1e-5).astype("<f4"),
            "indices": idx.reshape(-1).astype("<u4" if len(pos) > 65535 else "<u2"),
        }


def write_glb(meshes: list[tuple[str, Mesh]], generator: str, copyright_: str) -> bytes:
    """Serialise (node name, mesh) pairs as one GLB with embedded data, fixed bytes."""
    return _glb.write_glb(
        [(name, "artifact", mesh.arrays()) for name, mesh in meshes],
        attributes=("POSITION", "NORMAL", "TEXCOORD_0", "TEXCOORD_1", "COLOR_0"),
        materials={"artifact": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0],
                                "metallicFactor": 1.0, "roughnessFactor": 1.0,
                                "metallicRoughnessTexture": {"index": 0, "texCoord": 1}}},
        images=[_glb.png_rgb(RAMP)],
        samplers=[{"magFilter": 9729, "minFilter": 9729, "wrapS": 33071, "wrapT": 33071}],
        generator=generator, copyright_=copyright_)
