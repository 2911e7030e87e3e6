"""assets/image.py: bounded decode, sRGB PNG/JPEG, thumbnails and IIIF level-0 tiles."""

from __future__ import annotations

import io
import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets import image as imagemod
from exhibit_engine.assets._processing import Output, PackContext
from exhibit_engine.assets.checks import image_header
from exhibit_engine.assets.image import iiif_pyramid, process
from exhibit_engine.errors import AssetError, BundleError


def _ctx(rel: str, **opts: Any) -> PackContext:
    return PackContext(src=Path("/src"), doc={"bundle": {}, "assets": {rel: opts}},
                       texts=())


def _run(rel: str, data: bytes, **opts: Any) -> tuple[dict[str, bytes], PackContext]:
    ctx = _ctx(rel, **opts)
    outs = process(ctx, rel, data)
    return {o.path: o.data for o in outs}, ctx


def _encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _photo(w: int, h: int, seed: int = 0) -> Image.Image:
    """Smooth gradients plus noise: compresses like a photograph."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    rgb = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1),
                    (x + y) * 127 // max(w + h, 1)], axis=-1)
    rgb = rgb + rng.integers(0, 24, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(kind + body)))


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` pixels; its data is a few bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b""))


# --------------------------------------------------------------------------- refusals


def test_huge_header_is_refused_before_decoding() -> None:
    saved = Image.MAX_IMAGE_PIXELS
    with pytest.raises(BundleError) as err:
        _run("prints/huge.png", huge_png())
    assert err.value.entry == "prints/huge.png"
    assert "100000x100000 pixels is too large" in err.value.rule
    assert Image.MAX_IMAGE_PIXELS == saved  # Pillow's global is left as it was


def test_header_check_names_format_and_limit() -> None:
    assert image_header(huge_png(30, 20), "x.png") == ("PNG", 30, 20)
    with pytest.raises(AssetError, match="too large"):
        image_header(huge_png(9000, 9000), "x.png")
    with pytest.raises(AssetError, match="format GIF is not allowed"):
        image_header(_encode(Image.new("P", (4, 4)), "GIF"), "x.gif")
    with pytest.raises(AssetError, match="not a readable image"):
        image_header(b"\x00" * 64, "x.png")


def test_truncated_jpeg_is_refused() -> None:
    data = _encode(_photo(320, 240), "JPEG", quality=90)
    with pytest.raises(BundleError) as err:
        _run("a.jpg", data[: len(data) // 2])
    assert err.value.entry == "a.jpg" and "not a readable image" in err.value.rule
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("opts", "rule"), [
    ({"tiles": "yes"}, "tiles must be true or false"),
    ({"format": "gif"}, 'format must be "png" or "jpeg"'),
    ({"max_size": 10}, "max_size must be"),
    ({"size": 10}, "unknown image option(s) size"),
])
def test_bad_options_are_refused(opts: dict[str, Any], rule: str) -> None:
    with pytest.raises(BundleError) as err:
        _run("a.png", _encode(Image.new("RGB", (8, 8)), "PNG"), **opts)
    assert rule in err.value.rule


# --------------------------------------------------------------------------- outputs


def test_jpeg_photo_keeps_its_pixels_and_loses_its_metadata() -> None:
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    data = _encode(_photo(640, 480), "JPEG", quality=92, exif=exif.tobytes(),
                   comment=b"private note")
    files, _ = _run("photos/a.jpeg", data)
    assert list(files) == ["photos/a.jpg", "photos/thumbs/a.jpg"]
    out = files["photos/a.jpg"]
    assert b"SecretCam" not in out and b"private note" not in out
    assert np.array_equal(np.asarray(_open(out)), np.asarray(_open(data)))  # lossless


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = _encode(_photo(300, 200), "JPEG", exif=exif.tobytes())
    files, _ = _run("a.jpg", data)
    img = _open(files["a.jpg"])
    assert img.size == (200, 300) and not img.getexif()


def test_alpha_becomes_rgba_png_and_opaque_alpha_is_dropped() -> None:
    rgba = Image.new("RGBA", (64, 32), (10, 20, 30, 128))
    files, _ = _run("a.webp", _encode(rgba, "WEBP", lossless=True))
    assert _open(files["a.png"]).mode == "RGBA"
    opaque = Image.new("RGBA", (64, 32), (10, 20, 30, 255))
    files, _ = _run("b.png", _encode(opaque, "PNG"))
    assert _open(files["b.png"]).mode == "RGB"
    assert _open(files["thumbs/b.jpg"]).format == "JPEG"


def test_lossless_sources_stay_png_and_metadata_is_stripped() -> None:
    img = _photo(100, 80)
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone private")
    for rel, data in [("a.png", _encode(img, "PNG", pnginfo=info)),
                      ("b.tif", _encode(img, "TIFF")), ("c.bmp", _encode(img, "BMP"))]:
        files, _ = _run(rel, data)
        out = files[rel.rsplit(".", 1)[0] + ".png"]
        assert b"someone private" not in out
        assert np.array_equal(np.asarray(_open(out)), np.asarray(img))


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    grey = np.array([[0, 32768, 65535]], dtype=np.uint16)
    files, _ = _run("g.png", _encode(Image.fromarray(grey), "PNG"))
    out = np.asarray(_open(files["g.png"]))
    assert out[0, :, 0].tolist() == [0, 128, 255] and out.shape == (1, 3, 3)


def test_thumbnail_and_display_sizes() -> None:
    files, ctx = _run("a.png", _encode(_photo(1200, 800), "PNG"), max_size=600)
    assert _open(files["a.png"]).size == (600, 400)
    assert _open(files["thumbs/a.jpg"]).size == (512, 341)
    assert any("1200x800 -> 600x400" in n for n in ctx.notes["a.png"])


def test_format_option_forces_jpeg() -> None:
    files, _ = _run("a.png", _encode(_photo(64, 64), "PNG"), format="jpeg")
    assert _open(files["a.jpg"]).format == "JPEG"


def test_output_is_deterministic() -> None:
    data = _encode(_photo(700, 300), "PNG")
    assert _run("a.png", data, tiles=True)[0] == _run("a.png", data, tiles=True)[0]


# --------------------------------------------------------------------------- IIIF


def _tile_paths(width: int, height: int, tile: int, factors: list[int]) -> list[str]:
    """Every tile path a IIIF 3.0 level-0 client (OpenSeadragon) asks for."""
    paths = []
    for s in factors:
        for y in range(0, height, tile * s):
            for x in range(0, width, tile * s):
                w, h = min(tile * s, width - x), min(tile * s, height - y)
                region = "full" if (w, h) == (width, height) else f"{x},{y},{w},{h}"
                sw, sh = math.ceil(w / s), math.ceil(h / s)
                size = "max" if (sw, sh) == (width, height) else f"{sw},{sh}"
                paths.append(f"{region}/{size}/0/default.jpg")
    return paths


def test_iiif_level0_pyramid_layout() -> None:
    files, ctx = _run("prints/wave.png", _encode(_photo(1300, 700), "PNG"), tiles=True)
    info = json.loads(files["prints/iiif/wave/info.json"])
    assert info["@context"] == "http://iiif.io/api/image/3/context.json"
    assert info["type"] == "ImageService3" and info["profile"] == "level0"
    assert info["protocol"] == "http://iiif.io/api/image"
    assert info["id"] == "prints/iiif/wave"
    assert (info["width"], info["height"]) == (1300, 700)
    assert info["tiles"] == [{"width": 512, "height": 512, "scaleFactors": [1, 2, 4]}]
    assert info["sizes"] == [{"width": 325, "height": 175}, {"width": 650, "height": 350}]
    expected = _tile_paths(1300, 700, 512, [1, 2, 4])
    assert "0,0,512,512/512,512/0/default.jpg" in expected
    assert "full/325,175/0/default.jpg" in expected
    for path in expected:
        tile = _open(files[f"prints/iiif/wave/{path}"])
        w, h = (int(v) for v in path.split("/")[1].split(","))
        assert tile.size == (w, h) and tile.format == "JPEG"
    for size in info["sizes"]:
        name = f"prints/iiif/wave/full/{size['width']},{size['height']}/0/default.jpg"
        assert _open(files[name]).size == (size["width"], size["height"])
    assert len(files) == 3 + len(expected) + 1  # display, thumb, info, tiles, one size
    assert any("IIIF" in n for n in ctx.notes["prints/wave.png"])


def test_tiles_are_made_for_long_images_only_by_default() -> None:
    files, _ = _run("long.png", _encode(Image.new("RGB", (4100, 40)), "PNG"))
    assert "iiif/long/info.json" in files
    files, _ = _run("short.png", _encode(Image.new("RGB", (4096, 40)), "PNG"))
    assert not any(p.startswith("iiif/") for p in files)
    files, _ = _run("off.png", _encode(Image.new("RGB", (4100, 40)), "PNG"), tiles=False)
    assert not any(p.startswith("iiif/") for p in files)


def test_tile_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imagemod, "MAX_TILES", 3)
    with pytest.raises(AssetError, match="more than the limit of 3"):
        iiif_pyramid(Image.new("RGB", (1100, 600)), "iiif/x")


def test_pyramid_of_a_single_tile_image_uses_full_and_max() -> None:
    outs = iiif_pyramid(Image.new("RGB", (300, 200)), "iiif/s")
    assert [o.path for o in outs] == ["iiif/s/info.json", "iiif/s/full/max/0/default.jpg"]
    assert isinstance(outs[0], Output)
