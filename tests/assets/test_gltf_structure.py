"""check_gltf proves a model will load: a corpus of broken glTF made here, each refused
before any loader runs in one line naming the file and the rule, and the valid-but-odd
ones (a camera without zfar, lights) accepted.

The models are built byte by byte by :func:`quad` (a textured-free square of two
triangles, indexed) and edited per case. Every refused case also goes through
``exhibit validate`` on a bundle holding it.
"""

from __future__ import annotations

import base64
import copy
import os
import struct
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.assets.gltf import check_gltf, converter_document, split_glb
from exhibit_engine.errors import AssetError

from .zipkit import glb, png_header, with_manifest, write_zip

EXHIBIT = Path(sys.executable).with_name("exhibit")
_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP438AAAAQBAYDFKhhd"
                        "AAAAAElFTkSuQmCC")
NAME = "meshes/m.glb"

_POSITIONS = struct.pack("<12f", 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0)
_INDICES = struct.pack("<6H", 0, 1, 2, 0, 2, 3)


def quad() -> tuple[dict[str, Any], bytes]:
    """A valid glTF square: 4 float positions, 6 ushort indices, a node, a scene."""
    doc: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(_POSITIONS) + len(_INDICES)}],
        "bufferViews": [
            {"buffer": 0, "byteLength": len(_POSITIONS), "target": 34962},
            {"buffer": 0, "byteOffset": len(_POSITIONS), "byteLength": 12, "target": 34963},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 4, "type": "VEC3",
             "min": [0, 0, 0], "max": [1, 1, 0]},
            {"bufferView": 1, "componentType": 5123, "count": 6, "type": "SCALAR"},
        ],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [0.8, 0.6, 0.2, 1]}}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1,
                                    "material": 0}]}],
        "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}], "scene": 0,
    }
    return doc, _POSITIONS + _INDICES


def _edit(change: Callable[[dict[str, Any]], Any], binary: bytes | None = None
          ) -> bytes:
    doc, data = quad()
    change(doc)
    return glb(doc, data if binary is None else binary)


def _append(doc: dict[str, Any], binary: bytearray, blob: bytes, **view: Any) -> int:
    """Add ``blob`` to the BIN chunk (4-byte aligned) and a bufferView over it."""
    binary += b"\0" * (-len(binary) % 4)
    doc["bufferViews"].append({"buffer": 0, "byteOffset": len(binary),
                               "byteLength": len(blob), **view})
    binary += blob
    doc["buffers"][0]["byteLength"] = len(binary)
    return len(doc["bufferViews"]) - 1


def _sparse(indices: list[int], *, in_mesh: bool = False) -> bytes:
    """The quad with a sparse copy of its positions (accessors[2]), used by the mesh or not.

    panda3d-gltf does not apply sparse data: load_glb makes it dense first.
    """
    doc, data = quad()
    binary = bytearray(data)
    iv = _append(doc, binary, struct.pack(f"<{len(indices)}H", *indices) + b"\0\0")
    vv = _append(doc, binary, struct.pack(f"<{3 * len(indices)}f", *[0.5] * 3 * len(indices)))
    doc["accessors"].append(copy.deepcopy(doc["accessors"][0]))
    if in_mesh:
        doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"] = 2
    doc["accessors"][2]["max"] = [1, 1, 0.5]
    doc["accessors"][2]["sparse"] = {
        "count": len(indices),
        "indices": {"bufferView": iv, "componentType": 5123},
        "values": {"bufferView": vv}}
    return glb(doc, bytes(binary))


def _ktx2(doc: dict[str, Any]) -> None:
    doc["images"] = [{"uri": "data:image/ktx2;base64," + base64.b64encode(
        b"\xabKTX 20\xbb\r\n\x1a\n" + bytes(64)).decode()}]
    doc["textures"] = [{"source": 0}]
    doc["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"] = {"index": 0}


def _basisu(doc: dict[str, Any]) -> None:
    _ktx2(doc)
    doc["textures"] = [{"extensions": {"KHR_texture_basisu": {"source": 0}}}]


def _png_texture(doc: dict[str, Any]) -> None:
    doc["images"] = [{"uri": "data:image/png;base64," + base64.b64encode(_PNG).decode()}]
    doc["textures"] = [{"source": 0}]
    doc["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"] = {"index": 0}


def _draco(doc: dict[str, Any]) -> None:
    doc["meshes"][0]["primitives"][0]["extensions"] = {
        "KHR_draco_mesh_compression": {"bufferView": 0, "attributes": {"POSITION": 0}}}


def _meshopt(doc: dict[str, Any]) -> None:
    doc["bufferViews"][0]["extensions"] = {"EXT_meshopt_compression": {
        "buffer": 0, "byteLength": 48, "byteStride": 12, "count": 4, "mode": "ATTRIBUTES"}}


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set ``doc[a][b]...`` given as ``"a.b.c"`` (list indices as digits)."""
    def change(doc: dict[str, Any]) -> None:
        *head, last = path.split(".")
        obj: Any = doc
        for key in head:
            obj = obj[int(key)] if key.isdigit() else obj[key]
        obj[int(last) if last.isdigit() else last] = value
    return change


def _cameras(*cams: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["cameras"] = list(cams)
        doc["nodes"].append({"camera": 0, "translation": [0, 0, 3]})
        doc["scenes"][0]["nodes"].append(1)
    return change


def _cycle(doc: dict[str, Any]) -> None:
    doc["nodes"] = [{"mesh": 0}, {"children": [2]}, {"children": [1]}]


def _two_parents(doc: dict[str, Any]) -> None:
    doc["nodes"] = [{"children": [2]}, {"children": [2]}, {"mesh": 0}]
    doc["scenes"][0]["nodes"] = [0, 1]


def _inf(doc: dict[str, Any]) -> bytes:
    return glb(doc, struct.pack("<12f", 0, 0, 0, float("inf"), 0, 0, 1, 1, 0, 0, 1, 0)
               + _INDICES)


#: name -> (the GLB, a phrase of the rule it breaks)
REFUSED: dict[str, tuple[Callable[[], bytes], str]] = {
    "accessor-past-view": (lambda: _edit(_set("accessors.0.count", 5)),
                           "more than bufferViews[0] holds"),
    "accessor-offset-past-view": (lambda: _edit(_set("accessors.0.byteOffset", 4)),
                                  "more than bufferViews[0] holds"),
    "view-past-buffer": (lambda: _edit(_set("bufferViews.1.byteLength", 16)),
                         "run past the end of buffers[0]"),
    "buffer-longer-than-bin": (lambda: _edit(_set("buffers.0.byteLength", 400)),
                               "more than its 60 bytes"),
    "indices-past-vertex-count": (lambda: glb(quad()[0], _POSITIONS + struct.pack(
        "<6H", 0, 1, 2, 0, 2, 4)), "index 4 is not below the vertex count 4"),
    "sparse-index-out-of-range": (lambda: _sparse([1, 7]), "index 7 is not below"),
    "sparse-not-increasing": (lambda: _sparse([2, 1]), "strictly increasing"),
    "node-cycle": (lambda: _edit(_cycle), "cycle in the node hierarchy"),
    "node-two-parents": (lambda: _edit(_two_parents), "has two parents"),
    "node-self-child": (lambda: _edit(_set("nodes.0.children", [0])), "its own child"),
    "undeclared-draco": (lambda: _edit(_draco), "Draco-compressed mesh"),
    "meshopt": (lambda: _edit(_meshopt), "meshopt-compressed"),
    "ktx2-texture": (lambda: _edit(_ktx2), "textures[0]: KTX2/BasisU texture"),
    "basisu-texture": (lambda: _edit(_basisu), "textures[0]: KTX2/BasisU texture"),
    "huge-count": (lambda: _edit(_set("accessors.0.count", 2**40)),
                   "more than bufferViews[0] holds"),
    "huge-zero-filled-count": (lambda: _edit(lambda d: d["accessors"].append(
        {"componentType": 5126, "count": 2**40, "type": "VEC3"})), "zero-filled elements"),
    "animation-times-decrease": (lambda: _animated([1.0, 0.5]), "strictly increasing"),
    "non-finite-position": (lambda: _inf(quad()[0]), "non-finite"),
    "bad-component-type": (lambda: _edit(_set("accessors.0.componentType", 5124)),
                           "not a glTF component type"),
    "misaligned-accessor": (lambda: _edit(_set("accessors.1.byteOffset", 1)),
                            "aligned"),
    "attribute-counts-differ": (lambda: _normal_count(), "different counts"),
    "bad-mode": (lambda: _edit(_set("meshes.0.primitives.0.mode", 9)), "primitive mode"),
    "triangle-strip": (lambda: _edit(_set("meshes.0.primitives.0.mode", 5)),
                       "a triangle strip (mode 5) cannot be loaded"),
    "triangle-fan": (lambda: _edit(_set("meshes.0.primitives.0.mode", 6)), "triangle fan"),
    "mesh-index-out-of-range": (lambda: _edit(_set("nodes.0.mesh", 3)),
                                "not an index into meshes"),
    "scene-node-out-of-range": (lambda: _edit(_set("scenes.0.nodes", [5])),
                                "indices into nodes"),
    "camera-zfar-below-znear": (lambda: _edit(_cameras({"type": "perspective", "perspective": {
        "yfov": 0.8, "znear": 1.0, "zfar": 0.5}})), "must be more than znear"),
    "camera-zero-yfov": (lambda: _edit(_cameras({"type": "perspective", "perspective": {
        "yfov": 0, "znear": 0.1}})), "yfov"),
    "camera-ortho-no-zfar": (lambda: _edit(_cameras({"type": "orthographic", "orthographic": {
        "xmag": 1, "ymag": 1, "znear": 0}})), "zfar"),
    "material-factor-out-of-range": (lambda: _edit(_set(
        "materials.0.pbrMetallicRoughness.metallicFactor", 2)), "metallicFactor"),
    "material-alpha-mode": (lambda: _edit(_set("materials.0.alphaMode", "CLIP")),
                            "not OPAQUE, MASK or BLEND"),
    "material-texture-missing": (lambda: _edit(_set("materials.0.normalTexture",
                                                    {"index": 0})), "not an index into textures"),
    "no-positions": (lambda: _edit(_set("meshes.0.primitives.0.attributes", {"NORMAL": 0})),
                     "has no POSITION"),
    "texture-without-uvs": (lambda: _edit(_png_texture), "needs TEXCOORD_0"),
}


def _animated(times: list[float]) -> bytes:
    """The quad's node moved by a LINEAR translation animation with these key times."""
    doc, data = quad()
    binary = bytearray(data)
    tv = _append(doc, binary, struct.pack(f"<{len(times)}f", *times))
    ov = _append(doc, binary, struct.pack(f"<{3 * len(times)}f", *[0.0] * 3 * len(times)))
    doc["accessors"] += [
        {"bufferView": tv, "componentType": 5126, "count": len(times), "type": "SCALAR",
         "min": [min(times)], "max": [max(times)]},
        {"bufferView": ov, "componentType": 5126, "count": len(times), "type": "VEC3"}]
    doc["animations"] = [{"samplers": [{"input": 2, "output": 3}],
                          "channels": [{"sampler": 0, "target": {"node": 0,
                                                                 "path": "translation"}}]}]
    return glb(doc, bytes(binary))


def _normal_count() -> bytes:
    doc, data = quad()
    binary = bytearray(data)
    v = _append(doc, binary, struct.pack("<9f", *[0, 0, 1] * 3))
    doc["accessors"].append({"bufferView": v, "componentType": 5126, "count": 3,
                             "type": "VEC3"})
    doc["meshes"][0]["primitives"][0]["attributes"]["NORMAL"] = 2
    return glb(doc, bytes(binary))


def _check(data: bytes) -> None:
    doc, binary = split_glb(data, NAME)
    check_gltf(doc, binary, NAME)


def test_the_quad_and_its_variants_are_valid() -> None:
    """The builder makes valid models (no vacuous cases)."""
    _check(glb(*quad()))
    _check(_sparse([1, 3]))
    _check(_edit(lambda d: None))
    _check(_animated([0.0, 1.0]))


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_broken_model_is_refused_naming_the_rule(case: str) -> None:
    make, rule = REFUSED[case]
    with pytest.raises(AssetError) as err:
        _check(make())
    assert err.value.path == NAME
    assert rule in err.value.rule, err.value.rule


def test_huge_claimed_count_is_refused_fast_without_allocating() -> None:
    data = _edit(_set("accessors.0.count", 2**31 - 1))
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(AssetError, match="more than bufferViews"):
        _check(data)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 4 << 20, (elapsed, peak)


def test_sparse_count_beyond_its_view_is_refused_without_reading() -> None:
    doc, binary = split_glb(_sparse([1, 3]), NAME)
    doc["accessors"][2]["sparse"]["count"] = 4
    with pytest.raises(AssetError, match="more than bufferViews"):
        check_gltf(doc, binary, NAME)


CAMERAS = {
    "perspective-no-zfar": {"type": "perspective", "perspective": {"yfov": 0.8, "znear": 0.1}},
    "perspective-aspect": {"type": "perspective", "perspective": {
        "yfov": 0.8, "znear": 0.1, "zfar": 100, "aspectRatio": 1.5}},
    "orthographic": {"type": "orthographic", "orthographic": {
        "xmag": 2, "ymag": -1, "znear": 0, "zfar": 10}},
}


@pytest.mark.parametrize("cam", sorted(CAMERAS))
def test_valid_cameras_pass(cam: str) -> None:
    _check(_edit(_cameras(CAMERAS[cam])))


def test_converter_document_drops_cameras_and_lights_and_leaves_the_input() -> None:
    doc, _ = quad()
    _cameras(CAMERAS["perspective-no-zfar"])(doc)
    doc["extensions"] = {"KHR_lights_punctual": {"lights": [{"type": "point"}]}}
    doc["nodes"][0]["extensions"] = {"KHR_lights_punctual": {"light": 0}}
    before = copy.deepcopy(doc)
    out = converter_document(doc)
    assert doc == before
    assert "cameras" not in out and all("camera" not in n for n in out["nodes"])
    assert out["extensions"] == {} and out["nodes"][0]["extensions"] == {}
    assert out["meshes"] == doc["meshes"]


def test_a_camera_without_zfar_loads() -> None:
    """panda3d-gltf raises KeyError on a perspective camera without zfar; load_glb does not."""
    pytest.importorskip("gltf")
    from exhibit_engine.scenes.base import load_glb

    model = load_glb(_edit(_cameras(CAMERAS["perspective-no-zfar"])), NAME)
    assert model.find_all_matches("**/+GeomNode").get_num_paths() == 1
    assert model.find_all_matches("**/+Camera").get_num_paths() == 0


def test_image_mime_type_must_match_its_data() -> None:
    png = png_header(2, 2)

    def change(doc: dict[str, Any]) -> None:
        doc["images"] = [{"uri": "data:image/jpeg;base64," + base64.b64encode(png).decode()}]
    with pytest.raises(AssetError):
        _check(_edit(change))


CLI_CASES = ["accessor-past-view", "view-past-buffer", "indices-past-vertex-count",
             "sparse-index-out-of-range", "node-cycle", "node-two-parents",
             "undeclared-draco", "meshopt", "ktx2-texture", "huge-count"]


@pytest.mark.parametrize("case", CLI_CASES)
def test_validate_refuses_a_bundle_holding_it_in_one_line(case: str, tmp_path: Path) -> None:
    make, rule = REFUSED[case]
    path = write_zip(tmp_path / "bad.exb", with_manifest({NAME: make()}))
    res = subprocess.run([str(EXHIBIT), "validate", str(path)], capture_output=True,
                         text=True, timeout=30, env={**os.environ, "COLUMNS": "200"})
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert str(path) in lines[0] and NAME in lines[0] and rule in lines[0], lines[0]


def test_validate_passes_a_bundle_of_valid_odd_models(tmp_path: Path) -> None:
    files = {f"meshes/{c}.glb": _edit(_cameras(cam)) for c, cam in CAMERAS.items()}
    files["meshes/sparse.glb"] = _sparse([1, 3])
    path = write_zip(tmp_path / "good.exb", with_manifest(files))
    res = subprocess.run([str(EXHIBIT), "validate", str(path)], capture_output=True,
                         text=True, timeout=30)
    assert res.returncode == 0, res.stderr


def test_an_unindexed_primitive_with_an_offset_position_accessor_loads() -> None:
    """panda3d-gltf would start drawing at vertex number byteOffset (and fail)."""
    pytest.importorskip("gltf")
    from exhibit_engine.scenes.base import load_glb

    doc, data = quad()
    doc["bufferViews"][0] = {"buffer": 0, "byteLength": 48, "byteStride": 12}
    doc["accessors"][0].update(count=3, byteOffset=12, min=[0, 0, 0], max=[1, 1, 0])
    del doc["meshes"][0]["primitives"][0]["indices"]
    data_glb = glb(doc, data)
    _check(data_glb)
    out = converter_document(split_glb(data_glb, NAME)[0])
    pos = out["accessors"][out["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    assert pos["byteOffset"] == 0 and out["bufferViews"][pos["bufferView"]]["byteOffset"] == 12
    model = load_glb(data_glb, NAME)
    assert model.find_all_matches("**/+GeomNode").get_num_paths() == 1


def test_a_mesh_with_sparse_positions_loads_with_the_sparse_values() -> None:
    """panda3d-gltf ignores sparse data; converter_document makes the accessor dense."""
    pytest.importorskip("gltf")
    from exhibit_engine.scenes.base import load_glb

    flat, lifted = (load_glb(data, NAME) for data in (glb(*quad()),
                                                       _sparse([1, 3], in_mesh=True)))
    def extents(model: Any) -> list[float]:
        lo, hi = model.get_tight_bounds()
        return sorted(round(float(x), 4) for x in hi - lo)
    assert extents(flat) == [0.0, 1.0, 1.0]
    assert extents(lifted) == [0.5, 1.0, 1.0]


def test_a_zero_filled_accessor_with_sparse_values_loads() -> None:
    pytest.importorskip("gltf")
    from exhibit_engine.scenes.base import load_glb

    doc, binary = split_glb(_sparse([1, 3], in_mesh=True), NAME)
    del doc["accessors"][2]["bufferView"]
    doc["accessors"][2].update(min=[0, 0, 0], max=[0.5, 0.5, 0.5])
    data = glb(doc, binary)
    _check(data)
    lo, hi = load_glb(data, NAME).get_tight_bounds()
    assert sorted(round(float(x), 4) for x in hi - lo) == [0.5, 0.5, 0.5]
