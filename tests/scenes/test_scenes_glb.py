"""load_glb: GLB assets convert in memory, land Z-up, and never reach outside themselves."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from PIL import Image

from exhibit_engine.errors import AssetError

ROOT = Path(__file__).resolve().parents[2]
CASTLE = ROOT / "content" / "ice-festival" / "meshes" / "castle.glb"
LANTERN = ROOT / "content" / "ice-festival" / "meshes" / "lantern.glb"

# One triangle: 3 float32 positions.
_TRI = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)


def glb(doc: dict, binary: bytes | None = None) -> bytes:
    """A GLB container around a glTF JSON document and an optional BIN chunk."""
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    chunks = struct.pack("<I", len(js)) + b"JSON" + js
    if binary is not None:
        binary += b"\0" * (-len(binary) % 4)
        chunks += struct.pack("<I", len(binary)) + b"BIN\0" + binary
    return b"glTF" + struct.pack("<II", 2, 12 + len(chunks)) + chunks


def triangle_doc(buffer: dict, **extra) -> dict:
    return {
        "asset": {"version": "2.0"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "material": 0}]}],
        "materials": [{"name": "m"}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                       "min": [0, 0, 0], "max": [1, 1, 0]}],
        "bufferViews": [{"buffer": 0, "byteLength": len(_TRI)}],
        "buffers": [buffer],
        **extra,
    }


@pytest.fixture
def no_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if panda3d-gltf is asked to convert anything."""
    import gltf._converter

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the converter must not run for a rejected GLB")

    monkeypatch.setattr(gltf._converter.Converter, "update", refuse)


@pytest.mark.parametrize("uri", ["../secret.bin", "/etc/passwd", "file:///etc/passwd",
                                 "http://example.org/a.bin", "tri.bin"])
def test_external_buffer_uri_is_rejected_before_conversion(uri: str, no_conversion: None) -> None:
    from exhibit_engine.scenes.base import load_glb

    data = glb(triangle_doc({"byteLength": len(_TRI), "uri": uri}))
    with pytest.raises(AssetError) as err:
        load_glb(data, "meshes/evil.glb")
    assert err.value.path == "meshes/evil.glb"
    assert "external URI" in err.value.rule and "buffers[0].uri" in err.value.rule


def test_external_image_uri_is_rejected(no_conversion: None) -> None:
    from exhibit_engine.scenes.base import load_glb

    doc = triangle_doc({"byteLength": len(_TRI)}, images=[{"uri": "../../textures/x.png"}])
    with pytest.raises(AssetError, match=r"images\[0\]\.uri: external URI"):
        load_glb(glb(doc, _TRI), "meshes/evil.glb")


def test_image_claiming_a_huge_size_is_rejected(no_conversion: None) -> None:
    from exhibit_engine.scenes.base import load_glb

    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, format="PNG")
    png = bytearray(buf.getvalue())
    png[16:24] = struct.pack(">II", 100_000, 100_000)   # IHDR width, height (bad CRC too)
    binary = _TRI + bytes(png)
    doc = triangle_doc({"byteLength": len(binary)},
                       images=[{"bufferView": 1, "mimeType": "image/png"}])
    doc["bufferViews"].append({"buffer": 0, "byteOffset": len(_TRI), "byteLength": len(png)})
    with pytest.raises(AssetError, match=r"images\[0\]"):
        load_glb(glb(doc, binary), "meshes/bomb.glb")


@pytest.mark.parametrize("data, rule", [
    (b"not a glb at all", "not a GLB"),
    (b"glTF" + struct.pack("<II", 1, 20) + b"\0" * 8, "version 1"),
    (b"glTF" + struct.pack("<II", 2, 999) + b"\0" * 8, "claims 999 bytes"),
])
def test_malformed_containers_are_asset_errors(data: bytes, rule: str) -> None:
    from exhibit_engine.scenes.base import load_glb

    with pytest.raises(AssetError, match=rule):
        load_glb(data, "meshes/bad.glb")


def test_embedded_triangle_converts() -> None:
    from exhibit_engine.scenes.base import load_glb

    model = load_glb(glb(triangle_doc({"byteLength": len(_TRI)}), _TRI), "meshes/tri.glb")
    assert model.get_name() == "tri"
    assert len(model.find_all_matches("**/+GeomNode")) == 1


def test_castle_lands_z_up_in_metres() -> None:
    from panda3d.core import InternalName

    from exhibit_engine.scenes.base import load_glb

    model = load_glb(CASTLE.read_bytes(), "meshes/castle.glb")
    lo, hi = model.get_tight_bounds()
    assert abs(lo.z) < 0.1, "the castle stands on the ground (z = 0)"
    assert 25.0 < hi.z < 35.0, "the keep's spire is about 30 m tall"
    assert lo.y < -19.5 and hi.y < 19.5, "the gate stairs face -Y"
    # UV set 0 is readable as p3d_MultiTexCoord0 (Panda's default texcoord column).
    geom = model.find("**/+GeomNode").node().get_geom(0)
    assert geom.get_vertex_data().get_format().has_column(InternalName.get_texcoord())


def test_lantern_is_human_scale_with_a_glow_mesh() -> None:
    from exhibit_engine.scenes.base import load_glb

    model = load_glb(LANTERN.read_bytes(), "meshes/lantern.glb")
    lo, hi = model.get_tight_bounds()
    assert 1.5 < hi.z - lo.z < 2.2
    assert not model.find("**/glow*").is_empty()
