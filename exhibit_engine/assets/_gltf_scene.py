"""The glTF 2.0 scene rules that :func:`.gltf.check_gltf` runs before any loader.

The node graph (one parent each, no cycles, scenes of root nodes), skins, animations,
cameras, materials, textures, samplers and images, checked against the glTF 2.0
specification; :func:`check_structure` runs these and :mod:`._gltf_struct`'s data
rules in the order each relies on.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import AssetError
from ._gltf_struct import GltfDoc, check_data, check_meshes

__all__ = ["check_structure"]

_FLOAT = 5126
_ALPHA_MODES = ("OPAQUE", "MASK", "BLEND")
_MAG_FILTERS = (9728, 9729)
_MIN_FILTERS = (9728, 9729, 9984, 9985, 9986, 9987)
_WRAPS = (33071, 33648, 10497)
_PATHS = ("translation", "rotation", "scale", "weights")
#: Largest node transform value (the loader's matrices are float32; 1e9 m is past any
#: survey coordinate).
_MAX_COORD = 1e9
_LISTS = ("accessors", "animations", "buffers", "bufferViews", "cameras", "images",
          "materials", "meshes", "nodes", "samplers", "scenes", "skins", "textures")


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_num(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _nodes(d: GltfDoc) -> None:
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
            d.numbers(node, field, where, size, -_MAX_COORD, _MAX_COORD)
        matrix = node.get("matrix")
        if matrix is not None and (matrix[3] or matrix[7] or matrix[11] or matrix[15] != 1):
            raise d.fail(f"{where}.matrix", "must be an affine transform (its last row "
                         "0, 0, 0, 1)")
        if "rotation" in node and abs(math.hypot(*node["rotation"]) - 1) > 0.01:
            raise d.fail(f"{where}.rotation", "must be a unit quaternion")
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


def _skins(d: GltfDoc) -> None:
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
            acc = d.readable(i, f"{where}.inverseBindMatrices")
            if acc["type"] != "MAT4" or acc["componentType"] != _FLOAT:
                raise d.fail(f"{where}.inverseBindMatrices", f"accessors[{i}] must be "
                             "MAT4 of float")
            if acc["count"] < len(joints):
                raise d.fail(f"{where}.inverseBindMatrices", f"accessors[{i}] has "
                             f"{acc['count']} matrices for {len(joints)} joints")
            mats = d.values(i).reshape(-1, 4, 4)  # column-major: [k, column, row]
            if not bool(np.isfinite(mats).all()) or bool(
                    np.any(mats[:, :, 3] != np.array([0, 0, 0, 1], np.float32))):
                raise d.fail(f"{where}.inverseBindMatrices", f"accessors[{i}] holds a "
                             "matrix that is not a finite affine transform")
            if bool(np.any(np.abs(np.linalg.det(mats[:, :3, :3].astype(np.float64)))
                           < 1e-12)):
                raise d.fail(f"{where}.inverseBindMatrices", f"accessors[{i}] holds a "
                             "singular matrix")


def _animations(d: GltfDoc) -> None:
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
            times = d.readable(smp["input"], f"{here}.input")
            values = d.readable(smp["output"], f"{here}.output")
            if times["type"] != "SCALAR" or times["componentType"] != _FLOAT:
                raise d.fail(f"{here}.input", "must be a SCALAR float accessor")
            t = d.values(smp["input"])[:, 0]
            if not bool(np.isfinite(t).all()) or bool(np.any(t[1:] <= t[:-1])) or t[0] < 0:
                raise d.fail(f"{here}.input", "key times must be finite, >= 0 and strictly "
                             "increasing")
            per_key = 3 if smp.get("interpolation") == "CUBICSPLINE" else 1
            if values["count"] % (per_key * times["count"]):
                raise d.fail(f"{here}.output", f"{values['count']} values do not fit "
                             f"{times['count']} key times")
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


def _cameras(d: GltfDoc) -> None:
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


def _texture_info(d: GltfDoc, obj: dict[str, Any], field: str, where: str) -> None:
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


def _materials(d: GltfDoc) -> None:
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


def _textures(d: GltfDoc) -> None:
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
            v = d.ref(img, "bufferView", "bufferViews", where)
            if v is not None and "byteStride" in d.doc["bufferViews"][v]:
                raise d.fail(where, f"bufferViews[{v}] of an image must not have a "
                             "byteStride")
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
    d = GltfDoc(doc, binary, name)
    for key in _LISTS:
        for i, item in enumerate(d.items(key)):
            if not isinstance(item.get("name", ""), str):
                raise d.fail(f"{key}[{i}].name", "must be a string")
    asset = doc.get("asset")
    if not isinstance(asset, dict) or not str(asset.get("version", "")).startswith("2."):
        raise AssetError(name, "asset.version must be \"2.0\" (glTF 2)")
    check_data(d)
    _textures(d)
    _materials(d)
    check_meshes(d)
    _nodes(d)
    _skins(d)
    _animations(d)
    _cameras(d)
    return d.data
