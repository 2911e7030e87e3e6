"""Private Panda3D plumbing for :mod:`.render`: PRC settings, outputs, shader checks.

No output copies its frame to RAM every frame: a projector never needs the pixels
back, and on llvmpipe a per-frame readback costs as much as a slice of the frame.
:func:`read_frame` reads the last frame on demand instead (``get_screenshot``, which
binds the output again without clearing it).
"""

from __future__ import annotations

from collections.abc import Iterator

from panda3d.core import (ConfigPage, FrameBufferProperties, GraphicsEngine, GraphicsOutput,
                          GraphicsPipe, GraphicsPipeSelection, NodePath, Notify, SamplerState,
                          Shader, ShaderAttrib, StringStream, Texture, WindowProperties,
                          loadPrcFileData, unloadPrcFile)

from ..errors import RenderError

__all__ = ["CapturedNotify", "PRC_COMMON", "PRC_HEADLESS", "PRC_WINDOW", "close_engine",
           "configure", "iter_shaders", "make_pipe", "open_layer_buffer", "open_output", "read_frame"]

#: Settings for every renderer: quiet logs (p3headlessgl's EGL_NOT_INITIALIZED and the
#: /dev/input warnings are harmless; a failed output still raises RenderError), no
#: audio, no model cache (bundles are the cache key; a stale cache served old glTF).
PRC_COMMON = """
notify-level warning
notify-level-display error
notify-level-egldisplay fatal
notify-level-device error
default-directnotify-level warning
audio-library-name null
model-cache-dir
model-cache-textures false
framebuffer-multisample false
multisamples 0
textures-power-2 none
"""

#: Offscreen rendering through EGL (Mesa llvmpipe without a GPU). ``gl-finish``: a
#: frame is finished when ``render_frame`` returns. Without it llvmpipe queues frame
#: after frame (nothing swaps or reads them back), so a headless node's frame pacing
#: and the render benchmark would time the queueing, not the drawing.
PRC_HEADLESS = """
load-display p3headlessgl
window-type offscreen
sync-video false
gl-finish true
"""

#: A real window on a projector: wait for vertical sync.
PRC_WINDOW = """
sync-video true
"""

_pages: dict[str, ConfigPage] = {}


def configure(headless: bool) -> None:
    """Load the PRC pages once per process; switching mode swaps the mode page."""
    if "common" not in _pages:
        _pages["common"] = loadPrcFileData("exhibit-engine", PRC_COMMON)
    mode, other = ("headless", "window") if headless else ("window", "headless")
    if mode not in _pages:
        if other in _pages:
            unloadPrcFile(_pages.pop(other))
        _pages[mode] = loadPrcFileData(f"exhibit-engine-{mode}",
                                       PRC_HEADLESS if headless else PRC_WINDOW)


def make_pipe(headless: bool) -> GraphicsPipe:
    """The p3headlessgl pipe, or the platform's OpenGL pipe for a window.

    Raises:
        RenderError: the display module could not be loaded.
    """
    selection = GraphicsPipeSelection.get_global_ptr()
    if headless:
        pipe = selection.make_module_pipe("p3headlessgl")
        hint = "is Mesa's EGL (libegl1, libgl1-mesa-dri) installed?"
    else:
        pipe = selection.make_module_pipe("pandagl") or selection.make_default_pipe()
        hint = "is there a display (DISPLAY / WAYLAND_DISPLAY)?"
    if pipe is None or not pipe.is_valid():
        kind = "offscreen (p3headlessgl)" if headless else "window"
        raise RenderError(f"cannot open a {kind} OpenGL pipe; {hint}")
    return pipe


def _frame_properties(window: bool = False, *, hdr: bool = False,
                      depth: bool = True) -> FrameBufferProperties:
    fb = FrameBufferProperties()
    if hdr:
        fb.set_rgba_bits(16, 16, 16, 16)
        fb.set_float_color(True)
    else:
        fb.set_rgba_bits(8, 8, 8, 8)
    if window:
        fb.set_back_buffers(1)  # single-buffered GL windows never reach the screen
    fb.set_depth_bits(24 if depth else 0)
    fb.set_multisamples(0)
    fb.set_force_hardware(True)
    return fb


def open_output(engine: GraphicsEngine, pipe: GraphicsPipe, size: tuple[int, int], *,
                window: bool, title: str, origin: tuple[int, int] | None = None
                ) -> GraphicsOutput:
    """An RGBA8 + depth output without multisampling (read back with :func:`read_frame`).

    Raises:
        RenderError: the buffer or window could not be opened.
    """
    fb = _frame_properties(window)
    props = WindowProperties.size(*size)
    if window:
        props.set_title(title)
        props.set_fixed_size(True)
        if origin is not None:
            props.set_origin(*origin)
    flags = GraphicsPipe.BF_require_window if window else GraphicsPipe.BF_refuse_window
    out = engine.make_output(pipe, "exhibit-engine", 0, fb, props, flags)
    if out is None:
        raise RenderError(f"cannot open a {size[0]}x{size[1]} "
                          f"{'window' if window else 'offscreen buffer'}")
    engine.open_windows()
    if not out.is_valid():
        engine.remove_window(out)
        raise RenderError("the graphics output opened but is not valid")
    gsg = out.get_gsg()
    if not gsg.get_supports_glsl() or (gsg.get_driver_shader_version_major(),
                                       gsg.get_driver_shader_version_minor()) < (3, 30):
        engine.remove_window(out)
        raise RenderError(f"OpenGL driver {gsg.get_driver_renderer()!r} lacks GLSL 3.30")
    return out


def open_layer_buffer(host: GraphicsOutput, name: str, size: tuple[int, int], sort: int,
                      *, hdr: bool = False, depth: bool = True
                      ) -> tuple[GraphicsOutput, Texture]:
    """An offscreen RGBA8 + depth buffer on ``host``'s GSG that renders into a texture.

    The texture stays in GPU memory (render-to-texture, never copied to RAM); the
    buffer is drawn before ``host`` when its ``sort`` is lower, cleared to black.
    ``hdr``: half-float RGBA instead (scene-linear light); ``depth``: with a depth buffer.

    Raises:
        RenderError: the buffer could not be made.
    """
    tex = Texture(name)
    tex.set_minfilter(SamplerState.FT_nearest)
    tex.set_magfilter(SamplerState.FT_nearest)
    tex.set_wrap_u(SamplerState.WM_clamp)
    tex.set_wrap_v(SamplerState.WM_clamp)
    buf = host.make_texture_buffer(name, size[0], size[1], tex, False,
                                   _frame_properties(hdr=hdr, depth=depth))
    if buf is not None:
        buf.get_engine().open_windows()     # a window's buffers open only when asked to
    if buf is None or not buf.is_valid():
        if buf is not None:
            buf.get_engine().remove_window(buf)
        raise RenderError(f"cannot open a {size[0]}x{size[1]} render-to-texture buffer")
    buf.set_sort(sort)
    buf.set_clear_color_active(True)
    buf.set_clear_color((0.0, 0.0, 0.0, 1.0))
    buf.set_clear_depth_active(depth)
    return buf, tex


# The GSGs of closed renderers, kept so that no later one is made at a freed one's address:
# Panda3D keys per-GSG state by address, and with two renderers alive a reused address
# had one draw into the other's context (black or foreign frames, after a few had closed).
# A closed renderer's memory stays the same with or without (3.7 MB each, EGL's).
_closed_gsgs: list[object] = []


def close_engine(engine: GraphicsEngine, output: GraphicsOutput) -> None:
    """Remove every window and buffer of ``engine``; keep its GSG object alive."""
    gsg = output.get_gsg()
    if gsg is not None:
        _closed_gsgs.append(gsg)
    engine.remove_all_windows()


def read_frame(output: GraphicsOutput) -> Texture | None:
    """The output's last frame, copied to RAM now (``None`` if that failed)."""
    return output.get_screenshot()


def iter_shaders(root: NodePath) -> Iterator[tuple[NodePath, Shader]]:
    """Every (node, shader) set on ``root`` or below it."""
    for np_ in [root, *root.find_all_matches("**")]:
        attrib = np_.get_state().get_attrib(ShaderAttrib)
        if attrib is not None and attrib.get_shader() is not None:
            yield np_, attrib.get_shader()


class CapturedNotify:
    """Collects Panda3D's log lines (e.g. a GLSL compile log) while the block runs."""

    def __init__(self) -> None:
        self._stream = StringStream()
        self._old = None
        self.text = ""

    def __enter__(self) -> CapturedNotify:
        self._old = Notify.ptr().get_ostream_ptr()
        Notify.ptr().set_ostream_ptr(self._stream, False)
        return self

    def __exit__(self, *exc: object) -> None:
        Notify.ptr().set_ostream_ptr(self._old, False)
        self.text = self._stream.get_data().decode("utf-8", "replace")
