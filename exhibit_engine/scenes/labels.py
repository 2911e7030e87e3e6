"""Text labels on the wall, drawn with the bundle's own (subset) font.

A bundle carries its label font (see :mod:`exhibit_engine.assets.font`), so labels in
Chinese, English and Russian render the same on every projector PC, CJK fonts
installed or not. :func:`load_font` turns the verified font bytes into a Panda3D
font in memory: the bytes go to a private RAM-disk mount of Panda3D's virtual file
system for the moment FreeType opens them, so no file is written and no system font
directory, fontconfig or ``text-font`` setting is ever consulted.

:func:`make_label` never falls back silently: Panda3D draws a character its font lacks
as the font's ``.notdef`` box (and a TextNode without a font borrows Panda3D's built-in
default font), so a label whose text has a character the font lacks raises
:class:`~exhibit_engine.errors.AssetError` naming the font and the characters.

Labels are TextNodes in the wall's plane: text runs along +X, up is +Z, and it faces
-Y, towards an eye that looks along +Y (the camera rig's convention).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import unicodedata
from collections.abc import Sequence

from panda3d.core import (DynamicTextFont, Filename, NodePath, SamplerState, TextNode,
                          TransparencyAttrib, VirtualFileMountRamdisk, VirtualFileSystem)

from ..errors import AssetError
from .base import current_scope

__all__ = ["ALIGNMENTS", "PIXELS_PER_EM", "load_font", "make_label", "missing_chars"]

#: Default glyph raster size: pixels per em in the glyph texture pages. 96 keeps edges
#: sharp while an em spans up to about 100 output pixels (body text whose cap height is
#: 2 % of a 2.5 m wall, on 2160 projector rows, has an em of about 60); pass more to
#: :func:`load_font` for big titles.
PIXELS_PER_EM = 96

#: Text alignments :func:`make_label` accepts.
ALIGNMENTS = {"left": TextNode.A_left, "center": TextNode.A_center,
              "right": TextNode.A_right}

_MOUNT_ROOT = "/exhibit-engine-font"
_PAGE_SIZE = 1024
# Each font opened gets its own mount point, so two never see each other's bytes.
_serial = itertools.count(1)
# Fonts opened while a renderer builds a scene, by renderer and content: a scene built
# again reuses its font. Panda3D never frees a DynamicTextFont's glyph pages once a glyph
# is drawn (a texture and a state per font), so opening the font afresh at every build
# would leak them at every cue change. Renderers never share one (as with shaders).
_fonts: dict[tuple[int, str, str, int], DynamicTextFont] = {}


def load_font(data: bytes, name: str, *, pixels_per_em: int = PIXELS_PER_EM
              ) -> DynamicTextFont:
    """A Panda3D font from font-file bytes (e.g. a bundle's subset font), in memory.

    Args:
        data: the ``.otf``/``.ttf`` bytes (already verified against the bundle).
        name: the asset's name, used in errors and as the font's name.
        pixels_per_em: glyph raster size in the texture pages (8..512).

    Returns:
        A valid DynamicTextFont rendering glyphs as textured quads (1 unit = 1 em). While
        a renderer builds a scene, the same object for the same bytes, name and size
        (shared by that renderer's scenes: never change it).

    Raises:
        AssetError: FreeType cannot read the bytes as a font.
        ValueError: ``pixels_per_em`` is out of range.
    """
    if not 8 <= pixels_per_em <= 512:
        raise ValueError(f"pixels_per_em must be 8..512, not {pixels_per_em!r}")
    if not data:
        raise AssetError(name, "empty font file")
    scope = current_scope()
    if scope is None:                       # not inside a renderer's build: a font of its own
        return _open_font(data, name, pixels_per_em)
    key = (scope, hashlib.sha256(data).hexdigest(), name, pixels_per_em)
    font = _fonts.get(key)
    if font is None:
        font = _fonts[key] = _open_font(data, name, pixels_per_em)
    return font


def _open_font(data: bytes, name: str, pixels_per_em: int) -> DynamicTextFont:
    vfs = VirtualFileSystem.get_global_ptr()
    mount = VirtualFileMountRamdisk()
    point = f"{_MOUNT_ROOT}/{next(_serial)}"
    if not vfs.mount(mount, point, 0):
        raise AssetError(name, "cannot mount a RAM disk to load the font")
    try:
        path = Filename(f"{point}/font.bin")
        if not vfs.write_file(path, bytes(data), False):
            raise AssetError(name, "cannot stage the font in memory")
        # FreeType keeps its own copy of the bytes: the mount can go right away.
        font = DynamicTextFont(path, 0)
    finally:
        vfs.unmount(mount)
    if not font.is_valid():
        raise AssetError(name, "FreeType cannot read this font")
    font.set_name(name)
    font.set_pixels_per_unit(pixels_per_em)
    font.set_page_size(_PAGE_SIZE, _PAGE_SIZE)
    font.set_minfilter(SamplerState.FT_linear)
    font.set_magfilter(SamplerState.FT_linear)
    return font


def missing_chars(text: str, font: DynamicTextFont) -> list[str]:
    """The characters of ``text`` the font has no glyph for (control characters aside)."""
    probe = TextNode("probe")
    probe.set_font(font)
    missing: dict[str, None] = {}
    for ch in text:
        if unicodedata.category(ch) != "Cc" and not probe.has_exact_character(ch):
            missing.setdefault(ch, None)
    return list(missing)


def make_label(text: str, font: DynamicTextFont, *, height_m: float,
               color: Sequence[float] = (1.0, 1.0, 1.0, 1.0), align: str = "center",
               wrap_m: float | None = None, billboard: bool = False,
               name: str = "label") -> NodePath:
    """A text label in the wall's plane, sized in metres.

    Args:
        text: what it says (``\\n`` starts a new line).
        font: from :func:`load_font`.
        height_m: the font size: one em in metres (a hanzi is about this tall, Latin
            capitals about 0.73 of it in Noto Sans CJK).
        color: RGBA (or RGB) in 0..1.
        align: ``"left"``, ``"center"`` or ``"right"`` about the node's origin.
        wrap_m: wrap lines longer than this many metres (Panda3D breaks at spaces, or
            mid-word when a word alone is too long).
        billboard: keep facing the camera (for labels in a 3-D scene).
        name: the node's name.

    Returns:
        A new, unparented NodePath holding the TextNode; the first line's baseline runs
        through the origin.

    Raises:
        AssetError: the font lacks a character of ``text`` (named in the message).
        ValueError: a size, colour or alignment is out of range.
    """
    if not (math.isfinite(height_m) and height_m > 0.0):
        raise ValueError(f"height_m must be a positive number of metres, not {height_m!r}")
    if wrap_m is not None and not (math.isfinite(wrap_m) and wrap_m > 0.0):
        raise ValueError(f"wrap_m must be a positive number of metres, not {wrap_m!r}")
    if align not in ALIGNMENTS:
        raise ValueError(f"align must be one of {', '.join(ALIGNMENTS)}, not {align!r}")
    rgba = tuple(float(c) for c in color)
    if len(rgba) == 3:
        rgba += (1.0,)
    if len(rgba) != 4 or not all(0.0 <= c <= 1.0 for c in rgba):
        raise ValueError(f"color must be RGB or RGBA in 0..1, not {tuple(color)!r}")
    if not font.is_valid():
        raise AssetError(font.get_name() or "font", "the font is not valid")
    missing = missing_chars(text, font)
    if missing:
        listed = ", ".join(f"{ch!r} U+{ord(ch):04X}" for ch in missing[:20])
        raise AssetError(font.get_name() or "font",
                         f"no glyph for {listed} in label {text[:40]!r}")
    node = TextNode(name)
    node.set_font(font)
    node.set_align(ALIGNMENTS[align])
    node.set_text_color(*rgba)
    if wrap_m is not None:
        node.set_wordwrap(wrap_m / height_m)
    node.set_text(text)
    label = NodePath(node)
    label.set_scale(height_m)
    label.set_transparency(TransparencyAttrib.M_alpha)
    if billboard:
        label.set_billboard_point_eye()
    return label
