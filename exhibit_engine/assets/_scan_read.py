"""Readers of heavy mesh sources for :mod:`._scan`: a binary PLY of triangles, a binary
STL, a GLB's primitives (views of its checked accessors) or a one-material OBJ of
triangles (lines found with numpy, numbers parsed in pieces) becomes arrays of the final
dtypes (positions float32, faces int32, UVs float32, colours uint8), with no Python
object per vertex. A layout they do not read (ASCII PLY, polygons, per-corner UVs, strips,
skins, several OBJ materials) returns None and goes the trimesh way.
"""

from __future__ import annotations

import struct
import warnings
from typing import Any

import numpy as np

from ..errors import AssetError
from ._scan import Scan

__all__ = ["HEAVY_TRIANGLES", "estimate_triangles", "gltf_looks", "read_gltf", "read_obj",
           "read_ply", "read_stl"]

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


_PIECE = 32 << 20       # bytes of OBJ text parsed at once


def read_obj(data: bytes, name: str) -> tuple[Scan, str | None, str | None] | None:
    """A triangle OBJ with at most one material as a :class:`Scan`, its ``mtllib`` and
    its ``usemtl`` names; None for what this reader leaves to trimesh (polygons, mixed
    corner layouts, relative indices, several materials, lines or curves).

    Lines are found with numpy and each kind is parsed in pieces of :data:`_PIECE`
    bytes (``np.fromstring``), so no Python object is made per vertex or face.

    Raises:
        AssetError: a face indexes a missing vertex or texture coordinate.
    """
    arr = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(arr == 10)
    starts = np.concatenate([[0], ends + 1])
    ends = np.concatenate([ends, [len(arr)]])
    keep = starts < ends
    starts, ends = starts[keep], ends[keep]
    first = arr[starts]
    second = arr[np.minimum(starts + 1, len(arr) - 1)]
    blank = (second == 32) | (second == 9)
    kinds = {"v": (first == 118) & blank, "vt": (first == 118) & (second == 116),
             "vn": (first == 118) & (second == 110), "f": (first == 102) & blank}
    other = ~(kinds["v"] | kinds["vt"] | kinds["vn"] | kinds["f"])
    if int(other.sum()) > 100_000:
        return None
    mtllib = material = None
    for s, e in zip(starts[other], ends[other], strict=True):
        words = data[s:e].decode("utf-8", "replace").strip().split(None, 1)
        if not words or words[0].startswith("#") or words[0] in ("o", "g", "s"):
            continue
        if words[0] == "mtllib" and len(words) == 2:
            mtllib = mtllib or words[1].strip()
        elif words[0] == "usemtl" and len(words) == 2:
            if material not in (None, words[1].strip()):
                return None
            material = words[1].strip()
        else:
            return None         # lines, points, curves, anything else: trimesh
    vertices = _numbers(data, starts[kinds["v"]], ends[kinds["v"]], b"v", np.float64)
    texcoords = _numbers(data, starts[kinds["vt"]], ends[kinds["vt"]], b"vt", np.float64)
    nv, nt, nf = int(kinds["v"].sum()), int(kinds["vt"].sum()), int(kinds["f"].sum())
    if vertices is None or texcoords is None or not nv or not nf:
        return None
    per_v, per_t = len(vertices) // nv, (len(texcoords) // nt if nt else 0)
    if per_v * nv != len(vertices) or per_v not in (3, 6) or (nt and per_t * nt != len(texcoords)):
        return None
    vertices = vertices.reshape(nv, per_v)
    f0 = int(starts[kinds["f"]][0])
    corner = data[f0:data.find(b"\n", f0) if data.find(b"\n", f0) >= 0 else len(data)]
    corner = corner.split()[1] if len(corner.split()) > 1 else b""
    slashes, double = corner.count(b"/"), b"//" in corner
    step = 1 + slashes - (1 if double else 0)       # ints per corner
    has_t = slashes >= 1 and not double
    ints = _numbers(data, starts[kinds["f"]], ends[kinds["f"]], b"f", np.int64, slash=True)
    if ints is None or len(ints) != nf * 3 * step or (len(ints) and ints.min() < 1):
        return None
    v_index = ints[0::step] - 1
    if v_index.max() >= nv:
        raise AssetError(name, "has faces that index missing vertices")
    positions = vertices[:, :3].astype(np.float32)
    colors = None
    if per_v == 6:
        colors = np.full((nv, 4), 255, np.uint8)
        colors[:, :3] = np.clip(np.round(vertices[:, 3:6] * 255.0), 0, 255).astype(np.uint8)
    del vertices
    if not has_t:
        return Scan(positions, v_index.reshape(-1, 3).astype(np.int32), colors=colors), \
            mtllib, material
    t_index = ints[1::step] - 1
    del ints
    if not nt or t_index.max() >= nt:
        raise AssetError(name, "has faces that index missing texture coordinates")
    # A vertex is a (position, texture coordinate) pair: the corners that share both.
    pairs, inverse = np.unique(v_index * nt + t_index, return_inverse=True)
    del v_index, t_index
    uv = texcoords.reshape(nt, per_t)[:, :2][pairs % nt].astype(np.float32)
    return Scan(positions[pairs // nt], inverse.reshape(-1, 3).astype(np.int32), uv,
                None if colors is None else colors[pairs // nt]), mtllib, material


def _numbers(data: bytes, starts: np.ndarray, ends: np.ndarray, tag: bytes,
             dtype: type, slash: bool = False) -> np.ndarray | None:
    """The numbers of the lines ``starts``/``ends`` (each beginning with ``tag``), in
    order, parsed in pieces of consecutive lines; None if a piece does not parse."""
    out: list[np.ndarray] = []
    i = 0
    while i < len(starts):
        j = i + 1       # a run of consecutive lines, at most _PIECE bytes
        while j < len(starts) and starts[j] == ends[j - 1] + 1 and \
                ends[j] - starts[i] < _PIECE:
            j += 1
        text = data[starts[i]:ends[j - 1]]
        text = text.replace(b"\n" + tag, b"\n" + b" " * len(tag))
        text = b" " * len(tag) + text[len(tag):]
        if slash:
            text = text.replace(b"/", b" ")
        with warnings.catch_warnings():
            warnings.simplefilter("error")      # a piece that does not parse
            try:
                values = np.fromstring(text, dtype=dtype, sep=" ")  # noqa: NPY201
            except (ValueError, DeprecationWarning):
                return None
        out.append(values)
        i = j
    return np.concatenate(out) if out else np.zeros(0, dtype)
