"""The post stage: a scene's picture after it is drawn, the same on every slice of a wall.

A scene that declares :class:`~exhibit_engine.scenes.base.ScreenEffects` is not drawn
straight to the output. Its layer renders through a :class:`PostChain` of offscreen
buffers, all on the output's GPU, none copied to RAM:

1. **scene**: the scene, through a lens grown by the *guard band* (``margin`` pixels on
   every side, :func:`~exhibit_engine.wall.frustum.guard_margin` of the effects' reach),
   into a half-float buffer of scene-linear light when the scene asks for ``hdr``;
2. **bloom** (with ``bloom > 0``): the light above ``bloom_threshold`` (by luminance, a
   soft ramp, so a light's colour is kept), blurred along rows by a Gaussian of
   ``sigma = reach / 3`` pixels, over the whole grown image;
3. **picture**: the output's own pixels, cropped from the grown image
   (``texelFetch`` at ``p + margin``, texel for pixel), plus the bloom blurred along
   columns times ``bloom``, in linear light; then tone-mapped and gamma-encoded like
   every other scene's colour (the ACES fit of ``common.glsl``, gamma 2.2).

The picture is the layer's texture, which the renderer's final pass (:mod:`.output`)
blends, warps and puts on the output as it does any layer's. A bloom or a point sprite
that crosses a slice's edge is therefore computed from the same pixels on both sides: the
guard band holds what the neighbour draws. The kernel is measured in the venue's pixels
(:attr:`~exhibit_engine.wall.frustum.LodView.scale`), so every node blurs alike.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from panda3d.core import (Camera, CardMaker, GraphicsOutput, LVecBase2i, NodePath,
                          OmniBoundingVolume, OrthographicLens, PTA_float, Shader, Texture)

from ..errors import RenderError
from ..scenes.base import ScreenEffects
from ..wall.frustum import WallRaster, guard_margin
from . import _gl

__all__ = ["MAX_TAPS", "PostChain", "PostSpec", "post_spec"]

#: The most taps either half of the bloom kernel has (a reach of 64 pixels).
MAX_TAPS = 64
_serial = itertools.count(1)

_VERTEX = """
in vec4 p3d_Vertex;
void main() {
    gl_Position = vec4(p3d_Vertex.x, p3d_Vertex.z, 0.0, 1.0);
}
"""

_BRIGHT_ROWS = f"""
uniform sampler2D u_src;        // the scene image (linear light)
uniform ivec2 u_src_at;         // where this pass's pixel (0, 0) is in it
uniform float u_threshold;      // luminance where blooming starts
uniform int u_taps;             // kernel half-width in pixels
uniform float u_w[{MAX_TAPS + 1}];       // normalised Gaussian weights, 0..u_taps
out vec4 o_color;

vec3 bright(vec3 c) {{
    float l = dot(c, vec3(0.2126, 0.7152, 0.0722));
    return c * (max(l - u_threshold, 0.0) / max(l, 1e-4));
}}

void main() {{
    ivec2 last = textureSize(u_src, 0) - 1;
    ivec2 p = clamp(ivec2(gl_FragCoord.xy) + u_src_at, ivec2(0), last);
    vec3 s = u_w[0] * bright(texelFetch(u_src, p, 0).rgb);
    for (int k = 1; k <= u_taps; ++k) {{
        s += u_w[k] * (bright(texelFetch(u_src, ivec2(min(p.x + k, last.x), p.y), 0).rgb)
                       + bright(texelFetch(u_src, ivec2(max(p.x - k, 0), p.y), 0).rgb));
    }}
    o_color = vec4(s, 1.0);
}}
"""

_PICTURE = f"""
uniform sampler2D u_src;        // the scene image
uniform ivec2 u_src_at;         // where output pixel (0, 0) is in it
uniform sampler2D u_rows;       // its bright light blurred along rows, the guard band
uniform int u_margin;           // ... around the output: output pixel p is p + margin
uniform int u_taps;
uniform float u_w[{MAX_TAPS + 1}];
uniform float u_bloom;          // 0: no bloom pass
uniform int u_hdr;              // 1: tone-map here
out vec4 o_color;

// Narkowicz's ACES fit, then display gamma (as common.glsl's scenes without a post stage)
vec3 tonemap(vec3 c) {{
    c = clamp((c * (2.51 * c + 0.03)) / (c * (2.43 * c + 0.59) + 0.14), 0.0, 1.0);
    return pow(c, vec3(1.0 / 2.2));
}}

void main() {{
    vec3 c = texelFetch(u_src, ivec2(gl_FragCoord.xy) + u_src_at, 0).rgb;
    ivec2 p = ivec2(gl_FragCoord.xy) + ivec2(u_margin);
    if (u_bloom > 0.0) {{
        int last = textureSize(u_rows, 0).y - 1;
        vec3 s = u_w[0] * texelFetch(u_rows, p, 0).rgb;
        for (int k = 1; k <= u_taps; ++k) {{
            s += u_w[k] * (texelFetch(u_rows, ivec2(p.x, min(p.y + k, last)), 0).rgb
                           + texelFetch(u_rows, ivec2(p.x, max(p.y - k, 0)), 0).rgb);
        }}
        c += u_bloom * s;
    }}
    o_color = vec4(u_hdr == 1 ? tonemap(max(c, vec3(0.0))) : c, 1.0);
}}
"""


@dataclass(frozen=True)
class PostSpec:
    """One layer's post stage, in pixels: what a :class:`PostChain` is opened for.

    Attributes:
        size: the output's size (width, height).
        margin: the guard band on each side.
        hdr: the scene buffer holds scene-linear half floats (tone-mapped here).
        bloom: the bloom's strength (0: no bloom pass).
        threshold: the luminance where blooming starts.
        taps: the bloom kernel's half-width in pixels.
        raster: the wall grid's size when the scene is drawn on it
            (:class:`~exhibit_engine.wall.frustum.WallRaster`), else ``None``: through
            a lens grown by the guard band.
        origin: the output's lower-left pixel on that grid.
    """

    size: tuple[int, int]
    margin: int
    hdr: bool
    bloom: float
    threshold: float
    taps: int
    raster: tuple[int, int] | None = None
    origin: tuple[int, int] = (0, 0)

    @property
    def grown(self) -> tuple[int, int]:
        """The output plus the guard band on every side."""
        return (self.size[0] + 2 * self.margin, self.size[1] + 2 * self.margin)

    @property
    def scene_size(self) -> tuple[int, int]:
        """The scene buffer's size: the wall grid's, or the grown output's."""
        return self.raster or self.grown

    @property
    def drawn(self) -> tuple[int, int, int, int]:
        """The pixels of the scene buffer the scene is drawn into (left, bottom, width,
        height): the output and its guard band, within the buffer."""
        w, h = self.scene_size
        if self.raster is None:
            return (0, 0, w, h)
        x0, y0 = self.origin[0] - self.margin, self.origin[1] - self.margin
        x1, y1 = x0 + self.grown[0], y0 + self.grown[1]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        return (x0, y0, x1 - x0, y1 - y0)

    def weights(self) -> list[float]:
        """The Gaussian's weights for offsets 0..taps (sigma = taps / 3), summing to 1
        over -taps..taps."""
        if self.taps <= 0:
            return [1.0]
        sigma = self.taps / 3.0
        w = [math.exp(-0.5 * (k / sigma) ** 2) for k in range(self.taps + 1)]
        total = w[0] + 2.0 * sum(w[1:])
        return [v / total for v in w]


def post_spec(effects: ScreenEffects | None, size: tuple[int, int], scale: float, *,
              guard: bool = True, raster: WallRaster | None = None) -> PostSpec | None:
    """The post stage of a scene with ``effects`` on an output of ``size`` at the venue's
    ``scale`` (``None``: the scene needs none), drawn on the wall grid ``raster`` if
    given. ``guard``: False draws no guard band (to measure what it costs; slices then
    disagree at their edges)."""
    if effects is None:
        return None
    bloom_px = effects.bloom_px(scale)
    taps = min(MAX_TAPS, int(math.ceil(bloom_px))) if effects.bloom > 0.0 else 0
    # On the wall grid a point sprite is clipped by the whole wall's viewport, not by the
    # slice: only what reads neighbouring pixels needs the band there.
    reach = (max(bloom_px, effects.refraction * scale) if raster is not None
             else effects.reach_px(scale))
    margin = guard_margin(max(reach, float(taps))) if guard else 0
    return PostSpec(size, margin, effects.hdr, effects.bloom if taps > 0 else 0.0,
                    effects.bloom_threshold, taps,
                    raster.size if raster is not None else None,
                    raster.origin if raster is not None else (0, 0))


def _pass(host: GraphicsOutput, name: str, size: tuple[int, int], sort: int, hdr: bool,
          fragment: str) -> tuple[GraphicsOutput, Texture, NodePath]:
    """A buffer drawing one full-screen quad with ``fragment``: (buffer, texture, quad)."""
    buf, tex = _gl.open_layer_buffer(host, name, size, sort, hdr=hdr, depth=False)
    root = NodePath(name)
    cm = CardMaker(f"{name}-quad")
    cm.set_frame(-1.0, 1.0, -1.0, 1.0)
    quad = root.attach_new_node(cm.generate())
    quad.node().set_bounds(OmniBoundingVolume())     # placed by its vertex shader
    quad.node().set_final(True)
    quad.set_depth_test(False)
    quad.set_depth_write(False)
    # Panda3D shares a Shader among identical sources and keys its compiled programs by
    # the GSG's address: a new renderer's GSG at a closed one's address would then be
    # served a dead program (a black picture). A serial keeps every chain's own.
    head = f"#version 330\n#define EE_POST_SERIAL {next(_serial)}\n"
    shader = Shader.make(Shader.SL_GLSL, head + _VERTEX, head + fragment)
    if shader is None:                                  # pragma: no cover - fixed source
        raise RenderError("Panda3D refused a post-stage shader")
    quad.set_shader(shader)
    lens = OrthographicLens()
    lens.set_film_size(2.0, 2.0)
    lens.set_near_far(-1.0, 1.0)
    buf.make_display_region().set_camera(root.attach_new_node(Camera(f"{name}-camera", lens)))
    return buf, tex, quad


class PostChain:
    """The buffers of one layer's post stage (see the module docstring).

    Args:
        host: the output whose GPU draws them.
        name: a name for the buffers (the layer's).
        spec: sizes, guard band and bloom.
        camera: the layer's camera, which the scene buffer draws.
        sort: the first of three consecutive buffer sorts, below the output's.

    Attributes:
        spec: what the chain was opened for.
        texture: the picture at the output's size (gamma-encoded RGBA8).
        buffers: the buffers in drawing order (the scene's first).

    Raises:
        RenderError: a buffer could not be opened (none is left open then).
    """

    def __init__(self, host: GraphicsOutput, name: str, spec: PostSpec, camera: NodePath,
                 sort: int) -> None:
        self.spec = spec
        self._host = host
        self.buffers: list[GraphicsOutput] = []
        self._roots: list[NodePath] = []
        try:
            scene_buf, scene_tex = _gl.open_layer_buffer(host, f"{name}-scene",
                                                         spec.scene_size, sort, hdr=spec.hdr)
            self.buffers.append(scene_buf)
            if spec.raster is not None:
                # only the slice and its guard band are cleared (and drawn: the camera's
                # scissor); the viewport is the whole grid
                scene_buf.set_clear_color_active(False)
                scene_buf.set_clear_depth_active(False)
                x, y, w, h = spec.drawn
                W, H = spec.raster
                clear = scene_buf.make_display_region(x / W, (x + w) / W, y / H, (y + h) / H)
                clear.set_sort(-1)
                clear.set_clear_color_active(True)
                clear.set_clear_color((0.0, 0.0, 0.0, 1.0))
                clear.set_clear_depth_active(True)
            scene_buf.make_display_region().set_camera(camera)
            at = ((spec.origin[0] - spec.margin, spec.origin[1] - spec.margin)
                  if spec.raster is not None else (0, 0))
            weights = PTA_float([*spec.weights(), *[0.0] * (MAX_TAPS + 1 - spec.taps - 1)])
            rows_tex = scene_tex
            if spec.bloom > 0.0:
                buf, rows_tex, quad = _pass(host, f"{name}-bloom", spec.grown, sort + 1, True,
                                            _BRIGHT_ROWS)
                self.buffers.append(buf)
                self._roots.append(quad.get_parent())
                quad.set_shader_input("u_src", scene_tex)
                quad.set_shader_input("u_src_at", LVecBase2i(*at))
                quad.set_shader_input("u_threshold", float(spec.threshold))
                quad.set_shader_input("u_taps", int(spec.taps))
                quad.set_shader_input("u_w", weights)
            buf, self.texture, quad = _pass(host, f"{name}-picture", spec.size, sort + 2,
                                            False, _PICTURE)
            self.buffers.append(buf)
            self._roots.append(quad.get_parent())
            quad.set_shader_input("u_src", scene_tex)
            quad.set_shader_input("u_src_at", LVecBase2i(at[0] + spec.margin, at[1] + spec.margin))
            quad.set_shader_input("u_rows", rows_tex)
            quad.set_shader_input("u_margin", int(spec.margin))
            quad.set_shader_input("u_taps", int(spec.taps))
            quad.set_shader_input("u_w", weights)
            quad.set_shader_input("u_bloom", float(spec.bloom))
            quad.set_shader_input("u_hdr", 1 if spec.hdr else 0)
            self._quads = [r.get_child(0) for r in self._roots]
        except BaseException:
            self.close()
            raise

    def set_active(self, on: bool) -> None:
        """Whether the chain's buffers draw in the next frame."""
        for buf in self.buffers:
            if buf.is_active() != on:
                buf.set_active(on)

    @property
    def shader_failed(self) -> bool:
        """Whether a post-stage shader failed to compile (known after its first draw)."""
        return any(q.get_shader().get_error_flag() for q in self._quads)

    def close(self) -> None:
        """Release the buffers (idempotent)."""
        engine = self._host.get_engine()
        for buf in self.buffers:
            engine.remove_window(buf)
        self.buffers = []
        for root in self._roots:
            root.remove_node()
        self._roots = []
