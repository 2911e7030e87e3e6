"""`processor = "woodblock"`: the packer cuts a painting into the blocks of a print."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets import woodblock as wb
from exhibit_engine.assets.bundle import Bundle, validate
from exhibit_engine.assets.pack import pack
from exhibit_engine.errors import BundleError

TOML = """\
[bundle]
id = "sunset"
version = "1.0.0"
title = { en = "Sunset" }

[[scenes]]
id = "walk"
kind = "prints"
assets = ["prints/sunset.png"]

[assets."prints/sunset.png"]
processor = "woodblock"
{options}
"""


def _painting() -> np.ndarray:
    """Flat colour areas, as a woodblock design has: sky, sun, hills, field."""
    h, w = 240, 360
    y, x = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (236, 228, 206)                                   # paper-white sky
    img[(x - 250) ** 2 + (y - 70) ** 2 < 30 ** 2] = (200, 70, 50)   # vermilion sun
    img[y > 120 + 20 * np.sin(x / 40.0)] = (52, 78, 120)     # indigo hills
    img[y > 190] = (200, 160, 70)                             # ochre field
    img[(y > 200) & (x % 60 < 4)] = (40, 32, 30)              # key-block furrows
    return img


def _source(tmp_path: Path, options: str = "inks = 4\nseed = 3") -> Path:
    src = tmp_path / "src"
    (src / "prints").mkdir(parents=True)
    (src / "bundle.toml").write_text(TOML.replace("{options}", options), encoding="utf-8")
    Image.fromarray(_painting()).save(src / "prints" / "sunset.png")
    return src


def test_a_painting_is_cut_into_blocks_light_to_dark(tmp_path: Path) -> None:
    out = tmp_path / "sunset.exb"
    notes: dict[str, list[str]] = {}
    manifest = pack(_source(tmp_path), out, notes=notes)
    validate(out)
    assert manifest.scenes[0].assets == ("prints/sunset/blocks.json",)
    assert "cut into 4 blocks" in notes["prints/sunset.png"][0]
    with Bundle.open(out) as b:
        doc = json.loads(b.read("prints/sunset/blocks.json"))
        inks = [wb.hex_to_rgb(block["ink"]) for block in doc["blocks"]]
        masks = [np.asarray(Image.open(io.BytesIO(b.read(block["mask"]))))
                 for block in doc["blocks"]]
        assert b.manifest.file(doc["grain"]) is not None
    assert len(inks) == 4
    lightness = [wb.srgb_to_lab(np.array([[c]], np.uint8))[0, 0, 0] for c in inks]
    assert lightness == sorted(lightness, reverse=True), "lightest ink first, key block last"
    sheet = wb.composite(wb.hex_to_rgb(doc["paper"]), inks,
                         [m.astype(np.float32) / 255 for m in masks])
    assert np.abs(sheet.astype(float) - _painting().astype(float)).mean() < 30, \
        "the printed blocks reproduce the painting"


def test_cutting_is_reproducible(tmp_path: Path) -> None:
    a, b = tmp_path / "a.exb", tmp_path / "b.exb"
    src = _source(tmp_path)
    pack(src, a)
    pack(src, b)
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("options, rule", [
    ("inks = 40", "inks must be a whole number 1-12"),
    ('palette = ["#zzzzzz"]', "woodblock option"),
    ("colour = 3", r"unknown woodblock option\(s\): colour"),
    ("max_side = 5", "max_side must be 64-4096"),
])
def test_bad_woodblock_options_are_one_line(tmp_path: Path, options: str, rule: str) -> None:
    with pytest.raises(BundleError, match=rule) as err:
        pack(_source(tmp_path, options), tmp_path / "x.exb")
    assert err.value.entry == "prints/sunset.png"


def test_an_unknown_processor_is_refused(tmp_path: Path) -> None:
    src = _source(tmp_path)
    text = (src / "bundle.toml").read_text().replace('"woodblock"', '"engrave"')
    (src / "bundle.toml").write_text(text)
    with pytest.raises(BundleError, match="unknown processor 'engrave'"):
        pack(src, tmp_path / "x.exb")


@pytest.mark.render
def test_the_cut_print_hangs_in_the_prints_scene(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "sunset.exb"
    pack(_source(tmp_path), out)
    png = tmp_path / "frame.png"
    res = subprocess.run([str(Path(sys.executable).with_name("exhibit")), "render", str(out),
                          "--scene", "walk", "--at", "30", "--size", "320x180", "-o", str(png)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    frame = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    assert frame.std() > 10, "a gallery wall with a framed print, not a blank frame"
