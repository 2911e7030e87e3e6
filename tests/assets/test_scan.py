"""assets/_scan.py and _scan_read.py: heavy binary PLY and STL scans take a bounded-memory
path that gives what the trimesh path gives (the same repairs, units, materials, UVs),
and its block simplification leaves no crack where blocks meet."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh
from PIL import Image

from exhibit_engine.assets import _scan, _scan_read
from exhibit_engine.assets import mesh as meshmod
from exhibit_engine.assets._processing import Output, PackContext
from exhibit_engine.assets.gltf import check_gltf, split_glb
from exhibit_engine.errors import AssetError, BundleError


def _ctx(src: Path, opts: dict[str, Any] | None, rel: str) -> PackContext:
    return PackContext(src=src, doc={"bundle": {}, "assets": {rel: opts} if opts else {}},
                       texts=())


def _run(tmp_path: Path, rel: str, data: bytes, heavy: bool, monkeypatch: pytest.MonkeyPatch,
         **opts: Any) -> tuple[list[Output], PackContext]:
    """Process ``data`` by the bounded path (``heavy``) or by trimesh."""
    monkeypatch.setattr(meshmod, "HEAVY_TRIANGLES", 0 if heavy else 10**9)
    ctx = _ctx(tmp_path, opts, rel)
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_bytes(data)
    return meshmod.process(ctx, rel, data), ctx


def _ply(vertices: np.ndarray, faces: np.ndarray, *, colors: np.ndarray | None = None,
         uv: np.ndarray | None = None, texture: str | None = None, count: int = 3) -> bytes:
    """A binary little-endian PLY; ``count`` > 3 writes polygons of that many corners."""
    props = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if uv is not None:
        props += [("s", "<f4"), ("t", "<f4")]
    if colors is not None:
        props += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    rec = np.zeros(len(vertices), dtype=props)
    rec["x"], rec["y"], rec["z"] = vertices.T
    if uv is not None:
        rec["s"], rec["t"] = uv.T
    if colors is not None:
        rec["red"], rec["green"], rec["blue"] = colors[:, :3].T
    head = ["ply", "format binary_little_endian 1.0"]
    if texture:
        head.append(f"comment TextureFile {texture}")
    head.append(f"element vertex {len(vertices)}")
    head += [f"property {'float' if t == '<f4' else 'uchar'} {n}" for n, t in props]
    head += [f"element face {len(faces)}", "property list uchar int vertex_indices",
             "end_header"]
    frec = np.zeros(len(faces), dtype=[("n", "u1"), ("i", "<i4", count)])
    frec["n"], frec["i"] = count, faces
    return ("\n".join(head) + "\n").encode() + rec.tobytes() + frec.tobytes()


def _sphere(subdivisions: int = 3) -> trimesh.Trimesh:
    return trimesh.creation.icosphere(subdivisions=subdivisions, radius=0.2)


def _glb_arrays(glb: bytes) -> dict[str, np.ndarray]:
    doc, binary = split_glb(glb, "x.glb")
    assert binary is not None
    prim = doc["meshes"][0]["primitives"][0]
    out = {}
    types = {5126: np.float32, 5121: np.uint8, 5125: np.uint32}
    width = {"VEC2": 2, "VEC3": 3, "VEC4": 4, "SCALAR": 1}
    for key, i in [*prim["attributes"].items(), ("indices", prim["indices"])]:
        acc = doc["accessors"][i]
        view = doc["bufferViews"][acc["bufferView"]]
        n = width[acc["type"]]
        out[key] = np.frombuffer(binary, types[acc["componentType"]], acc["count"] * n,
                                 view.get("byteOffset", 0)).reshape(-1, n)
    return out


def _loaded(glb: bytes) -> trimesh.Trimesh:
    return trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh")


# --------------------------------------------------------------------------- the two paths agree


def test_a_heavy_ply_with_colours_comes_out_as_the_trimesh_path_makes_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sphere = _sphere()
    v, f = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    # Damage the trimesh path repairs: a repeated vertex, a zero-area face and a
    # repeated face, the whole surface wound inside out, Z-up in centimetres.
    twin = np.where(f[np.flatnonzero((f == 0).any(axis=1))[0], ::-1] == 0, len(v),
                    f[np.flatnonzero((f == 0).any(axis=1))[0], ::-1])  # via the repeat
    v = np.vstack([v, v[:1]]) * 100.0
    f = np.vstack([f[:, ::-1], [[0, 0, 1]], f[:1, ::-1], [twin]])
    colors = np.tile(np.array([[200, 120, 40]], np.uint8), (len(v), 1))
    data = _ply(v, f, colors=colors)
    runs = {heavy: _run(tmp_path / str(heavy), "scan.ply", data, heavy, monkeypatch,
                        units="cm", up="z") for heavy in (False, True)}
    (light, light_ctx), (heavy, heavy_ctx) = runs[False], runs[True]
    assert [o.path for o in heavy] == [o.path for o in light] == ["scan.glb"]
    a, b = _loaded(light[0].data), _loaded(heavy[0].data)
    assert np.allclose(a.bounds, b.bounds, atol=1e-6)
    assert len(a.faces) == len(b.faces)
    assert b.is_watertight and b.volume > 0, "turned outwards, as the trimesh path does"
    assert heavy_ctx.notes["scan.ply"] == light_ctx.notes["scan.ply"]
    repaired = next(n for n in heavy_ctx.notes["scan.ply"] if n.startswith("repaired"))
    for what in ("merged vertices", "degenerate faces", "duplicate faces",
                 "faces turned outwards"):
        assert what in repaired
    arrays = _glb_arrays(heavy[0].data)
    assert (arrays["COLOR_0"][:, :3] == (200, 120, 40)).all()
    doc = split_glb(heavy[0].data, "scan.glb")[0]
    assert doc["materials"][0]["pbrMetallicRoughness"]["metallicFactor"] == 0.0
    check_gltf(*split_glb(heavy[0].data, "scan.glb"), "scan.glb")


def test_a_heavy_textured_ply_keeps_its_uvs_and_a_texture_of_its_useful_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = np.array([(x, y, 0.0) for y in range(3) for x in range(3)], np.float32) * 0.1
    uv = grid[:, :2] * 5.0
    faces = np.array([[0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4], [3, 4, 7], [3, 7, 6],
                      [4, 5, 8], [4, 8, 7]])
    (tmp_path / "t").mkdir()
    Image.new("RGB", (640, 320), (10, 200, 30)).save(tmp_path / "t" / "tex.jpg", "JPEG")
    data = _ply(grid, faces, uv=uv, texture="tex.jpg")
    outs, ctx = {}, {}
    for heavy in (False, True):
        (tmp_path / str(heavy)).mkdir()
        (tmp_path / str(heavy) / "tex.jpg").write_bytes((tmp_path / "t" / "tex.jpg").read_bytes())
        o, c = _run(tmp_path / str(heavy), "scan.ply", data, heavy, monkeypatch,
                    max_texture=256)
        outs[heavy], ctx[heavy] = o[0].data, c
    light, heavy = _glb_arrays(outs[False]), _glb_arrays(outs[True])
    # glTF's v runs down the image: both paths write 1 - t.
    assert np.allclose(heavy["TEXCOORD_0"], np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]))
    assert np.allclose(sorted(map(tuple, light["TEXCOORD_0"])),
                       sorted(map(tuple, heavy["TEXCOORD_0"])), atol=1e-6)
    doc, binary = split_glb(outs[True], "scan.glb")
    pbr = doc["materials"][0]["pbrMetallicRoughness"]
    assert pbr["baseColorTexture"] == {"index": 0} and pbr["metallicFactor"] == 0.0
    view = doc["bufferViews"][doc["images"][0]["bufferView"]]
    assert binary is not None
    image = Image.open(io.BytesIO(binary[view["byteOffset"]:
                                         view["byteOffset"] + view["byteLength"]]))
    assert image.size == (256, 128) and doc["images"][0]["mimeType"] == "image/jpeg"
    assert "texture 640x320 -> 256x128 (max_texture = 256)" in ctx[True].notes["scan.ply"]
    check_gltf(doc, binary, "scan.glb")


def test_a_heavy_binary_stl_merges_its_corners_as_the_trimesh_path_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _sphere(2).export(file_type="stl")
    runs = {heavy: _run(tmp_path / str(heavy), "part.stl", data, heavy, monkeypatch,
                        units="mm") for heavy in (False, True)}
    a, b = _loaded(runs[False][0][0].data), _loaded(runs[True][0][0].data)
    assert np.allclose(a.bounds, b.bounds, atol=1e-7) and len(a.faces) == len(b.faces)
    assert len(b.vertices) == len(_sphere(2).vertices)
    assert runs[True][1].notes == runs[False][1].notes


def test_lods_of_a_heavy_scan_are_smaller_and_carry_their_uvs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sphere = _sphere(5)         # 20480 faces
    v = np.asarray(sphere.vertices, np.float32)
    uv = np.column_stack([np.arctan2(v[:, 1], v[:, 0]) / (2 * np.pi) + 0.5,
                          v[:, 2] / 0.4 + 0.5]).astype(np.float32)
    (tmp_path / "tex.png").write_bytes(_png_bytes())
    monkeypatch.setattr(_scan, "BLOCK_TRIANGLES", 3000)      # several blocks
    outs, ctx = _run(tmp_path, "scan.ply", _ply(v, np.asarray(sphere.faces), uv=uv,
                                                 texture="tex.png"), True, monkeypatch,
                     lods=[5000, 1200])
    assert [o.path for o in outs] == ["scan.glb", "scan.lod1.glb", "scan.lod2.glb"]
    for out, target in zip(outs[1:], (5000, 1200), strict=True):
        lod = _loaded(out.data)
        assert abs(len(lod.faces) - target) <= 0.05 * target
        assert lod.is_watertight, "blocks meet without a crack"
        arr = _glb_arrays(out.data)
        # Each new vertex's UV is the mean of the ones merged into it: near the UV the
        # same formula gives at its position (away from the seam at u = 0/1).
        p = arr["POSITION"]
        expect_v = 1.0 - (p[:, 2] / 0.4 + 0.5)      # glTF's v runs down the image
        away = np.abs(np.arctan2(p[:, 1], p[:, 0])) < 2.5
        assert np.abs(arr["TEXCOORD_0"][away, 1] - expect_v[away]).max() < 0.05
    assert "2 LODs" in " ".join(ctx.notes["scan.ply"])


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(buf, "PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- simplify


def test_block_simplification_reaches_its_target_without_cracks() -> None:
    sphere = _sphere(5)
    points, faces = np.asarray(sphere.vertices), np.asarray(sphere.faces, np.int32)
    out, new_faces, mapping = _scan.simplify(points, faces, 2000, block=2500)
    mesh = trimesh.Trimesh(out, new_faces, process=False)
    assert abs(len(new_faces) - 2000) <= 100
    assert mesh.is_watertight and mesh.volume > 0
    assert (mapping >= 0).all() and mapping.max() == len(out) - 1
    # every old vertex maps to a new one near it (a few output edges of ~2.5 cm at
    # most; a wrong map would average ~0.28 on this 0.2 m sphere)
    far = np.linalg.norm(points - out[mapping], axis=1)
    assert far.mean() < 0.02 and far.max() < 0.1


def test_whole_simplification_maps_vertices_as_the_librarys_replay_does() -> None:
    import fast_simplification

    sphere = _sphere(4)
    points, faces = np.asarray(sphere.vertices), np.asarray(sphere.faces, np.int32)
    out, new_faces, mapping = _scan.simplify(points, faces, 800)
    origin, size = _scan._frame(points)        # the library sees a unit box
    ref_points, ref_faces, _ = fast_simplification.simplify(
        (points - origin) / size, faces, target_count=800, agg=_scan._AGGRESSION,
        return_collapses=True)
    assert np.allclose(out, ref_points * size + origin) and (new_faces == ref_faces).all()
    # the faces of the old mesh, mapped, are the new faces
    mapped = mapping[faces]
    alive = (mapped[:, 0] != mapped[:, 1]) & (mapped[:, 1] != mapped[:, 2]) \
        & (mapped[:, 0] != mapped[:, 2])
    assert sorted(map(tuple, np.sort(mapped[alive], axis=1))) == \
        sorted(map(tuple, np.sort(new_faces, axis=1)))


# --------------------------------------------------------------------------- what the reader leaves


def test_polygons_and_ascii_go_the_trimesh_way(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    quads = _ply(np.array([(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)], np.float32),
                 np.array([[0, 1, 2, 3]]), count=4)
    assert _scan_read.read_ply(quads, "q.ply") is None
    outs, _ = _run(tmp_path, "q.ply", quads, True, monkeypatch)
    assert len(_loaded(outs[0].data).faces) == 2
    ascii_ply = b"ply\nformat ascii 1.0\nelement vertex 0\nend_header\n"
    assert _scan_read.read_ply(ascii_ply, "a.ply") is None


def test_a_truncated_heavy_ply_is_one_line_naming_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sphere = _sphere(2)
    data = _ply(np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces))
    with pytest.raises(BundleError) as err:
        _run(tmp_path, "cut.ply", data[:-100], True, monkeypatch)
    assert err.value.entry == "cut.ply" and "truncated" in err.value.rule
    assert "\n" not in str(err.value)


def test_a_scan_over_the_limit_is_refused_before_it_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meshmod, "MAX_SCAN_TRIANGLES", 100)
    sphere = _sphere(2)
    data = _ply(np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces))
    with pytest.raises(BundleError) as err:
        _run(tmp_path, "big.ply", data, True, monkeypatch)
    assert "320 triangles is more than the limit of 100" in err.value.rule


@pytest.mark.parametrize("bad", [32, 9000, "big", 1.5])
def test_max_texture_must_be_a_pixel_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           bad: Any) -> None:
    sphere = _sphere(1)
    data = _ply(np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces))
    with pytest.raises(BundleError) as err:
        _run(tmp_path, "s.ply", data, True, monkeypatch, max_texture=bad)
    assert "max_texture must be a whole number of pixels from 64 to 8192" in err.value.rule


def test_the_glb_writer_makes_a_valid_glb_for_the_khronos_rules() -> None:
    sphere = _sphere(2)
    scan = _scan.Scan(np.asarray(sphere.vertices, np.float32),
                      np.asarray(sphere.faces, np.int32),
                      colors=np.full((len(sphere.vertices), 4), 255, np.uint8))
    scan.normals = _scan.vertex_normals(scan.positions, scan.faces)
    glb = _scan.write_glb(scan)
    doc, binary = split_glb(glb, "w.glb")
    check_gltf(doc, binary, "w.glb")
    assert struct.unpack_from("<I", glb, 8)[0] == len(glb)
    assert json.loads(json.dumps(doc))["asset"]["version"] == "2.0"
    assert np.allclose(np.linalg.norm(_glb_arrays(glb)["NORMAL"], axis=1), 1.0, atol=1e-5)


def test_damaged_heavy_sources_fail_in_one_line_or_pack(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Random damage to a binary PLY and STL on the bounded path: flipped bytes, cuts,
    inserted bytes and lying element counts. Each packs or fails with one BundleError
    line; nothing else escapes (no traceback for a curator)."""
    import random

    monkeypatch.setattr(meshmod, "HEAVY_TRIANGLES", 0)
    sphere = _sphere(2)
    sources = {"f.ply": _ply(np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces)),
               "f.stl": sphere.export(file_type="stl")}
    rng = random.Random(7)
    for trial in range(300):
        name = "f.ply" if trial % 2 == 0 else "f.stl"
        data = bytearray(sources[name])
        kind = rng.randrange(4)
        if kind == 0:
            for _ in range(rng.randrange(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:
            data = data[:rng.randrange(len(data))]
        elif kind == 2 and name == "f.ply":
            end = data.find(b"end_header")
            head = bytes(data[:end]).decode("latin-1").replace(
                "element face 320", f"element face {rng.choice([0, 7, 10**12])}")
            data = bytearray(head.encode() + data[end:])
        else:
            at = rng.randrange(len(data))
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
        ctx = _ctx(tmp_path, None, name)
        with np.errstate(invalid="raise", over="raise"):   # no silent NaN or overflow
            try:
                meshmod.process(ctx, name, bytes(data))
            except BundleError as exc:
                assert "\n" not in str(exc) and exc.entry == name


def _two_material_glb() -> bytes:
    """Two textured spheres with their own materials and one shared image, under a
    node that moves, turns and scales them."""
    image = Image.new("RGB", (16, 16), (30, 60, 90))
    parts = []
    for i in range(2):
        sphere = _sphere(4)
        sphere.apply_translation((0.6 * i, 0.0, 0.0))
        material = trimesh.visual.material.PBRMaterial(name=f"m{i}", baseColorTexture=image,
                                                       roughnessFactor=0.2 * (i + 1))
        sphere.visual = trimesh.visual.TextureVisuals(
            uv=(np.asarray(sphere.vertices)[:, :2] / 0.4 + 0.5), material=material)
        parts.append(sphere)
    scene = trimesh.Scene()
    for i, p in enumerate(parts):
        scene.add_geometry(p, node_name=f"n{i}",
                           transform=trimesh.transformations.compose_matrix(
                               scale=(2.0, 2.0, 2.0), angles=(0.0, 0.5, 0.0),
                               translate=(1.0, 0.0, -3.0)))
    return scene.export(file_type="glb")


def test_a_heavy_glb_keeps_itself_and_gets_lods_with_its_own_materials(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _two_material_glb()
    runs = {heavy: _run(tmp_path / str(heavy), "m.glb", data, heavy, monkeypatch,
                        lods=[3000]) for heavy in (False, True)}
    (light, _), (heavy, heavy_ctx) = runs[False], runs[True]
    assert [o.path for o in heavy] == [o.path for o in light] == ["m.glb", "m.lod1.glb"]
    assert heavy[0].data == light[0].data == data, "the GLB itself is kept byte for byte"
    a, b = _loaded(light[1].data), _loaded(heavy[1].data)
    assert np.allclose(a.bounds, b.bounds, atol=0.02)
    assert abs(len(b.faces) - 3000) < 150
    doc, binary = split_glb(heavy[1].data, "m.lod1.glb")
    check_gltf(doc, binary, "m.lod1.glb")
    assert [m.get("name") for m in doc["materials"]] == ["m0", "m1"]
    assert len(doc["images"]) == 1 and {t["source"] for t in doc["textures"]} == {0}
    assert sorted(p["material"] for p in doc["meshes"][0]["primitives"]) == [0, 1]
    assert "2 LODs" not in " ".join(heavy_ctx.notes["m.glb"])
    assert heavy_ctx.notes["m.glb"][-1].startswith("1 LODs:")
    # UVs come through the LOD as the source wrote them (glTF's v down both ways): the
    # same range as the trimesh path's LOD
    uv, ref = (_glb_arrays(x[1].data)["TEXCOORD_0"] for x in (heavy, light))
    assert np.allclose([uv.min(axis=0), uv.max(axis=0)], [ref.min(axis=0), ref.max(axis=0)],
                       atol=0.05)


def test_a_skinned_or_two_uv_set_glb_goes_the_trimesh_way() -> None:
    doc = {"asset": {"version": "2.0"}, "skins": [{"joints": [0]}]}
    assert _scan_read.read_gltf(doc, None, "s.glb") is None
    doc = {"asset": {"version": "2.0"},
           "materials": [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0,
                                                                        "texCoord": 1}}}]}
    assert _scan_read.read_gltf(doc, None, "t.glb") is None


def _obj(sphere: trimesh.Trimesh, corners: str, mtl: bool) -> str:
    v, f = np.asarray(sphere.vertices), np.asarray(sphere.faces) + 1
    uv = v[:, :2] / 0.4 + 0.5
    lines = (["mtllib looks.mtl", "o scan"] if mtl else ["o scan"]) + \
        [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v]
    if "t" in corners:
        lines += [f"vt {a:.6f} {b:.6f}" for a, b in uv]
    if "n" in corners:
        lines += [f"vn {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v / 0.2]
    if mtl:
        lines.append("usemtl glaze")
    fmt = {"v": "{0}", "vt": "{0}/{0}", "vn": "{0}//{0}", "vtn": "{0}/{0}/{0}"}[corners]
    lines += ["f " + " ".join(fmt.format(i) for i in face) for face in f]
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize("corners", ["v", "vt", "vn", "vtn"])
def test_a_heavy_obj_comes_out_as_the_trimesh_path_makes_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, corners: str) -> None:
    sphere = _sphere(3)
    data = _obj(sphere, corners, mtl=True).encode()
    found = _scan_read.read_obj(data, "scan.obj")
    assert found is not None and found[1:] == ("looks.mtl", "glaze"), "the bounded reader"
    assert found[0].triangles == len(sphere.faces)
    outs, ctxs = {}, {}
    for heavy in (False, True):
        folder = tmp_path / str(heavy)
        folder.mkdir()
        (folder / "looks.mtl").write_text("newmtl glaze\nKd 0.2 0.6 0.4\nmap_Kd glaze.png\n")
        (folder / "glaze.png").write_bytes(_png_bytes())
        o, c = _run(folder, "scan.obj", data, heavy, monkeypatch)
        outs[heavy], ctxs[heavy] = o, c
    a, b = _loaded(outs[False][0].data), _loaded(outs[True][0].data)
    assert np.allclose(a.bounds, b.bounds, atol=1e-6) and len(a.faces) == len(b.faces)
    doc = split_glb(outs[True][0].data, "scan.glb")[0]
    pbr = doc["materials"][0]["pbrMetallicRoughness"]
    assert pbr["baseColorFactor"][:3] == pytest.approx([0.2, 0.6, 0.4])
    assert ("baseColorTexture" in pbr) == ("t" in corners)
    if "t" in corners:
        heavy_uv, light_uv = (_glb_arrays(o[0].data)["TEXCOORD_0"] for o in (outs[True],
                                                                           outs[False]))
        assert np.allclose([heavy_uv.min(0), heavy_uv.max(0)],
                           [light_uv.min(0), light_uv.max(0)], atol=1e-5)
    assert sorted(ctxs[True].consumed) == ["glaze.png", "looks.mtl"] if "t" in corners \
        else "looks.mtl" in ctxs[True].consumed


def test_obj_layouts_the_reader_leaves_to_trimesh() -> None:
    sphere = _sphere(1)
    base = _obj(sphere, "v", mtl=False)
    quads = base + "f 1 2 3 4\r\n"
    assert _scan_read.read_obj(quads.encode(), "q.obj") is None
    two = base.replace("o scan", "o scan\r\nusemtl a") + "usemtl b\r\nf 1 2 3\r\n"
    assert _scan_read.read_obj(two.encode(), "m.obj") is None
    lines = base + "l 1 2\r\n"
    assert _scan_read.read_obj(lines.encode(), "l.obj") is None
    relative = base + "f -1 -2 -3\r\n"
    assert _scan_read.read_obj(relative.encode(), "r.obj") is None
    missing = base + "f 1 2 999\r\n"
    with pytest.raises(AssetError, match="missing vertices"):
        _scan_read.read_obj(missing.encode(), "x.obj")
