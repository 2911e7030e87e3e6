"""Label fonts: subset an OpenType/TrueType font to exactly the characters a bundle shows.

A bundle carries its own label font so that Chinese, English and Russian labels render
on a projector PC with no CJK font installed. Packing keeps only what the bundle's texts
need (:attr:`~exhibit_engine.assets._processing.PackContext.texts`: titles, descriptions,
labels, captions), which turns a 16 MB CJK face into a few kilobytes.

What the subset keeps, exactly:

- a cmap of every character of the texts except control characters (``Cc``: line
  breaks, tabs), plus :data:`EXTRA_CHARS` (the space, which word wrap measures);
- one glyph per kept character (characters may share a glyph) and ``.notdef`` with
  its outline (glyph 0, required by the format);
- pair kerning (GPOS ``kern``), which adds no glyphs; no other layout feature. Panda3D
  draws text without shaping, and CJK, Latin and Cyrillic need none, so substitution
  features (ligatures, localised or vertical forms) would only add glyphs nobody draws;
- every name record (copyright, licence, version) and the font's own metrics.

A character of the texts that the font lacks fails the pack with one line naming the
font and the characters: a label that cannot render is a defect. A font marked
``fallback = true`` in bundle.toml is subset to the characters it has instead::

    [assets."fonts/NotoSansSC-Labels.otf"]
    face = 2           # only for a .ttc/.otc collection: which face to take
    fallback = false   # true: keep what it covers, do not require every character

The same source and texts always give the same bytes (fixed subsetter options, the
source's own ``head`` timestamps, no clock). fontTools is imported on first use.
"""

from __future__ import annotations

import io
import struct
import unicodedata
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import AssetError, BundleError
from ._processing import Output, PackContext

if TYPE_CHECKING:
    from fontTools.ttLib import TTFont

__all__ = ["EXTRA_CHARS", "FONT_OPTIONS", "MAX_FONT_BYTES", "font_codepoints", "open_font",
           "process", "required_chars", "subset_font"]

#: Largest font source accepted (a whole Noto Sans CJK collection is about 20 MB).
MAX_FONT_BYTES = 64 << 20

#: Characters every subset keeps besides the texts' own: the space, whose advance
#: Panda3D's word wrap and layout use even when no text contains one.
EXTRA_CHARS = frozenset(" ")

#: The per-file options bundle.toml may give a font under ``[assets."<path>"]``.
FONT_OPTIONS = frozenset({"face", "fallback"})

_SFNT = {b"\x00\x01\x00\x00": ".ttf", b"true": ".ttf", b"OTTO": ".otf"}
_MAX_LISTED = 20
# fontTools reports malformed input with whatever its parser hits first.
_FONT_ERRORS = (ArithmeticError, AssertionError, AttributeError, EOFError, LookupError,
                RuntimeError, TypeError, ValueError, struct.error)


def required_chars(texts: Iterable[str]) -> frozenset[str]:
    """The characters a font must have to draw ``texts``: all but control characters."""
    return frozenset(ch for text in texts for ch in text
                     if unicodedata.category(ch) != "Cc")


def open_font(data: bytes, name: str, *, face: int | None = None) -> TTFont:
    """Parse a font from bytes, refusing what a label font cannot be.

    Args:
        data: the font file's bytes (an sfnt: ``.ttf``/``.otf``, or a ``.ttc``/``.otc``
            collection when ``face`` is given).
        name: the font's name for errors.
        face: which face of a collection to take (0-based).

    Returns:
        The parsed font (tables are decoded on first access).

    Raises:
        AssetError: too large, WOFF, a collection without ``face``, a face out of range,
            or not a readable font.
    """
    from fontTools.ttLib import TTFont, TTLibError

    if len(data) > MAX_FONT_BYTES:
        raise AssetError(name, f"font larger than {MAX_FONT_BYTES} bytes")
    magic = bytes(data[:4])
    if magic in (b"wOFF", b"wOF2"):
        raise AssetError(name, "WOFF/WOFF2 is a web format; use the .otf or .ttf font")
    if magic == b"ttcf":
        if face is None:
            raise AssetError(name, "a font collection needs a face: set "
                                   f'[assets."{name}"] face = <index>')
        count = struct.unpack(">I", data[8:12])[0] if len(data) >= 12 else 0
        if not isinstance(face, int) or isinstance(face, bool) or not 0 <= face < count:
            raise AssetError(name, f"face {face!r} is not in the collection "
                                   f"(it has {count} faces)")
    elif magic not in _SFNT:
        raise AssetError(name, f"not an OpenType/TrueType font (starts with {magic!r})")
    elif face not in (None, 0):
        raise AssetError(name, f"face {face!r} given, but the font is not a collection")
    try:
        font = TTFont(io.BytesIO(data), fontNumber=face if magic == b"ttcf" else -1,
                      recalcTimestamp=False, lazy=None)
        missing = [t for t in ("cmap", "head", "hhea", "hmtx", "maxp", "name")
                   if t not in font]
        if not missing and not any(t in font for t in ("glyf", "CFF ", "CFF2")):
            missing = ["glyf or CFF"]
        if missing:
            raise AssetError(name, f"not a usable font: no {', '.join(missing)} table")
        if not 16 <= font["head"].unitsPerEm <= 16384:
            raise AssetError(name, "not a usable font: unitsPerEm outside 16..16384")
        if font["maxp"].numGlyphs < 1 or font.getBestCmap() is None:
            raise AssetError(name, "not a usable font: no glyphs or no Unicode cmap")
    except AssetError:
        raise
    except (TTLibError, *_FONT_ERRORS) as exc:
        raise AssetError(name, f"not a readable font ({type(exc).__name__}: {exc})"[:300]
                         ) from None
    return font


def font_codepoints(data: bytes, name: str, *, face: int | None = None) -> frozenset[int]:
    """The Unicode code points a font maps to glyphs (its best cmap).

    Raises:
        AssetError: the bytes are not a usable font (see :func:`open_font`).
    """
    font = open_font(data, name, face=face)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


def subset_font(font: TTFont, codepoints: Iterable[int]) -> bytes:
    """Subset a font in place to ``codepoints`` (plus ``.notdef``) and return its bytes.

    Fixed options keep the output a pure function of (font, code points): ``kern`` is
    the only layout feature, every name record stays, ``.notdef`` keeps its outline
    (a missing glyph shows a box, never nothing), and ``head.modified`` stays the
    source's. Code points the font lacks are ignored; callers check coverage first.

    Raises:
        The parser's error on a malformed font (callers turn it into their error).
    """
    from fontTools import subset

    options = subset.Options()
    options.layout_features = ["kern"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.name_legacy = True
    options.notdef_glyph = True
    options.notdef_outline = True
    options.recalc_timestamp = False
    options.glyph_names = False
    options.hinting = True
    options.ignore_missing_unicodes = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(set(codepoints)))
    subsetter.subset(font)
    font.recalcTimestamp = False
    out = io.BytesIO()
    font.save(out, reorderTables=True)
    return out.getvalue()


def _describe(chars: Iterable[str]) -> str:
    listed = sorted(chars)
    shown = ", ".join(f"{ch!r} U+{ord(ch):04X}" for ch in listed[:_MAX_LISTED])
    more = len(listed) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _options(ctx: PackContext, rel: str) -> tuple[int | None, bool]:
    opts: dict[str, Any] = dict(ctx.options(rel))
    unknown = sorted(set(opts) - FONT_OPTIONS)
    if unknown:
        raise ctx.fail(rel, f"unknown font option(s) {', '.join(unknown)} in "
                            f'[assets."{rel}"] (known: {", ".join(sorted(FONT_OPTIONS))})')
    face = opts.get("face")
    if face is not None and (isinstance(face, bool) or not isinstance(face, int)):
        raise ctx.fail(rel, f'[assets."{rel}"] face must be a whole number')
    fallback = opts.get("fallback", False)
    if not isinstance(fallback, bool):
        raise ctx.fail(rel, f'[assets."{rel}"] fallback must be true or false')
    return face, fallback


def process(ctx: PackContext, rel: str, data: bytes) -> list[Output]:
    """Pack processor for ``.ttf``/``.otf``: subset the font to the bundle's texts.

    Writes ``fonts/<stem>.otf`` (CFF outlines) or ``fonts/<stem>.ttf`` (TrueType
    outlines) and notes the character and glyph counts and the bytes saved.

    Raises:
        BundleError: the font is unreadable, too large, a collection without a face,
            or (unless ``fallback = true``) lacks a character the texts use; the
            message names the font and the missing characters.
    """
    from fontTools.ttLib import TTLibError

    face, fallback = _options(ctx, rel)
    try:
        font = open_font(data, rel, face=face)
    except AssetError as exc:
        raise ctx.fail(rel, exc.rule) from None
    try:
        family = font["name"].getBestFamilyName() or PurePosixPath(rel).name
        cmap = font.getBestCmap()
        wanted = required_chars(ctx.texts) | EXTRA_CHARS
        missing = sorted(ch for ch in wanted if ord(ch) not in cmap)
        if missing and not fallback:
            raise ctx.fail(rel, f"{family} lacks {len(missing)} character(s) the bundle's "
                                f"texts use: {_describe(missing)}")
        keep = sorted(ord(ch) for ch in wanted if ord(ch) in cmap)
        ext = ".otf" if "CFF " in font or "CFF2" in font else ".ttf"
        out = subset_font(font, keep)
        glyphs = font["maxp"].numGlyphs
    except BundleError:
        raise
    except (TTLibError, *_FONT_ERRORS) as exc:
        raise ctx.fail(rel, f"cannot subset the font ({type(exc).__name__}: {exc})"[:300]
                       ) from None
    finally:
        font.close()
    saved = 100.0 * (1.0 - len(out) / len(data)) if data else 0.0
    note = (f"subset to {len(keep)} characters, {glyphs} glyphs: "
            f"{len(data)} -> {len(out)} bytes ({saved:.1f}% saved)")
    if missing:
        note += f"; fallback font, lacks {len(missing)} character(s): {_describe(missing)}"
    ctx.note(rel, note)
    return [Output(f"fonts/{PurePosixPath(rel).stem}{ext}", out)]
