"""The kiosk's own words exist in every language and its font can draw all of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from exhibit_engine.assets.font import font_codepoints
from exhibit_engine.kiosk.strings import LANGUAGES, STRINGS, all_text, text, ui_font_bytes

ROOT = Path(__file__).resolve().parents[2]


def test_every_string_is_in_every_language_with_the_same_fields() -> None:
    import string

    for key, entry in STRINGS.items():
        assert set(entry) == set(LANGUAGES), key
        fields = {tuple(sorted(f for _, f, _, _ in string.Formatter().parse(s) if f))
                  for s in entry.values()}
        assert len(fields) == 1, key


def test_the_ui_font_has_every_character_the_kiosk_can_show() -> None:
    have = font_codepoints(ui_font_bytes(), "KioskUI.otf")
    missing = sorted({c for c in all_text() if ord(c) not in have and c.isprintable()})
    assert not missing, ("tools/make_kiosk_font.py must be run after changing the "
                         f"strings: missing {''.join(missing)!r}")
    assert len(ui_font_bytes()) < 80_000


def test_the_font_tool_makes_the_same_bytes(tmp_path: Path) -> None:
    code = ("import sys; sys.path.insert(0, 'tools'); from pathlib import Path; "
            "import make_kiosk_font as m; "
            f"m.make(out=Path({str(tmp_path / 'f.otf')!r}))")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    assert (tmp_path / "f.otf").read_bytes() == ui_font_bytes()


def test_text_falls_back_to_english_and_fills_fields() -> None:
    assert text("items", "ru", n=3) == "Экспонатов: 3"
    assert text("items", "de", n=3) == "3 items"
