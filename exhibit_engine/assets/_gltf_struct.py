"""The glTF 2.0 structure rules that :func:`.gltf.check_gltf` runs before any loader.

Every index, range and enum a loader would trust is checked against the glTF 2.0
specification, plus the few limits of panda3d-gltf (the node's loader) that would
otherwise crash or abort a projector: buffers, bufferViews and accessors (types,
alignment, every byte inside its buffer, sparse data), mesh primitives (attribute types
and counts, index values below the vertex count, finite positions), the node graph
(one parent each, no cycles), skins, animations, cameras, materials, textures and
samplers.

Binary data is read through numpy views over the GLB's BIN chunk, and only after the
range it claims has been proved to lie inside that chunk: nothing is allocated by a
count the file claims.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

from ..errors import AssetError

__all__ = ["check_structure"]

_COMPONENTS = {5120: ("i1", 1), 5121: ("u1", 1), 5122: ("<i2", 2), 5123: ("<u2", 2),
               5125: ("<u4", 4), 5126: ("<f4", 4)}
_TYPES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_MODES = range(7)
_ALPHA_MODES = ("OPAQUE", "MASK", "BLEND")
_MAG_FILTERS = (9728, 9729)
_MIN_FILTERS = (9728, 9729, 9984, 9985, 9986, 9987)
_WRAPS = (33071, 33648, 10497)
_PATHS = ("translation", "rotation", "scale", "weights")
_BUFFER_MIMES = ("data:application/octet-stream;base64,", "data:application/gltf-buffer;base64,")
#: attribute -> (accessor types, (componentType, normalized) pairs) that glTF 2.0 allows.
_ATTRIBUTES: dict[str, tuple[tuple[str, ...], tuple[tuple[int, bool], ...]]] = {
    "POSITION": (("VEC3",), ((_FLOAT, False),)),
    "NORMAL": (("VEC3",), ((_FLOAT, False),)),
    "TANGENT": (("VEC4",), ((_FLOAT, False),)),
    "TEXCOORD": (("VEC2",), ((_FLOAT, False), (_UBYTE, True), (_USHORT, True))),
    "COLOR": (("VEC3", "VEC4"), ((_FLOAT, False), (_UBYTE, True), (_USHORT, True))),
    "JOINTS": (("VEC4",), ((_UBYTE, False), (_USHORT, False))),
    "WEIGHTS": (("VEC4",), ((_FLOAT, False), (_UBYTE, True), (_USHORT, True))),
}


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_num(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


class _Doc:
    """One document under check: its lists, its buffers' bytes, the error it raises."""

    def __init__(self, doc: dict[str, Any], binary: bytes | None, name: str) -> None:
        self.doc, self.binary, self.name = doc, binary, name
        self.data: list[bytes] = []
        self.views_of_attributes: dict[int, list[int]] = {}

    def fail(self, where: str, rule: str) -> AssetError:
        return AssetError(self.name, f"{where}: {rule}")

    def items(self, key: str) -> list[dict[str, Any]]:
        value = self.doc.get(key, [])
        if not isinstance(value, list):
            raise AssetError(self.name, f"{key} must be a list")
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise AssetError(self.name, f"{key}[{i}] is not an object")
        return value

    def ref(self, obj: dict[str, Any], field: str, key: str, where: str, *,
            required: bool = False) -> int | None:
        """``obj[field]``, proved an index into the document's list ``key``."""
        if field not in obj:
            if required:
                raise self.fail(where, f"{field} is required")
            return None
        i, n = obj[field], len(self.items(key))
        if not _is_int(i) or not 0 <= i < n:
            raise self.fail(f"{where}.{field}", f"{i!r} is not an index into {key} "
                            f"({n} entries)")
        return i

    def uint(self, obj: dict[str, Any], field: str, where: str, default: int = 0,
             minimum: int = 0) -> int:
        v = obj.get(field, default)
        if not _is_int(v) or v < minimum:
            raise self.fail(f"{where}.{field}", f"{v!r} must be an integer >= {minimum}")
        return v

    def number(self, obj: dict[str, Any], field: str, where: str, default: float,
               lo: float = -math.inf, hi: float = math.inf) -> float:
        v = obj.get(field, default)
        if not _is_num(v) or not lo <= v <= hi:
            span = f"in [{lo:g}, {hi:g}]" if math.isfinite(lo) and math.isfinite(hi) else (
                f">= {lo:g}" if math.isfinite(lo) else "a finite number")
            raise self.fail(f"{where}.{field}", f"{v!r} must be {span}")
        return float(v)

    def numbers(self, obj: dict[str, Any], field: str, where: str, n: int,
                lo: float = -math.inf, hi: float = math.inf) -> None:
        if field not in obj:
            return
        v = obj[field]
        if not isinstance(v, list) or len(v) != n or not all(_is_num(x) and lo <= x <= hi
                                                             for x in v):
            limit = f" in [{lo:g}, {hi:g}]" if math.isfinite(lo) else ""
            raise self.fail(f"{where}.{field}", f"must be {n} finite numbers{limit}")


def _buffers(d: _Doc) -> None:
    for i, buf in enumerate(d.items("buffers")):
        where = f"buffers[{i}]"
        length = d.uint(buf, "byteLength", where, -1, 1)
        if "uri" in buf:
            uri = buf["uri"]
            head = next((m for m in _BUFFER_MIMES if uri.startswith(m)), None)
            if head is None:
                raise d.fail(f"{where}.uri", "a buffer's data URI must be base64 "
                             "application/octet-stream or application/gltf-buffer")
            try:
                blob = base64.b64decode(uri[len(head):], validate=True)
            except (binascii.Error, ValueError):
                raise d.fail(f"{where}.uri", "bad data URI (not base64)") from None
        elif i == 0 and d.binary is not None:
            blob = d.binary
        else:
            raise d.fail(where, "has no data (no uri, and not the GLB's BIN chunk)")
        if len(blob) < length:
            raise d.fail(where, f"byteLength {length} is more than its {len(blob)} bytes "
                         "of data")
        if "uri" in buf and len(blob) != length:
            raise d.fail(where, f"byteLength {length} does not match its data URI "
                         f"({len(blob)} bytes)")
        d.data.append(blob[:length] if len(blob) != length else blob)


def _views(d: _Doc) -> None:
    for i, view in enumerate(d.items("bufferViews")):
        where = f"bufferViews[{i}]"
        b = d.ref(view, "buffer", "buffers", where, required=True)
        assert b is not None
        start = d.uint(view, "byteOffset", where)
        length = d.uint(view, "byteLength", where, -1, 1)
        if start + length > len(d.data[b]):
            raise d.fail(where, f"bytes {start}..{start + length} run past the end of "
                         f"buffers[{b}] ({len(d.data[b])} bytes)")
        if "byteStride" in view:
            stride = view["byteStride"]
            if not _is_int(stride) or not 4 <= stride <= 252 or stride % 4:
                raise d.fail(f"{where}.byteStride", f"{stride!r} must be a multiple of 4 "
                             "in 4..252")
        if view.get("target", 34962) not in (34962, 34963):
            raise d.fail(f"{where}.target", f"{view['target']!r} is not 34962 or 34963")


def _element(comp: int, kind: str) -> int:
    """Bytes of one element; matrix columns start on 4-byte boundaries (glTF 3.6.2.4)."""
    size = _COMPONENTS[comp][1]
    if kind.startswith("MAT") and size < 4:
        rows = int(kind[3])
        return rows * (-(-rows * size // 4) * 4)
    return _TYPES[kind] * size


def _span(d: _Doc, where: str, view_index: int, offset: int, count: int, elem: int,
          align: int, stride: int | None = None) -> None:
    """Prove ``count`` elements at ``offset`` lie inside bufferViews[view_index]."""
    view = d.doc["bufferViews"][view_index]
    step = stride or elem
    if step < elem:
        raise d.fail(where, f"bufferViews[{view_index}].byteStride {step} is less than "
                     f"one element ({elem} bytes)")
    if offset % align or view.get("byteOffset", 0) % align:
        raise d.fail(where, f"data is not aligned to {align} bytes")
    need = offset + step * (count - 1) + elem
    if need > view["byteLength"]:
        raise d.fail(where, f"{count} elements need {need} bytes, more than "
                     f"bufferViews[{view_index}] holds ({view['byteLength']} bytes)")


def _raw(d: _Doc, view_index: int, offset: int, count: int, dtype: str, ncomp: int,
         stride: int | None = None) -> np.ndarray:
    """A read-only view (no copy) of ``count`` x ``ncomp`` values already proved in range."""
    view = d.doc["bufferViews"][view_index]
    buf = d.data[view["buffer"]]
    size = np.dtype(dtype).itemsize
    return np.ndarray((count, ncomp), dtype=dtype, buffer=buf,
                      offset=view.get("byteOffset", 0) + offset,
                      strides=(stride or size * ncomp, size))


def _accessors(d: _Doc) -> None:
    for i, acc in enumerate(d.items("accessors")):
        where = f"accessors[{i}]"
        comp, kind = acc.get("componentType"), acc.get("type")
        if comp not in _COMPONENTS or not _is_int(comp):
            raise d.fail(f"{where}.componentType", f"{comp!r} is not a glTF component type")
        if kind not in _TYPES:
            raise d.fail(f"{where}.type", f"{kind!r} is not a glTF accessor type")
        count = d.uint(acc, "count", where, -1, 1)
        offset = d.uint(acc, "byteOffset", where)
        if not isinstance(acc.get("normalized", False), bool):
            raise d.fail(f"{where}.normalized", "must be true or false")
        if acc.get("normalized") and comp in (_UINT, _FLOAT):
            raise d.fail(f"{where}.normalized", "only 8- and 16-bit integers may be "
                         "normalized")
        ncomp = _TYPES[kind]
        for field in ("min", "max"):
            d.numbers(acc, field, where, ncomp)
        view = d.ref(acc, "bufferView", "bufferViews", where)
        elem = _element(comp, kind)
        if view is not None:
            stride = d.doc["bufferViews"][view].get("byteStride")
            _span(d, where, view, offset, count, elem, _COMPONENTS[comp][1], stride)
        elif "byteOffset" in acc:
            raise d.fail(f"{where}.byteOffset", "is not allowed without a bufferView")
        if "sparse" in acc:
            _sparse(d, acc, where, count, elem, comp)


def _sparse(d: _Doc, acc: dict[str, Any], where: str, count: int, elem: int,
            comp: int) -> None:
    sparse, where = acc["sparse"], f"{where}.sparse"
    if not isinstance(sparse, dict) or not all(
            isinstance(sparse.get(k), dict) for k in ("indices", "values")):
        raise d.fail(where, "must be an object with indices and values")
    n = d.uint(sparse, "count", where, -1, 1)
    if n > count:
        raise d.fail(f"{where}.count", f"{n} is more than the accessor's count {count}")
    ind, val = sparse["indices"], sparse["values"]
    iv = d.ref(ind, "bufferView", "bufferViews", f"{where}.indices", required=True)
    vv = d.ref(val, "bufferView", "bufferViews", f"{where}.values", required=True)
    assert iv is not None and vv is not None
    icomp = ind.get("componentType")
    if icomp not in (_UBYTE, _USHORT, _UINT) or not _is_int(icomp):
        raise d.fail(f"{where}.indices.componentType", f"{icomp!r} must be 5121, 5123 or "
                     "5125")
    for part, vi in (("indices", iv), ("values", vv)):
        if "byteStride" in d.doc["bufferViews"][vi]:
            raise d.fail(f"{where}.{part}", f"bufferViews[{vi}] must not have a byteStride")
    ioff = d.uint(ind, "byteOffset", f"{where}.indices")
    voff = d.uint(val, "byteOffset", f"{where}.values")
    isize = _COMPONENTS[icomp][1]
    _span(d, f"{where}.indices", iv, ioff, n, isize, isize)
    _span(d, f"{where}.values", vv, voff, n, elem, _COMPONENTS[comp][1])
    idx = _raw(d, iv, ioff, n, _COMPONENTS[icomp][0], 1)[:, 0]
    if n > 1 and not bool(np.all(idx[1:] > idx[:-1])):
        raise d.fail(f"{where}.indices", "must be strictly increasing")
    if int(idx[-1]) >= count:
        raise d.fail(f"{where}.indices", f"index {int(idx[-1])} is not below the "
                     f"accessor's count {count}")


def _accessor(d: _Doc, i: int) -> dict[str, Any]:
    return d.doc["accessors"][i]


def _loader_readable(d: _Doc, i: int, where: str) -> dict[str, Any]:
    """The accessor the loader reads: it needs a bufferView and cannot apply sparse data."""
    acc = _accessor(d, i)
    if "bufferView" not in acc or "sparse" in acc:
        raise d.fail(where, f"accessors[{i}] is sparse or has no bufferView; the model "
                     "loader reads only plain accessors (export without sparse data)")
    return acc


def _primitive(d: _Doc, prim: dict[str, Any], where: str, quantized: bool) -> None:
    ext = prim.get("extensions", {})
    if isinstance(ext, dict) and "KHR_draco_mesh_compression" in ext:
        raise d.fail(where, "Draco-compressed mesh (KHR_draco_mesh_compression) is not "
                     "supported; export the model without Draco compression")
    attrs = prim.get("attributes")
    if not isinstance(attrs, dict) or not attrs:
        raise d.fail(f"{where}.attributes", "must be a non-empty object")
    if "POSITION" not in attrs:
        raise d.fail(f"{where}.attributes", "has no POSITION (the model loader needs one)")
    counts: set[int] = set()
    views: dict[int, list[int]] = {}
    for sem, i in attrs.items():
        here = f"{where}.attributes.{sem}"
        d.ref(attrs, sem, "accessors", f"{where}.attributes", required=True)
        acc = _loader_readable(d, i, here)
        counts.add(acc["count"])
        views.setdefault(acc["bufferView"], []).append(i)
        base = sem.split("_")[0] if sem.startswith(("TEXCOORD_", "COLOR_", "JOINTS_",
                                                     "WEIGHTS_")) else sem
        rule = _ATTRIBUTES.get(base)
        if rule is not None and not (quantized and base in ("POSITION", "NORMAL", "TANGENT",
                                                            "TEXCOORD")):
            kinds, comps = rule
            pair = (acc["componentType"], bool(acc.get("normalized", False)))
            if acc["type"] not in kinds or pair not in comps:
                raise d.fail(here, f"accessors[{i}] is {acc['type']} of componentType "
                             f"{pair[0]}{' normalized' if pair[1] else ''}, not what "
                             f"glTF allows for {base}")
        if acc.get("byteOffset", 0) % 4 or d.doc["bufferViews"][acc["bufferView"]].get(
                "byteOffset", 0) % 4:
            raise d.fail(here, "vertex data must start on a 4-byte boundary")
        if base == "POSITION":
            _positions(d, i, here)
    if len(counts) != 1:
        raise d.fail(f"{where}.attributes", f"attributes have different counts "
                     f"({', '.join(str(c) for c in sorted(counts))})")
    _interleaved(d, views, where)
    vertices = counts.pop()
    mode = prim.get("mode", 4)
    if not _is_int(mode) or mode not in _MODES:
        raise d.fail(f"{where}.mode", f"{mode!r} is not a glTF primitive mode (0-6)")
    n = vertices
    if "indices" in prim:
        i = d.ref(prim, "indices", "accessors", where, required=True)
        assert i is not None
        acc = _loader_readable(d, i, f"{where}.indices")
        if acc["type"] != "SCALAR" or acc["componentType"] not in (_UBYTE, _USHORT, _UINT):
            raise d.fail(f"{where}.indices", f"accessors[{i}] must be SCALAR of "
                         "componentType 5121, 5123 or 5125")
        if "byteStride" in d.doc["bufferViews"][acc["bufferView"]]:
            raise d.fail(f"{where}.indices", f"bufferViews[{acc['bufferView']}] of "
                         "indices must not have a byteStride")
        n = acc["count"]
        values = _raw(d, acc["bufferView"], acc.get("byteOffset", 0), n,
                      _COMPONENTS[acc["componentType"]][0], 1)
        top = int(values.max())
        if top >= vertices:
            raise d.fail(f"{where}.indices", f"index {top} is not below the vertex count "
                         f"{vertices}")
    need = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (2, 1), 4: (3, 3), 5: (3, 1), 6: (3, 1)}
    least, multiple = need[mode]
    if n < least or n % multiple:
        raise d.fail(where, f"{n} {'indices' if 'indices' in prim else 'vertices'} do not "
                     f"make whole primitives of mode {mode}")
    targets = prim.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
        raise d.fail(f"{where}.targets", "must be a list of objects")
    for t, target in enumerate(targets):
        for sem in target:
            i = d.ref(target, sem, "accessors", f"{where}.targets[{t}]", required=True)
            assert i is not None
            acc = _loader_readable(d, i, f"{where}.targets[{t}].{sem}")
            if acc["count"] != vertices:
                raise d.fail(f"{where}.targets[{t}].{sem}", f"count {acc['count']} is not "
                             f"the vertex count {vertices}")


def _interleaved(d: _Doc, views: dict[int, list[int]], where: str) -> None:
    """Attributes sharing a bufferView: what the spec requires and what the loader copies.

    panda3d-gltf copies an interleaved bufferView as whole rows of its byteStride, with
    the attributes packed from byte 0 in byteOffset order; anything else would be read
    as the wrong bytes.
    """
    for view, accs in views.items():
        if len(accs) < 2:
            continue
        stride = d.doc["bufferViews"][view].get("byteStride")
        if stride is None:
            raise d.fail(where, f"attributes share bufferViews[{view}], which then needs a "
                         "byteStride")
        ordered = sorted(accs, key=lambda i: _accessor(d, i).get("byteOffset", 0))
        if _accessor(d, ordered[1]).get("byteOffset", 0) >= stride:
            continue  # not interleaved: the loader copies each attribute on its own
        pos = 0
        for i in ordered:
            acc = _accessor(d, i)
            if acc.get("byteOffset", 0) != pos:
                raise d.fail(where, f"interleaved bufferViews[{view}] has gaps or overlaps "
                             "between attributes (the model loader needs them packed)")
            pos += _element(acc["componentType"], acc["type"])
        if pos != stride:
            raise d.fail(where, f"interleaved bufferViews[{view}] has byteStride {stride}, "
                         f"but its attributes fill {pos} bytes (the loader needs them equal)")


def _positions(d: _Doc, i: int, where: str) -> None:
    acc = _accessor(d, i)
    if acc["componentType"] == _FLOAT:
        view = d.doc["bufferViews"][acc["bufferView"]]
        data = _raw(d, acc["bufferView"], acc.get("byteOffset", 0), acc["count"], "<f4", 3,
                    view.get("byteStride"))
        if not bool(np.isfinite(data).all()):
            raise d.fail(where, f"accessors[{i}] holds non-finite (NaN or infinite) "
                         "positions")
    if not ("min" in acc and "max" in acc):
        raise d.fail(where, f"accessors[{i}] (POSITION) must have min and max")


def _meshes(d: _Doc) -> None:
    used = d.doc.get("extensionsUsed", [])
    quantized = isinstance(used, list) and "KHR_mesh_quantization" in used
    for m, mesh in enumerate(d.items("meshes")):
        prims = mesh.get("primitives")
        if not isinstance(prims, list) or not prims:
            raise d.fail(f"meshes[{m}].primitives", "must be a non-empty list")
        for p, prim in enumerate(prims):
            where = f"meshes[{m}].primitives[{p}]"
            if not isinstance(prim, dict):
                raise d.fail(where, "is not an object")
            m_i = d.ref(prim, "material", "materials", where)
            _primitive(d, prim, where, quantized)
            for uv in _texcoords(d.doc["materials"][m_i]) if m_i is not None else ():
                if f"TEXCOORD_{uv}" not in prim["attributes"]:
                    raise d.fail(f"{where}.material", f"materials[{m_i}] has a texture that "
                                 f"needs TEXCOORD_{uv}, which the primitive lacks")


def _texcoords(mat: dict[str, Any]) -> set[int]:
    """The UV sets a (checked) material's textures read."""
    pbr = mat.get("pbrMetallicRoughness", {})
    infos = [pbr.get(k) for k in ("baseColorTexture", "metallicRoughnessTexture")]
    infos += [mat.get(k) for k in ("normalTexture", "occlusionTexture", "emissiveTexture")]
    out = set()
    for info in (i for i in infos if isinstance(i, dict)):
        ext = info.get("extensions")
        tt = ext.get("KHR_texture_transform") if isinstance(ext, dict) else None
        out.add(tt.get("texCoord", info.get("texCoord", 0)) if isinstance(tt, dict) else
                info.get("texCoord", 0))
    return out


def _nodes(d: _Doc) -> None:
    nodes = d.items("nodes")
    parent: dict[int, int] = {}
    for n, node in enumerate(nodes):
        where = f"nodes[{n}]"
        for field, key in (("mesh", "meshes"), ("skin", "skins"), ("camera", "cameras")):
            d.ref(node, field, key, where)
        if "skin" in node and "mesh" not in node:
            raise d.fail(where, "has a skin but no mesh")
        children = node.get("children", [])
        if not isinstance(children, list) or not all(
                _is_int(c) and 0 <= c < len(nodes) for c in children):
            raise d.fail(f"{where}.children", f"must be indices into nodes ({len(nodes)} "
                         "entries)")
        for c in children:
            if c == n:
                raise d.fail(f"{where}.children", "a node cannot be its own child")
            if c in parent:
                raise d.fail(f"nodes[{c}]", f"has two parents (nodes[{parent[c]}] and "
                             f"nodes[{n}]); a node has at most one")
            parent[c] = n
        if "matrix" in node and any(k in node for k in ("translation", "rotation", "scale")):
            raise d.fail(where, "has both a matrix and translation/rotation/scale")
        for field, size in (("matrix", 16), ("translation", 3), ("rotation", 4),
                            ("scale", 3)):
            d.numbers(node, field, where, size)
        weights = node.get("weights", [])
        if not isinstance(weights, list) or not all(_is_num(w) for w in weights):
            raise d.fail(f"{where}.weights", "must be a list of finite numbers")
    for n in range(len(nodes)):  # with one parent each, a cycle shows as a walk that returns
        seen, at = {n}, n
        while at in parent:
            at = parent[at]
            if at in seen:
                raise d.fail(f"nodes[{n}]", "is part of a cycle in the node hierarchy")
            seen.add(at)
    for s, scene in enumerate(d.items("scenes")):
        roots = scene.get("nodes", [])
        if not isinstance(roots, list) or not all(
                _is_int(r) and 0 <= r < len(nodes) for r in roots):
            raise d.fail(f"scenes[{s}].nodes", f"must be indices into nodes ({len(nodes)} "
                         "entries)")
        if len(set(roots)) != len(roots):
            raise d.fail(f"scenes[{s}].nodes", "lists a node twice")
        for r in roots:
            if r in parent:
                raise d.fail(f"scenes[{s}].nodes", f"nodes[{r}] is not a root node (its "
                             f"parent is nodes[{parent[r]}])")
    d.ref(d.doc, "scene", "scenes", "document")


def _skins(d: _Doc) -> None:
    nodes = len(d.items("nodes"))
    for s, skin in enumerate(d.items("skins")):
        where = f"skins[{s}]"
        joints = skin.get("joints")
        if not isinstance(joints, list) or not joints or not all(
                _is_int(j) and 0 <= j < nodes for j in joints):
            raise d.fail(f"{where}.joints", f"must be a non-empty list of indices into "
                         f"nodes ({nodes} entries)")
        if len(set(joints)) != len(joints):
            raise d.fail(f"{where}.joints", "lists a node twice")
        d.ref(skin, "skeleton", "nodes", where)
        i = d.ref(skin, "inverseBindMatrices", "accessors", where)
        if i is not None:
            acc = _loader_readable(d, i, f"{where}.inverseBindMatrices")
            if acc["type"] != "MAT4" or acc["componentType"] != _FLOAT:
                raise d.fail(f"{where}.inverseBindMatrices", f"accessors[{i}] must be "
                             "MAT4 of float")
            if acc["count"] < len(joints):
                raise d.fail(f"{where}.inverseBindMatrices", f"accessors[{i}] has "
                             f"{acc['count']} matrices for {len(joints)} joints")


def _animations(d: _Doc) -> None:
    for a, anim in enumerate(d.items("animations")):
        where = f"animations[{a}]"
        samplers, channels = anim.get("samplers"), anim.get("channels")
        if not isinstance(samplers, list) or not isinstance(channels, list) or not all(
                isinstance(x, dict) for x in [*samplers, *channels]):
            raise d.fail(where, "samplers and channels must be lists of objects")
        for s, smp in enumerate(samplers):
            here = f"{where}.samplers[{s}]"
            for field in ("input", "output"):
                d.ref(smp, field, "accessors", here, required=True)
            if smp.get("interpolation", "LINEAR") not in ("LINEAR", "STEP", "CUBICSPLINE"):
                raise d.fail(f"{here}.interpolation", f"{smp['interpolation']!r} is not "
                             "LINEAR, STEP or CUBICSPLINE")
            if _accessor(d, smp["input"]).get("type") != "SCALAR" or _accessor(
                    d, smp["input"]).get("componentType") != _FLOAT:
                raise d.fail(f"{here}.input", "must be a SCALAR float accessor")
        for c, chan in enumerate(channels):
            here = f"{where}.channels[{c}]"
            if not _is_int(chan.get("sampler")) or not 0 <= chan["sampler"] < len(samplers):
                raise d.fail(f"{here}.sampler", "is not an index into the animation's "
                             "samplers")
            target = chan.get("target")
            if not isinstance(target, dict) or target.get("path") not in _PATHS:
                raise d.fail(f"{here}.target", "needs a path: translation, rotation, "
                             "scale or weights")
            d.ref(target, "node", "nodes", f"{here}.target")


def _cameras(d: _Doc) -> None:
    for c, cam in enumerate(d.items("cameras")):
        where = f"cameras[{c}]"
        kind = cam.get("type")
        if kind not in ("perspective", "orthographic") or not isinstance(cam.get(kind), dict):
            raise d.fail(where, "needs type perspective or orthographic, and that object")
        lens, here = cam[kind], f"{where}.{kind}"
        if kind == "perspective":
            if d.number(lens, "yfov", here, -1) <= 0:
                raise d.fail(f"{here}.yfov", "must be more than 0")
            near = d.number(lens, "znear", here, -1)
            if near <= 0:
                raise d.fail(f"{here}.znear", "must be more than 0")
            if "aspectRatio" in lens and d.number(lens, "aspectRatio", here, 1) <= 0:
                raise d.fail(f"{here}.aspectRatio", "must be more than 0")
            if "zfar" in lens and d.number(lens, "zfar", here, 0) <= near:
                raise d.fail(f"{here}.zfar", "must be more than znear")
        else:
            for field in ("xmag", "ymag"):
                if d.number(lens, field, here, 0) == 0:
                    raise d.fail(f"{here}.{field}", "must be a non-zero number")
            near = d.number(lens, "znear", here, -1, 0)
            if d.number(lens, "zfar", here, -1) <= near:
                raise d.fail(f"{here}.zfar", "must be more than znear")


def _texture_info(d: _Doc, obj: dict[str, Any], field: str, where: str) -> None:
    if field not in obj:
        return
    info, here = obj[field], f"{where}.{field}"
    if not isinstance(info, dict):
        raise d.fail(here, "is not an object")
    d.ref(info, "index", "textures", here, required=True)
    d.uint(info, "texCoord", here)
    if field == "normalTexture":
        d.number(info, "scale", here, 1)
    if field == "occlusionTexture":
        d.number(info, "strength", here, 1, 0, 1)


def _materials(d: _Doc) -> None:
    for m, mat in enumerate(d.items("materials")):
        where = f"materials[{m}]"
        pbr = mat.get("pbrMetallicRoughness", {})
        if not isinstance(pbr, dict):
            raise d.fail(f"{where}.pbrMetallicRoughness", "is not an object")
        here = f"{where}.pbrMetallicRoughness"
        d.numbers(pbr, "baseColorFactor", here, 4, 0, 1)
        d.number(pbr, "metallicFactor", here, 1, 0, 1)
        d.number(pbr, "roughnessFactor", here, 1, 0, 1)
        for field in ("baseColorTexture", "metallicRoughnessTexture"):
            _texture_info(d, pbr, field, here)
        for field in ("normalTexture", "occlusionTexture", "emissiveTexture"):
            _texture_info(d, mat, field, where)
        d.numbers(mat, "emissiveFactor", where, 3, 0, 1)
        if mat.get("alphaMode", "OPAQUE") not in _ALPHA_MODES:
            raise d.fail(f"{where}.alphaMode", f"{mat['alphaMode']!r} is not OPAQUE, MASK "
                         "or BLEND")
        d.number(mat, "alphaCutoff", where, 0.5, 0)
        if not isinstance(mat.get("doubleSided", False), bool):
            raise d.fail(f"{where}.doubleSided", "must be true or false")
        ext = mat.get("extensions", {})
        if not isinstance(ext, dict):
            raise d.fail(f"{where}.extensions", "is not an object")
        strength = ext.get("KHR_materials_emissive_strength")
        if isinstance(strength, dict):
            d.number(strength, "emissiveStrength", f"{where}.extensions."
                     "KHR_materials_emissive_strength", 1, 0)
        ior = ext.get("KHR_materials_ior")
        if isinstance(ior, dict) and d.number(ior, "ior", f"{where}.extensions."
                                              "KHR_materials_ior", 1.5, 0) < 1 and ior[
                                                  "ior"] != 0:
            raise d.fail(f"{where}.extensions.KHR_materials_ior.ior", "must be 0 or >= 1")
        transform_holders = [mat, pbr]
        for holder in transform_holders:
            for value in holder.values():
                tt = value.get("extensions", {}).get("KHR_texture_transform") if isinstance(
                    value, dict) and isinstance(value.get("extensions"), dict) else None
                if isinstance(tt, dict):
                    d.numbers(tt, "offset", f"{where}.KHR_texture_transform", 2)
                    d.numbers(tt, "scale", f"{where}.KHR_texture_transform", 2)
                    d.number(tt, "rotation", f"{where}.KHR_texture_transform", 0)
                    d.uint(tt, "texCoord", f"{where}.KHR_texture_transform")


def _textures(d: _Doc) -> None:
    for t, tex in enumerate(d.items("textures")):
        where = f"textures[{t}]"
        d.ref(tex, "source", "images", where)
        d.ref(tex, "sampler", "samplers", where)
    for s, smp in enumerate(d.items("samplers")):
        where = f"samplers[{s}]"
        for field, allowed in (("magFilter", _MAG_FILTERS), ("minFilter", _MIN_FILTERS),
                               ("wrapS", _WRAPS), ("wrapT", _WRAPS)):
            if field in smp and (not _is_int(smp[field]) or smp[field] not in allowed):
                raise d.fail(f"{where}.{field}", f"{smp[field]!r} is not a glTF value")
    for i, img in enumerate(d.items("images")):
        where = f"images[{i}]"
        if ("uri" in img) == ("bufferView" in img):
            raise d.fail(where, "needs exactly one of uri and bufferView")
        if "bufferView" in img:
            d.ref(img, "bufferView", "bufferViews", where)
            if img.get("mimeType") not in ("image/png", "image/jpeg"):
                raise d.fail(f"{where}.mimeType", f"{img.get('mimeType')!r} must be "
                             "image/png or image/jpeg")
        elif not str(img["uri"]).startswith(("data:image/png;base64,",
                                             "data:image/jpeg;base64,")):
            raise d.fail(f"{where}.uri", "an image's data URI must be base64 image/png or "
                         "image/jpeg")


def check_structure(doc: dict[str, Any], binary: bytes | None, name: str) -> list[bytes]:
    """Check every glTF 2.0 structure rule a loader would trust (see the module docstring).

    Runs after :func:`.gltf.check_gltf` has refused external URIs and unsupported
    extensions, and before embedded images are decoded.

    Returns:
        Each buffer's bytes (the BIN chunk or the decoded data URI), ``byteLength`` long.

    Raises:
        AssetError: naming the file, the offending field and the rule.
    """
    d = _Doc(doc, binary, name)
    asset = doc.get("asset")
    if not isinstance(asset, dict) or not str(asset.get("version", "")).startswith("2."):
        raise AssetError(name, "asset.version must be \"2.0\" (glTF 2)")
    _buffers(d)
    _views(d)
    _accessors(d)
    _textures(d)
    _materials(d)
    _meshes(d)
    _nodes(d)
    _skins(d)
    _animations(d)
    _cameras(d)
    return d.data
