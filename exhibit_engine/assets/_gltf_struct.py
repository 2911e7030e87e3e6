"""The glTF 2.0 data rules that :func:`.gltf.check_gltf` runs before any loader.

Every index, range and enum a loader would trust is checked against the glTF 2.0
specification, plus the few limits of panda3d-gltf (the node's loader) that would
otherwise crash or abort a projector: buffers, bufferViews and accessors (types,
alignment, every byte inside its buffer, sparse data) and mesh primitives (attribute
types and counts, index values below the vertex count, finite positions).
:class:`GltfDoc` holds a document under check; :mod:`._gltf_scene` checks the rest.

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

__all__ = ["GltfDoc", "MAX_ZERO_FILLED_BYTES", "check_data", "check_meshes", "dense"]

_COMPONENTS = {5120: ("i1", 1), 5121: ("u1", 1), 5122: ("<i2", 2), 5123: ("<u2", 2),
               5125: ("<u4", 4), 5126: ("<f4", 4)}
_TYPES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
_FLOAT, _UBYTE, _USHORT, _UINT = 5126, 5121, 5123, 5125
_MODES = range(7)
#: Most bytes an accessor without a bufferView (all zeros, before sparse data) may claim:
#: whoever reads it allocates them.
MAX_ZERO_FILLED_BYTES = 64 << 20
#: Modes panda3d-gltf 1.3 mishandles: it sets no strip ends, and Panda3D aborts the
#: process (non-indexed) or fails an assertion (indexed).
_STRIPS = {3: "a line strip", 5: "a triangle strip", 6: "a triangle fan"}
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


class GltfDoc:
    """One document under check: its lists, its buffers' bytes, the error it raises.

    The small readers (:meth:`ref`, :meth:`uint`, :meth:`number`, :meth:`numbers`)
    each prove one field and raise :class:`AssetError` naming it.
    """

    def __init__(self, doc: dict[str, Any], binary: bytes | None, name: str) -> None:
        self.doc, self.binary, self.name = doc, binary, name
        self.data: list[bytes] = []

    def fail(self, where: str, rule: str) -> AssetError:
        """The error for a broken ``where``."""
        return AssetError(self.name, f"{where}: {rule}")

    def items(self, key: str) -> list[dict[str, Any]]:
        """The document's list ``key`` ([] when absent), proved a list of objects."""
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

    def accessor(self, i: int) -> dict[str, Any]:
        """accessors[i] (an index already proved)."""
        return self.doc["accessors"][i]

    def readable(self, i: int, where: str) -> dict[str, Any]:
        """accessors[i] as the loader reads it: with a bufferView and no sparse data."""
        acc = self.accessor(i)
        if "bufferView" not in acc or "sparse" in acc:
            raise self.fail(where, f"accessors[{i}] is sparse or has no bufferView; the "
                            "model loader reads only plain accessors (export without "
                            "sparse data)")
        return acc

    def values(self, i: int) -> np.ndarray:
        """A plain accessor's elements as a (count, components) view (its range proved)."""
        acc = self.accessor(i)
        view = self.doc["bufferViews"][acc["bufferView"]]
        return _raw(self, acc["bufferView"], acc.get("byteOffset", 0), acc["count"],
                    _COMPONENTS[acc["componentType"]][0], _TYPES[acc["type"]],
                    view.get("byteStride"))

    def uint(self, obj: dict[str, Any], field: str, where: str, default: int = 0,
             minimum: int = 0) -> int:
        """``obj[field]`` (or ``default``), proved an integer >= ``minimum``."""
        v = obj.get(field, default)
        if not _is_int(v) or v < minimum:
            raise self.fail(f"{where}.{field}", f"{v!r} must be an integer >= {minimum}")
        return v

    def number(self, obj: dict[str, Any], field: str, where: str, default: float,
               lo: float = -math.inf, hi: float = math.inf) -> float:
        """``obj[field]`` (or ``default``), proved a finite number in [lo, hi]."""
        v = obj.get(field, default)
        if not _is_num(v) or not lo <= v <= hi:
            span = f"in [{lo:g}, {hi:g}]" if math.isfinite(lo) and math.isfinite(hi) else (
                f">= {lo:g}" if math.isfinite(lo) else "a finite number")
            raise self.fail(f"{where}.{field}", f"{v!r} must be {span}")
        return float(v)

    def numbers(self, obj: dict[str, Any], field: str, where: str, n: int,
                lo: float = -math.inf, hi: float = math.inf) -> None:
        """``obj[field]``, where present, proved ``n`` finite numbers in [lo, hi]."""
        if field not in obj:
            return
        v = obj[field]
        if not isinstance(v, list) or len(v) != n or not all(_is_num(x) and lo <= x <= hi
                                                             for x in v):
            limit = f" in [{lo:g}, {hi:g}]" if math.isfinite(lo) else ""
            raise self.fail(f"{where}.{field}", f"must be {n} finite numbers{limit}")


def _buffers(d: GltfDoc) -> None:
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


def _views(d: GltfDoc) -> None:
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


def _span(d: GltfDoc, where: str, view_index: int, offset: int, count: int, elem: int,
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


def _raw(d: GltfDoc, view_index: int, offset: int, count: int, dtype: str, ncomp: int,
         stride: int | None = None) -> np.ndarray:
    """A read-only view (no copy) of ``count`` x ``ncomp`` values already proved in range."""
    view = d.doc["bufferViews"][view_index]
    buf = d.data[view["buffer"]]
    size = np.dtype(dtype).itemsize
    return np.ndarray((count, ncomp), dtype=dtype, buffer=buf,
                      offset=view.get("byteOffset", 0) + offset,
                      strides=(stride or size * ncomp, size))


def _accessors(d: GltfDoc) -> None:
    for i, acc in enumerate(d.items("accessors")):
        where = f"accessors[{i}]"
        comp, kind = acc.get("componentType"), acc.get("type")
        if not _is_int(comp) or comp not in _COMPONENTS:
            raise d.fail(f"{where}.componentType", f"{comp!r} is not a glTF component type")
        if not isinstance(kind, str) or kind not in _TYPES:
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
        elif count * elem > MAX_ZERO_FILLED_BYTES:
            raise d.fail(where, f"claims {count} zero-filled elements ({count * elem} bytes, "
                         f"more than {MAX_ZERO_FILLED_BYTES})")
        if "sparse" in acc:
            _sparse(d, acc, where, count, elem, comp)


def _sparse(d: GltfDoc, acc: dict[str, Any], where: str, count: int, elem: int,
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


def _primitive(d: GltfDoc, prim: dict[str, Any], where: str, quantized: bool) -> None:
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
        acc = _vertex_accessor(d, i, here)
        counts.add(acc["count"])
        if _plain(acc):
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
        if _plain(acc) and (acc.get("byteOffset", 0) % 4 or d.doc["bufferViews"][
                acc["bufferView"]].get("byteOffset", 0) % 4):
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
    if mode in _STRIPS:
        raise d.fail(f"{where}.mode", f"{_STRIPS[mode]} (mode {mode}) cannot be loaded on a "
                     "node (panda3d-gltf aborts on it); export the model as triangles")
    n = vertices
    if "indices" in prim:
        i = d.ref(prim, "indices", "accessors", where, required=True)
        assert i is not None
        acc = d.readable(i, f"{where}.indices")
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
            acc = _vertex_accessor(d, i, f"{where}.targets[{t}].{sem}")
            if acc["count"] != vertices:
                raise d.fail(f"{where}.targets[{t}].{sem}", f"count {acc['count']} is not "
                             f"the vertex count {vertices}")


def _interleaved(d: GltfDoc, views: dict[int, list[int]], where: str) -> None:
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
        ordered = sorted(accs, key=lambda i: d.accessor(i).get("byteOffset", 0))
        if d.accessor(ordered[1]).get("byteOffset", 0) >= stride:
            continue  # not interleaved: the loader copies each attribute on its own
        pos = 0
        for i in ordered:
            acc = d.accessor(i)
            if acc.get("byteOffset", 0) != pos:
                raise d.fail(where, f"interleaved bufferViews[{view}] has gaps or overlaps "
                             "between attributes (the model loader needs them packed)")
            pos += _element(acc["componentType"], acc["type"])
        if pos != stride:
            raise d.fail(where, f"interleaved bufferViews[{view}] has byteStride {stride}, "
                         f"but its attributes fill {pos} bytes (the loader needs them equal)")


def _plain(acc: dict[str, Any]) -> bool:
    return "bufferView" in acc and "sparse" not in acc


def _vertex_accessor(d: GltfDoc, i: int, where: str) -> dict[str, Any]:
    """A vertex attribute's accessor; a sparse or zero-filled one is made dense for the
    loader (:func:`.gltf.converter_document`), so it may not be a matrix."""
    acc = d.accessor(i)
    if not _plain(acc) and acc["type"].startswith("MAT"):
        raise d.fail(where, f"accessors[{i}]: a sparse or zero-filled matrix attribute is "
                     "not supported")
    return acc


def dense(d: GltfDoc, i: int) -> np.ndarray:
    """accessors[i]'s elements with its sparse data applied: a new (count, components)
    array. Its size is bounded: by its bufferView, or by MAX_ZERO_FILLED_BYTES."""
    acc = d.accessor(i)
    dtype, ncomp = _COMPONENTS[acc["componentType"]][0], _TYPES[acc["type"]]
    out = np.array(d.values(i)) if "bufferView" in acc else np.zeros(
        (acc["count"], ncomp), dtype)
    sparse = acc.get("sparse")
    if sparse:
        ind, val, n = sparse["indices"], sparse["values"], sparse["count"]
        idx = _raw(d, ind["bufferView"], ind.get("byteOffset", 0), n,
                   _COMPONENTS[ind["componentType"]][0], 1)[:, 0]
        out[idx] = _raw(d, val["bufferView"], val.get("byteOffset", 0), n, dtype, ncomp)
    return out


def _positions(d: GltfDoc, i: int, where: str) -> None:
    acc = d.accessor(i)
    if acc["componentType"] == _FLOAT:
        data = d.values(i) if _plain(acc) else dense(d, i)
        if not bool(np.isfinite(data).all()):
            raise d.fail(where, f"accessors[{i}] holds non-finite (NaN or infinite) "
                         "positions")
    if not ("min" in acc and "max" in acc):
        raise d.fail(where, f"accessors[{i}] (POSITION) must have min and max")
    if acc["componentType"] == _FLOAT:
        lo, hi = data.min(axis=0), data.max(axis=0)
        if not (np.allclose(lo, np.asarray(acc["min"], float), rtol=1e-5, atol=1e-6)
                and np.allclose(hi, np.asarray(acc["max"], float), rtol=1e-5, atol=1e-6)):
            raise d.fail(where, f"accessors[{i}] min/max do not match its positions "
                         f"(they span {lo.tolist()} to {hi.tolist()})")


def check_meshes(d: GltfDoc) -> None:
    """Every mesh primitive: attributes, indices, mode, targets and its material's UV sets."""
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


def check_data(d: GltfDoc) -> None:
    """Buffers (their bytes into ``d.data``), bufferViews and accessors, sparse included."""
    _buffers(d)
    _views(d)
    _accessors(d)
