"""The ``ice`` scene kind: an ice festival at night.

A deep blue-black sky with stars and (optionally) an aurora, snow-covered ground, ice
architecture lit from inside by LED strips on a slow colour programme, pillar lanterns
with warm candle light, and snow falling in depth layers. The camera orbits slowly at
eye height (1.6 m).

Assets: every GLB in the scene's ``assets`` is placed as modelled (metres, Z-up, the
castle at the origin), except one whose file name is ``lantern.glb``, which is set out
in a ring of ``lanterns`` copies around the rest; one named ``sculptures.glb`` stands
where it is modelled but throws no glow on the snow (the castle's footprint does). Meshes whose name starts with
``glow`` are drawn as light sources; everything else is ice. Ice meshes may carry
COLOR_0 = (thickness, light zone / 3, block seams, LED strength: 0 is clear ice with no
strip) and surface metres in TEXCOORD_0 (see ``tools/gen_ice_festival.py`` and its
``LED_LAYOUT``); without COLOR_0 a mesh is thick ice in the lanterns' warm light, without
TEXCOORD_0 it has no block seams.

Parameters (``[scenes.params]``): ``aurora`` (bool, true), ``snowflakes`` (int,
20000; 0 = no snow), ``seed`` (int, 0), ``lanterns`` (int, 20, at most 32),
``lantern_ring`` (m, 44.0), ``orbit_period`` (s, 240.0), ``orbit_radius`` (m, 62.0).

State keys read by :meth:`IceScene.apply`: ``fade`` (0..1, brightness), ``snow``
(bool, default true), ``aurora`` (bool, overrides the parameter).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from panda3d.core import (ColorBlendAttrib, Geom, GeomEnums, GeomNode, GeomPoints, GeomTriangles,
                          GeomVertexArrayFormat, GeomVertexData, GeomVertexFormat,
                          InternalName, LVecBase3f, LVecBase4f, NodePath,
                          OmniBoundingVolume, PTA_LVecBase3f, PTA_LVecBase4f,
                          ShaderAttrib, TransparencyAttrib)

from ._params import check_ranges, typed_params
from .base import Scene, ScreenEffects, make_shader

__all__ = ["EFFECTS", "EYE_HEIGHT", "IceParams", "IceScene", "MAX_LANTERNS", "PROGRAMME",
           "lantern_flicker", "programme_colour", "rig_pose"]

#: The inner-light programme: saturated LED colours (linear RGB), in order.
PROGRAMME: tuple[tuple[str, tuple[float, float, float]], ...] = (
    ("red", (1.0, 0.045, 0.03)),
    ("amber", (1.0, 0.30, 0.02)),
    ("green", (0.06, 1.0, 0.22)),
    ("blue", (0.06, 0.30, 1.0)),
    ("violet", (0.58, 0.10, 1.0)),
)
_STEP_S = 12.0          # one colour every 12 s: a full programme takes a minute
_FADE_S = 5.0           # ... of which the last 5 s crossfade into the next
_ZONE_LAG_S = (0.0, 6.0, 12.0)  # walls, towers, keep: the colour travels up the castle
_WARM = (1.0, 0.46, 0.13)       # candle light in the lanterns
_MOON = (-0.55, 0.62, 0.56)     # towards the moon (unnormalised)

#: Eye height of the camera rig (m).
EYE_HEIGHT = 1.6
#: Most lanterns a scene sets out (the ground shader's light array).
MAX_LANTERNS = 32
#: The post stage the ice kind draws through: scene-linear light, a restrained bloom on
#: what is brighter than scene-linear 1.0 (the strips, the candles), cut at 1.4 % of the view's width
#: (about 11 pixels across a 640-pixel slice of the bench wall), and the snow's largest
#: point sprite (24 pixels across, ``snow.vert.glsl``).
EFFECTS = ScreenEffects(hdr=True, bloom=0.3, bloom_threshold=1.0, bloom_radius=0.014,
                        sprite_px=12.0)
_NO_SNOW_EFFECTS = dataclasses.replace(EFFECTS, sprite_px=0.0)
_PITCH_DEG = 7.0
_SKY_RADIUS = 1500.0
_GROUND_RADIUS = 900.0


def _smoothstep(e0: float, e1: float, x: float) -> float:
    u = min(max((x - e0) / (e1 - e0), 0.0), 1.0)
    return u * u * (3.0 - 2.0 * u)


def programme_colour(t: float) -> tuple[float, float, float]:
    """The programme's colour at time ``t``: hold, then a slow crossfade, never a cut."""
    k = math.floor(t / _STEP_S)
    into = t - k * _STEP_S
    a = PROGRAMME[k % len(PROGRAMME)][1]
    b = PROGRAMME[(k + 1) % len(PROGRAMME)][1]
    w = _smoothstep(_STEP_S - _FADE_S, _STEP_S, into)
    return (a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w)


def lantern_flicker(t: float, i: int) -> float:
    """A candle's gentle breathing, about 0.8..1.05: slow sines, never a strobe."""
    ph = 2.399963 * i
    return 0.93 + 0.06 * math.sin(1.7 * t + ph) + 0.04 * math.sin(4.1 * t + 2.3 * ph)


def rig_pose(t: float, period: float, radius: float) -> tuple[tuple[float, float, float],
                                                              tuple[float, float, float]]:
    """Camera rig position and HPR (degrees) at ``t``: a slow orbit with a gentle dolly.

    The orbit starts in front of the gate (-Y) looking north at the castle.
    """
    angle = -0.5 * math.pi + 2.0 * math.pi * t / period
    r = radius + 0.1 * radius * math.sin(2.0 * math.pi * t / 97.0)
    x, y = r * math.cos(angle), r * math.sin(angle)
    heading = math.degrees(math.atan2(x, -y))   # face the origin
    return (x, y, EYE_HEIGHT), (heading, _PITCH_DEG, 0.0)


@dataclass(frozen=True)
class IceParams:
    """The ``ice`` kind's parameters, checked."""

    aurora: bool = True
    snowflakes: int = 20000
    seed: int = 0
    lanterns: int = 20
    lantern_ring: float = 44.0
    orbit_period: float = 240.0
    orbit_radius: float = 62.0

    @classmethod
    def parse(cls, scene_id: str, params: Mapping[str, Any]) -> IceParams:
        """Check a manifest's params mapping.

        Raises:
            SceneError: an unknown key, a wrong type or a value out of range.
        """
        p = typed_params(cls, "ice", scene_id, params)
        check_ranges(scene_id, (
            (0 <= p.snowflakes <= 1_000_000, "snowflakes must be 0..1000000"),
            (0 <= p.lanterns <= MAX_LANTERNS, f"lanterns must be 0..{MAX_LANTERNS}"),
            (0.0 < p.lantern_ring <= 500.0, "lantern_ring must be in (0, 500] m"),
            (p.orbit_period >= 10.0, "orbit_period must be at least 10 s"),
            (2.0 <= p.orbit_radius <= 500.0, "orbit_radius must be 2..500 m"),
        ))
        return p


# --------------------------------------------------------------------------- geometry


def _triangles_node(name: str, pos: np.ndarray, nrm: np.ndarray, tris: np.ndarray) -> GeomNode:
    vdata = GeomVertexData(name, GeomVertexFormat.get_v3n3(), GeomEnums.UH_static)
    vdata.unclean_set_num_rows(len(pos))
    interleaved = np.concatenate([pos, nrm], axis=1).astype(np.float32)
    vdata.modify_array(0).modify_handle().copy_data_from(interleaved.tobytes())
    prim = GeomTriangles(GeomEnums.UH_static)
    prim.set_index_type(GeomEnums.NT_uint32)
    handle = prim.modify_vertices()
    handle.unclean_set_num_rows(tris.size)
    handle.modify_handle().copy_data_from(tris.astype(np.uint32).tobytes())
    geom = Geom(vdata)
    geom.add_primitive(prim)
    node = GeomNode(name)
    node.add_geom(geom)
    return node


def _sky_dome() -> GeomNode:
    rows, cols = 16, 32
    th = np.linspace(0.0, math.pi, rows + 1)[:, None]
    ph = np.linspace(0.0, 2.0 * math.pi, cols + 1)[None, :]
    d = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph),
                  np.cos(th) * np.ones_like(ph)], axis=-1).reshape(-1, 3)
    i = np.arange(rows)[:, None] * (cols + 1) + np.arange(cols)[None, :]
    quads = np.stack([i, i + cols + 1, i + cols + 2, i, i + cols + 2, i + 1], axis=-1)
    return _triangles_node("sky", d * _SKY_RADIUS, -d, quads.reshape(-1, 3))


def _ground_disc() -> GeomNode:
    radii = np.array([0.0, 3.0, 8.0, 16.0, 30.0, 50.0, 80.0, 130.0, 220.0, 400.0,
                      _GROUND_RADIUS])
    cols = 64
    ph = np.linspace(0.0, 2.0 * math.pi, cols + 1)[None, :]
    r = radii[:, None]
    pos = np.stack([r * np.cos(ph), r * np.sin(ph), np.zeros_like(r * ph)],
                   axis=-1).reshape(-1, 3)
    nrm = np.tile([0.0, 0.0, 1.0], (len(pos), 1))
    i = np.arange(len(radii) - 1)[:, None] * (cols + 1) + np.arange(cols)[None, :]
    quads = np.stack([i, i + cols + 2, i + 1, i, i + cols + 1, i + cols + 2], axis=-1)
    return _triangles_node("ground", pos, nrm, quads.reshape(-1, 3))


def _snow_points(count: int, seed: int) -> GeomNode:
    """One GeomPoints of ``count`` flakes: (seed xyz, layer) per vertex, nothing else."""
    rng = np.random.default_rng([seed, 0x5E0F])
    data = rng.random((count, 4), dtype=np.float32)
    data[:, 3] = data[:, 3] ** 0.8          # a few more flakes in the far layers
    arr = GeomVertexArrayFormat()
    arr.add_column(InternalName.get_vertex(), 4, GeomEnums.NT_float32, GeomEnums.C_point)
    fmt = GeomVertexFormat.register_format(GeomVertexFormat(arr))
    vdata = GeomVertexData("snow", fmt, GeomEnums.UH_static)
    vdata.unclean_set_num_rows(count)
    vdata.modify_array(0).modify_handle().copy_data_from(data.tobytes())
    prim = GeomPoints(GeomEnums.UH_static)
    prim.add_consecutive_vertices(0, count)
    geom = Geom(vdata)
    geom.add_primitive(prim)
    node = GeomNode("snowfall")
    node.add_geom(geom)
    # The vertex shader moves every flake: culling by the seeds' bounds would be wrong.
    node.set_bounds(OmniBoundingVolume())
    node.set_final(True)
    return node


def _halo_quads(count: int) -> GeomNode:
    """``count`` quads whose vertices hold (corner x, corner y, lamp index, 0)."""
    corners = np.array([(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)])
    data = np.zeros((count * 4, 4), dtype=np.float32)
    data[:, :2] = np.tile(corners, (count, 1))
    data[:, 2] = np.repeat(np.arange(count), 4)
    arr = GeomVertexArrayFormat()
    arr.add_column(InternalName.get_vertex(), 4, GeomEnums.NT_float32, GeomEnums.C_point)
    vdata = GeomVertexData("halos", GeomVertexFormat.register_format(GeomVertexFormat(arr)),
                           GeomEnums.UH_static)
    vdata.unclean_set_num_rows(len(data))
    vdata.modify_array(0).modify_handle().copy_data_from(data.tobytes())
    prim = GeomTriangles(GeomEnums.UH_static)
    for q in range(count):
        prim.add_vertices(4 * q, 4 * q + 1, 4 * q + 2)
        prim.add_vertices(4 * q, 4 * q + 2, 4 * q + 3)
    geom = Geom(vdata)
    geom.add_primitive(prim)
    node = GeomNode("halos")
    node.add_geom(geom)
    node.set_bounds(OmniBoundingVolume())
    node.set_final(True)
    return node


# --------------------------------------------------------------------------- the scene


class IceScene(Scene):
    """An ice festival at night (see the module docstring)."""

    kind = "ice"

    def screen_effects(self) -> ScreenEffects:
        """Bloom in linear light, and a guard band for it and the snow's sprites."""
        if getattr(self, "snow", None) is None:
            return _NO_SNOW_EFFECTS
        return EFFECTS

    def build(self) -> None:
        """Load the GLBs, set out the lanterns, make sky, ground and snow, set shaders."""
        spec = self.ctx.spec
        self.params = IceParams.parse(spec.id, spec.params)
        root = self.ctx.root
        ice = make_shader("surface.vert.glsl", "ice.frag.glsl")
        glow = make_shader("surface.vert.glsl", "glow.frag.glsl")

        sky = root.attach_new_node(_sky_dome())
        sky.set_shader(make_shader("sky.vert.glsl", "sky.frag.glsl"))
        sky.set_bin("background", 0)
        sky.set_depth_write(False)
        sky.set_depth_test(False)
        sky.set_two_sided(True)
        self.sky = sky

        ground = root.attach_new_node(_ground_disc())
        ground.set_shader(make_shader("surface.vert.glsl", "ground.frag.glsl"))

        lantern: NodePath | None = None
        architecture = root.attach_new_node("architecture")
        castle: list[NodePath] = []
        for asset in spec.assets:
            if PurePosixPath(asset).suffix.lower() != ".glb":
                continue
            model = self.ctx.load_model(asset)
            model.set_shader(ice)
            for g in model.find_all_matches("**/+GeomNode"):
                if g.get_name().startswith("glow"):
                    g.set_shader(glow)
            stem = PurePosixPath(asset).stem
            if stem == "lantern":
                lantern = model
            else:
                model.reparent_to(architecture)
                if stem != "sculptures":
                    castle.append(model)
        # the castle's footprint: where its glow lies on the snow (not the sculptures')
        boxes = [b for b in (c.get_tight_bounds(root) for c in castle) if b is not None]
        if not boxes:
            self.footprint = (1.0, 1.0)
        else:
            self.footprint = (max(max(abs(lo.x), abs(hi.x)) for lo, hi in boxes),
                              max(max(abs(lo.y), abs(hi.y)) for lo, hi in boxes))

        self.lanterns: list[tuple[NodePath, tuple[float, float, float]]] = []
        if lantern is not None:
            n = self.params.lanterns
            for i in range(n):
                a = -0.5 * math.pi + 2.0 * math.pi * (i + 0.5) / n
                x = self.params.lantern_ring * math.cos(a)
                y = self.params.lantern_ring * math.sin(a)
                holder = root.attach_new_node(f"lantern-{i}")
                holder.set_pos(x, y, 0.0)
                holder.set_h(math.degrees(a))
                lantern.instance_to(holder)
                self.lanterns.append((holder, (x, y, 1.4)))
            if self.lanterns:
                halos = root.attach_new_node(_halo_quads(len(self.lanterns)))
                halos.set_shader(make_shader("halo.vert.glsl", "halo.frag.glsl"))
                halos.set_attrib(ColorBlendAttrib.make(ColorBlendAttrib.M_add,
                                                       ColorBlendAttrib.O_one,
                                                       ColorBlendAttrib.O_one))
                halos.set_depth_write(False)
                halos.set_two_sided(True)
                halos.set_bin("fixed", 20)

        self.snow: NodePath | None = None
        if self.params.snowflakes > 0:
            snow = root.attach_new_node(_snow_points(self.params.snowflakes, self.params.seed))
            attrib = ShaderAttrib.make(make_shader("snow.vert.glsl", "snow.frag.glsl"))
            snow.set_attrib(attrib.set_flag(ShaderAttrib.F_shader_point_size, True))
            snow.set_transparency(TransparencyAttrib.M_alpha)
            snow.set_depth_write(False)
            snow.set_bin("fixed", 10)
            self.snow = snow

        root.set_shader_input("u_light_scale", 1.0)
        moon = np.asarray(_MOON) / np.linalg.norm(_MOON)
        root.set_shader_input("u_moon", LVecBase3f(*moon))
        root.set_shader_input("u_castle", (self.footprint[0], self.footprint[1]))
        root.set_shader_input("u_wind", LVecBase3f(0.35, 0.12, 0.0))
        self.apply(0.0, {})

    def apply(self, t: float, state: Mapping[str, Any]) -> None:
        """Pose the rig and set every shader input for show time ``t`` (pure)."""
        t = float(t)
        root, p = self.ctx.root, self.params
        fade = min(max(float(state.get("fade", 1.0)), 0.0), 1.0)
        aurora = bool(state.get("aurora", p.aurora))

        pos, hpr = rig_pose(t, p.orbit_period, p.orbit_radius)
        rig = self.ctx.rig
        rig.set_pos_hpr(root, *pos, *hpr)
        self.sky.set_pos(*pos)
        quat = rig.get_quat(root)

        zones = [programme_colour(t - lag) for lag in _ZONE_LAG_S]
        lights = PTA_LVecBase3f.empty_array(4)
        for i, c in enumerate([*zones, _WARM]):
            lights[i] = LVecBase3f(*c)
        glow = tuple(sum(z[k] for z in zones) / 3.0 for k in range(3))

        lamps = PTA_LVecBase4f.empty_array(MAX_LANTERNS)
        for i, (holder, (x, y, z)) in enumerate(self.lanterns):
            flicker = lantern_flicker(t, i)
            holder.set_shader_input("u_light_scale", flicker)
            lamps[i] = LVecBase4f(x, y, z, flicker)

        root.set_shader_input("u_time", t)
        root.set_shader_input("u_cam", LVecBase3f(*pos))
        root.set_shader_input("u_cam_right", LVecBase3f(quat.get_right()))
        root.set_shader_input("u_cam_up", LVecBase3f(quat.get_up()))
        root.set_shader_input("u_fade", fade)
        root.set_shader_input("u_aurora", 1.0 if aurora else 0.0)
        root.set_shader_input("u_light", lights)
        root.set_shader_input("u_glow", LVecBase3f(*glow))
        root.set_shader_input("u_lamps", lamps)
        root.set_shader_input("u_lamp_count", float(len(self.lanterns)))
        if self.snow is not None:
            if state.get("snow", True):
                self.snow.show()
            else:
                self.snow.hide()
