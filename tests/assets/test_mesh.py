"""assets/mesh.py: sources become clean, metre, Y-up GLBs with LODs; bad ones fail in one line."""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh

from exhibit_engine.assets import mesh as meshmod
from exhibit_engine.assets._processing import Output, PackContext
from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.gltf import split_glb
from exhibit_engine.assets.mesh import process
from exhibit_engine.assets.pack import pack
from exhibit_engine.errors import BundleError

ROOT = Path(__file__).resolve().parents[2]
ICE_MESHES = ROOT / "content" / "ice-festival" / "meshes"


def _ctx(src: Path, assets: dict[str, dict[str, Any]] | None = None) -> PackContext:
    return PackContext(src=src, doc={"bundle": {}, "assets": assets or {}}, texts=())


def _run(tmp_path: Path, rel: str, data: bytes, **opts: Any) -> tuple[list[Output], PackContext]:
    ctx = _ctx(tmp_path, {rel: opts} if opts else None)
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_bytes(data)
    return process(ctx, rel, data), ctx


def _load(glb: bytes) -> trimesh.Scene:
    return trimesh.load(io.BytesIO(glb), file_type="glb", force="scene")


def _faces(glb: bytes) -> int:
    return sum(len(m.faces) for m in _load(glb).dump())


def _corner_box() -> trimesh.Trimesh:
    """A 10 x 20 x 30 box with one corner at the origin: signs show any axis swap."""
    box = trimesh.creation.box(extents=(10, 20, 30))
    box.apply_translation((5, 10, 15))
    return box


def _fail(tmp_path: Path, rel: str, data: bytes, **opts: Any) -> BundleError:
    with pytest.raises(BundleError) as err:
        _run(tmp_path, rel, data, **opts)
    assert err.value.entry == rel
    assert "\n" not in str(err.value)
    return err.value


# --------------------------------------------------------------------------- sources


def test_stl_in_mm_is_z_up_by_default_and_becomes_metres_y_up(tmp_path: Path) -> None:
    outs, ctx = _run(tmp_path, "meshes/part.stl", _corner_box().export(file_type="stl"),
                     units="mm")
    assert [o.path for o in outs] == ["meshes/part.glb"]
    bounds = _load(outs[0].data).bounds
    # (x, y, z) Z-up -> (x, z, -y) Y-up
    assert np.allclose(bounds, [[0, 0, -0.02], [0.01, 0.03, 0]], atol=1e-6)
    assert "scaled mm->m, turned Z-up -> Y-up" in ctx.notes["meshes/part.stl"]
    assert any("merged vertices" in n for n in ctx.notes["meshes/part.stl"])


def test_obj_in_cm_keeps_y_up(tmp_path: Path) -> None:
    outs, _ = _run(tmp_path, "scan.obj", _corner_box().export(file_type="obj").encode(),
                   units="cm")
    assert outs[0].path == "scan.glb"
    assert np.allclose(_load(outs[0].data).bounds, [[0, 0, 0], [0.1, 0.2, 0.3]], atol=1e-6)


def test_ply_keeps_vertex_colours_and_up_z_option(tmp_path: Path) -> None:
    box = _corner_box()
    box.visual.vertex_colors = np.tile([200, 30, 40, 255], (len(box.vertices), 1))
    outs, _ = _run(tmp_path, "a.ply", box.export(file_type="ply"), up="z", units="in")
    doc, _ = split_glb(outs[0].data, "a.glb")
    assert "COLOR_0" in doc["meshes"][0]["primitives"][0]["attributes"]
    assert "NORMAL" in doc["meshes"][0]["primitives"][0]["attributes"]
    assert np.allclose(_load(outs[0].data).bounds,
                       np.array([[0, 0, -20], [10, 30, 0]]) * 0.0254, atol=1e-6)


def test_glb_units_and_up_add_a_root_node_and_keep_the_binary(tmp_path: Path) -> None:
    data = trimesh.Scene(_corner_box()).export(file_type="glb")
    outs, ctx = _run(tmp_path, "m.glb", data, units="mm", up="z")
    new_doc, new_bin = split_glb(outs[0].data, "m.glb")
    old_doc, old_bin = split_glb(data, "m.glb")
    assert new_bin == old_bin
    root = new_doc["nodes"][new_doc["scenes"][0]["nodes"][0]]
    assert root["scale"] == [0.001] * 3 and root["children"] == old_doc["scenes"][0]["nodes"]
    assert np.allclose(_load(outs[0].data).bounds, [[0, 0, -0.02], [0.01, 0.03, 0]],
                       atol=1e-6)
    assert any("one root node" in n for n in ctx.notes["m.glb"])


@pytest.mark.parametrize("name", ["castle.glb", "lantern.glb"])
def test_clean_glb_passes_through_byte_identical(tmp_path: Path, name: str) -> None:
    data = (ICE_MESHES / name).read_bytes()
    outs, ctx = _run(tmp_path, f"meshes/{name}", data)
    assert outs == [Output(f"meshes/{name}", data)]
    assert not any("->" in n for n in ctx.notes.get(f"meshes/{name}", []))


def test_packed_ice_bundle_carries_the_source_glbs(ice_bundle: Bundle) -> None:
    for src in sorted(ICE_MESHES.glob("*.glb")):
        assert ice_bundle.read(f"meshes/{src.name}") == src.read_bytes()


def test_embedded_gltf_becomes_the_same_glb_content(tmp_path: Path) -> None:
    files = trimesh.Scene(_corner_box()).export(file_type="gltf", embed_buffers=True)
    (gltf,) = files.values()
    outs, ctx = _run(tmp_path, "m.gltf", gltf)
    assert outs[0].path == "m.glb"
    assert np.allclose(_load(outs[0].data).bounds, [[0, 0, 0], [10, 20, 30]])
    assert "embedded glTF rewritten as GLB" in ctx.notes["m.gltf"]


# --------------------------------------------------------------------------- LODs


def _coloured_sphere(subdivisions: int) -> trimesh.Trimesh:
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
    sphere.visual.vertex_colors = np.tile([10, 200, 250, 255], (len(sphere.vertices), 1))
    return sphere


def test_heavy_mesh_gets_two_lods_with_fewer_triangles(tmp_path: Path) -> None:
    sphere = _coloured_sphere(6)  # 81920 triangles
    outs, ctx = _run(tmp_path, "m/ball.ply", sphere.export(file_type="ply"))
    assert [o.path for o in outs] == ["m/ball.glb", "m/ball.lod1.glb", "m/ball.lod2.glb"]
    counts = [_faces(o.data) for o in outs]
    assert counts[0] == 81920
    assert abs(counts[1] - 20480) < 1024 and abs(counts[2] - 5120) < 512
    for lod in outs[1:]:
        doc, _ = split_glb(lod.data, lod.path)
        assert "COLOR_0" in doc["meshes"][0]["primitives"][0]["attributes"]
        assert np.allclose(_load(lod.data).bounds, sphere.bounds, atol=0.05)
    assert ctx.notes["m/ball.ply"][-1].startswith("2 LODs: ")


def test_lods_option_sets_or_turns_off_levels(tmp_path: Path) -> None:
    data = trimesh.creation.icosphere(subdivisions=3).export(file_type="stl")  # 1280
    outs, _ = _run(tmp_path, "a.stl", data, lods=[600, 100])
    assert [o.path for o in outs] == ["a.glb", "a.lod1.glb", "a.lod2.glb"]
    assert 1280 > _faces(outs[1].data) > _faces(outs[2].data) > 0
    outs, _ = _run(tmp_path, "b.stl", data, lods=False)
    assert len(outs) == 1


def test_output_is_deterministic(tmp_path: Path) -> None:
    data = _coloured_sphere(3).export(file_type="obj").encode()
    first, _ = _run(tmp_path, "a.obj", data, lods=[300])
    second, _ = _run(tmp_path, "a.obj", data, lods=[300])
    assert first == second


# --------------------------------------------------------------------------- repairs


def test_repairs_degenerate_duplicate_and_inside_out_faces(tmp_path: Path) -> None:
    box = trimesh.creation.box()
    faces = np.vstack([box.faces[:, ::-1], box.faces[:1, ::-1], [[0, 0, 1]]])
    bad = trimesh.Trimesh(box.vertices, faces, process=False)
    outs, ctx = _run(tmp_path, "bad.obj", bad.export(file_type="obj").encode())
    mesh = _load(outs[0].data).to_mesh()
    assert len(mesh.faces) == 12
    assert mesh.is_watertight and mesh.volume > 0
    (note,) = [n for n in ctx.notes["bad.obj"] if n.startswith("repaired")]
    assert "1 degenerate faces" in note and "1 duplicate faces" in note
    assert "12 faces turned outwards" in note


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("rel", "data", "rule"), [
    ("a.glb", b"glTF\x02\x00\x00\x00\xff\x00\x00\x00" + bytes(8), "GLB header claims"),
    ("a.glb", b"not a mesh at all", "not a GLB file"),
    ("a.ply", (b"ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
               b"property float x\nend_header\n\x00\x01"), "not a readable PLY mesh"),
    ("a.obj", b"v 0 0 0\nv 1 0 0\n", "has no triangles"),
    ("a.stl", b"solid x\nendsolid x\n", "has no triangles"),
])
def test_malformed_meshes_fail_in_one_line(tmp_path: Path, rel: str, data: bytes,
                                           rule: str) -> None:
    assert rule in _fail(tmp_path, rel, data).rule


def test_truncated_stl_and_glb_fail_naming_the_file(tmp_path: Path) -> None:
    stl = trimesh.creation.box().export(file_type="stl")
    _fail(tmp_path, "cut.stl", stl[: len(stl) // 2 + 7])
    glb = trimesh.Scene(trimesh.creation.box()).export(file_type="glb")
    _fail(tmp_path, "cut.glb", glb[:-20])


def test_too_many_triangles_is_refused_before_loading(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meshmod, "MAX_TRIANGLES", 100)
    data = trimesh.creation.icosphere(subdivisions=2).export(file_type="stl")
    assert "more than the limit of 100" in _fail(tmp_path, "big.stl", data).rule


def _gltf_with_buffer_uri(uri: str) -> bytes:
    doc = {"asset": {"version": "2.0"}, "buffers": [{"uri": uri, "byteLength": 36}],
           "bufferViews": [{"buffer": 0, "byteLength": 36}],
           "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3,
                          "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}],
           "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
           "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}]}
    return json.dumps(doc).encode()


@pytest.mark.parametrize("uri", ["model.bin", "../../secret.bin", "file:///etc/passwd",
                                 "https://example.com/x.bin"])
def test_gltf_buffers_outside_the_file_are_refused(tmp_path: Path, uri: str) -> None:
    assert "external URI" in _fail(tmp_path, "m.gltf", _gltf_with_buffer_uri(uri)).rule


def test_gltf_with_embedded_triangle_is_accepted(tmp_path: Path) -> None:
    points = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    uri = "data:application/octet-stream;base64," + base64.b64encode(points).decode()
    outs, _ = _run(tmp_path, "tri.gltf", _gltf_with_buffer_uri(uri))
    assert _faces(outs[0].data) == 1


def test_obj_material_outside_the_folder_is_refused(tmp_path: Path) -> None:
    obj = b"mtllib ../../outside.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    (tmp_path.parent / "outside.mtl").write_text("newmtl x\nKd 1 0 0\n")
    assert "outside the source folder" in _fail(tmp_path, "m/a.obj", obj).rule


def test_obj_missing_material_is_noted(tmp_path: Path) -> None:
    obj = b"mtllib gone.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"
    outs, ctx = _run(tmp_path, "a.obj", obj)
    assert _faces(outs[0].data) == 1
    assert any("gone.mtl" in n for n in ctx.notes["a.obj"])


@pytest.mark.parametrize(("opts", "rule"), [
    ({"units": "furlong"}, "units must be one of"),
    ({"up": "x"}, 'up must be "y" or "z"'),
    ({"lods": [100, 200]}, "decreasing list"),
    ({"unit": "mm"}, "unknown mesh option(s) unit"),
])
def test_bad_options_are_refused(tmp_path: Path, opts: dict[str, Any], rule: str) -> None:
    data = trimesh.creation.box().export(file_type="stl")
    assert rule in _fail(tmp_path, "a.stl", data, **opts).rule


def test_pack_rewrites_scene_assets_to_the_glb(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "meshes").mkdir(parents=True)
    (src / "meshes" / "part.stl").write_bytes(_corner_box().export(file_type="stl"))
    (src / "bundle.toml").write_text(
        '[bundle]\nid = "m"\nversion = "1.0.0"\ntitle = { en = "M" }\n'
        '[[scenes]]\nid = "s"\nkind = "ice"\nassets = ["meshes/part.stl"]\n'
        '[assets."meshes/part.stl"]\nunits = "mm"\n', encoding="utf-8")
    manifest = pack(src, tmp_path / "m.exb")
    assert manifest.scenes[0].assets == ("meshes/part.glb",)
    assert [f.media_type for f in manifest.files] == ["model/gltf-binary"]


def test_panda3d_sees_the_source_z_up_axes_in_metres(tmp_path: Path) -> None:
    """End to end: a Z-up STL in mm comes out of panda3d-gltf (Z-up) with the same axes."""
    pytest.importorskip("gltf")
    from exhibit_engine.scenes.base import load_glb

    outs, _ = _run(tmp_path, "part.stl", _corner_box().export(file_type="stl"), units="mm")
    low, high = load_glb(outs[0].data, outs[0].path).get_tight_bounds()
    assert np.allclose([*low, *high], [0, 0, 0, 0.01, 0.02, 0.03], atol=1e-6)
