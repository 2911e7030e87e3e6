"""The final pass: what a projector node puts on its output after the scene is drawn.

One full-screen quad, one shader. It reads the layer textures the scenes were drawn
into (render-to-texture; two during a transition) and writes each output pixel ``p``:

    uv  = warp(p)              identity, a warp-map texture, or a corner-pin homography
    c   = gain_out * outgoing(uv) + gain_in * incoming(uv)        (transition mix)
    c  *= blend[p] * dim       blend = encode_blend(weight, gamma) = weight ** (1/gamma)
    out = black[p] + (1 - black[p]) * c                           (black-level uplift)

Colours leave the scenes gamma-encoded (2.2 for our shaders; the display's ``gamma``
says what its projector does with them), so multiplying the encoded value by
``weight ** (1/gamma)`` is exactly decoding to linear light, multiplying by
``weight`` and re-encoding: the weight is applied once, in linear light, and the
light of overlapping projectors adds up to the picture. ``dim`` (1 - blackout level)
scales the encoded value like the transitions' fade through black; the black-level
uplift stays, so a blacked-out wall is evenly black across its overlaps.

The maps are per *output* pixel (:func:`exhibit_engine.wall.output.output_maps` evaluates
blend and black level at the wall point each output pixel lights, after the warp);
``uv`` has its origin at the image's top-left corner and is ``-1`` where no image
lands (black there). Without a warp every lookup is ``texelFetch`` (texel for pixel,
never filtered); a warp samples the scenes' frames bilinearly. A renderer with no
correction and ``dim == 1`` draws its scene straight to the output and never runs this
pass, so renders that are not part of a wall keep their pixels.

:class:`OutputCorrection` is the plain-data half (numpy arrays, built from the venue by
:meth:`OutputCorrection.for_display`); :class:`OutputPass` is the Panda3D half.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from panda3d.core import (Camera, CardMaker, LMatrix3f, LMatrix4f, NodePath, OmniBoundingVolume,
                          OrthographicLens, SamplerState, Shader, Texture)

from ..errors import RenderError

if TYPE_CHECKING:
    from ..config import DisplayConfig, VenueConfig

__all__ = ["OutputCorrection", "OutputPass", "WARP_HOMOGRAPHY", "WARP_MAP", "WARP_NONE"]

WARP_NONE, WARP_MAP, WARP_HOMOGRAPHY = 0, 1, 2
_serial = itertools.count(1)

_VERTEX = """
in vec4 p3d_Vertex;
void main() {
    gl_Position = vec4(p3d_Vertex.x, p3d_Vertex.z, 0.0, 1.0);
}
"""

_FRAGMENT = """
uniform sampler2D u_out;        // outgoing layer (gamma-encoded RGB)
uniform sampler2D u_in;         // incoming / current layer
uniform vec2 u_gain;            // transition gains (outgoing, incoming)
uniform int u_warp;             // 0 none, 1 warp map, 2 homography
uniform sampler2D u_warp_map;   // RG32F: image uv (GL convention) of each output pixel
uniform mat3 u_homography;      // output uv -> image uv, both GL convention
uniform sampler2D u_blend;      // R32F: weight ** (1/gamma) per output pixel
uniform sampler2D u_black;      // R32F: black-level uplift per output pixel
uniform float u_dim;            // 1 - blackout level
uniform vec2 u_size;            // output size in pixels
out vec4 o_color;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec3 c;
    if (u_warp == 0) {
        c = texelFetch(u_out, p, 0).rgb * u_gain.x + texelFetch(u_in, p, 0).rgb * u_gain.y;
    } else {
        vec2 uv;
        if (u_warp == 1) {
            uv = texelFetch(u_warp_map, p, 0).rg;
        } else {
            vec3 h = u_homography * vec3(gl_FragCoord.xy / u_size, 1.0);
            uv = h.xy / h.z;
        }
        if (any(lessThan(uv, vec2(0.0))) || any(greaterThan(uv, vec2(1.0)))) {
            c = vec3(0.0);              // no image lands here
        } else {
            c = texture(u_out, uv).rgb * u_gain.x + texture(u_in, uv).rgb * u_gain.y;
        }
    }
    // a 1x1 map stands for "the same everywhere"
    float k = texelFetch(u_blend, min(p, textureSize(u_blend, 0) - 1), 0).r;
    float b = texelFetch(u_black, min(p, textureSize(u_black, 0) - 1), 0).r;
    c *= k * u_dim;                     // the blend weight, once, in linear light
    o_color = vec4(b + (1.0 - b) * c, 1.0);
}
"""


def _plane(a: np.ndarray | None, size: tuple[int, int], what: str) -> np.ndarray | None:
    if a is None:
        return None
    a = np.asarray(a, dtype=np.float64)
    w, h = size
    if a.shape != (h, w):
        raise RenderError(f"the {what} map is {a.shape[1::-1] if a.ndim == 2 else a.shape}, "
                          f"not the output's {w}x{h}")
    if not np.all(np.isfinite(a)) or a.min() < 0.0 or a.max() > 1.0:
        raise RenderError(f"the {what} map must hold finite values in [0, 1]")
    return a


@dataclass(frozen=True, eq=False)
class OutputCorrection:
    """What the final pass does to one display's frame (plain numbers, no GPU).

    Maps are numpy arrays the output's size, row 0 = top, one value per output pixel.

    Attributes:
        size: the output size (width, height) in pixels.
        blend: ``encode_blend(weights, gamma)``: the factor each gamma-encoded output
            pixel is multiplied by (``weights ** (1/gamma)``), or ``None`` for 1.
        black: black-level uplift (0..1 of full output), or ``None`` for none.
        warp: ``(h, w, 2)`` image uv of each output pixel, (0, 0) = the image's
            top-left corner, (1, 1) its bottom-right, negative where no image lands;
            ``None`` for no map.
        homography: 3x3 matrix taking output uv to image uv (homogeneous, the same
            top-left convention), for a corner pin; ``None`` for none.

    Raises:
        RenderError: a map has the wrong shape or values outside [0, 1], or both a
            map and a homography are given.
    """

    size: tuple[int, int]
    blend: np.ndarray | None = None
    black: np.ndarray | None = None
    warp: np.ndarray | None = None
    homography: np.ndarray | None = None

    def __post_init__(self) -> None:
        w, h = self.size
        if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
            raise RenderError(f"invalid output size {self.size!r}")
        object.__setattr__(self, "blend", _plane(self.blend, self.size, "blend"))
        black = _plane(self.black, self.size, "black-level")
        object.__setattr__(self, "black", None if black is None or not black.any() else black)
        if self.warp is not None and self.homography is not None:
            raise RenderError("a display has a warp map or a homography, not both")
        if self.warp is not None:
            warp = np.asarray(self.warp, dtype=np.float64)
            if warp.shape != (h, w, 2) or not np.all(np.isfinite(warp)):
                raise RenderError(f"the warp map must be {h}x{w}x2 finite image uv, "
                                  f"not {warp.shape}")
            object.__setattr__(self, "warp", warp)
        if self.homography is not None:
            hm = np.asarray(self.homography, dtype=np.float64)
            if hm.shape != (3, 3) or not np.all(np.isfinite(hm)) or \
                    abs(np.linalg.det(hm)) < 1e-12:
                raise RenderError("the homography must be an invertible 3x3 matrix")
            object.__setattr__(self, "homography", hm)

    @property
    def identity(self) -> bool:
        """Whether the pass would leave every pixel as it is (no blend, black or warp)."""
        blend_one = self.blend is None or bool(np.all(self.blend == 1.0))
        return blend_one and self.black is None and self.warp is None \
            and self.homography is None

    @classmethod
    def for_display(cls, venue: VenueConfig, display: DisplayConfig,
                    size: tuple[int, int]) -> OutputCorrection:
        """The correction of one display of a venue, at an output of ``size`` pixels.

        Blend, black level and warp come from
        :func:`exhibit_engine.wall.output.output_maps`.
        A corner pin on a flat wall becomes a homography the shader applies per pixel;
        a mesh warp or a curved wall, a warp-map texture. A display without overlaps,
        uplift or warp gets the identity.

        Raises:
            ValueError: the display's warp is degenerate (from the wall geometry).
        """
        from ..config import CornerPin
        from ..wall.output import output_maps
        from ..wall.warp import corner_pin

        maps = output_maps(venue, display, size)
        warp = homography = None
        if isinstance(display.warp, CornerPin) and venue.wall.shape == "flat":
            w, h = size
            scale = np.array([display.pixels[0], display.pixels[1]], dtype=np.float64)
            quad = np.asarray(display.warp.quad(), dtype=np.float64) / scale
            image_to_output = corner_pin(((0, 0), (1, 0), (1, 1), (0, 1)), quad)
            homography = np.linalg.inv(image_to_output)
        elif display.warp is not None or venue.wall.shape != "flat":
            warp = maps.uv
        return cls(size=size, blend=None if np.all(maps.blend == 1.0) else maps.blend,
                   black=maps.black, warp=warp, homography=homography)


def _float_texture(name: str, plane: np.ndarray, fmt: int) -> Texture:
    """A float texture of a (h, w[, c]) array whose row 0 is the top (GL: the bottom)."""
    h, w = plane.shape[:2]
    tex = Texture(name)
    tex.setup_2d_texture(w, h, Texture.T_float, fmt)
    data = np.ascontiguousarray(plane[::-1], dtype=np.float32)
    tex.set_ram_image(data.tobytes())       # F_r32 / F_rg32 upload as stored: R, G
    tex.set_minfilter(SamplerState.FT_linear)
    tex.set_magfilter(SamplerState.FT_linear)
    tex.set_wrap_u(SamplerState.WM_clamp)
    tex.set_wrap_v(SamplerState.WM_clamp)
    tex.set_keep_ram_image(False)
    return tex


#: output uv (top-left origin) <-> GL uv (bottom-left origin): v -> 1 - v
_FLIP_V = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 1.0], [0.0, 0.0, 1.0]])


class OutputPass:
    """The final pass: a full-screen quad and the output shader (see the module docstring).

    Attributes:
        root: the pass's own scene graph (a quad and an orthographic camera).
        camera: the camera a display region sets to draw the pass.
    """

    def __init__(self) -> None:
        self.root = NodePath("output-pass")
        cm = CardMaker("output-quad")
        cm.set_frame(-1.0, 1.0, -1.0, 1.0)
        quad = self.root.attach_new_node(cm.generate())
        # the vertex shader places the quad itself: never cull it
        quad.node().set_bounds(OmniBoundingVolume())
        quad.node().set_final(True)
        quad.set_depth_test(False)
        quad.set_depth_write(False)
        head = f"#version 330\n#define EE_OUTPUT_SERIAL {next(_serial)}\n"
        shader = Shader.make(Shader.SL_GLSL, head + _VERTEX, head + _FRAGMENT)
        if shader is None:                              # pragma: no cover - fixed source
            raise RenderError("Panda3D refused the output shader")
        quad.set_shader(shader)
        self._quad = quad
        self._one = _float_texture("output-one", np.ones((1, 1)), Texture.F_r32)
        self._zero = _float_texture("output-zero", np.zeros((1, 1)), Texture.F_r32)
        self._no_warp = _float_texture("output-no-warp", np.zeros((1, 1, 2)),
                                       Texture.F_rg32)
        self._linear = SamplerState()
        self._linear.set_minfilter(SamplerState.FT_linear)
        self._linear.set_magfilter(SamplerState.FT_linear)
        self._linear.set_wrap_u(SamplerState.WM_clamp)
        self._linear.set_wrap_v(SamplerState.WM_clamp)
        self._warp_mode = WARP_NONE
        self._nothing = Texture("output-nothing")     # a layer that is not drawn: black
        self._nothing.setup_2d_texture(1, 1, Texture.T_unsigned_byte, Texture.F_rgba8)
        self._nothing.set_ram_image(bytes(4))
        self.set_correction(None)
        lens = OrthographicLens()
        lens.set_film_size(2.0, 2.0)
        lens.set_near_far(-1.0, 1.0)
        self.camera = self.root.attach_new_node(Camera("output-camera", lens))

    def set_correction(self, corr: OutputCorrection | None) -> None:
        """Upload a display's maps (``None``: blend 1, no black uplift, no warp)."""
        q = self._quad
        if corr is None:
            q.set_shader_input("u_blend", self._one)
            q.set_shader_input("u_black", self._zero)
            q.set_shader_input("u_warp_map", self._no_warp)
            q.set_shader_input("u_homography", LMatrix4f.ident_mat())
            self._warp_mode = WARP_NONE
        else:
            q.set_shader_input("u_blend", self._one if corr.blend is None else
                               _float_texture("output-blend", corr.blend, Texture.F_r32))
            q.set_shader_input("u_black", self._zero if corr.black is None else
                               _float_texture("output-black", corr.black, Texture.F_r32))
            if corr.warp is not None:
                uv = np.stack([corr.warp[..., 0], 1.0 - corr.warp[..., 1]], axis=-1)
                q.set_shader_input("u_warp_map", _float_texture("output-warp", uv,
                                                                Texture.F_rg32))
                self._warp_mode = WARP_MAP
            else:
                q.set_shader_input("u_warp_map", self._no_warp)
                self._warp_mode = WARP_NONE
            hm = LMatrix3f.ident_mat()
            if corr.homography is not None:
                gl = _FLIP_V @ corr.homography @ _FLIP_V
                # GLSL mat3 is column-major and Panda3D's matrices are row-vector
                # (v * M): the transpose of the column-vector matrix we hold
                hm = LMatrix3f(*(float(v) for v in gl.T.reshape(-1)))
                self._warp_mode = WARP_HOMOGRAPHY
            q.set_shader_input("u_homography", LMatrix4f(hm))  # mat3: its upper 3x3
        q.set_shader_input("u_warp", self._warp_mode)

    @property
    def warps(self) -> bool:
        """Whether the current correction moves pixels (the layers are then filtered)."""
        return self._warp_mode != WARP_NONE

    def bind(self, outgoing: Texture | None, incoming: Texture | None,
             gain: tuple[float, float], size: tuple[int, int], dim: float = 1.0) -> None:
        """Set the two layer textures (``None``: not drawn, black), their gains, the
        output size and ``dim`` for the next frame."""
        q = self._quad
        outgoing = outgoing or incoming or self._nothing
        incoming = incoming or outgoing
        if self.warps:
            q.set_shader_input("u_out", outgoing, self._linear)
            q.set_shader_input("u_in", incoming, self._linear)
        else:
            q.set_shader_input("u_out", outgoing)
            q.set_shader_input("u_in", incoming)
        q.set_shader_input("u_gain", (float(gain[0]), float(gain[1])))
        q.set_shader_input("u_dim", float(dim))
        q.set_shader_input("u_size", (float(size[0]), float(size[1])))

    @property
    def shader_failed(self) -> bool:
        """Whether the output shader failed to compile (known after its first draw)."""
        return bool(self._quad.get_shader().get_error_flag())

    def close(self) -> None:
        """Release the pass's scene graph."""
        self.root.remove_node()
