"""``exhibit soak``: a long run of a whole show with things going wrong on purpose.

On 127.0.0.1: a controller pair (``exhibit controller`` and ``exhibit controller
--backup`` of a generated venue with ``[network.backup]``), N render nodes (real
projector nodes, headless, at a small scale, each node link with injected jitter:
:mod:`exhibit_engine.sync.faults`), a scripted kiosk making random selections, touches
and language changes, and operator GOs every few seconds (through the pair's two
addresses, failing over as ``exhibit ctl`` does). The show is a loop of short cues over
the sample content's three bundles, so cue changes, crossfades and preloads run all
the time.

After a warm-up, every ``kill_every_s`` one process is killed with SIGKILL: a node, the
kiosk or the active controller (in that order first, then at random) and started again
(a killed controller comes back in its own role and joins as the passive half: there is
no flip back). Every process's resident memory is sampled every few seconds.

Reported (see :mod:`._soak_report` for how each figure is read from the records):
``desync_frames`` (node frames whose show time disagrees with another node drawing at
the same moment by more than one 60 Hz frame), ``lost_events`` and ``duplicated_events``,
``failovers`` and the slowest (``failover_max_s``, from the kill to the other controller
serving), ``memory_growth_max_pct`` (after each process's warm-up, over the processes
that lived long enough to tell), ``worst_frame_ms``. The run fails (``passed`` false,
exit 1 from the CLI) when one misses its bound, or when the run checked nothing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SyncError
from . import Progress, Report, Target
from ._soak_report import (desync_frames, event_faults, frame_times, memory_growth,
                           memory_settled, read_node_trace, read_selections)

__all__ = ["SoakOptions", "run"]

_HOST = "127.0.0.1"
_CUE_S = 6.0
_RSS_EVERY_S = 2.0
_FAILOVER_BOUND_S = 2.0
_MEMORY_BOUND_PCT = 5.0


@dataclass(frozen=True)
class SoakOptions:
    """Settings of a soak run.

    Attributes:
        minutes: the whole run, warm-up included.
        nodes: render nodes.
        seed: the random plan (kills, kiosk, GOs); the same seed, the same plan.
        jitter_ms: injected jitter on every node link.
        kill_every_s: seconds between kills (``None``: a sixth of the run, 15..90 s).
        warmup_s: before the first kill, and the least time before a process's memory
            is taken as its base, which waits on until that memory has settled
            (:func:`._soak_report.memory_settled`; ``None``: half the run, 30..180 s:
            every scene built twice).
        content: the sample content (bundle sources and ``show.toml``).
        bundle_dir: where its bundles are packed (reused while valid).
        render_scale: of each display's 320x180 pixels.
        keep: a folder to keep the records and logs in (else a temporary one).
    """

    minutes: float = 2.0
    nodes: int = 3
    seed: int = 1
    jitter_ms: float = 2.0
    kill_every_s: float | None = None
    warmup_s: float | None = None
    content: str = "content"
    bundle_dir: str = "out/bundles"
    render_scale: float = 0.25
    keep: str | None = None

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0

    @property
    def warmup(self) -> float:
        return self.warmup_s if self.warmup_s is not None else \
            min(180.0, max(30.0, self.seconds / 2))

    @property
    def kill_every(self) -> float:
        return self.kill_every_s if self.kill_every_s is not None else \
            min(90.0, max(15.0, self.seconds / 6))

    def check(self) -> None:
        """Raises ConfigError for a setting out of range."""
        if not 0.5 <= self.minutes <= 24 * 60:
            raise ConfigError("<flags>", "must be 0.5..1440", key="--minutes")
        if not 1 <= self.nodes <= 32:
            raise ConfigError("<flags>", "must be 1..32", key="--nodes")
        if not 0.0 <= self.jitter_ms <= 100.0:
            raise ConfigError("<flags>", "must be 0..100", key="--jitter-ms")
        if self.kill_every_s is not None and not 5.0 <= self.kill_every_s <= 3600.0:
            raise ConfigError("<flags>", "must be 5..3600 s", key="--kill-every")
        if self.warmup >= self.seconds - 10.0:
            raise ConfigError("<flags>", f"a {self.minutes:g}-minute run leaves no time "
                              f"after its {self.warmup:g} s warm-up", key="--minutes")
        if not (Path(self.content) / "show.toml").is_file():
            raise ConfigError(str(self.content), "has no show.toml (the sample content: "
                              "give --content)")


_VENUE = """\
[venue]
id = "soak"
name = "exhibit soak"
[wall]
width = {width}
height = 1.0
eye = [{eye}, 0.5, 2.0]
{displays}
[network]
host = "{host}"
state_port = {p[0]}
publish_port = {p[1]}
transfer_port = {p[2]}
peer_port = {p[3]}
[network.backup]
host = "{host}"
state_port = {p[4]}
publish_port = {p[5]}
transfer_port = {p[6]}
peer_port = {p[7]}
"""

_SCENES = (("ice-festival", "castle-night"), ("northern-prints", "gallery-walk"),
           ("heritage", "gallery"), ("ice-festival", "lantern-walk"))


def _show_text(bundles: list[tuple[str, str]]) -> str:
    text = '[show]\nid = "soak"\nloop = true\n'
    for bid, file in bundles:
        text += f'\n[[bundles]]\nid = "{bid}"\nfile = "{file}"\n'
    for i, (bid, scene) in enumerate(_SCENES):
        text += (f'\n[[cues]]\nid = "cue{i}"\nbundle = "{bid}"\nscene = "{scene}"\n'
                 f'duration = {_CUE_S}\ntransition = "crossfade"\n')
    return text


@dataclass
class _Proc:
    """One process of the run and what is known of it."""

    kind: str                       # primary, backup, node, kiosk
    name: str                       # e.g. d1#2
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    rss: list[tuple[float, int]] = field(default_factory=list)
    trace: Path | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(self.args, env=self.env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT)
        self.started = time.monotonic()

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def sample(self, now: float) -> None:
        if not self.alive or self.popen is None:
            return
        try:
            with open(f"/proc/{self.popen.pid}/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        self.rss.append((now, int(line.split()[1])))
                        return
        except OSError:
            pass

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.alive and self.popen is not None:
            self.popen.send_signal(sig)


def _noop(stage: str, done: float, total: float) -> None:
    pass


def run(options: SoakOptions, progress: Progress | None = None) -> Report:
    """Run the soak (see the module docstring).

    Raises:
        ConfigError: a setting is out of range or the content is missing.
        ExhibitError: a bundle cannot be packed, or the pair or a node never came up.
    """
    options.check()
    prog = progress or _noop
    if options.keep:
        work = Path(options.keep)
        work.mkdir(parents=True, exist_ok=True)
        return _run(options, work, prog)
    with tempfile.TemporaryDirectory(prefix="exhibit-soak-") as tmp:
        return _run(options, Path(tmp), prog)


def _prepare(options: SoakOptions, work: Path, prog: Progress
             ) -> tuple[Path, Path, Path, list[str], list[int], list[str]]:
    """Pack the bundles; write the venue and show. Returns venue, show, bundle folder,
    display ids, the pair's ports and the items a kiosk may select."""
    from ..assets.bundle import Bundle
    from ..assets.pack import ensure_bundles
    from ..config import load_show
    from ..config.network import free_ports

    content = Path(options.content)
    sample = load_show(content / "show.toml")
    bundles = Path(options.bundle_dir)
    bundles.mkdir(parents=True, exist_ok=True)
    prog("packing the sample bundles", 0, 0)
    ensure_bundles(sample, content, bundles, lambda _msg: None)
    refs = [(b.id, b.file) for b in sample.bundles]
    items: list[str] = []
    for _bid, file in refs:
        with Bundle.open(bundles / file) as b:
            items += [it.id for it in b.manifest.items]
    ports = free_ports(8, _HOST)
    ids = [f"d{i + 1}" for i in range(options.nodes)]
    displays = "".join(f'[[displays]]\nid = "{d}"\npixels = [320, 180]\n'
                       f'rect = [{i}.0, 0.0, 1.0, 0.5625]\n' for i, d in enumerate(ids))
    venue = work / "venue.toml"
    venue.write_text(_VENUE.format(width=float(options.nodes), eye=options.nodes / 2,
                                   displays=displays, host=_HOST, p=ports), encoding="utf-8")
    show = work / "show.toml"
    show.write_text(_show_text(refs), encoding="utf-8")
    return venue, show, bundles, ids, ports, items


class _Run:
    """The processes of one soak, and what the harness saw of them."""

    def __init__(self, options: SoakOptions, work: Path, venue: Path, show: Path,
                 bundles: Path, ids: list[str], ports: list[int], items: list[str]) -> None:
        from ..sync.faults import ENV

        self.options, self.work = options, work
        self.ports = ports
        self.rng = random.Random(options.seed)
        base = {k: v for k, v in os.environ.items() if k != ENV}
        base["PYTHONUNBUFFERED"] = "1"
        self.base_env = base
        self.fault_env = ENV
        py = sys.executable
        common = [py, "-m", "exhibit_engine.cli", "controller", "--venue", str(venue),
                  "--show", str(show), "--bundle-dir", str(bundles), "--no-state"]
        self.commands = {
            "primary": common, "backup": [*common, "--backup"],
            "kiosk": [py, "-m", "exhibit_engine.bench._soak_proc", "kiosk", str(venue),
                      "soak-kiosk", "", json.dumps(items), ""],
        }
        self.node_args = {d: [py, "-m", "exhibit_engine.bench._soak_proc", "node", str(venue),
                              str(show), d, str(bundles), f"{options.render_scale:g}", ""]
                          for d in ids}
        self.procs: list[_Proc] = []
        self.current: dict[str, _Proc] = {}
        self.count: dict[str, int] = {}
        self.kills: list[dict[str, Any]] = []
        self.failovers: list[float] = []
        self.go_failed = 0
        self.gos = 0

    def start(self, key: str) -> _Proc:
        """Start (or start again) the process called ``key``: primary, backup, kiosk or a
        display id."""
        n = self.count.get(key, 0) + 1
        self.count[key] = n
        name = f"{key}#{n}"
        env = dict(self.base_env)
        if key in self.node_args:
            kind = "node"
            args = list(self.node_args[key])
            trace = self.work / f"trace-{key}-{n}.txt"
            args[-1] = str(trace)
            if self.options.jitter_ms > 0:
                env[self.fault_env] = (f"jitter={self.options.jitter_ms:g},"
                                       f"seed={self.rng.randrange(1 << 30)}")
        else:
            kind = key
            args = list(self.commands[key])
            trace = None
            if key == "kiosk":
                trace = self.work / f"kiosk-{n}.txt"
                args[-3], args[-1] = str(self.rng.randrange(1 << 30)), str(trace)
        proc = _Proc(kind, name, args, env, self.work / f"{key}-{n}.log", trace=trace)
        proc.start()
        self.procs.append(proc)
        self.current[key] = proc
        return proc

    def status(self, port: int, timeout: float = 0.5) -> dict[str, Any] | None:
        from ..sync.operator import OperatorClient

        try:
            with OperatorClient(_HOST, port, timeout) as op:
                return op.command("status", request_id="")
        except SyncError:
            return None

    def active(self) -> tuple[str, dict[str, Any]] | None:
        """The controller serving now (``primary`` or ``backup``) and its status."""
        for key, port in (("primary", self.ports[0]), ("backup", self.ports[4])):
            proc = self.current.get(key)
            if proc is None or not proc.alive:
                continue
            st = self.status(port)
            if st and (st.get("pair") or {}).get("state") == "active":
                return key, st
        return None

    def healthy(self) -> bool:
        """One active, one passive that hears it, every node joined."""
        found = self.active()
        if found is None:
            return False
        _, st = found
        pair = st.get("pair") or {}
        joined = {n["id"] for n in st.get("nodes", ())
                  if n.get("role") == "projector" and n.get("state") == "joined"}
        return bool(pair.get("peer", {}).get("alive")) and \
            pair.get("peer", {}).get("state") == "passive" and joined >= set(self.node_args)

    def sample(self) -> None:
        now = time.monotonic()
        for p in self.procs:
            p.sample(now)

    def go(self, op: Any) -> None:
        self.gos += 1
        try:
            op.command("go")
        except SyncError:
            self.go_failed += 1

    def kill(self, what: str, now: float) -> str:
        """SIGKILL one process (``node``, ``kiosk`` or ``controller``: the active one) and
        start it again; returns what was killed."""
        if what == "controller":
            found = self.active()
            if found is None or not self.healthy():
                what = "node"           # the pair is not whole yet: a node instead
            else:
                key = found[0]
                victim = self.current[key]
                victim.stop(signal.SIGKILL)
                if victim.popen is not None:
                    victim.popen.wait()
                other = "backup" if key == "primary" else "primary"
                took = self._took_over(other, now)
                self.kills.append({"what": key, "at_s": now, "takeover_s": took})
                if took is not None:
                    self.failovers.append(took)
                self.start(key)
                return key
        if what == "kiosk":
            key = "kiosk"
        else:
            key = self.rng.choice(sorted(self.node_args))
        victim = self.current[key]
        victim.stop(signal.SIGKILL)
        if victim.popen is not None:
            victim.popen.wait()
        self.kills.append({"what": key, "at_s": now})
        self.start(key)
        return key

    def _took_over(self, key: str, killed: float) -> float | None:
        """Seconds from the kill until controller ``key`` served (``None``: not in 10 s)."""
        port = self.ports[0] if key == "primary" else self.ports[4]
        deadline = killed + 10.0
        while time.monotonic() < deadline:
            st = self.status(port)
            pair = (st or {}).get("pair") or {}
            if pair.get("state") == "active" and pair.get("history"):
                at = time.monotonic() - float(pair["history"][-1].get("ago_s", 0.0))
                return max(0.0, at - killed)
            self.sample()
        return None

    def stop_all(self) -> None:
        for p in self.procs:
            p.stop()
        deadline = time.monotonic() + 20.0
        for p in self.procs:
            if p.popen is None:
                continue
            try:
                p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait()


def _run(options: SoakOptions, work: Path, prog: Progress) -> Report:
    from ..errors import SyncTimeout
    from ..sync.operator import OperatorClient

    venue, show, bundles, ids, ports, items = _prepare(options, work, prog)
    run = _Run(options, work, venue, show, bundles, ids, ports, items)
    total = options.seconds
    try:
        run.start("primary")
        run.start("backup")
        for d in ids:
            run.start(d)
        run.start("kiosk")
        prog("starting the pair and the nodes", 0, 0)
        deadline = time.monotonic() + 120.0
        while not run.healthy():
            run.sample()
            dead = [p.name for p in run.procs if p.popen is not None and not p.alive]
            if dead:
                raise SyncTimeout(f"soak: {', '.join(dead)} exited at start; see "
                                  f"{work} (keep it with --keep)")
            if time.monotonic() > deadline:
                raise SyncTimeout("soak: the pair and every node did not come up in 120 s")
        t0 = time.monotonic()
        plan = ["controller", "node", "kiosk"]
        next_kill = t0 + options.warmup
        next_go = t0 + run.rng.uniform(4.0, 10.0)
        next_sample = t0
        with OperatorClient(_HOST, ports[0], 3.0, backup=(_HOST, ports[4])) as op:
            while (now := time.monotonic()) < t0 + total:
                prog("soaking", now - t0, total)
                if now >= next_sample:
                    run.sample()
                    next_sample = now + _RSS_EVERY_S
                if now >= next_go:
                    run.go(op)
                    next_go = time.monotonic() + run.rng.uniform(4.0, 10.0)
                if now >= next_kill and now < t0 + total - 10.0:
                    what = plan.pop(0) if plan else run.rng.choices(
                        ("node", "kiosk", "controller"), (3, 1, 1))[0]
                    run.kill(what, now)
                    next_kill = now + options.kill_every
                dead = [p for p in run.current.values() if p.popen is not None
                        and not p.alive and p.popen.returncode not in (0, -9)]
                if dead:
                    raise SyncError(f"soak: {dead[0].name} exited with "
                                    f"{dead[0].popen.returncode}; see its log in {work}")
                time.sleep(min(0.05, max(0.0, t0 + total - time.monotonic())))
    finally:
        run.stop_all()
    return _report(options, run, work, t0)


def _report(options: SoakOptions, run: _Run, work: Path, t0: float) -> Report:
    report = Report("soak")
    nodes = [p for p in run.procs if p.kind == "node" and p.trace is not None]
    traces = [read_node_trace(p.trace, p.name) for p in nodes if p.trace is not None]
    accepted: dict[int, float] = {}
    kiosk_failed = 0
    for p in run.procs:
        if p.kind == "kiosk" and p.trace is not None:
            got, failed = read_selections(p.trace)
            accepted.update(got)
            kiosk_failed += failed
    desync, compared, worst_s = desync_frames(traces)
    faults = event_faults(traces, accepted)
    worst_ms, p99_ms = frame_times(traces)
    growth: dict[str, float | None] = {}
    settled: dict[str, float] = {}
    # Long enough to tell: a quarter of the run after the first kill (a process whose
    # memory never settles is measured over the second half of its life).
    span = max(30.0, (options.seconds - options.warmup) / 4)
    for p in run.procs:
        settled[p.name] = memory_settled(p.rss, p.started, options.warmup)
        growth[p.name] = memory_growth(p.rss, p.started, settled[p.name], span)
    measured = {k: v for k, v in growth.items() if v is not None}
    report.add("desync_frames", desync, "frames",
               "node frames out of step with another node by > 1 frame")
    report.add("frames_compared", compared, "frames", "node frames compared")
    report.add("desync_worst_ms", worst_s * 1e3, "ms", "largest disagreement between nodes")
    report.add("lost_events", faults.lost, "", "events a node should have played and did not")
    report.add("duplicated_events", faults.duplicated, "", "events a node played twice")
    report.add("events_checked", faults.checked, "", "(node process, event) pairs checked")
    report.add("failovers", len(run.failovers), "", "takeovers by the other controller")
    report.add("failover_max_s", max(run.failovers) if run.failovers else None, "s",
               "slowest takeover, kill -> serving")
    report.add("memory_growth_max_pct", max(measured.values()) if measured else None, "%",
               "largest memory growth of a process after warm-up")
    report.add("worst_frame_ms", worst_ms, "ms", "longest time between two frames")
    report.add("p99_frame_ms", p99_ms, "ms", "time between frames, p99")
    report.add("kills", len(run.kills), "", "processes killed with SIGKILL")
    report.add("go_failed", run.go_failed, "", "operator GOs that neither controller took")
    report.add("kiosk_failed_requests", kiosk_failed, "",
               "kiosk requests that neither controller answered")
    controller_kills = sum(1 for k in run.kills if k["what"] in ("primary", "backup"))
    report.targets += [
        Target("desync_frames", "<=", 0, True),
        Target("frames_compared", ">=", 1, True, "the run compared nothing"),
        Target("lost_events", "<=", 0, True),
        Target("duplicated_events", "<=", 0, True),
        Target("events_checked", ">=", 1, True),
        Target("failover_max_s", "<=", _FAILOVER_BOUND_S, controller_kills > 0,
               "no controller was killed"),
        Target("failovers", ">=", controller_kills, True),
        Target("memory_growth_max_pct", "<=", _MEMORY_BOUND_PCT, bool(measured),
               "no process lived long enough after warm-up"),
    ]
    report.params.update({
        "minutes": options.minutes, "nodes": options.nodes, "seed": options.seed,
        "jitter_ms": options.jitter_ms, "warmup_s": options.warmup,
        "kill_every_s": options.kill_every, "render_scale": options.render_scale,
        "cue_s": _CUE_S, "gos": run.gos, "events": faults.events,
        "event_gaps": faults.gaps, "lost_examples": list(faults.lost_seqs),
        "selections": len(accepted),
        "kill_log": [{**k, "at_s": round(k["at_s"] - t0, 2),
                      **({"takeover_s": round(k["takeover_s"], 3)}
                         if k.get("takeover_s") is not None else {})}
                     for k in run.kills],
        "memory_growth_pct": {k: (None if v is None else round(v, 2))
                              for k, v in growth.items()},
        "memory_settled_s": {k: round(v, 1) for k, v in settled.items()},
        "cpu_count": os.cpu_count(),
    })
    if options.keep:
        (work / "memory.json").write_text(json.dumps(
            {p.name: [[round(t - t0, 1), kb] for t, kb in p.rss] for p in run.procs}),
            encoding="utf-8")
    report.notes.append(f"records and logs: {work}" if options.keep else
                        "records and logs were in a temporary folder (keep them with --keep)")
    return report
