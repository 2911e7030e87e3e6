"""The ``prints`` scene kind: a gallery walk past multi-block woodblock prints.

A warm gallery wall with framed, matted prints at eye level, each in its own pool of
spotlight, a printed caption beside it (title, artist, year, technique) in the
visitor's language and a row of ink chips, one per block. The camera walks along the
wall at eye height (1.6 m); at each print it stops and the print is printed in front of
the visitor, block by block, lightest ink first and the key block last, each block a
roller pass across the sheet; then it rests on the finished print and walks on. After
the last print the walk fades through black and starts again.

Assets: every ``*blocks.json`` in the scene's ``assets`` is one print, hung in that
order (at most :data:`MAX_PRINTS`)::

    {"item": "birch-forest", "paper": "#f2ebda", "grain": "prints/paper.png",
     "blocks": [{"ink": "#a9bed6", "mask": "prints/birch-forest/block-1.png",
                 "name": {"zh": ..., "en": ..., "ru": ...}}, ...]}

Blocks are in printing order (at most :data:`MAX_BLOCKS`); a mask is an image whose
first channel is the block's ink coverage. The first ``.otf``/``.ttf`` asset is the
caption font. Captions come from the scene's labels ``<item>.title``,
``<item>.technique`` and, shared by all prints, ``artist`` and ``year``.

Parameters (``[scenes.params]``): ``seed`` (int, 0), ``block_s`` (s per block, 2.5),
``pause_s`` (rest on the finished print, 5.0), ``walk_s`` (walk between prints, 5.0),
``settle_s`` (stand before printing starts, 1.2), ``start`` (show time offset into the
walk, 0.0), ``spacing`` (m between prints, 3.6), ``distance`` (m from the wall, 3.0).

State keys read by :meth:`PrintsScene.apply`: ``fade`` (0..1), ``language`` (``zh``
default, ``en``, ``ru``).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from panda3d.core import (LVecBase2f, LVecBase3f, LVecBase4f, NodePath, PTA_LVecBase4f,
                          SamplerState, Texture, TransparencyAttrib)

from ..errors import AssetError, BundleError, SceneError
from ._gallery_geom import MeshBuilder
from ._params import check_ranges, typed_params
from .base import Scene, make_shader
from .labels import load_font, make_label

__all__ = ["EYE_HEIGHT", "LANGUAGES", "MAX_BLOCKS", "MAX_PRINTS", "Pose", "Print",
           "PrintsParams", "PrintsScene", "walk_pose"]

EYE_HEIGHT = 1.6
MAX_PRINTS = 8
MAX_BLOCKS = 8
LANGUAGES = ("zh", "en", "ru")
_CENTRE_Z = 1.55            # print centre height (museum standard)
_IMAGE_W = 0.84             # printed sheet width (m)
_MAT = (0.13, 0.13, 0.15)   # mat margin: sides, top, bottom (m)
_FRAME = 0.045              # moulding width (m)
_CAPTION_GAP = 0.16
_LOOP_FADE_S = 1.5
_WALL = "#d9d0c1"
_FLOOR = "#8a6a4a"


def _srgb(hex_: str) -> tuple[float, float, float]:
    return (int(hex_[1:3], 16) / 255.0, int(hex_[3:5], 16) / 255.0, int(hex_[5:7], 16) / 255.0)


def _lin(c: Sequence[float]) -> tuple[float, float, float]:
    return tuple(float(v) ** 2.2 for v in c)  # type: ignore[return-value]


def _ease(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * u * (u * (6.0 * u - 15.0) + 10.0)


@dataclass(frozen=True)
class PrintsParams:
    """The ``prints`` kind's parameters, checked."""

    seed: int = 0
    block_s: float = 2.5
    pause_s: float = 5.0
    walk_s: float = 5.0
    settle_s: float = 1.2
    start: float = 0.0
    spacing: float = 3.6
    distance: float = 3.0

    @classmethod
    def parse(cls, scene_id: str, params: Mapping[str, Any]) -> PrintsParams:
        """Check a manifest's params mapping.

        Raises:
            SceneError: an unknown key, a wrong type or a value out of range.
        """
        p = typed_params(cls, "prints", scene_id, params)
        check_ranges(scene_id, ((0.2 <= p.block_s <= 60.0, "block_s must be 0.2..60 s"),
                                (0.0 <= p.pause_s <= 600.0, "pause_s must be 0..600 s"),
                                (0.5 <= p.walk_s <= 120.0, "walk_s must be 0.5..120 s"),
                                (0.0 <= p.settle_s <= 60.0, "settle_s must be 0..60 s"),
                                (2.0 <= p.spacing <= 20.0, "spacing must be 2..20 m"),
                                (1.0 <= p.distance <= 15.0, "distance must be 1..15 m")))
        return p


@dataclass(frozen=True)
class Print:
    """One print as loaded: its item id, paper, inks (sRGB hex) and aspect (w / h)."""

    item: str
    paper: str
    inks: tuple[str, ...]
    aspect: float


@dataclass(frozen=True)
class Pose:
    """Where the walk is at a show time.

    Attributes:
        x: camera position along the wall (m).
        y: camera position (negative: in front of the wall).
        heading: degrees (0 faces the wall; negative turns right, towards +X).
        levels: printing progress per print (0 .. its block count).
        current: the print the visitor is at or walking to.
        fade: loop fade (0..1).
    """

    x: float
    y: float
    heading: float
    levels: tuple[float, ...]
    current: int
    fade: float


def _view_x(i: int, p: PrintsParams) -> float:
    """Camera x when standing at print ``i``: print and caption share the view."""
    return i * p.spacing + 0.42


def walk_pose(t: float, counts: Sequence[int], p: PrintsParams) -> Pose:
    """The walk at show time ``t`` (pure): camera pose and each print's progress.

    Per print: walk to it (``walk_s``; the first walk comes in from the left), stand
    (``settle_s``), print its blocks (``block_s`` each), rest (``pause_s``). The whole
    walk loops, fading through black across the loop point.
    """
    segs = [p.walk_s + p.settle_s + n * p.block_s + p.pause_s for n in counts]
    cycle = sum(segs)
    u = (t + p.start) % cycle
    fade = _ease(u / _LOOP_FADE_S) * _ease((cycle - u) / _LOOP_FADE_S)
    i, left = 0, u
    while i < len(segs) - 1 and left >= segs[i]:
        left -= segs[i]
        i += 1
    s = left / p.walk_s
    x0 = _view_x(i - 1, p) if i > 0 else _view_x(0, p) - 0.6 * p.spacing
    e = _ease(s)
    x = x0 + (_view_x(i, p) - x0) * e
    swing = math.sin(math.pi * min(max(s, 0.0), 1.0))
    heading = -14.0 * swing * (1.0 if i > 0 else 0.6)
    printing = left - p.walk_s - p.settle_s
    level = min(max(printing / p.block_s, 0.0), float(counts[i]))
    # a small step closer while the print is printed, back before walking on
    closer = 0.3 * _ease((left - p.walk_s) / 2.0) * (1.0 - _ease(
        (left - segs[i] + 2.0) / 2.0))
    levels = tuple(float(n) if j < i else (level if j == i else 0.0)
                   for j, n in enumerate(counts))
    return Pose(x=x, y=-p.distance + closer - 0.25 * swing, heading=heading, levels=levels,
                current=i, fade=fade)


# --------------------------------------------------------------------------- loading


def _mask_texture(name: str, channels: Sequence[np.ndarray], size: tuple[int, int]
                  ) -> Texture:
    """Up to four masks (uint8 (h, w)) as one RGBA texture with mipmaps."""
    w, h = size
    arr = np.zeros((h, w, 4), dtype=np.uint8)
    for c, m in enumerate(channels):
        arr[..., c] = m
    tex = Texture(name)
    tex.setup_2d_texture(w, h, Texture.T_unsigned_byte, Texture.F_rgba8)
    tex.set_ram_image(np.ascontiguousarray(arr[::-1][..., [2, 1, 0, 3]]).tobytes())
    tex.set_minfilter(SamplerState.FT_linear_mipmap_linear)
    tex.set_magfilter(SamplerState.FT_linear)
    tex.set_wrap_u(SamplerState.WM_clamp)
    tex.set_wrap_v(SamplerState.WM_clamp)
    return tex


def _decode(data: bytes, name: str, mode: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    from ..assets.checks import image_header, pixel_limit
    from ..assets.gltf import MAX_IMAGE_PIXELS

    image_header(data, name, MAX_IMAGE_PIXELS)
    try:
        with pixel_limit(MAX_IMAGE_PIXELS), Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert(mode))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise AssetError(name, f"not a readable image ({exc})") from None


def _hex(value: Any, where: str) -> str:
    if not (isinstance(value, str) and len(value) == 7 and value[0] == "#"
            and all(c in "0123456789abcdefABCDEF" for c in value[1:])):
        raise AssetError(where, f"colour must be #rrggbb, not {value!r}")
    return value.lower()


class PrintsScene(Scene):
    """A gallery walk with prints printed block by block (see the module docstring)."""

    kind = "prints"

    def _read(self, path: str) -> bytes:
        """A bundle file; a source name packing renamed is found by folder and stem."""
        try:
            return self.ctx.read_asset(path)
        except BundleError:
            want = PurePosixPath(path)
            for a in self.ctx.spec.assets:
                pa = PurePosixPath(a)
                if pa.parent == want.parent and pa.stem == want.stem:
                    return self.ctx.read_asset(a)
            raise

    def _load_print(self, path: str) -> tuple[Print, list[Texture], Texture]:
        try:
            doc = json.loads(self._read(path).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AssetError(path, f"not valid JSON ({exc})") from None
        blocks = doc.get("blocks") if isinstance(doc, dict) else None
        if not isinstance(blocks, list) or not 1 <= len(blocks) <= MAX_BLOCKS:
            raise AssetError(path, f"needs 1..{MAX_BLOCKS} blocks")
        item = doc.get("item")
        if not isinstance(item, str) or not item:
            raise AssetError(path, "needs an item id")
        masks, inks, size = [], [], None
        for k, b in enumerate(blocks):
            if not isinstance(b, dict) or not isinstance(b.get("mask"), str):
                raise AssetError(path, f"block {k + 1} needs a mask path")
            inks.append(_hex(b.get("ink"), f"{path}: block {k + 1} ink"))
            m = _decode(self._read(b["mask"]), b["mask"], "RGB")[..., 0]
            if size is not None and m.shape != size:
                raise AssetError(b["mask"], f"mask size {m.shape} differs from block 1's")
            size = m.shape
            masks.append(m)
        h, w = size
        texs = [_mask_texture(f"{item}-blocks-{j}", masks[j * 4:(j + 1) * 4], (w, h))
                for j in range(2)]
        grain_path = doc.get("grain")
        key = grain_path if isinstance(grain_path, str) else ""
        if key not in self._grains:
            arr = (_decode(self._read(key), key, "RGB") if key
                   else np.full((4, 4, 3), 200, np.uint8))
            tex = Texture(f"grain:{key}")
            gh, gw = arr.shape[:2]
            tex.setup_2d_texture(gw, gh, Texture.T_unsigned_byte, Texture.F_rgb8)
            tex.set_ram_image(np.ascontiguousarray(arr[::-1][..., ::-1]).tobytes())
            tex.set_minfilter(SamplerState.FT_linear_mipmap_linear)
            tex.set_wrap_u(SamplerState.WM_repeat)
            tex.set_wrap_v(SamplerState.WM_repeat)
            self._grains[key] = tex
        paper = _hex(doc.get("paper", "#f2ebda"), f"{path}: paper")
        return Print(item, paper, tuple(inks), w / h), texs, self._grains[key]

    # -- building -----------------------------------------------------------------

    def build(self) -> None:
        """Load prints and font, hang the prints, build hall, captions and shaders."""
        spec = self.ctx.spec
        self.params = p = PrintsParams.parse(spec.id, spec.params)
        self._grains: dict[str, Texture] = {}
        paths = [a for a in spec.assets if a.endswith("blocks.json")]
        if not paths:
            raise SceneError(spec.id, "the prints kind needs at least one *blocks.json asset")
        if len(paths) > MAX_PRINTS:
            raise SceneError(spec.id, f"at most {MAX_PRINTS} prints per scene")
        loaded = [self._load_print(a) for a in paths]
        self.prints = [pr for pr, _, _ in loaded]
        fonts = [a for a in spec.assets if PurePosixPath(a).suffix.lower() in (".otf", ".ttf")]
        font = load_font(self._read(fonts[0]), fonts[0]) if fonts else None

        root = self.ctx.root
        surf = make_shader("gallery.vert.glsl", "gallery.frag.glsl",
                           common="gallery_common.glsl")
        root.set_shader(surf)
        root.set_shader_input("u_surface", 0.0)
        n = len(self.prints)
        x_lo, x_hi = -p.spacing - 4.0, (n - 1) * p.spacing + p.spacing + 4.0
        wall = MeshBuilder()
        wall.wall_rect(x_lo, 0.0, x_hi, 4.5, 0.0, (*_srgb(_WALL), 0.0))
        wall_np = root.attach_new_node(wall.node("wall"))
        wall_np.set_shader_input("u_surface", 1.0)
        floor = MeshBuilder()
        floor.quad([(x_lo, -12.0, 0.0), (x_hi, -12.0, 0.0), (x_hi, 0.0, 0.0),
                    (x_lo, 0.0, 0.0)], (0, 0, 1), (*_srgb(_FLOOR), 0.3))
        root.attach_new_node(floor.node("floor")).set_shader_input("u_surface", 2.0)
        trim = MeshBuilder()
        trim.box((x_lo, -0.02, 0.0), (x_hi, 0.0, 0.1), (0.93, 0.91, 0.87, 0.1))
        root.attach_new_node(trim.node("skirting"))

        print_shader = make_shader("gallery.vert.glsl", "print.frag.glsl",
                                   common="gallery_common.glsl")
        text_shader = make_shader("gallery.vert.glsl", "gallery_text.frag.glsl",
                                  common="gallery_common.glsl")
        self.sheets: list[NodePath] = []
        self.chips: list[list[NodePath]] = []
        self.captions: dict[str, list[NodePath]] = {lang: [] for lang in LANGUAGES}
        for i, ((pr, texs, grain), path) in enumerate(zip(loaded, paths, strict=True)):
            x = i * p.spacing
            self._hang(i, x, pr, texs, grain, print_shader)
            if font is not None:
                self._caption(i, x, pr, font, text_shader)
        self.apply(0.0, {})

    def _hang(self, i: int, x: float, pr: Print, texs: list[Texture], grain: Texture,
              shader: Any) -> None:
        iw, ih = _IMAGE_W, _IMAGE_W / pr.aspect
        zc = _CENTRE_Z
        l, r, b, t = x - iw / 2, x + iw / 2, zc - ih / 2, zc + ih / 2
        ml, mr, mb, mt = l - _MAT[0], r + _MAT[0], b - _MAT[2], t + _MAT[1]
        m = MeshBuilder()
        mat = (0.95, 0.93, 0.89, 0.0)
        y = -0.035
        o = 0.02        # the mat runs under the moulding: no gap at any angle
        m.wall_rect(ml - o, mb - o, mr + o, b - 0.006, y, mat)
        m.wall_rect(ml - o, t + 0.006, mr + o, mt + o, y, mat)
        m.wall_rect(ml - o, b - 0.006, l - 0.006, t + 0.006, y, mat)
        m.wall_rect(r + 0.006, b - 0.006, mr + o, t + 0.006, y, mat)
        bevel = (1.0, 0.99, 0.96, 0.0)
        m.wall_rect(l - 0.006, b - 0.006, r + 0.006, b, y + 0.004, bevel)
        m.wall_rect(l - 0.006, t, r + 0.006, t + 0.006, y + 0.004, bevel)
        m.wall_rect(l - 0.006, b, l, t, y + 0.004, bevel)
        m.wall_rect(r, b, r + 0.006, t, y + 0.004, bevel)
        wood = (0.17, 0.12, 0.09, 0.6)
        f = _FRAME
        m.box((ml - f, -0.05, mb - f), (mr + f, 0.0, mb), wood)
        m.box((ml - f, -0.05, mt), (mr + f, 0.0, mt + f), wood)
        m.box((ml - f, -0.05, mb), (ml, 0.0, mt), wood)
        m.box((mr, -0.05, mb), (mr + f, 0.0, mt), wood)
        self.ctx.root.attach_new_node(m.node(f"frame-{i}")).set_two_sided(True)
        sheet = MeshBuilder()
        sheet.wall_rect(l, b, r, t, y + 0.008, (1.0, 1.0, 1.0, 0.0))
        node = self.ctx.root.attach_new_node(sheet.node(f"print-{i}"))
        node.set_shader(shader)
        paper = _lin(_srgb(pr.paper))
        inks = PTA_LVecBase4f.empty_array(MAX_BLOCKS)
        for k, ink in enumerate(pr.inks):
            tr = [min(1.0, c / max(pv, 1e-3)) for c, pv in zip(_lin(_srgb(ink)), paper,
                                                                 strict=True)]
            inks[k] = LVecBase4f(*tr, 0.0 if k == len(pr.inks) - 1 else 0.5)
        node.set_shader_input("u_mask0", texs[0])
        node.set_shader_input("u_mask1", texs[1])
        node.set_shader_input("u_grain", grain)
        node.set_shader_input("u_inks", inks)
        node.set_shader_input("u_paper", LVecBase3f(*paper))
        node.set_shader_input("u_count", float(len(pr.inks)))
        node.set_shader_input("u_level", 0.0)
        node.set_shader_input("u_grain_scale", LVecBase2f(2.5, 2.5 / pr.aspect))
        self.sheets.append(node)
        # ink chips: one per block, shown as that block lands
        cx0 = mr + f + _CAPTION_GAP
        chips = []
        base = MeshBuilder()
        for k in range(len(pr.inks)):
            cx = cx0 + k * 0.05
            base.wall_rect(cx, mb + 0.02, cx + 0.038, mb + 0.058, -0.004, (0.80, 0.78, 0.74, 0))
        self.ctx.root.attach_new_node(base.node(f"chip-slots-{i}"))
        for k, ink in enumerate(pr.inks):
            cx = cx0 + k * 0.05
            chip = MeshBuilder()
            chip.wall_rect(cx + 0.003, mb + 0.023, cx + 0.035, mb + 0.055, -0.006,
                           (*_srgb(ink), 0.0))
            chips.append(self.ctx.root.attach_new_node(chip.node(f"chip-{i}-{k}")))
        self.chips.append(chips)

    def _caption(self, i: int, x: float, pr: Print, font: Any, shader: Any) -> None:
        labels = self.ctx.spec.labels
        ih = _IMAGE_W / pr.aspect
        left = x + _IMAGE_W / 2 + _MAT[0] + _FRAME + _CAPTION_GAP
        top = _CENTRE_Z + ih / 2 + _MAT[1] - 0.04
        for lang in LANGUAGES:
            holder = self.ctx.root.attach_new_node(f"caption-{i}-{lang}")
            z = top
            lines = ((f"{pr.item}.title", 0.062, "#231f1c", 0.095),
                     ("artist", 0.042, "#4a433d", 0.065),
                     ("year", 0.042, "#4a433d", 0.065),
                     (f"{pr.item}.technique", 0.038, "#4a433d", 0.06))
            for key, em, colour, step in lines:
                text = labels.get(key, {}).get(lang) or labels.get(key, {}).get("zh")
                if not text:
                    continue
                z -= step
                label = make_label(text, font, height_m=em, align="left", wrap_m=0.8,
                                   name=f"{key}-{lang}")
                label.reparent_to(holder)
                label.set_pos(left, -0.012, z)
                label.set_shader(shader)
                label.set_shader_input("u_text", LVecBase3f(*_srgb(colour)))
                label.set_transparency(TransparencyAttrib.M_alpha)
                label.set_depth_write(False)
                lines_n = label.node().get_num_rows()
                z -= (lines_n - 1) * em * 1.2
            self.captions[lang].append(holder)

    # -- posing ---------------------------------------------------------------------

    def apply(self, t: float, state: Mapping[str, Any]) -> None:
        """Pose the walk, the printing and the captions for show time ``t`` (pure)."""
        p = self.params
        counts = [len(pr.inks) for pr in self.prints]
        pose = walk_pose(float(t), counts, p)
        fade = min(max(float(state.get("fade", 1.0)), 0.0), 1.0) * pose.fade
        root = self.ctx.root
        self.ctx.rig.set_pos_hpr(root, pose.x, pose.y, EYE_HEIGHT, pose.heading, -1.5, 0.0)
        spots = PTA_LVecBase4f.empty_array(8)
        aims = PTA_LVecBase4f.empty_array(8)
        for j in range(min(len(self.prints), 8)):
            x = j * p.spacing
            spots[j] = LVecBase4f(x + 0.25, -1.6, 3.7, 9.0)
            aims[j] = LVecBase4f(x + 0.38, 0.0, _CENTRE_Z - 0.05, 0.0)
        root.set_shader_input("u_spots", spots)
        root.set_shader_input("u_aims", aims)
        root.set_shader_input("u_fade", fade)
        root.set_shader_input("u_cam", LVecBase3f(pose.x, pose.y, EYE_HEIGHT))
        for j, node in enumerate(self.sheets):
            node.set_shader_input("u_level", pose.levels[j])
            for k, chip in enumerate(self.chips[j]):
                if pose.levels[j] >= k + 1.0:
                    chip.show()
                else:
                    chip.hide()
        lang = state.get("language", "zh")
        lang = lang if lang in LANGUAGES else "zh"
        for code, holders in self.captions.items():
            for h in holders:
                if code == lang:
                    h.show()
                else:
                    h.hide()
