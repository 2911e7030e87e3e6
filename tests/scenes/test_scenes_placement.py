"""Fit-to-plinth placement of real-world models, measured on the built scene graph.

Each test packs a bundle around GLBs made here (a cube centred on its origin, a model
in centimetres, a Z-up model, a skinned model) and builds the heritage scene without a
window, then reads :meth:`HeritageScene.placement`: the bottom of the model's world
bounds within 1 cm of the plinth top, its height within the display volume, its
footprint centred on the turntable axis, at several show times. One render test checks
that the bounds Panda3D reports for a skinned model are the drawn ones; the real Fox
from ``../shared/real-assets`` is used where that folder exists.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.pack import pack
from exhibit_engine.errors import SceneError
from exhibit_engine.scenes import _heritage_plan as plan

ROOT = Path(__file__).resolve().parents[2]
FONT = ROOT / "content" / "fonts" / "NotoSansSC-Labels.otf"
REAL = ROOT.parent / "shared" / "real-assets" / "good"
TIMES = (0.0, 7.5, 15.0, 41.0)
CM = 0.01           # tolerance: one centimetre


def box_glb(lo, hi, *, skinned: bool = False, rise: float = 0.0) -> bytes:
    """A box from ``lo`` to ``hi`` (glTF axes, Y-up); ``skinned``: bound to one joint;
    ``rise``: with an animation "Rise" that lifts the joint by that much over 1 s."""
    xs, ys, zs = zip(lo, hi)
    pos = np.array([(x, y, z) for x in xs for y in ys for z in zs], dtype=np.float32)
    quads = ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3))
    idx = np.array([q[k] for q in quads for k in (0, 1, 2, 0, 2, 3)], dtype=np.uint16)
    chunks = [pos.tobytes(), idx.tobytes() + b"\0" * (-idx.nbytes % 4)]
    accessors = [
        {"bufferView": 0, "componentType": 5126, "count": 8, "type": "VEC3",
         "min": pos.min(0).tolist(), "max": pos.max(0).tolist()},
        {"bufferView": 1, "componentType": 5123, "count": len(idx), "type": "SCALAR"}]
    attrs = {"POSITION": 0}
    nodes: list[dict] = [{"name": "box", "mesh": 0}]
    doc: dict = {"asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}]}
    if skinned:
        chunks.append(np.zeros((8, 4), np.uint8).tobytes())
        chunks.append(np.tile(np.float32([1, 0, 0, 0]), (8, 1)).tobytes())
        ibm = np.eye(4, dtype=np.float32)
        ibm[3, :3] = (0.0, -0.25, 0.0)          # column-major: a translation by -0.25 y
        chunks.append(ibm.tobytes())
        accessors += [{"bufferView": 2, "componentType": 5121, "count": 8, "type": "VEC4"},
                      {"bufferView": 3, "componentType": 5126, "count": 8, "type": "VEC4"},
                      {"bufferView": 4, "componentType": 5126, "count": 1, "type": "MAT4"}]
        attrs.update(JOINTS_0=2, WEIGHTS_0=3)
        nodes[0]["skin"] = 0
        nodes.append({"name": "joint", "translation": [0.0, 0.25, 0.0]})
        nodes.append({"name": "root", "children": [0, 1]})     # as exporters write it
        doc["skins"] = [{"joints": [1], "inverseBindMatrices": 4}]
        doc["scenes"] = [{"nodes": [2]}]
        if rise:
            # a key per frame at 30 fps (panda3d-gltf 1.x samples LINEAR keys one key late)
            keys = np.linspace(0.0, 1.0, 31, dtype=np.float32)
            chunks.append(keys.tobytes())
            chunks.append(np.float32([[0, 0.25 + rise * k, 0] for k in keys]).tobytes())
            accessors += [{"bufferView": 5, "componentType": 5126, "count": 31,
                           "type": "SCALAR", "min": [0.0], "max": [1.0]},
                          {"bufferView": 6, "componentType": 5126, "count": 31, "type": "VEC3"}]
            doc["animations"] = [{"name": "Rise", "samplers": [
                {"input": 5, "output": 6, "interpolation": "LINEAR"}], "channels": [
                {"sampler": 0, "target": {"node": 1, "path": "translation"}}]}]
    views, blob = [], b""
    for c in chunks:
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(c)})
        blob += c
    views[1]["byteLength"] = idx.nbytes
    doc.update(nodes=nodes, meshes=[{"primitives": [{"attributes": attrs, "indices": 1}]}],
               accessors=accessors, bufferViews=views, buffers=[{"byteLength": len(blob)}])
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text + struct.pack(
        "<I4s", len(blob), b"BIN\0") + blob
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def make_bundle(tmp: Path, models: dict[str, bytes | Path], *, options: str = "",
                extra: dict[str, str] | None = None) -> Path:
    """A one-scene heritage bundle (scene ``g``), one artifact per model (item = name)."""
    src = tmp / "src"
    (src / "meshes").mkdir(parents=True)
    (src / "fonts").mkdir()
    shutil.copy(FONT, src / "fonts" / "f.otf")
    arts, labels = [], []
    for i, (name, data) in enumerate(models.items()):
        if isinstance(data, Path):
            shutil.copy(data, src / "meshes" / f"{name}.glb")
        else:
            (src / "meshes" / f"{name}.glb").write_bytes(data)
        arts.append(f'[[scenes.params.artifacts]]\nitem = "{name}"\nmodel = "meshes/{name}.glb"\n'
                    f'at = [{1.5 * i - 1.0}, 0.3]\nplinth = [0.5, 0.6, 0.95]\ntitle = "{name}"\n'
                    + (extra or {}).get(name, "") + "\n")
        labels.append(f'{name} = {{ zh = "{name}", en = "{name}", ru = "{name}" }}')
    assets = ", ".join(f'"meshes/{n}.glb"' for n in models)
    (src / "bundle.toml").write_text(
        '[bundle]\nid = "placement"\nversion = "1.0.0"\n'
        'title = { zh = "t", en = "t", ru = "t" }\n' + options
        + '\n[[scenes]]\nid = "g"\nkind = "heritage"\ntitle = { zh = "t", en = "t", ru = "t" }\n'
        f'assets = [{assets}, "fonts/f.otf"]\n' + "".join(arts)
        + "[scenes.labels]\n" + "\n".join(labels) + "\n", encoding="utf-8")
    out = tmp / "placement.exb"
    pack(src, out)
    return out


def build(exb: Path):
    """The heritage scene ``g`` of ``exb``, built on bare nodes (no window)."""
    from panda3d.core import NodePath

    from exhibit_engine.scenes.base import SceneContext
    from exhibit_engine.scenes.heritage import HeritageScene

    b = Bundle.open(exb)
    scene = HeritageScene(SceneContext(root=NodePath("root"), rig=NodePath("rig"),
                                       read_asset=b.read, spec=b.scene("g")))
    scene.build()
    return scene


def check_stands(scene, item: str) -> plan.Placement:
    """The numeric acceptance check at several show times; returns the placement at t = 0."""
    first = None
    for t in TIMES:
        pl = scene.placement(item, t)
        first = first or pl
        w, d, h = pl.display
        assert abs(pl.lo[2] - pl.plinth_top) <= CM, f"{item}: base not on the plinth top"
        assert pl.hi[2] - pl.lo[2] <= h + CM, f"{item}: taller than the display volume"
        half = min(w, d) / 2.0 + CM
        for k in (0, 1):
            assert pl.lo[k] >= pl.axis[k] - half and pl.hi[k] <= pl.axis[k] + half, \
                f"{item}: leaves its footprint at t={t}"
        centre = ((pl.turn_lo[0] + pl.turn_hi[0]) / 2.0, (pl.turn_lo[1] + pl.turn_hi[1]) / 2.0)
        assert math.hypot(*centre) <= CM, f"{item}: not centred on the turntable axis"
        assert abs(pl.turn_lo[2]) <= CM
    return first


def height(pl: plan.Placement) -> float:
    return pl.hi[2] - pl.lo[2]


# --------------------------------------------------------------------------- static models


def test_cube_centred_on_its_origin_and_huge_models_stand_on_their_plinths(tmp_path) -> None:
    exb = make_bundle(tmp_path, {
        "cube": box_glb((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5)),
        "huge": box_glb((0, 0, 0), (40, 180, 60)),                      # metres: 180 m
        "cm": box_glb((0, 0, 0), (40, 180, 60)),                        # centimetres
        "real": box_glb((0, 0, 0), (40, 180, 60))},
        options='[assets."meshes/cm.glb"]\nunits = "cm"\n[assets."meshes/real.glb"]\nunits = "cm"\n',
        extra={"real": "height_m = 1.2", "huge": "annotations = [{ title = \"huge\", "
               "note = \"huge\", at = [40.0, 0.0, 180.0] }]"})
    scene = build(exb)
    for item in ("cube", "huge", "cm"):
        check_stands(scene, item)
    assert height(scene.placement("cm")) == pytest.approx(0.7, abs=CM)   # display height
    real = scene.placement("real")
    assert abs(real.lo[2] - real.plinth_top) <= CM
    assert height(real) == pytest.approx(1.2, abs=CM)                    # the curator's size
    # close-ups follow the fitted bounds: a near camera, well inside the far plane
    for item in ("huge", "cube"):
        pl = scene.placement(item, 5.0)
        scene.apply(5.0, {"selected_item": item})
        eye = scene.ctx.rig.get_pos(scene.ctx.root)
        assert 0.5 < math.dist(eye, (*pl.axis, pl.plinth_top)) < 3.0


def test_a_z_up_model_stands_by_up_or_by_packs_up_option(tmp_path) -> None:
    tall = box_glb((0, 0, 0), (0.1, 0.08, 0.5))     # its long axis is glTF's z
    exb = make_bundle(tmp_path, {"lying": tall, "up": tall, "packed": tall},
                      options='[assets."meshes/packed.glb"]\nup = "z"\n',
                      extra={"up": 'up = "z"'})
    scene = build(exb)
    lying = check_stands(scene, "lying")         # turned to fit its length in the footprint
    assert height(lying) < 0.08 and lying.fit.radius == pytest.approx(0.2, abs=1e-3)
    assert height(check_stands(scene, "up")) == pytest.approx(0.5, abs=1e-3)
    assert height(check_stands(scene, "packed")) == pytest.approx(0.5, abs=1e-3)


def test_the_sample_artifacts_keep_their_real_size(heritage_exb: Path) -> None:
    shutil.copy(heritage_exb, heritage_exb.with_name("copy.exb"))
    from panda3d.core import NodePath

    from exhibit_engine.scenes.base import SceneContext
    from exhibit_engine.scenes.heritage import HeritageScene

    with Bundle.open(heritage_exb) as b:
        scene = HeritageScene(SceneContext(root=NodePath("root"), rig=NodePath("rig"),
                                           read_asset=b.read, spec=b.scene("gallery")))
        scene.build()
        for item, h in (("ding", 0.479), ("vase", 0.360), ("bowl", 0.0985)):
            pl = check_stands(scene, item)
            assert pl.fit.scale == 1.0 and height(pl) == pytest.approx(h, abs=2e-3)


# --------------------------------------------------------------------------- skinned models


def test_a_skinned_model_obeys_packs_units_and_up(tmp_path) -> None:
    skinned = box_glb((-10, 0, -10), (10, 50, 10), skinned=True)       # 50 cm high (y)
    lying = box_glb((-10, -10, 0), (10, 10, 50), skinned=True)         # 50 cm along z
    exb = make_bundle(tmp_path, {"metres": skinned, "cm": skinned, "zup": lying},
                      options='[assets."meshes/cm.glb"]\nunits = "cm"\n'
                              '[assets."meshes/zup.glb"]\nunits = "cm"\nup = "z"\n',
                      extra={k: 'fit = "none"' for k in ("metres", "cm", "zup")})
    scene = build(exb)
    assert height(check_stands(scene, "cm")) == pytest.approx(0.5, abs=CM)
    assert height(check_stands(scene, "zup")) == pytest.approx(0.5, abs=CM)
    assert height(scene.placement("metres")) == pytest.approx(50.0, abs=0.1)   # as asked


def test_an_animation_is_a_pure_function_of_show_time_and_obeys_the_units(tmp_path) -> None:
    rising = box_glb((-10, 0, -10), (10, 50, 10), skinned=True, rise=20.0)   # cm
    exb = make_bundle(tmp_path, {"still": rising, "rise": rising},
                      options='[assets."meshes/still.glb"]\nunits = "cm"\n'
                              '[assets."meshes/rise.glb"]\nunits = "cm"\n',
                      extra={"still": 'fit = "none"', "rise": 'fit = "none"\nanimation = "Rise"'})
    scene = build(exb)
    top = scene.placement("rise", 0.0).plinth_top
    # fitted to the union of its poses: the lowest stands on the top; 0.5 m + 0.2 m high
    assert scene.placement("rise", 0.0).fit.size[2] == pytest.approx(0.7, abs=CM)
    for t, lift in ((0.0, 0.0), (0.25, 0.05), (0.5, 0.1), (2.5, 0.1), (0.9, 0.18), (0.5, 0.1)):
        pl = scene.placement("rise", t)
        assert pl.lo[2] - top == pytest.approx(lift, abs=CM), t
        assert height(pl) == pytest.approx(0.5, abs=CM)
        still = scene.placement("still", t)       # no animation asked: the bind pose
        assert abs(still.lo[2] - top) <= CM and height(still) == pytest.approx(0.5, abs=CM)
    with pytest.raises(SceneError, match=r"no animation 'Walk' \(it has: Rise\)"):
        build(make_bundle(tmp_path / "walk", {"rise": rising},
                          extra={"rise": 'animation = "Walk"'}))


@pytest.mark.skipif(not (REAL / "fox-skinned" / "Fox.glb").is_file(),
                    reason="../shared/real-assets is absent (third-party test models)")
def test_the_real_fox_stands_on_its_plinth(tmp_path) -> None:
    fox = REAL / "fox-skinned" / "Fox.glb"
    exb = make_bundle(tmp_path, {"fox": fox, "foxcm": fox, "walk": fox},
                      options='[assets."meshes/foxcm.glb"]\nunits = "cm"\n',
                      extra={"foxcm": "height_m = 0.45", "walk": 'animation = "Walk"'})
    scene = build(exb)
    pl = check_stands(scene, "fox")
    assert height(pl) > 0.1
    real = scene.placement("foxcm")
    assert height(real) == pytest.approx(0.45, abs=CM)
    assert abs(real.lo[2] - real.plinth_top) <= CM
    # walking: poses change with t, the same t gives the same pose, always inside the volume
    a, b = scene.placement("walk", 3.0), scene.placement("walk", 3.2)
    assert a.turn_lo != b.turn_lo and scene.placement("walk", 3.0) == a
    for t in (0.0, 0.3, 3.0, 3.2, 17.7):
        w = scene.placement("walk", t)
        assert w.lo[2] >= w.plinth_top - CM and height(w) <= w.display[2] + CM


@pytest.mark.render
def test_a_skinned_models_bounds_are_the_drawn_ones(tmp_path) -> None:
    """The model's pixels (frame with it minus frame without) lie inside its projected
    bounds and reach their top and bottom: the bounds are what is drawn."""
    from panda3d.core import LPoint3f, Point2

    from exhibit_engine.runtime.render import Renderer

    exb = make_bundle(tmp_path, {"box": box_glb((-10, 0, -10), (10, 50, 10), skinned=True)},
                      options='[assets."meshes/box.glb"]\nunits = "cm"\n')
    with Bundle.open(exb) as b, Renderer((320, 180)) as r:
        r.load(b, "g")
        state = {"selected_item": "box"}
        r.render(12.0, state)
        full = np.asarray(r.snapshot(), float)
        model = r.scene_root.find("**/orient").get_child(0)
        lo, hi = model.get_tight_bounds(r.scene_root)
        model.hide()
        r.render(12.0, state)
        bare = np.asarray(r.snapshot(), float)
        model.show()
        cam = r.rig
        rows = []
        for x in (lo.x, hi.x):
            for y in (lo.y, hi.y):
                for z in (lo.z, hi.z):
                    p2 = Point2()
                    assert r.lens.project(cam.get_relative_point(r.scene_root,
                                                                 LPoint3f(x, y, z)), p2)
                    rows.append((1.0 - p2.y) / 2.0 * 180)
    mask = np.abs(full - bare).max(axis=2) > 12
    assert mask.mean() > 0.02, "the model is drawn"
    ys = np.nonzero(mask.any(axis=1))[0]
    assert min(rows) - 2 <= ys.min() <= min(rows) + 6
    assert max(rows) - 6 <= ys.max() <= max(rows) + 2


# --------------------------------------------------------------------------- pack and validate


def test_validate_refuses_a_bundle_whose_scene_params_would_fail_at_show_time(tmp_path) -> None:
    from exhibit_engine.cli import main

    exb = make_bundle(tmp_path, {"box": box_glb((0, 0, 0), (1, 1, 1))})
    res = CliRunner().invoke(main, ["validate", str(exb)])
    assert res.exit_code == 0, res.output
    # a bundle packed without the CLI's check, naming the source file instead of the GLB
    src = tmp_path / "src"
    toml = src / "bundle.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        'model = "meshes/box.glb"', 'model = "meshes/box.obj"'), encoding="utf-8")
    bad = tmp_path / "bad.exb"
    pack(src, bad)
    res = CliRunner().invoke(main, ["validate", str(bad)])
    assert res.exit_code == 1
    line = res.output.strip()
    assert "\n" not in line and "bad.exb" in line and "scene 'g'" in line
    assert "artifacts[0].model must name" in line and "meshes/box.glb" in line
    # exhibit pack refuses it in one line and leaves no bundle
    out = tmp_path / "cli.exb"
    res = CliRunner().invoke(main, ["pack", str(src), "-o", str(out)])
    assert res.exit_code == 1 and not out.exists()
    assert "artifacts[0].model must name" in res.output.strip().splitlines()[-1]


def test_pack_notes_an_implausible_declared_size(tmp_path) -> None:
    from exhibit_engine.cli import main

    make_bundle(tmp_path, {"box": box_glb((0, 0, 0), (1, 1, 1))},
                extra={"box": "height_m = 48.0"})
    out = tmp_path / "cli.exb"
    res = CliRunner().invoke(main, ["pack", str(tmp_path / "src"), "-o", str(out)])
    assert res.exit_code == 0 and out.exists(), res.output
    assert "scene g: artifacts[0] (box): height_m = 48 m is implausible" in res.output


def test_pack_and_validate_refuse_an_animation_the_model_does_not_have(tmp_path) -> None:
    from exhibit_engine.cli import main

    rising = box_glb((-10, 0, -10), (10, 50, 10), skinned=True, rise=20.0)
    exb = make_bundle(tmp_path, {"rise": rising}, extra={"rise": 'animation = "Walk"'})
    res = CliRunner().invoke(main, ["validate", str(exb)])
    assert res.exit_code == 1
    assert res.output.strip().endswith("heritage parameter artifacts[0].animation: "
                                       "meshes/rise.glb has no animation 'Walk' (it has: Rise)")
    out = tmp_path / "cli.exb"
    res = CliRunner().invoke(main, ["pack", str(tmp_path / "src"), "-o", str(out)])
    assert res.exit_code == 1 and not out.exists() and "(it has: Rise)" in res.output
