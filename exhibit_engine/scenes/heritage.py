"""The ``heritage`` scene kind: artifacts on plinths in a dark, quiet gallery.

Each artifact stands on a plinth and turns slowly on a turntable (one turn per
``turntable_period``), lit by a warm key, a cool fill and a rim light and by the
gallery itself (image-based light). The artifact shader is our own glTF 2.0
metallic-roughness PBR: base colour, metal/rough, normal, occlusion and emissive maps,
vertex colours, alpha modes and double-sided materials, as the model's file says
(laid out by :mod:`._materials`). A tour moves the camera between
viewpoints with eased motion and holds, captioned; a selected artifact draws the
camera to it. The focused artifact's annotations appear: a marker on the anchored
point, a thin leader line, a title and a one-sentence note in fixed slots left and
right of the object (so they never overlap), facing the camera, in the visitor's
language. A marker whose point turns away from the camera fades out with its note.

Parameters (``[scenes.params]``; labels are ids of ``[scenes.labels]``)::

    turntable_period = 60.0       # s per turn
    focus_seconds = 3.0           # s for the camera to settle on a selection
    language = "zh"               # default language: zh, en or ru
    [[scenes.params.artifacts]]   # one per plinth
    item = "ding"                 # the item id (what a kiosk selects)
    model = "meshes/ding.glb"     # one of the scene's assets (the source file, e.g. a .obj,
                                  # is rewritten by pack to its packed .glb)
    at = [0.0, 0.0]               # plinth centre on the floor (m)
    plinth = [0.62, 0.62, 0.90]   # plinth width, depth, height (m)
    title = "ding"                # label on the plinth's front
    phase = 0.0                   # turntable heading at t = 0 (degrees)
    display = [0.496, 0.496, 0.7] # display volume above the plinth top (default: the
                                  # top less 10 % each side, 0.70 m high)
    fit = "auto"                  # auto, fill or none (see _heritage_plan.fit_to_plinth)
    height_m = 0.48               # or: real height (m) ... or scale = 0.01 (a factor)
    rotate = [0.0, 0.0, 0.0]      # degrees about x, y, z (or one number: the heading)
    up = "y"                      # the model's (glTF) axis that points up: y, -y, x, -x, z, -z
    animation = "Walk"            # play this animation of the model, looping with show time
    annotations = [{ title = "ding.handles", note = "ding.handles.note", at = [x, y, z] }]
    [[scenes.params.tour]]        # viewpoints, in order, looping
    item = "ding"                 # frame this artifact ... or give eye and look
    eye = [0.0, -4.3, 1.6]
    look = [0.0, 0.0, 1.1]
    hold = 12.0                   # s still
    move = 4.0                    # s eased move to the next stop (at least 2)
    caption = "tour.ding"         # label shown during the hold

Every model stands with its base on the plinth top, the centre of its bounds on the
turntable axis, fitted to the display volume (:func:`._heritage_plan.fit_to_plinth`);
framing and close-ups follow the fitted bounds. Annotation anchors ``at`` are in the
model's own frame (metres, Z-up as loaded) and move with the fitted model. Skinned
models show their bind pose, with the transforms above the skin applied (glTF's rule;
see :func:`_skin_follows_parents`), or play ``animation``: the frame is
``t * fps`` modulo its length, so every node draws the same pose, and the fit covers
every pose of the cycle. :meth:`HeritageScene.placement` reports where an
artifact stands. The label font is the scene's first ``.otf``/``.ttf`` asset.

State keys read by :meth:`HeritageScene.apply`: ``language`` (zh, en, ru),
``selected_item`` (an item id), ``selected_at`` (show time of the selection: the camera
eases there from the tour; without it the camera is simply there), ``fade`` (0..1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from panda3d.core import (
    AnimControlCollection,
    Geom,
    GeomEnums,
    GeomNode,
    GeomTriangles,
    GeomVertexArrayFormat,
    GeomVertexData,
    GeomVertexFormat,
    InternalName,
    LMatrix4f,
    LPoint3f,
    LVecBase2f,
    LVecBase3f,
    LVecBase4f,
    NodePath,
    OmniBoundingVolume,
    PTA_LVecBase4f,
    TransparencyAttrib,
    auto_bind,
)

from ..assets.gltf import NORMALISE_NODE, join_glb, split_glb
from ..errors import AssetError, BundleError, SceneError
from . import _heritage_plan as plan
from . import _lod as lod
from .base import Scene, load_glb, make_shader
from .labels import load_font, make_label

__all__ = ["HeritageScene"]

_KEY = (-0.50, -0.62, 0.68)
_FILL = (0.78, -0.55, 0.22)
_RIM = (0.25, 0.85, 0.55)
_REST = plan.Pose((0.0, -4.3, 1.62), (0.0, 0.0, 1.08))
_MAX_SEGS = 24
_TITLE_EM, _NOTE_EM, _CAPTION_EM = 0.026, 0.0175, 0.024
_NOTE_WRAP = 0.30
_TEXT = (0.95, 0.92, 0.86, 1.0)
_MUTED = (0.78, 0.76, 0.72, 1.0)
_PLAQUE = (0.80, 0.77, 0.70, 1.0)


def _unit(v: tuple[float, float, float]) -> LVecBase3f:
    n = math.sqrt(sum(c * c for c in v))
    return LVecBase3f(*(c / n for c in v))


def _box(name: str, w: float, d: float, h: float) -> GeomNode:
    """A box standing on z = 0 with flat normals and per-face UVs in metres."""
    faces = []
    x, y = w / 2.0, d / 2.0
    for n, corners in (
            ((0, -1, 0), [(-x, -y, 0), (x, -y, 0), (x, -y, h), (-x, -y, h)]),
            ((1, 0, 0), [(x, -y, 0), (x, y, 0), (x, y, h), (x, -y, h)]),
            ((0, 1, 0), [(x, y, 0), (-x, y, 0), (-x, y, h), (x, y, h)]),
            ((-1, 0, 0), [(-x, y, 0), (-x, -y, 0), (-x, -y, h), (-x, y, h)]),
            ((0, 0, 1), [(-x, -y, h), (x, -y, h), (x, y, h), (-x, y, h)])):
        faces.append((n, corners))
    return _quads(name, faces)


def _quads(name: str, faces) -> GeomNode:
    rows = []
    for n, corners in faces:
        c = np.asarray(corners, dtype=np.float64)
        e0, e1 = c[1] - c[0], c[3] - c[0]
        l0, l1 = np.linalg.norm(e0), np.linalg.norm(e1)
        # UV: metres from the nearest edge, so the shader can find the face's rim
        for k, p in enumerate(c):
            u = (0.0, l0, l0, 0.0)[k]
            v = (0.0, 0.0, l1, l1)[k]
            rows.append([*p, *n, u, v])
    data = np.asarray(rows, dtype=np.float32)
    vdata = GeomVertexData(name, GeomVertexFormat.get_v3n3t2(), GeomEnums.UH_static)
    vdata.unclean_set_num_rows(len(data))
    vdata.modify_array(0).modify_handle().copy_data_from(data.tobytes())
    prim = GeomTriangles(GeomEnums.UH_static)
    for q in range(len(faces)):
        prim.add_vertices(4 * q, 4 * q + 1, 4 * q + 2)
        prim.add_vertices(4 * q, 4 * q + 2, 4 * q + 3)
    geom = Geom(vdata)
    geom.add_primitive(prim)
    node = GeomNode(name)
    node.add_geom(geom)
    return node


def _lines_geom(count: int) -> GeomNode:
    """``count`` line quads then ``count`` marker quads (see heritage_line.vert.glsl)."""
    data = []
    for i in range(count):
        data += [(0, -1, i, 0), (1, -1, i, 0), (1, 1, i, 0), (0, 1, i, 0)]
    for i in range(count):
        data += [(-1, -1, i, 1), (1, -1, i, 1), (1, 1, i, 1), (-1, 1, i, 1)]
    arr = GeomVertexArrayFormat()
    arr.add_column(InternalName.get_vertex(), 4, GeomEnums.NT_float32, GeomEnums.C_point)
    vdata = GeomVertexData("leaders", GeomVertexFormat.register_format(GeomVertexFormat(arr)),
                           GeomEnums.UH_static)
    vdata.unclean_set_num_rows(len(data))
    vdata.modify_array(0).modify_handle().copy_data_from(
        np.asarray(data, dtype=np.float32).tobytes())
    prim = GeomTriangles(GeomEnums.UH_static)
    for q in range(2 * count):
        prim.add_vertices(4 * q, 4 * q + 1, 4 * q + 2)
        prim.add_vertices(4 * q, 4 * q + 2, 4 * q + 3)
    geom = Geom(vdata)
    geom.add_primitive(prim)
    node = GeomNode("leaders")
    node.add_geom(geom)
    node.set_bounds(OmniBoundingVolume())
    node.set_final(True)
    return node


_NO_LINE_START = set("，。、；：！？）》」』,.;:!?)")


def _wrap_cjk(text: str, width_em: float) -> str:
    """Break runs of CJK text (no spaces to break at) into lines of ``width_em`` ems.

    Panda3D wraps at spaces only, so an unspaced Chinese sentence would break mid-way
    with its full stop alone on the next line. Latin and Cyrillic text is left to it.
    """
    if " " in text.strip() or len(text) <= width_em:
        return text
    per_line = max(int(width_em) - 1, 1)     # punctuation may hang into the last em
    lines, line = [], ""
    for ch in text:
        if len(line) + 1 > per_line and ch not in _NO_LINE_START and line:
            lines.append(line)
            line = ""
        line += ch
    lines.append(line)
    return "\n".join(lines)


def _triangles(model: NodePath) -> int:
    """Triangles in a model's geometry."""
    count = 0
    for gnp in model.find_all_matches("**/+GeomNode"):
        node = gnp.node()
        for i in range(node.get_num_geoms()):
            count += sum(prim.get_num_primitives() for prim in node.get_geom(i).get_primitives())
    return count


def _skin_follows_parents(model: NodePath) -> None:
    """Let a skinned mesh obey the transforms above it (pack's units/up node included).

    panda3d-gltf skins "in global space": it multiplies a skinned mesh's vertices by the
    inverse of its parent's transform within the file and roots the joints at the
    inverse of the Character's, so the glTF nodes above a skin change nothing on
    screen. Applying that parent transform once more on the mesh node gives glTF's
    result for the bind pose, ``parents * v``. (Played animations are not right this
    way; an animated model is converted without pack's node instead: :func:`_unwrapped`.)
    """
    for char in model.find_all_matches("**/+Character"):
        for gnp in char.find_all_matches("**/+GeomNode"):
            gnode = gnp.node()
            skinned = [gnode.get_geom(i).get_vertex_data().get_transform_blend_table()
                       is not None for i in range(gnode.get_num_geoms())]
            mat = gnp.get_parent().get_mat(model)
            if skinned and all(skinned) and not mat.almost_equal(LMatrix4f.ident_mat()):
                gnp.set_mat(gnp.get_mat() * mat)


def _unwrapped(model: NodePath, data: bytes, name: str) -> NodePath:
    """An animated model with pack's units/up applied above it instead of inside the file.

    panda3d-gltf animates joints below a non-identity node wrongly (translations keep
    the file's units); converted without that node's transform, it animates exactly,
    and a node above the model applies the transform to the posed result.
    """
    wrap = model.find(f"**/{NORMALISE_NODE}")
    if wrap.is_empty() or wrap.get_mat(model).almost_equal(LMatrix4f.ident_mat()):
        return model
    mat = wrap.get_mat(model)
    doc, binary = split_glb(data, name)
    for node in doc.get("nodes", []):
        if isinstance(node, dict) and node.get("name") == NORMALISE_NODE:
            node.pop("rotation", None)
            node.pop("scale", None)
    out = NodePath(model.get_name())
    holder = out.attach_new_node(NORMALISE_NODE)
    holder.set_mat(mat)
    load_glb(join_glb(doc, binary), name).reparent_to(holder)
    return out


def _animation(model: NodePath, name: str | None, where: str) -> list[Any]:
    """The model's AnimControls playing ``name`` (one per Character), or [] for none."""
    if name is None:
        return []
    found = AnimControlCollection()
    auto_bind(model.node(), found, ~0)
    names = sorted({found.get_anim_name(i) for i in range(found.get_num_anims())})
    controls = [found.get_anim(i) for i in range(found.get_num_anims())
                if found.get_anim_name(i) == name]
    if not controls:
        raise SceneError(where, f"heritage parameter animation: the model has no animation "
                                f"{name!r} (it has: {', '.join(names) or 'none'})")
    return controls


def _pose(controls: list[Any], model: NodePath, t: float) -> None:
    """Pose the animation at show time ``t`` (looping; a pure function of ``t``)."""
    for c in controls:
        n = c.get_num_frames()
        c.pose((t * c.get_frame_rate()) % n if n > 1 else 0.0)
    if controls:
        for char in model.find_all_matches("**/+Character"):
            char.node().force_update()


class HeritageScene(Scene):
    """Artifacts on turntables with annotations and a camera tour (see the module docstring)."""

    kind = "heritage"

    def build(self) -> None:
        """Load models and font, set up the gallery, plinths, labels and leader lines."""
        spec, root = self.ctx.spec, self.ctx.root
        self.params = p = plan.HeritageParams.parse(spec.id, spec.params, spec.labels,
                                                    spec.assets)
        fonts = [a for a in spec.assets if PurePosixPath(a).suffix.lower() in (".otf", ".ttf")]
        if not fonts:
            raise SceneError(spec.id, "heritage scenes need a label font (.otf/.ttf) asset")
        self.font = load_font(self.ctx.read_asset(fonts[0]), fonts[0])
        self._labels: dict[tuple[str, str], NodePath] = {}

        artifact_shader = make_shader("heritage_artifact.vert.glsl",
                                      "heritage_artifact.frag.glsl",
                                      common="heritage_common.glsl")
        room_shader = make_shader("heritage.vert.glsl", "plinth.frag.glsl",
                                  common="heritage_common.glsl")
        room = root.attach_new_node("room")
        room.set_shader(room_shader)
        floor = room.attach_new_node(_quads("floor", [((0, 0, 1), [
            (-12, -12, 0), (12, -12, 0), (12, 2.2, 0), (-12, 2.2, 0)])]))
        floor.set_shader_input("u_surface", 1.0)
        wall = room.attach_new_node(_quads("wall", [((0, -1, 0), [
            (-12, 2.2, 0), (12, 2.2, 0), (12, 2.2, 6), (-12, 2.2, 6)])]))
        wall.set_shader_input("u_surface", 2.0)

        spots = PTA_LVecBase4f.empty_array(8)
        self._turntables: list[tuple[plan.Artifact, NodePath]] = []
        self._frames: dict[str, plan.Pose] = {}
        self._fits: dict[str, tuple[plan.Fit, NodePath]] = {}
        self._anims: dict[str, tuple[list[Any], NodePath]] = {}
        # item -> its levels of detail (full first) and their choice
        self._lods: dict[str, tuple[list[NodePath], lod.Levels]] = {}
        root.set_shader_input("u_dissolve", LVecBase2f(0.0, 0.0))
        root.set_shader_input("u_wall_px", LVecBase4f(0.0, 0.0, 1.0, 1.0))  # (a renderer's wins)
        for i, art in enumerate(p.artifacts):
            w, d, h = art.plinth
            base = root.attach_new_node(f"plinth:{art.item}")
            base.set_pos(art.at[0], art.at[1], 0.0)
            box = base.attach_new_node(_box("plinth", w, d, h))
            box.set_shader(room_shader)
            box.set_shader_input("u_surface", 0.0)
            turn = base.attach_new_node(f"turntable:{art.item}")
            turn.set_z(h)
            model = self.ctx.load_model(art.model)
            if art.animation is not None and not model.find("**/+Character").is_empty():
                model = _unwrapped(model, self.ctx.read_asset(art.model), art.model)
                levels = [model]
            else:
                _skin_follows_parents(model)
                levels = self._levels(art.model, model)
            for level in levels:
                level.set_shader(artifact_shader)
            # placed by its coarsest level (the same stand, a fraction of the vertices)
            fit, orient = self._place(art, turn, levels[-1])
            for level in levels[:-1]:
                level.reparent_to(orient)
            if len(levels) > 1:
                self._lods[art.item] = (levels, lod.Levels(
                    [_triangles(m) for m in levels], math.hypot(fit.radius, fit.size[2] / 2),
                    (art.at[0], art.at[1], h + fit.size[2] / 2.0), self.ctx.lod.scale,
                    lambda at, st: plan.camera_pose(self.params, at, st, self._frames,
                                                    _REST).eye))
            self._fits[art.item] = (fit, orient)
            self._frames[art.item] = plan.focus_pose(art, max(fit.size[2], 0.05),
                                                     max(fit.radius, 0.05))
            self._turntables.append((art, turn))
            if i < 8:
                spots[i] = LVecBase4f(art.at[0], art.at[1], h, 1.0)
            for lang in plan.LANGUAGES:
                plaque = self._label(art.title, lang, 0.055, _PLAQUE, wrap=w * 0.9)
                plaque.reparent_to(base)
                plaque.set_pos(0.0, -d / 2.0 - 0.002, h - 0.11)

        # annotation overlay: lives in the rig's frame (view units, one metre ahead)
        overlay = self.ctx.rig.attach_new_node("annotations")
        overlay.set_bin("fixed", 40)
        overlay.set_depth_test(False)
        overlay.set_depth_write(False)
        self.overlay = overlay
        self._notes: dict[str, list[tuple[plan.Annotation, tuple[int, float, float]]]] = {}
        for art in p.artifacts:
            self._notes[art.item] = []
            for k, ann in enumerate(art.annotations):
                side, x, z = plan.SLOTS[k]
                align = "right" if side < 0 else "left"
                for lang in plan.LANGUAGES:
                    title = self._label(ann.title, lang, _TITLE_EM, _TEXT, align=align,
                                        key="a")
                    title.reparent_to(overlay)
                    title.set_pos(x, 1.0, z)
                    note = self._label(ann.note, lang, _NOTE_EM, _MUTED, align=align,
                                       wrap=_NOTE_WRAP, key="a")
                    note.reparent_to(overlay)
                    note.set_pos(x, 1.0, z - 1.5 * _TITLE_EM * 0.95)
                self._notes[art.item].append((ann, (side, x, z)))
        captions = {s.caption for s in p.tour if s.caption} | {a.title for a in p.artifacts}
        for cap in sorted(captions):
            for lang in plan.LANGUAGES:
                lab = self._label(cap, lang, _CAPTION_EM, _TEXT, wrap=0.9, key="c")
                lab.reparent_to(overlay)
                lab.set_pos(plan.CAPTION_AT[0], 1.0, plan.CAPTION_AT[1])

        leaders = root.attach_new_node(_lines_geom(_MAX_SEGS))
        leaders.set_shader(make_shader("heritage_line.vert.glsl", "heritage_line.frag.glsl",
                                       common=None))
        leaders.set_transparency(TransparencyAttrib.M_alpha)
        leaders.set_depth_test(False)
        leaders.set_depth_write(False)
        leaders.set_two_sided(True)
        leaders.set_bin("fixed", 30)
        self.leaders = leaders

        root.set_shader_input("u_key_dir", _unit(_KEY))
        root.set_shader_input("u_fill_dir", _unit(_FILL))
        root.set_shader_input("u_rim_dir", _unit(_RIM))
        root.set_shader_input("u_spots", spots)
        self.apply(0.0, {})

    def _levels(self, path: str, model: NodePath) -> list[NodePath]:
        """The model and the LODs pack made of it (``NAME.lod1.glb``, ...), when this
        view chooses levels (:mod:`._lod`) and the model has no skin."""
        if self.ctx.lod.scale <= 0.0 or not model.find("**/+Character").is_empty() \
                or not path.lower().endswith(".glb"):
            return [model]
        levels = [model]
        for i in range(1, 8):
            try:
                level = self.ctx.load_model(f"{path[:-4]}.lod{i}.glb")
            except BundleError as exc:
                if "not listed" in exc.rule:
                    break
                raise
            _skin_follows_parents(level)
            levels.append(level)
        return levels

    def level_shown(self, item: str, t: float, state: Mapping[str, Any] | None = None
                    ) -> tuple[int, int, float]:
        """``(old, new, weight)``: the levels of ``item`` drawn at show time ``t`` (the
        same on every node of a venue; ``weight`` < 1 while fading); (0, 0, 1) for a
        model without LODs."""
        found = self._lods.get(item)
        return found[1].shown(t, state or {}) if found else (0, 0, 1.0)

    def _show_levels(self, t: float, state: Mapping[str, Any]) -> None:
        """Show each artifact's level for ``t``; during a fade, both, dithered."""
        for item, (levels, _) in self._lods.items():
            old, new, w = self.level_shown(item, t, state)
            for i, node in enumerate(levels):
                if i in (old, new):
                    node.show()
                    fading = old != new and w < 1.0
                    node.set_shader_input("u_dissolve", LVecBase2f(
                        w, (1.0 if i == new else -1.0) if fading else 0.0))
                else:
                    node.hide()

    def _place(self, art: plan.Artifact, turn: NodePath, model: NodePath
               ) -> tuple[plan.Fit, NodePath]:
        """Stand ``model`` on ``turn`` (the plinth top): turntable > fit > orient > model."""
        controls = _animation(model, art.animation, self.ctx.spec.id)
        self._anims[art.item] = (controls, model)
        fitted = turn.attach_new_node(f"fit:{art.item}")
        orient = fitted.attach_new_node("orient")
        r = plan.orientation(art)
        orient.set_mat(LMatrix4f(r[0][0], r[1][0], r[2][0], 0.0, r[0][1], r[1][1], r[2][1], 0.0,
                                 r[0][2], r[1][2], r[2][2], 0.0, 0.0, 0.0, 0.0, 1.0))
        model.reparent_to(orient)
        # an animated model is fitted to the union of its poses over the cycle
        n = max((c.get_num_frames() for c in controls), default=1)
        poses = [(n - 1) * k / (min(n, 32) - 1) for k in range(min(n, 32))] if n > 1 else [0.0]

        def bounds(frame: NodePath) -> tuple[LPoint3f, LPoint3f] | None:
            lo = hi = None
            for f in poses:
                if controls:
                    _pose(controls, model, f / controls[0].get_frame_rate())
                b = model.get_tight_bounds(frame)
                if b:
                    lo = b[0] if lo is None else lo.fmin(b[0])
                    hi = b[1] if hi is None else hi.fmax(b[1])
            return None if lo is None else (lo, hi)

        box = bounds(fitted)
        if not box:
            raise AssetError(art.model, "has no geometry to stand on a plinth")
        lo, hi = box
        cx, cy = (lo.x + hi.x) / 2.0, (lo.y + hi.y) / 2.0
        # the largest distance from the axis, from the extents at eight headings (<2 % short)
        probe, radius = fitted.attach_new_node("probe"), 0.0
        for k in range(8):
            probe.set_h(22.5 * k)
            plo, phi = bounds(probe)  # type: ignore[misc]
            c = probe.get_relative_point(fitted, LPoint3f(cx, cy, 0.0))
            radius = max(radius, c.x - plo.x, phi.x - c.x, c.y - plo.y, phi.y - c.y)
        probe.remove_node()
        fit = plan.fit_to_plinth(art, tuple(lo), tuple(hi), radius)
        fitted.set_pos(*fit.offset)
        fitted.set_scale(fit.scale)
        return fit, orient

    def placement(self, item: str, t: float = 0.0) -> plan.Placement:
        """Where ``item``'s model stands at show time ``t`` (poses the scene at ``t``).

        For numeric checks: the world-space tight bounds of the fitted model, its plinth
        top, display volume and turntable axis.

        Raises:
            SceneError: no artifact shows ``item``.
        """
        art = self.params.artifact(item)
        if art is None:
            raise SceneError(self.ctx.spec.id, f"no artifact shows item {item!r}")
        self.apply(t, {})
        fit, orient = self._fits[item]
        model = orient.get_child(0)
        lo, hi = model.get_tight_bounds(self.ctx.root)
        tlo, thi = model.get_tight_bounds(orient.get_parent().get_parent())
        return plan.Placement(tuple(lo), tuple(hi), art.plinth[2], art.display_volume,
                              art.at, fit, tuple(tlo), tuple(thi))

    def _label(self, label_id: str, lang: str, em: float, color, *, align: str = "center",
               wrap: float | None = None, key: str = "p") -> NodePath:
        texts = self.ctx.spec.labels[label_id]
        text = texts.get(lang) or texts.get("zh") or texts.get("en") or next(iter(texts.values()))
        if wrap is not None:
            text = _wrap_cjk(text, wrap / em)
        node = make_label(text, self.font, height_m=em, color=color, align=align, wrap_m=wrap,
                          name=f"{key}:{label_id}:{lang}")
        self._labels[(f"{key}:{label_id}", lang)] = node
        node.hide()
        return node

    def apply(self, t: float, state: Mapping[str, Any]) -> None:
        """Pose turntables, camera, annotations and captions for show time ``t`` (pure)."""
        t = float(t)
        p, root, rig = self.params, self.ctx.root, self.ctx.rig
        fade = min(max(float(state.get("fade", 1.0)), 0.0), 1.0)
        lang = plan.pick_language(state, p.language)

        for art, turn in self._turntables:
            turn.set_h(plan.turntable_deg(art, t, p.turntable_period))
            _pose(*self._anims[art.item], t)
        pose = plan.camera_pose(p, t, state, self._frames, _REST)
        self._show_levels(t, state)
        rig.set_pos(root, *pose.eye)
        rig.look_at(root, LPoint3f(*pose.look), LVecBase3f(0.0, 0.0, 1.0))
        cam = LVecBase3f(*pose.eye)

        item, weight = plan.focus_weights(p, t, state)
        plaque = (1.0 - (weight if item is not None else 0.0)) * fade
        for (name, lg), node in self._labels.items():
            if name.startswith("p:") and lg == lang and plaque > 0.002:
                node.show()
                node.set_alpha_scale(plaque)
            else:
                node.hide()

        seg_a = PTA_LVecBase4f.empty_array(_MAX_SEGS)
        seg_b = PTA_LVecBase4f.empty_array(_MAX_SEGS)
        if item is not None and weight > 0.002:
            turn = next(n for a, n in self._turntables if a.item == item)
            orient = self._fits[item][1]
            for k, (ann, (side, x, z)) in enumerate(self._notes[item]):
                on_turn = turn.get_relative_point(orient, LPoint3f(*ann.at))
                anchor = root.get_relative_point(turn, on_turn)
                radial = root.get_relative_vector(turn, LVecBase3f(on_turn.x, on_turn.y, 0.0))
                facing = 1.0
                if radial.length() > 1e-4:
                    radial.normalize()
                    to_eye = cam - LVecBase3f(anchor)
                    to_eye.normalize()
                    facing = plan.smootherstep((radial.dot(to_eye) + 0.35) / 0.4)
                alpha = weight * facing * fade
                if alpha <= 0.002:
                    continue
                for part in ("a:" + ann.title, "a:" + ann.note):
                    node = self._labels[(part, lang)]
                    node.show()
                    node.set_alpha_scale(alpha)
                gap = 0.012 * side
                elbow = root.get_relative_point(rig, LPoint3f(x - gap, 1.0, z + 0.006))
                tail = root.get_relative_point(rig, LPoint3f(x - gap + side * 0.13, 1.0,
                                                             z - 0.006))
                under = root.get_relative_point(rig, LPoint3f(x - gap, 1.0, z - 0.006))
                seg_a[2 * k] = LVecBase4f(anchor.x, anchor.y, anchor.z, alpha)
                seg_b[2 * k] = LVecBase4f(elbow.x, elbow.y, elbow.z, 1.0)
                seg_a[2 * k + 1] = LVecBase4f(under.x, under.y, under.z, alpha * 0.7)
                seg_b[2 * k + 1] = LVecBase4f(tail.x, tail.y, tail.z, 0.0)
        cap, cw = plan.caption_weights(p, t, state)
        if cap is not None and cw * fade > 0.002:
            node = self._labels[("c:" + cap, lang)]
            node.show()
            node.set_alpha_scale(cw * fade)

        root.set_shader_input("u_cam", cam)
        root.set_shader_input("u_fade", fade)
        self.leaders.set_shader_input("u_seg_a", seg_a)
        self.leaders.set_shader_input("u_seg_b", seg_b)
