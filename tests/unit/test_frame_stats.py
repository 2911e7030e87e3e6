"""FrameStats: a node's frame rate, worst frame time and dropped frames, on a fake clock;
and read_gpu on a fake GraphicsStateGuardian."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from exhibit_engine.runtime.health import DROPPED_FACTOR, FrameStats, GpuInfo, read_gpu


def run(stats: FrameStats, start: float, times: list[float], *, first: bool = True) -> float:
    """Frames ending ``times`` seconds apart after one at ``start`` (drawn here if
    ``first``, else the last one already noted); return the last end."""
    t = start
    if first:
        stats.frame(t)
    for dt in times:
        t += dt
        stats.frame(t)
    return t


def test_nothing_is_known_before_two_frames() -> None:
    stats = FrameStats(1 / 30)
    assert (stats.fps, stats.worst_ms, stats.dropped) == (0.0, 0.0, 0)
    stats.frame(10.0)
    assert (stats.fps, stats.worst_ms, stats.dropped) == (0.0, 0.0, 0)


def test_a_steady_pace_is_its_rate_with_nothing_dropped() -> None:
    stats = FrameStats(1 / 30)
    run(stats, 100.0, [1 / 30] * 90)
    assert stats.fps == pytest.approx(30.0)
    assert stats.worst_ms == pytest.approx(1000 / 30)
    assert stats.dropped == 0


def test_a_frame_over_one_and_a_half_budgets_is_dropped() -> None:
    budget = 0.125                     # binary fractions: the sums below are exact
    stats = FrameStats(budget, window_s=10.0)
    run(stats, 0.0, [budget, DROPPED_FACTOR * budget, 2 * budget, budget, 1.0, budget])
    assert stats.dropped == 2          # exactly 1.5 budgets is still on time
    assert stats.worst_ms == pytest.approx(1000.0)


def test_the_worst_frame_leaves_the_window_but_dropped_frames_stay_counted() -> None:
    stats = FrameStats(1 / 60, window_s=2.0)
    t = run(stats, 0.0, [1 / 60] * 10 + [0.5] + [1 / 60] * 10)
    assert stats.worst_ms == pytest.approx(500.0) and stats.dropped == 1
    t = run(stats, t, [1 / 60] * 99, first=False)              # 1.83 s after the slow one: still in
    assert stats.worst_ms == pytest.approx(500.0)
    run(stats, t, [1 / 60] * 20, first=False)                  # 2.17 s: it has left the window
    assert stats.worst_ms == pytest.approx(1000 / 60)
    assert stats.fps == pytest.approx(60.0)
    assert stats.dropped == 1


def test_the_rate_follows_a_slow_down_within_the_window() -> None:
    stats = FrameStats(1 / 60)
    t = run(stats, 0.0, [1 / 60] * 240)
    run(stats, t, [1 / 20] * 60, first=False)                  # 3 s at 20 fps: the window is all slow
    assert stats.fps == pytest.approx(20.0)
    assert stats.dropped == 60
    # The worst of equal frames is that frame time (the monotonic queue keeps the latest).
    assert stats.worst_ms == pytest.approx(50.0)


def test_a_gap_is_no_frame_at_all() -> None:
    stats = FrameStats(1 / 30)
    t = run(stats, 0.0, [1 / 30] * 30)
    stats.gap()                                   # not synced: nothing drawn for 5 s
    assert (stats.fps, stats.worst_ms) == (0.0, 0.0)
    run(stats, t + 5.0, [1 / 30] * 3)
    assert stats.dropped == 0 and stats.fps == pytest.approx(30.0)


def test_a_clock_that_goes_back_counts_a_zero_frame() -> None:
    stats = FrameStats(1 / 30)
    run(stats, 5.0, [-1.0, 1 / 30])
    assert stats.worst_ms == pytest.approx(1000 / 30) and stats.dropped == 0


@pytest.mark.parametrize("budget, window", [(0.0, 2.0), (-1.0, 2.0), (0.01, 0.0),
                                            (float("nan"), 2.0)])
def test_bad_parameters(budget: float, window: float) -> None:
    with pytest.raises(ValueError):
        FrameStats(budget, window)


class FakeGsg:
    driver_renderer = "llvmpipe (LLVM 15.0.6, 256 bits)"
    driver_vendor = "Mesa/X.org"
    driver_version = "4.5 (Compatibility Profile) Mesa 22.3.6"

    def has_extension(self, name: str) -> bool:
        return False


class FakeMode:
    refresh_rate = 59.94


class FakeDisplay:
    def __init__(self, index: int) -> None:
        self.index = index

    def get_current_display_mode_index(self) -> int:
        return self.index

    def get_total_display_modes(self) -> int:
        return 1

    def get_display_mode(self, i: int) -> Any:
        return FakeMode()


def test_read_gpu_names_the_renderer_and_never_guesses_memory() -> None:
    info = read_gpu(FakeGsg(), FakeDisplay(0))
    assert info.renderer == ("llvmpipe (LLVM 15.0.6, 256 bits); Mesa/X.org; "
                             "OpenGL 4.5 (Compatibility Profile) Mesa 22.3.6")
    assert (info.memory_mb, info.free_mb) == (None, None)   # no memory extension listed
    assert info.refresh_hz == pytest.approx(59.94)
    assert read_gpu(FakeGsg(), FakeDisplay(-1)).refresh_hz is None  # offscreen: no mode
    assert read_gpu(None) == GpuInfo()


def test_health_imports_no_panda3d() -> None:
    code = ("import sys, exhibit_engine.runtime.health\n"
            "assert 'panda3d' not in sys.modules and 'zmq' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0


class FakeGL:
    """Stands in for libGL: ``glGetIntegerv`` answers from ``values`` (KiB)."""

    def __init__(self, renderer: bytes, values: dict[int, int]) -> None:
        self.renderer, self.values, self.asked = renderer, values, []

    def glGetString(self, name: int) -> bytes:
        return self.renderer

    def glGetIntegerv(self, name: int, out: Any) -> None:
        self.asked.append(name)
        out[0] = self.values[name]


class ExtGsg(FakeGsg):
    def __init__(self, *extensions: str) -> None:
        self.extensions = extensions

    def has_extension(self, name: str) -> bool:
        return name in self.extensions


@pytest.mark.parametrize("extension, values, expected", [
    ("GL_NVX_gpu_memory_info", {0x9047: 80 * 1024 * 1024, 0x9049: 60 * 1024 * 1024},
     (81920.0, 61440.0)),
    ("GL_ATI_meminfo", {0x87FC: 2 * 1024 * 1024}, (None, 2048.0)),
])
def test_gpu_memory_comes_from_the_extension_the_driver_lists(
        monkeypatch: pytest.MonkeyPatch, extension: str, values: dict[int, int],
        expected: tuple[float | None, float | None]) -> None:
    from exhibit_engine.runtime import health

    gl = FakeGL(FakeGsg.driver_renderer.encode(), values)
    monkeypatch.setattr(health, "_libgl", lambda: gl)
    info = read_gpu(ExtGsg(extension))
    assert (info.memory_mb, info.free_mb) == expected
    assert read_gpu(ExtGsg(extension), memory=False).memory_mb is None
    # Another context current on this thread (or none): nothing is asked, nothing known.
    gl.renderer, gl.asked = b"", []
    assert (read_gpu(ExtGsg(extension)).free_mb, gl.asked) == (None, [])
    # No memory extension listed: the driver is never asked.
    assert (read_gpu(ExtGsg()).memory_mb, gl.asked) == (None, [])
