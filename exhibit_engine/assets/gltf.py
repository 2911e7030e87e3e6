"""glTF / GLB checks that run before any loader sees a byte.

Stdlib only, plus Pillow (imported lazily) to read image headers. Used by bundle
validation and by the scene loader, so a hostile model is refused the same way on a
curator's laptop and on a projector PC.
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

from ..errors import AssetError

__all__ = ["MAX_IMAGE_PIXELS", "SUPPORTED_REQUIRED_EXTENSIONS", "check_gltf", "check_image",
           "split_glb"]

#: Largest image (width x height) a bundle may carry, embedded in a model or on its own.
MAX_IMAGE_PIXELS = 8192 * 8192

#: Extensions a model may list in ``extensionsRequired`` (panda3d-gltf handles these).
SUPPORTED_REQUIRED_EXTENSIONS = frozenset({
    "KHR_lights_punctual",
    "KHR_materials_ior",
    "KHR_texture_transform",
})


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
        chunks.append((ctype, data[pos + 8:pos + 8 + size]))
        pos += 8 + size
    if not chunks or chunks[0][0] != b"JSON":
        raise AssetError(name, "GLB must start with a JSON chunk")
    try:
        doc = json.loads(chunks[0][1].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AssetError(name, f"GLB JSON chunk is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise AssetError(name, "GLB JSON chunk is not an object")
    binary = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == b"BIN\0" else None
    return doc, binary


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
        raise AssetError(name, f"{where}: not a readable image ({exc})") from None
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
        raise AssetError(name, f"{where}: not a readable image ({exc})") from None


def check_gltf(doc: dict[str, Any], binary: bytes | None, name: str) -> None:
    """Check a parsed glTF document before any converter sees it.

    Every ``uri`` anywhere must be a ``data:`` URI (nothing outside the file is ever
    read), every embedded image must pass :func:`check_image`, and every extension the
    file *requires* must be one we support.

    Raises:
        AssetError: naming the file, the offending field and the rule.
    """
    required = doc.get("extensionsRequired", [])
    if not isinstance(required, list) or not all(isinstance(e, str) for e in required):
        raise AssetError(name, "extensionsRequired must be a list of names")
    unknown = sorted(set(required) - SUPPORTED_REQUIRED_EXTENSIONS)
    if unknown:
        raise AssetError(name, f"requires unsupported glTF extension(s): {', '.join(unknown)}")
    for where, uri in _walk_uris(doc):
        if not isinstance(uri, str) or not uri.startswith("data:"):
            raise AssetError(name, f"{where}: external URI {str(uri)[:80]!r} is not allowed "
                             "(GLB assets must embed their buffers and images)")
    buffers = doc.get("buffers", [])
    views = doc.get("bufferViews", [])
    images = doc.get("images", [])
    if not all(isinstance(x, list) for x in (buffers, views, images)):
        raise AssetError(name, "buffers, bufferViews and images must be lists")
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            raise AssetError(name, f"images[{i}] is not an object")
        if "uri" in img:
            try:
                blob = base64.b64decode(img["uri"].split(",", 1)[1], validate=True)
            except (IndexError, binascii.Error):
                raise AssetError(name, f"images[{i}].uri: bad data URI") from None
        else:
            view = img.get("bufferView")
            if not isinstance(view, int) or not 0 <= view < len(views) or binary is None:
                raise AssetError(name, f"images[{i}]: no embedded data")
            v = views[view]
            start = int(v.get("byteOffset", 0))
            blob = binary[start:start + int(v.get("byteLength", 0))]
        check_image(name, f"images[{i}]", blob)
