"""Contact sheets: every scene, a few show times, labelled; robust to bad scenes and fonts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.pack import pack
from exhibit_engine.runtime.cache import ModelCache
from exhibit_engine.runtime.preview import (FONT_MEDIA_TYPES, FontSource, Fonts, SceneRow,
                                            compose_sheet, contact_sheet, find_fonts)

ROOT = Path(__file__).resolve().parents[2]
TILE = (160, 90)


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "default-cache"
    monkeypatch.setenv("EXHIBIT_CACHE_DIR", str(folder))
    return folder


def tile_at(sheet: np.ndarray, row: int, col: int) -> np.ndarray:
    """The pixels of one tile (layout constants of compose_sheet)."""
    x0 = 40 + 330 + col * (TILE[0] + 16)
    y0 = 150 + row * (TILE[1] + 2 * 16 + 30) + 16
    return sheet[y0:y0 + TILE[1], x0:x0 + TILE[0]]


@pytest.mark.render
def test_sheet_shows_every_scene_at_every_time(ice_exb: Path, tmp_path: Path) -> None:
    out = tmp_path / "proof" / "sheet.png"
    seen: list[tuple[int, int]] = []
    result = contact_sheet(ice_exb, out, times=(0.0, 30.0), tile=TILE,
                           cache=ModelCache(tmp_path / "c"),
                           progress=lambda done, total, what: seen.append((done, total)))
    with Bundle.open(ice_exb) as b:
        scenes = [s.id for s in b.manifest.scenes]
    assert result.failures == () and result.scenes == len(scenes) == 2
    assert result.frames == 2 * len(scenes)
    assert seen[-1] == (4, 4) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    img = Image.open(out)
    assert img.format == "PNG" and img.size == result.size
    sheet = np.asarray(img.convert("RGB"), dtype=np.float64)
    assert sheet[:5, :5].mean() < 30, "a dark background"
    for row in range(2):
        frames = [tile_at(sheet, row, col) for col in range(2)]
        for f in frames:
            assert f.std() > 15 and len(np.unique(f.reshape(-1, 3), axis=0)) > 200, \
                "a real frame, not a flat tile"
        assert np.abs(frames[0] - frames[1]).mean() > 2, "different times, different frames"
    labels = sheet[150:150 + 120, 40:40 + 300]
    assert (labels.max(axis=2) > 180).sum() > 300, "the label column has text"
    assert not list(out.parent.glob(".*.tmp")), "written atomically, nothing left over"


@pytest.mark.render
def test_a_scene_that_cannot_be_built_gets_a_failure_tile(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "bundle.toml").write_text("""\
[bundle]
id = "mixed"
version = "1.0.0"
title = { zh = "混合", en = "Mixed", ru = "Смесь" }

[[scenes]]
id = "good"
kind = "ice"
title = { en = "Good" }
[scenes.params]
snowflakes = 100

[[scenes]]
id = "broken"
kind = "ice"
title = { en = "Broken" }
[scenes.params]
snowflake = 3
""", encoding="utf-8")
    exb = tmp_path / "mixed.exb"
    pack(src, exb)
    result = contact_sheet(exb, tmp_path / "s.png", times=(5.0,), tile=TILE,
                           cache=ModelCache(tmp_path / "c"))
    assert [sid for sid, _ in result.failures] == ["broken"]
    assert "unknown ice parameter 'snowflake'" in result.failures[0][1]
    assert result.frames == 1 and result.scenes == 2
    sheet = np.asarray(Image.open(tmp_path / "s.png").convert("RGB"), dtype=np.float64)
    failed = tile_at(sheet, 1, 0)
    assert (failed[..., 0] - failed[..., 2] > 60).any(), "the failure tile says why, in red"


def test_fonts_never_crash_and_fall_back_to_pillow() -> None:
    fonts = Fonts([FontSource("broken", b"this is not a font")])
    assert [s.label for s in fonts.sources] == ["pillow:default"]
    for text in ("Ice Castle", "冰雪城堡", "Ледяной замок", ""):
        fonts.pick(text, 18)
        fonts.pick(text, 18, bold=True)
    img = compose_sheet({"zh": "冰", "en": "Ice"}, "x 1.0.0",
                        [SceneRow("a", "ice", {"zh": "冰", "ru": "Лёд"}, 1,
                                  [(0.0, None)], "scene 'a': broken")], TILE, fonts)
    assert img.size[0] > TILE[0] and img.mode == "RGB"


def test_a_bitmap_font_without_freetype_still_draws_a_sheet(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """Pillow without FreeType has one Latin-1 bitmap font: no anchors, no CJK."""
    from PIL import ImageFont

    from exhibit_engine.runtime import preview

    monkeypatch.setattr(preview, "_open_font",
                        lambda src, index, size: ImageFont.load_default_imagefont())
    fonts = Fonts([])
    img = compose_sheet({"zh": "冰雪", "en": "Ice " * 80}, "x 1.0.0 · ok",
                        [SceneRow("a", "ice", {"zh": "冰", "ru": "Лёд"}, 2,
                                  [(0.0, None), (20.0, None)], "scene 'a': broken")],
                        TILE, fonts)
    assert img.mode == "RGB" and img.size[0] > 2 * TILE[0]


def test_the_bundles_own_font_comes_first_and_draws_its_labels(ice_bundle) -> None:
    shipped = [f.path for f in ice_bundle.manifest.files if f.media_type in FONT_MEDIA_TYPES]
    if not shipped:
        pytest.skip("this sample bundle ships no label font")
    fonts = find_fonts(ice_bundle, system=False)
    assert fonts.sources[0].label == f"bundle:{shipped[0]}"
    title = ice_bundle.manifest.title["zh"]
    assert fonts.source_for(title) == f"bundle:{shipped[0]}"
    assert fonts.source_for("冰") != "pillow:default"
    # a character the subset does not have falls through to the next font
    assert fonts.source_for("\u9fa5") != f"bundle:{shipped[0]}"


@pytest.mark.render
def test_cli_preview_writes_the_sheet(ice_exb: Path, tmp_path: Path) -> None:
    from exhibit_engine.cli import main

    out = tmp_path / "sheet.png"
    res = CliRunner().invoke(main, ["preview", str(ice_exb), "-o", str(out), "--at", "0",
                                    "--at", "12.5", "--tile", "160x90"])
    assert res.exit_code == 0, res.output
    assert "2 scenes, 4 frames" in res.output and out.is_file()
    res = CliRunner().invoke(main, ["preview", str(tmp_path / "missing.exb"), "-o",
                                    str(out)])
    assert res.exit_code == 1 and "bundle file not found" in res.output


SOURCES = sorted(p.parent for p in (ROOT / "content").glob("*/bundle.toml"))


@pytest.mark.render
@pytest.mark.parametrize("src", SOURCES, ids=[p.name for p in SOURCES])
def test_every_sample_bundle_packs_validates_and_previews(src: Path, tmp_path: Path) -> None:
    from exhibit_engine.assets.bundle import validate

    exb = tmp_path / f"{src.name}.exb"
    pack(src, exb)
    manifest = validate(exb)
    result = contact_sheet(exb, tmp_path / "sheet.png", times=(0.0, 20.0), tile=TILE,
                           cache=ModelCache(tmp_path / "c"))
    assert result.failures == ()
    assert result.frames == 2 * len(manifest.scenes) > 0
    sheet = np.asarray(Image.open(result.path).convert("RGB"), dtype=np.float64)
    for row in range(len(manifest.scenes)):
        assert tile_at(sheet, row, 0).std() > 10, "a real scene in every row"
