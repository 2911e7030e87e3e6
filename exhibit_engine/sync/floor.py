"""The floors of ``exhibit bench sync``: the same job done with bare pyzmq, no engine
(here because ``sync`` is the one package that speaks ZeroMQ).

- **Fan-out floor**: a bare ``PUB`` in a process of its own (as the controller is) sends
  the same events at the same rate; each node process receives them on a bare ``SUB`` in
  a thread of its own and notes when. No protocol, no validation, no state.
- **Clock floor**: the same node processes probe a bare ``ROUTER`` in that process that
  stamps each probe and sends it back; a node's estimate is the offset of the probe with
  the shortest round trip among its last :data:`BEST_OF` (best of N, no filtering, no
  slewing). All processes share CLOCK_MONOTONIC, so the estimate is its error.

The server: ``python -m exhibit_engine.sync.floor serve HOST`` prints ``ready PUB
ROUTER`` and serves until its stdin closes: on its ROUTER a probe (a msgpack float) goes
back with the server's time, and ``["send", SEQ]`` publishes one event and is answered
``["ok", SEQ]``. The bench sends those from a bare DEALER, waits for the answer, and times
each from before it sends: one hop to the server, the fan-out and the acknowledgement, the
job of an operator's command to the controller and its event.
:class:`FloorClient` is the nodes' side (a thread started by :mod:`._sync_proc` when the
bench's go file appears); :class:`FloorServer` starts the server and drives it.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgpack

__all__ = ["BEST_OF", "FloorClient", "FloorServer", "PROBE_S", "floor_doc", "main"]

#: Probes a node keeps, and picks the shortest round trip of.
BEST_OF = 8
#: Seconds between two probes (as the engine's steady probing).
PROBE_S = 0.125
_SAMPLE_S = 0.05


class FloorClient:
    """A node's bare SUB and DEALER, in a thread of their own (see the module docstring).

    Attributes:
        received: event seq -> when it arrived (local monotonic).
        errors_us: ``[time, |estimate| in µs]`` every 50 ms once an estimate exists.
    """

    def __init__(self, host: str, pub_port: int, router_port: int) -> None:
        self.endpoints = (f"tcp://{host}:{pub_port}", f"tcp://{host}:{router_port}")
        self.received: dict[int, float] = {}
        self.errors_us: list[list[float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-floor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _run(self) -> None:
        import zmq

        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sub, dealer = ctx.socket(zmq.SUB), ctx.socket(zmq.DEALER)
        try:
            for s in (sub, dealer):
                s.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.connect(self.endpoints[0])
            dealer.connect(self.endpoints[1])
            poller = zmq.Poller()
            poller.register(sub, zmq.POLLIN)
            poller.register(dealer, zmq.POLLIN)
            probes: list[tuple[float, float]] = []      # (round trip, offset)
            next_probe = next_sample = time.monotonic()
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_probe:
                    next_probe = now + PROBE_S
                    try:
                        dealer.send(msgpack.packb(now), zmq.NOBLOCK)
                    except zmq.Again:
                        pass
                if now >= next_sample and probes:
                    next_sample = now + _SAMPLE_S
                    best = min(probes[-BEST_OF:])
                    self.errors_us.append([now, abs(best[1]) * 1e6])
                wait = max(0.0, min(next_probe, next_sample) - time.monotonic())
                for sock, _ in poller.poll(max(1, int(wait * 1000))):
                    if sock is sub:
                        at = time.monotonic()
                        seq, _sent = msgpack.unpackb(sub.recv())
                        self.received.setdefault(int(seq), at)
                    else:
                        t3 = time.monotonic()
                        t0, t1 = msgpack.unpackb(dealer.recv())
                        probes.append((t3 - t0, t1 - (t0 + t3) / 2.0))
                        del probes[:-BEST_OF]
        finally:
            sub.close(linger=0)
            dealer.close(linger=0)
            ctx.term()


class FloorServer:
    """The floor's bare PUB and echoing ROUTER in a process of their own, and the bench's
    bare DEALER that asks it to publish (one hop, as an operator's command).

    Raises:
        SyncError: the server did not start.
    """

    def __init__(self, host: str, go: Path) -> None:
        import subprocess

        import zmq

        from ..errors import SyncError

        self.go = go
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exhibit_engine.sync.floor", "serve", host],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        words = self.proc.stdout.readline().split()
        if words[:1] != ["ready"]:
            self.proc.kill()
            self.proc.wait()
            raise SyncError("the floor's bare server did not start")
        self.pub_port, self.router_port = int(words[1]), int(words[2])
        self._ctx: Any = zmq.Context()
        self._dealer = self._ctx.socket(zmq.DEALER)
        self._dealer.setsockopt(zmq.LINGER, 0)
        self._dealer.connect(f"tcp://{host}:{self.router_port}")

    def send(self, seq: int) -> None:
        """Ask the bare server to publish event ``seq`` and wait for its answer (as an
        operator's command waits for the controller's), 5 s at most."""
        self._dealer.send(msgpack.packb(["send", seq]))
        if self._dealer.poll(5000):
            self._dealer.recv()

    def close(self) -> None:
        """Stop the server (its stdin closes) and the bench's socket."""
        self._dealer.close(linger=0)
        self._ctx.term()
        self.proc.communicate(timeout=30)


def _serve(host: str) -> int:
    import zmq

    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub, router = ctx.socket(zmq.PUB), ctx.socket(zmq.ROUTER)
    for s in (pub, router):
        s.setsockopt(zmq.LINGER, 0)
    pp = pub.bind_to_random_port(f"tcp://{host}")
    rp = router.bind_to_random_port(f"tcp://{host}")
    print("ready", pp, rp, flush=True)
    done = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()            # returns when the bench closes it
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        while not done.is_set():
            if not router.poll(100):
                continue
            peer, body = router.recv_multipart()
            msg = msgpack.unpackb(body)
            if isinstance(msg, list):           # ["send", seq]: publish one event, then
                pub.send(msgpack.packb([msg[1], time.monotonic()]))    # say so (as the
                router.send_multipart([peer, msgpack.packb(["ok", msg[1]])])  # engine)
            else:                               # a probe: t0 back with t1
                router.send_multipart([peer, msgpack.packb([msg, time.monotonic()])])
    finally:
        pub.close(linger=0)
        router.close(linger=0)
        ctx.term()
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"] and len(argv) == 2:
        return _serve(argv[1])
    print("usage: python -m exhibit_engine.sync.floor serve HOST", file=sys.stderr)
    return 2


def floor_doc(client: FloorClient | None) -> dict[str, Any] | None:
    """What a node writes for the floors (``None``: it ran none)."""
    if client is None:
        return None
    return {"received": {str(k): v for k, v in client.received.items()},
            "clock_error_us": client.errors_us}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
