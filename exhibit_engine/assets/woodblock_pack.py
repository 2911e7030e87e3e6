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
sources (a ``blocks.json`` with masks made elsewhere) are packed as they are.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from . import woodblock as wb
from ._processing import Output, PackContext
from .checks import image_header, pixel_limit

__all__ = ["OPTIONS", "derive_blocks", "process"]

#: Options a woodblock source may set in ``[assets."<file>"]``.
OPTIONS = frozenset({"processor", "inks", "palette", "paper", "seed", "max_side"})
_MAX_SOURCE_PIXELS = 8192 * 8192


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
    outputs.append(Output(grain, _png(wb.paper_grain(512, seed=opts["seed"]))))
    doc = {"format": "exhibit-woodblock/1", "item": src.stem, "paper": wb.rgb_to_hex(paper),
           "grain": grain, "blocks": blocks}
    manifest = Output(f"{folder}/blocks.json",
                      (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode())
    ctx.note(rel, f"cut into {len(inks)} blocks, {rgb.shape[1]}x{rgb.shape[0]} px, "
                  f"inks {' '.join(b['ink'] for b in blocks)}")
    return [manifest, *outputs]
