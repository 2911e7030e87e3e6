"""Readers of heavy mesh sources for :mod:`._scan`: a binary PLY of triangles or a binary
STL becomes a :class:`~._scan.Scan` from ``np.frombuffer`` views of the source bytes,
copied once into the final dtypes (positions float32, faces int32, UVs float32, colours
uint8). A layout they do not read (ASCII, polygons, per-corner UVs, triangle strips)
returns None and goes the trimesh way.
"""

from __future__ import annotations

import struct

import numpy as np

from ..errors import AssetError
from ._scan import Scan

__all__ = ["HEAVY_TRIANGLES", "estimate_triangles", "read_ply", "read_stl"]

#: Binary PLY and STL sources with more triangles than this take the bounded path.
HEAVY_TRIANGLES = 1_000_000

_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2",
              "int16": "i2", "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4",
              "uint": "u4", "uint32": "u4", "float": "f4", "float32": "f4",
              "double": "f8", "float64": "f8"}
_UV_NAMES = (("s", "t"), ("u", "v"), ("texture_u", "texture_v"), ("texture_s", "texture_t"))


def read_ply(data: bytes, name: str) -> Scan | None:
    """A binary PLY of triangles as a :class:`Scan`, or None where the layout is one
    this reader leaves to trimesh (ASCII, polygons, list properties on vertices, other
    elements such as triangle strips).

    Raises:
        AssetError: the header promises more data than the file holds.
    """
    end = data.find(b"end_header", 0, 1 << 16)
    if not data.startswith(b"ply") or end < 0:
        return None
    body = end + len(b"end_header")
    body += 2 if data[body:body + 2] == b"\r\n" else 1
    fmt, elements, texture = None, [], None
    for line in data[:end].decode("latin-1").splitlines()[1:]:
        words = line.split()
        if not words:
            continue
        if words[0] == "format" and len(words) >= 2:
            fmt = {"binary_little_endian": "<", "binary_big_endian": ">"}.get(words[1])
        elif words[0] == "comment" and len(words) >= 3 and words[1] == "TextureFile":
            texture = line.split("TextureFile", 1)[1].strip()
        elif words[0] == "element" and len(words) == 3 and words[2].isdigit():
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            elements[-1][2].append(words[1:])
    if fmt is None or [e[0] for e in elements] != ["vertex", "face"]:
        return None
    (_, nv, vprops), (_, nf, fprops) = elements
    if any(p[0] == "list" or len(p) != 2 or p[0] not in _PLY_TYPES for p in vprops):
        return None
    lists = [p for p in fprops if p[0] == "list"]
    if (len(lists) != 1 or len(lists[0]) != 4 or lists[0][3] not in ("vertex_indices",
                                                                     "vertex_index")
            or lists[0][1] not in _PLY_TYPES or lists[0][2] not in _PLY_TYPES
            or any(p[0] != "list" and (len(p) != 2 or p[0] not in _PLY_TYPES)
                   for p in fprops)):
        return None
    vtype = np.dtype([(p[1], fmt + _PLY_TYPES[p[0]]) for p in vprops])
    ftype = np.dtype(_face_fields(fprops, fmt))
    need = body + nv * vtype.itemsize + nf * ftype.itemsize
    if len(data) < need:
        raise AssetError(name, f"is truncated: its header promises {need} bytes, the file "
                         f"has {len(data)}")
    vert = np.frombuffer(data, vtype, nv, body)
    face = np.frombuffer(data, ftype, nf, body + nv * vtype.itemsize)
    if not np.all(face["n"] == 3):
        return None     # polygons: trimesh triangulates them
    names = set(vtype.names or ())
    if not {"x", "y", "z"} <= names:
        raise AssetError(name, "has vertices without x, y and z")
    positions = np.empty((nv, 3), np.float32)
    for k, axis in enumerate("xyz"):
        positions[:, k] = vert[axis]
    faces = np.empty((nf, 3), np.int64)
    for k in range(3):
        faces[:, k] = face[f"i{k}"]
    if nf and (faces.min() < 0 or faces.max() >= nv):
        raise AssetError(name, "has faces that index missing vertices")
    uv = colors = None
    for su, sv in _UV_NAMES:
        if {su, sv} <= names:
            uv = np.stack([vert[su], vert[sv]], axis=1).astype(np.float32)
            break
    if {"red", "green", "blue"} <= names:
        colors = np.full((nv, 4), 255, np.uint8)
        for k, c in enumerate(("red", "green", "blue", "alpha")):
            if c in names:
                colors[:, k] = _to_u8(vert[c])
    return Scan(positions, faces.astype(np.int32), uv, colors, texture=texture)


def _face_fields(fprops: list[list[str]], fmt: str) -> list[tuple[str, str]]:
    """The face record of a triangle-only PLY: the count, three indices, the rest."""
    fields: list[tuple[str, str]] = []
    for p in fprops:
        if p[0] == "list":
            fields.append(("n", fmt + _PLY_TYPES[p[1]]))
            fields += [(f"i{k}", fmt + _PLY_TYPES[p[2]]) for k in range(3)]
        else:
            fields.append((f"_{p[1]}", fmt + _PLY_TYPES[p[0]]))
    return fields


def _to_u8(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8)
    return np.clip(values, 0, 255).astype(np.uint8)


_STL = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])


def read_stl(data: bytes, name: str) -> Scan | None:
    """A binary STL as a :class:`Scan` (corners with the same bits are one vertex), or
    None for an ASCII one."""
    if len(data) < 84:
        return None
    (n,) = struct.unpack_from("<I", data, 80)
    if 84 + 50 * n != len(data):
        return None
    corners = np.frombuffer(data, _STL, n, 84)["v"].reshape(-1, 3)
    if not np.isfinite(corners).all():
        raise AssetError(name, "has vertices with non-finite coordinates")
    keys = np.ascontiguousarray(corners).view(np.dtype((np.void, 12))).ravel()
    first, inverse = np.unique(keys, return_index=True, return_inverse=True)[1:]
    del keys
    positions = np.ascontiguousarray(corners[first], dtype=np.float32)
    return Scan(positions, inverse.reshape(-1, 3).astype(np.int32),
                merged=len(inverse) - len(first))


def estimate_triangles(ext: str, data: bytes) -> int:
    """A cheap lower bound on the triangle count, read before anything is parsed."""
    if ext == ".stl":
        if len(data) >= 84:
            (n,) = struct.unpack_from("<I", data, 80)
            if 84 + 50 * n == len(data):
                return n
        return data.count(b"endfacet") + data.count(b"ENDFACET")
    if ext == ".ply":
        header = data[:max(data.find(b"end_header", 0, 1 << 16), 0)]
        faces = [p[2] for p in map(bytes.split, header.splitlines())
                 if p[:2] == [b"element", b"face"] and len(p) == 3 and p[2].isdigit()]
        return int(faces[0]) if faces else 0
    return data.count(b"\nf ") + data.startswith(b"f ")
