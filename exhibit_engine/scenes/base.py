"""What every scene kind shares: its context, the :class:`Scene` contract, GLB and GLSL loading.

A scene is built once from its bundle's assets, then posed for each frame by
:meth:`Scene.apply`, a pure function of show time and show state: no clocks, no
unseeded randomness, nothing carried from one frame to the next. That is what lets
every projector node draw the same frame for the same ``t``.

GLB assets are converted in memory with panda3d-gltf by :func:`load_glb`. Nothing is
read from disk and Panda3D's own model cache is never used: the bytes come verified from
the bundle, and a GLB that points at anything outside itself (an external or ``../``
URI) is refused before conversion. Scenes load models through
:attr:`SceneContext.load_model`; the runtime points it at its content-addressed cache
(:mod:`exhibit_engine.runtime.cache`), and without one it converts with :func:`load_glb`.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from panda3d.core import (GeomVertexArrayFormat, GeomVertexData, GeomVertexFormat, InternalName,
                          NodePath, Shader, TextureAttrib)

from ..assets.gltf import check_gltf, converter_document, split_glb
from ..errors import AssetError
from ..wall.frustum import LodView
from ._materials import prepare_materials

if TYPE_CHECKING:
    from ..assets.manifest import SceneSpec

__all__ = ["Scene", "SceneContext", "ScreenEffects", "current_scope", "load_glb", "make_shader",
           "shader_scope", "shader_source"]

_SHADER_DIR = Path(__file__).resolve().parent / "shaders"
_GLSL_VERSION = "#version 330\n"
# Shader.make caches by source text (ignoring comments) and keeps every Shader it made
# for the life of the process, and one Shader object drawn by two GSGs (two renderers in
# one process) draws with the other GSG's matrices. So each renderer builds its scenes
# inside shader_scope(its own number), and a #define of that number makes its shaders
# its own: a scene built again reuses the Shader (and the compiled program) of the last
# build instead of leaking a new one per cue change. Outside any scope every call gets a
# serial of its own, as a shader nobody else may share. Neither changes a pixel.
_serial = itertools.count(1)
_scope: contextvars.ContextVar[int | None] = contextvars.ContextVar("shader_scope",
                                                                   default=None)


def current_scope() -> int | None:
    """The renderer whose scene is being built (see :func:`shader_scope`), if any."""
    return _scope.get()


@contextlib.contextmanager
def shader_scope(scope: int) -> Iterator[None]:
    """Within the block, :func:`make_shader` returns one Shader per source for ``scope``
    (a renderer's number): the same object each build."""
    token = _scope.set(scope)
    try:
        yield
    finally:
        _scope.reset(token)


@dataclass(frozen=True)
class SceneContext:
    """Everything a scene may touch.

    Attributes:
        root: the scene's parent node; the scene attaches everything it draws below it.
        rig: the camera rig. The eye sits at the rig's origin looking along its +Y (+Z
            up); the wall is a window in front of it. The scene poses the rig in
            :meth:`Scene.apply`. The runtime also sets the shader input ``u_viewport``
            (output size in pixels, vec2) above ``root``.
        read_asset: returns the verified bytes of one bundle file.
        spec: the scene's entry in the bundle manifest.
        load_model: returns a new, unparented model for one bundle GLB (by path). The
            runtime passes its cached loader; by default every call converts
            ``read_asset(path)`` with :func:`load_glb`. Raises AssetError or
            BundleError like :func:`load_glb` and ``read_asset``.
        lod: the view's scale for choosing levels of detail (:mod:`._lod`), the same on
            every node of a venue; scale 0 (the default) draws every model in full.
    """

    root: NodePath
    rig: NodePath
    read_asset: Callable[[str], bytes]
    spec: SceneSpec
    load_model: Callable[[str], NodePath] = None  # type: ignore[assignment]
    lod: LodView = LodView(0.0)

    def __post_init__(self) -> None:
        if self.load_model is None:
            read = self.read_asset
            object.__setattr__(self, "load_model", lambda path: load_glb(read(path), path))


@dataclass(frozen=True)
class ScreenEffects:
    """What a scene's picture needs once it is drawn: the runtime's post stage
    (:mod:`exhibit_engine.runtime.post`) and its guard band.

    Sizes are tangents of the view angle (a size on the image plane at unit distance)
    unless they say pixels: the runtime turns them into pixels at the venue's scale
    (:attr:`~exhibit_engine.wall.frustum.LodView.scale`), so every projector of a wall
    blurs and reaches by the same wall pixels.

    Attributes:
        hdr: the scene's shaders write scene-linear light (with ``u_fade`` applied, not
            tone-mapped) into a half-float buffer; the post stage tone-maps it (the ACES
            fit, then gamma 2.2). False: they write display-ready colour, as without
            a post stage.
        bloom: how much of the bloom is added to the picture, in linear light (0: none).
        bloom_threshold: the scene-linear luminance above which light blooms.
        bloom_radius: where the bloom's Gaussian kernel is cut (3 sigma).
        sprite_px: the largest point-sprite radius in pixels (GL drops a point whose
            centre falls outside the image, so a flake near a slice's edge needs its
            neighbour's pixels drawn too).
        refraction: the largest offset of a screen-space lookup.
    """

    hdr: bool = False
    bloom: float = 0.0
    bloom_threshold: float = 1.0
    bloom_radius: float = 0.0
    sprite_px: float = 0.0
    refraction: float = 0.0

    def bloom_px(self, scale: float) -> float:
        """The bloom kernel's reach in pixels at ``scale`` (0 without bloom)."""
        return self.bloom_radius * scale if self.bloom > 0.0 else 0.0

    def reach_px(self, scale: float) -> float:
        """How far, in pixels, any effect reads or spreads beyond a pixel."""
        return max(self.bloom_px(scale), self.sprite_px, self.refraction * scale)


class Scene(ABC):
    """One scene kind's implementation.

    Subclasses set :attr:`kind` and implement :meth:`build` and :meth:`apply`.

    Args:
        ctx: where the scene lives and what it may read.
    """

    #: The manifest's ``kind`` this class draws.
    kind: ClassVar[str]

    def __init__(self, ctx: SceneContext) -> None:
        self.ctx = ctx

    @abstractmethod
    def build(self) -> None:
        """Load assets and build the scene graph below ``ctx.root``.

        Raises:
            SceneError: the scene's parameters are wrong.
            AssetError: an asset is unusable.
            BundleError: an asset could not be read from the bundle.
        """

    @abstractmethod
    def apply(self, t: float, state: Mapping[str, Any]) -> None:
        """Pose the scene and the camera rig for show time ``t``.

        A pure function of ``t`` and ``state``: calling it twice with the same arguments,
        in any order, in any process, gives the same picture.

        Args:
            t: show time in seconds (the cue's local time).
            state: show state (e.g. ``fade`` in [0, 1]); unknown keys are ignored.
        """

    def screen_effects(self) -> ScreenEffects | None:
        """What the picture needs after drawing (known once :meth:`build` ran); ``None``
        (the default): nothing, the scene is drawn straight to the output."""
        return None

    def dispose(self) -> None:
        """Release what :meth:`build` made (the default removes everything below root)."""
        self.ctx.root.node().remove_all_children()


# --------------------------------------------------------------------------- GLB


def load_glb(data: bytes, name: str) -> NodePath:
    """Convert a self-contained GLB (bytes) into a Panda3D node, in memory.

    Args:
        data: the GLB file's bytes (already verified against the bundle manifest).
        name: the asset's name, used in errors and as the model's name.

    Returns:
        A new, unparented NodePath holding the model (Z-up, metres).

    Raises:
        AssetError: not a GLB, an external (non-``data:``) URI anywhere, an unsafe
            embedded image, or a file panda3d-gltf cannot convert.
    """
    from gltf._converter import Converter, GltfSettings

    doc, binary = split_glb(data, name)
    check_gltf(doc, binary, name)
    doc = converter_document(doc, binary)
    buffers = doc.get("buffers", [])
    if binary is not None:
        if not buffers or not isinstance(buffers[0], dict) or "uri" in buffers[0]:
            raise AssetError(name, "GLB has a BIN chunk but buffers[0] does not refer to it")
        buffers[0] = {**buffers[0], "uri": "_glb_bin", "_glb_bin": binary}
    try:
        conv = Converter(f"/{name}", settings=GltfSettings(skip_animations=False))
        conv.update(doc)
        node = conv.active_scene.node()
    except (RuntimeError, KeyError, IndexError, TypeError, ValueError, AttributeError,
            AssertionError, struct.error) as exc:
        raise AssetError(name, f"cannot convert GLB ({type(exc).__name__}: {exc})") from None
    node.set_name(Path(name).stem)
    model = NodePath(node)
    _expose_uv0(model)
    prepare_materials(model, doc, conv.mat_states, conv.textures)
    return model


def _rename_column(vdata: GeomVertexData, old: InternalName, new: InternalName
                   ) -> GeomVertexData:
    """The same vertex data with one column renamed (same layout, bytes copied)."""
    fmt = vdata.get_format()
    out = GeomVertexFormat()
    for i in range(fmt.get_num_arrays()):
        src = fmt.get_array(i)
        arr = GeomVertexArrayFormat()
        for col in src.get_columns():
            arr.add_column(new if col.get_name() == old else col.get_name(),
                           col.get_num_components(), col.get_numeric_type(),
                           col.get_contents(), col.get_start())
        arr.set_stride(src.get_stride())
        out.add_array(arr)
    if fmt.get_animation().get_animation_type() != fmt.get_animation().AT_none:
        out.set_animation(fmt.get_animation())
    data = GeomVertexData(vdata.get_name(), GeomVertexFormat.register_format(out),
                          vdata.get_usage_hint())
    data.unclean_set_num_rows(vdata.get_num_rows())
    for i in range(fmt.get_num_arrays()):
        data.modify_array_handle(i).copy_data_from(vdata.get_array_handle(i))
    return data


def _expose_uv0(model: NodePath) -> None:
    """Let GLSL read an untextured primitive's UV set 0 as ``p3d_MultiTexCoord0``.

    panda3d-gltf names UV set 0 ``texcoord.0``; Panda3D binds ``p3d_MultiTexCoord0`` to
    the first texture stage's UV set, or to the default ``texcoord`` column when there
    is no texture. Textured primitives keep their names (their stages refer to them).
    """
    uv0, default = InternalName.get_texcoord_name("0"), InternalName.get_texcoord()
    for gnp in model.find_all_matches("**/+GeomNode"):
        gnode = gnp.node()
        for i in range(gnode.get_num_geoms()):
            tex = gnode.get_geom_state(i).get_attrib(TextureAttrib)
            if tex is not None and tex.get_num_on_stages() > 0:
                continue
            fmt = gnode.get_geom(i).get_vertex_data().get_format()
            if fmt.has_column(uv0) and not fmt.has_column(default):
                geom = gnode.modify_geom(i)
                geom.set_vertex_data(_rename_column(geom.get_vertex_data(), uv0, default))


# --------------------------------------------------------------------------- GLSL


def shader_source(name: str) -> str:
    """The text of one file in ``scenes/shaders/``.

    Raises:
        AssetError: no such shader file.
    """
    path = _SHADER_DIR / name
    if path.parent != _SHADER_DIR or not path.is_file():
        raise AssetError(f"shaders/{name}", "no such shader file")
    return path.read_text(encoding="utf-8")


def make_shader(vertex: str, fragment: str, *, common: str | None = "common.glsl") -> Shader:
    """A GLSL 330 shader from two files in ``scenes/shaders/``.

    Each source gets ``#version 330`` and then ``common`` (shared helpers) prepended;
    the files themselves carry neither. Within :func:`shader_scope` the same sources
    give the same Shader object; outside, every call a new one (see ``_serial``). Compilation happens on first draw; the runtime
    checks every shader then and raises :class:`~exhibit_engine.errors.RenderError`
    if one failed.

    Args:
        vertex: vertex shader file name.
        fragment: fragment shader file name.
        common: a helpers file prepended to both, or ``None``.
    """
    scope = _scope.get()
    tag = (f"EE_SHADER_SCOPE {scope}" if scope is not None
           else f"EE_SHADER_SERIAL {next(_serial)}")
    head = (_GLSL_VERSION + f"#define {tag}\n"
            + (shader_source(common) if common else ""))
    shader = Shader.make(Shader.SL_GLSL, head + shader_source(vertex),
                         head + shader_source(fragment))
    if shader is None:
        raise AssetError(f"shaders/{vertex}", "Panda3D refused the shader source")
    return shader
