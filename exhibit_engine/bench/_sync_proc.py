"""The processes of ``exhibit bench sync``: a controller and a sync-only node.

Run as ``python -m exhibit_engine.bench._sync_proc controller HOST STATE_KEYS`` (prints
``ready STATE_PORT PUBLISH_PORT`` once bound, serves until SIGTERM) or
``python -m exhibit_engine.bench._sync_proc node ID HOST STATE_PORT PUBLISH_PORT
STATE_KEYS OUT [--until-synced]``. A node runs a :class:`~exhibit_engine.sync.node.NodeLink`
and a 60 Hz "frame" loop that draws nothing: it reads show time, takes due events and
samples its clock estimate (with the time of each sample, so the bench can keep those of
its measuring window). On SIGTERM it writes what it measured to OUT as JSON. With
``--until-synced`` (the late joiner) it waits on the link's news instead of a frame
clock, notes the moment its state is complete (anchor, clock estimate and a snapshot the
link verified), then checks the content against the seeded state and writes OUT.

Every process shares the machine's CLOCK_MONOTONIC, so the true offset between a node's
clock and the controller's is 0 and a node's offset estimate *is* its clock error.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import msgpack

from ..sync.floor import FloorClient, floor_doc

__all__ = ["FRAME_S", "seed_state", "state_digest"]

#: The node's frame period (a 60 Hz projector).
FRAME_S = 1.0 / 60.0
_SAMPLE_S = 0.05


def seed_state(keys: int) -> dict[str, Any]:
    """The session state the bench controller holds besides the anchor: ``keys`` keys."""
    return {f"k{i:05d}": i for i in range(keys)}


def state_digest(items: dict[str, Any]) -> str:
    """SHA-256 of a state map (anchor excluded), independent of key order."""
    plain = {k: v for k, v in items.items() if k != "anchor"}
    return hashlib.sha256(msgpack.packb(sorted(plain.items()), use_bin_type=True)).hexdigest()


def _bench_show(bundle_id: str | None) -> Any:
    from ..config import ShowConfig
    from ..config.show import BundleRef

    refs = (BundleRef(bundle_id, f"{bundle_id}.exb"),) if bundle_id else ()
    return ShowConfig("bench", {}, refs, ())


def _controller(host: str, keys: int, serve: tuple[str, str, str] | None = None) -> int:
    from ..config import (
        ControllerSettings,
        DisplayConfig,
        NetworkConfig,
        VenueConfig,
        WallConfig,
    )
    from ..sync.controller import ControllerServer, run_controller

    venue = VenueConfig("bench", "Bench", WallConfig(1.0, 1.0, (0.5, 0.5, 1.0)),
                        (DisplayConfig("a", (64, 64), (0.0, 0.0, 1.0, 1.0)),),
                        NetworkConfig())
    settings = ControllerSettings(venue, _bench_show(serve[1] if serve else None), host, 0, 0,
                                  bundle_dir=serve[0] if serve else None, transfer_port=0,
                                  transfer_rate_mbps=float(serve[2]) if serve else 0.0)

    def ready(server: ControllerServer) -> None:
        core = server.core
        if core is not None and keys:
            core.load_state(seed_state(keys))
        tp = server.transfer.port if server.transfer is not None else 0
        print("ready", server.state_port, server.publish_port, tp, flush=True)

    return run_controller(settings, on_ready=ready)


def _rss_kb(pid: int | str = "self") -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class _Fetching:
    """A bench node's fetcher process, as a node runs it (from the start, asking for the
    catalogue). Once the bundle appears on the controller it is fetched; each install is
    removed so the next round fetches it again, until ``WORK/fetch.stop`` exists. Bytes
    fetched and resident memory (this process and its fetcher together) are sampled."""

    def __init__(self, host: str, port: int, library: Path, bundle_id: str, work: Path,
                 node_id: str) -> None:
        from ..sync.distribution import FetcherProcess

        self.library, self.bundle_id = library, bundle_id
        self.stop = work / "fetch.stop"
        self.fetcher = FetcherProcess(_bench_show(bundle_id), library, host, port,
                                      poll_s=0.02, who=node_id).start()
        self.done = False
        self.installs = 0
        self.samples: list[list[float]] = []    # [local time, bytes fetched, rss kB]
        self.next_sample = 0.0

    def frame(self, now: float) -> None:
        if now >= self.next_sample:
            self.next_sample = now + 0.1
            rss = _rss_kb() + _rss_kb(self.fetcher.pid)
            self.samples.append([now, self.fetcher.counts.get("bytes_fetched", 0), rss])
        for _ in self.fetcher.take_installed():
            self.installs += 1
            if not self.done:
                for suffix in (".exb", ".json"):
                    (self.library / f"{self.bundle_id}{suffix}").unlink(missing_ok=True)
        if not self.done and self.stop.exists():
            self.done = True

    def close(self) -> None:
        self.fetcher.close()

    def doc(self) -> dict[str, Any]:
        return {"samples": self.samples, "installs": self.installs,
                "counts": dict(self.fetcher.counts), "progress": self.fetcher.progress()}


def _node(node_id: str, host: str, state_port: int, publish_port: int, keys: int,
          out: Path, until_synced: bool, fetch: _Fetching | None = None,
          floor: tuple[int, int, Path] | None = None) -> int:
    from ..sync.node import NodeLink
    from ..sync.node_core import NodeCore
    from ..sync.protocol import Event, Message

    class StampingCore(NodeCore):
        """A NodeCore that notes when each event first arrived (local monotonic time)."""

        def __init__(self, node_id: str) -> None:
            super().__init__(node_id)
            self.received: dict[int, float] = {}

        def handle(self, message: Message, now: float) -> list[Message]:
            if isinstance(message, Event) and message.seq not in self.received:
                self.received[message.seq] = now
            return super().handle(message, now)

    stop = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    expected = state_digest(seed_state(keys))
    core = StampingCore(node_id)
    started = time.monotonic()
    link = NodeLink(node_id, host, state_port, publish_port, core=core)
    synced_at: float | None = None
    snapshot_ok = False
    snapshot_count = 0
    applied: dict[int, list[float | None]] = {}   # [effective_at, show, previous show]
    errors_us: list[list[float]] = []     # [local time, |clock error| us]
    prev_show: float | None = None
    frames = 0
    next_sample = started
    next_frame = started
    floor_client: FloorClient | None = None
    next_floor_look = started
    try:
        while not stop:
            link.poll()
            now = time.monotonic()
            times = link.frame_time()
            show = times[0] if times is not None else None
            state: dict[str, Any] | None = None
            if times is not None and show is not None:
                frames += 1
                for event in link.take_events(*times):
                    applied[event.seq] = [event.effective_at, show, prev_show]
                prev_show = show
                if synced_at is None:
                    with link._lock:     # a consistent view of the replicated state
                        if core.have_snapshot:
                            synced_at = time.monotonic()
                            state = dict(core.state)
                if state is not None:
                    # The link verified count and digest; check the content is the seeded one.
                    snapshot_count = len(state) - ("anchor" in state)
                    snapshot_ok = snapshot_count == keys and state_digest(state) == expected
                link.report(frames, show, extra={"synced": synced_at is not None,
                                                 "snapshot": snapshot_ok})
                if fetch is not None:
                    fetch.frame(now)
                if floor is not None and floor_client is None and now >= next_floor_look:
                    next_floor_look = now + 0.1
                    if floor[2].exists():   # the bench's floor window begins
                        floor_client = FloorClient(host, floor[0], floor[1])
                if now >= next_sample:
                    next_sample = now + _SAMPLE_S
                    # Truth is 0 (one CLOCK_MONOTONIC): the estimate's offset is its error,
                    # read at this very instant.
                    errors_us.append([now, abs(link.offset_us)])
            if until_synced:
                if synced_at is not None:
                    break
                link.poll(FRAME_S)      # wake on the link's news, not on a frame clock
                continue
            next_frame += FRAME_S
            delay = next_frame - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_frame = time.monotonic()
    finally:
        link.close()
        if fetch is not None:
            fetch.close()
        if floor_client is not None:
            floor_client.close()
    doc = {"id": node_id, "started": started, "synced_at": synced_at,
           "late_join_ms": None if synced_at is None else (synced_at - started) * 1e3,
           "snapshot_ok": snapshot_ok, "snapshot_count": snapshot_count, "frames": frames,
           "clock_error_us": errors_us,
           "received": {str(k): v for k, v in core.received.items()},
           "applied": {str(k): v for k, v in applied.items()},
           "fetch": fetch.doc() if fetch is not None else None,
           "floor": floor_doc(floor_client)}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    tmp.replace(out)
    return 0


def main(argv: list[str]) -> int:
    """Entry point of both processes (see the module docstring)."""
    if argv[:1] == ["controller"]:
        serve = None
        if "--serve" in argv:       # --serve DIR BUNDLE_ID RATE_MBPS
            i = argv.index("--serve")
            serve = (argv[i + 1], argv[i + 2], argv[i + 3])
        return _controller(argv[1], int(argv[2]), serve)  # type: ignore[arg-type]
    if argv[:1] == ["node"]:
        fetch = None
        if "--fetch" in argv:       # --fetch PORT LIBRARY BUNDLE_ID WORK
            i = argv.index("--fetch")
            fetch = _Fetching(argv[2], int(argv[i + 1]), Path(argv[i + 2]), argv[i + 3],
                              Path(argv[i + 4]), argv[1])
        floor = None
        if "--floor" in argv:       # --floor PUB_PORT ROUTER_PORT GO_FILE
            i = argv.index("--floor")
            floor = (int(argv[i + 1]), int(argv[i + 2]), Path(argv[i + 3]))
        return _node(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]),
                     Path(argv[6]), "--until-synced" in argv[7:], fetch, floor)
    print("usage: _sync_proc controller|node ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
