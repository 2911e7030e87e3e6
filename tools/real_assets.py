#!/usr/bin/env python3
"""Bring a folder of real third-party models into the engine, as a curator would, and prove it.

For every asset folder of ``../shared/real-assets/good/`` (or ``--assets DIR``), this
maintainer script:

1. writes a heritage bundle source under ``--out`` (default ``out/real-assets``): each
   folder's files copied as they are into ``meshes/<folder>/``, one artifact per model on
   its own plinth (six to a gallery scene), the artifact's ``model`` naming the file the
   curator has (``.gltf``, ``.obj``, ``.ply``, ``.STL``...), and a white card (a matte
   white cube the script makes) in every gallery to measure the gallery's light colour;
2. packs it with ``exhibit pack`` and checks it with ``exhibit validate`` (the curator's
   commands, in child processes, so their one-line errors are what is reported);
3. renders every artifact offscreen in a close-up (the scene's own framing of a selected
   item), twice: as shown, and with the artifact hidden, so the pixels that differ are the
   artifact's region;
4. checks each artifact numerically (the thresholds are the constants below):

   - ``base_gap_m``: the bottom of its world bounds minus the plinth top (|gap| ≤ 1 cm);
   - ``height_m`` within the plinth's display volume (and the footprint inside it);
   - ``colour_distance``: the rendered mean colour of the artifact region against the
     expected one, in rg-chromaticity (r/(r+g+b), g/(r+g+b)); expected = the surface's
     mean base colour (base-colour factor x texture sampled at each face's UV x vertex
     colours, area-weighted, linear light) times the gallery light measured on the white
     card. At most :data:`MAX_COLOUR_DISTANCE`: a chrome, white or black render fails;
   - ``coverage``: the artifact covers at least :data:`MIN_COVERAGE` of the close-up;

5. writes a contact sheet (``--sheet``, default ``docs/images/real-artifacts-sheet.png``):
   one labelled tile per artifact with its figures, red where a check failed;
6. prints one line per artifact and, with ``--json``, a report; exits 1 if any check
   failed, 2 if pack or validate refused the bundle (their line is printed).

``tests/scenes/test_real_assets.py`` runs this script and checks its report; it skips
where ``../shared`` is absent. The models are test data: they are copied only into
``--out`` (ignored by git), never into the project.

Usage::

    python tools/real_assets.py [--assets DIR] [--out DIR] [--sheet PNG] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from _content import label_font_files  # noqa: E402

DEFAULT_ASSETS = ROOT.parent / "shared" / "real-assets" / "good"
#: Largest allowed |bottom of bounds - plinth top|, metres.
MAX_BASE_GAP_M = 0.01
#: Largest allowed rg-chromaticity distance between rendered and expected mean colour.
MAX_COLOUR_DISTANCE = 0.06
#: The largest share of white (specular) light in a rendered colour (see colour_distance).
MAX_SPECULAR = 0.35
#: Show times of the four renders of each artifact (a quarter turn apart).
TIMES = (0.0, 15.0, 30.0, 45.0)
#: Smallest share of the close-up the artifact must cover (at its widest heading).
MIN_COVERAGE = 0.02
#: Artifacts per gallery scene.
PER_SCENE = 6
#: Model extensions, in the order a folder's primary model is chosen.
MODEL_EXTS = (".glb", ".gltf", ".obj", ".ply", ".stl")
TILE = (400, 300)
PLINTH = (0.60, 0.60, 0.95)
CARD = "white-card"

#: What a curator would declare about a folder's model (pack options per source file).
DECLARED: dict[str, dict[str, object]] = {
    "fox-skinned": {"units": "cm"},        # the file is in centimetres (80 units tall)
    "featuretype-stl": {"units": "in"},    # a machined part drawn in inches
    "nefertiti-obj": {"units": "mm"},      # a scan in millimetres
}
#: What a curator sets on an artifact whose file lies on its side (its glTF axis that is up).
PLACED: dict[str, dict[str, object]] = {
    "fuze-obj-mtl": {"up": "z"},           # the bottle lies along the file's Y axis
    "nefertiti-obj": {"up": "z"},          # a Z-up scan
}
#: Titles per folder (zh, en, ru); an unknown folder is titled by its name.
TITLES: dict[str, tuple[str, str, str]] = {
    "alpha-blend": ("透明模式测试板", "Alpha modes test plate", "Тест режимов прозрачности"),
    "box-textured": ("贴图立方体", "Textured box", "Куб с текстурой"),
    "box-vertex-colours": ("顶点色立方体", "Box with vertex colours", "Куб с цветами вершин"),
    "bunny-ply": ("斯坦福兔子", "Stanford bunny", "Стэнфордский кролик"),
    "duck": ("橡皮鸭", "Rubber duck", "Резиновая утка"),
    "featuretype-stl": ("机械零件", "Machined part", "Деталь"),
    "flight-helmet-gltf": ("飞行头盔", "Flight helmet", "Лётный шлем"),
    "fox-skinned": ("狐狸", "Fox", "Лиса"),
    "fuze-obj-mtl": ("保险丝", "Fuze", "Фьюз"),
    "igea-ply-tristrips": ("伊吉亚头像", "Igea head", "Голова Игеи"),
    "milk-truck": ("运奶车", "Milk truck", "Молоковоз"),
    "nefertiti-obj": ("奈费尔提蒂胸像", "Nefertiti bust", "Бюст Нефертити"),
    CARD: ("白卡", "White card (light meter)", "Белая карта"),
}


@dataclass
class Asset:
    """One folder of the assets: its primary model and every file it brings."""

    folder: str
    item: str
    model: str                      # the primary file, relative to the folder
    files: list[str]
    scene: str = ""
    at: tuple[float, float] = (0.0, 0.0)


@dataclass
class Check:
    """What was measured for one artifact, and whether it passes."""

    item: str
    folder: str
    scene: str
    base_gap_m: float = math.nan
    height_m: float = math.nan
    width_m: float = math.nan
    display: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    rendered_rgb: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    expected_rgb: tuple[float, float, float] = (math.nan, math.nan, math.nan)
    colour_distance: float = math.nan
    coverage: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check passed."""
        return not self.failures


# --------------------------------------------------------------------------- the source


def discover(assets: Path) -> list[Asset]:
    """Every asset folder with a model in it, sorted by name."""
    found = []
    for folder in sorted(p for p in assets.iterdir() if p.is_dir()):
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        models = [f for ext in MODEL_EXTS for f in files if f.lower().endswith(ext)]
        if models:
            item = "".join(c if c.isalnum() else "-" for c in folder.name.lower())
            found.append(Asset(folder.name, item, models[0], files))
    return found


def _toml(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else json.dumps(k)


def _white_card() -> bytes:
    """A 0.2 m matte white cube, base at y = 0 (glTF Y-up), as a GLB."""
    import trimesh

    box = trimesh.creation.box((0.2, 0.2, 0.2))
    box.apply_translation((0.0, 0.1, 0.0))
    box.visual = trimesh.visual.ColorVisuals(box)
    mat = trimesh.visual.material.PBRMaterial(baseColorFactor=[1.0, 1.0, 1.0, 1.0],
                                              metallicFactor=0.0, roughnessFactor=1.0)
    box.visual = trimesh.visual.TextureVisuals(material=mat)
    return trimesh.Scene(box).export(file_type="glb")


def write_source(assets_dir: Path, src: Path, assets: list[Asset]) -> list[Asset]:
    """Write the bundle source folder ``src`` for ``assets`` (replacing what was there).

    Returns every artifact placed, white cards included, with its scene and position.
    """
    if src.exists():
        shutil.rmtree(src)
    (src / "meshes").mkdir(parents=True)
    for path, data in label_font_files(src).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for a in assets:
        for f in a.files:
            dest = src / "meshes" / a.folder / f
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(assets_dir / a.folder / f, dest)
    (src / "meshes" / CARD).mkdir()
    (src / "meshes" / CARD / "card.glb").write_bytes(_white_card())

    lines = ['[bundle]', 'id = "real-assets"', 'version = "1.0.0"',
             'title = { zh = "真实模型", en = "Real models", ru = "Настоящие модели" }',
             'rights = "Test data: each model keeps the licence of its source"',
             'license = "various"', '']
    groups = _groups(assets)
    placed = [a for g in groups for a in g]
    for a in placed:
        zh, en, ru = TITLES.get(a.folder, (a.folder,) * 3)
        lines += ['[[items]]', f'id = {_toml(a.item)}',
                  f'title = {_toml({"zh": zh, "en": en, "ru": ru})}',
                  f'creator = {_toml("see ../shared/real-assets/README.md")}', '']
    for folder, opts in DECLARED.items():
        a = next((a for a in assets if a.folder == folder), None)
        if a is not None:
            lines += [f'[assets.{_toml(f"meshes/{a.folder}/{a.model}")}]']
            lines += [f"{k} = {_toml(v)}" for k, v in opts.items()] + [""]
    for n, group in enumerate(groups, start=1):
        sid = f"gallery-{n}"
        models = [f"meshes/{a.folder}/{a.model}" for a in group]
        lines += ['[[scenes]]', f'id = "{sid}"', 'kind = "heritage"',
                  f'title = {_toml({"zh": f"展厅{n}", "en": f"Gallery {n}", "ru": f"Зал {n}"})}',
                  f'assets = {_toml(models + ["fonts/NotoSansSC-Labels.otf"])}', '',
                  '[scenes.params]', 'turntable_period = 60.0', 'focus_seconds = 3.0', '']
        for k, a in enumerate(group):
            a.scene = sid
            a.at = (round((k - (len(group) - 1) / 2.0) * 1.5, 3), 0.0)
            lines += ['[[scenes.params.artifacts]]', f'item = {_toml(a.item)}',
                      f'model = {_toml(f"meshes/{a.folder}/{a.model}")}',
                      f'at = {_toml(list(a.at))}', f'plinth = {_toml(list(PLINTH))}',
                      f'title = {_toml(a.item)}']
            lines += [f"{k} = {_toml(v)}" for k, v in PLACED.get(a.folder, {}).items()] + [""]
        for a in group:
            lines += ['[[scenes.params.tour]]', f'item = {_toml(a.item)}', 'hold = 6.0',
                      'move = 3.0', '']
        lines += ['[scenes.labels]']
        for a in group:
            zh, en, ru = TITLES.get(a.folder, (a.folder,) * 3)
            lines += [f'{_key(a.item)} = {_toml({"zh": zh, "en": en, "ru": ru})}']
        lines += ['']
    (src / "bundle.toml").write_text("\n".join(lines), encoding="utf-8")
    return placed


def _groups(assets: list[Asset]) -> list[list[Asset]]:
    """Galleries of at most PER_SCENE artifacts, each with a white card last."""
    out = []
    for i in range(0, len(assets), PER_SCENE - 1):
        chunk = assets[i:i + PER_SCENE - 1]
        out.append(chunk + [Asset(CARD, f"{CARD}-{len(out) + 1}", "card.glb", [])])
    return out


def _run(cmd: list[str]) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


# --------------------------------------------------------------------------- measuring


def _srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


_COMPONENTS = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16,
               5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def _accessor(doc: dict, binary: bytes, index: int) -> np.ndarray:
    """One accessor as floats (normalised integers scaled to 0..1), shape (count, width)."""
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = np.dtype(_COMPONENTS[acc["componentType"]])
    width, count = _WIDTH[acc["type"]], acc["count"]
    stride = view.get("byteStride") or dtype.itemsize * width
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    rows = np.lib.stride_tricks.as_strided(
        np.frombuffer(binary, dtype=np.uint8, offset=start,
                      count=stride * (count - 1) + dtype.itemsize * width),
        shape=(count, dtype.itemsize * width), strides=(stride, 1))
    out = np.ascontiguousarray(rows).view(dtype).reshape(count, width).astype(np.float64)
    if acc.get("normalized") and dtype.kind in "ui":
        out /= float(np.iinfo(dtype).max)
    return out


def _world_matrices(doc: dict) -> dict[int, np.ndarray]:
    """Every node's world matrix, from the default scene's roots."""
    def local(n: dict) -> np.ndarray:
        if "matrix" in n:
            return np.asarray(n["matrix"], float).reshape(4, 4).T
        x, y, z, w = n.get("rotation", (0, 0, 0, 1))
        r = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                      [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                      [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        m = np.eye(4)
        m[:3, :3] = r * np.asarray(n.get("scale", (1, 1, 1)), float)
        m[:3, 3] = n.get("translation", (0, 0, 0))
        return m

    nodes, out = doc.get("nodes", []), {}
    scene = doc.get("scenes", [{}])[doc.get("scene", 0)]
    todo = [(i, np.eye(4)) for i in scene.get("nodes", [])]
    while todo:
        i, parent = todo.pop()
        out[i] = parent @ local(nodes[i])
        todo += [(c, out[i]) for c in nodes[i].get("children", [])]
    return out


_AXES = {"x": (1, 0, 0), "-x": (-1, 0, 0), "y": (0, 1, 0), "-y": (0, -1, 0),
         "z": (0, 0, 1), "-z": (0, 0, -1)}


def expected_albedo(glb: bytes, up: str = "y") -> np.ndarray:
    """The mean base colour (linear RGB) of the surface a visitor can see, read from a GLB.

    Per triangle of every drawn primitive: the material's base-colour factor x its
    base-colour texture at the triangle's centroid UV (sRGB decoded) x the mean of its
    COLOR_0 (linear); weighted by the triangle's world area. Triangles that face the
    plinth (their normal more than 12 degrees below the horizontal, with ``up`` the
    model's glTF axis that points up) are left out: the gallery's cameras look from
    above, so nobody sees them.
    """
    from PIL import Image

    from exhibit_engine.assets.gltf import split_glb

    doc, binary = split_glb(glb, "model")
    binary = binary or b""
    images: dict[int, np.ndarray] = {}

    def image(tex_index: int) -> np.ndarray:
        src = doc["textures"][tex_index]["source"]
        if src not in images:
            view = doc["bufferViews"][doc["images"][src]["bufferView"]]
            start = view.get("byteOffset", 0)
            with Image.open(io.BytesIO(binary[start:start + view["byteLength"]])) as im:
                images[src] = _srgb_to_linear(np.asarray(im.convert("RGB"), float) / 255.0)
        return images[src]

    total, acc = 0.0, np.zeros(3)
    for node, world in _world_matrices(doc).items():
        mesh = doc["nodes"][node].get("mesh")
        if mesh is None:
            continue
        for prim in doc["meshes"][mesh]["primitives"]:
            if prim.get("mode", 4) != 4:
                continue
            attrs = prim["attributes"]
            pos = _accessor(doc, binary, attrs["POSITION"])
            faces = (_accessor(doc, binary, prim["indices"]).astype(np.int64).reshape(-1, 3)
                     if "indices" in prim else np.arange(len(pos)).reshape(-1, 3))
            tri = pos[faces] @ world[:3, :3].T
            cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            area = 0.5 * np.linalg.norm(cross, axis=1)
            if doc["nodes"][node].get("skin") is None:   # a skin poses its own mesh
                facing = cross @ np.asarray(_AXES[up], float) / np.maximum(2.0 * area, 1e-30)
                area = np.where(facing < -0.2, 0.0, area)
            colour = np.ones((len(faces), 3))
            mat = doc["materials"][prim["material"]] if "material" in prim else {}
            pbr = mat.get("pbrMetallicRoughness", {})
            colour *= np.asarray(pbr.get("baseColorFactor", (1, 1, 1, 1))[:3], float)
            tex = pbr.get("baseColorTexture")
            uv_attr = f"TEXCOORD_{tex.get('texCoord', 0)}" if tex else None
            if tex and uv_attr in attrs:
                img = image(tex["index"])
                h, w = img.shape[:2]
                c = _accessor(doc, binary, attrs[uv_attr])[faces].mean(axis=1)
                x = np.mod(np.floor(c[:, 0] * w), w).astype(int)
                y = np.mod(np.floor(c[:, 1] * h), h).astype(int)   # glTF: v runs down
                colour *= img[y, x]
            if "COLOR_0" in attrs:
                colour *= _accessor(doc, binary, attrs["COLOR_0"])[:, :3][faces].mean(axis=1)
            acc += (colour * area[:, None]).sum(axis=0)
            total += float(area.sum())
    return acc / total if total > 0 else np.ones(3)


def colour_distance(rendered: np.ndarray, expected: np.ndarray, light: np.ndarray | None
                    ) -> float:
    """rg-chromaticity distance from ``rendered`` to the colours a lit dielectric may take.

    A dielectric reflects part of the light white (its specular, strongest at grazing
    angles), so its mean colour lies between the lit albedo and the light itself: the
    distance is taken to the nearest point of that segment within :data:`MAX_SPECULAR`
    of the way from the albedo end.
    """
    e = chroma(expected)
    toward = chroma(light) - e if light is not None else np.zeros(2)
    steps = np.linspace(0.0, MAX_SPECULAR, 36)[:, None]
    return float(np.min(np.linalg.norm(e[None] + steps * toward[None] - chroma(rendered),
                                       axis=1)))


def chroma(rgb: np.ndarray) -> np.ndarray:
    """(r, g) / (r + g + b): colour without brightness."""
    s = float(np.sum(rgb))
    return np.asarray(rgb[:2], float) / s if s > 1e-9 else np.array([1 / 3, 1 / 3])


def render_artifacts(bundle_path: Path, assets: list[Asset], tile: tuple[int, int]
                     ) -> tuple[list[Check], dict[str, np.ndarray]]:
    """Render every artifact's close-up and measure it (see the module docstring)."""
    from exhibit_engine.assets.bundle import Bundle
    from exhibit_engine.runtime.render import Renderer
    from exhibit_engine.wall.frustum import centered_frustum

    checks, tiles = [], {}
    with Bundle.open(bundle_path) as bundle, Renderer(tile) as r:
        r.set_frustum(centered_frustum(tile[0] / tile[1], 50.0))
        for sid in sorted({a.scene for a in assets}):
            r.load(bundle, sid)
            scene = r.current_scene
            group = [a for a in assets if a.scene == sid]
            light = None
            for a in sorted(group, key=lambda a: a.folder != CARD):
                state = {"selected_item": a.item, "selected_at": -1000.0}
                turntable = scene.ctx.root.find(f"**/turntable:{a.item}")
                pixels, coverage, first = [], [], None
                for t in TIMES:                         # four sides of the turntable
                    r.render(t, state)
                    shown = np.asarray(r.snapshot().convert("RGB"), np.float64) / 255.0
                    turntable.hide()
                    r.render(t, state)
                    hidden = np.asarray(r.snapshot().convert("RGB"), np.float64) / 255.0
                    turntable.show()
                    mask = np.abs(shown - hidden).max(axis=2) > 2.5 / 255.0
                    pixels.append(shown[mask])
                    if first is None or mask.mean() > max(coverage):
                        first = shown                   # the tile: its widest side
                    coverage.append(float(mask.mean()))
                place = scene.placement(a.item, TIMES[0])
                c = Check(a.item, a.folder, sid)
                c.base_gap_m = round(place.lo[2] - place.plinth_top, 5)
                c.height_m = round(place.hi[2] - place.lo[2], 4)
                c.width_m = round(max(place.turn_hi[0] - place.turn_lo[0],
                                      place.turn_hi[1] - place.turn_lo[1]), 4)
                c.display = tuple(round(v, 4) for v in place.display)
                c.coverage = round(max(coverage), 4)
                seen = np.concatenate(pixels)
                rendered = _srgb_to_linear(seen).mean(axis=0) if len(seen) else np.zeros(3)
                c.rendered_rgb = tuple(round(float(v), 4) for v in rendered)
                if a.folder == CARD:
                    light = rendered
                    expected = rendered
                else:
                    albedo = expected_albedo(bundle.read(scene.params.artifact(a.item).model),
                                             str(PLACED.get(a.folder, {}).get("up", "y")))
                    expected = albedo * (light if light is not None else 1.0)
                c.expected_rgb = tuple(round(float(v), 4) for v in expected)
                c.colour_distance = round(colour_distance(rendered, expected, light), 4)
                _judge(c, place)
                checks.append(c)
                tiles[a.item] = (first * 255.0 + 0.5).astype(np.uint8)
    return checks, tiles


def _judge(c: Check, place) -> None:
    if not abs(c.base_gap_m) <= MAX_BASE_GAP_M:
        c.failures.append(f"base {c.base_gap_m * 100:+.1f} cm from the plinth top")
    w, d, h = place.display
    if not c.height_m <= h + 1e-3:
        c.failures.append(f"{c.height_m:.2f} m tall, display volume {h:.2f} m")
    lo, hi = place.turn_lo, place.turn_hi       # the turntable's frame: origin on the axis
    if not (hi[0] - lo[0] <= w + 1e-3 and hi[1] - lo[1] <= d + 1e-3):
        c.failures.append(f"footprint {hi[0] - lo[0]:.2f} x {hi[1] - lo[1]:.2f} m, "
                          f"display volume {w:.2f} x {d:.2f} m")
    if not (abs(lo[0] + hi[0]) / 2 <= 0.01 and abs(lo[1] + hi[1]) / 2 <= 0.01):
        c.failures.append("not centred on its plinth")
    if not c.coverage >= MIN_COVERAGE:
        c.failures.append(f"covers {c.coverage:.1%} of its close-up")
    if not c.colour_distance <= MAX_COLOUR_DISTANCE:
        c.failures.append(f"colour {c.colour_distance:.3f} from its material")


# --------------------------------------------------------------------------- the sheet


def contact_sheet(checks: list[Check], tiles: dict[str, np.ndarray], out: Path,
                  tile: tuple[int, int]) -> None:
    """One labelled tile per artifact, four to a row, written atomically."""
    from PIL import Image, ImageDraw, ImageFont

    font_path = ROOT / "content" / "fonts" / "NotoSansSC-Labels.otf"
    big = ImageFont.truetype(str(font_path), 17)
    small = ImageFont.truetype(str(font_path), 13)
    cols, pad, head, foot = 4, 12, 64, 58
    rows = math.ceil((len([c for c in checks if c.folder != CARD]) + 1) / cols)
    w, h = tile
    sheet = Image.new("RGB", (pad + cols * (w + pad), head + rows * (h + foot + pad)),
                      (13, 15, 19))
    draw = ImageDraw.Draw(sheet)
    bad = sum(not c.ok for c in checks)
    real = sum(c.folder != CARD for c in checks)
    draw.text((pad, 12), "Real third-party models, packed, validated and rendered on their "
              "plinths", font=big, fill=(236, 238, 241))
    draw.text((pad, 36), f"{real} models · {bad} failing a check · each in the heritage "
              "gallery's close-up of a selected item, at its widest side · the white card "
              "measures the gallery light · tools/real_assets.py", font=small,
              fill=(146, 153, 165))
    cards = [c for c in checks if c.folder == CARD]
    checks = [c for c in checks if c.folder != CARD] + cards[:1]   # one card is enough
    for i, c in enumerate(checks):
        x, y = pad + (i % cols) * (w + pad), head + (i // cols) * (h + foot + pad)
        if c.item in tiles:
            sheet.paste(Image.fromarray(tiles[c.item]), (x, y))
        colour = (236, 238, 241) if c.ok else (255, 110, 100)
        draw.text((x, y + h + 4), f"{TITLES.get(c.folder, (c.folder,) * 3)[1]}  ·  {c.folder}",
                  font=big, fill=colour)
        line = (f"height {c.height_m:.2f} m · base {c.base_gap_m * 100:+.1f} cm · "
                f"colour off by {c.colour_distance:.3f}")
        draw.text((x, y + h + 26), line, font=small, fill=(146, 153, 165))
        if c.failures:
            draw.text((x, y + h + 42), "; ".join(c.failures)[:64], font=small, fill=colour)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    sheet.save(tmp, format="PNG", optimize=True)
    os.replace(tmp, out)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=Path, default=DEFAULT_ASSETS,
                        help="folder of asset folders (default: ../shared/real-assets/good)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "real-assets",
                        help="work folder: bundle source, bundle (default: out/real-assets)")
    parser.add_argument("--sheet", type=Path,
                        default=ROOT / "docs" / "images" / "real-artifacts-sheet.png",
                        help="contact sheet to write")
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    parser.add_argument("--bench", type=Path, metavar="JSON",
                        help="then run `exhibit bench render --check` on the sample bundles "
                        "and this one, writing its JSON here")
    args = parser.parse_args(argv)
    if not args.assets.is_dir():
        sys.stderr.write(f"{args.assets}: no such folder (the real assets live in "
                         "../shared/real-assets/good)\n")
        return 2
    src, exb = args.out / "src", args.out / "real-assets.exb"
    assets = write_source(args.assets, src, discover(args.assets))
    exhibit = [sys.executable, "-m", "exhibit_engine.cli"]
    for cmd in (exhibit + ["pack", str(src), "-o", str(exb)], exhibit + ["validate", str(exb)]):
        sys.stdout.write(f"$ exhibit {' '.join(cmd[3:])}\n")
        code, text = _run(cmd)
        sys.stdout.write(text + "\n")
        if code:
            if args.json:
                args.json.write_text(json.dumps({"ok": False, "stage": cmd[3],
                                                 "output": text}, indent=1))
            return 2
    checks, tiles = render_artifacts(exb, assets, TILE)
    contact_sheet(checks, tiles, args.sheet, TILE)
    for c in checks:
        status = "ok  " if c.ok else "FAIL"
        sys.stdout.write(f"{status} {c.folder:22s} height {c.height_m:5.2f} m  base "
                         f"{c.base_gap_m * 100:+5.1f} cm  colour off by {c.colour_distance:.3f}  "
                         f"{'; '.join(c.failures)}\n")
    sys.stdout.write(f"sheet: {args.sheet}\n")
    if args.json:
        args.json.write_text(json.dumps({"ok": all(c.ok for c in checks), "stage": "render",
                                         "checks": [asdict(c) | {"ok": c.ok} for c in checks]},
                                        indent=1, ensure_ascii=False))
    code = 0 if all(c.ok for c in checks) else 1
    if args.bench:
        sources = sorted(p.parent for p in (ROOT / "content").glob("*/bundle.toml")) + [src]
        cmd = exhibit + ["bench", "render", "--check", "--json", str(args.bench)]
        for s in sources:
            cmd += ["--source", str(s)]
        sys.stdout.write(f"$ exhibit {' '.join(cmd[3:])}\n")
        bench_code, text = _run(cmd)
        sys.stdout.write(text + "\n")
        code = code or bench_code
    return code


if __name__ == "__main__":
    sys.exit(main())
