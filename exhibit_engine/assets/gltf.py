"""glTF / GLB checks that run before any loader sees a byte, proving the model will load.

The container (:func:`split_glb`), URIs, compression extensions and required
extensions are checked here; the glTF 2.0 structure rules (accessors, buffers, the node
graph, cameras, materials) in :mod:`._gltf_struct` and :mod:`._gltf_scene`, with numpy
views over the binary.
Pillow (imported lazily) reads image headers. Used by bundle validation, by packing and
by the scene loader, so a hostile or broken model is refused the same way on a curator's
laptop and on a projector PC. :func:`converter_document` is what the loader converts.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
import warnings
from collections.abc import Iterator
from typing import Any

from ..errors import AssetError, plain
from ._gltf_scene import check_structure
from ._gltf_struct import GltfDoc, check_data, dense
from ._json import strict_loads

__all__ = ["MAX_IMAGE_PIXELS", "NORMALISE_NODE", "SUPPORTED_REQUIRED_EXTENSIONS", "check_gltf",
           "check_image", "converter_document", "join_glb", "split_glb"]

#: The root node pack adds to a glTF source for its units/up options (the heritage
#: scene finds it again to pose animated models).
NORMALISE_NODE = "exhibit-normalise"

#: Largest image (width x height) a bundle may carry, embedded in a model or on its own.
MAX_IMAGE_PIXELS = 8192 * 8192

#: Extensions a model may list in ``extensionsRequired``: the loader and our shaders
#: handle these (texture transform, emissive strength, IOR), or we safely drop them
#: (lights: a scene never uses a model's own lights, see :func:`converter_document`).
SUPPORTED_REQUIRED_EXTENSIONS = frozenset({
    "KHR_lights_punctual",
    "KHR_materials_emissive_strength",
    "KHR_materials_ior",
    "KHR_texture_transform",
})
_DRACO = "KHR_draco_mesh_compression"
_MESHOPT = ("EXT_meshopt_compression", "KHR_meshopt_compression")
_BASISU = "KHR_texture_basisu"
_LIGHTS = ("KHR_lights_punctual", "KHR_lights")


def _walk_uris(value: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            here = f"{where}.{k}" if where else str(k)
            if k == "uri":
                yield here, v
            yield from _walk_uris(v, here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_uris(v, f"{where}[{i}]")


def split_glb(data: bytes, name: str) -> tuple[dict[str, Any], bytes | None]:
    """Parse the GLB container (header, JSON chunk, optional BIN chunk).

    Raises:
        AssetError: not a GLB 2.0 file, or its chunks are malformed.
    """
    if len(data) < 20 or data[:4] != b"glTF":
        raise AssetError(name, "not a GLB file (binary glTF 2.0 expected)")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise AssetError(name, f"GLB version {version} is not supported (2 expected)")
    if length != len(data):
        raise AssetError(name, f"GLB header claims {length} bytes, file has {len(data)}")
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos < len(data):
        if pos + 8 > len(data):
            raise AssetError(name, "truncated GLB chunk header")
        size, ctype = struct.unpack_from("<I4s", data, pos)
        if pos + 8 + size > len(data):
            raise AssetError(name, "GLB chunk runs past the end of the file")
        if size % 4:
            raise AssetError(name, f"GLB chunk length {size} is not a multiple of 4")
        chunks.append((ctype, data[pos + 8:pos + 8 + size]))
        pos += 8 + size
    if not chunks or chunks[0][0] != b"JSON":
        raise AssetError(name, "GLB must start with a JSON chunk")
    kinds = [c[0] for c in chunks]
    if kinds.count(b"JSON") > 1 or kinds.count(b"BIN\0") > 1 or (
            b"BIN\0" in kinds and kinds.index(b"BIN\0") != 1):
        raise AssetError(name, "a GLB has one JSON chunk and at most one BIN chunk, "
                         "right after it")
    try:
        doc = strict_loads(chunks[0][1].decode("utf-8"),
                           lambda rule: AssetError(name, f"GLB JSON chunk: {rule}"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AssetError(name, f"GLB JSON chunk is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise AssetError(name, "GLB JSON chunk is not an object")
    binary = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == b"BIN\0" else None
    return doc, binary


def join_glb(doc: dict[str, Any], binary: bytes | None) -> bytes:
    """A GLB container (the inverse of :func:`split_glb`): the JSON chunk padded with
    spaces, the BIN chunk with zeros."""
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text
    if binary is not None:
        padded = binary + b"\0" * (-len(binary) % 4)
        body += struct.pack("<I4s", len(padded), b"BIN\0") + padded
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def check_image(name: str, where: str, blob: bytes) -> None:
    """Refuse an image Panda3D would trust blindly (it allocates what the header claims).

    Only the header is decoded before the size check; then Pillow verifies the file.

    Raises:
        AssetError: not PNG/JPEG, larger than :data:`MAX_IMAGE_PIXELS`, or unreadable.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow's own bomb guard is a global setting; our limit, below, is stricter.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(blob))
    except Image.DecompressionBombError:
        raise AssetError(name, f"{where}: image header claims more than "
                         f"{MAX_IMAGE_PIXELS} pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise AssetError(name, f"{where}: not a readable image ({plain(exc)})") from None
    try:
        with img:
            w, h = img.size
            fmt = img.format
            if fmt not in ("PNG", "JPEG"):
                raise AssetError(name, f"{where}: image format {fmt} is not allowed (PNG, JPEG)")
            if w * h > MAX_IMAGE_PIXELS:
                raise AssetError(name, f"{where}: image of {w}x{h} pixels is too large")
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, AssetError):
            raise
        raise AssetError(name, f"{where}: not a readable image ({plain(exc)})") from None


def _compression(doc: dict[str, Any], name: str) -> None:
    """Refuse compressed meshes and GPU textures wherever they appear, declared or not."""
    used = doc.get("extensionsUsed", [])
    if not isinstance(used, list) or not all(isinstance(e, str) for e in used):
        raise AssetError(name, "extensionsUsed must be a list of names")

    def has(obj: Any, ext: str) -> bool:
        return isinstance(obj, dict) and isinstance(obj.get("extensions"), dict) and (
            ext in obj["extensions"])

    def items(key: str) -> list[Any]:
        value = doc.get(key, [])
        return value if isinstance(value, list) else []

    for m, mesh in enumerate(items("meshes")):
        prims = mesh.get("primitives", []) if isinstance(mesh, dict) else []
        for p, prim in enumerate(prims if isinstance(prims, list) else []):
            if has(prim, _DRACO):
                raise AssetError(name, f"meshes[{m}].primitives[{p}]: Draco-compressed mesh "
                                 f"({_DRACO}) is not supported; export the model without "
                                 "Draco compression")
    for i, view in enumerate(items("bufferViews")):
        for ext in _MESHOPT:
            if has(view, ext):
                raise AssetError(name, f"bufferViews[{i}]: meshopt-compressed data ({ext}) "
                                 "is not supported; export the model without meshopt "
                                 "compression")
    images = items("images")
    for t, tex in enumerate(items("textures")):
        src = tex.get("source") if isinstance(tex, dict) else None
        img = images[src] if type(src) is int and 0 <= src < len(images) else {}
        ktx = isinstance(img, dict) and (img.get("mimeType") == "image/ktx2" or str(
            img.get("uri", "")).startswith("data:image/ktx2"))
        if has(tex, _BASISU) or ktx:
            raise AssetError(name, f"textures[{t}]: KTX2/BasisU texture ({_BASISU}) is not "
                             "supported; convert it to PNG or JPEG")


def check_gltf(doc: dict[str, Any], binary: bytes | None, name: str) -> None:
    """Check a parsed glTF document before any converter sees it: that it will load.

    Every ``uri`` anywhere must be a ``data:`` URI (nothing outside the file is ever
    read); Draco, meshopt and KTX2/BasisU data are refused wherever they appear; every
    extension the file *requires* must be one we support; the document must follow the
    glTF 2.0 structure rules (every index, range, accessor and buffer, the node graph,
    cameras and materials: :mod:`._gltf_struct`, :mod:`._gltf_scene`); and every embedded image must pass
    :func:`check_image`.

    Raises:
        AssetError: naming the file, the offending field and the rule.
    """
    required = doc.get("extensionsRequired", [])
    if not isinstance(required, list) or not all(isinstance(e, str) for e in required):
        raise AssetError(name, "extensionsRequired must be a list of names")
    for where, uri in _walk_uris(doc):
        if not isinstance(uri, str) or not uri.startswith("data:"):
            raise AssetError(name, f"{where}: external URI {str(uri)[:80]!r} is not allowed "
                             "(GLB assets must embed their buffers and images)")
    _compression(doc, name)
    unknown = sorted(set(required) - SUPPORTED_REQUIRED_EXTENSIONS)
    if unknown:
        raise AssetError(name, f"requires unsupported glTF extension(s): {', '.join(unknown)}")
    used = doc.get("extensionsUsed", [])
    for ext in (_DRACO, *_MESHOPT, _BASISU):
        if ext in used:
            raise AssetError(name, f"declares {ext} in extensionsUsed, which is not "
                             "supported; export the model without it")
    data = check_structure(doc, binary, name)
    views = doc.get("bufferViews", [])
    for i, img in enumerate(doc.get("images", [])):
        if "uri" in img:
            try:
                blob = base64.b64decode(img["uri"].split(",", 1)[1], validate=True)
            except (IndexError, binascii.Error):
                raise AssetError(name, f"images[{i}].uri: bad data URI") from None
        else:
            v = views[img["bufferView"]]
            start = int(v.get("byteOffset", 0))
            blob = data[v["buffer"]][start:start + int(v["byteLength"])]
        check_image(name, f"images[{i}]", blob)
        fmt = "PNG" if blob[:4] == b"\x89PNG" else "JPEG"
        mime = img.get("mimeType") or img["uri"][5:].split(";", 1)[0]
        if mime != f"image/{fmt.lower()}":
            raise AssetError(name, f"images[{i}]: {mime} declared, but the data is {fmt}")


def converter_document(doc: dict[str, Any], binary: bytes | None = None) -> dict[str, Any]:
    """The checked document as the loader should see it: without the model's own
    cameras and lights, and with the defaults panda3d-gltf does not fill in itself.

    A scene never uses a model's cameras or lights, and panda3d-gltf trips over valid
    ones (a perspective camera without ``zfar`` raises ``KeyError``; a model's light
    would light the whole gallery). A glTF scene without ``nodes`` (valid: an empty
    scene) gets ``[]``. panda3d-gltf ignores sparse data and needs a bufferView, so a
    sparse or zero-filled vertex accessor is made dense, in a data: URI buffer of its
    own (``binary`` is the GLB's BIN chunk). Pure: ``doc`` is not changed.

    ``doc`` must have passed :func:`check_gltf`.
    """
    out = {k: v for k, v in doc.items() if k != "cameras"}
    ext = doc.get("extensions")
    if isinstance(ext, dict):
        out["extensions"] = {k: v for k, v in ext.items() if k not in _LIGHTS}
    nodes = []
    for node in doc.get("nodes", []):
        node = {k: v for k, v in node.items() if k != "camera"}
        if isinstance(node.get("extensions"), dict):
            node["extensions"] = {k: v for k, v in node["extensions"].items()
                                  if k not in _LIGHTS}
        nodes.append(node)
    if "nodes" in doc:
        out["nodes"] = nodes
    out["scenes"] = [{"nodes": [], **scene} for scene in doc.get("scenes", [])]
    _rebase_unindexed(out)
    _densify(out, binary)
    return out


def _densify(out: dict[str, Any], binary: bytes | None) -> None:
    """Make every sparse or zero-filled vertex accessor plain (see converter_document)."""
    accessors = list(out.get("accessors", []))
    used = {i for mesh in out.get("meshes", []) for prim in mesh["primitives"]
            for attrs in (prim["attributes"], *prim.get("targets", [])) for i in attrs.values()}
    todo = sorted(i for i in used if "sparse" in accessors[i] or "bufferView" not in
                  accessors[i])
    if not todo:
        return
    d = GltfDoc(out, binary, "")
    check_data(d)
    buffers, views = list(out.get("buffers", [])), list(out.get("bufferViews", []))
    for i in todo:
        blob = dense(d, i).tobytes()
        buffers.append({"byteLength": len(blob), "uri": "data:application/octet-stream;"
                        "base64," + base64.b64encode(blob).decode("ascii")})
        views.append({"buffer": len(buffers) - 1, "byteLength": len(blob)})
        accessors[i] = {k: v for k, v in accessors[i].items()
                        if k not in ("sparse", "byteOffset")} | {"bufferView": len(views) - 1}
    out.update(accessors=accessors, buffers=buffers, bufferViews=views)


def _rebase_unindexed(out: dict[str, Any]) -> None:
    """Give a non-indexed primitive's POSITION accessor a bufferView of its own, offset 0.

    panda3d-gltf starts a non-indexed primitive at vertex number ``byteOffset`` of its
    POSITION accessor (a byte count), which fails Panda3D's own check whenever the
    offset is not 0. The new accessor reads the very same bytes.
    """
    accessors, views = list(out.get("accessors", [])), list(out.get("bufferViews", []))
    meshes = []
    for mesh in out.get("meshes", []):
        prims = []
        for prim in mesh["primitives"]:
            i = prim["attributes"]["POSITION"]
            off = accessors[i].get("byteOffset", 0)
            if "indices" not in prim and off:
                view = views[accessors[i]["bufferView"]]
                views.append({**view, "byteOffset": view.get("byteOffset", 0) + off,
                              "byteLength": view["byteLength"] - off})
                accessors.append({**accessors[i], "bufferView": len(views) - 1,
                                  "byteOffset": 0})
                prim = {**prim, "attributes": {**prim["attributes"],
                                               "POSITION": len(accessors) - 1}}
            prims.append(prim)
        meshes.append({**mesh, "primitives": prims})
    if "meshes" in out:
        out.update(meshes=meshes, accessors=accessors, bufferViews=views)
