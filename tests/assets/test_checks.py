"""assets/checks.py: a bundle's files are checked by media type before any loader."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.checks import CHECKS, check_entry
from exhibit_engine.assets.pack import pack
from exhibit_engine.errors import AssetError, BundleError

from .test_image import huge_png
from .zipkit import POINTS, glb, triangle_doc, with_manifest, write_zip

def _bundle(tmp_path: Path, files: dict[str, bytes]) -> Path:
    return write_zip(tmp_path / "b.exb", with_manifest(files))


def _refused(tmp_path: Path, files: dict[str, bytes]) -> BundleError:
    path = _bundle(tmp_path, files)
    with Bundle.open(path) as bundle, pytest.raises(BundleError) as err:
        list(bundle.iter_verified(CHECKS))
    assert err.value.bundle == str(path)
    assert "\n" not in str(err.value)
    return err.value


def _png(size: tuple[int, int] = (4, 4)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


def test_glb_with_an_external_buffer_uri_is_refused(tmp_path: Path) -> None:
    doc = triangle_doc(buffers=[{"uri": "model.bin", "byteLength": 36}])
    err = _refused(tmp_path, {"ok.png": _png(), "meshes/a.glb": glb(doc, None)})
    assert err.entry == "meshes/a.glb"
    assert "buffers[0].uri: external URI 'model.bin' is not allowed" in err.rule


def test_glb_with_a_parent_directory_image_uri_is_refused(tmp_path: Path) -> None:
    doc = triangle_doc(images=[{"uri": "../../etc/shadow.png"}])
    err = _refused(tmp_path, {"meshes/b.glb": glb(doc)})
    assert err.entry == "meshes/b.glb" and "images[0].uri: external URI" in err.rule


def test_glb_requiring_an_unknown_extension_is_refused(tmp_path: Path) -> None:
    doc = triangle_doc(extensionsRequired=["KHR_draco_mesh_compression"],
                       extensionsUsed=["KHR_draco_mesh_compression"])
    err = _refused(tmp_path, {"meshes/c.glb": glb(doc)})
    assert err.entry == "meshes/c.glb"
    assert err.rule == "requires unsupported glTF extension(s): KHR_draco_mesh_compression"


def test_image_with_a_huge_header_is_refused(tmp_path: Path) -> None:
    err = _refused(tmp_path, {"img/fine.png": _png(), "img/huge.png": huge_png()})
    assert err.entry == "img/huge.png"
    assert "100000x100000 pixels is too large" in err.rule


@pytest.mark.parametrize("size", [(100_000, 100_000), (10_000, 10_000)])
def test_glb_embedding_a_huge_image_is_refused(tmp_path: Path, size: tuple[int, int]) -> None:
    png = huge_png(*size)
    binary = POINTS + png
    doc = triangle_doc(buffers=[{"byteLength": len(binary)}],
                       bufferViews=[{"buffer": 0, "byteLength": len(POINTS)},
                                    {"buffer": 0, "byteOffset": len(POINTS),
                                     "byteLength": len(png)}],
                       images=[{"bufferView": 1, "mimeType": "image/png"}])
    err = _refused(tmp_path, {"meshes/d.glb": glb(doc, binary)})
    assert err.entry == "meshes/d.glb" and "too large" in err.rule


@pytest.mark.parametrize(("name", "data", "rule"), [
    ("a.png", b"\xff\xd8\xff\xe0" + bytes(60), "not a readable image"),
    ("b.webp", None, "image format WEBP is not allowed"),
    ("c.json", b'{"a": 1, "a": 2}', "duplicate JSON key 'a'"),
    ("d.json", b'{"a": NaN}', "non-finite number NaN"),
    ("e.json", b"[" * 40 + b"]" * 40, "nested deeper than 32"),
    ("iiif/x/info.json", json.dumps({"@context": "http://iiif.io/api/image/3/context.json",
                                     "width": -1, "height": 5}).encode(),
     "IIIF width and height"),
    ("f.glb", b"glTF\x02\x00\x00\x00" + bytes(12), "GLB header claims"),
])
def test_each_file_kind_has_its_rule(name: str, data: bytes | None, rule: str) -> None:
    if data is None:
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, "WEBP")
        data = buf.getvalue()
    with pytest.raises(AssetError) as err:
        check_entry(name, data)
    assert rule in err.value.rule and err.value.path == name


def test_jpeg_named_png_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "JPEG")
    err = _refused(tmp_path, {"a.png": buf.getvalue()})
    assert err.entry == "a.png" and err.rule == "content is JPEG, but the name says PNG"


def test_damaged_png_is_refused(tmp_path: Path) -> None:
    data = bytearray(_png((16, 16)))
    data[-20] ^= 0xFF  # inside IDAT: its CRC no longer matches
    err = _refused(tmp_path, {"a.png": bytes(data)})
    assert err.entry == "a.png" and "damaged PNG image" in err.rule


def test_good_files_pass_and_are_yielded_in_order(tmp_path: Path) -> None:
    files = {"a.glb": glb(triangle_doc()), "b.png": _png(), "c.json": b'{"k": [1, 2]}',
             "d.txt": b"anything"}
    with Bundle.open(_bundle(tmp_path, files)) as bundle:
        assert [e.path for e in bundle.iter_verified(CHECKS)] == list(files)


def test_a_packed_bundle_with_tiles_passes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "prints").mkdir(parents=True)
    Image.new("RGB", (1100, 600), (200, 100, 50)).save(src / "prints" / "p.tif")
    (src / "bundle.toml").write_text(
        '[bundle]\nid = "p"\nversion = "1.0.0"\ntitle = { en = "P" }\n'
        '[[scenes]]\nid = "s"\nkind = "prints"\nassets = ["prints/p.tif"]\n'
        '[assets."prints/p.tif"]\ntiles = true\n', encoding="utf-8")
    out = tmp_path / "p.exb"
    manifest = pack(src, out)
    assert manifest.scenes[0].assets == ("prints/p.png",)
    assert "prints/iiif/p/info.json" in {f.path for f in manifest.files}
    with Bundle.open(out) as bundle:
        list(bundle.iter_verified(CHECKS))
