#!/usr/bin/env python3
"""Make the sample bundles' label font, ``content/fonts/NotoSansSC-Labels.otf``.

Takes the Simplified Chinese face of Noto Sans CJK Regular (SIL Open Font License 1.1)
from the system's collection (Debian: ``fonts-noto-cjk``) and subsets it with fontTools
to a label repertoire:

- ASCII, Latin-1 and Latin Extended-A (as far as the face has them);
- Cyrillic U+0400-04FF (as far as the face has them);
- General Punctuation U+2000-206F, the euro sign and the numero sign;
- CJK Symbols and Punctuation U+3000-303F and the full-width forms U+FF01-FF5E;
- the 3,755 level-1 hanzi of GB 2312 (the commonly used characters, derived offline
  through Python's ``gb2312`` codec);
- every character of the sample content's texts (``content/*/bundle.toml``), so a
  rarer character such as 雉 or 堞 is in too.

The same subsetter options as bundle packing (:func:`exhibit_engine.assets.font.subset_font`)
keep the output a pure function of the source font and the repertoire: run it twice and
``cmp`` the files. Packing a bundle subsets this font again, to the bundle's own texts.

It also writes ``content/fonts/OFL.txt`` (the licence, with the upstream copyright line).

Usage::

    python tools/make_label_font.py [--source NotoSansCJK-Regular.ttc] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from exhibit_engine.assets.font import open_font, required_chars, subset_font
from exhibit_engine.assets.pack import collect_texts
from exhibit_engine.assets.woodblock_pack import layered_texts

__all__ = ["FAMILY", "FONT_NAME", "repertoire", "gb2312_level1", "content_chars", "make",
           "main"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DEFAULT_OUT = ROOT / "content" / "fonts"
#: The face taken from the collection (name ID 1).
FAMILY = "Noto Sans CJK SC"
#: The file written.
FONT_NAME = "NotoSansSC-Labels.otf"

RANGES = (
    (0x0020, 0x007E),   # ASCII
    (0x00A0, 0x00FF),   # Latin-1 Supplement
    (0x0100, 0x017F),   # Latin Extended-A
    (0x0400, 0x04FF),   # Cyrillic
    (0x2000, 0x206F),   # General Punctuation
    (0x20AC, 0x20AC),   # euro sign
    (0x2116, 0x2116),   # numero sign
    (0x3000, 0x303F),   # CJK Symbols and Punctuation
    (0xFF01, 0xFF5E),   # full-width ASCII forms (，：（）！？)
)

OFL_HEADER = """\
Copyright 2014-2021 Adobe (http://www.adobe.com/), with Reserved Font Name 'Source'.
Noto is a trademark of Google Inc.

NotoSansSC-Labels.otf is a Modified Version (a subset) of Noto Sans CJK SC Regular,
made by tools/make_label_font.py of Exhibit Engine. It remains under the licence below.

This Font Software is licensed under the SIL Open Font License, Version 1.1.
This license is copied below, and is also available with a FAQ at:
https://openfontlicense.org

"""

OFL_TEXT = """\
-----------------------------------------------------------
SIL OPEN FONT LICENSE Version 1.1 - 26 February 2007
-----------------------------------------------------------

PREAMBLE
The goals of the Open Font License (OFL) are to stimulate worldwide
development of collaborative font projects, to support the font creation
efforts of academic and linguistic communities, and to provide a free and
open framework in which fonts may be shared and improved in partnership
with others.

The OFL allows the licensed fonts to be used, studied, modified and
redistributed freely as long as they are not sold by themselves. The
fonts, including any derivative works, can be bundled, embedded,
redistributed and/or sold with any software provided that any reserved
names are not used by derivative works. The fonts and derivatives,
however, cannot be released under any other type of license. The
requirement for fonts to remain under this license does not apply
to any document created using the fonts or their derivatives.

DEFINITIONS
"Font Software" refers to the set of files released by the Copyright
Holder(s) under this license and clearly marked as such. This may
include source files, build scripts and documentation.

"Reserved Font Name" refers to any names specified as such after the
copyright statement(s).

"Original Version" refers to the collection of Font Software components as
distributed by the Copyright Holder(s).

"Modified Version" refers to any derivative made by adding to, deleting,
or substituting -- in part or in whole -- any of the components of the
Original Version, by changing formats or by porting the Font Software to a
new environment.

"Author" refers to any designer, engineer, programmer, technical
writer or other person who contributed to the Font Software.

PERMISSION & CONDITIONS
Permission is hereby granted, free of charge, to any person obtaining
a copy of the Font Software, to use, study, copy, merge, embed, modify,
redistribute, and sell modified and unmodified copies of the Font
Software, subject to the following conditions:

1) Neither the Font Software nor any of its individual components,
in Original or Modified Versions, may be sold by itself.

2) Original or Modified Versions of the Font Software may be bundled,
redistributed and/or sold with any software, provided that each copy
contains the above copyright notice and this license. These can be
included either as stand-alone text files, human-readable headers or
in the appropriate machine-readable metadata fields within text or
binary files as long as those fields can be easily viewed by the user.

3) No Modified Version of the Font Software may use the Reserved Font
Name(s) unless explicit written permission is granted by the corresponding
Copyright Holder. This restriction only applies to the primary font name as
presented to the users.

4) The name(s) of the Copyright Holder(s) or the Author(s) of the Font
Software shall not be used to promote, endorse or advertise any
Modified Version, except to acknowledge the contribution(s) of the
Copyright Holder(s) and the Author(s) or with their explicit written
permission.

5) The Font Software, modified or unmodified, in part or in whole,
must be distributed entirely under this license, and must not be
distributed under any other license. The requirement for fonts to
remain under this license does not apply to any document created
using the Font Software.

TERMINATION
This license becomes null and void if any of the above conditions are
not met.

DISCLAIMER
THE FONT SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO ANY WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT
OF COPYRIGHT, PATENT, TRADEMARK, OR OTHER RIGHT. IN NO EVENT SHALL THE
COPYRIGHT HOLDER BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY,
INCLUDING ANY GENERAL, SPECIAL, INDIRECT, INCIDENTAL, OR CONSEQUENTIAL
DAMAGES, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
FROM, OUT OF THE USE OR INABILITY TO USE THE FONT SOFTWARE OR FROM
OTHER DEALINGS IN THE FONT SOFTWARE.
"""


def gb2312_level1() -> frozenset[int]:
    """The 3,755 level-1 hanzi of GB 2312 (rows 16-55), the commonly used characters."""
    out = set()
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes([row, cell]).decode("gb2312")))
            except UnicodeDecodeError:  # row 55 ends at cell 89
                continue
    return frozenset(out)


def content_chars(root: Path = ROOT) -> frozenset[int]:
    """Every character of the texts of ``content/*/bundle.toml`` and of its layered prints' ink
    names."""
    texts: list[str] = []
    for toml in sorted((root / "content").glob("*/bundle.toml")):
        texts += collect_texts(tomllib.loads(toml.read_text(encoding="utf-8")))
        prints = [p.relative_to(toml.parent).as_posix()
                  for p in sorted(toml.parent.rglob("*blocks.json"))]
        texts += layered_texts(toml.parent, prints)     # the prints' ink names
    return frozenset(ord(ch) for ch in required_chars(texts))


def repertoire(root: Path = ROOT) -> frozenset[int]:
    """The code points wanted in the label font (the face keeps those it has)."""
    ranges = {cp for lo, hi in RANGES for cp in range(lo, hi + 1)}
    return frozenset(ranges) | gb2312_level1() | content_chars(root)


def _find_face(source: Path) -> int:
    from fontTools.ttLib import TTCollection

    with TTCollection(source, lazy=True) as collection:
        for i, face in enumerate(collection.fonts):
            if face["name"].getDebugName(1) == FAMILY:
                return i
    raise SystemExit(f"{source}: no face named {FAMILY!r}")


def make(source: Path, out_dir: Path, root: Path = ROOT) -> tuple[Path, Path, int, int]:
    """Write the label font and OFL.txt into ``out_dir``.

    Returns:
        (font path, licence path, glyph count, missing count): the glyphs in the font
        and how many content characters the face lacks (0 for a complete font).
    """
    data = source.read_bytes()
    face = _find_face(source) if data[:4] == b"ttcf" else None
    font = open_font(data, source.name, face=face)
    cmap = font.getBestCmap()
    lacking = sorted(cp for cp in content_chars(root) if cp not in cmap)
    subset = subset_font(font, sorted(cp for cp in repertoire(root) if cp in cmap))
    glyphs = font["maxp"].numGlyphs
    font.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    font_path, licence = out_dir / FONT_NAME, out_dir / "OFL.txt"
    for path, blob in ((font_path, subset),
                       (licence, (OFL_HEADER + OFL_TEXT).encode("utf-8"))):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(blob)
        tmp.replace(path)
    return font_path, licence, glyphs, len(lacking)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``--source FONT`` and ``--out DIR`` (default content/fonts)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE,
                        help=f"Noto Sans CJK collection or SC face (default {DEFAULT_SOURCE})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="folder to write (default: content/fonts)")
    args = parser.parse_args(argv)
    if not args.source.is_file():
        parser.error(f"{args.source} not found (Debian/Ubuntu: apt install fonts-noto-cjk)")
    font_path, licence, glyphs, lacking = make(args.source, args.out)
    sys.stdout.write(f"{font_path} {font_path.stat().st_size} bytes, {glyphs} glyphs\n"
                     f"{licence} {licence.stat().st_size} bytes\n")
    if lacking:
        sys.stderr.write(f"warning: the face lacks {lacking} character(s) of the content\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
