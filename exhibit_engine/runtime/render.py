"""The renderer: one Panda3D output (offscreen buffer or window) drawing one scene at show time t.

No ShowBase, no tasks, no clock: :meth:`Renderer.render` takes the show time and draws
exactly one frame, so a frame is a pure function of (bundle, scene, state, t). The
camera sits at the eye (the rig's origin) and the lens is an exact off-axis slice of
the wall, set from a :class:`~exhibit_engine.wall.Frustum`; slices of one wall stitch
edge to edge.

PRC settings are loaded once per process (see :mod:`._gl`): ``load-display
p3headlessgl``, ``window-type offscreen`` and ``sync-video false`` when headless,
quiet ``notify-level``, ``audio-library-name null``, an empty ``model-cache-dir``.
Models load through our own content-addressed cache (:mod:`.cache`), never Panda3D's.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from panda3d.core import (Camera, GraphicsEngine, Lens, LPoint3, LVecBase2f, NodePath,
                          PerspectiveLens)
from PIL import Image

from ..errors import RenderError
from ..scenes.base import Scene, SceneContext
from ..scenes.registry import get_kind
from ..wall import Frustum, centered_frustum
from . import _gl
from .cache import ModelCache

if TYPE_CHECKING:
    from ..assets.bundle import Bundle

__all__ = ["Renderer", "render_to_png", "lens_from_frustum", "FRUSTUM_FLAGS"]

#: How the lens is fitted to a frustum's four corners: off-axis (the view axis stays
#: the eye's +Y, the film is shifted) and free aspect ratio (the slice fills its
#: output). No roll, camera-plane, shear or keystone freedom: the image plane stays
#: the wall's plane, so slices that share an edge share it exactly.
FRUSTUM_FLAGS = Lens.FC_off_axis | Lens.FC_aspect_ratio

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_MAX_SIDE = 16384


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


class Renderer:
    """Draws one scene into an offscreen buffer (p3headlessgl) or a window.

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
        rig: the camera rig; the camera sits at its origin looking along +Y. Scenes
            pose it (see :class:`~exhibit_engine.scenes.base.SceneContext`).

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
        self._scene: Scene | None = None
        self._scene_root: NodePath | None = None
        self._unchecked = False
        self._cache = cache
        self._cache_dir = cache_dir
        _gl.configure(headless=not window)
        self._pipe = _gl.make_pipe(headless=not window)
        self._engine = GraphicsEngine(self._pipe)
        self._output, self._texture = _gl.open_output(self._engine, self._pipe, self.size,
                                                      window=window, title=title,
                                                      origin=origin)
        self._output.set_clear_color_active(True)
        self._output.set_clear_color((0.0, 0.0, 0.0, 1.0))
        self._output.set_clear_depth_active(True)

        self._render = NodePath("render")
        self._render.set_shader_input("u_viewport", LVecBase2f(*self.size))
        self.rig = self._render.attach_new_node("rig")
        self._camera = Camera("camera")
        self._camera_np = self.rig.attach_new_node(self._camera)
        region = self._output.make_display_region()
        region.set_camera(self._camera_np)
        self.set_frustum(centered_frustum(self.size[0] / self.size[1]))

    # -- setup ------------------------------------------------------------------

    def set_frustum(self, frustum: Frustum, near: float = 0.1, far: float = 2000.0) -> None:
        """Aim the lens at a wall rectangle (eye space: +x right, +y forward, +z up).

        Args:
            frustum: the image rectangle's corners as seen from the eye.
            near: near clipping distance (m).
            far: far clipping distance (m).

        Raises:
            RenderError: the distances are invalid or the corners give no frustum.
        """
        self._camera.set_lens(lens_from_frustum(frustum, near, far))

    @property
    def lens(self) -> Lens:
        """The current lens (for tests and tools)."""
        return self._camera.get_lens()

    @property
    def cache(self) -> ModelCache:
        """The model cache scenes load through (made on first use)."""
        if self._cache is None:
            self._cache = (ModelCache(self._cache_dir) if self._cache_dir is not None
                           else ModelCache.default())
        return self._cache

    @property
    def scene_root(self) -> NodePath | None:
        """The current scene's root node, or ``None`` (for tests and tools)."""
        return self._scene_root

    def load(self, bundle: Bundle, scene_id: str) -> None:
        """Build one of a bundle's scenes, replacing the current one.

        Nothing is drawn here (a window keeps showing its last frame). The first
        :meth:`render` afterwards checks that every shader of the new scene compiled.

        Raises:
            SceneError: the bundle has no such scene, or its kind is unknown.
            AssetError, BundleError: an asset is unusable.
        """
        self._check_open()
        spec = bundle.scene(scene_id)
        cls = get_kind(spec.kind)
        self.unload()
        root = self._render.attach_new_node(f"scene:{spec.id}")
        self.rig.clear_transform()
        scene = cls(SceneContext(root=root, rig=self.rig, read_asset=bundle.read, spec=spec,
                                 load_model=self.cache.loader_for(bundle)))
        ok = False
        try:
            scene.build()
            ok = True
        finally:
            if ok:
                self._scene, self._scene_root = scene, root
                self._unchecked = True
            else:
                scene.dispose()
                root.remove_node()

    def unload(self) -> None:
        """Dispose of the current scene, if any; the output then draws black."""
        scene, root = self._scene, self._scene_root
        self._scene = self._scene_root = None
        self._unchecked = False
        if scene is not None:
            scene.dispose()
        if root is not None:
            root.remove_node()

    def _draw_checked(self) -> None:
        """Draw one frame; after a load, fail loudly if any shader did not compile."""
        if not self._unchecked:
            self._engine.render_frame()
            return
        with _gl.CapturedNotify() as log:
            self._engine.render_frame()
        self._unchecked = False
        root, scene = self._scene_root, self._scene
        if root is None or scene is None:
            return
        failed = sorted({np_.get_name() for np_, shader in _gl.iter_shaders(root)
                         if shader.get_error_flag()})
        if failed:
            self.unload()
            detail = " ".join(line.strip() for line in log.text.splitlines()
                              if "error" in line.lower())[:600]
            raise RenderError(f"scene {scene.ctx.spec.id!r}: shader on {', '.join(failed)} "
                              f"failed to compile: {detail or 'see the log'}")

    # -- drawing ----------------------------------------------------------------

    def render(self, t: float, state: Mapping[str, Any] = _EMPTY) -> None:
        """Draw one frame of the current scene at show time ``t``.

        Raises:
            RenderError: ``t`` is not finite, the renderer is closed, or (on the first
                frame after :meth:`load`) a shader of the scene failed to compile; the
                scene is unloaded then.
        """
        self._check_open()
        if not math.isfinite(t):
            raise RenderError(f"show time must be finite, not {t!r}")
        if self._scene is not None:
            self._scene.apply(float(t), state)
        self._draw_checked()

    def snapshot(self) -> Image.Image:
        """The last frame drawn, as an RGB image (top row first).

        Raises:
            RenderError: nothing has been drawn yet.
        """
        self._check_open()
        tex = self._texture
        if not tex.has_ram_image():
            raise RenderError("no frame has been rendered yet")
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
        """Dispose of the scene and release the output (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.unload()
        finally:
            self._engine.remove_all_windows()
            self._render.remove_node()

    def _check_open(self) -> None:
        if self._closed:
            raise RenderError("the renderer is closed")

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_to_png(bundle_path: str | os.PathLike[str], scene_id: str, t: float,
                  size: tuple[int, int], out_path: str | os.PathLike[str],
                  frustum: Frustum | None = None, cache: ModelCache | None = None) -> Path:
    """Render one frame of a bundle's scene offscreen and write it as a PNG, atomically.

    Args:
        bundle_path: the ``.exb`` bundle.
        scene_id: the scene to draw.
        t: show time in seconds.
        size: image size (width, height) in pixels.
        out_path: the PNG to write (via a temporary file and ``os.replace``).
        frustum: the lens frustum; by default a centred 60-degree view of the same aspect.
        cache: the model cache (default: the one at the default cache folder).

    Returns:
        The path written.

    Raises:
        ExhibitError: the bundle, scene or renderer failed (nothing is written then).
    """
    from ..assets.bundle import Bundle

    out = Path(out_path)
    with Bundle.open(bundle_path) as bundle, Renderer(size, cache=cache) as renderer:
        renderer.set_frustum(frustum or centered_frustum(size[0] / size[1]))
        renderer.load(bundle, scene_id)
        renderer.render(t)
        image = renderer.snapshot()
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # os.open with 0o666 honours the umask (mkstemp would leave the PNG 0600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            image.save(f, format="PNG")
        os.replace(tmp, out)
    except OSError as exc:
        raise RenderError(f"{out}: cannot write the PNG ({exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out
