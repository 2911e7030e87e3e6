"""The renderer: one Panda3D output (offscreen buffer or window) drawing the show at time t.

It draws one scene, or during a transition between cues the blend of two
(:mod:`.transitions`); a wall display's blend, black level and warp, and a blackout's
``dim``, are applied by one final pass (:mod:`.output`). No ShowBase, no tasks, no
clock: :meth:`Renderer.render` takes the show time and draws exactly one frame, so a
frame is a pure function of (bundle, scene, state, t). The camera sits at the eye (the
rig's origin) and the lens is an exact off-axis slice of the wall, set from a
:class:`~exhibit_engine.wall.frustum.Frustum`; slices of one wall stitch edge to edge.

PRC settings are loaded once per process (see :mod:`._gl`): ``load-display
p3headlessgl``, ``window-type offscreen`` and ``sync-video false`` when headless,
quiet ``notify-level``, ``audio-library-name null``, an empty ``model-cache-dir``.
Models load through our own content-addressed cache (:mod:`.cache`), never Panda3D's.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from panda3d.core import GraphicsEngine, GraphicsOutput, Lens, NodePath
from PIL import Image

from ..config.paths import check_output_path, write_atomic
from ..errors import RenderError
from ..scenes.base import Scene, SceneContext, shader_scope
from ..scenes.registry import get_kind
from ..wall.frustum import Frustum, LodView, WallRaster, centered_frustum, frustum_lod
from . import _gl
from ._layers import FRUSTUM_FLAGS, Layer, Preloader, lens_from_frustum
from .cache import ModelCache
from .health import GeometryCount, GpuInfo, count_geometry, read_gpu
from .output import OutputCorrection, OutputPass
from .transitions import Transition

if TYPE_CHECKING:
    from ..assets.bundle import Bundle

__all__ = ["FRUSTUM_FLAGS", "Renderer", "lens_from_frustum", "render_to_png"]

_renderers = itertools.count(1)     # each renderer's number in this process

_EMPTY: Mapping[str, Any] = MappingProxyType({})
#: Draw order of the scene slots' offscreen buffers, by slot name (all before the output).
_SLOT_SORT = {"outgoing": 0, "current": 1, "spare": 2}
_MAX_SIDE = 16384


class Renderer:
    """Draws a scene, or a transition between two, into an offscreen buffer or a window.

    The renderer holds up to two scenes: the *current* one, and during a transition
    the *outgoing* one (see :mod:`.transitions`). Each has its own scene graph and
    camera rig; both share the lens.

    Args:
        size: output size (width, height) in pixels.
        window: open a real window instead of an offscreen buffer.
        title: the window title.
        origin: where the window's top-left corner goes on the desktop (pixels);
            ``None`` lets the window manager choose.
        cache: the model cache scenes load through; by default one at ``cache_dir``.
        cache_dir: the folder of the default cache (default:
            :func:`~exhibit_engine.runtime.cache.default_cache_dir`, i.e.
            ``$EXHIBIT_CACHE_DIR`` or the XDG cache folder). Nothing is written there
            until a model is first loaded.

    Attributes:
        size: the output size (width, height).
        window: whether the output is a window.

    Raises:
        RenderError: the size is invalid or no output could be opened.
    """

    def __init__(self, size: tuple[int, int], *, window: bool = False,
                 title: str = "Exhibit Engine", origin: tuple[int, int] | None = None,
                 cache: ModelCache | None = None,
                 cache_dir: str | os.PathLike[str] | None = None) -> None:
        if (len(size) != 2 or not all(isinstance(v, int) and 1 <= v <= _MAX_SIDE
                                      for v in size)):
            raise RenderError(f"invalid output size {size!r} (1..{_MAX_SIDE} pixels a side)")
        self.size = (int(size[0]), int(size[1]))
        self.window = window
        self._closed = False
        self._frames = 0
        #: Scenes built by :meth:`load` / :meth:`load_outgoing` (not preloaded: a swap
        #: of a preloaded scene builds nothing and does not count).
        self.builds = 0
        self._cache = cache
        self._cache_dir = cache_dir
        _gl.configure(headless=not window)
        self._pipe = _gl.make_pipe(headless=not window)
        self._engine = GraphicsEngine(self._pipe)
        self._shader_scope = next(_renderers)     # its scenes' shaders: see shader_scope
        self._output = _gl.open_output(self._engine, self._pipe, self.size, window=window,
                                       title=title, origin=origin)
        self._output.set_clear_color_active(True)
        self._output.set_clear_color((0.0, 0.0, 0.0, 1.0))
        self._output.set_clear_depth_active(True)

        self._current = Layer("current", self.size)
        self._outgoing = Layer("outgoing", self.size)
        self._pass: OutputPass | None = None
        self._correction: OutputCorrection | None = None
        self._pass_unchecked = False
        self._region = self._output.make_display_region()
        self._region.set_camera(self._current.camera_np)
        self._preload = Preloader(Layer("spare", self.size), self._build_into,
                                  self._open_buffer, self._output, self._region,
                                  direct=lambda: self._correction is None)
        #: Refresh one scene per frame during a transition, alternately, instead of both
        #: (see :meth:`_draw_final`); off: every frame draws both (tests, captures).
        self.amortize = False
        self.set_frustum(centered_frustum(self.size[0] / self.size[1]))

    # -- setup ------------------------------------------------------------------

    def set_frustum(self, frustum: Frustum, near: float = 0.1, far: float = 2000.0) -> None:
        """Aim the lens at a wall rectangle (eye space: +x right, +y forward, +z up).

        Both scenes of a transition are seen through the same lens.

        Args:
            frustum: the image rectangle's corners as seen from the eye.
            near: near clipping distance (m).
            far: far clipping distance (m).

        Raises:
            RenderError: the distances are invalid or the corners give no frustum.
        """
        lens_from_frustum(frustum, near, far)                   # raises for a bad one
        for layer in (self._current, self._outgoing, self._preload.spare):
            layer.frustum, layer.near_far = frustum, (near, far)
        self.set_lod(frustum_lod(frustum, self.size))     # a venue's node sets its own

    def set_lod(self, view: LodView) -> None:
        """Choose levels of detail at the venue's scale (:func:`~exhibit_engine.wall.
        frustum.venue_lod`) instead of this output's own, so that every projector of
        the wall picks the same level, and blurs and guards its post stage by the same
        pixels. The scale applies to scenes loaded from now on (and to post stages at
        once), the wall-pixel grid of a fade at once."""
        self.lod = view
        for layer in (self._current, self._outgoing, self._preload.spare):
            layer.lod = view
            layer.aim()

    def set_wall_grid(self, raster: WallRaster | None, *, guard: bool = True) -> None:
        """Draw scenes with screen effects on the flat wall's pixel grid (:func:`~exhibit_
        engine.wall.frustum.wall_raster`: the same rasterisation as every other slice,
        bit for bit), or through this output's own lens (``None``). ``guard``: False
        draws no guard band (a benchmark's control: slices then differ near their edges).
        """
        for layer in (self._current, self._outgoing, self._preload.spare):
            layer.raster, layer.guard = raster, bool(guard)
            layer.aim()

    def set_output(self, correction: OutputCorrection | None) -> None:
        """Set the display's final-pass correction (blend, black level, warp).

        ``None`` or an identity correction removes it: frames are then drawn straight to
        the output, pixel for pixel as without a wall (unless :meth:`render` dims them).

        Raises:
            RenderError: the correction is for another output size.
        """
        self._check_open()
        if correction is not None and correction.size != self.size:
            raise RenderError(f"the output correction is for {correction.size[0]}x"
                              f"{correction.size[1]} pixels, the output is "
                              f"{self.size[0]}x{self.size[1]}")
        self._correction = None if correction is None or correction.identity else correction
        if self._pass is not None:
            self._pass.set_correction(self._correction)

    @property
    def output_correction(self) -> OutputCorrection | None:
        """The final pass's correction, or ``None`` (see :meth:`set_output`)."""
        return self._correction

    @property
    def output(self) -> GraphicsOutput:
        """The window or buffer drawn into, for overlays with display regions of their own
        (the kiosk's pages); a region sorted below 0 draws before the scene, above after."""
        return self._output

    def set_viewport(self, left: float = 0.0, right: float = 1.0, bottom: float = 0.0,
                     top: float = 1.0) -> None:
        """Draw the scene into this part of the output only (fractions, 0 = left/bottom),
        with a lens of that part's aspect ratio; the default is the whole output.

        Raises:
            RenderError: the rectangle is empty or outside the output.
        """
        if not (0.0 <= left < right <= 1.0 and 0.0 <= bottom < top <= 1.0):
            raise RenderError(f"invalid viewport {(left, right, bottom, top)!r}")
        self._region.set_dimensions(left, right, bottom, top)
        w, h = (right - left) * self.size[0], (top - bottom) * self.size[1]
        self.set_frustum(centered_frustum(w / h))

    @property
    def lens(self) -> Lens:
        """The current lens (for tests and tools)."""
        return self._current.camera.get_lens()

    @property
    def rig(self) -> NodePath:
        """The current scene's camera rig; the camera sits at its origin looking along +Y.

        Scenes pose it (see :class:`~exhibit_engine.scenes.base.SceneContext`).
        """
        return self._current.rig

    @property
    def cache(self) -> ModelCache:
        """The model cache scenes load through (made on first use)."""
        if self._cache is None:
            self._cache = (ModelCache(self._cache_dir) if self._cache_dir is not None
                           else ModelCache.default())
        return self._cache

    @property
    def current_scene(self) -> Scene | None:
        """The current scene object, or ``None`` (for tests and tools that measure it)."""
        return self._current.scene

    @property
    def scene_root(self) -> NodePath | None:
        """The current scene's root node, or ``None`` (for tests and tools)."""
        return self._current.root

    @property
    def outgoing_root(self) -> NodePath | None:
        """The outgoing scene's root node, or ``None`` (for tests and tools)."""
        return self._outgoing.root

    @property
    def graphics_engine(self) -> GraphicsEngine:
        """The Panda3D engine that draws the output (for benchmarks and tools)."""
        return self._engine

    def gpu(self, *, memory: bool = True) -> GpuInfo:
        """The GPU and driver the output draws with (:func:`.health.read_gpu`): call it
        after a frame was drawn; ``memory``: also ask the driver for GPU memory."""
        self._check_open()
        return read_gpu(self._output.get_gsg(), self._pipe.get_display_information(),
                        memory=memory)

    def geometry(self) -> GeometryCount:
        """What the current scene's graph submits per frame (see :class:`GeometryCount`)."""
        return count_geometry(self._current.render)

    def load(self, bundle: Bundle, scene_id: str) -> None:
        """Build one of a bundle's scenes as the current one, replacing the current one.

        A scene preloaded (:meth:`preload`) is swapped in instead of being built (built
        now if its build has not run yet). The outgoing scene, if any, stays.
        Nothing is drawn here (a window keeps showing its last frame). The first
        :meth:`render` that draws the new scene checks that every shader of it compiled.

        Raises:
            SceneError: the bundle has no such scene, or its kind is unknown.
            AssetError, BundleError: an asset is unusable.
        """
        self._current = self._load_into(self._current, bundle, scene_id)

    def load_outgoing(self, bundle: Bundle, scene_id: str) -> None:
        """Build a scene as the outgoing one (a node that joins during a transition).

        Raises:
            SceneError, AssetError, BundleError: as :meth:`load`.
        """
        self._outgoing = self._load_into(self._outgoing, bundle, scene_id)

    def _load_into(self, slot: Layer, bundle: Bundle, scene_id: str) -> Layer:
        """The slot that holds the scene now: the preloaded one, swapped for ``slot``, or
        ``slot`` with the scene built into it."""
        self._check_open()
        taken = self._preload.take(bundle, scene_id, slot)
        if taken is not None:
            return taken
        self._build(slot, bundle, scene_id)
        return slot

    def preload(self, bundle: Bundle, scene_id: str) -> None:
        """Start building a scene ahead of time, so that a later :meth:`load` of it only
        swaps it in (see :mod:`._layers`): at most one is preloaded, beside the current and
        the outgoing scene; asking for another replaces it. Call :meth:`step_preload`
        once per frame to carry it on. A build that fails raises at that :meth:`load`."""
        self._check_open()
        self._preload.request(bundle, scene_id)

    def step_preload(self) -> None:
        """Carry a preload on by one step (once per frame, after :meth:`render`)."""
        self._check_open()
        self._preload.step()

    @property
    def preloader(self) -> Preloader:
        """The preload slot (its state, and how long its build and prepare frame took)."""
        return self._preload

    def retire(self) -> None:
        """Make the current scene the outgoing one, as a transition begins.

        The scene keeps its graph and rig (nothing is rebuilt); the previous outgoing
        scene is disposed of, and there is no current scene until the next :meth:`load`.
        """
        self._check_open()
        self._outgoing.unload()
        self._current, self._outgoing = self._outgoing, self._current

    def unload_outgoing(self) -> None:
        """Dispose of the outgoing scene, if any (the transition is over)."""
        self._outgoing.unload()
        self._outgoing.set_drawn(False)

    def unload(self) -> None:
        """Dispose of both scenes, if any, and of a preloaded one; the output then draws
        black."""
        try:
            self._current.unload()
        finally:
            try:
                self.unload_outgoing()
            finally:
                self._preload.discard()

    def _build(self, layer: Layer, bundle: Bundle, scene_id: str) -> None:
        self._check_open()
        self.builds += 1
        self._build_into(layer, bundle, scene_id)

    def _build_into(self, layer: Layer, bundle: Bundle, scene_id: str) -> None:
        spec = bundle.scene(scene_id)
        cls = get_kind(spec.kind)
        layer.unload()
        root = layer.render.attach_new_node(f"scene:{spec.id}")
        layer.rig.clear_transform()
        scene = cls(SceneContext(root=root, rig=layer.rig, read_asset=bundle.read, spec=spec,
                                 load_model=self.cache.loader_for(bundle), lod=self.lod))
        ok = False
        try:
            with shader_scope(self._shader_scope):     # this renderer's shaders, reused
                scene.build()
            ok = True
        finally:
            if ok:
                layer.scene, layer.root = scene, root
                layer.unchecked = True
                layer.aim()                     # its post stage's guard band, if any
            else:
                try:
                    scene.dispose()
                finally:
                    root.remove_node()

    # -- drawing ----------------------------------------------------------------

    def render(self, t: float, state: Mapping[str, Any] = _EMPTY,
               transition: Transition | None = None, *, dim: float = 1.0) -> None:
        """Draw one frame at show time ``t``: the current scene, or a transition.

        Args:
            t: the current scene's local time (s).
            state: show state for the current scene.
            transition: the outgoing side of a running transition (its kind, weight,
                time and state); ``None``, a cut, or no outgoing scene draws the
                current scene alone.
            dim: what the final image is multiplied by, 0..1 (``1 - blackout level``);
                0 draws black without drawing the scenes.

        Raises:
            RenderError: ``t`` or ``dim`` is out of range, the renderer is closed, or
                (on the first frame that draws a scene after its load) a shader of the
                scene failed to compile; that scene is unloaded then.
        """
        self._check_open()
        if not math.isfinite(t):
            raise RenderError(f"show time must be finite, not {t!r}")
        if not (math.isfinite(dim) and 0.0 <= dim <= 1.0):
            raise RenderError(f"dim must be in [0, 1], not {dim!r}")
        cur, out = self._current, self._outgoing
        g_out, g_in = (0.0, 1.0) if transition is None or out.scene is None \
            else transition.gains
        if dim == 0.0:
            g_out = g_in = 0.0              # blacked out: draw nothing at all
        # a scene with screen effects always draws through its post stage
        final = (dim < 1.0 or self._correction is not None or (g_in > 0.0 and cur.has_post)
                 or (g_out > 0.0 and out.has_post))
        if g_in > 0.0 and cur.scene is not None:
            cur.scene.apply(float(t), state)
        if g_out > 0.0 and out.scene is not None and transition is not None:
            out.scene.apply(float(transition.t), transition.state)
        if g_out == 0.0 and g_in == 1.0 and not final:
            drawn = [cur]
            self._draw_direct(cur)
        elif g_in == 0.0 and g_out == 1.0 and not final:
            drawn = [out]
            self._draw_direct(out)
        elif g_in == 0.0 and g_out == 0.0 and (self._correction is None
                                               or self._correction.black is None):
            drawn = []
            self._draw_direct(None)         # the midpoint of a fade: the cleared output
        else:
            drawn = [layer for layer, g in ((out, g_out), (cur, g_in)) if g > 0.0]
            self._draw_final(g_out, g_in, dim)
        self._draw_checked(drawn)

    def _draw_direct(self, layer: Layer | None) -> None:
        """Draw one layer (or nothing) straight to the output: no texture, no blend."""
        for each in (self._current, self._outgoing):
            each.set_drawn(False)
            each.picture = None         # its texture no longer holds its latest frame
        self._region.set_active(layer is not None)
        if layer is not None and self._region.get_camera() != layer.camera_np:
            self._region.set_camera(layer.camera_np)

    def _draw_final(self, g_out: float, g_in: float, dim: float) -> None:
        """Draw the layers with a gain into textures, and the final pass to the output."""
        if self._pass is None:
            self._pass = OutputPass()
            self._pass.set_correction(self._correction)
            self._pass_unchecked = True
        textures = []
        pair = ((self._outgoing, g_out), (self._current, g_in))
        redraw = {layer.name: gain > 0.0 for layer, gain in pair}
        if self.amortize and g_out > 0.0 and g_in > 0.0 and any(
                layer.picture is not None for layer, _ in pair):
            # A side holds a picture of its scene (drawn by a recent frame, or its prepare
            # pass): refresh the other only (or, when both do, the older), so a transition
            # costs one scene per frame, not two (each side moves at half the frame rate
            # while it lasts).
            older = min(pair, key=lambda lg: -math.inf if lg[0].picture is None
                        else lg[0].picture)[0]
            redraw = {layer.name: layer is older for layer, _ in pair}
        for layer, gain in pair:
            if gain > 0.0:
                self._open_buffer(layer)
            layer.set_drawn(redraw[layer.name])
            if redraw[layer.name]:
                layer.picture = self._frames
            textures.append(layer.texture if gain > 0.0 else None)
        tex_out, tex_in = textures
        # a layer with gain 0 is not drawn: the pass binds the drawn texture twice
        # (times 0), or black when neither is (a blacked-out wall keeps its black level)
        self._pass.bind(tex_out, tex_in, (g_out, g_in), self.size, dim)
        self._region.set_active(True)
        if self._region.get_camera() != self._pass.camera:
            self._region.set_camera(self._pass.camera)

    def _open_buffer(self, layer: Layer) -> None:
        """Give a layer its render-to-texture buffer (or post stage) at the output's size."""
        # each slot its own sorts, below the output's (buffers drawn in a fixed order)
        layer.open_buffer(self._output, self._output.get_sort() - 40
                          + 8 * _SLOT_SORT.get(layer.name, 3))

    def _draw_checked(self, drawn: list[Layer]) -> None:
        """Draw one frame; fail loudly if a shader drawn for the first time did not compile."""
        fresh = [layer for layer in drawn if layer.unchecked and layer.scene is not None]
        check_pass, self._pass_unchecked = self._pass_unchecked, False
        if not fresh and not check_pass:
            self._engine.render_frame()
            self._frames += 1
            return
        with _gl.CapturedNotify() as log:
            self._engine.render_frame()
        self._frames += 1
        for layer in fresh:
            layer.unchecked = False
            if layer.post is not None and layer.post.shader_failed:  # pragma: no cover
                raise RenderError(f"the post stage's shader failed to compile: {log.text}")
            root, scene = layer.root, layer.scene
            if root is None or scene is None:
                continue
            failed = sorted({np_.get_name() for np_, shader in _gl.iter_shaders(root)
                             if shader.get_error_flag()})
            if failed:
                layer.unload()
                detail = " ".join(line.strip() for line in log.text.splitlines()
                                  if "error" in line.lower())[:600]
                raise RenderError(f"scene {scene.ctx.spec.id!r}: shader on "
                                  f"{', '.join(failed)} failed to compile: "
                                  f"{detail or 'see the log'}")
        if self._pass is not None and self._pass.shader_failed:
            raise RenderError("the final output shader failed to compile: "
                              f"{log.text.strip()[:600] or 'see the log'}")

    def snapshot(self) -> Image.Image:
        """The last frame drawn, as an RGB image (top row first).

        The frame is read back from the output now; frames are never copied to RAM
        unless asked for. With several renderers alive in one process, read each frame
        before another renderer draws: on llvmpipe's EGL the read-back can otherwise
        return the other renderer's later frame (seen after an earlier renderer closed).

        Raises:
            RenderError: nothing has been drawn yet, or the read-back failed.
        """
        self._check_open()
        if self._frames == 0:
            raise RenderError("no frame has been rendered yet")
        tex = _gl.read_frame(self._output)
        if tex is None or not tex.has_ram_image():
            raise RenderError("cannot read the frame back from the output")
        w, h = tex.get_x_size(), tex.get_y_size()
        data = bytes(tex.get_ram_image_as("RGB"))
        img = Image.frombytes("RGB", (w, h), data).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        if (w, h) != self.size:
            img = img.crop((0, 0, *self.size))
        return img

    # -- lifetime ---------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran or the user closed the window."""
        if self._closed:
            return True
        out = self._output
        if not out.is_valid() or (self.window and (out.is_closed()
                                                   or not out.get_properties().get_open())):
            return True
        return False

    def close(self) -> None:
        """Dispose of the scenes and release the output (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.unload()
        finally:
            _gl.close_engine(self._engine, self._output)
            for layer in (self._current, self._outgoing, self._preload.spare):
                layer.forget_buffers()
                layer.render.remove_node()
            if self._pass is not None:
                self._pass.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RenderError("the renderer is closed")

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_to_png(bundle_path: str | os.PathLike[str], scene_id: str, t: float,
                  size: tuple[int, int], out_path: str | os.PathLike[str],
                  frustum: Frustum | None = None, cache: ModelCache | None = None,
                  output: OutputCorrection | None = None, lod: LodView | None = None,
                  raster: WallRaster | None = None) -> Path:
    """Render one frame of a bundle's scene offscreen and write it as a PNG, atomically.

    Args:
        bundle_path: the ``.exb`` bundle.
        scene_id: the scene to draw.
        t: show time in seconds.
        size: image size (width, height) in pixels.
        out_path: the PNG to write (via a temporary file and ``os.replace``).
        frustum: the lens frustum; by default a centred 60-degree view of the same aspect.
        cache: the model cache (default: the one at the default cache folder).
        output: a display's blend/warp correction, to write the frame as that projector
            sends it (default: none, the plain image).
        lod: the venue's level-of-detail view, for a display's slice (default: this
            image's own pixels).
        raster: the wall grid the slice is drawn on (default: none, its own lens).

    Returns:
        The path written.

    Raises:
        ExhibitError: the bundle, scene or renderer failed (nothing is written then).
    """
    from ..assets.bundle import Bundle

    out = check_output_path(out_path) if Path(out_path).parent.exists() else Path(out_path)
    with Bundle.open(bundle_path) as bundle, Renderer(size, cache=cache) as renderer:
        renderer.set_frustum(frustum or centered_frustum(size[0] / size[1]))
        if lod is not None:
            renderer.set_lod(lod)
        renderer.set_wall_grid(raster)
        renderer.set_output(output)
        renderer.load(bundle, scene_id)
        renderer.render(t)
        image = renderer.snapshot()
    write_atomic(out, lambda f: image.save(f, format="PNG"), parents=True,
                 min_free=size[0] * size[1] * 4 + 65536)
    return out
