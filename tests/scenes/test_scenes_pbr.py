"""glTF metallic-roughness materials on the heritage artifact shader (scenes/_materials.py,
shaders/heritage_artifact.*.glsl).

Small GLBs made here (a 0.3 m cube each, with one material feature) replace the sample
artifacts in a copy of the heritage bundle without annotations, and each is framed by
selecting it. The cube's pixels are found from a probe bundle whose cubes glow white;
the colour there must be the material's: its hue kept (not chrome), metal not black,
MASK cutting, BLEND letting the gallery through, emission glowing, a texture transform
moving the texture.
"""

from __future__ import annotations

import colorsys
import io
import json
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.pack import pack

from ..frames import frame

CONTENT = Path(__file__).resolve().parents[2] / "content" / "heritage"
SIZE = (320, 180)
SLOTS = ("ding", "vase", "bowl")


# --------------------------------------------------------------------------- GLB builder

def png(rgba: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.asarray(rgba, dtype=np.uint8), "RGBA").save(out, format="PNG")
    return out.getvalue()


def cube_glb(material: dict[str, Any], *, image: bytes | None = None,
             colors: tuple[float, float, float, float] | None = None,
             size: float = 0.3) -> bytes:
    """A cube standing on its base (glTF Y-up), per-face normals and 0..1 UVs."""
    h = size / 2.0
    pos, nrm, uv = [], [], []
    faces = [((1, 0, 0), (0, 0, -1)), ((-1, 0, 0), (0, 0, 1)), ((0, 1, 0), (1, 0, 0)),
             ((0, -1, 0), (1, 0, 0)), ((0, 0, 1), (1, 0, 0)), ((0, 0, -1), (-1, 0, 0))]
    idx = []
    for n, t in faces:
        n, t = np.array(n, float), np.array(t, float)
        b = np.cross(n, t)
        base = len(pos)
        for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            p = n * h + t * h * su + b * h * sv + np.array([0.0, h, 0.0])
            pos.append(p)
            nrm.append(n)
            uv.append(((su + 1) / 2, 1 - (sv + 1) / 2))
        idx += [base, base + 1, base + 2, base, base + 2, base + 3]
    arrays = [("POSITION", np.asarray(pos, "<f4"), "VEC3"),
              ("NORMAL", np.asarray(nrm, "<f4"), "VEC3"),
              ("TEXCOORD_0", np.asarray(uv, "<f4"), "VEC2")]
    if colors is not None:
        arrays.append(("COLOR_0", np.tile(np.asarray(colors, "<f4"), (len(pos), 1)), "VEC4"))
    blob, views, accessors, attrs = b"", [], [], {}
    for name, a, kind in arrays:
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": a.nbytes})
        acc = {"bufferView": len(views) - 1, "componentType": 5126, "count": len(a),
               "type": kind}
        if name == "POSITION":
            acc["min"], acc["max"] = a.min(axis=0).tolist(), a.max(axis=0).tolist()
        accessors.append(acc)
        attrs[name] = len(accessors) - 1
        blob += a.tobytes()
    ind = np.asarray(idx, "<u2").tobytes()
    views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(ind)})
    accessors.append({"bufferView": len(views) - 1, "componentType": 5123, "count": len(idx),
                      "type": "SCALAR"})
    blob += ind + b"\0" * ((-len(ind)) % 4)
    doc: dict[str, Any] = {
        "asset": {"version": "2.0"}, "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": attrs, "indices": len(accessors) - 1,
                                    "material": 0}]}],
        "materials": [material], "accessors": accessors, "bufferViews": views}
    used = sorted({e for e in ("KHR_texture_transform", "KHR_materials_emissive_strength")
                   if e in json.dumps(material)})
    if used:
        doc["extensionsUsed"] = used
    if image is not None:
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(image)})
        blob += image + b"\0" * ((-len(image)) % 4)
        doc["images"] = [{"bufferView": len(views) - 1, "mimeType": "image/png"}]
        doc["samplers"] = [{"magFilter": 9728, "minFilter": 9728}]
        doc["textures"] = [{"source": 0, "sampler": 0}]
    doc["buffers"] = [{"byteLength": len(blob)}]
    js = json.dumps(doc).encode()
    js += b" " * ((-len(js)) % 4)
    return (b"glTF" + struct.pack("<II", 2, 28 + len(js) + len(blob))
            + struct.pack("<I", len(js)) + b"JSON" + js
            + struct.pack("<I", len(blob)) + b"BIN\0" + blob)


def pbr(base=(1.0, 1.0, 1.0, 1.0), metal=0.0, rough=0.6, **extra) -> dict[str, Any]:
    return {"pbrMetallicRoughness": {"baseColorFactor": list(base), "metallicFactor": metal,
                                     "roughnessFactor": rough, **extra.pop("pbr", {})},
            **extra}


def halves(left, right) -> np.ndarray:
    img = np.zeros((8, 8, 4), np.uint8)
    img[:, :4] = left
    img[:, 4:] = right
    return img


GLOW = pbr(base=(0, 0, 0, 1), emissiveFactor=[1.0, 1.0, 1.0],
           extensions={"KHR_materials_emissive_strength": {"emissiveStrength": 30.0}})
RED, GOLD, GREY = (0.8, 0.06, 0.05, 1.0), (1.0, 0.72, 0.30, 1.0), (0.6, 0.6, 0.6, 1.0)
TEX = {"baseColorTexture": {"index": 0}}
CASES: dict[str, dict[str, tuple[dict, dict]]] = {
    "colours": {
        "ding": (pbr(base=RED), {}),
        "vase": (pbr(pbr=TEX), {"image": png(np.full((4, 4, 4), (235, 190, 30, 255)))}),
        "bowl": (pbr(), {"colors": (0.05, 0.15, 0.9, 1.0)}),
    },
    "metal": {
        "ding": (pbr(base=GOLD, metal=1.0, rough=0.3), {}),
        "vase": (pbr(base=(0.8, 0.8, 0.8, 1.0)), {}),
        "bowl": (pbr(base=RED, pbr=TEX, alphaMode="MASK", alphaCutoff=0.5),
                 {"image": png(halves((255, 255, 255, 0), (255, 255, 255, 255)))}),
    },
    "effects": {
        "ding": (pbr(base=(0.8, 0.8, 0.8, 0.3), alphaMode="BLEND"), {}),
        "vase": (pbr(base=(0, 0, 0, 1), emissiveFactor=[1.0, 0.15, 0.05], extensions={
            "KHR_materials_emissive_strength": {"emissiveStrength": 4.0}}), {}),
        "bowl": (pbr(pbr={"baseColorTexture": {"index": 0, "extensions": {
            "KHR_texture_transform": {"scale": [0.5, 1.0]}}}}),
                 {"image": png(halves((230, 20, 20, 255), (20, 200, 20, 255)))}),
    },
    "probe": {s: (GLOW, {}) for s in SLOTS},
    # a normal map: flat (0, 0, 1) must look like none; tilted must relight every face
    "plain": {s: (pbr(base=GREY), {}) for s in SLOTS},
    "normal-flat": {s: (pbr(base=GREY, normalTexture={"index": 0}),
                        {"image": png(np.full((4, 4, 4), (128, 128, 255, 255)))}) for s in SLOTS},
    "normal-tilted": {s: (pbr(base=GREY, normalTexture={"index": 0}),
                          {"image": png(np.full((4, 4, 4), (235, 128, 170, 255)))})
                      for s in SLOTS},
}


def bundle_src(folder: Path, models: dict[str, bytes]) -> Path:
    """The heritage sample's bundle with the given models and no annotations."""
    folder.mkdir(parents=True)
    shutil.copytree(CONTENT / "fonts", folder / "fonts")
    text = (CONTENT / "bundle.toml").read_text(encoding="utf-8")
    text = re.sub(r"annotations = \[\n(?:  .*\n)*\]\n", "", text)
    (folder / "bundle.toml").write_text(text, encoding="utf-8")
    (folder / "meshes").mkdir()
    for slot, data in models.items():
        (folder / "meshes" / f"{slot}.glb").write_bytes(data)
    return folder


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, np.ndarray]]:
    """case -> slot -> frame (320 x 180) with that slot's cube selected."""
    from exhibit_engine.runtime.render import Renderer

    root = tmp_path_factory.mktemp("pbr")
    out: dict[str, dict[str, np.ndarray]] = {}
    with Renderer(SIZE) as r:
        for case, slots in CASES.items():
            models = {s: cube_glb(mat, **kw) for s, (mat, kw) in slots.items()}
            exb = root / f"{case}.exb"
            pack(bundle_src(root / case, models), exb)
            with Bundle.open(exb) as b:
                r.load(b, "gallery")
                out[case] = {s: frame(r, 20.0, {"selected_item": s}) for s in SLOTS}
    return out


def region(frames, slot: str) -> np.ndarray:
    mask = frames["probe"][slot].min(axis=-1) > 200.0
    assert mask.sum() > 300, "the probe cube fills a part of the frame"
    return mask


def hue_sat(rgb: np.ndarray) -> tuple[float, float]:
    h, _, s = colorsys.rgb_to_hls(*(np.asarray(rgb, float) / 255.0))
    return h * 360.0, s


def hue_near(h: float, target: float, tol: float) -> bool:
    return abs((h - target + 180.0) % 360.0 - 180.0) < tol


def srgb_hue(linear) -> float:
    return hue_sat(255.0 * np.power(np.asarray(linear[:3], float), 1 / 2.2))[0]


# --------------------------------------------------------------------------- renders

@pytest.mark.render
@pytest.mark.parametrize(("slot", "target"), [("ding", RED), ("vase", (0.83, 0.51, 0.012)),
                                              ("bowl", (0.05, 0.15, 0.9))])
def test_colour_comes_from_factor_texture_and_vertex_colours(frames, slot, target) -> None:
    mean = frames["colours"][slot][region(frames, slot)].mean(axis=0)
    h, s = hue_sat(mean)
    assert hue_near(h, srgb_hue(target), 20.0), f"{slot}: hue {h:.0f}, mean {mean}"
    assert s > 0.45, f"{slot}: saturation {s:.2f} (chrome or grey), mean {mean}"
    assert mean.max() > 60.0, f"{slot}: too dark, mean {mean}"


@pytest.mark.render
def test_metal_keeps_its_colour_and_is_not_black(frames) -> None:
    mean = frames["metal"]["ding"][region(frames, "ding")].mean(axis=0)
    h, s = hue_sat(mean)
    assert mean.max() > 45.0, f"metal reads black: {mean}"
    assert hue_near(h, srgb_hue(GOLD), 20.0) and s > 0.25, f"gold reads as chrome: {mean}"


@pytest.mark.render
def test_mask_cuts_where_alpha_is_below_the_cutoff(frames) -> None:
    px = frames["metal"]["bowl"][region(frames, "bowl")]
    red = (px[:, 0] > 1.8 * px[:, 1]) & (px[:, 0] > 40.0)
    assert 0.2 < red.mean() < 0.8, f"{red.mean():.2f} of the cube is drawn"


@pytest.mark.render
def test_blend_lets_the_gallery_through(frames) -> None:
    blend = frames["effects"]["ding"][region(frames, "ding")].mean()
    opaque = frames["metal"]["vase"][region(frames, "vase")].mean()
    assert 0.1 * opaque < blend < 0.75 * opaque, (blend, opaque)


@pytest.mark.render
def test_emission_glows_with_its_strength(frames) -> None:
    mean = frames["effects"]["vase"][region(frames, "vase")].mean(axis=0)
    assert mean[0] > 200.0 and mean[0] > mean[1] + 20.0 > mean[2] + 40.0, mean


@pytest.mark.render
def test_texture_transform_is_honoured(frames) -> None:
    px = frames["effects"]["bowl"][region(frames, "bowl")]
    green = (px[:, 1] > 1.5 * px[:, 0]).mean()
    red = (px[:, 0] > 1.5 * px[:, 1]).mean()
    assert red > 0.6 and green < 0.1, f"red {red:.2f}, green {green:.2f}"


@pytest.mark.render
def test_normal_maps_relight_the_surface_and_a_flat_one_changes_nothing(frames) -> None:
    def diff(a: str, b: str, slot: str) -> float:
        m = region(frames, slot)
        return float(np.abs(frames[a][slot][m].astype(float)
                            - frames[b][slot][m].astype(float)).mean())

    for slot in SLOTS:
        assert diff("normal-flat", "plain", slot) < 3.0, slot
    tilted = [diff("normal-tilted", "normal-flat", slot) for slot in SLOTS]
    assert sum(d > 8.0 for d in tilted) >= 2, tilted


# --------------------------------------------------------------------------- state

def test_every_geom_gets_its_own_material_with_emissive_strength() -> None:
    from panda3d.core import MaterialAttrib

    from exhibit_engine.scenes.base import load_glb

    model = load_glb(cube_glb(CASES["effects"]["vase"][0]), "meshes/glow.glb")
    state = model.find("**/+GeomNode").node().get_geom_state(0)
    emission = state.get_attrib(MaterialAttrib).get_material().get_emission()
    assert abs(emission[0] - 4.0) < 1e-5 and abs(emission[1] - 0.6) < 1e-5


def test_textures_sit_in_slot_order_and_survive_the_model_cache() -> None:
    from panda3d.core import MaterialAttrib, TextureAttrib, TextureStage

    from exhibit_engine.runtime.cache import decode_bam, encode_bam
    from exhibit_engine.scenes.base import load_glb

    occ = {"occlusionTexture": {"index": 0, "strength": 0.5}}
    glb = cube_glb(pbr(base=RED, pbr={"baseColorTexture": {"index": 0}}, **occ),
                   image=png(np.full((4, 4, 4), (0, 0, 255, 255))))
    back = decode_bam(encode_bam(load_glb(glb, "meshes/red.glb")), "meshes/red.glb")
    state = back.find("**/+GeomNode").node().get_geom_state(0)
    tex = state.get_attrib(TextureAttrib)
    stages = [tex.get_on_stage(i) for i in range(tex.get_num_on_stages())]
    assert [s.get_mode() for s in stages] == [TextureStage.M_modulate, TextureStage.M_gloss]
    occlusion = tex.get_on_texture(stages[1]).get_ram_image_as("RGB")
    assert abs(occlusion[0] - 128) <= 1, "strength 0.5 halves the occlusion"
    base = state.get_attrib(MaterialAttrib).get_material().get_base_color()
    assert abs(base[0] - RED[0]) < 1e-6


# --------------------------------------------------------------------------- a real model

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real-assets" / "good"


def _glb_json(data: bytes) -> tuple[dict, bytes]:
    n = struct.unpack("<I", data[12:16])[0]
    return json.loads(data[20:20 + n]), data[20 + n:]


@pytest.mark.render
@pytest.mark.skipif(not (REAL / "duck" / "Duck.glb").is_file(),
                    reason="../shared/real-assets is absent (third-party test models)")
def test_the_duck_is_yellow_and_textured(tmp_path: Path) -> None:
    from exhibit_engine.runtime.render import Renderer

    doc, rest = _glb_json((REAL / "duck" / "Duck.glb").read_bytes())
    doc.pop("cameras", None)                 # a camera without zfar: not this test's concern
    for node in doc["nodes"]:
        node.pop("camera", None)
    js = json.dumps(doc).encode()
    js += b" " * ((-len(js)) % 4)
    duck = (b"glTF" + struct.pack("<II", 2, 20 + len(js) + len(rest))
            + struct.pack("<I", len(js)) + b"JSON" + js + rest)
    # the duck's own texture: what its mean colour should look like
    img = doc["images"][0]
    view = doc["bufferViews"][img["bufferView"]]
    start = 8 + view.get("byteOffset", 0)
    texture = np.asarray(Image.open(io.BytesIO(rest[start:start + view["byteLength"]]))
                         .convert("RGB"), float).reshape(-1, 3).mean(axis=0)
    plain = cube_glb(pbr())
    exb = tmp_path / "duck.exb"
    pack(bundle_src(tmp_path / "src", {"ding": duck, "vase": plain, "bowl": plain}), exb)
    with Bundle.open(exb) as b, Renderer(SIZE) as r:
        r.load(b, "gallery")
        img = frame(r, 20.0, {"selected_item": "ding"})
    px = img.reshape(-1, 3)
    yellow = px[(px[:, 0] > 1.3 * px[:, 2] + 20.0) & (px[:, 1] > 1.3 * px[:, 2] + 10.0)]
    assert len(yellow) > 0.05 * len(px), "the duck fills part of the frame, in yellow"
    h, s = hue_sat(yellow.mean(axis=0))
    assert hue_near(h, hue_sat(texture)[0], 15.0) and s > 0.5, (h, s, texture)
