"""The post stage: a scene's picture after it is drawn, the same on every slice of a wall.

A scene that declares :class:`~exhibit_engine.scenes.base.ScreenEffects` is not drawn
straight to the output. Its layer renders through a :class:`PostChain` of offscreen
buffers, all on the output's GPU, none copied to RAM:

1. **scene**: the scene, through a lens grown by the *guard band* (``margin`` pixels on
   every side, :func:`~exhibit_engine.wall.frustum.guard_margin` of the effects' reach),
   into a half-float buffer of scene-linear light when the scene asks for ``hdr``. On a
   flat wall's pixel grid (:class:`~exhibit_engine.wall.frustum.WallRaster`) the buffer
   is the whole grid instead, drawn with the whole wall's lens and viewport and a
   scissor around the slice and its band: its pixels are the whole render's, bit for
   bit;
2. **bloom** (with ``bloom > 0``), at half resolution on the buffer's even pixel grid
   (texel ``k`` covers pixels ``2k`` and ``2k + 1``, the same wall pixels in every slice):
   *down*, the mean of each 2x2 pixels' light above ``bloom_threshold`` (by luminance, a
   soft ramp, so a light keeps its colour); *rows* and *cols*, a separable Gaussian of
   ``sigma = taps / 3`` full-size pixels;
3. **picture**: the output's own pixels, cropped from the scene buffer (``texelFetch``,
   texel for pixel), plus the bloom times ``bloom`` (bilinear from the half grid with
   exact weights, 0.25 and 0.75), in linear light; then tone-mapped and gamma-encoded
   like every other scene's colour (the ACES fit of ``common.glsl``, gamma 2.2).

At 1280x720 on llvmpipe the bloom costs about 15 ms (a full-resolution blur with the
bright pass in every tap took 105 ms).

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

# Half resolution, on the scene buffer's even pixel grid: each texel the mean of the light
# above the threshold in its 2x2 scene pixels (by luminance, a soft ramp: a light keeps
# its colour).
_DOWN = """
uniform sampler2D u_src;        // the scene (linear light)
uniform ivec2 u_at;             // the scene pixel of this pass's texel (0, 0): even
uniform float u_threshold;
out vec4 o_color;

vec3 bright(ivec2 p, ivec2 last) {
    vec3 c = texelFetch(u_src, clamp(p, ivec2(0), last), 0).rgb;
    float l = dot(c, vec3(0.2126, 0.7152, 0.0722));
    return c * (max(l - u_threshold, 0.0) / max(l, 1e-4));
}

void main() {
    ivec2 last = textureSize(u_src, 0) - 1;
    ivec2 p = 2 * ivec2(gl_FragCoord.xy) + u_at;
    vec3 s = bright(p, last) + bright(p + ivec2(1, 0), last) + bright(p + ivec2(0, 1), last)
             + bright(p + ivec2(1, 1), last);
    o_color = vec4(0.25 * s, 1.0);
}
"""

# One direction of the separable Gaussian, at half resolution.
_BLUR = f"""
uniform sampler2D u_src;
uniform ivec2 u_dir;            // (1, 0): along rows; (0, 1): along columns
uniform int u_taps;
uniform float u_w[{MAX_TAPS + 1}];       // normalised weights, offsets 0..u_taps
out vec4 o_color;

void main() {{
    ivec2 last = textureSize(u_src, 0) - 1;
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec3 s = u_w[0] * texelFetch(u_src, p, 0).rgb;
    for (int k = 1; k <= u_taps; ++k) {{
        s += u_w[k] * (texelFetch(u_src, clamp(p + k * u_dir, ivec2(0), last), 0).rgb
                       + texelFetch(u_src, clamp(p - k * u_dir, ivec2(0), last), 0).rgb);
    }}
    o_color = vec4(s, 1.0);
}}
"""

_PICTURE = """
uniform sampler2D u_src;        // the scene image
uniform ivec2 u_src_at;         // where output pixel (0, 0) is in it
uniform sampler2D u_glow;       // the bloom at half resolution
uniform ivec2 u_glow_at;        // the scene pixel of its texel (0, 0): even
uniform float u_bloom;          // 0: no bloom
uniform int u_hdr;              // 1: tone-map here
out vec4 o_color;

// Narkowicz's ACES fit, then display gamma (as common.glsl's scenes without a post stage)
vec3 tonemap(vec3 c) {
    c = clamp((c * (2.51 * c + 0.03)) / (c * (2.43 * c + 0.59) + 0.14), 0.0, 1.0);
    return pow(c, vec3(1.0 / 2.2));
}

vec3 glow(ivec2 i, ivec2 last) {
    return texelFetch(u_glow, clamp(i, ivec2(0), last), 0).rgb;
}

void main() {
    ivec2 s = ivec2(gl_FragCoord.xy) + u_src_at;
    vec3 c = texelFetch(u_src, s, 0).rgb;
    if (u_bloom > 0.0) {
        // bilinear from the half-resolution grid, with exact weights (0.25 / 0.75): the
        // same wall pixel gets the same bloom in every slice
        ivec2 d = s - u_glow_at;
        ivec2 i = (d - 1) >> 1;
        vec2 f = mix(vec2(0.75), vec2(0.25), vec2(d & 1));
        ivec2 last = textureSize(u_glow, 0) - 1;
        vec3 b = mix(mix(glow(i, last), glow(i + ivec2(1, 0), last), f.x),
                     mix(glow(i + ivec2(0, 1), last), glow(i + ivec2(1, 1), last), f.x), f.y);
        c += u_bloom * b;
    }
    o_color = vec4(u_hdr == 1 ? tonemap(max(c, vec3(0.0))) : c, 1.0);
}
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
        taps: the bloom kernel's half-width in pixels (it runs at half resolution:
            :attr:`half_taps` there).
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
    def low(self) -> tuple[int, int]:
        """The scene pixel where the grown output starts (its lower-left corner)."""
        if self.raster is None:
            return (0, 0)
        return (self.origin[0] - self.margin, self.origin[1] - self.margin)

    @property
    def bloom_at(self) -> tuple[int, int]:
        """The scene pixel of the half-resolution bloom's texel (0, 0): :attr:`low`
        floored to even, so that on the wall grid every slice's bloom texels cover the
        same 2x2 wall pixels."""
        return (self.low[0] - (self.low[0] & 1), self.low[1] - (self.low[1] & 1))

    @property
    def half(self) -> tuple[int, int]:
        """The half-resolution bloom's size: the grown output, from :attr:`bloom_at`."""
        gw, gh = self.grown
        (lx, ly), (bx, by) = self.low, self.bloom_at
        return ((gw + lx - bx + 1) // 2, (gh + ly - by + 1) // 2)

    @property
    def half_taps(self) -> int:
        """The kernel's half-width at half resolution."""
        return (self.taps + 1) // 2

    @property
    def scene_size(self) -> tuple[int, int]:
        """The scene buffer's size: the wall grid's, or the grown output's."""
        return self.raster or self.grown

    @property
    def drawn(self) -> tuple[int, int, int, int]:
        """The pixels of the scene buffer the scene is drawn into (left, bottom, width,
        height): the output, its guard band and what the bloom reads, within the
        buffer."""
        w, h = self.scene_size
        if self.raster is None:
            return (0, 0, w, h)
        # with the pixels the half-resolution bloom reads (from bloom_at, two per texel)
        (x0, y0), (hw, hh) = self.bloom_at, self.half
        x1 = max(self.low[0] + self.grown[0], x0 + 2 * hw)
        y1 = max(self.low[1] + self.grown[1], y0 + 2 * hh)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        return (x0, y0, x1 - x0, y1 - y0)

    def weights(self) -> list[float]:
        """The Gaussian's weights at half resolution for offsets 0..half_taps (sigma =
        taps / 6 there: taps / 3 full-size pixels), summing to 1 over both sides."""
        if self.taps <= 0:
            return [1.0]
        sigma = self.taps / 6.0
        w = [math.exp(-0.5 * (k / sigma) ** 2) for k in range(self.half_taps + 1)]
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
    reach = (effects.refraction * scale if raster is not None
             else max(effects.sprite_px, effects.refraction * scale))
    if taps:
        # an output pixel's bloom: a 2x2 bilinear footprint of half-resolution texels,
        # each blurred by half_taps texels along rows and columns of 2x2 pixel means
        reach = max(reach, 2.0 * ((taps + 1) // 2) + 3.0)
    margin = guard_margin(reach) if guard else 0
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
        sort: the first of five consecutive buffer sorts, below the output's.

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
            glow_tex = scene_tex            # bound but unread without bloom
            if spec.bloom > 0.0:
                weights = PTA_float([*spec.weights(),
                                     *[0.0] * (MAX_TAPS - spec.half_taps)])
                src = scene_tex
                for k, (stage, fragment) in enumerate((("down", _DOWN), ("rows", _BLUR),
                                                        ("cols", _BLUR))):
                    buf, tex, quad = _pass(host, f"{name}-{stage}", spec.half, sort + 1 + k,
                                           True, fragment)
                    self.buffers.append(buf)
                    self._roots.append(quad.get_parent())
                    quad.set_shader_input("u_src", src)
                    if stage == "down":
                        quad.set_shader_input("u_at", LVecBase2i(*spec.bloom_at))
                        quad.set_shader_input("u_threshold", float(spec.threshold))
                    else:
                        quad.set_shader_input("u_dir", LVecBase2i(*((1, 0) if stage == "rows"
                                                                    else (0, 1))))
                        quad.set_shader_input("u_taps", int(spec.half_taps))
                        quad.set_shader_input("u_w", weights)
                    src = tex
                glow_tex = src
            buf, self.texture, quad = _pass(host, f"{name}-picture", spec.size, sort + 4,
                                            False, _PICTURE)
            self.buffers.append(buf)
            self._roots.append(quad.get_parent())
            low = spec.low
            quad.set_shader_input("u_src", scene_tex)
            quad.set_shader_input("u_src_at", LVecBase2i(low[0] + spec.margin,
                                                         low[1] + spec.margin))
            quad.set_shader_input("u_glow", glow_tex)
            quad.set_shader_input("u_glow_at", LVecBase2i(*spec.bloom_at))
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
