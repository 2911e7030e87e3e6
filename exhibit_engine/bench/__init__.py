"""``exhibit bench``: benchmark suites an operator can run on venue hardware.

Each suite lives in its own module here and has one entry point,
``run(options, progress=None) -> Report``. It makes its own data (or measures what it
is given), measures a baseline in the same run on the same bytes, and reports ratios,
so a number means the same thing on a laptop and on a projector PC. Suites do no
printing: the CLI prints :meth:`Report.rows` as a table and writes
:meth:`Report.to_json` with ``--json``.

Suites, by name (:data:`SUITES`; add a module and a line here, then a CLI
subcommand under ``exhibit bench`` in :mod:`exhibit_engine.cli.bench`):

- ``bundle`` (:mod:`.bundle`): bundle validation against plain SHA-256, the peak memory
  of validation, and loading a model through the cache against converting it.
- ``render`` (:mod:`.render`): every sample scene's engine frame against a bare
  Panda3D loop on the same scene graph, with draw calls and triangles.
- ``scan`` (:mod:`.scan`): packing a synthetic 5-million-triangle textured scan
  against trimesh load + fast-simplification + GLB export, time and peak memory.
- ``show`` (:mod:`.show`): the sample show played through every cue change on one
  node: the longest frame near a change over the steady frame, with preloading and
  without it (the baseline).
- ``soak`` (:mod:`.soak`, ``exhibit soak``): a controller pair, render nodes and a kiosk
  for minutes or hours, with kills and injected jitter: desync, lost and repeated
  events, failover times, memory growth.
- ``sync`` (:mod:`.sync`): a controller and N sync-only node processes on 127.0.0.1:
  clock error, event delivery, late join, hung-node detection, controller CPU.
- ``transfer`` (:mod:`.transfer`): N nodes fetching a bundle from the controller at
  once against a raw loopback copy of the same bytes, their memory, and the sync figures
  beside the transfer against the same without it (and beside a CPU-only load: the
  floor).
- ``wall`` (:mod:`.wall`): the stitch test: a three-projector wall rendered as blended
  slices and composited in linear light, against one render of the whole wall.

The JSON a suite writes is flat: every metric's key at the top level (so scripts read
``report["validate_ratio"]``), plus ``suite``, ``units``, ``params``, ``targets`` (each
acceptance target, its threshold and whether it passed) and ``environment``.

Core layer: no Panda3D here; a suite that needs it imports ``exhibit_engine.runtime``
inside its ``run``.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from .. import __version__
from ..config.paths import write_atomic
from ..errors import ConfigError

__all__ = ["MB", "Metric", "Progress", "Report", "SUITES", "Target", "environment",
           "get_suite", "median_ms", "write_json"]

#: Suite name -> module (imported on first use).
SUITES: dict[str, str] = {
    "bundle": "exhibit_engine.bench.bundle",
    "console": "exhibit_engine.bench.console",
    "render": "exhibit_engine.bench.render",
    "scan": "exhibit_engine.bench.scan",
    "show": "exhibit_engine.bench.show",
    "soak": "exhibit_engine.bench.soak",
    "sync": "exhibit_engine.bench.sync",
    "transfer": "exhibit_engine.bench.transfer",
    "wall": "exhibit_engine.bench.wall",
}

#: Benchmarks count decimal megabytes (10**6 bytes), for throughput and memory alike.
MB = 1_000_000

#: Progress callback: (stage description, done, total); total 0 means "unknown".
Progress = Callable[[str, float, float], None]


def get_suite(name: str) -> ModuleType:
    """The module of one suite.

    Raises:
        ConfigError: no suite has that name.
    """
    if name not in SUITES:
        raise ConfigError("<flags>", f"no benchmark suite {name!r} "
                          f"(suites: {', '.join(sorted(SUITES))})")
    return importlib.import_module(SUITES[name])


@dataclass(frozen=True)
class Metric:
    """One measured number.

    Attributes:
        key: the JSON key (snake case, unit suffix, e.g. ``validate_mb_s``).
        value: the number, or ``None`` when it could not be measured here.
        unit: its unit, for the table (``MB/s``, ``ms``, ``x``).
        label: what it is, in a few words.
    """

    key: str
    value: float | None
    unit: str
    label: str


@dataclass(frozen=True)
class Target:
    """An acceptance target on one metric.

    Attributes:
        key: the metric it applies to.
        op: ``">="`` or ``"<="``.
        threshold: the bound.
        applies: whether this run's data is large enough for the target to apply
            (e.g. a bundle of at least 200 MB); a target that does not apply neither
            passes nor fails.
        why: when it applies, in a few words.
    """

    key: str
    op: str
    threshold: float
    applies: bool
    why: str = ""

    def check(self, value: float | None) -> bool | None:
        """True or False when the target applies and the value exists, else None."""
        if not self.applies or value is None or not math.isfinite(value):
            return None
        return value >= self.threshold if self.op == ">=" else value <= self.threshold


@dataclass
class Report:
    """What a suite measured.

    Attributes:
        suite: the suite's name.
        metrics: the numbers, in table order.
        targets: acceptance targets on some of them.
        params: the run's settings and facts about its data (sizes, counts).
        notes: remarks for the reader (e.g. how a number was measured).
    """

    suite: str
    metrics: list[Metric] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, value: float | None, unit: str, label: str) -> None:
        """Append a metric (floats are rounded to 4 significant digits)."""
        if isinstance(value, float) and math.isfinite(value):
            value = float(f"{value:.4g}")
        self.metrics.append(Metric(key, value, unit, label))

    def value(self, key: str) -> float | int | None:
        """A metric's value by key (``None`` if absent)."""
        return next((m.value for m in self.metrics if m.key == key), None)

    def target_results(self) -> dict[str, bool | None]:
        """Each target's result by metric key: True, False or None (does not apply)."""
        return {t.key: t.check(self.value(t.key)) for t in self.targets}

    @property
    def passed(self) -> bool:
        """No applicable target failed."""
        return all(r is not False for r in self.target_results().values())

    def rows(self) -> list[tuple[str, str, str, str]]:
        """Table rows: (label, value, unit, target and verdict)."""
        targets = {t.key: t for t in self.targets}
        out = []
        for m in self.metrics:
            value = "n/a" if m.value is None else (
                f"{m.value:,}" if isinstance(m.value, int)
                else f"{m.value:,.0f}" if abs(m.value) >= 1e4     # 12,670, not 1.267e+04
                else f"{m.value:,.4g}")
            verdict = ""
            t = targets.get(m.key)
            if t is not None:
                ok = t.check(m.value)
                state = {True: "pass", False: "FAIL", None: "n/a"}[ok]
                verdict = f"{t.op} {t.threshold:g}: {state}"
                if ok is None and t.why:
                    verdict += f" ({t.why})"
            out.append((m.label, value, m.unit, verdict))
        return out

    def to_json(self) -> dict[str, Any]:
        """The flat JSON document (see the module docstring)."""
        doc: dict[str, Any] = {"suite": self.suite}
        doc.update({m.key: m.value for m in self.metrics})
        doc["units"] = {m.key: m.unit for m in self.metrics}
        doc["targets"] = {t.key: {"op": t.op, "threshold": t.threshold, "applies": t.applies,
                                  "passed": t.check(self.value(t.key)), "why": t.why}
                          for t in self.targets}
        doc["passed"] = self.passed
        doc["params"] = self.params
        doc["notes"] = self.notes
        doc["environment"] = environment()
        return doc


def environment() -> dict[str, Any]:
    """Where the numbers come from: machine, Python and library versions."""
    versions = {}
    for dist in ("numpy", "panda3d", "panda3d-gltf", "pillow"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "exhibit_engine": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    """The median wall time of ``repeat`` calls of ``fn``, in milliseconds."""
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def write_json(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write a report's JSON atomically (:func:`~exhibit_engine.config.paths.write_atomic`:
    a temporary file, then ``os.replace``; missing folders are made).

    Raises:
        ConfigError: the path cannot be a file (under a file, a device...).
        ExhibitError: the file cannot be written.
    """
    text = json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
    return write_atomic(path, text.encode("utf-8"), parents=True)
