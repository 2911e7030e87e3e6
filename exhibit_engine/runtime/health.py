"""What a projector node reports about how it draws: frame statistics and its GPU.

:class:`FrameStats` keeps a rolling window of frame times (pure: the caller passes the
times, so a test can step a fake clock). :func:`read_gpu` reads the renderer, driver and,
where the driver tells, the GPU's memory from a Panda3D GraphicsStateGuardian; it imports
no Panda3D itself (the GSG and the display information are passed in) and asks OpenGL
for memory only through an extension the driver lists, never guessing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from panda3d.core import NodePath

__all__ = ["DROPPED_FACTOR", "FrameStats", "GeometryCount", "GpuInfo", "WINDOW_S",
           "count_geometry", "read_gpu"]

#: A frame longer than this many frame budgets counts as dropped.
DROPPED_FACTOR = 1.5
#: The rolling window of :attr:`FrameStats.fps` and :attr:`FrameStats.worst_ms` (seconds).
WINDOW_S = 2.0


class FrameStats:
    """Frame rate, worst frame time and dropped frames of a render loop.

    A frame's time is the time between the ends of two frames drawn one after the other
    (so it includes the wait for the next frame's slot, and anything else that held the
    loop, such as a scene load). Call :meth:`frame` when each frame is done, and
    :meth:`gap` when the loop stops drawing on purpose (not synced yet): the next frame
    then starts afresh instead of counting the pause as one long frame.

    Args:
        budget_s: the frame budget (1 / the display's refresh rate, or the headless pace).
        window_s: the window of :attr:`fps` and :attr:`worst_ms`, seconds.

    Attributes:
        dropped: frames since the start longer than :data:`DROPPED_FACTOR` budgets.

    Raises:
        ValueError: a budget or window that is not a positive number.
    """

    def __init__(self, budget_s: float, window_s: float = WINDOW_S) -> None:
        if not budget_s > 0 or not window_s > 0:
            raise ValueError("the frame budget and the window must be positive")
        self.budget_s, self.window_s = float(budget_s), float(window_s)
        self.dropped = 0
        self._last: float | None = None
        self._frames: deque[tuple[float, float]] = deque()   # (end, duration)
        # A monotonic queue: durations that are the window's worst from their end on.
        self._worst: deque[tuple[float, float]] = deque()

    def frame(self, now: float) -> None:
        """A frame ended at ``now`` (seconds, any monotonic clock)."""
        last, self._last = self._last, now
        if last is None:
            return
        dt = max(0.0, now - last)
        if dt > DROPPED_FACTOR * self.budget_s:
            self.dropped += 1
        self._frames.append((now, dt))
        while self._worst and self._worst[-1][1] <= dt:
            self._worst.pop()
        self._worst.append((now, dt))
        start = now - self.window_s
        while self._frames and self._frames[0][0] <= start:
            self._frames.popleft()
        while self._worst[0][0] <= start:
            self._worst.popleft()

    def gap(self) -> None:
        """The loop paused on purpose: forget the window; the next frame starts afresh."""
        self._last = None
        self._frames.clear()
        self._worst.clear()

    @property
    def fps(self) -> float:
        """Frames per second over the window (0 before two frames)."""
        total = sum(dt for _, dt in self._frames)
        return len(self._frames) / total if total > 0 else 0.0

    @property
    def worst_ms(self) -> float:
        """The longest frame in the window, milliseconds (0 before two frames)."""
        return self._worst[0][1] * 1000.0 if self._worst else 0.0


@dataclass(frozen=True)
class GpuInfo:
    """The GPU and driver a renderer draws with.

    Attributes:
        renderer: the GL renderer, vendor and version strings joined by ``"; "``
            (e.g. ``"llvmpipe (LLVM 15.0.6, 256 bits); Mesa/X.org; OpenGL 4.5 ..."``).
        memory_mb: dedicated GPU memory, MiB (``GL_NVX_gpu_memory_info``); ``None``:
            the driver does not tell.
        free_mb: GPU memory free now, MiB (``GL_NVX_gpu_memory_info`` or
            ``GL_ATI_meminfo``); ``None``: the driver does not tell.
        refresh_hz: the display's refresh rate; ``None``: not known (offscreen, or the
            windowing system does not say).
    """

    renderer: str = ""
    memory_mb: float | None = None
    free_mb: float | None = None
    refresh_hz: float | None = None


_GL_RENDERER = 0x1F01
_NVX_DEDICATED_KB = 0x9047      # GL_GPU_MEMORY_INFO_DEDICATED_VIDMEM_NVX
_NVX_AVAILABLE_KB = 0x9049      # GL_GPU_MEMORY_INFO_CURRENT_AVAILABLE_VIDMEM_NVX
_ATI_TEXTURE_FREE_KB = 0x87FC   # GL_TEXTURE_FREE_MEMORY_ATI: [free, largest, aux, aux]


@functools.lru_cache(maxsize=1)
def _libgl() -> Any:
    """The process's libGL (the one Panda3D draws through), or ``None``."""
    name = ctypes.util.find_library("GL") or "libGL.so.1"
    try:
        lib = ctypes.CDLL(name)
        lib.glGetString.restype = ctypes.c_char_p
        lib.glGetString.argtypes = [ctypes.c_uint]
        lib.glGetIntegerv.restype = None
        lib.glGetIntegerv.argtypes = [ctypes.c_uint, ctypes.POINTER(ctypes.c_int)]
    except (OSError, AttributeError):
        return None
    return lib


def _memory_mb(gsg: Any) -> tuple[float | None, float | None]:
    """(dedicated, free) MiB from the GL extensions the driver lists, else ``None``s."""
    nvx, ati = gsg.has_extension("GL_NVX_gpu_memory_info"), gsg.has_extension("GL_ATI_meminfo")
    lib = _libgl() if nvx or ati else None
    if lib is None:
        return None, None
    # Only with this renderer's context current on this thread (after its frame).
    if (lib.glGetString(_GL_RENDERER) or b"").decode(errors="replace") != gsg.driver_renderer:
        return None, None
    values = (ctypes.c_int * 4)()
    if nvx:
        lib.glGetIntegerv(_NVX_DEDICATED_KB, values)
        total = values[0]
        lib.glGetIntegerv(_NVX_AVAILABLE_KB, values)
        return (total / 1024 if total > 0 else None), values[0] / 1024
    lib.glGetIntegerv(_ATI_TEXTURE_FREE_KB, values)
    return None, values[0] / 1024


def _refresh_hz(display: Any) -> float | None:
    try:
        index = display.get_current_display_mode_index()
        if 0 <= index < display.get_total_display_modes():
            hz = float(display.get_display_mode(index).refresh_rate)
            return hz if 1 <= hz <= 1000 else None
    except (AttributeError, TypeError, ValueError):
        pass
    return None


def read_gpu(gsg: Any, display: Any = None, *, memory: bool = True) -> GpuInfo:
    """What ``gsg`` (a Panda3D GraphicsStateGuardian) draws with.

    Call it from the render thread after a frame was drawn (the GL context is then
    current; otherwise the memory stays unknown).

    Args:
        gsg: the output's GraphicsStateGuardian (``None``: nothing known).
        display: the pipe's DisplayInformation, for the refresh rate (``None``: unknown).
        memory: also ask the driver for GPU memory.
    """
    if gsg is None:
        return GpuInfo(refresh_hz=_refresh_hz(display))
    parts = [str(gsg.driver_renderer), str(gsg.driver_vendor), str(gsg.driver_version)]
    if parts[2]:
        parts[2] = f"OpenGL {parts[2]}"
    total, free = _memory_mb(gsg) if memory else (None, None)
    return GpuInfo("; ".join(p for p in parts if p)[:256], total, free, _refresh_hz(display))


@dataclass(frozen=True)
class GeometryCount:
    """What a scene graph submits per frame, counted from the graph itself.

    One draw call per non-empty primitive of every Geom, per instance (a model
    instanced 20 times counts 20 times), for every node that is not hidden; before
    view-frustum culling, so an upper bound of what one frame draws.

    Attributes:
        draw_calls: primitives drawn (one glDraw* each).
        triangles: triangles (strips and fans decomposed).
        points: point sprites (e.g. snowflakes).
    """

    draw_calls: int = 0
    triangles: int = 0
    points: int = 0


def count_geometry(root: NodePath) -> GeometryCount:
    """Count the draw calls, triangles and points below ``root`` (see :class:`GeometryCount`)."""
    from panda3d.core import GeomPoints, GeomTriangles, GeomTrifans, GeomTristrips

    calls = tris = points = 0
    paths = list(root.find_all_matches("**/+GeomNode"))
    if root.node().is_geom_node():
        paths.append(root)
    for gnp in paths:
        if gnp.is_hidden() or gnp.is_stashed():
            continue
        for geom in gnp.node().get_geoms():
            for prim in geom.get_primitives():
                n = prim.get_num_primitives()
                if n == 0:
                    continue
                calls += 1
                if isinstance(prim, GeomPoints):
                    points += n
                elif isinstance(prim, (GeomTriangles, GeomTristrips, GeomTrifans)):
                    tris += prim.decompose().get_num_primitives()
    return GeometryCount(calls, tris, points)
