"""`processor = "woodblock"`: the packer cuts a painting into the blocks of a print."""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets import image
from exhibit_engine.assets import woodblock as wb
from exhibit_engine.assets import woodblock_pack as wbp
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


# --------------------------------------------------------------------------- finished print

LAYERED_TOML = """\
[bundle]
id = "layers"
version = "1.0.0"
title = { en = "Layers" }

[[scenes]]
id = "walk"
kind = "prints"
assets = ["prints/dawn/blocks.json"]
"""
PAPER = (242, 235, 218)
#: Light to dark, the key block last (eight: the most a layered print may have).
INKS = [(169, 190, 214), (214, 160, 60), (200, 68, 47), (120, 150, 90), (40, 90, 60),
        (70, 60, 120), (35, 45, 90), (42, 36, 33)]
H, W = 96, 160


def _masks(n: int) -> list[np.ndarray]:
    """Block k inks column band k fully (and nothing else); the right quarter is bare."""
    band = (W * 3 // 4) // n
    masks = []
    for k in range(n):
        m = np.zeros((H, W), np.uint8)
        m[:, k * band:(k + 1) * band] = 255
        masks.append(m)
    return masks


def _layered(tmp_path: Path, n: int, *, grain: bool = True, extra: str = "") -> Path:
    """A layered print ``dawn``: a blocks.json naming ``n`` masks made elsewhere."""
    src = tmp_path / "layered"
    folder = src / "prints" / "dawn"
    folder.mkdir(parents=True)
    (src / "bundle.toml").write_text(LAYERED_TOML + extra, encoding="utf-8")
    blocks = []
    for k, m in enumerate(_masks(n)):
        Image.fromarray(m).save(folder / f"block-{k + 1}.png")
        ink = INKS[len(INKS) - n + k]
        blocks.append({"ink": wb.rgb_to_hex(ink), "mask": f"prints/dawn/block-{k + 1}.png"})
    doc = {"format": "exhibit-woodblock/1", "item": "dawn", "paper": wb.rgb_to_hex(PAPER),
           "blocks": blocks}
    if grain:
        Image.fromarray(wb.paper_grain(64, seed=5)).save(src / "prints" / "paper.png")
        doc["grain"] = "prints/paper.png"
    (folder / "blocks.json").write_text(json.dumps(doc), encoding="utf-8")
    return src


def _shader(paper, inks, masks, grain) -> np.ndarray:
    """print.frag.glsl's finished sheet in floats (no gallery light): the reference."""
    h, w = masks[0].shape
    g = np.full((1, 1, 3), 200.0) if grain is None else grain.astype(np.float64)
    gh, gw = g.shape[:2]
    u = (np.arange(w) + 0.5) / w * 2.5
    v = (h - np.arange(h) - 0.5) / h * (2.5 * h / w)     # v runs up the sheet
    tex = g[(gh - 1 - np.floor(v * gh).astype(int) % gh)[:, None],
            (np.floor(u * gw).astype(int) % gw)[None, :]] / 255.0
    lin = lambda c: (np.asarray(c, np.float64) / 255.0) ** 2.2  # noqa: E731
    sheet = lin(paper) * ((0.9 + 0.14 * tex[..., :1]) * (0.97 + 0.05 * tex[..., 1:2]))
    for k, (ink, m) in enumerate(zip(inks, masks, strict=True)):
        dry = 0.0 if k == len(inks) - 1 else 0.5
        cov = np.clip(m / 255.0 * (1 - dry * (tex[..., 2] - 0.35) * 0.6), 0, 1)[..., None]
        sheet = sheet * (1 + cov * (np.minimum(1, lin(ink) / lin(paper)) - 1))
    return np.clip(np.minimum(sheet, 1) ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8)


def _files(exb: Path) -> dict[str, bytes]:
    with Bundle.open(exb) as b:
        return {f.path: b.read(f.path) for f in b.manifest.files}


def _check_finished(exb: Path, item: str) -> np.ndarray:
    """The picture, thumbnail and pyramid of ``item`` are in the bundle, hashed and valid."""
    validate(exb)
    where = wbp.print_images(item)
    with Bundle.open(exb) as b:
        listed = {f.path: f.sha256 for f in b.manifest.files}
        for path in (where.picture, where.thumbnail, where.iiif_info):
            assert path in listed, path
            assert hashlib.sha256(b.read(path)).hexdigest() == listed[path]
        picture = Image.open(io.BytesIO(b.read(where.picture)))
        thumb = Image.open(io.BytesIO(b.read(where.thumbnail)))
        info = json.loads(b.read(where.iiif_info))
    assert picture.format == thumb.format == "JPEG" and picture.mode == "RGB"
    assert max(thumb.size) <= image.THUMB_SIDE
    assert thumb.size[0] / thumb.size[1] == pytest.approx(picture.size[0] / picture.size[1],
                                                          rel=0.02)
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["type"] == "ImageService3" and info["profile"] == "level0"
    assert info["id"] == where.iiif and (info["width"], info["height"]) == picture.size
    factors = info["tiles"][0]["scaleFactors"]
    tile = info["tiles"][0]["width"]
    assert factors[0] == 1
    for s in factors:   # every tile a level-0 client asks for is there
        for y in range(0, info["height"], tile * s):
            for x in range(0, info["width"], tile * s):
                w, h = min(tile * s, info["width"] - x), min(tile * s, info["height"] - y)
                region = "full" if (w, h) == picture.size else f"{x},{y},{w},{h}"
                size = ("max" if (-(-w // s), -(-h // s)) == picture.size
                        else f"{-(-w // s)},{-(-h // s)}")
                assert f"{where.iiif}/{region}/{size}/0/default.jpg" in listed
    return np.asarray(picture, dtype=np.int16)


def test_print_images_names_the_paths_in_one_place() -> None:
    where = wbp.print_images("wave")
    assert where == wbp.PrintImages("prints/wave/print.jpg", "prints/wave/thumbs/print.jpg",
                                    "prints/wave/iiif/info.json")
    assert where.iiif == "prints/wave/iiif"
    with pytest.raises(AttributeError):
        where.picture = "x"  # type: ignore[misc]


def test_a_cut_painting_carries_its_finished_print(tmp_path: Path) -> None:
    out = tmp_path / "sunset.exb"
    pack(_source(tmp_path), out)
    picture = _check_finished(out, "sunset")
    assert picture.shape == (240, 360, 3), "at the masks' resolution"
    with Bundle.open(out) as b:
        doc = json.loads(b.read("prints/sunset/blocks.json"))
        masks = [np.asarray(Image.open(io.BytesIO(b.read(blk["mask"]))))
                 for blk in doc["blocks"]]
        grain = np.asarray(Image.open(io.BytesIO(b.read(doc["grain"]))).convert("RGB"))
    inks = [wb.hex_to_rgb(blk["ink"]) for blk in doc["blocks"]]
    ref = _shader(wb.hex_to_rgb(doc["paper"]), inks, masks, grain).astype(np.int16)
    sheet = wb.printed_sheet(wb.hex_to_rgb(doc["paper"]), inks, masks, grain)
    assert np.abs(sheet - ref).max() <= 1, "the print as the scene draws it"
    assert np.abs(picture - ref).mean() < 4.0, "JPEG at quality 90 of it"
    assert np.abs(picture - _painting()).mean() < 30, "and it looks like the painting"


@pytest.mark.parametrize("n", [1, wbp.MAX_LAYERED_BLOCKS])
def test_a_layered_print_carries_its_finished_print(tmp_path: Path, n: int) -> None:
    out = tmp_path / "layers.exb"
    notes: dict[str, list[str]] = {}
    manifest = pack(_layered(tmp_path, n, grain=False), out, notes=notes)
    assert manifest.scenes[0].assets == ("prints/dawn/blocks.json",)
    assert f"drawn from {n} blocks" in notes["prints/dawn/blocks.json"][0]
    picture = _check_finished(out, "dawn")
    assert picture.shape == (H, W, 3)
    inks = INKS[len(INKS) - n:]
    sheet = wb.printed_sheet(PAPER, inks, _masks(n)).astype(np.int16)
    assert np.abs(sheet - _shader(PAPER, inks, _masks(n), None)).max() <= 1
    band = (W * 3 // 4) // n
    centre = (H // 2, (n - 1) * band + band // 2)
    # where only the key block's mask is full: its ink (the plain sheet is 1 % brighter)
    assert np.abs(sheet[centre] - INKS[-1]).max() <= 3
    assert np.abs(picture[centre] - INKS[-1]).max() <= 6
    # where there is no ink: the paper
    assert np.abs(sheet[H // 2, W - 8] - PAPER).max() <= 3
    assert np.abs(picture[H // 2, W - 8] - PAPER).max() <= 4
    if n > 1:  # a lighter block's ink, thinned where the block was dry as the wall shows it
        light = sheet[H // 2, band // 2]
        assert np.abs(light - INKS[0]).max() <= 16 and (light >= np.array(INKS[0]) - 1).all()


def test_the_grain_shows_in_the_finished_print(tmp_path: Path) -> None:
    src = _layered(tmp_path, 3)
    out = tmp_path / "layers.exb"
    pack(src, out)
    picture = _check_finished(out, "dawn")
    grain = np.asarray(Image.open(src / "prints" / "paper.png").convert("RGB"))
    ref = _shader(PAPER, INKS[-3:], _masks(3), grain).astype(np.int16)
    sheet = wb.printed_sheet(PAPER, INKS[-3:], _masks(3), grain).astype(np.int16)
    assert np.abs(sheet - ref).max() <= 1, "integer maths = the shader's float maths"
    assert np.abs(picture - ref).mean() < 4.0
    bare = sheet[:, W - 30:]
    assert bare.std() > 1.0, "paper fibre and formation, not a flat colour"
    assert np.abs(bare.reshape(-1, 3).mean(axis=0) - PAPER).max() < 4


def test_the_sheet_is_drawn_in_bounded_strips() -> None:
    masks = _masks(4)
    grain = wb.paper_grain(32, seed=1)
    whole = wb.printed_sheet(PAPER, INKS[-4:], masks, grain, rows=H)
    for rows in (1, 7, 64):
        assert np.array_equal(wb.printed_sheet(PAPER, INKS[-4:], masks, grain, rows=rows),
                              whole)
    with pytest.raises(ValueError):
        wb.printed_sheet(PAPER, INKS[-2:], masks)
    with pytest.raises(ValueError):
        wb.printed_sheet(PAPER, INKS[-2:], [masks[0], masks[1][:10]])


@pytest.mark.parametrize("change, rule", [
    (lambda d: d.update(blocks=[]), "needs 1..8 blocks"),
    (lambda d: d.update(blocks=d["blocks"] * 3), "needs 1..8 blocks"),
    (lambda d: d["blocks"][0].update(mask="prints/dawn/none.png"),
     "block 1 mask prints/dawn/none.png is not in the source folder"),
    (lambda d: d["blocks"][1].update(mask="../outside.png"), "block 2 mask must be a file"),
    (lambda d: d["blocks"][0].update(ink="blue"), "colour: not a #rrggbb colour"),
    (lambda d: d.update(item="a/b"), "needs an item id"),
    (lambda d: d.update(grain="prints/dawn/blocks.json"), "grain .* not a readable image"),
])
def test_a_bad_layered_print_is_one_line(tmp_path: Path, change, rule: str) -> None:
    src = _layered(tmp_path, 3)
    path = src / "prints" / "dawn" / "blocks.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(BundleError, match=rule) as err:
        pack(src, tmp_path / "x.exb")
    assert err.value.entry == "prints/dawn/blocks.json"
    assert "\n" not in str(err.value) and "Traceback" not in str(err.value)


def test_masks_of_other_sizes_are_refused(tmp_path: Path) -> None:
    src = _layered(tmp_path, 2)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(src / "prints/dawn/block-2.png")
    with pytest.raises(BundleError, match="block 2 mask is 10x10 px, block 1's 160x96"):
        pack(src, tmp_path / "x.exb")


def test_other_json_is_copied_as_it_is(tmp_path: Path) -> None:
    src = _layered(tmp_path, 1)
    (src / "notes.json").write_bytes(b'{"a": 1}')
    out = tmp_path / "x.exb"
    pack(src, out)
    assert _files(out)["notes.json"] == b'{"a": 1}'
    assert _files(out)["prints/dawn/blocks.json"] == \
        (src / "prints/dawn/blocks.json").read_bytes()


_PACK = "import sys; from exhibit_engine.assets.pack import pack; pack(sys.argv[1], sys.argv[2])"


def test_finished_prints_are_the_same_bytes_on_every_cpu(tmp_path: Path) -> None:
    """A cut painting and a layered print, packed with numpy's kernels switched as
    tests/scenes/test_scenes_generator.py does: the same bundle, byte for byte."""
    src = _source(tmp_path)
    layered = _layered(tmp_path, wbp.MAX_LAYERED_BLOCKS)
    shutil.copytree(layered / "prints", src / "prints", dirs_exist_ok=True)
    avx512 = "AVX512_SPR AVX512_ICL X86_V4"
    variants = {"as-is": {}, "no-avx512": {"NPY_DISABLE_CPU_FEATURES": avx512},
                "baseline-simd": {"NPY_DISABLE_CPU_FEATURES": f"X86_V3 {avx512}",
                                  **({"OPENBLAS_CORETYPE": "Nehalem"}
                                     if platform.machine() in ("x86_64", "AMD64") else {})}}
    base = {k: v for k, v in os.environ.items()
            if k not in ("NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES",
                         "OPENBLAS_CORETYPE")}
    procs = {name: subprocess.Popen([sys.executable, "-c", _PACK, str(src),
                                     str(tmp_path / f"{name}.exb")],
                                    env={**base, **extra}, stderr=subprocess.PIPE, text=True)
             for name, extra in variants.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {err}"
    made = {name: (tmp_path / f"{name}.exb").read_bytes() for name in variants}
    files = _files(tmp_path / "as-is.exb")
    assert {"prints/sunset/print.jpg", "prints/dawn/print.jpg"} <= set(files)
    for name, data in made.items():
        assert data == made["as-is"], f"{name} kernels made other bytes"


_TWELVE = ", ".join(f'"{wb.rgb_to_hex((20 * k, 200 - 15 * k, 60 + 10 * k))}"' for k in range(12))


@pytest.mark.parametrize("options, n", [("inks = 1", 1), (f"palette = [{_TWELVE}]", 12)],
                         ids=["one-block", "most-blocks"])
def test_a_cut_painting_of_one_or_the_most_blocks_is_drawn(tmp_path: Path, options: str,
                                                          n: int) -> None:
    out = tmp_path / "sunset.exb"
    pack(_source(tmp_path, options), out)
    picture = _check_finished(out, "sunset")
    with Bundle.open(out) as b:
        doc = json.loads(b.read("prints/sunset/blocks.json"))
        masks = [np.asarray(Image.open(io.BytesIO(b.read(blk["mask"]))))
                 for blk in doc["blocks"]]
        grain = np.asarray(Image.open(io.BytesIO(b.read(doc["grain"]))).convert("RGB"))
    assert len(doc["blocks"]) == n
    inks = [wb.hex_to_rgb(blk["ink"]) for blk in doc["blocks"]]
    ref = _shader(wb.hex_to_rgb(doc["paper"]), inks, masks, grain).astype(np.int16)
    assert np.abs(wb.printed_sheet(wb.hex_to_rgb(doc["paper"]), inks, masks, grain)
                  - ref).max() <= 1
    assert np.abs(picture - ref).mean() < 4.0
