"""Image processing for packing: bounded decode, sRGB PNG/JPEG, thumbnail, IIIF tiles.

What a source ``prints/wave.tif`` becomes::

    prints/wave.png | prints/wave.jpg   display image: sRGB, RGB or RGBA, no metadata,
                                        longest side <= MAX_DISPLAY_SIDE
    prints/thumbs/wave.jpg              thumbnail, longest side <= THUMB_SIDE
    prints/iiif/wave/info.json          only for large images (longest side > TILE_THRESHOLD,
    prints/iiif/wave/{region}/{size}/0/default.jpg   or ``tiles = true``): a static IIIF
                                        Image API 3.0 level-0 pyramid at full resolution

The header is read first (:func:`~.checks.image_header`: Pillow opens lazily) and
checked against :data:`MAX_SOURCE_PIXELS` before a pixel is decoded; Pillow's own bomb
limit is lifted only for that one image, whose size has then been checked. PNG is written for images
with transparency and for small lossless sources; everything else becomes JPEG at
quality 90. A JPEG source that needs no change is kept as it is, minus its metadata.
A picture made while packing (a woodblock print's finished sheet) gets the same JPEG,
thumbnail and pyramid, always tiled, from :func:`picture_outputs`.

Options, per file in ``bundle.toml``::

    [assets."prints/wave.tif"]
    tiles = true          # force (or with false, prevent) the IIIF pyramid
    format = "png"        # or "jpeg": the display image's format
    max_size = 4096       # longest side of the display image
"""

from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AssetError, plain
from ._processing import Output, PackContext
from .checks import image_header, pixel_limit
from .gltf import MAX_IMAGE_PIXELS

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["IMAGE_EXTENSIONS", "JPEG_QUALITY", "MAX_DISPLAY_SIDE", "MAX_SOURCE_PIXELS",
           "MAX_TILES", "THUMB_SIDE", "TILE_SIZE", "TILE_THRESHOLD", "iiif_pyramid",
           "picture_outputs", "process", "texture"]

#: Source extensions this module handles.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp")
#: Largest source image (width x height) that is decoded at all: 16384 x 16384.
MAX_SOURCE_PIXELS = 16384 * 16384
#: Longest side of the display image (GPU texture limits; deep zoom uses the tiles).
MAX_DISPLAY_SIDE = 8192
#: Longest side of a thumbnail.
THUMB_SIDE = 512
#: IIIF tile edge in pixels.
TILE_SIZE = 512
#: Images whose longest side is above this get a tile pyramid unless ``tiles = false``.
TILE_THRESHOLD = 4096
#: Most tiles one image may produce.
MAX_TILES = 4096
#: JPEG quality of display images and tiles.
JPEG_QUALITY = 90
_THUMB_QUALITY = 85
_SIZES_MAX_SIDE = 1024      # whole-image sizes listed in info.json (and written)
_PNG_MAX_PIXELS = 4096 * 4096  # larger lossless sources become JPEG unless asked
_OPTIONS = frozenset({"tiles", "format", "max_size"})
_IIIF_CONTEXT = "http://iiif.io/api/image/3/context.json"


def _options(opts: Mapping[str, Any], name: str) -> tuple[bool | None, str | None, int]:
    unknown = sorted(set(opts) - _OPTIONS)
    if unknown:
        raise AssetError(name, f"unknown image option(s) {', '.join(unknown)} "
                         f"(known: {', '.join(sorted(_OPTIONS))})")
    tiles = opts.get("tiles")
    if tiles is not None and not isinstance(tiles, bool):
        raise AssetError(name, "tiles must be true or false")
    fmt = opts.get("format")
    if fmt not in (None, "png", "jpeg"):
        raise AssetError(name, f'format must be "png" or "jpeg", not {fmt!r}')
    side = opts.get("max_size", MAX_DISPLAY_SIDE)
    if type(side) is not int or not 64 <= side <= MAX_DISPLAY_SIDE:
        raise AssetError(name, f"max_size must be a whole number from 64 to "
                         f"{MAX_DISPLAY_SIDE}")
    return tiles, fmt, side


# --------------------------------------------------------------------------- entry point


def process(ctx: PackContext, rel: str, data: bytes) -> list[Output]:
    """Pack one image source: display image first, then thumbnail and IIIF tiles.

    Raises:
        BundleError: one line naming the source and the rule (unreadable or truncated,
            format not allowed, too many pixels, bad option).
    """
    path = PurePosixPath(rel)
    folder = "" if str(path.parent) == "." else f"{path.parent}/"
    try:
        tiles, fmt_opt, side = _options(ctx.options(rel), rel)
        fmt, w, h = image_header(data, rel, MAX_SOURCE_PIXELS)
        with pixel_limit(MAX_SOURCE_PIXELS):
            img, changed = _decode(ctx, rel, data)
            display, ext = _display(ctx, rel, data, img, fmt, changed, fmt_opt, side)
            outputs = [Output(f"{folder}{path.stem}.{ext}", display),
                       Output(f"{folder}thumbs/{path.stem}.jpg", _thumbnail(img))]
            if tiles or (tiles is None and max(w, h) > TILE_THRESHOLD):
                made = iiif_pyramid(_flatten(img), f"{folder}iiif/{path.stem}")
                outputs += made
                ctx.note(rel, f"IIIF level-0 pyramid: {len(made) - 1} files")
    except AssetError as exc:
        raise ctx.fail(rel, exc.rule) from None
    return outputs


def texture(ctx: PackContext, rel: str, data: bytes, side: int) -> tuple[bytes, str]:
    """A model's texture as the bundle carries it: PNG or JPEG (``image/png`` or
    ``image/jpeg``, returned with the bytes), sRGB, longest side at most ``side`` (a
    note says when it was made smaller); a JPEG that needs no change is kept.

    Raises:
        AssetError: unreadable, truncated or too many pixels (the rule names ``rel``).
    """
    fmt, w, h = image_header(data, rel, MAX_SOURCE_PIXELS)
    scale = side / max(w, h)
    with pixel_limit(MAX_SOURCE_PIXELS):
        # A JPEG much larger than needed is decoded at 1/2, 1/4 or 1/8 of its size by
        # the decoder itself (draft): a quarter of the memory and time per halving.
        img, changed = _decode(ctx, rel, data, draft=(math.ceil(w * scale), math.ceil(h * scale))
                               if scale < 1.0 else None)
        out, ext = _display(ctx, rel, data, img, fmt, changed or img.size != (w, h), None,
                            side, what=None)
    size = image_header(out, rel)[1:]
    if size != (w, h):
        ctx.note(rel, f"texture {w}x{h} -> {size[0]}x{size[1]} (max_texture = {side})")
    return out, "image/png" if ext == "png" else "image/jpeg"


def _decode(ctx: PackContext, rel: str, data: bytes, draft: tuple[int, int] | None = None
            ) -> tuple[PILImage.Image, bool]:
    """Decode fully (a truncated file fails here), upright, sRGB, RGB or RGBA; with
    ``draft``, a JPEG at the smallest DCT scale still at least that size. No copy of
    the pixels is made where nothing changes.

    Returns:
        The image, and whether anything but metadata changed on the way.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        # Not closed by a with block: closing would free the pixels kept as they are.
        src = Image.open(io.BytesIO(data))
        if getattr(src, "n_frames", 1) > 1:
            ctx.note(rel, f"first of {src.n_frames} frames used")
        if draft is not None and src.format == "JPEG":
            src.draft("RGB", draft)
        src.load()
        mode = src.mode
        turned = src.getexif().get(0x0112, 1) != 1  # EXIF orientation
        img = ImageOps.exif_transpose(src) if turned else src
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error,
            EOFError, Image.DecompressionBombError) as exc:
        raise AssetError(rel, f"not a readable image ({plain(exc)})") from None
    icc = img.info.get("icc_profile")
    img, converted = _to_srgb(ctx, rel, img, icc) if icc else (img, False)
    img = _to_rgb(img, rel)
    img.info = {}
    return img, turned or converted or img.mode != mode


def _to_srgb(ctx: PackContext, rel: str, img: PILImage.Image, icc: bytes
             ) -> tuple[PILImage.Image, bool]:
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in (ImageCms.getProfileDescription(profile) or "").lower():
            return img, False
        out_mode = "RGBA" if img.mode in ("RGBA", "LA") else "RGB"
        if img.mode not in ("RGB", "RGBA", "CMYK", "L"):
            img = img.convert(out_mode)
        return ImageCms.profileToProfile(img, profile, ImageCms.createProfile("sRGB"),
                                         outputMode=out_mode), True
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        ctx.note(rel, f"colour profile ignored ({exc})")
        return img, False


def _to_rgb(img: PILImage.Image, rel: str) -> PILImage.Image:
    """RGB, or RGBA where some pixel is not opaque; 16-bit and float data scaled to 8."""
    from PIL import Image

    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 1.0 if img.mode == "F" and arr.max(initial=0) <= 1.0 else (
            65535.0 if arr.max(initial=0) > 255 else 255.0)
        arr = np.clip(np.nan_to_num(arr) * (255.0 / top), 0, 255)
        img = Image.fromarray(np.round(arr).astype(np.uint8), "L")
    alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info
    try:
        if img.mode != ("RGBA" if alpha else "RGB"):
            img = img.convert("RGBA" if alpha else "RGB")
    except ValueError as exc:
        raise AssetError(rel, f"colour mode {img.mode} is not supported ({exc})") from None
    if alpha and img.getchannel("A").getextrema() == (255, 255):
        img = img.convert("RGB")
    return img


def _flatten(img: PILImage.Image) -> PILImage.Image:
    """RGB, with any transparency composited onto white (JPEG has no alpha)."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    base = Image.new("RGB", img.size, (255, 255, 255))
    base.paste(img, mask=img.getchannel("A"))
    return base


def _jpeg(img: PILImage.Image, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    _flatten(img).save(buf, "JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def _display(ctx: PackContext, rel: str, data: bytes, img: PILImage.Image, fmt: str,
             changed: bool, fmt_opt: str | None, side: int,
             what: str | None = "display image") -> tuple[bytes, str]:
    """The display image's bytes and extension (``png`` or ``jpg``); a smaller one is
    noted as ``what`` (None: not noted)."""
    from PIL import Image

    w, h = img.size
    scale = min(1.0, side / max(w, h), math.sqrt(MAX_IMAGE_PIXELS / (w * h)))
    if scale < 1.0:
        size = (max(1, math.floor(w * scale)), max(1, math.floor(h * scale)))
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if what:
            ctx.note(rel, f"{what} {w}x{h} -> {size[0]}x{size[1]}")
    lossless = fmt in ("PNG", "TIFF", "BMP") or (fmt == "WEBP" and data[12:16] == b"VP8L")
    png = fmt_opt == "png" or (fmt_opt is None and (
        img.mode == "RGBA" or (lossless and w * h <= _PNG_MAX_PIXELS)))
    if png:
        buf = io.BytesIO()
        img.save(buf, "PNG", compress_level=6)
        return buf.getvalue(), "png"
    if img.mode == "RGBA":
        ctx.note(rel, "transparency flattened onto white for JPEG")
    if fmt == "JPEG" and scale == 1.0 and not changed and img.mode == "RGB":
        stripped = _strip_jpeg(data)
        if stripped is not None:
            return stripped, "jpg"
    return _jpeg(img), "jpg"


def _strip_jpeg(data: bytes) -> bytes | None:
    """The JPEG without metadata segments (EXIF, XMP, ICC, comments), losslessly.

    JFIF (APP0) and Adobe (APP14, which says how to read the colour channels) stay;
    anything after the end-of-image marker goes. ``None`` if the markers do not parse.
    """
    if data[:2] != b"\xff\xd8":
        return None
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: entropy-coded data up to end of image
            end = data.find(b"\xff\xd9", pos + 2)
            return bytes(out + data[pos:end + 2]) if end >= 0 else None
        (length,) = struct.unpack_from(">H", data, pos + 2)
        segment = data[pos:pos + 2 + length]
        if length < 2 or len(segment) < 2 + length:
            return None
        meta = 0xE0 <= marker <= 0xEF or marker == 0xFE
        keep = (marker == 0xE0 and segment[4:9] == b"JFIF\0") or \
            (marker == 0xEE and segment[4:9] == b"Adobe")
        if not meta or keep:
            out += segment
        pos += 2 + length
    return None


def _thumbnail(img: PILImage.Image) -> bytes:
    from PIL import Image

    w, h = img.size
    scale = min(1.0, THUMB_SIDE / max(w, h))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    thumb = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0) if scale < 1 else img
    return _jpeg(thumb, _THUMB_QUALITY)


def picture_outputs(img: PILImage.Image, picture: str, thumbnail: str,
                    iiif: str) -> list[Output]:
    """A picture made while packing (not a source) as the bundle carries images.

    Args:
        img: the picture, RGB (or RGBA, flattened onto white).
        picture: its JPEG's path in the bundle (quality :data:`JPEG_QUALITY`).
        thumbnail: its thumbnail's path (longest side <= :data:`THUMB_SIDE`).
        iiif: the folder of its IIIF level-0 pyramid (always made, whatever the size).

    Returns:
        The picture, the thumbnail, then the pyramid (``info.json`` first).

    Raises:
        AssetError: the pyramid would need more than :data:`MAX_TILES` tiles.
    """
    return [Output(picture, _jpeg(img)), Output(thumbnail, _thumbnail(img)),
            *iiif_pyramid(img, iiif)]


# --------------------------------------------------------------------------- IIIF


def iiif_pyramid(img: PILImage.Image, folder: str, tile: int = TILE_SIZE) -> list[Output]:
    """A static IIIF Image API 3.0 level-0 tile pyramid of ``img`` under ``folder``.

    Paths are the canonical 3.0 requests a level-0 client makes:
    ``{x},{y},{w},{h}/{sw},{sh}/0/default.jpg`` with region ``full`` for a tile that
    is the whole image and size ``max`` for full size; ``sizes`` are written as
    ``full/{w},{h}/0/default.jpg``. The ``id`` in info.json is the folder's path in
    the bundle; whoever serves the bundle over HTTP answers for it.

    Args:
        img: the full-resolution image (transparency is flattened onto white).
        folder: the pyramid's folder inside the bundle, e.g. ``prints/iiif/wave``.
        tile: tile edge in pixels.

    Returns:
        ``info.json`` first, then the tiles, in a fixed order.

    Raises:
        AssetError: the pyramid would need more than :data:`MAX_TILES` tiles.
    """
    width, height = img.size
    factors = [1]
    while math.ceil(max(width, height) / factors[-1]) > tile:
        factors.append(factors[-1] * 2)
    count = sum(math.ceil(math.ceil(width / s) / tile) * math.ceil(math.ceil(height / s)
                                                                   / tile) for s in factors)
    if count > MAX_TILES:
        raise AssetError(folder, f"{count} IIIF tiles is more than the limit of {MAX_TILES}")
    files: dict[str, bytes] = {}
    sizes = []
    level = _flatten(img)
    for s in factors:
        if s > 1:
            level = level.reduce(2)  # rounds up, so level size == ceil(full / s)
        lw, lh = level.size
        for ty in range(0, lh, tile):
            for tx in range(0, lw, tile):
                x, y = tx * s, ty * s
                w, h = min(tile * s, width - x), min(tile * s, height - y)
                sw, sh = math.ceil(w / s), math.ceil(h / s)
                region = "full" if (w, h) == (width, height) else f"{x},{y},{w},{h}"
                size = "max" if (sw, sh) == (width, height) else f"{sw},{sh}"
                files[f"{folder}/{region}/{size}/0/default.jpg"] = _jpeg(
                    level.crop((tx, ty, tx + sw, ty + sh)))
        if s > 1 and max(lw, lh) <= _SIZES_MAX_SIDE:
            sizes.append({"width": lw, "height": lh})
            name = f"{folder}/full/{lw},{lh}/0/default.jpg"
            if name not in files:
                files[name] = _jpeg(level)
    info = {
        "@context": _IIIF_CONTEXT,
        "id": folder,
        "type": "ImageService3",
        "protocol": "http://iiif.io/api/image",
        "profile": "level0",
        "width": width,
        "height": height,
        "sizes": sorted(sizes, key=lambda d: d["width"]),
        "tiles": [{"width": tile, "height": tile, "scaleFactors": factors}],
    }
    text = (json.dumps(info, indent=1) + "\n").encode()
    return [Output(f"{folder}/info.json", text)] + [Output(k, v) for k, v in files.items()]
