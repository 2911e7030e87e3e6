"""Readers of heavy mesh sources for :mod:`._scan`: a binary PLY of triangles or a binary
STL becomes a :class:`~._scan.Scan` from ``np.frombuffer`` views of the source bytes,
copied once into the final dtypes (positions float32, faces int32, UVs float32, colours
uint8). A layout they do not read (ASCII, polygons, per-corner UVs, triangle strips)
returns None and goes the trimesh way.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from ..errors import AssetError
from ._scan import Scan

__all__ = ["HEAVY_TRIANGLES", "estimate_triangles", "gltf_looks", "read_gltf", "read_ply",
           "read_stl"]

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


def read_gltf(doc: dict[str, Any], binary: bytes | None, name: str
              ) -> list[tuple[Scan, int | None]] | None:
    """The triangle primitives of a checked GLB's default scene as scans in the scene's
    frame (node transforms baked in), each with its material index, from views of the
    binary chunk; None for what this reader leaves to trimesh (skins, morph targets,
    points or lines, quantized positions, a second UV set)."""
    from ._gltf_struct import GltfDoc, _buffers, dense

    if doc.get("skins") or any(_second_uv_set(m) for m in doc.get("materials", [])):
        return None
    d = GltfDoc(doc, binary, name)
    _buffers(d)
    nodes, meshes = doc.get("nodes", []), doc.get("meshes", [])
    scenes = doc.get("scenes", [])
    roots = scenes[doc.get("scene", 0)].get("nodes", []) if scenes else \
        list(range(len(nodes)))
    parts: list[tuple[Scan, int | None]] = []
    stack = [(i, np.eye(4)) for i in roots]
    while stack:
        i, parent = stack.pop()
        node = nodes[i]
        world = parent @ _node_matrix(node)
        for prim in meshes[node["mesh"]].get("primitives", []) if "mesh" in node else ():
            part = _primitive(d, prim, world, dense)
            if part is None:
                return None
            parts.append(part)
        stack += [(c, world) for c in node.get("children", [])]
    return parts or None


def _second_uv_set(value: Any) -> bool:
    """Whether a material (or any part of it) reads a UV set other than the first."""
    if isinstance(value, dict):
        return value.get("texCoord", 0) != 0 or any(_second_uv_set(v) for v in value.values())
    if isinstance(value, list):
        return any(_second_uv_set(v) for v in value)
    return False


def _node_matrix(node: dict[str, Any]) -> np.ndarray:
    if "matrix" in node:
        return np.asarray(node["matrix"], np.float64).reshape(4, 4).T   # column-major
    x, y, z, w = node.get("rotation", (0.0, 0.0, 0.0, 1.0))
    rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                    [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                    [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    m = np.eye(4)
    m[:3, :3] = rot * np.asarray(node.get("scale", (1.0, 1.0, 1.0)), np.float64)
    m[:3, 3] = node.get("translation", (0.0, 0.0, 0.0))
    return m


def _primitive(d: Any, prim: dict[str, Any], world: np.ndarray, dense: Any
               ) -> tuple[Scan, int | None] | None:
    attrs = prim.get("attributes", {})
    if prim.get("mode", 4) != 4 or prim.get("targets") or "POSITION" not in attrs:
        return None
    acc = d.accessor(attrs["POSITION"])
    if acc["componentType"] != 5126:
        return None
    pos = dense(d, attrs["POSITION"]).astype(np.float64)
    positions = (pos @ world[:3, :3].T + world[:3, 3]).astype(np.float32)
    del pos
    flip = np.linalg.det(world[:3, :3]) < 0     # a mirroring node turns the winding
    if "indices" in prim:
        index = dense(d, prim["indices"]).reshape(-1).astype(np.int64)
    else:
        index = np.arange(len(positions), dtype=np.int64)
    if len(index) % 3 or (len(index) and index.max() >= len(positions)):
        return None
    faces = index.reshape(-1, 3)[:, ::-1] if flip else index.reshape(-1, 3)
    uv = colors = None
    if "TEXCOORD_0" in attrs:
        uv = _unit(d, attrs["TEXCOORD_0"], dense)[:, :2].astype(np.float32)
        uv[:, 1] = 1.0 - uv[:, 1]                # to the Scan convention (v up)
    if "COLOR_0" in attrs:
        c = _unit(d, attrs["COLOR_0"], dense)
        colors = np.full((len(c), 4), 255, np.uint8)
        colors[:, :c.shape[1]] = np.clip(np.round(c * 255.0), 0, 255).astype(np.uint8)
    return Scan(positions, np.ascontiguousarray(faces, dtype=np.int32), uv, colors), \
        prim.get("material")


def _unit(d: Any, i: int, dense: Any) -> np.ndarray:
    """An attribute as floats: normalized integers to [0, 1]."""
    values = dense(d, i)
    if values.dtype.kind == "f":
        return values.astype(np.float64)
    return values.astype(np.float64) / float(np.iinfo(values.dtype).max)


def gltf_looks(doc: dict[str, Any], binary: bytes | None) -> dict[str, Any]:
    """What a GLB's LODs keep of it: its materials, textures, samplers, used extensions
    and images (bytes and MIME type), for :func:`~._scan.write_parts`."""
    views = doc.get("bufferViews", [])
    images = []
    for img in doc.get("images", []):
        v = views[img["bufferView"]]
        start = v.get("byteOffset", 0)
        images.append((bytes((binary or b"")[start:start + v["byteLength"]]),
                       img.get("mimeType", "image/png")))
    return {"materials": doc.get("materials", []), "textures": doc.get("textures", []),
            "samplers": doc.get("samplers", []), "images": images,
            "extensionsUsed": [e for e in doc.get("extensionsUsed", [])
                               if e != "KHR_lights_punctual"]}
