#!/usr/bin/env python3
"""Make the kiosk's chrome font, ``exhibit_engine/kiosk/fonts/KioskUI.otf``.

Subsets the sample content's label font (``content/fonts/NotoSansSC-Labels.otf``, Noto
Sans CJK SC Regular, SIL Open Font License 1.1) to exactly the characters of the
kiosk's own strings (:func:`exhibit_engine.kiosk.strings.all_text`), with the packer's
fixed subsetter options, so the output is a pure function of the two: run it twice and
``cmp``. It copies the licence beside it as ``OFL.txt``.

Run it after changing a string in ``exhibit_engine/kiosk/strings.py``;
``tests/kiosk/test_strings.py`` fails until the font has every character.

Usage::

    python tools/make_kiosk_font.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from exhibit_engine.assets.font import open_font, required_chars, subset_font
from exhibit_engine.kiosk.strings import UI_FONT, all_text

__all__ = ["make", "main"]

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "content" / "fonts" / "NotoSansSC-Labels.otf"
OUT = ROOT / "exhibit_engine" / "kiosk" / UI_FONT


def make(source: Path = SOURCE, out: Path = OUT) -> tuple[Path, int]:
    """Write the subset font and its licence; return the font's path and size."""
    font = open_font(source.read_bytes(), source.name)
    chars = sorted(ord(c) for c in required_chars([all_text()]))
    have = set(font.getBestCmap())
    missing = [chr(c) for c in chars if c not in have]
    if missing:
        raise SystemExit(f"{source}: lacks {''.join(missing)!r}; add them to "
                         "tools/make_label_font.py's repertoire first")
    data = subset_font(font, chars)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    shutil.copyfile(source.parent / "OFL.txt", out.parent / "OFL.txt")
    return out, len(data)


def main() -> int:
    path, size = make()
    print(f"wrote {path.relative_to(ROOT)} ({size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
