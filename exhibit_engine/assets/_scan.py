"""Heavy meshes (photogrammetry and laser scans) in bounded memory: numpy arrays from the
source bytes to the GLBs, with no Python object per vertex and no copy of the whole mesh
that is not needed.

:mod:`.mesh` sends a binary PLY or STL source of more than
:data:`._scan_read.HEAVY_TRIANGLES` triangles here (read by :mod:`._scan_read`), and
every LOD of any source through :func:`simplify`. The steps after the read, and what
each holds at its peak besides the mesh:

- **repair** (:func:`repair`): the same repairs as the trimesh path (merge equal
  vertices, drop degenerate and repeated faces, turn a closed surface wound inside
  out), each with one sort of one key array, the geometric tests in chunks of
  :data:`CHUNK` faces;
- **normals** (:func:`vertex_normals`): area-weighted, accumulated chunk by chunk;
- **simplify** (:func:`simplify`): quadric decimation (fast-simplification) of blocks
  of at most :data:`BLOCK_TRIANGLES` triangles, consecutive runs of the faces in Morton
  order of their centres, with each block's cut edges locked so that neighbouring blocks still
  meet; a second pass over differently cut blocks (or the whole mesh, once it is small
  enough) then simplifies across the first pass's cuts. The simplifier needs about
  700 bytes per triangle it is given, so a block bounds it;
- **write** (:func:`write_glb`): one GLB assembled in place in one buffer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import AssetError

__all__ = ["BLOCK_TRIANGLES", "CHUNK", "Scan", "group_mean", "lod_chain", "nondegenerate",
           "repair", "simplify", "vertex_normals", "write_glb", "write_parts"]

#: Most triangles the simplifier gets at once.
BLOCK_TRIANGLES = 400_000
#: Faces per chunk of a geometric test.
CHUNK = 1 << 19
#: Vertex positions equal to this many decimals are one vertex (as trimesh merges).
_DIGITS = 8
#: A triangle lower than this (source units) is degenerate (trimesh's tol.merge).
_MIN_HEIGHT = 1e-8
#: The first pass's blocks keep this much more than the target, for the second to take.
_SLACK = 1.3
#: fast-simplification's aggressiveness (its default is 7): at 3 it still reaches the
#: target, at the same speed, and folds about a tenth as many triangles over on a
#: noisy scan (measured: 0.09 % of the faces of a 25 % LOD face inwards, against 0.7 %).
_AGGRESSION = 3.0


@dataclass
class Scan:
    """One mesh as arrays.

    Attributes:
        positions: ``(n, 3)`` float32, in the source's units and axes until transformed.
        faces: ``(m, 3)`` int32 vertex indices, counter-clockwise outside.
        uv: ``(n, 2)`` float32 texture coordinates (OpenGL convention: v up), or None.
        colors: ``(n, 4)`` uint8 vertex colours, or None.
        normals: ``(n, 3)`` float32 unit normals once computed, or None.
        texture: the name of the texture file the source names (a PLY's TextureFile
            comment), or None.
        merged: vertices the reader already merged (an STL's shared corners).
        factor: the base colour factor the source gives (an OBJ's ``Kd``), or None.
    """

    positions: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None = None
    colors: np.ndarray | None = None
    normals: np.ndarray | None = None
    texture: str | None = None
    merged: int = 0
    factor: tuple[float, ...] | None = None

    @property
    def triangles(self) -> int:
        return len(self.faces)


# --------------------------------------------------------------------------- repair


def repair(scan: Scan, name: str) -> tuple[Scan, dict[str, int]]:
    """The trimesh path's repairs, in bounded memory; returns the mesh and what was done.

    Raises:
        AssetError: no triangle is left, or a coordinate is not finite.
    """
    if not np.isfinite(scan.positions).all():
        raise AssetError(name, "has vertices with non-finite coordinates")
    n = len(scan.positions)
    # Rounded in float64 and compared by their bits: no overflow however far the
    # coordinates go (+ 0.0 makes -0.0 and 0.0 one key).
    cols = [(np.round(scan.positions.astype(np.float64) * 10.0 ** _DIGITS) + 0.0)
            .view(np.int64)]
    if scan.uv is not None:
        cols.append((np.round(scan.uv.astype(np.float64) * 1e4) + 0.0).view(np.int64))
    if scan.colors is not None:
        cols.append(scan.colors.astype(np.int64))
    key = np.ascontiguousarray(np.concatenate(cols, axis=1) if len(cols) > 1 else cols[0])
    del cols
    first, inverse = _rows(key)
    del key
    order = np.argsort(first, kind="stable")    # the vertices keep their order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    first, inverse = first[order], rank[inverse]
    del order, rank
    merged = n - len(first) + scan.merged
    scan = _take_vertices(scan, first)
    faces = inverse.astype(np.int32)[scan.faces]
    del inverse
    keep = nondegenerate(scan.positions, faces)
    degenerate = int(len(faces) - keep.sum())
    faces = faces[keep]
    rolled = np.take_along_axis(faces, (np.argmin(faces, axis=1)[:, None]
                                        + np.arange(3)) % 3, axis=1)
    once = np.sort(_rows(rolled)[0])
    del rolled
    duplicate = int(len(faces) - len(once))
    faces = faces[once]
    del once
    if not len(faces):
        raise AssetError(name, "has no triangles left after removing degenerate faces")
    used = np.zeros(len(scan.positions), bool)
    used[faces] = True
    if not used.all():
        remap = np.cumsum(used, dtype=np.int64) - 1
        faces = remap[faces].astype(np.int32)
        scan = _take_vertices(scan, np.flatnonzero(used))
    scan = replace(scan, faces=faces)
    rewound = len(faces) if _volume(scan) < 0 and _closed(faces, len(scan.positions)) else 0
    if rewound:
        scan = replace(scan, faces=np.ascontiguousarray(faces[:, ::-1]))
    return scan, {"merged vertices": merged, "degenerate faces": degenerate,
                  "duplicate faces": duplicate, "faces turned outwards": rewound}


def _rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct row of the integer array ``key`` and each row's
    group: sorted by a 64-bit hash of the row, then checked against the rows themselves
    (a collision falls back on a sort of the rows)."""
    h = np.zeros(len(key), np.uint64)
    with np.errstate(over="ignore"):
        for k in range(key.shape[1]):
            h ^= key[:, k].astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15) + (h << np.uint64(6)) \
                + (h >> np.uint64(2))
            h *= np.uint64(0xBF58476D1CE4E5B9)
    _, first, inverse = np.unique(h, return_index=True, return_inverse=True)
    del h
    if not (key[first][inverse] == key).all():
        flat = np.ascontiguousarray(key).view(np.dtype((np.void, key.shape[1]
                                                        * key.dtype.itemsize))).ravel()
        _, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _take_vertices(scan: Scan, index: np.ndarray) -> Scan:
    def take(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[index]
    return replace(scan, positions=scan.positions[index], uv=take(scan.uv),
                   colors=take(scan.colors), normals=take(scan.normals))


def _chunks(m: int) -> range:
    return range(0, m, CHUNK)


def _corners(v: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three corners of faces ``c``, float64."""
    tri = v[c].astype(np.float64)
    return tri[:, 0], tri[:, 1], tri[:, 2]


def nondegenerate(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Faces with three distinct corners and a height above :data:`_MIN_HEIGHT`."""
    keep = np.empty(len(f), bool)
    for s in _chunks(len(f)):
        c = f[s:s + CHUNK]
        a, b, d = _corners(v, c)
        twice_area = np.linalg.norm(np.cross(b - a, d - a), axis=1)
        longest = np.sqrt(np.max([((b - a) ** 2).sum(1), ((d - b) ** 2).sum(1),
                                  ((a - d) ** 2).sum(1)], axis=0))
        with np.errstate(all="ignore"):
            keep[s:s + CHUNK] = ((c[:, 0] != c[:, 1]) & (c[:, 1] != c[:, 2])
                                 & (c[:, 0] != c[:, 2]) & (twice_area > _MIN_HEIGHT * longest))
    return keep


def _closed(f: np.ndarray, n: int) -> bool:
    """Whether every edge has exactly two faces, wound opposite ways (watertight)."""
    a = f.astype(np.int64).ravel()
    b = np.roll(f, -1, axis=1).astype(np.int64).ravel()
    key = (np.minimum(a, b) * n + np.maximum(a, b)) * 2 + (a < b)
    del a, b
    if len(key) % 2:
        return False
    key.sort()
    edge, way = key >> 1, key & 1
    pairs = (edge[0::2] == edge[1::2]) & (way[0::2] != way[1::2])
    alone = len(edge) < 4 or bool(np.all(edge[2::2] != edge[1:-1:2]))
    return bool(pairs.all()) and alone


def _volume(scan: Scan) -> float:
    v, f, total = scan.positions, scan.faces, 0.0
    for s in _chunks(len(f)):
        a, b, d = _corners(v, f[s:s + CHUNK])
        total += float(np.einsum("ij,ij->", a, np.cross(b, d))) / 6.0
    return total


# --------------------------------------------------------------------------- normals


def vertex_normals(positions: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted smooth unit normals (float32), accumulated in chunks; a vertex of
    only zero-area faces gets +Y."""
    n = len(positions)
    acc = np.zeros((n, 3), np.float64)
    for s in _chunks(len(faces)):
        c = faces[s:s + CHUNK]
        a, b, d = _corners(positions, c)
        cross = np.cross(b - a, d - a)
        for k in range(3):
            acc[:, k] += np.bincount(c.ravel(), weights=np.repeat(cross[:, k], 3),
                                     minlength=n)
    length = np.linalg.norm(acc, axis=1)
    ok = length > 0
    acc[ok] /= length[ok, None]
    acc[~ok] = (0.0, 1.0, 0.0)
    return acc.astype(np.float32)


def group_mean(values: np.ndarray, mapping: np.ndarray, count: int) -> np.ndarray:
    """Mean of per-vertex ``values`` over the original vertices merged into each new
    one (``mapping``: old vertex -> new vertex, -1 for one that went)."""
    keep = mapping >= 0
    idx, vals = mapping[keep], np.asarray(values, dtype=np.float64)[keep]
    sums = np.stack([np.bincount(idx, weights=vals[:, k], minlength=count)
                     for k in range(vals.shape[1])], axis=1)
    hits = np.bincount(idx, minlength=count)[:, None]
    return sums / np.maximum(hits, 1)


def lod_chain(parts: list[tuple[Scan, int | None]], targets: list[int]
              ) -> list[list[tuple[Scan, int | None]]]:
    """Each LOD of ``parts`` (a target is for all parts together, shared by their sizes),
    each level simplified from the one before, UVs and colours carried over."""
    total = sum(len(s.faces) for s, _ in parts)
    out, level = [], parts
    for target in targets:
        made = []
        for (scan, material), (full, _) in zip(level, parts, strict=True):
            goal = round(target * len(full.faces) / total)
            if len(scan.faces) < 64 or goal >= len(scan.faces):
                if scan.normals is None:        # a part too small to simplify, as it is
                    scan.normals = vertex_normals(scan.positions, scan.faces)
                made.append((scan, material))
                continue
            points, faces, mapping = simplify(scan.positions, scan.faces, goal)
            lod = Scan(points.astype(np.float32), faces,
                       None if scan.uv is None else
                       group_mean(scan.uv, mapping, len(points)).astype(np.float32),
                       None if scan.colors is None else
                       np.round(group_mean(scan.colors, mapping, len(points))).astype(np.uint8))
            lod.normals = vertex_normals(lod.positions, lod.faces)
            made.append((lod, material))
        out.append(made)
        level = made
    return out


# --------------------------------------------------------------------------- simplify


def simplify(points: np.ndarray, faces: np.ndarray, target: int,
             block: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quadric decimation to about ``target`` faces in bounded memory (see the module
    docstring).

    Returns:
        The new points (float64), faces (int32) and the map from each old vertex to
        its new one (-1: it went), for carrying UVs and colours over.
    """
    block = block or BLOCK_TRIANGLES
    frame = _frame(points)
    if len(faces) <= block:
        return _whole(points, faces, target, lock=False, frame=frame)
    first = min(len(faces), round(target * _SLACK))
    p1, f1, m1 = _blocks(points, faces, first, block, shifted=False, frame=frame)
    if len(f1) <= block:
        p2, f2, m2 = _whole(p1, f1, target, lock=False, frame=frame)
    else:
        p2, f2, m2 = _blocks(p1, f1, target, block, shifted=True, frame=frame)
    mapping = np.where(m1 >= 0, m2[np.maximum(m1, 0)], -1)
    return p2, f2, mapping


def _whole(points: np.ndarray, faces: np.ndarray, target: int, lock: bool,
           frame: tuple[np.ndarray, float] | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One simplifier run. Its error thresholds are absolute (squared distances), so
    the points go in ``frame`` (origin, size: the whole mesh's box) scaled to a unit
    box, and the result comes back in the mesh's own units; a run that stops well short
    of the target is run again at the library's default aggressiveness."""
    import fast_simplification

    faces = np.ascontiguousarray(faces, dtype=np.int32)
    if target >= len(faces):
        return np.asarray(points, np.float64), faces, np.arange(len(points))
    origin, size = frame if frame is not None else _frame(points)
    unit = np.ascontiguousarray((np.asarray(points, np.float64) - origin) / size)
    for agg in (_AGGRESSION, 7.0):
        out, new_faces, collapses = fast_simplification.simplify(
            unit, faces, target_count=max(1, target), agg=agg, return_collapses=True,
            preserve_border=lock)
        if len(new_faces) <= 1.05 * target + 8:
            break
    new_faces = np.ascontiguousarray(new_faces, dtype=np.int32)
    mapping = _collapsed(len(unit), faces, collapses, len(out), len(new_faces))
    if mapping is None:     # (not seen) the library's own replay, slower but sure
        out, new_faces, mapping = fast_simplification.replay_simplification(unit, faces,
                                                                            collapses)
        new_faces = np.ascontiguousarray(new_faces, dtype=np.int32)
    return np.asarray(out) * size + origin, new_faces, np.asarray(mapping)


def _frame(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The origin and size (largest side, at least 1e-9) of the points' box."""
    low = np.asarray(points.min(axis=0), np.float64)
    return low, max(float(np.max(points.max(axis=0) - low)), 1e-9)


def _collapsed(n: int, faces: np.ndarray, collapses: np.ndarray, points: int, kept: int
               ) -> np.ndarray | None:
    """Old vertex -> new vertex from the collapse list (``[a, b]``: b merged into a):
    each vertex's last survivor by pointer jumping, numbered as the simplifier numbers
    its output (the survivors that still have a triangle, in their old order). None if
    the counts do not come out as the simplifier's output."""
    root = np.arange(n)
    if len(collapses):
        root[collapses[:, 1]] = collapses[:, 0]
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    mapped = root[faces]
    alive = ((mapped[:, 0] != mapped[:, 1]) & (mapped[:, 1] != mapped[:, 2])
             & (mapped[:, 0] != mapped[:, 2]))
    survivors = _present(mapped[alive], n)
    if len(survivors) != points or int(alive.sum()) != kept:
        return None
    index = np.searchsorted(survivors, root)
    index[survivors[np.minimum(index, len(survivors) - 1)] != root] = -1
    return index


def _blocks(points: np.ndarray, faces: np.ndarray, target: int, block: int, shifted: bool,
            frame: tuple[np.ndarray, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each block simplified with its cut edges locked, then joined where they meet."""
    ratio = target / len(faces)
    order = _z_order(points, faces, shifted)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # points, faces, rep
    owners: list[tuple[np.ndarray, np.ndarray]] = []        # old ids, their new local ids
    local = np.full(len(points), -1, np.int64)
    count = -(-len(faces) // block)
    for k in range(count):
        sub = faces[order[k * len(faces) // count:(k + 1) * len(faces) // count]]
        used = _present(sub, len(points))
        local[used] = np.arange(len(used))
        p, f, m = _whole(points[used], local[sub], round(len(sub) * ratio), lock=True,
                         frame=frame)
        local[used] = -1
        # A new vertex stands for the lowest old vertex merged into it: a locked one
        # (on a cut) only ever stands for itself, so its copies in two blocks agree.
        rep = np.full(len(p), np.iinfo(np.int64).max, np.int64)
        alive = m >= 0
        np.minimum.at(rep, m[alive], used[alive])
        parts.append((p, f, rep))
        owners.append((used[alive], m[alive]))
    del order, local
    _, first, where = np.unique(np.concatenate([r for _, _, r in parts]),
                                return_index=True, return_inverse=True)
    offsets = np.cumsum([0] + [len(p) for p, _, _ in parts])
    out_points = np.concatenate([p for p, _, _ in parts])[first]
    out_faces = np.concatenate([where[f + offsets[i]] for i, (_, f, _) in enumerate(parts)])
    mapping = np.full(len(points), -1, np.int64)
    for i, (old, new) in enumerate(owners):
        mapping[old] = where[new + offsets[i]]
    keep = ((out_faces[:, 0] != out_faces[:, 1]) & (out_faces[:, 1] != out_faces[:, 2])
            & (out_faces[:, 0] != out_faces[:, 2]))
    return out_points, np.ascontiguousarray(out_faces[keep], dtype=np.int32), mapping


def _present(index: np.ndarray, n: int) -> np.ndarray:
    """The distinct values of ``index`` (all in ``range(n)``), in order, by a bitmap."""
    mark = np.zeros(n, bool)
    mark[index] = True
    return np.flatnonzero(mark)


def _z_order(points: np.ndarray, faces: np.ndarray, shifted: bool) -> np.ndarray:
    """The faces in Morton (Z) order of their centres, so that consecutive runs are
    compact blocks; ``shifted`` moves the grid by a third of the box, so that the
    second pass cuts elsewhere."""
    low, high = points.min(axis=0).astype(np.float64), points.max(axis=0).astype(np.float64)
    span = np.maximum(high - low, 1e-12)
    if shifted:
        low, span = low - span / 3.0, span * 4.0 / 3.0
    code = np.zeros(len(faces), np.uint64)
    for s in _chunks(len(faces)):
        c = faces[s:s + CHUNK]
        centre = (points[c[:, 0]] + points[c[:, 1]] + points[c[:, 2]]).astype(np.float64) / 3
        cells = np.clip((centre - low) / span * (1 << 20), 0, (1 << 20) - 1).astype(np.uint64)
        code[s:s + CHUNK] = (_spread(cells[:, 0]) | (_spread(cells[:, 1]) << np.uint64(1))
                             | (_spread(cells[:, 2]) << np.uint64(2)))
    return np.argsort(code, kind="stable")


def _spread(x: np.ndarray) -> np.ndarray:
    """The 20 low bits of ``x`` with two zero bits after each (for a 3-D Morton code)."""
    x = x & np.uint64(0xFFFFF)
    for shift, mask in ((32, 0x1F00000000FFFF), (16, 0x1F0000FF0000FF),
                        (8, 0x100F00F00F00F00F), (4, 0x10C30C30C30C30C3),
                        (2, 0x1249249249249249)):
        x = (x | (x << np.uint64(shift))) & np.uint64(mask)
    return x


# --------------------------------------------------------------------------- write


def write_glb(scan: Scan, image: tuple[bytes, str] | None = None,
              material: dict[str, Any] | None = None) -> bytes:
    """One GLB of ``scan`` (positions, normals, UVs, colours, indices) with one
    material; ``image`` (bytes, MIME type) becomes its base colour texture."""
    mat = dict(material or {})
    looks: dict[str, Any] = {"materials": [mat]}
    if image is not None:
        mat["pbrMetallicRoughness"] = {**mat.get("pbrMetallicRoughness", {}),
                                       "baseColorTexture": {"index": 0}}
        looks.update(textures=[{"source": 0, "sampler": 0}], images=[image],
                     samplers=[{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497,
                                "wrapT": 10497}])
    return write_parts([(scan, 0)], looks)


def write_parts(parts: list[tuple[Scan, int | None]], looks: dict[str, Any]) -> bytes:
    """One GLB of one mesh with a primitive per part, each with its material index (or
    None): ``looks`` holds the document's ``materials``, ``textures``, ``samplers`` and
    ``extensionsUsed`` as they are, and ``images`` as (bytes, MIME type) pairs."""
    views: list[dict[str, Any]] = []
    accessors: list[dict[str, Any]] = []
    blobs: list[np.ndarray | bytes] = []
    offset = 0

    def add(arr: np.ndarray | bytes, acc: dict[str, Any] | None, target: int | None) -> int:
        nonlocal offset
        offset += -offset % 4
        size = arr.nbytes if isinstance(arr, np.ndarray) else len(arr)
        views.append({"buffer": 0, "byteOffset": offset, "byteLength": size}
                     | ({"target": target} if target else {}))
        blobs.append(arr)
        offset += size
        if acc is None:
            return len(views) - 1
        accessors.append({"bufferView": len(views) - 1, **acc})
        return len(accessors) - 1

    prims = []
    for scan, material in parts:
        n = len(scan.positions)
        pos = scan.positions.astype(np.float32, copy=False)
        attributes = {"POSITION": add(pos, {"componentType": 5126, "count": n, "type": "VEC3",
                                            "min": [float(x) for x in pos.min(axis=0)],
                                            "max": [float(x) for x in pos.max(axis=0)]},
                                      34962)}
        if scan.normals is not None:
            attributes["NORMAL"] = add(scan.normals.astype(np.float32, copy=False),
                                       {"componentType": 5126, "count": n, "type": "VEC3"},
                                       34962)
        if scan.uv is not None:
            uv = scan.uv.astype(np.float32)
            uv[:, 1] = 1.0 - uv[:, 1]       # glTF's v runs down the image
            attributes["TEXCOORD_0"] = add(uv, {"componentType": 5126, "count": n,
                                                "type": "VEC2"}, 34962)
        if scan.colors is not None:
            attributes["COLOR_0"] = add(scan.colors.astype(np.uint8, copy=False),
                                        {"componentType": 5121, "count": n, "type": "VEC4",
                                         "normalized": True}, 34962)
        indices = scan.faces.astype(np.uint32, copy=False)
        prim = {"attributes": attributes, "mode": 4,
                "indices": add(indices, {"componentType": 5125, "count": indices.size,
                                         "type": "SCALAR"}, 34963)}
        if material is not None:
            prim["material"] = material
        prims.append(prim)
    doc: dict[str, Any] = {"asset": {"version": "2.0", "generator": "exhibit-engine"},
                           "scene": 0, "scenes": [{"nodes": [0]}],
                           "nodes": [{"name": "part0", "mesh": 0}],
                           "meshes": [{"name": "part0", "primitives": prims}],
                           "accessors": accessors, "bufferViews": views}
    for key in ("materials", "textures", "samplers", "extensionsUsed"):
        if looks.get(key):
            doc[key] = looks[key]
    if looks.get("images"):
        doc["images"] = [{"bufferView": add(data, None, None), "mimeType": mime}
                         for data, mime in looks["images"]]
    doc["buffers"] = [{"byteLength": offset}]
    return _assemble(doc, blobs, offset)


def _assemble(doc: dict[str, Any], blobs: list[np.ndarray | bytes], size: int) -> bytes:
    """The GLB container, joined from views of the arrays: one copy, into the result."""
    import json

    text = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    binary = size + (-size % 4)
    total = 12 + 8 + len(text) + 8 + binary
    parts: list[Any] = [struct.pack("<4sII", b"glTF", 2, total),
                        struct.pack("<I4s", len(text), b"JSON"), text,
                        struct.pack("<I4s", binary, b"BIN\0")]
    for blob in blobs:
        view = (memoryview(np.ascontiguousarray(blob)).cast("B")
                if isinstance(blob, np.ndarray) else blob)
        parts += [view, b"\0" * (-len(view) % 4)]
    return b"".join(parts)
