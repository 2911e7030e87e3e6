"""Content checks: every file of a bundle is checked by media type before any loader.

Each check takes a file's (name, bytes) and knows nothing of bundles: structure, sizes
and hashes are :mod:`.bundle`'s job, and :meth:`.bundle.Bundle.iter_verified` runs the
check of :data:`CHECKS` for each file's extension. This module looks inside the files
whose readers would otherwise trust them::

    .glb                   GLB container, every URI a data: URI, no Draco, meshopt or
                           KTX2, only supported required extensions, the glTF 2.0
                           structure rules (every accessor and buffer range, index
                           values, the node graph, cameras, materials), embedded
                           images bounded (split_glb, check_gltf): it will load
    .gltf                  the same, for a JSON glTF with everything embedded
    .png .jpg .jpeg        header read first: PNG or JPEG only, the format the name
    .webp .tif .tiff .bmp  says, at most MAX_IMAGE_PIXELS; then Pillow verifies the file
    .json                  UTF-8, at most MAX_JSON_BYTES, no duplicate keys, no NaN,
                           bounded nesting; an IIIF info.json also has sane dimensions
    .dae .3mf .fbx .obj    refused: model sources no scene loads (pack converts the
    .ply .stl ...          ones it reads to GLB)

A check raises :class:`~exhibit_engine.errors.AssetError` naming the file and the rule;
the bundle turns it into one :class:`~exhibit_engine.errors.BundleError` naming the
bundle, the entry and the rule.

The image header reader (:func:`image_header`) and the guard on Pillow's global bomb
limit (:func:`pixel_limit`) live here too, for the packing processors and the scene
loaders that read images. Pillow is imported only when an image is read.
"""

from __future__ import annotations

import contextlib
import io
import struct
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from ..errors import AssetError, plain
from ._json import strict_loads
from .gltf import MAX_IMAGE_PIXELS, check_gltf, split_glb

__all__ = ["BUNDLE_IMAGE_FORMATS", "CHECKS", "MAX_JSON_BYTES", "SOURCE_FORMATS",
           "check_entry", "image_header", "pixel_limit"]

#: Largest JSON file a bundle may carry.
MAX_JSON_BYTES = 4 << 20
#: Image formats a bundle may carry (what packing writes; what Panda3D reads safely).
BUNDLE_IMAGE_FORMATS = frozenset({"PNG", "JPEG"})
#: Pillow formats accepted as sources (MPO is how Pillow names many camera JPEGs):
#: what :func:`image_header` allows unless told otherwise.
SOURCE_FORMATS = frozenset({"PNG", "JPEG", "MPO", "TIFF", "WEBP", "BMP"})
_MAX_JSON_DEPTH = 32
_NAME_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
_IIIF_MAX_SIDE = 1 << 20


@contextlib.contextmanager
def pixel_limit(limit: int | None) -> Iterator[None]:
    """Pillow's decompression-bomb limit set to ``limit`` (pixels) for a while, then restored.

    Pillow keeps the limit in a module global. ``None`` (no limit) is used only while
    a header is read, which allocates nothing; decoding runs under the limit the
    header was checked against. Packing and validation are single-threaded.
    """
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def image_header(data: bytes, name: str, limit: int = MAX_IMAGE_PIXELS,
                 formats: frozenset[str] = SOURCE_FORMATS, *, verify: bool = False
                 ) -> tuple[str, int, int]:
    """Format and size from an image's header, without decoding a pixel.

    Args:
        data: the file's bytes.
        name: the name errors carry.
        limit: most pixels (width x height) allowed.
        formats: Pillow format names allowed.
        verify: once the header has passed, let Pillow check the file's structure
            (chunk checksums for PNG) without decoding it.

    Raises:
        AssetError: unreadable, a format outside ``formats``, or more than ``limit``
            pixels.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with pixel_limit(None):  # the header only; its size is checked below
            img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error,
            EOFError) as exc:
        raise AssetError(name, f"not a readable image ({plain(exc)})") from None
    with img:
        fmt, (w, h) = str(img.format), img.size
    if fmt not in formats:
        raise AssetError(name, f"image format {fmt} is not allowed "
                         f"({', '.join(sorted(formats))})")
    if w <= 0 or h <= 0 or w * h > limit:
        raise AssetError(name, f"image of {w}x{h} pixels is too large (limit {limit} "
                         "pixels)")
    if verify:
        try:
            with pixel_limit(limit), Image.open(io.BytesIO(data)) as img:
                img.verify()
        except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
            raise AssetError(name, f"damaged {fmt} image ({plain(exc)})") from None
    return fmt, w, h


def _guarded_gltf(doc: dict[str, Any], binary: bytes | None, name: str) -> None:
    """:func:`check_gltf` with Pillow's global bomb limit lifted while it runs.

    check_gltf compares every embedded image's header with MAX_IMAGE_PIXELS itself
    before anything is decoded; Pillow's own limit would otherwise pre-empt that rule
    with its exception (or, just above its limit, only a warning).
    """
    with pixel_limit(None):
        check_gltf(doc, binary, name)


def _check_glb(name: str, data: bytes) -> None:
    doc, binary = split_glb(data, name)
    _guarded_gltf(doc, binary, name)


def _check_gltf_json(name: str, data: bytes) -> None:
    doc = _parse_json(name, data)
    if not isinstance(doc, dict):
        raise AssetError(name, "glTF JSON is not an object")
    _guarded_gltf(doc, None, name)


def _check_image(name: str, data: bytes) -> None:
    # The header alone first: Pillow's global limit is not ours, and a huge header
    # must fail as a rule, not as Pillow's bomb error or warning.
    fmt, _, _ = image_header(data, name, MAX_IMAGE_PIXELS, BUNDLE_IMAGE_FORMATS,
                             verify=True)
    expected = _NAME_FORMATS.get(PurePosixPath(name).suffix.lower())
    if expected is not None and fmt != expected:
        raise AssetError(name, f"content is {fmt}, but the name says {expected}")


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (a hostile file must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level <= _MAX_JSON_DEPTH:
            children = item.values() if isinstance(item, dict) else (
                item if isinstance(item, list) else ())
            stack.extend((child, level + 1) for child in children)
    return deepest


def _parse_json(name: str, data: bytes) -> Any:
    if len(data) > MAX_JSON_BYTES:
        raise AssetError(name, f"JSON larger than {MAX_JSON_BYTES} bytes")
    try:
        doc = strict_loads(data.decode("utf-8"))
    except RecursionError:
        raise AssetError(name, "JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise AssetError(name, f"not valid JSON ({exc})") from None
    if _depth(doc) > _MAX_JSON_DEPTH:
        raise AssetError(name, f"JSON nested deeper than {_MAX_JSON_DEPTH} levels")
    return doc


def _check_json(name: str, data: bytes) -> None:
    doc = _parse_json(name, data)
    context = doc.get("@context") if isinstance(doc, dict) else None
    if isinstance(context, str) and "iiif.io/api/image" in context:
        _check_iiif_info(name, doc)


def _positive(value: Any, limit: int) -> bool:
    return type(value) is int and 0 < value <= limit


def _check_iiif_info(name: str, doc: Mapping[str, Any]) -> None:
    """The parts of an IIIF info.json a tile viewer sizes its work by."""
    if not (_positive(doc.get("width"), _IIIF_MAX_SIDE)
            and _positive(doc.get("height"), _IIIF_MAX_SIDE)):
        raise AssetError(name, f"IIIF width and height must be whole numbers from 1 to "
                         f"{_IIIF_MAX_SIDE}")
    tiles = doc.get("tiles", [])
    if not isinstance(tiles, list) or len(tiles) > 16:
        raise AssetError(name, "IIIF tiles must be a short list")
    for i, t in enumerate(tiles):
        factors = t.get("scaleFactors") if isinstance(t, dict) else None
        if (not isinstance(t, dict) or not _positive(t.get("width"), 8192)
                or not isinstance(factors, list) or not 0 < len(factors) <= 32
                or not all(_positive(f, _IIIF_MAX_SIDE) for f in factors)):
            raise AssetError(name, f"IIIF tiles[{i}] needs a width and scaleFactors")
    sizes = doc.get("sizes", [])
    if not isinstance(sizes, list) or not all(
            isinstance(s, dict) and _positive(s.get("width"), _IIIF_MAX_SIDE)
            and _positive(s.get("height"), _IIIF_MAX_SIDE) for s in sizes):
        raise AssetError(name, "IIIF sizes must be a list of width/height pairs")


#: Model formats no scene loads from a bundle (pack converts the sources it reads to GLB).
_MODEL_SOURCES = {".3ds": "3DS", ".3mf": "3MF", ".blend": "Blender", ".dae": "COLLADA",
                  ".fbx": "FBX", ".obj": "OBJ", ".ply": "PLY", ".stl": "STL", ".usd": "USD",
                  ".usda": "USD", ".usdc": "USD", ".usdz": "USDZ"}


def _check_model_source(name: str, data: bytes) -> None:
    kind = _MODEL_SOURCES[PurePosixPath(name).suffix.lower()]
    raise AssetError(name, f"a {kind} model cannot be shown from a bundle: scenes load GLB "
                     "models only (pack converts glTF, OBJ, PLY and STL sources to GLB)")


#: The content check for each lower-case extension; other files get none here.
CHECKS: Mapping[str, Callable[[str, bytes], None]] = {
    **{ext: _check_model_source for ext in sorted(_MODEL_SOURCES)},
    ".glb": _check_glb,
    ".gltf": _check_gltf_json,
    ".png": _check_image,
    ".jpg": _check_image,
    ".jpeg": _check_image,
    ".webp": _check_image,
    ".tif": _check_image,
    ".tiff": _check_image,
    ".bmp": _check_image,
    ".json": _check_json,
}


def check_entry(name: str, data: bytes) -> None:
    """Run the content check for one file's bytes (by its name's extension).

    Raises:
        AssetError: naming the file and the rule.
    """
    check = CHECKS.get(PurePosixPath(name).suffix.lower())
    if check is not None:
        check(name, data)
