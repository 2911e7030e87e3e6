"""``exhibit bench console``: the operator's console under load must not disturb the show.

A controller (in this process, as ``exhibit controller --http`` runs it) with its console
on 127.0.0.1, and N sync-only node processes (:mod:`._sync_proc`: a 60 Hz loop that draws
nothing and notes when each event arrives and on which show time it applies). Two windows
of ``seconds`` each:

1. **Baseline**: the show runs, nobody uses the console.
2. **Load**: ``rps`` HTTP requests a second (reading the show, nodes and cues) and
   ``streams`` open event streams, while an operator presses GO once a second through
   ``POST /api/go``.

Figures (all processes share CLOCK_MONOTONIC):

- ``heartbeat_interval_p99_ms``: p99 of the intervals between the controller's heartbeats
  during the load (timed where the controller publishes them), and
  ``heartbeat_interval_ratio``: that over the same p99 in the baseline window. The HTTP
  side runs on threads of its own; the ratio says how much it still costs the sync loop.
- ``http_go_to_nodes_p99_ms``: a GO's HTTP answer received -> the last node received its
  cue event (negative when the nodes had it first: the event is published before the
  answer goes out).
- ``sse_lag_p99_ms``: an event or state change published by the controller -> received
  on an open event stream, over every stream.
- ``events_applied_same_show_time``: fraction of the GOs' cue events that every node
  applied with the same ``effective_at``, on its first frame at or after it.
- ``http_rps`` (requests answered a second), ``http_errors`` and ``http_p99_ms``.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import Progress, Report
from ._sync_proc import FRAME_S
from .sync import _p99, _Procs, _Required

__all__ = ["ConsoleBenchOptions", "run"]

_HOST = "127.0.0.1"
_GO_EVERY_S = 1.0


@dataclass(frozen=True)
class ConsoleBenchOptions:
    """What ``exhibit bench console`` runs.

    Attributes:
        seconds: the length of each window (baseline and load).
        rps: HTTP requests a second during the load.
        streams: event streams open during the load.
        nodes: sync-only node processes.
    """

    seconds: float = 20.0
    rps: float = 200.0
    streams: int = 50
    nodes: int = 3

    def check(self) -> None:
        """Raises ConfigError for a setting out of range."""
        for key, value, lo, hi in (("--seconds", self.seconds, 1.0, 3600.0),
                                   ("--rps", self.rps, 1.0, 5000.0),
                                   ("--streams", self.streams, 0, 256),
                                   ("--nodes", self.nodes, 1, 32)):
            if not lo <= value <= hi:
                raise ConfigError("<flags>", f"must be from {lo:g} to {hi:g}", key=key)


def _noop(stage: str, done: float, total: float) -> None:
    """A progress callback that shows nothing."""


def run(options: ConsoleBenchOptions, progress: Progress | None = None) -> Report:
    """Run the suite (see the module docstring).

    Raises:
        ConfigError: a setting is out of range, or the processes could not be started.
    """
    options.check()
    progress = progress or _noop
    with tempfile.TemporaryDirectory(prefix="exhibit-bench-console-") as tmp:
        work = Path(tmp)
        procs = _Procs(work)
        try:
            return _run(options, work, procs, progress)
        finally:
            procs.close()


class _Marks:
    """What the controller's loop publishes, timed as it publishes it (its listener)."""

    def __init__(self) -> None:
        self.beats: list[float] = []
        self.published: dict[tuple[str, int], float] = {}
        self.lock = threading.Lock()

    def __call__(self, message: Any) -> None:
        from ..sync.protocol import Event, Heartbeat, KeyUpdate

        now = time.monotonic()
        with self.lock:
            if isinstance(message, Heartbeat):
                self.beats.append(now)
            elif isinstance(message, Event):
                self.published.setdefault(("event", message.seq), now)
            elif isinstance(message, KeyUpdate):
                self.published.setdefault(("state", message.seq), now)

    def intervals_ms(self, t0: float, t1: float) -> list[float]:
        with self.lock:
            beats = [b for b in self.beats if t0 <= b <= t1]
        return [(b - a) * 1e3 for a, b in zip(beats, beats[1:], strict=False)]


def _controller() -> tuple[Any, threading.Event, threading.Thread, Any]:
    from ..config import (
        ControllerSettings,
        CueConfig,
        DisplayConfig,
        NetworkConfig,
        ShowConfig,
        VenueConfig,
        WallConfig,
    )
    from ..console.api import create_app
    from ..console.hub import Hub
    from ..console.server import ConsoleServer
    from ..sync.controller import ControllerServer

    venue = VenueConfig("bench", "Bench", WallConfig(1.0, 1.0, (0.5, 0.5, 1.0)),
                        (DisplayConfig("a", (64, 64), (0.0, 0.0, 1.0, 1.0)),), NetworkConfig())
    cues = tuple(CueConfig(f"c{i}", "b", "s", 3600.0) for i in range(4))
    show = ShowConfig("bench", {"en": "Bench"}, (), cues, loop=True)
    server = ControllerServer(ControllerSettings(venue, show, _HOST, 0, 0))
    server.bind()
    stop = threading.Event()
    thread = threading.Thread(target=server.serve, args=(stop,), daemon=True,
                              name="bench-controller")
    thread.start()
    hub = Hub(server.request, server.listen, show=show)
    console = ConsoleServer(create_app(hub, None, venue=venue), _HOST, 0, hub=hub)
    console.start()
    return server, stop, thread, console


def _run(options: ConsoleBenchOptions, work: Path, procs: _Procs,
         progress: Progress) -> Report:
    import httpx

    server, stop, thread, console = _controller()
    marks = _Marks()
    server.listen(marks)
    report = Report("console")
    try:
        ids = [f"n{i:03d}" for i in range(options.nodes)]
        nodes = [procs.start(i, "node", i, _HOST, str(server.state_port),
                             str(server.publish_port), "0", str(work / f"{i}.json"))
                 for i in ids]
        with httpx.Client(base_url=console.url, timeout=5.0) as http:
            deadline = time.monotonic() + 30.0 + 0.5 * options.nodes
            while True:
                rows = http.get("/api/nodes").json().get("nodes", [])
                ready = sum(1 for r in rows if r.get("role") == "projector"
                            and r.get("state") == "joined" and r["extra"].get("synced"))
                progress("starting nodes", ready, options.nodes)
                if ready >= options.nodes:
                    break
                if time.monotonic() > deadline:
                    raise ConfigError("<bench>", f"only {ready} of {options.nodes} nodes "
                                      "joined in time")
                time.sleep(0.05)
        progress("baseline", 0, options.seconds)
        b0 = time.monotonic()
        _wait(options.seconds, lambda done: progress("baseline", done, options.seconds))
        b1 = time.monotonic()
        load = _load_process(console.url, options, work, progress)
        l0, l1 = load["t0"], load["t1"]
        load["sse"] = [((k, int(seq)), at) for (k, seq), at in load["sse"]]
        load["gos"] = {int(k): v for k, v in load["gos"].items()}
        time.sleep(1.0)                          # the last GO applies on every node
    finally:
        procs.close()
        console.stop()
        stop.set()
        thread.join(timeout=10.0)
    results = [json.loads((work / f"{i}.json").read_text(encoding="utf-8"))
               for i in ids if (work / f"{i}.json").is_file()]
    base = marks.intervals_ms(b0, b1)
    loaded = marks.intervals_ms(l0, l1)
    base_p99, load_p99 = _p99(base), _p99(loaded)
    go_lags, same = [], 0
    for seq, answered in load["gos"].items():
        key = str(seq)
        recv = [r["received"].get(key) for r in results]
        if len(results) == len(ids) and all(v is not None for v in recv):
            go_lags.append((max(recv) - answered) * 1e3)
        applied = [r["applied"].get(key) for r in results]
        if (len(results) == len(ids) and all(a is not None for a in applied)
                and len({a[0] for a in applied}) == 1
                and all(a[1] >= a[0] and (a[2] is None or a[2] < a[0]) for a in applied)):
            same += 1
    with marks.lock:
        lags = [(at - marks.published[k]) * 1e3 for k, at in load["sse"]
                if k in marks.published]
    answered = load["answered"]
    report.params.update(seconds=options.seconds, rps=options.rps, streams=options.streams,
                         nodes=options.nodes, nodes_reported=len(results),
                         gos=len(load["gos"]), beats_base=len(base) + 1,
                         beats_load=len(loaded) + 1, sse_events=len(lags),
                         frame_s=FRAME_S)
    report.add("heartbeat_interval_p99_ms", load_p99, "ms",
               "heartbeat interval p99 under load")
    report.add("heartbeat_interval_base_p99_ms", base_p99, "ms",
               "heartbeat interval p99 without load")
    report.add("heartbeat_interval_ratio",
               load_p99 / base_p99 if load_p99 and base_p99 else None, "x",
               "heartbeat p99: load over baseline")
    report.add("http_go_to_nodes_p99_ms", _p99(go_lags), "ms",
               "HTTP GO answered -> every node has it, p99")
    report.add("sse_lag_p99_ms", _p99(lags), "ms", "published -> on an event stream, p99")
    report.add("events_applied_same_show_time", same / len(load["gos"]) if load["gos"]
               else None, "", "GO cue events applied on the same show time")
    report.add("http_rps", answered / (l1 - l0) if l1 > l0 else None, "req/s",
               "HTTP requests answered a second")
    report.add("http_p99_ms", _p99(load["latencies"]), "ms", "HTTP request p99")
    report.add("http_errors", load["errors"], "", "HTTP requests failed")
    report.targets += [
        _Required("heartbeat_interval_ratio", "<=", 1.10, True),
        _Required("events_applied_same_show_time", ">=", 1.0, True),
    ]
    if load["errors"]:
        report.notes.append(f"{load['errors']} HTTP requests failed: {load['last_error']}")
    return report


def _wait(seconds: float, tick: Any) -> None:
    start = time.monotonic()
    pause = threading.Event()
    while (done := time.monotonic() - start) < seconds:
        tick(done)
        pause.wait(min(0.25, seconds - done))


def _load_process(url: str, options: ConsoleBenchOptions, work: Path,
                  progress: Progress) -> dict[str, Any]:
    """Run the load in a process of its own (as browsers are on machines of their own):
    the controller's process then pays only for serving it."""
    import subprocess
    import sys

    out = work / "load.json"
    args = json.dumps({"url": url, "seconds": options.seconds, "rps": options.rps,
                       "streams": options.streams, "out": str(out)})
    with open(work / "load.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-m", "exhibit_engine.bench.console", args],
                                stdout=subprocess.DEVNULL, stderr=log)
    start = time.monotonic()
    limit = options.seconds + 60.0
    try:
        while proc.poll() is None:
            done = time.monotonic() - start
            if done > limit:
                raise ConfigError("<bench>", "the load process did not finish")
            progress("load", min(done, options.seconds), options.seconds)
            try:
                proc.wait(0.25)
            except subprocess.TimeoutExpired:
                pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or not out.is_file():
        tail = (work / "load.log").read_text(errors="replace").strip().splitlines()[-1:]
        raise ConfigError("<bench>", f"the load process failed: {tail}")
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def _load_main(argv: list[str]) -> int:
    """The load process: ``python -m exhibit_engine.bench.console JSON``."""
    spec = json.loads(argv[0])
    options = ConsoleBenchOptions(seconds=spec["seconds"], rps=spec["rps"],
                                  streams=spec["streams"])
    out = asyncio.run(_load(spec["url"], options, _noop))
    out["sse"] = [[list(k), at] for k, at in out["sse"]]
    out["gos"] = {str(k): v for k, v in out["gos"].items()}
    Path(spec["out"]).write_text(json.dumps(out), encoding="utf-8")
    return 0


async def _load(url: str, options: ConsoleBenchOptions, progress: Progress,
                ) -> dict[str, Any]:
    """The load window: requests at ``rps``, ``streams`` open streams, a GO a second."""
    import httpx

    out: dict[str, Any] = {"gos": {}, "sse": [], "latencies": [], "answered": 0,
                           "errors": 0, "last_error": ""}
    limits = httpx.Limits(max_connections=options.streams + 64,
                          max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=5.0, limits=limits) as http:
        done = asyncio.Event()
        streams = [asyncio.create_task(_stream(http, out, done))
                   for _ in range(options.streams)]
        await asyncio.sleep(0.5)                 # the streams are open
        out["t0"] = t0 = time.monotonic()
        end = t0 + options.seconds
        paths = ("/api/show", "/api/nodes", "/api/cues")
        gate = asyncio.Semaphore(64)
        tasks: set[asyncio.Task[None]] = set()
        next_go, i = t0, 0
        while (now := time.monotonic()) < end:
            if now >= next_go:
                next_go += _GO_EVERY_S
                tasks.add(asyncio.create_task(_go(http, out)))
            tasks.add(asyncio.create_task(_get(http, paths[i % 3], out, gate)))
            i += 1
            progress("load", now - t0, options.seconds)
            await asyncio.sleep(max(0.0, t0 + i / options.rps - time.monotonic()))
            tasks = {t for t in tasks if not t.done()}
        out["t1"] = time.monotonic()
        if tasks:
            await asyncio.wait(tasks, timeout=10.0)
        done.set()
        for s in streams:
            s.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
    return out


async def _get(http: Any, path: str, out: dict[str, Any], gate: asyncio.Semaphore) -> None:
    async with gate:
        t = time.monotonic()
        try:
            res = await http.get(path)
            res.raise_for_status()
        except Exception as exc:           # counted, the load goes on
            out["errors"] += 1
            out["last_error"] = f"GET {path}: {exc}"[:200]
            return
        out["latencies"].append((time.monotonic() - t) * 1e3)
        out["answered"] += 1


async def _go(http: Any, out: dict[str, Any]) -> None:
    try:
        res = await http.post("/api/go", json={"delay": 0.2})
        answered = time.monotonic()
        res.raise_for_status()
    except Exception as exc:
        out["errors"] += 1
        out["last_error"] = f"POST /api/go: {exc}"[:200]
        return
    for seq in res.json().get("data", {}).get("events", []):
        out["gos"][int(seq)] = answered


async def _stream(http: Any, out: dict[str, Any], done: asyncio.Event) -> None:
    """One open event stream: note when each event or state change arrives."""
    kind = ""
    try:
        async with http.stream("GET", "/api/events", timeout=None) as res:
            async for line in res.aiter_lines():
                if done.is_set():
                    return
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind in ("event", "state"):
                    try:
                        seq = int(json.loads(line[5:])["seq"])
                    except (ValueError, KeyError, TypeError):
                        continue
                    out["sse"].append(((kind, seq), time.monotonic()))
    except (asyncio.CancelledError, Exception):
        return



if __name__ == "__main__":
    import sys

    sys.exit(_load_main(sys.argv[1:]))
