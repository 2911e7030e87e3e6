"""``exhibit bench sync``: a controller and N sync-only node processes on 127.0.0.1.

Nodes draw nothing: each runs a :class:`~exhibit_engine.sync.node.NodeLink` and a 60 Hz
loop (see :mod:`._sync_proc`). All processes share CLOCK_MONOTONIC, so the truth is known:

- ``clock_skew_p99_us``: |node's estimate of controller time - controller clock| sampled
  every 50 ms on every node during the event window (the estimate's offset, read at that
  instant, since the true one is 0). The window opens ``settle_s`` after the last node
  synced: a node's first second (the probe burst, while 16 processes start at once) is
  acquisition, not the steady state; ``clock_skew_max_us`` is the worst sample.
- ``event_delivery_p99_ms``: an operator ``capture`` sent until the last node received it
  (the agent thread's receive time); 10 a second for ``seconds``, so that the p99 of 20 s
  rests on 200 events, not on the second worst of 80.
- ``events_applied_same_show_time``: fraction of events every node applied with the
  same ``effective_at`` and on its first frame at or after it (the frame before had a
  show time below ``effective_at``): no node shows it early or a frame late. Frames
  are not genlocked, so "the same frame" is the same show time. ``late_frame_applies``
  counts applications on a frame that itself came late (more than one 60 Hz period plus
  1 ms after ``effective_at``: the node's frame loop was descheduled).
- ``late_join_ms``: a fresh node process, from creating its link to holding the whole
  state (a snapshot in parts the link verified: count and digest) with a show anchor and
  a clock estimate; Python start-up not included. ``snapshot_complete`` is the bench's own
  check afterwards: every seeded key is there with its value (a content digest).
- ``hung_node_detect_ms``: SIGSTOP one node until the controller's ``status`` says lost
  (status asked back to back, no sleeping between asks).
- ``controller_cpu_pct``: the controller's user+system CPU over the event window.
- The floors, measured on the same node processes in the same window, each bare event
  half a period after an engine one, so that both meet the same load
  (:mod:`exhibit_engine.sync.floor`): ``event_delivery_floor_p99_ms``, the same events at
  the same rate through a bare pyzmq PUB in a process of its own to a bare SUB in each
  node;
  ``clock_skew_floor_p99_us``, a bare NTP-style estimate in each node (probes every
  0.125 s to a bare echoing ROUTER, the offset of the shortest round trip of the last 8,
  no filtering). ``event_delivery_ratio`` and ``clock_skew_ratio`` divide the engine's
  figures by them: how close the engine comes to what this machine allows. The absolute
  targets (100 µs, 5 ms) apply where the machine has a core per node.
  ``event_delivery_p50_ms``, its floor and ``event_delivery_p50_ratio`` say the same of
  the medians (no target): the p99 of 200 events is the third worst, which one node
  descheduled at the wrong moment moves, while the median is what every event pays.

With ``jitter_ms`` or ``loss`` (``--jitter-ms J --loss P``) every node link meets injected
network faults (:mod:`exhibit_engine.sync.faults`: each message in and out of a node
delayed by 0..J ms, and lost with probability P, each node its own seed). The targets are
then the faulty network's: ``clock_skew_p99_us`` <= 1000 and every event applied on the
same show time; the floors stay fault-free (bare pyzmq), so the ratios are reported but
judge nothing, and the late joiner joins over a clean link.

The session state asked for (``state_keys``, 10,000 by default) is seeded in the
controller before any node starts. When the protocol cannot carry that many the late join
uses the largest state that fits and ``state_keys`` (a metric with its own target) says
how many keys were really held.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ProtocolError, SyncError
from . import Progress, Report, Target
from ._sync_proc import FRAME_S, seed_state

__all__ = ["SyncBenchOptions", "run", "state_capacity", "wait_synced"]

_HOST = "127.0.0.1"
_EVENTS_PER_S = 10.0
_SETTLE_S = 2.0     # after the last node synced, before the event window opens


@dataclass(frozen=True)
class SyncBenchOptions:
    """Settings of the sync suite.

    Attributes:
        nodes: node processes that run for ``seconds``.
        seconds: length of the event window.
        state_keys: session-state keys the late joiner must receive.
        jitter_ms: injected jitter on every node link (ms; 0: none).
        loss: injected loss probability on every node link (0: none).
    """

    nodes: int = 16
    seconds: float = 20.0
    state_keys: int = 10_000
    jitter_ms: float = 0.0
    loss: float = 0.0

    @property
    def faulty(self) -> bool:
        """Whether faults are injected."""
        return self.jitter_ms > 0 or self.loss > 0

    def check(self) -> None:
        """Raises ConfigError for a setting out of range."""
        if not 1 <= self.nodes <= 256:
            raise ConfigError("<flags>", "nodes must be 1..256")
        if not 1.0 <= self.seconds <= 3600.0:
            raise ConfigError("<flags>", "seconds must be 1..3600")
        if not 0 <= self.state_keys <= 1_000_000:
            raise ConfigError("<flags>", "state_keys must be 0..1000000")
        if not 0.0 <= self.jitter_ms <= 1000.0:
            raise ConfigError("<flags>", "jitter_ms must be 0..1000", key="--jitter-ms")
        if not 0.0 <= self.loss <= 0.5:
            raise ConfigError("<flags>", "loss must be 0..0.5", key="--loss")


def state_capacity(wanted: int) -> int:
    """The most of ``wanted`` seeded keys (plus the anchor) one snapshot can carry."""
    from ..sync.protocol import MAX_STATE_KEYS
    from ..sync.snapshot import snapshot_messages

    def fits(n: int) -> bool:
        if n + 1 > MAX_STATE_KEYS:
            return False
        try:
            for message in snapshot_messages(0, 0, {"anchor": [0.0, 0.0, 1.0],
                                                    **seed_state(n)}):
                message.encode()
        except ProtocolError:
            return False
        return True

    if fits(wanted):
        return wanted
    lo, hi = 0, min(wanted, MAX_STATE_KEYS)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


class _Required(Target):
    """A target that fails (instead of not applying) when its metric is missing."""

    def check(self, value: float | None) -> bool | None:
        """Like :meth:`Target.check`, but a missing value is a miss."""
        if value is None:
            return False
        return super().check(value)


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _p99(values: list[float]) -> float | None:
    return _quantile(values, 0.99)


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Procs:
    """Every process the run starts, so each one ends (stopped ones are continued first)."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.all: list[subprocess.Popen[str]] = []
        self.stopped: set[int] = set()

    def start(self, name: str, *args: str, stdout: int | None = None,
              faults: str = "") -> subprocess.Popen[str]:
        log = open(self.logdir / f"{name}.log", "w", encoding="utf-8")  # noqa: SIM115
        from ..sync.faults import ENV

        env = {k: v for k, v in os.environ.items() if k != ENV}
        if faults:
            env[ENV] = faults
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "exhibit_engine.bench._sync_proc", *args],
                stdout=stdout if stdout is not None else subprocess.DEVNULL, stderr=log,
                text=True, env=env)
        finally:
            log.close()
        self.all.append(proc)
        return proc

    def end(self, procs: list[subprocess.Popen[str]], timeout: float = 10.0) -> None:
        for p in procs:
            if p.poll() is None:
                if p.pid in self.stopped:
                    p.send_signal(signal.SIGCONT)
                p.terminate()
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stdout is not None:
                p.stdout.close()

    def close(self) -> None:
        self.end(self.all)


def _ports(proc: subprocess.Popen[str], timeout: float) -> tuple[int, ...]:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise ConfigError("<bench>", "the bench controller did not start")
        words = proc.stdout.readline().split()
    if len(words) < 3 or words[0] != "ready":
        raise ConfigError("<bench>", "the bench controller failed to start")
    return tuple(int(w) for w in words[1:])


def wait_synced(op: Any, n: int, progress: Progress) -> None:
    """Wait until ``n`` bench nodes report themselves synced (anchor, clock, snapshot).

    Raises:
        ConfigError: they did not within 30 s and half a second a node.
    """
    deadline = time.monotonic() + 30.0 + 0.5 * n
    ready = 0
    while ready < n:
        if time.monotonic() > deadline:
            raise ConfigError("<bench>", f"only {ready} of {n} nodes synced in time")
        status = op.command("status")
        ready = sum(1 for s in status["nodes"] if s["extra"].get("synced")
                    and s["state"] == "joined")
        progress("starting nodes", ready, n)
        time.sleep(0.05)    # the bench's polling cadence


def _noop(stage: str, done: float, total: float) -> None:
    """A progress callback that shows nothing."""


def run(options: SyncBenchOptions, progress: Progress | None = None) -> Report:
    """Run the suite (see the module docstring).

    Raises:
        ConfigError: a setting is out of range, or the processes could not be started.
    """
    from ..sync.operator import OperatorClient

    options.check()
    progress = progress or _noop
    keys = state_capacity(options.state_keys)
    with tempfile.TemporaryDirectory(prefix="exhibit-bench-sync-") as tmp:
        work = Path(tmp)
        procs = _Procs(work)
        try:
            return _run(options, keys, work, procs, progress, OperatorClient)
        finally:
            procs.close()


def _run(options: SyncBenchOptions, keys: int, work: Path, procs: _Procs,
         progress: Progress, client: Any) -> Report:
    n = options.nodes
    ctl = procs.start("controller", "controller", _HOST, str(keys), stdout=subprocess.PIPE)
    sp, pp = _ports(ctl, 30.0)[:2]
    from ..sync.floor import FloorServer

    try:
        floor = FloorServer(_HOST, work / "floor.go")
    except SyncError as exc:
        raise ConfigError("<bench>", str(exc)) from None
    procs.all.append(floor.proc)    # ended with the rest whatever happens
    ids = [f"n{i:03d}" for i in range(n)]
    from ..sync.faults import FaultPlan

    def faults(k: int) -> str:
        if not options.faulty:
            return ""
        return FaultPlan(jitter_ms=options.jitter_ms, loss=options.loss, seed=k).spec()
    nodes = [procs.start(i, "node", i, _HOST, str(sp), str(pp), str(keys),
                         str(work / f"{i}.json"), "--floor", str(floor.pub_port),
                         str(floor.router_port), str(floor.go), faults=faults(k))
             for k, i in enumerate(ids)]
    report = Report("sync")
    with client(_HOST, sp, timeout_s=5.0) as op:
        wait_synced(op, n, progress)
        floor.go.touch()        # the floor's bare SUB and prober start in every node
        settle_end = time.monotonic() + _SETTLE_S
        while time.monotonic() < settle_end:
            progress("settling", _SETTLE_S - (settle_end - time.monotonic()), _SETTLE_S)
            time.sleep(min(0.1, max(0.0, settle_end - time.monotonic())))
        # The event window: the engine's events and the floor's bare ones interleaved,
        # half a period apart, so that both meet the same machine (the same load, the
        # same other traffic, the same moments of starvation).
        sent: dict[int, float] = {}
        floor_sent: dict[int, float] = {}
        period = 1.0 / _EVENTS_PER_S
        cpu0, t0 = _cpu_s(ctl.pid), time.monotonic()
        end = t0 + options.seconds
        i = 0
        while time.monotonic() < end:
            at = time.monotonic()
            reply = op.command("capture", tag=f"e{i}")
            sent[int(reply["seq"])] = at
            time.sleep(max(0.0, at + period / 2 - time.monotonic()))
            fat = time.monotonic()
            floor.send(i)           # one hop to the bare server, as a command to the
            floor_sent[i] = fat     # controller: timed from here, as the engine's are
            i += 1
            progress("events", time.monotonic() - t0, options.seconds)
            time.sleep(max(0.0, at + period - time.monotonic()))
        t1 = time.monotonic()
        cpu_pct = (_cpu_s(ctl.pid) - cpu0) / (t1 - t0) * 100.0
        time.sleep(1.0)     # let the last events apply
        floor.close()
        # Hung node: SIGSTOP the last one, wait for the controller to say lost.
        progress("hung node", 0, 0)
        victim, victim_id = nodes[-1], ids[-1]
        victim.send_signal(signal.SIGSTOP)
        procs.stopped.add(victim.pid)
        stopped_at = time.monotonic()
        detect_ms: float | None = None
        while time.monotonic() - stopped_at < 15.0:
            # Back to back: the ask itself (a round trip) is the only wait.
            states = {s["id"]: s["state"] for s in op.command("status")["nodes"]}
            if states.get(victim_id) == "lost":
                detect_ms = (time.monotonic() - stopped_at) * 1e3
                break
        victim.send_signal(signal.SIGCONT)
        procs.stopped.discard(victim.pid)
        # Late joiner.
        progress("late join", 0, 0)
        late_out = work / "late.json"
        late = procs.start("late", "node", "late", _HOST, str(sp), str(pp), str(keys),
                           str(late_out), "--until-synced")
        try:
            late.wait(30.0)
        except subprocess.TimeoutExpired:
            procs.end([late])
    procs.end(nodes)
    results = [json.loads((work / f"{i}.json").read_text(encoding="utf-8"))
               for i in ids if (work / f"{i}.json").is_file()]
    late_doc = (json.loads(late_out.read_text(encoding="utf-8")) if late_out.is_file()
                else {"late_join_ms": None, "snapshot_ok": False, "snapshot_count": 0})
    errors = [e for r in results for at, e in r["clock_error_us"] if t0 <= at <= t1]
    deliveries, same = [], 0
    misses = {"not applied by every node": 0, "different effective_at": 0,
              "a node applied it after its first frame at or after effective_at": 0}
    late_frames = 0
    for seq, at in sent.items():
        key = str(seq)
        recv = [r["received"].get(key) for r in results]
        if len(results) == n and all(v is not None for v in recv):
            deliveries.append((max(recv) - at) * 1e3)
        applied = [r["applied"].get(key) for r in results]
        if len(results) != n or any(a is None for a in applied):
            misses["not applied by every node"] += 1
        elif len({a[0] for a in applied}) != 1:
            misses["different effective_at"] += 1
        elif not all(a[1] >= a[0] and (a[2] is None or a[2] < a[0]) for a in applied):
            misses["a node applied it after its first frame at or after effective_at"] += 1
        else:
            same += 1
        late_frames += sum(1 for a in applied if a is not None and a[1] - a[0] > FRAME_S + 1e-3)
    report.params.update(nodes=n, seconds=options.seconds, settle_s=_SETTLE_S,
                         events=len(sent), skew_samples=len(errors),
                         state_keys_requested=options.state_keys, state_keys=keys,
                         nodes_reported=len(results), cpu_count=os.cpu_count(),
                         injected_jitter_ms=options.jitter_ms, injected_loss=options.loss)
    report.add("clock_skew_p99_us", _p99(errors), "us", "clock error p99 (all nodes)")
    report.add("clock_skew_max_us", max(errors) if errors else None, "us",
               "clock error, worst sample")
    report.add("event_delivery_p99_ms", _p99(deliveries), "ms",
               "event send -> last node received, p99")
    report.add("events_applied_same_show_time", same / len(sent) if sent else None, "",
               "events applied on the same show time")
    report.add("late_frame_applies", late_frames, "",
               "applications on a late frame")
    report.add("late_join_ms", late_doc["late_join_ms"], "ms", "late join -> synced")
    report.add("snapshot_complete", bool(late_doc["snapshot_ok"]), "",
               "late joiner's snapshot verified")
    report.add("state_keys", keys, "keys", "session-state keys the late joiner got")
    report.add("hung_node_detect_ms", detect_ms, "ms", "SIGSTOP -> controller says lost")
    report.add("controller_cpu_pct", cpu_pct, "%", "controller CPU over the event window")
    floor_errors = [e for r in results for at, e in (r.get("floor") or {}).get(
        "clock_error_us", []) if t0 <= at <= t1]
    floor_deliveries = []
    for seq, at in floor_sent.items():
        recv = [(r.get("floor") or {}).get("received", {}).get(str(seq)) for r in results]
        if len(results) == n and all(v is not None for v in recv):
            floor_deliveries.append((max(recv) - at) * 1e3)
    skew, skew_floor = _p99(errors), _p99(floor_errors)
    delivery, delivery_floor = _p99(deliveries), _p99(floor_deliveries)
    report.add("clock_skew_floor_p99_us", skew_floor, "us",
               "floor: bare best-of-8 NTP estimate, p99")
    report.add("clock_skew_ratio", skew / skew_floor if skew is not None and skew_floor
               else None, "x", "clock error / its floor")
    report.add("event_delivery_floor_p99_ms", delivery_floor, "ms",
               "floor: bare pyzmq fan-out, p99")
    report.add("event_delivery_ratio", delivery / delivery_floor
               if delivery is not None and delivery_floor else None, "x",
               "event delivery / its floor")
    # The medians beside the p99s: a p99 of 200 events is the third worst, and a node
    # descheduled once moves it; the median says what every event pays.
    mid, mid_floor = _quantile(deliveries, 0.5), _quantile(floor_deliveries, 0.5)
    report.add("event_delivery_p50_ms", mid, "ms", "event send -> last node received, median")
    report.add("event_delivery_floor_p50_ms", mid_floor, "ms", "floor: bare fan-out, median")
    report.add("event_delivery_p50_ratio", mid / mid_floor if mid is not None and mid_floor
               else None, "x", "median event delivery / its floor")
    # The absolute targets hold where every node has a core of its own; on a smaller
    # machine the ratios to the floors measured in this run say how close we are.
    cores = os.cpu_count() or 1
    clean = not options.faulty
    roomy = cores >= n and clean
    why = (f"needs one core per node ({n}); this machine has {cores}" if clean
           else "faults are injected")
    report.targets += [
        # With faults: the faulty network's bound, on any machine.
        Target("clock_skew_p99_us", "<=", 100.0, roomy, why) if clean else
        _Required("clock_skew_p99_us", "<=", 1000.0, True),
        Target("event_delivery_p99_ms", "<=", 5.0, roomy, why),
        Target("clock_skew_ratio", "<=", 1.3, clean, "faults are injected (the floors "
               "are fault-free)") if not clean else _Required("clock_skew_ratio", "<=",
                                                               1.3, True),
        Target("event_delivery_ratio", "<=", 1.5, clean, "faults are injected (the floors "
               "are fault-free)") if not clean else _Required("event_delivery_ratio",
                                                              "<=", 1.5, True),
        _Required("events_applied_same_show_time", ">=", 1.0, True),
        _Required("late_join_ms", "<=", 250.0, True),
        _Required("snapshot_complete", ">=", 1.0, True),
        _Required("state_keys", ">=", float(options.state_keys), True),
        _Required("hung_node_detect_ms", "<=", 500.0, True),
    ]
    if keys < options.state_keys:
        report.notes.append(f"a snapshot carries at most {keys} keys besides the anchor "
                            f"(one frame, MAX_STATE_KEYS); {options.state_keys} asked for")
    for why, count in misses.items():
        if count:
            report.notes.append(f"{count} of {len(sent)} events not on the same show time: "
                                f"{why}")
    if late_frames:
        report.notes.append(f"{late_frames} of {len(sent) * n} applications came on a frame "
                            f"more than {FRAME_S * 1e3:.1f} + 1 ms after effective_at (that "
                            f"node's frame loop woke late; show time was still right)")
    report.notes.append("late_join_ms excludes Python start-up; delivery is measured on "
                        "one CLOCK_MONOTONIC shared by every process")
    report.notes.append(f"clock skew sampled during the event window only (it opens "
                        f"{_SETTLE_S:g} s after the last node synced)")
    return report
