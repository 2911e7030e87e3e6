"""``exhibit bench transfer``: N nodes fetching a bundle at once, against a raw copy, with
the sync traffic measured beside it.

One run, three parts, on 127.0.0.1:

1. **Raw loopback copy** (the baseline): one sender process sends the bundle file over a
   plain TCP socket (``sendfile``) to each of N receiver processes at once; each writes
   it to a file. No protocol, no hashing, no encryption: the floor of moving those bytes
   on this machine. Best of :data:`_RAW_REPEATS`.
2. **Sync alone**: a bench controller that serves the bundle (``sync/transfer.py``) and N
   sync-only nodes (:mod:`._sync_proc`, as ``bench sync``): ``seconds`` of operator events
   (:data:`_EVENTS_PER_S` a second), clock error sampled every 50 ms on every node.
3. **Sync while fetching**: the same processes; every node's :class:`~exhibit_engine.sync.
   transfer.Fetcher` fetches the bundle again and again (each install is removed so the
   next round fetches it anew: every chunk verified, the whole file verified, installed
   into the node's library) for another ``seconds`` of events. The fetchers run from the
   start, as in a node (:class:`~exhibit_engine.sync.distribution.FetcherProcess`); the
   bundle appears in the controller's folder when part 3 begins.

Reported:

- ``throughput_mb_s``: bytes fetched and verified per second by all nodes together during
  part 3; ``raw_copy_mb_s`` the baseline's; ``throughput_ratio`` the first over the second.
- ``rss_growth_mb_max``: the largest growth of a node process's resident memory during
  part 3 over its median during part 2 (chunk buffers, socket queues, the install).
- ``clock_skew_p99_us`` and ``event_delivery_p99_ms`` in parts 2 and 3 and their ratios
  (part 3 over part 2): ``clock_skew_ratio`` and ``event_delivery_ratio``.
- ``events_applied_same_show_time`` during part 3.

The rate limit (``--rate-mbps``; 0, the default: none) is the venue's
``[network] transfer_rate_mbps``; with none, the transfer runs as fast as this machine
allows, the hardest case for the sync traffic beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import MB, Progress, Report, Target
from .sync import _cpu_s, _p99, _Procs, _ports, wait_synced

__all__ = ["TransferBenchOptions", "make_bundle", "run"]

_HOST = "127.0.0.1"
_EVENTS_PER_S = 8.0
_SETTLE_S = 2.0
_RAW_REPEATS = 2
_BUNDLE_ID = "archive"


@dataclass(frozen=True)
class TransferBenchOptions:
    """Settings of the transfer suite.

    Attributes:
        nodes: node processes fetching at once.
        size_mb: the bundle's size in MB.
        seconds: length of each event window (without and with the transfer).
        rate_mbps: the server's rate limit (0: none).
        workdir: where the temporary data goes (a fresh temporary folder if ``None``).
    """

    nodes: int = 8
    size_mb: float = 100.0
    seconds: float = 10.0
    rate_mbps: float = 0.0
    workdir: Path | None = None

    def check(self) -> None:
        if not 1 <= self.nodes <= 64:
            raise ConfigError("<flags>", "nodes must be 1..64", key="--nodes")
        if not 1.0 <= self.size_mb <= 4000.0:
            raise ConfigError("<flags>", "must be 1..4000 MB", key="--size-mb")
        if not 2.0 <= self.seconds <= 600.0:
            raise ConfigError("<flags>", "must be 2..600 s", key="--seconds")
        if not 0.0 <= self.rate_mbps <= 100_000.0:
            raise ConfigError("<flags>", "must be 0..100000", key="--rate-mbps")


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
    info.create_system, info.external_attr = 3, (stat.S_IFREG | 0o644) << 16
    return info


def make_bundle(path: Path, bundle_id: str, size: int, *, version: str = "1.0.0",
                seed: int = 0, sign: Any = None) -> Path:
    """A valid bundle of about ``size`` bytes: one incompressible, stored file (every MiB
    different) and a manifest with one scene. ``sign``: ``manifest bytes -> manifest.sig
    bytes`` (e.g. ``lambda m: sign_manifest(m, key)``)."""
    block = hashlib.shake_256(f"{bundle_id}/{seed}".encode()).digest(1 << 20)
    h = hashlib.sha256()
    with zipfile.ZipFile(path, "w") as zf:
        # The data first (streamed, never held whole), then the manifest that lists it.
        with zf.open(_entry("media/archive.bin"), "w", force_zip64=size > (1 << 31)) as f:
            done = 0
            while done < size:
                piece = bytearray(block[:min(len(block), size - done)])
                piece[:8] = done.to_bytes(8, "little")[:len(piece)]
                f.write(piece)
                h.update(piece)
                done += len(piece)
        manifest = json.dumps({
            "format": "exhibit-bundle/1", "id": bundle_id, "version": version,
            "title": {"en": bundle_id, "zh": bundle_id, "ru": bundle_id},
            "scenes": [{"id": "s", "kind": "ice", "assets": []}],
            "files": [{"path": "media/archive.bin", "size": size,
                       "media_type": "application/octet-stream", "sha256": h.hexdigest()}],
        }, indent=1).encode()
        zf.writestr(_entry("manifest.json"), manifest, zipfile.ZIP_DEFLATED)
        if sign is not None:
            zf.writestr(_entry("manifest.sig"), sign(manifest), zipfile.ZIP_DEFLATED)
    return path


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            kids = [int(k) for k in f.read().split()]
    except OSError:
        return out
    for k in kids:
        out += [k, *_descendants(k)]
    return out


def _cpu_or_0(pid: int) -> float:
    try:
        return _cpu_s(pid)
    except (OSError, IndexError, ValueError):
        return 0.0


def _noop(stage: str, done: float, total: float) -> None:
    pass


def run(options: TransferBenchOptions, progress: Progress | None = None) -> Report:
    """Run the suite (see the module docstring).

    Raises:
        ConfigError: a setting is out of range, or the processes could not be started.
    """
    options.check()
    progress = progress or _noop
    with tempfile.TemporaryDirectory(prefix="exhibit-bench-transfer-",
                                     dir=options.workdir) as tmp:
        work = Path(tmp)
        procs = _Procs(work)
        try:
            return _run(options, work, procs, progress)
        finally:
            procs.close()


def _proc_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "exhibit_engine.bench._transfer_proc", *args]


def _raw_copy(options: TransferBenchOptions, exb: Path, work: Path) -> float:
    """Seconds for the raw loopback copy of ``exb`` to every receiver at once."""
    n = options.nodes
    sender = subprocess.Popen(_proc_args("send", _HOST, str(exb), str(n)),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert sender.stdout is not None
        words = sender.stdout.readline().split()
        if words[:1] != ["port"]:
            raise ConfigError("<bench>", "the raw copy's sender did not start")
        receivers = [subprocess.Popen(_proc_args("recv", _HOST, words[1],
                                                 str(work / f"raw-{i}.bin")),
                                      stdout=subprocess.PIPE, text=True) for i in range(n)]
        ends = []
        for r in receivers:
            out, _ = r.communicate(timeout=600)
            parts = out.split()
            if parts[:1] != ["end"] or int(parts[2]) != exb.stat().st_size:
                raise ConfigError("<bench>", "a raw copy receiver failed")
            ends.append(float(parts[1]))
        out, _ = sender.communicate(timeout=60)
        start = float(out.split()[1])
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
    for i in range(n):
        (work / f"raw-{i}.bin").unlink(missing_ok=True)
    return max(ends) - start


def _window(op: Any, seconds: float, progress: Progress, stage: str) -> tuple[
        dict[int, float], float, float]:
    """Send operator events for ``seconds``; (seq -> sent at, start, end)."""
    sent: dict[int, float] = {}
    t0 = time.monotonic()
    end = t0 + seconds
    i = 0
    while time.monotonic() < end:
        at = time.monotonic()
        reply = op.command("capture", tag=f"e{i}")
        sent[int(reply["seq"])] = at
        i += 1
        progress(stage, time.monotonic() - t0, seconds)
        time.sleep(max(0.0, at + 1.0 / _EVENTS_PER_S - time.monotonic()))
    return sent, t0, time.monotonic()


def _sync_figures(results: list[dict[str, Any]], sent: dict[int, float], t0: float,
                  t1: float, n: int) -> dict[str, float | None]:
    errors = [e for r in results for at, e in r["clock_error_us"] if t0 <= at <= t1]
    deliveries, same = [], 0
    for seq, at in sent.items():
        recv = [r["received"].get(str(seq)) for r in results]
        if len(results) == n and all(v is not None for v in recv):
            deliveries.append((max(recv) - at) * 1e3)
        applied = [r["applied"].get(str(seq)) for r in results]
        if (len(results) == n and all(a is not None for a in applied)
                and len({a[0] for a in applied}) == 1
                and all(a[1] >= a[0] and (a[2] is None or a[2] < a[0]) for a in applied)):
            same += 1
    return {"skew": _p99(errors), "delivery": _p99(deliveries),
            "same": same / len(sent) if sent else None, "samples": float(len(errors))}


def _run(options: TransferBenchOptions, work: Path, procs: _Procs,
         progress: Progress) -> Report:
    from ..sync.operator import OperatorClient
    from ..sync.transfer import TRANSFER_NICE

    n = options.nodes
    size = int(options.size_mb * MB)
    ctl_dir, staging = work / "controller", work / "staging"
    ctl_dir.mkdir()
    staging.mkdir()
    progress("making the bundle", 0, 0)
    exb = make_bundle(staging / f"{_BUNDLE_ID}.exb", _BUNDLE_ID, size)
    file_bytes = exb.stat().st_size

    raw_s = []
    for i in range(_RAW_REPEATS):
        progress("raw loopback copy", i, _RAW_REPEATS)
        raw_s.append(_raw_copy(options, exb, work))
    raw_mb_s = file_bytes * n / min(raw_s) / MB

    ctl = procs.start("controller", "controller", _HOST, "0", "--serve", str(ctl_dir),
                      _BUNDLE_ID, f"{options.rate_mbps:g}", stdout=subprocess.PIPE)
    sp, pp, tp = _ports(ctl, 30.0)
    ids = [f"n{i:03d}" for i in range(n)]
    nodes = [procs.start(i, "node", i, _HOST, str(sp), str(pp), "0", str(work / f"{i}.json"),
                         "--fetch", str(tp), str(work / f"lib-{i}"), _BUNDLE_ID, str(work))
             for i in ids]
    with OperatorClient(_HOST, sp, timeout_s=5.0) as op:
        wait_synced(op, n, progress)
        time.sleep(_SETTLE_S)
        sent_a, a0, a1 = _window(op, options.seconds, progress, "sync alone")
        time.sleep(0.5)
        # The bundle appears on the controller: every node's fetcher finds it in the
        # catalogue and fetches it.
        exb = exb.rename(ctl_dir / exb.name)
        b_start = time.monotonic()
        time.sleep(1.0)             # every fetcher connected and fetching
        # The transfer's processes: the controller's server, every node's fetcher.
        movers = [k for p in (ctl, *nodes) for k in _descendants(p.pid)]
        cpu0, move0 = _cpu_s(ctl.pid), sum(_cpu_or_0(k) for k in movers)
        sent_b, b0, b1 = _window(op, options.seconds, progress, "sync while fetching")
        ctl_cpu = (_cpu_s(ctl.pid) - cpu0) / (b1 - b0) * 100.0
        move_cpu = (sum(_cpu_or_0(k) for k in movers) - move0) / (b1 - b0) * 100.0
        (work / "fetch.stop").touch()
        time.sleep(1.0)             # let the last events apply
        # The floor: a load of the same CPU at the same nice value, doing nothing else.
        hogs_n = max(1, math.ceil(move_cpu / 100.0))
        hogs = [subprocess.Popen(_proc_args("hog", f"{options.seconds + 1.0:g}",
                                            f"{min(1.0, move_cpu / 100.0 / hogs_n):.3f}"))
                for _ in range(hogs_n)]
        try:
            time.sleep(0.5)
            sent_c, c0, c1 = _window(op, options.seconds, progress, "sync beside a CPU load")
        finally:
            for h in hogs:
                h.kill()
                h.wait()
        time.sleep(1.0)
    procs.end(nodes)
    results = [json.loads((work / f"{i}.json").read_text(encoding="utf-8"))
               for i in ids if (work / f"{i}.json").is_file()]
    alone = _sync_figures(results, sent_a, a0, a1, n)
    fetching = _sync_figures(results, sent_b, b0, b1, n)
    floor = _sync_figures(results, sent_c, c0, c1, n)

    fetched = 0.0
    growth = []
    installs = corrupt = 0
    for r in results:
        f = r.get("fetch") or {}
        samples = f.get("samples", [])
        inside = [s for s in samples if b0 <= s[0] <= b1]
        if len(inside) >= 2:
            fetched += inside[-1][1] - inside[0][1]
        before = [s[2] for s in samples if a0 <= s[0] <= a1]
        during = [s[2] for s in samples if b_start <= s[0] <= b1]
        if before and during:
            growth.append((max(during) - statistics.median(before)) * 1024 / MB)
        installs += int(f.get("installs", 0))
        corrupt += int(f.get("counts", {}).get("corrupt_chunks", 0))
    inside_s = b1 - b0
    mb_s = fetched / inside_s / MB if inside_s > 0 else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return b / a if a and b is not None else None

    report = Report("transfer")
    report.params.update(nodes=n, bundle_mb=round(file_bytes / MB, 1), seconds=options.seconds,
                         rate_mbps=options.rate_mbps, events_per_s=_EVENTS_PER_S,
                         nodes_reported=len(results), installs=installs,
                         raw_copy_s=[round(x, 3) for x in raw_s], cpu_count=os.cpu_count())
    report.add("throughput_mb_s", mb_s, "MB/s", "fetched and verified, all nodes")
    report.add("raw_copy_mb_s", raw_mb_s, "MB/s", "raw loopback copy (baseline)")
    report.add("throughput_ratio", ratio(raw_mb_s, mb_s), "x", "transfer / raw copy")
    report.add("rss_growth_mb_max", max(growth) if growth else None, "MB",
               "a node's resident memory growth, worst")
    report.add("installs", installs, "", "whole bundles fetched and installed")
    report.add("corrupt_chunks", corrupt, "", "chunks that failed their hash")
    report.add("clock_skew_p99_us_alone", alone["skew"], "us", "clock error p99, no transfer")
    report.add("clock_skew_p99_us", fetching["skew"], "us", "clock error p99, fetching")
    report.add("clock_skew_ratio", ratio(alone["skew"], fetching["skew"]), "x",
               "clock error: fetching / alone")
    report.add("event_delivery_p99_ms_alone", alone["delivery"], "ms",
               "event delivery p99, no transfer")
    report.add("event_delivery_p99_ms", fetching["delivery"], "ms",
               "event delivery p99, fetching")
    report.add("event_delivery_ratio", ratio(alone["delivery"], fetching["delivery"]), "x",
               "event delivery: fetching / alone")
    report.add("events_applied_same_show_time", fetching["same"], "",
               "events on the same show time, fetching")
    report.add("clock_skew_ratio_floor", ratio(alone["skew"], floor["skew"]), "x",
               "floor, clock error: same CPU load / alone")
    report.add("event_delivery_ratio_floor", ratio(alone["delivery"], floor["delivery"]), "x",
               "floor, event delivery: same CPU load / alone")
    report.add("transfer_cpu_pct", move_cpu, "%", "CPU of the transfer's processes")
    report.add("transfer_cpu_s_per_gb", move_cpu / 100.0 / (mb_s / 1000.0) if mb_s else None,
               "s/GB", "CPU seconds per GB fetched")
    report.add("controller_cpu_pct", ctl_cpu, "%", "controller CPU while serving (sync)")
    report.targets += [
        Target("throughput_ratio", ">=", 0.5, True),
        Target("rss_growth_mb_max", "<=", 64.0, True),
        Target("clock_skew_ratio", "<=", 1.2, True),
        Target("event_delivery_ratio", "<=", 1.2, True),
        Target("events_applied_same_show_time", ">=", 1.0, True),
    ]
    report.notes.append("throughput counts the bytes every node fetched (each chunk's "
                        "SHA-256 checked, written) while the events ran; each install "
                        "also checks the whole file and the bundle, and is removed so the "
                        "next round fetches it again")
    report.notes.append(f"the floor runs {hogs_n} process(es) at nice {TRANSFER_NICE} "
                        f"burning the CPU the transfer used ({move_cpu:.0f} %) and nothing "
                        "else: what any transfer that needs that CPU would cost the sync "
                        "traffic on this machine")
    report.notes.append("the raw copy is sendfile over plain TCP to the same number of "
                        "receiver processes, each writing a file: no protocol, no hashing")
    return report
