"""Pack a painting as a multi-block woodblock print: ``processor = "woodblock"``.

A curator who has a colour image rather than carved layers asks the packer to cut the
blocks::

    [assets."prints/wave.png"]
    processor = "woodblock"
    inks = 5                       # or: palette = ["#2b3a67", "#c8442f", ...]
    paper = "#f2ebda"              # optional; else the lightest colour of the image
    seed = 3                       # the carver's and printer's hand, reproducibly
    max_side = 1024                # mask resolution (pixels, long side)

The image is separated into inks (:func:`~.woodblock.separate`, lightest first, key block
last), each block is carved, thinned where dry and misregistered a pixel or two, and the
packer writes ``prints/wave/blocks.json`` (the primary output, which scene assets then
name), ``prints/wave/block-N.png`` masks and ``prints/wave/paper.png`` grain. Layered
sources (a ``*blocks.json`` with masks made elsewhere, as the sample bundle has) are
packed as they are (:func:`process_layered`); their masks are packed as images.

Either way, the finished print is drawn too, for the kiosk's carousel and its zoom
(``<item>`` is the blocks.json ``item``; :func:`print_images` names these paths)::

    prints/<item>/print.jpg           the finished print at the masks' resolution, sRGB
                                      JPEG: paper, grain and every block's ink in
                                      printing order, as the prints scene shows it
                                      finished (:func:`~.woodblock.printed_sheet`, in
                                      integer arithmetic: the same bytes on every CPU)
    prints/<item>/thumbs/print.jpg    its thumbnail, longest side <= image.THUMB_SIDE
    prints/<item>/iiif/info.json      a static IIIF Image API 3.0 level-0 pyramid of it
    prints/<item>/iiif/{region}/{size}/0/default.jpg      (image.iiif_pyramid), always
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from . import image
from . import woodblock as wb
from ._json import strict_loads
from ._processing import Output, PackContext
from .checks import image_header, pixel_limit
from .gltf import MAX_IMAGE_PIXELS
from .manifest import check_entry_name

__all__ = ["LAYERED_BLOCKS", "MAX_LAYERED_BLOCKS", "OPTIONS", "PrintImages",
           "derive_blocks", "layered_texts", "print_images", "process", "process_layered"]

#: Options a woodblock source may set in ``[assets."<file>"]``.
OPTIONS = frozenset({"processor", "inks", "palette", "paper", "seed", "max_side"})
#: A JSON source whose name ends so is a layered print (the prints scene's rule).
LAYERED_BLOCKS = "blocks.json"
#: Most blocks a layered print may have (the prints scene draws at most eight).
MAX_LAYERED_BLOCKS = 8
_MAX_SOURCE_PIXELS = 8192 * 8192
_MAX_LAYERED_JSON = 1 << 20


@dataclass(frozen=True)
class PrintImages:
    """Where a packed print's finished picture lies in its bundle.

    Attributes:
        picture: the finished print at the masks' resolution (JPEG).
        thumbnail: its thumbnail (JPEG, longest side <= ``image.THUMB_SIDE``).
        iiif_info: the ``info.json`` of its IIIF level-0 pyramid.
    """

    picture: str
    thumbnail: str
    iiif_info: str

    @property
    def iiif(self) -> str:
        """The pyramid's folder (its ``info.json`` ``id``)."""
        return self.iiif_info.removesuffix("/info.json")


def print_images(item: str) -> PrintImages:
    """The bundle paths of the finished picture of the print ``item`` (its blocks.json
    ``item``), its thumbnail and its IIIF pyramid: the one place the convention lives."""
    return PrintImages(picture=f"prints/{item}/print.jpg",
                       thumbnail=f"prints/{item}/thumbs/print.jpg",
                       iiif_info=f"prints/{item}/iiif/info.json")


def _finished(item: str, paper: wb.RGB, inks: list[wb.RGB], masks: list[np.ndarray],
              grain: np.ndarray | None) -> list[Output]:
    """The finished print's picture, thumbnail and IIIF pyramid, from decoded masks."""
    from PIL import Image

    where = print_images(item)
    sheet = Image.fromarray(wb.printed_sheet(paper, inks, masks, grain))
    return image.picture_outputs(sheet, where.picture, where.thumbnail, where.iiif)


def derive_blocks(image: np.ndarray, *, inks: int | None = None,
                  palette: list[tuple[int, int, int]] | None = None,
                  paper: tuple[int, int, int] | None = None, seed: int = 0
                  ) -> tuple[wb.RGB, list[wb.RGB], list[np.ndarray]]:
    """Cut an sRGB image (uint8 (h, w, 3)) into (paper, inks light -> dark, uint8 masks)."""
    sep = wb.separate(image, palette=palette, n_inks=inks, paper=paper, seed=seed)
    rng = np.random.default_rng([seed, 0xB10C])
    masks = []
    last = len(sep.inks) - 1
    for n, m in enumerate(wb.block_masks(sep, trap_px=2)):
        m = wb.carve(m, seed=int(rng.integers(1 << 30)))
        m = wb.dry_ink(m, seed=int(rng.integers(1 << 30)), amount=0.0 if n == last else 0.2)
        dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))
        masks.append(wb.to_u8(wb.misregister(m, dx, dy)))
    return sep.paper, list(sep.inks), masks


def _png(a: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def _options(ctx: PackContext, rel: str) -> dict[str, Any]:
    opts: Mapping[str, Any] = ctx.options(rel)
    unknown = sorted(set(opts) - OPTIONS)
    if unknown:
        raise ctx.fail(rel, f"unknown woodblock option(s): {', '.join(unknown)}")
    out: dict[str, Any] = {"seed": opts.get("seed", 0), "max_side": opts.get("max_side", 1024)}
    for key in ("seed", "max_side"):
        if isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < 0:
            raise ctx.fail(rel, f"woodblock option {key} must be a whole number")
    if not 64 <= out["max_side"] <= 4096:
        raise ctx.fail(rel, "woodblock option max_side must be 64-4096")
    try:
        if "palette" in opts:
            pal = opts["palette"]
            if not isinstance(pal, list) or not 1 <= len(pal) <= 12:
                raise ValueError("palette must list 1-12 colours")
            out["palette"] = [wb.hex_to_rgb(c) for c in pal]
        else:
            n = opts.get("inks", 5)
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 12:
                raise ValueError("inks must be a whole number 1-12")
            out["inks"] = n
        if "paper" in opts:
            out["paper"] = wb.hex_to_rgb(opts["paper"])
    except (ValueError, TypeError, AttributeError) as exc:
        raise ctx.fail(rel, f"woodblock option: {exc}") from None
    return out


def process(ctx: PackContext, rel: str, data: bytes) -> list[Output]:
    """Cut a painting into woodblocks; the primary output is its ``blocks.json``."""
    from PIL import Image

    opts = _options(ctx, rel)
    image_header(data, rel, _MAX_SOURCE_PIXELS)  # header first: never decode a bomb
    try:
        with pixel_limit(_MAX_SOURCE_PIXELS), Image.open(io.BytesIO(data)) as img:
            img = img.convert("RGB")
            img.thumbnail((opts["max_side"], opts["max_side"]), Image.Resampling.LANCZOS)
            rgb = np.asarray(img, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise ctx.fail(rel, f"not a readable image ({exc})") from None
    paper, inks, masks = derive_blocks(rgb, inks=opts.get("inks"), palette=opts.get("palette"),
                                       paper=opts.get("paper"), seed=opts["seed"])
    src = PurePosixPath(rel)
    folder = (src.parent / src.stem).as_posix()
    outputs = []
    blocks = []
    for i, (ink, mask) in enumerate(zip(inks, masks, strict=True)):
        path = f"{folder}/block-{i + 1}.png"
        outputs.append(Output(path, _png(mask)))
        hexed = wb.rgb_to_hex(ink)
        blocks.append({"ink": hexed, "mask": path, "name": {"zh": hexed, "en": hexed,
                                                             "ru": hexed}})
    grain = f"{folder}/paper.png"
    grain_px = wb.paper_grain(512, seed=opts["seed"])
    outputs.append(Output(grain, _png(grain_px)))
    outputs += _finished(src.stem, paper, inks, masks, grain_px)
    doc = {"format": "exhibit-woodblock/1", "item": src.stem, "paper": wb.rgb_to_hex(paper),
           "grain": grain, "blocks": blocks}
    manifest = Output(f"{folder}/blocks.json",
                      (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode())
    ctx.note(rel, f"cut into {len(inks)} blocks, {rgb.shape[1]}x{rgb.shape[0]} px, "
                  f"inks {' '.join(b['ink'] for b in blocks)}")
    return [manifest, *outputs]


def _source_image(ctx: PackContext, rel: str, name: Any, what: str, mode: str) -> np.ndarray:
    """A file a layered print names, from the source folder, decoded within bounds."""
    from PIL import Image, UnidentifiedImageError

    if not isinstance(name, str) or check_entry_name(name):
        raise ctx.fail(rel, f"{what} must be a file of the bundle, not {name!r}")
    path = ctx.src / name
    if path.is_symlink() or not path.is_file():
        raise ctx.fail(rel, f"{what} {name} is not in the source folder")
    data = path.read_bytes()
    try:
        image_header(data, name, MAX_IMAGE_PIXELS)
        with pixel_limit(MAX_IMAGE_PIXELS), Image.open(io.BytesIO(data)) as img:
            # as the scene reads it: a mask's first channel, the grain's three
            if mode == "L" and img.mode != "L":
                return np.asarray(img.convert("RGB").getchannel("R"), dtype=np.uint8)
            return np.asarray(img.convert(mode), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ctx.fail(rel, f"{what} {name} is not a readable image ({exc})") from None


def process_layered(ctx: PackContext, rel: str, data: bytes) -> list[Output]:
    """A JSON source: copied; a layered print's ``*blocks.json`` also gets its picture.

    The masks and grain it names are read from the source folder (they are packed on
    their own, as images) and the finished print is drawn from them.
    """
    if not PurePosixPath(rel).name.endswith(LAYERED_BLOCKS):
        return [Output(rel, data)]

    def bad(text: str) -> Exception:
        return ctx.fail(rel, text)

    try:
        doc = strict_loads(data.decode("utf-8"), bad)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ctx.fail(rel, f"not valid JSON ({exc})") from None
    blocks = doc.get("blocks") if isinstance(doc, dict) else None
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= MAX_LAYERED_BLOCKS:
        raise ctx.fail(rel, f"a layered print needs 1..{MAX_LAYERED_BLOCKS} blocks")
    item = doc.get("item")
    if not isinstance(item, str) or not item or "/" in item or item in (".", ".."):
        raise ctx.fail(rel, "a layered print needs an item id (no '/')")
    try:
        paper = wb.hex_to_rgb(doc.get("paper", "#f2ebda"))
        inks = [wb.hex_to_rgb(b.get("ink") if isinstance(b, dict) else None) for b in blocks]
    except (ValueError, AttributeError) as exc:
        raise ctx.fail(rel, f"colour: {exc}") from None
    masks: list[np.ndarray] = []
    for k, b in enumerate(blocks):
        m = _source_image(ctx, rel, b.get("mask"), f"block {k + 1} mask", "L")
        if masks and m.shape != masks[0].shape:
            raise ctx.fail(rel, f"block {k + 1} mask is {m.shape[1]}x{m.shape[0]} px, "
                                f"block 1's {masks[0].shape[1]}x{masks[0].shape[0]}")
        masks.append(m)
    grain = doc.get("grain")
    grain_px = None if grain is None else _source_image(ctx, rel, grain, "grain", "RGB")
    made = _finished(item, paper, inks, masks, grain_px)
    h, w = masks[0].shape
    ctx.note(rel, f"finished print {w}x{h} px drawn from {len(masks)} blocks")
    return [Output(rel, data), *made]


def layered_texts(src: Path, rels: Iterable[str]) -> tuple[str, ...]:
    """The block names of every layered print among ``rels`` (``*blocks.json`` in the
    source folder ``src``): visitor-facing texts (a kiosk lists a print's inks by name),
    so the bundle's font must carry them. A file that cannot be read gives none here;
    :func:`process_layered` reports it."""
    out: dict[str, None] = {}
    for rel in rels:
        if not rel.endswith("blocks.json"):
            continue
        try:
            path = src / rel
            if path.stat().st_size > _MAX_LAYERED_JSON:
                continue
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        blocks = doc.get("blocks") if isinstance(doc, dict) else None
        for blk in blocks if isinstance(blocks, list) else []:
            names = blk.get("name") if isinstance(blk, dict) else None
            for v in names.values() if isinstance(names, dict) else []:
                if isinstance(v, str):
                    out.setdefault(v, None)
    return tuple(out)
