"""Every common source layout packs into self-contained GLBs; what cannot is refused in one line.

.gltf with external .bin and images, OBJ + MTL (backslashes, spaces, PBR materials),
PLY triangle strips, empty and unsupported files; every problem of a folder in one run;
scene params that name a source; size notes. The files are made here, in tmp.
"""

from __future__ import annotations

import io
import json
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner
from PIL import Image

from exhibit_engine.assets._mesh_sources import map_file_name, strip_triangles
from exhibit_engine.assets.gltf import split_glb
from exhibit_engine.assets.pack import pack
from exhibit_engine.cli import main
from exhibit_engine.errors import BundleError, BundleErrors

TOML = ('[bundle]\nid = "src"\nversion = "1.0.0"\ntitle = { en = "Sources" }\n'
        '[[scenes]]\nid = "s"\nkind = "ice"\ntitle = { en = "S" }\nassets = []\n')


def _source(tmp_path: Path, files: dict[str, bytes | str], toml: str = TOML) -> Path:
    src = tmp_path / "src"
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data.encode() if isinstance(data, str) else data)
    (src / "bundle.toml").write_text(toml, encoding="utf-8")
    return src


def _pack(src: Path, tmp_path: Path) -> tuple[dict[str, bytes], dict[str, list[str]]]:
    import zipfile

    notes: dict[str, list[str]] = {}
    out = tmp_path / "out.exb"
    pack(src, out, notes=notes)
    with zipfile.ZipFile(out) as zf:
        return {n: zf.read(n) for n in zf.namelist() if n != "manifest.json"}, notes


def _doc(glb: bytes) -> dict[str, Any]:
    return split_glb(glb, "x.glb")[0]


def _png(color: tuple[int, int, int], size: int = 8) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="JPEG")
    return buf.getvalue()


# --------------------------------------------------------------------------- .gltf + .bin


def _gltf_parts(buffer_uri: str, image_uri: str | None) -> tuple[dict[str, Any], bytes]:
    """A textured triangle: positions + UVs in one external buffer, one image."""
    pos = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    uv = struct.pack("<6f", 0, 0, 1, 0, 0, 1)
    doc: dict[str, Any] = {
        "asset": {"version": "2.0"},
        "buffers": [{"uri": buffer_uri, "byteLength": 60}],
        "bufferViews": [{"buffer": 0, "byteLength": 36, "target": 34962},
                        {"buffer": 0, "byteOffset": 36, "byteLength": 24, "target": 34962}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
                       "min": [0, 0, 0], "max": [1, 1, 0]},
                      {"bufferView": 1, "componentType": 5126, "count": 3, "type": "VEC2"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1},
                                    "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"metallicFactor": 0.0}}],
        "nodes": [{"mesh": 0}], "scenes": [{"nodes": [0]}], "scene": 0,
    }
    if image_uri is not None:
        doc["images"] = [{"uri": image_uri}]
        doc["textures"] = [{"source": 0}]
        doc["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"] = {"index": 0}
    return doc, pos + uv


def test_gltf_with_external_bin_and_image_becomes_one_self_contained_glb(
        tmp_path: Path) -> None:
    doc, blob = _gltf_parts("data%20files/tri%20angle.bin", "textures/base colour.png")
    png = _png((200, 40, 30))
    src = _source(tmp_path, {"m/tri.gltf": json.dumps(doc), "m/data files/tri angle.bin": blob,
                             "m/textures/base colour.png": png})
    files, notes = _pack(src, tmp_path)
    assert sorted(files) == ["m/tri.glb"], "the .bin and the texture are inside the GLB"
    out, binary = split_glb(files["m/tri.glb"], "tri.glb")
    assert "uri" not in json.dumps(out)
    assert len(out["buffers"]) == 1 and out["buffers"][0]["byteLength"] <= len(binary)
    view = out["bufferViews"][out["images"][0]["bufferView"]]
    start = view["byteOffset"]
    assert binary[start:start + view["byteLength"]] == png
    assert out["images"][0]["mimeType"] == "image/png"
    assert binary[:60] == blob
    mesh = trimesh.load(io.BytesIO(files["m/tri.glb"]), file_type="glb", force="scene")
    assert sum(len(g.faces) for g in mesh.dump()) == 1
    assert any("tri angle.bin" in n and "1 image" in n for n in notes["m/tri.gltf"])


@pytest.mark.parametrize(("uri", "rule"), [
    ("../outside.bin", "outside the source folder"),
    ("sub/../../outside.bin", "outside the source folder"),
    ("/etc/passwd", "not a relative path"),
    ("file:///etc/passwd", "not a relative path"),
    ("https://example.com/x.bin", "not a relative path"),
    ("C:\\models\\x.bin", "not a relative path"),
    ("gone.bin", "not found in the source folder"),
])
def test_gltf_files_outside_the_folder_or_missing_are_refused(tmp_path: Path, uri: str,
                                                              rule: str) -> None:
    doc, blob = _gltf_parts(uri, None)
    (tmp_path / "outside.bin").write_bytes(blob)
    src = _source(tmp_path, {"tri.gltf": json.dumps(doc)})
    with pytest.raises(BundleError) as err:
        pack(src, tmp_path / "out.exb")
    assert err.value.entry == "tri.gltf"
    assert rule in err.value.rule and "external URI" in err.value.rule
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out.exb").exists()


def test_gltf_texture_that_is_not_png_or_jpeg_is_refused_naming_it(tmp_path: Path) -> None:
    doc, blob = _gltf_parts("tri.bin", "tex.webp")
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="WEBP")
    src = _source(tmp_path, {"tri.gltf": json.dumps(doc), "tri.bin": blob,
                             "tex.webp": buf.getvalue()})
    with pytest.raises(BundleError) as err:
        pack(src, tmp_path / "out.exb")
    assert "images[0]" in err.value.rule and "tex.webp" in err.value.rule


def test_gltf_buffer_shorter_than_its_byte_length_is_refused(tmp_path: Path) -> None:
    doc, blob = _gltf_parts("tri.bin", None)
    src = _source(tmp_path, {"tri.gltf": json.dumps(doc), "tri.bin": blob[:40]})
    with pytest.raises(BundleError, match="byteLength 60 does not fit the 40 bytes"):
        pack(src, tmp_path / "out.exb")


# --------------------------------------------------------------------------- OBJ + MTL

QUAD_OBJ = ("mtllib {mtl}\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\n"
            "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nusemtl {mat}\nf 1/1 2/2 3/3\nf 1/1 3/3 4/4\n")


def _material(glb: bytes) -> dict[str, Any]:
    doc = _doc(glb)
    (mat,) = doc["materials"]
    assert doc["meshes"][0]["primitives"][0]["material"] == 0
    return mat


def test_obj_with_windows_mtl_paths_keeps_its_texture_and_colour(tmp_path: Path) -> None:
    mtl = ("newmtl painted wood\r\nKd 0.5 0.25 1.0\r\nd 0.5\r\nNs 250\r\n"
           "map_Kd -s 1 1 1 textures\\wood grain.jpg\r\n")
    obj = QUAD_OBJ.format(mtl="mats\\my mats.mtl", mat="painted wood")
    jpg = _jpeg((250, 240, 10))
    src = _source(tmp_path, {"scan/a.obj": obj, "scan/mats/my mats.mtl": mtl,
                             "scan/mats/textures/wood grain.jpg": jpg})
    files, _ = _pack(src, tmp_path)
    assert sorted(files) == ["scan/a.glb"], "the MTL and its texture are inside the GLB"
    mat = _material(files["scan/a.glb"])
    pbr = mat["pbrMetallicRoughness"]
    assert np.allclose(pbr["baseColorFactor"], [0.5, 0.25, 1.0, 0.5], atol=0.01)
    assert pbr["metallicFactor"] == 0.0
    assert pbr["roughnessFactor"] == pytest.approx(0.5, abs=0.01)
    assert mat["alphaMode"] == "BLEND"
    assert "baseColorTexture" in pbr
    doc = _doc(files["scan/a.glb"])
    assert "TEXCOORD_0" in doc["meshes"][0]["primitives"][0]["attributes"]
    assert doc["images"][0]["mimeType"] == "image/jpeg"


def test_obj_texture_with_an_absolute_windows_path_is_read_from_the_folder(
        tmp_path: Path) -> None:
    mtl = "newmtl m\nmap_Kd C:\\Users\\Ann\\Desktop\\skin tone.png\n"
    src = _source(tmp_path, {"a.obj": QUAD_OBJ.format(mtl="a.mtl", mat="m"), "a.mtl": mtl,
                             "skin tone.png": _png((10, 200, 10))})
    files, notes = _pack(src, tmp_path)
    assert sorted(files) == ["a.glb"]
    assert "baseColorTexture" in _material(files["a.glb"])["pbrMetallicRoughness"]
    assert any("absolute paths" in n and "skin tone.png" in n for n in notes["a.obj"])


def _rgba_png(alphas: list[int]) -> bytes:
    img = Image.new("RGBA", (len(alphas), 1))
    img.putdata([(200, 100, 50, a) for a in alphas])
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("alphas", "mode"), [
    ([255, 255], "OPAQUE"), ([0, 255], "MASK"), ([0, 128, 255], "BLEND"),
])
def test_obj_texture_alpha_sets_the_alpha_mode(tmp_path: Path, alphas: list[int],
                                               mode: str) -> None:
    src = _source(tmp_path, {"a.obj": QUAD_OBJ.format(mtl="a.mtl", mat="m"),
                             "a.mtl": "newmtl m\nmap_Kd leaf.png\n",
                             "leaf.png": _rgba_png(alphas)})
    files, _ = _pack(src, tmp_path)
    assert _material(files["a.glb"]).get("alphaMode", "OPAQUE") == mode


def test_bad_textures_are_refused_in_one_line_naming_them(tmp_path: Path) -> None:
    ktx2 = b"\xabKTX 20\xbb\r\n\x1a\n" + bytes(64)
    doc, blob = _gltf_parts("tri.bin", "skin.ktx2")
    src = _source(tmp_path, {"g/tri.gltf": json.dumps(doc), "g/tri.bin": blob,
                             "g/skin.ktx2": ktx2,
                             "o/a.obj": QUAD_OBJ.format(mtl="a.mtl", mat="m"),
                             "o/a.mtl": "newmtl m\nmap_Kd broken.png\n",
                             "o/broken.png": b"\x89PNG not really"})
    with pytest.raises(BundleErrors) as err:
        pack(src, tmp_path / "out.exb")
    gltf, obj = err.value.errors
    assert gltf.entry == "g/tri.gltf" and "images[0] (skin.ktx2): KTX2/BasisU" in gltf.rule
    assert obj.entry == "o/a.obj" and "texture 'broken.png'" in obj.rule
    for e in err.value.errors:
        assert "0x" not in e.rule and "object at" not in e.rule


def test_obj_colour_only_material_and_tr_opacity(tmp_path: Path) -> None:
    mtl = "newmtl red\nKd 0.8 0.1 0.1\nTr 1.000000\nillum 2\n"  # MeshLab's Tr 1 = opaque
    src = _source(tmp_path, {"a.obj": QUAD_OBJ.format(mtl="a.mtl", mat="red"), "a.mtl": mtl})
    files, _ = _pack(src, tmp_path)
    mat = _material(files["a.glb"])
    assert np.allclose(mat["pbrMetallicRoughness"]["baseColorFactor"], [0.8, 0.1, 0.1, 1],
                       atol=0.01)
    assert mat.get("alphaMode", "OPAQUE") == "OPAQUE"


def test_obj_normal_map_is_kept_and_a_height_map_noted(tmp_path: Path) -> None:
    mtl = ("newmtl n\nKd 1 1 1\nmap_Kd base.png\nmap_Bump -bm 1 normal.png\n"
           "newmtl h\nKd 1 1 1\nbump height.png\n")
    obj = QUAD_OBJ.format(mtl="a.mtl", mat="n")
    obj_h = QUAD_OBJ.format(mtl="b.mtl", mat="h")
    src = _source(tmp_path, {"a.obj": obj, "b.obj": obj_h, "a.mtl": mtl, "b.mtl": mtl,
                             "base.png": _png((90, 90, 90)), "normal.png": _png((128, 128, 255)),
                             "height.png": _png((120, 120, 120))})
    files, notes = _pack(src, tmp_path)
    assert sorted(files) == ["a.glb", "b.glb"]
    assert "normalTexture" in _material(files["a.glb"])
    assert "normalTexture" not in _material(files["b.glb"])
    assert any("height.png" in n and "height map" in n for n in notes["b.obj"])


def test_consumed_files_are_claimed_whatever_their_sort_order(tmp_path: Path) -> None:
    obj = QUAD_OBJ.format(mtl="z.mtl", mat="m")
    src = _source(tmp_path, {"z.obj": obj, "z.mtl": "newmtl m\nmap_Kd a.png\n",
                             "a.png": _png((1, 2, 3)), "other.png": _png((4, 5, 6))})
    files, _ = _pack(src, tmp_path)
    assert "a.png" not in files and "z.mtl" not in files
    assert "other.png" in files, "a file no source reads is packed as before"


def test_map_file_name_skips_options_and_quotes() -> None:
    assert map_file_name("-s 1 1 1 -o 0.5 tex.png") == "tex.png"
    assert map_file_name("-bm 0.3 my normal.png") == "my normal.png"
    assert map_file_name('"a b.png"') == "a b.png"


def test_plain_meshes_get_an_explicit_non_metal_material(tmp_path: Path) -> None:
    stl = trimesh.creation.box().export(file_type="stl")
    src = _source(tmp_path, {"a.stl": stl})
    files, _ = _pack(src, tmp_path)
    pbr = _material(files["a.glb"])["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0.0


# --------------------------------------------------------------------------- PLY strips


def test_strips_alternate_winding_and_drop_stitches() -> None:
    tris = strip_triangles(np.array([0, 1, 2, 3, -1, 4, 5, 6, 6, 7, -1]))
    assert tris.tolist() == [[0, 1, 2], [2, 1, 3], [4, 5, 6]]
    assert strip_triangles(np.array([1, 2])).shape == (0, 3)


def _strip_ply(binary: bool) -> bytes:
    """A unit square in the XY plane as one strip, facing +Z, plus a restart and a triangle."""
    verts = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0), (2, 0, 0), (3, 0, 0), (2, 1, 0)]
    strip = [0, 1, 2, 3, -1, 4, 5, 6]
    head = (f"ply\nformat {'binary_little_endian' if binary else 'ascii'} 1.0\n"
            f"element vertex {len(verts)}\nproperty float x\nproperty float y\n"
            "property float z\nelement tristrips 1\nproperty list int int vertex_indices\n"
            "end_header\n").encode()
    if binary:
        body = b"".join(struct.pack("<3f", *v) for v in verts)
        body += struct.pack(f"<i{len(strip)}i", len(strip), *strip)
    else:
        body = "".join(f"{x} {y} {z}\n" for x, y, z in verts).encode()
        body += (" ".join(str(i) for i in [len(strip), *strip]) + "\n").encode()
    return head + body


@pytest.mark.parametrize("binary", [True, False])
def test_ply_triangle_strips_pack_as_triangles_facing_the_same_way(tmp_path: Path,
                                                                   binary: bool) -> None:
    src = _source(tmp_path, {"s.ply": _strip_ply(binary)})
    files, _ = _pack(src, tmp_path)
    mesh = trimesh.load(io.BytesIO(files["s.glb"]), file_type="glb", force="mesh")
    assert len(mesh.faces) == 3
    assert np.allclose(mesh.face_normals[:, 2], 1.0), "every strip triangle faces +Z"


def test_ply_texture_file_comment_becomes_the_base_colour_texture(tmp_path: Path) -> None:
    ply = ("ply\nformat ascii 1.0\ncomment TextureFile scan texture.png\nelement vertex 3\n"
           "property float x\nproperty float y\nproperty float z\nproperty float s\n"
           "property float t\nelement face 1\nproperty list uchar int vertex_indices\n"
           "end_header\n0 0 0 0 0\n1 0 0 1 0\n0 1 0 0 1\n3 0 1 2\n")
    src = _source(tmp_path, {"p/a.ply": ply, "p/scan texture.png": _png((200, 10, 10))})
    files, _ = _pack(src, tmp_path)
    assert sorted(files) == ["p/a.glb"]
    pbr = _material(files["p/a.glb"])["pbrMetallicRoughness"]
    assert "baseColorTexture" in pbr and pbr["metallicFactor"] == 0.0


def test_empty_ply_is_refused_in_one_line(tmp_path: Path) -> None:
    src = _source(tmp_path, {"empty.ply": b""})
    with pytest.raises(BundleError) as err:
        pack(src, tmp_path / "out.exb")
    assert err.value.entry == "empty.ply" and "empty file" in err.value.rule


def test_malformed_mesh_message_shows_no_python_internals(tmp_path: Path) -> None:
    ply = (b"ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
           b"property float x\nend_header\n\x00\x01")
    src = _source(tmp_path, {"a.ply": ply, "b.obj": b"v 1 2\nf 1 9 99\n"})
    with pytest.raises(BundleErrors) as err:
        pack(src, tmp_path / "out.exb")
    for e in err.value.errors:
        for leak in ("0x", "Error", "Traceback", "KeyError", "No module"):
            assert leak not in e.rule, e.rule


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(("name", "what"), [
    ("duck.dae", "COLLADA"), ("part.3mf", "3MF"), ("rig.fbx", "FBX"),
    ("scene.blend", "Blender"), ("old.3ds", "3DS"), ("ar.usdz", "USDZ"),
    ("cache.abc", "Alembic"), ("file.max", "3ds Max"),
])
def test_unsupported_mesh_formats_are_refused_not_copied(tmp_path: Path, name: str,
                                                         what: str) -> None:
    src = _source(tmp_path, {f"m/{name}": b"<COLLADA/>"})
    with pytest.raises(BundleError) as err:
        pack(src, tmp_path / "out.exb")
    assert err.value.entry == f"m/{name}"
    assert err.value.rule.startswith(f"{what} (")
    assert "export glTF 2.0 (.glb)" in err.value.rule


def test_pack_reports_every_problem_in_one_run_and_writes_nothing(tmp_path: Path) -> None:
    stl = trimesh.creation.box().export(file_type="stl")
    src = _source(tmp_path, {"a.dae": b"x", "b.ply": b"", "c.stl": stl, "d.obj": "v 0 0 0\n",
                             "e.3mf": b"x"})
    with pytest.raises(BundleErrors) as err:
        pack(src, tmp_path / "out.exb")
    assert [e.entry for e in err.value.errors] == ["a.dae", "b.ply", "d.obj", "e.3mf"]
    assert isinstance(err.value, BundleError) and "\n" not in str(err.value)
    assert "and 3 more problems" in str(err.value)
    res = CliRunner().invoke(main, ["pack", str(src), "-o", str(tmp_path / "out.exb")])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert [ln for ln in lines if ln.startswith("exhibit: error: ")] == [
        f"exhibit: error: {e}" for e in err.value.errors]
    assert lines[-1] == "exhibit: pack failed: 4 problems in 4 files; nothing written"
    assert "Traceback" not in res.output
    assert not (tmp_path / "out.exb").exists()


# --------------------------------------------------------------------------- curator help


def test_scene_params_naming_a_source_are_rewritten_to_the_processed_name(
        tmp_path: Path) -> None:
    stl = trimesh.creation.box(extents=(0.2, 0.2, 0.2)).export(file_type="stl")
    toml = TOML.replace('assets = []\n', 'assets = ["meshes/fuze.stl"]\n') + (
        '[scenes.params]\nnote = "meshes/fuze.stl is the source"\n'
        '[[scenes.params.artifacts]]\nmodel = "meshes/fuze.stl"\nplinth = [1, 1, 1]\n')
    src = _source(tmp_path, {"meshes/fuze.stl": stl}, toml)
    manifest = pack(src, tmp_path / "out.exb")
    scene = manifest.scenes[0]
    assert scene.assets == ("meshes/fuze.glb",)
    assert scene.params["artifacts"][0]["model"] == "meshes/fuze.glb"
    assert scene.params["note"] == "meshes/fuze.stl is the source", "only whole names"


@pytest.mark.parametrize(("extent", "units", "hint"), [
    (79.1, "m", 'is it in cm? set [assets."a.obj"] units = "cm"'),
    (0.5, "cm", 'is it in m? set [assets."a.obj"] units = "m"'),
    (600.0, "m", 'units = "mm"'),
])
def test_implausible_sizes_get_a_note_naming_units(tmp_path: Path, extent: float, units: str,
                                                   hint: str) -> None:
    box = trimesh.creation.box(extents=(extent / 4, extent, extent / 4))
    toml = TOML + f'[assets."a.obj"]\nunits = "{units}"\n'
    src = _source(tmp_path, {"a.obj": box.export(file_type="obj")}, toml)
    _, notes = _pack(src, tmp_path)
    (note,) = [n for n in notes["a.obj"] if "after units" in n]
    assert "tall" in note and hint in note


def test_plausible_sizes_get_no_note(tmp_path: Path) -> None:
    box = trimesh.creation.box(extents=(0.3, 0.5, 0.3))
    src = _source(tmp_path, {"a.obj": box.export(file_type="obj")})
    _, notes = _pack(src, tmp_path)
    assert not any("after units" in n for n in notes.get("a.obj", []))


def test_lods_of_textured_sources_need_no_scipy(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "scipy" or m.startswith("scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)  # import scipy -> ImportError
    sphere = trimesh.creation.icosphere(subdivisions=4)
    uv = (sphere.vertices[:, :2] + 1) / 2
    sphere.visual = trimesh.visual.TextureVisuals(uv=uv, material=trimesh.visual.material.
                                                  SimpleMaterial(image=Image.new("RGB", (8, 8))))
    glb = trimesh.Scene(sphere).export(file_type="glb")
    obj = QUAD_OBJ.format(mtl="q.mtl", mat="m")
    toml = TOML + '[assets."s.glb"]\nlods = [1000, 200]\n[assets."q.obj"]\nlods = [1]\n'
    src = _source(tmp_path, {"s.glb": glb, "q.obj": obj, "q.mtl": "newmtl m\nmap_Kd t.png\n",
                             "t.png": _png((9, 9, 9))}, toml)
    files, _ = _pack(src, tmp_path)
    assert {"s.glb", "s.lod1.glb", "s.lod2.glb", "q.glb"} <= set(files)


def test_lods_store_a_shared_texture_once(tmp_path: Path) -> None:
    image = Image.new("RGB", (16, 16), (30, 60, 90))
    parts = []
    for i in range(2):
        sphere = trimesh.creation.icosphere(subdivisions=3)
        sphere.apply_translation((3 * i, 0, 0))
        material = trimesh.visual.material.PBRMaterial(name=f"m{i}", baseColorTexture=image,
                                                       roughnessFactor=0.1 * (i + 1))
        sphere.visual = trimesh.visual.TextureVisuals(uv=(sphere.vertices[:, :2] + 1) / 2,
                                                      material=material)
        parts.append(sphere)
    glb = trimesh.Scene(parts).export(file_type="glb")
    toml = TOML + '[assets."s.glb"]\nlods = [600]\n'
    files, _ = _pack(_source(tmp_path, {"s.glb": glb}, toml), tmp_path)
    lod = _doc(files["s.lod1.glb"])
    assert len(lod["materials"]) == 2 and len(lod["images"]) == 1
    assert {t["source"] for t in lod["textures"]} == {0}
    mesh = trimesh.load(io.BytesIO(files["s.lod1.glb"]), file_type="glb", force="scene")
    assert 0 < sum(len(g.faces) for g in mesh.dump()) <= 700

