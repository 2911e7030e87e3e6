"""``exhibit bench render``: the engine's frame against a bare Panda3D loop, per sample scene.

Every bundle source under ``content/*/bundle.toml`` (or the folders given) is packed into
a temporary folder, and every scene of every bundle is rendered offscreen at
``size`` (1280x720 by default). For each scene, in one renderer, on the same
GraphicsEngine, output and scene graph:

- ``engine_frame_ms``: :meth:`Renderer.render(t, state)
  <exhibit_engine.runtime.render.Renderer.render>`, i.e. the scene's ``apply`` (which
  recomputes every pose and shader input from ``t`` on every call) plus drawing;
- ``bare_frame_ms``: ``GraphicsEngine.render_frame()`` alone, the same scene graph left
  in its last pose: what Panda3D costs with none of our per-frame work. Both loops
  draw show time ``t``, so both draw the same pixels and the difference is our
  per-frame work only (a moving camera changes what llvmpipe rasterises by more
  than 10 % from frame to frame, which is content, not overhead);
- ``overhead_ratio`` = engine / bare (target: at most 1.10 for every scene).

Both are the mean frame time of a block of ``frames`` consecutive frames; blocks of the
two loops alternate ``repeat`` times and the medians are reported, so drift in the
machine's speed hits both alike. Headless outputs finish every frame before
``render_frame`` returns (``gl-finish``), so a frame time is the drawing, not the
queueing of commands. Frames are never read back to RAM.

``draw_calls``, ``triangles`` and ``points`` are counted from the scene graph (no PStats
server needed): one draw call per non-empty primitive of every visible Geom, per
instance, before view-frustum culling (an upper bound of one frame's draws), with
triangle strips and fans decomposed (see
:func:`~exhibit_engine.runtime.health.count_geometry`).

The JSON (``--json``) is the suites' flat document plus ``scenes``: a list of
``{"bundle", "scene", "engine_frame_ms", "bare_frame_ms", "overhead_ratio",
"draw_calls", "triangles", "points"}``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..assets.bundle import Bundle
from ..assets.pack import pack
from ..errors import ConfigError
from . import Progress, Report, Target

__all__ = ["OVERHEAD_TARGET", "RenderBenchOptions", "RenderReport", "run", "sample_sources"]

#: The most the engine's frame may cost over the bare loop's, for every sample scene.
OVERHEAD_TARGET = 1.10
_CONTENT = Path(__file__).resolve().parents[2] / "content"


def sample_sources(content: Path = _CONTENT) -> list[Path]:
    """Every bundle source folder under ``content`` (a folder with a ``bundle.toml``)."""
    return sorted(p.parent for p in content.glob("*/bundle.toml"))


@dataclass(frozen=True)
class RenderBenchOptions:
    """Settings of the render suite.

    Attributes:
        sources: bundle source folders to pack and render; empty means every sample
            under ``content/``.
        size: output size in pixels.
        frames: frames per timed block.
        repeat: timed blocks of each loop (alternating; medians).
        t: show time of the first frame.
        workdir: where the temporary bundles go (deleted afterwards).
    """

    sources: tuple[Path, ...] = ()
    size: tuple[int, int] = (1280, 720)
    frames: int = 8
    repeat: int = 5
    t: float = 20.0
    workdir: Path | None = None

    def check(self) -> None:
        """Raises ConfigError for a setting out of range."""
        w, h = self.size
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise ConfigError("<flags>", f"size must be 16..8192 pixels a side, not {w}x{h}")
        if not 1 <= self.frames <= 1000:
            raise ConfigError("<flags>", "frames must be 1..1000")
        if not 1 <= self.repeat <= 100:
            raise ConfigError("<flags>", "repeat must be 1..100")
        for src in self.sources:
            if not (Path(src) / "bundle.toml").is_file():
                raise ConfigError(str(src), "not a bundle source folder (no bundle.toml)")


@dataclass
class RenderReport(Report):
    """A :class:`~exhibit_engine.bench.Report` with one row of results per scene.

    Attributes:
        scenes: per scene: bundle, scene and the measured fields.
    """

    scenes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The flat document plus ``scenes`` (see the module docstring)."""
        doc = super().to_json()
        doc["scenes"] = self.scenes
        return doc


def _noop(stage: str, done: float, total: float) -> None:
    """A progress callback that shows nothing."""


def _block_ms(fn: Callable[[int], object], frames: int) -> float:
    t0 = time.perf_counter()
    for i in range(frames):
        fn(i)
    return (time.perf_counter() - t0) * 1e3 / frames


def _measure_scene(bundle: Bundle, scene_id: str, opts: RenderBenchOptions
                   ) -> dict[str, Any]:
    from ..runtime.render import Renderer

    with Renderer(opts.size) as renderer:
        renderer.load(bundle, scene_id)
        t0 = opts.t
        renderer.render(t0)                 # first frame: compiles and checks shaders
        renderer.render(t0)
        engine = renderer.graphics_engine

        def engine_frame(i: int) -> None:
            renderer.render(t0, {})

        def bare_frame(i: int) -> None:
            engine.render_frame()

        engine_ms, bare_ms = [], []
        for _ in range(opts.repeat):
            engine_ms.append(_block_ms(engine_frame, opts.frames))
            bare_ms.append(_block_ms(bare_frame, opts.frames))
        count = renderer.geometry()
    e, b = statistics.median(engine_ms), statistics.median(bare_ms)
    return {"engine_frame_ms": round(e, 3), "bare_frame_ms": round(b, 3),
            "overhead_ratio": round(e / b, 4), "draw_calls": count.draw_calls,
            "triangles": count.triangles, "points": count.points}


def run(opts: RenderBenchOptions = RenderBenchOptions(),
        progress: Progress | None = None) -> RenderReport:
    """Run the render suite.

    Args:
        opts: the settings.
        progress: called as scenes are measured (for a progress bar).

    Returns:
        The report: per-scene metrics and an ``overhead_ratio`` target on each.

    Raises:
        ConfigError: a setting is out of range, or there is nothing to render.
        ExhibitError: a bundle did not pack, or a scene did not build or draw.
    """
    opts.check()
    prog = progress or _noop
    sources: Sequence[Path] = opts.sources or tuple(sample_sources())
    if not sources:
        raise ConfigError(str(_CONTENT), "no bundle sources (content/*/bundle.toml) to render")
    w, h = opts.size
    report = RenderReport("render", params={"size": f"{w}x{h}", "frames": opts.frames,
                                            "repeat": opts.repeat, "t": opts.t,
                                            "sources": [Path(s).name for s in sources]})
    report.notes += [
        "engine = Renderer.render(t, state) (scene.apply + draw); bare = "
        "GraphicsEngine.render_frame() on the same output and scene graph",
        "frame times are means of blocks of consecutive frames; medians of alternating "
        "blocks",
        "draw calls, triangles and points are counted from the scene graph before "
        "view-frustum culling",
    ]
    with tempfile.TemporaryDirectory(prefix="exhibit-bench-render-", dir=opts.workdir) as tmp:
        bundles = []
        for i, src in enumerate(sources):
            prog("packing the sample bundles", i, len(sources))
            out = Path(tmp) / f"{Path(src).name}.exb"
            pack(src, out)
            bundles.append(out)
        prog("packing the sample bundles", len(sources), len(sources))
        jobs = []
        for path in bundles:
            with Bundle.open(path) as bundle:
                jobs += [(path, bundle.manifest.id, s.id) for s in bundle.manifest.scenes]
        for k, (path, bundle_id, scene_id) in enumerate(jobs):
            prog(f"rendering {bundle_id}/{scene_id}", k, len(jobs))
            with Bundle.open(path) as bundle:
                row = _measure_scene(bundle, scene_id, opts)
            report.scenes.append({"bundle": bundle_id, "scene": scene_id, **row})
            key = f"{bundle_id}/{scene_id}"
            report.add(f"{key}:engine_frame_ms", row["engine_frame_ms"], "ms",
                       f"{key}: engine frame")
            report.add(f"{key}:bare_frame_ms", row["bare_frame_ms"], "ms",
                       f"{key}: bare Panda3D frame")
            report.add(f"{key}:overhead_ratio", row["overhead_ratio"], "x",
                       f"{key}: engine / bare")
            report.add(f"{key}:draw_calls", row["draw_calls"], "", f"{key}: draw calls")
            report.add(f"{key}:triangles", row["triangles"], "", f"{key}: triangles")
            report.targets.append(Target(f"{key}:overhead_ratio", "<=", OVERHEAD_TARGET,
                                         True))
        prog("rendering", len(jobs), len(jobs))
    ratios = [s["overhead_ratio"] for s in report.scenes]
    report.add("max_overhead_ratio", max(ratios) if ratios else None, "x",
               "worst engine / bare")
    report.targets.append(Target("max_overhead_ratio", "<=", OVERHEAD_TARGET, bool(ratios)))
    report.params["scenes"] = len(report.scenes)
    return report
