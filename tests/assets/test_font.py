"""assets/font.py: label fonts are subset to exactly the bundle's characters, or refused."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont

from exhibit_engine.assets import font as fontmod
from exhibit_engine.assets._processing import PackContext
from exhibit_engine.assets.font import EXTRA_CHARS, process, required_chars
from exhibit_engine.assets.pack import collect_texts, pack
from exhibit_engine.errors import AssetError, BundleError

ROOT = Path(__file__).resolve().parents[2]
LABEL_FONT = ROOT / "content" / "fonts" / "NotoSansSC-Labels.otf"
REL = "fonts/NotoSansSC-Labels.otf"
PAIR = "fonts/pair.ttf"

TEXTS = ("冰雪城堡", "Ice Castle", "Ледяной замок", "冰灯：第一行\n第二行，（完）")

BUNDLE_TOML = """\
[bundle]
id = "labels"
version = "1.0.0"
title = { zh = "冰雪城堡", en = "Ice Castle", ru = "Ледяной замок" }

[[scenes]]
id = "wall"
kind = "ice"
title = { zh = "冰灯", en = "Lantern", ru = "Фонарь" }
assets = ["fonts/NotoSansSC-Labels.otf"]
[scenes.labels]
note = { zh = "冰灯：第一行\\n第二行，（完）", en = "Line one\\nline two", ru = "Ё!" }
"""


@pytest.fixture(scope="module")
def label_font() -> bytes:
    """The committed sample label font (the source of every subset here)."""
    return LABEL_FONT.read_bytes()


def ctx_for(tmp_path: Path, texts: tuple[str, ...], options: dict | None = None,
            rel: str = REL) -> PackContext:
    doc = {"bundle": {"id": "t"}, "assets": {rel: options} if options is not None else {}}
    return PackContext(src=tmp_path, doc=doc, texts=texts)


def cmap_of(data: bytes) -> set[int]:
    return set(TTFont(io.BytesIO(data)).getBestCmap())


def tiny_ttf(chars: str = "AB ", family: str = "Test Sans") -> bytes:
    """A TrueType-outline font with a square glyph per character."""
    fb = FontBuilder(1000, isTTF=True)
    names = [".notdef"] + [f"uni{ord(c):04X}" for c in chars]
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({ord(c): f"uni{ord(c):04X}" for c in chars})
    glyphs = {}
    for n in names:
        pen = TTGlyphPen(None)
        pen.moveTo((100, 0))
        pen.lineTo((100, 700))
        pen.lineTo((500, 700))
        pen.lineTo((500, 0))
        pen.closePath()
        glyphs[n] = pen.glyph()
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics({n: (600, 100) for n in names})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": family, "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    fb.updateHead(created=3_700_000_000, modified=3_700_000_000)
    out = io.BytesIO()
    fb.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- subsetting


def test_subset_keeps_exactly_the_texts_characters(tmp_path: Path, label_font: bytes) -> None:
    ctx = ctx_for(tmp_path, TEXTS)
    [out] = process(ctx, REL, label_font)
    assert out.path == REL
    wanted = {ord(c) for t in TEXTS for c in t if c != "\n"} | {ord(c) for c in EXTRA_CHARS}
    font = TTFont(io.BytesIO(out.data))
    assert set(font.getBestCmap()) == wanted
    assert ord("\n") not in font.getBestCmap()
    # one glyph per distinct mapped glyph, plus .notdef: nothing a label does not draw
    assert font["maxp"].numGlyphs == len(set(font.getBestCmap().values())) + 1
    assert font.getGlyphOrder()[0] == ".notdef"
    names = font["name"]
    assert "Adobe" in names.getDebugName(0) and "Open Font License" in names.getDebugName(13)
    assert len(out.data) < len(label_font) // 20
    [note] = ctx.notes[REL]
    assert note.startswith(f"subset to {len(wanted)} characters, {len(wanted) + 1} glyphs")
    assert "% saved" in note


def test_required_chars_drop_control_characters_only() -> None:
    assert required_chars(["a\tb\r\n", "\u3000Ё"]) == {"a", "b", "\u3000", "Ё"}


def test_output_is_deterministic_across_runs_and_hash_seeds(tmp_path: Path,
                                                            label_font: bytes) -> None:
    first = process(ctx_for(tmp_path, TEXTS), REL, label_font)[0].data
    assert process(ctx_for(tmp_path, TEXTS[::-1]), REL, label_font)[0].data == first
    code = ("import sys; from pathlib import Path; from exhibit_engine.assets.font import process;"
            "from exhibit_engine.assets._processing import PackContext;"
            "texts = tuple(sys.argv[2:]);"
            "ctx = PackContext(src=Path('.'), doc={}, texts=texts);"
            "data = Path(sys.argv[1]).read_bytes();"
            "sys.stdout.buffer.write(process(ctx, 'fonts/f.otf', data)[0].data)")
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", code, str(LABEL_FONT), *TEXTS], env=env,
                             capture_output=True, timeout=60, check=True)
        assert run.stdout == first


def test_packed_bundle_carries_the_subset_font(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "fonts").mkdir(parents=True)
    (src / "bundle.toml").write_text(BUNDLE_TOML, encoding="utf-8")
    (src / "fonts" / "NotoSansSC-Labels.otf").write_bytes(LABEL_FONT.read_bytes())
    notes: dict[str, list[str]] = {}
    manifest = pack(src, tmp_path / "a.exb", notes=notes)
    pack(src, tmp_path / "b.exb")
    assert (tmp_path / "a.exb").read_bytes() == (tmp_path / "b.exb").read_bytes()
    entry = manifest.file(REL)
    assert entry is not None and entry.media_type == "font/otf"
    assert manifest.scenes[0].assets == (REL,)
    with zipfile.ZipFile(tmp_path / "a.exb") as zf:
        data = zf.read(REL)
    texts = collect_texts(tomllib.loads(BUNDLE_TOML))
    assert cmap_of(data) == {ord(c) for c in required_chars(texts) | EXTRA_CHARS}
    assert "glyphs" in notes[REL][0]


def test_the_ice_festival_font_covers_every_text(ice_exb: Path) -> None:
    doc = tomllib.loads((ROOT / "content" / "ice-festival" / "bundle.toml").read_text("utf-8"))
    with zipfile.ZipFile(ice_exb) as zf:
        data = zf.read(REL)
    assert cmap_of(data) == {ord(c) for c in required_chars(collect_texts(doc)) | EXTRA_CHARS}


def test_truetype_outlines_give_a_ttf(tmp_path: Path) -> None:
    [out] = process(ctx_for(tmp_path, ("BA",)), "type/Test.otf", tiny_ttf("ABC "))
    assert out.path == "fonts/Test.ttf"
    assert cmap_of(out.data) == {ord("A"), ord("B"), ord(" ")}


# --------------------------------------------------------------------------- refusals


def test_missing_characters_fail_with_one_line_naming_font_and_characters(
        tmp_path: Path, label_font: bytes) -> None:
    with pytest.raises(BundleError) as info:
        process(ctx_for(tmp_path, ("冰雪 😀", "Ice ❄")), REL, label_font)
    msg = str(info.value)
    assert "\n" not in msg
    assert REL in msg and "Noto Sans CJK SC" in msg
    assert "'😀' U+1F600" in msg and "'❄' U+2744" in msg and "2 character(s)" in msg
    assert "冰" not in msg.split("use:")[1]
    assert info.value.entry == REL


def test_many_missing_characters_are_listed_briefly(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"lacks 30 character\(s\).* and 10 more$"):
        process(ctx_for(tmp_path, ("".join(chr(0x4E00 + i) for i in range(30)),)), "f.ttf",
                tiny_ttf("A "))


def test_fallback_font_keeps_what_it_covers(tmp_path: Path, label_font: bytes) -> None:
    ctx = ctx_for(tmp_path, ("冰 😀",), {"fallback": True})
    [out] = process(ctx, REL, label_font)
    assert cmap_of(out.data) == {ord("冰"), ord(" ")}
    assert "lacks 1 character(s): '😀' U+1F600" in ctx.notes[REL][0]


@pytest.mark.parametrize("data, rule", [
    (b"", "not an OpenType/TrueType font"),
    (b"hello, world", "not an OpenType/TrueType font"),
    (b"wOF2" + bytes(60), "WOFF/WOFF2"),
    (b"OTTO" + bytes(400), "not a "),
])
def test_malformed_fonts_fail_cleanly(tmp_path: Path, data: bytes, rule: str) -> None:
    with pytest.raises(BundleError, match=rule) as info:
        process(ctx_for(tmp_path, ("A",)), "fonts/bad.otf", data)
    assert info.value.entry == "fonts/bad.otf" and "\n" not in str(info.value)


@pytest.mark.parametrize("cut", [12, 300, 5_000, 200_000, -64])  # -64: inside the last table
def test_truncated_fonts_fail_cleanly(tmp_path: Path, label_font: bytes, cut: int) -> None:
    with pytest.raises(BundleError) as info:
        process(ctx_for(tmp_path, ("冰A",)), REL, label_font[:cut])
    assert info.value.entry == REL and "\n" not in str(info.value)


def test_oversized_font_is_refused_before_parsing(tmp_path: Path, label_font: bytes,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fontmod, "MAX_FONT_BYTES", len(label_font) - 1)
    with pytest.raises(BundleError, match=r"font larger than \d+ bytes"):
        process(ctx_for(tmp_path, ("A",)), REL, label_font)


def test_collections_need_a_face(tmp_path: Path) -> None:
    collection = TTCollection()
    collection.fonts = [TTFont(io.BytesIO(tiny_ttf("AB ", "One"))),
                        TTFont(io.BytesIO(tiny_ttf("XY ", "Two")))]
    buf = io.BytesIO()
    collection.save(buf)
    data = buf.getvalue()
    with pytest.raises(BundleError, match="collection needs a face"):
        process(ctx_for(tmp_path, ("X",)), PAIR, data)
    with pytest.raises(BundleError, match=r"face 2 is not in the collection \(it has 2"):
        process(ctx_for(tmp_path, ("X",), {"face": 2}, PAIR), PAIR, data)
    [out] = process(ctx_for(tmp_path, ("X",), {"face": 1}, PAIR), PAIR, data)
    assert cmap_of(out.data) == {ord("X"), ord(" ")}


@pytest.mark.parametrize("options, rule", [
    ({"size": 3}, "unknown font option"),
    ({"face": "2"}, "face must be a whole number"),
    ({"fallback": "yes"}, "fallback must be true or false"),
    ({"face": 1}, "not a collection"),
])
def test_bad_options_are_refused(tmp_path: Path, options: dict, rule: str) -> None:
    with pytest.raises(BundleError, match=rule):
        process(ctx_for(tmp_path, ("A",), options), REL, tiny_ttf())


def test_open_font_raises_asset_errors() -> None:
    with pytest.raises(AssetError, match="x.otf: not an OpenType"):
        fontmod.font_codepoints(b"nope", "x.otf")
    assert fontmod.font_codepoints(tiny_ttf("AB "), "t.ttf") == {65, 66, 32}
