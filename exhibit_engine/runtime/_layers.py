"""The renderer's scene slots, and the next scene built ahead of time.

A :class:`Layer` is one scene slot: its own scene graph, camera rig and camera, and (for
transitions and the final pass) an offscreen buffer rendering it into a texture. The
renderer holds three: the *current* scene, the *outgoing* one of a transition, and the
*spare* that :class:`Preloader` builds the next cue's scene into, so that a cue change
only swaps slots. Memory therefore stays bounded by three scenes.

Preloading, step by step (:meth:`Preloader.step`, once per frame, after it is drawn):

1. **build**: the scene's :meth:`~exhibit_engine.scenes.base.Scene.build` runs between
   two frames, into the spare slot's graph, which no display region draws. The node
   asks for it well away from cue changes (:data:`~exhibit_engine.runtime.node_app.
   PRELOAD_AFTER_S` into a cue), so the frame it lengthens is far from any transition.
   It runs on the render thread on purpose: a build in a Python thread beside
   ``render_frame`` corrupted the heap within a few runs here (Panda3D 1.10, Mesa
   llvmpipe; the model decode racing the draw), and a wall must never crash.
2. **prepare**: for one frame, the spare slot's own offscreen buffer (opened now, at the
   output's size, if the slot has none; and a one-pixel region of the output, for direct
   drawing) draws the new scene at its local time 0, so its shaders compile, its
   textures and vertex buffers are uploaded and its buffer is allocated then, not on the
   cue change's first frame. The one-pixel region is drawn before the scene's own
   region, which clears it. The buffer keeps that picture (:data:`PREPARED`): the
   transition's first frame blends it in and redraws only the outgoing scene.
3. **ready**: :meth:`Preloader.take` hands the slot over.

A build that fails is kept as its error and raised by :meth:`Preloader.take`, where the
build would have raised without preloading: the cue's fault path is unchanged.
"""

from __future__ import annotations

import ctypes
import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from panda3d.core import (Camera, GraphicsOutput, Lens, LPoint3, LVecBase2f, LVecBase4f, NodePath,
                          PerspectiveLens, RenderState, ScissorAttrib, Texture, TransformState)

from ..errors import ExhibitError, RenderError
from ..wall.frustum import LodView, WallRaster, guard_frustum
from . import _gl
from .post import PostChain, PostSpec, post_spec

if TYPE_CHECKING:
    from ..assets.bundle import Bundle
    from ..scenes.base import Scene
    from ..wall.frustum import Frustum

__all__ = ["FRUSTUM_FLAGS", "Layer", "PREPARED", "Preloader", "lens_from_frustum",
           "release_states"]

#: :attr:`Layer.picture` of a slot whose buffer holds the frame its prepare pass drew (the
#: scene at its local time 0, which is where an incoming scene starts).
PREPARED = -1


def release_states() -> None:
    """Let go of the render and transform states nothing draws any more.

    Panda3D keeps every state it composed in caches that only it can empty; a scene
    unloaded leaves its states there, and with them its textures and shaders (on
    llvmpipe, megabytes of RAM per cue change, without end). Emptying the caches and
    collecting is cheap (the states still drawn are composed again on the next frame).
    """
    RenderState.clear_cache()
    TransformState.clear_cache()
    RenderState.garbage_collect()
    TransformState.garbage_collect()
    trim_heap()


_malloc_trim: Any = None


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; nothing
    elsewhere).

    A scene's build and unload free megabytes in the middle of the heap and of the
    threads' arenas, which glibc keeps: a render node's resident memory crept up by
    about 10 % in 30 minutes of cue changes (the soak), and a trim took back what it
    had grown by. Called when a scene unloads (at most once per cue change); it takes
    a few milliseconds.
    """
    global _malloc_trim
    if _malloc_trim is None:
        _malloc_trim = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL("libc.so.6")
                _malloc_trim = libc.malloc_trim
                _malloc_trim.argtypes, _malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
            except (OSError, AttributeError):      # another C library (musl): no trim
                _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


class Layer:
    """One scene slot: its own scene graph, camera rig and camera (and, for
    transitions, the final pass and scenes with screen effects, an offscreen buffer
    rendering it into a texture, or a :class:`~.post.PostChain`).

    The slot aims its own lens (:meth:`aim`): the renderer's frustum, grown by the guard
    band its scene's post stage asks for.
    """

    def __init__(self, name: str, size: tuple[int, int]) -> None:
        self.name = name
        self.size = size
        self.render = NodePath(f"render:{name}")
        self.render.set_shader_input("u_viewport", LVecBase2f(*size))
        # output pixel -> wall pixel (a screen-door fade between levels of detail)
        self.render.set_shader_input("u_wall_px", LVecBase4f(0.0, 0.0, 1.0, 1.0), 1)
        self.rig = self.render.attach_new_node("rig")
        self.camera = Camera(f"camera:{name}")
        self.camera_np = self.rig.attach_new_node(self.camera)
        self.scene: Scene | None = None
        self.root: NodePath | None = None
        self.unchecked = False
        self.buffer: GraphicsOutput | None = None      # the plain render-to-texture buffer
        self._plain: Texture | None = None
        self.post: PostChain | None = None              # ... or a scene's post stage
        self.texture: Texture | None = None             # the picture of either
        # The renderer frame whose picture the buffer's texture holds (None: none).
        self.picture: int | None = None
        self.frustum: Frustum | None = None
        self.near_far = (0.1, 2000.0)
        self.lod = LodView(0.0)
        #: False: no guard band (a benchmark's control; slices then differ at their edges).
        self.guard = True
        #: The wall grid this slot's scenes with screen effects are drawn on, if any.
        self.raster: WallRaster | None = None

    @property
    def has_post(self) -> bool:
        """Whether the slot's scene is drawn through a post stage."""
        return self.scene is not None and self.scene.screen_effects() is not None

    def post_spec(self) -> PostSpec | None:
        """The post stage the slot's scene needs at the slot's view (``None``: none)."""
        effects = self.scene.screen_effects() if self.scene is not None else None
        return post_spec(effects, self.size, self.lod.scale, guard=self.guard,
                         raster=self.raster)

    def aim(self) -> None:
        """Set the lens and the pixel inputs for the frustum, view and scene held now."""
        if self.frustum is None:
            return
        spec = self.post_spec()
        m = spec.margin if spec is not None else 0
        w, h = self.size
        grown = lens_from_frustum(guard_frustum(self.frustum, self.size, m), *self.near_far)
        ox, oy, sx, sy = self.lod.wall_px
        state = RenderState.make_empty()
        if spec is not None and spec.raster is not None and self.raster is not None:
            # the whole wall's lens and grid; the slice's own (grown) frustum for culling
            self.camera.set_lens(lens_from_frustum(self.raster.frustum, *self.near_far))
            self.camera.set_cull_bounds(grown.make_bounds())
            (W, H), (x0, y0) = spec.raster, spec.origin
            x, y, dw, dh = spec.drawn
            state = RenderState.make(ScissorAttrib.make(x / W, (x + dw) / W, y / H,
                                                        (y + dh) / H))
            viewport, shift = (W, H), (x0, y0)
        else:
            self.camera.set_lens(grown)
            self.camera.set_cull_bounds(grown.make_bounds())    # not a grid slice's
            viewport, shift = (w + 2 * m, h + 2 * m), (-m, -m)
        self.camera.set_initial_state(state)
        self.camera_np.set_h(float(getattr(self.frustum, "heading_deg", 0.0)))
        self.render.set_shader_input("u_viewport", LVecBase2f(*viewport))
        # buffer pixel -> wall pixel; priority 1: over a scene's own default outside a renderer
        self.render.set_shader_input("u_wall_px", LVecBase4f(ox - shift[0] * sx,
                                                             oy - shift[1] * sy, sx, sy), 1)

    def open_buffer(self, host: GraphicsOutput, sort: int) -> None:
        """Give the slot what draws its scene into a texture at the output's size: a
        plain buffer, or the post stage its scene needs (re-opened when that changes).
        ``sort``: the first of five buffer sorts the slot may use."""
        spec = self.post_spec()
        if spec is None:
            self._close_post()
            if self.buffer is None:
                self.buffer, self._plain = _gl.open_layer_buffer(
                    host, f"layer-{self.name}", self.size, sort)
                self.buffer.make_display_region().set_camera(self.camera_np)
            self.texture = self._plain
            return
        if self.post is not None and self.post.spec == spec:
            return
        self._close_post()
        if self.buffer is not None:             # one picture buffer per slot, not two
            host.get_engine().remove_window(self.buffer)
            self.buffer = self._plain = None
        self.post = PostChain(host, f"layer-{self.name}", spec, self.camera_np, sort)
        self.texture = self.post.texture
        self.picture = None

    def _close_post(self) -> None:
        if self.post is not None:
            self.post.close()
            self.post = None
            self.texture = self.picture = None

    def forget_buffers(self) -> None:
        """Drop the buffers without closing them (the engine removed every window)."""
        self.buffer = self._plain = self.texture = None
        if self.post is not None:
            self.post.buffers = []
            self.post = None

    def unload(self) -> None:
        scene, root = self.scene, self.root
        self.scene = self.root = None
        self.unchecked = False
        self.picture = None
        try:
            if scene is not None:
                scene.dispose()
        finally:
            if root is not None:
                root.remove_node()
            # what a scene hung on the rig (captions, annotation overlays) goes with it
            for child in self.rig.get_children():
                if child != self.camera_np:
                    child.remove_node()
            if scene is not None or root is not None:
                release_states()
                self.aim()

    def set_drawn(self, on: bool) -> None:
        """Whether the layer's offscreen buffer (or post stage) renders in the next frame."""
        if self.buffer is not None and self.buffer.is_active() != on:
            self.buffer.set_active(on)
        if self.post is not None:
            self.post.set_active(on)


#: ``build(layer, bundle, scene_id)``: builds a scene into a layer (the renderer's).
Build = Callable[[Layer, "Bundle", str], None]


class Preloader:
    """Builds one scene ahead of time into the spare slot (see the module docstring).

    Args:
        spare: the slot to build into; :meth:`take` swaps slots with the caller.
        build: builds a scene into a layer (raises like the renderer's load).
        open_buffer: gives a layer its offscreen buffer (render-to-texture at the output's
            size) unless it has one.
        output: the renderer's output.
        region: the output's scene region, which clears the prepare pass's pixel.
        direct: whether the renderer draws scenes straight to the output now (no final
            pass): only then does the prepare pass draw a pixel of the output too (a
            second framebuffer format, hence second shader variants on some drivers).
    """

    def __init__(self, spare: Layer, build: Build, open_buffer: Callable[[Layer], None],
                 output: GraphicsOutput, region: Any, *, direct: Callable[[], bool]) -> None:
        self.spare, self._build, self._output = spare, build, output
        self._open_buffer = open_buffer
        self._region = region       # the output's scene region: cleared while preparing
        self._direct = direct
        self.key: tuple[Bundle, str] | None = None
        self.state = "idle"       # idle | building | built | preparing | ready | failed
        self.error: ExhibitError | None = None
        self.build_ms: float | None = None              # the last build's duration
        self.prepare_ms: float | None = None            # ... and its prepare frame's
        self._preparing = False                         # the prepare pass is set up
        self._pixel: Any = None                         # its pixel of the output, if any
        self._started = 0.0

    # -- asking -----------------------------------------------------------------

    def holds(self, bundle: Bundle, scene_id: str) -> bool:
        """Whether this scene is preloaded or being preloaded."""
        return self.key is not None and self.key[0] is bundle and self.key[1] == scene_id

    def request(self, bundle: Bundle, scene_id: str) -> None:
        """Preload a scene (nothing if it is already): its build runs at the next
        :meth:`step`. Another preloaded scene is dropped for it."""
        if self.holds(bundle, scene_id):
            return
        self.discard()
        self.key, self.state, self.error = (bundle, scene_id), "building", None

    def step(self) -> None:
        """Advance the preload by one stage (call once per frame, after drawing): build,
        then prepare (drawn by the next frame), then ready."""
        if self.state == "building":
            self._run()
        elif self.state == "built":
            self._start_prepare()
        elif self.state == "preparing":
            self._end_prepare(drawn=True)

    def take(self, bundle: Bundle, scene_id: str, into: Layer) -> Layer | None:
        """The preloaded slot holding this scene (built now if its build has not run
        yet), or ``None`` when another or none is preloaded. ``into`` (the caller's
        slot, emptied) becomes the spare.

        Raises:
            ExhibitError: the preload's build failed (its error, as the build raised it).
        """
        if not self.holds(bundle, scene_id):
            return None
        if self.state == "building":        # asked for, never stepped
            self._run()
        self._end_prepare()
        self.key = None
        error, self.error = self.error, None
        failed, self.state = self.state == "failed", "idle"
        if failed:
            self.spare.unload()
            assert error is not None
            raise error
        layer, self.spare = self.spare, into
        into.unload()
        return layer

    def discard(self) -> None:
        """Drop what is preloaded."""
        self._end_prepare()
        self.spare.unload()
        self.key, self.state, self.error = None, "idle", None

    # -- internals --------------------------------------------------------------

    def _run(self) -> None:
        key = self.key
        assert key is not None
        started = time.perf_counter()
        try:
            self._build(self.spare, key[0], key[1])
            self.state = "built"
        except ExhibitError as exc:
            self.error, self.state = exc, "failed"
        except Exception as exc:  # noqa: BLE001 - a scene's bug, reported as the cue's fault
            self.error = RenderError(f"scene {key[1]!r} could not be built: "
                                     f"{type(exc).__name__}: {exc}")
            self.state = "failed"
        self.build_ms = (time.perf_counter() - started) * 1000.0

    def _start_prepare(self) -> None:
        """Have the next frame draw the new scene into the spare slot's own buffer (and,
        drawing direct, one pixel of the output)."""
        layer, scene = self.spare, self.spare.scene
        self.state = "ready"
        if scene is None:
            return
        try:
            scene.apply(0.0, {})
            self._open_buffer(layer)
        except ExhibitError:
            return                      # the cue's first frame prepares it instead
        except Exception:  # noqa: BLE001 - the scene's own fault path reports it later
            return
        layer.set_drawn(True)           # the next frame draws it into its own buffer
        if self._direct() and layer.post is None:
            self._pixel = self._output.make_display_region(
                0.0, 1.0 / self._output.get_x_size(), 0.0, 1.0 / self._output.get_y_size())
            self._pixel.set_sort(-100)
            self._pixel.set_camera(layer.camera_np)
            self._region.set_clear_color_active(True)
            self._region.set_clear_depth_active(True)
        self._preparing = True
        self.state = "preparing"
        self._started = time.perf_counter()

    def _end_prepare(self, drawn: bool = False) -> None:
        """Take the prepare pass down; ``drawn``: a frame drew it (the slot's buffer then
        holds the scene at its local time 0, :data:`PREPARED`), else it is cut short."""
        if not self._preparing:
            return
        self._preparing = False
        if self._pixel is not None:
            self._output.remove_display_region(self._pixel)
            self._pixel = None
            self._region.set_clear_color_active(False)
            self._region.set_clear_depth_active(False)
        self.spare.set_drawn(False)
        self.spare.unchecked = True     # its first frame on screen still checks shaders
        if drawn:
            self.spare.picture = PREPARED
            self.prepare_ms = (time.perf_counter() - self._started) * 1000.0
        self.state = "ready"


#: How the lens is fitted to a frustum's four corners: off-axis (the view axis stays
#: the eye's +Y, the film is shifted) and free aspect ratio (the slice fills its
#: output). No roll, camera-plane, shear or keystone freedom: the image plane stays
#: the wall's plane, so slices that share an edge share it exactly.
FRUSTUM_FLAGS = Lens.FC_off_axis | Lens.FC_aspect_ratio


def lens_from_frustum(frustum: Frustum, near: float = 0.1, far: float = 2000.0
                      ) -> PerspectiveLens:
    """A lens at the eye whose image is exactly the frustum's rectangle.

    Args:
        frustum: the image rectangle's corners in eye space.
        near: near clipping distance (m).
        far: far clipping distance (m).

    Raises:
        RenderError: the distances are invalid or the corners give no frustum.
    """
    if not (0.0 < near < far and math.isfinite(far)):
        raise RenderError(f"invalid near/far planes {near!r}, {far!r}")
    lens = PerspectiveLens()
    corners = [LPoint3(*c) for c in (frustum.ul, frustum.ur, frustum.ll, frustum.lr)]
    lens.set_frustum_from_corners(*corners, FRUSTUM_FLAGS)
    lens.set_near_far(near, far)
    if not all(math.isfinite(v) and v != 0.0 for v in lens.get_film_size()) or \
            not all(math.isfinite(v) for v in lens.get_film_offset()):
        raise RenderError(f"frustum {frustum!r} does not define a lens")
    return lens
