"""Hostile input for a controller in its own process: it keeps serving, memory stays bounded.

A seeded generator makes thousands of multipart messages: random bytes, every message type
truncated, fields of the wrong type, maps and arrays at the limits, deep nesting, extra and
empty frames, ext/bin values, and floods of hellos and node-status reports with random
node ids (some with large ``extra`` maps meant to amplify memory). They go to the
controller's ROUTER. The controller's other socket is a PUB: it receives nothing but
subscriptions, so an XSUB sends it random subscribe/unsubscribe and junk frames.

Memory is read from ``/proc/<pid>/status`` (VmRSS) after a warm-up round and after the
full run; the growth must stay under :data:`RSS_GROWTH_BOUND_KB`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from exhibit_engine.sync.protocol import PROTOCOL_VERSION

pytestmark = [pytest.mark.sync, pytest.mark.e2e]

HOST = "127.0.0.1"
SEED = 20240605
ROUNDS = 4000                 # hostile messages per run (plus the floods below)
FLOOD = 1500                  # hellos and node-status reports with random node ids
RSS_GROWTH_BOUND_KB = 30 * 1024
MAX_NODES = 256               # ControllerCore's default node table size

TYPES = ["hello", "welcome", "ping", "pong", "heartbeat", "node-status", "command", "reply",
         "event", "snapshot-request", "snapshot-part", "snapshot", "key-update"]


def valid_body(rng: random.Random, kind: str) -> dict[str, Any]:
    """A well-formed body of each type (as sent by some peer, not always a request)."""
    t = rng.uniform(0, 1e4)
    return {
        "hello": {"node_id": f"n{rng.randrange(10**6)}", "role": "projector"},
        "welcome": {"session": "s", "seq": 1},
        "ping": {"t0": t},
        "pong": {"t0": t, "t1": t, "t2": t},
        "heartbeat": {"controller_time": t, "anchor": [t, 0.0, 1.0], "seq": 0, "session": "s"},
        "node-status": {"node_id": "left", "frames": 1, "show_time": t, "offset_us": 0.0,
                        "rtt_us": 1.0, "captures": ["a"], "extra": {"fps": 60.0}},
        "command": {"name": rng.choice(["status", "capture", "seek", "select", "nope"]),
                    "args": {"tag": "x", "item": "y", "position": 1.0}, "req": 1},
        "reply": {"ok": True, "data": {}, "error": "", "req": 1},
        "event": {"kind": "capture", "effective_at": t, "args": {}, "seq": 1},
        "snapshot-request": {"req": rng.randrange(2**31)},
        "snapshot-part": {"req": 1, "index": 0},
        "snapshot": {"req": 1, "seq": 0, "count": 1, "parts": 1, "digest": "00" * 32},
        "key-update": {"seq": 1, "key": "anchor", "value": [t, 0.0, 1.0]},
    }[kind]


def junk_value(rng: random.Random) -> Any:
    return rng.choice([None, True, -1, 2**64 - 1, -(2**63), float("nan"), float("inf"),
                       "", "x" * 300, b"bin", msgpack.ExtType(5, b"ext"), [], {}, [1] * 300,
                       {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {"k": {}}}}}}}}}}])


def deep(depth: int, rng: random.Random) -> bytes:
    """``depth`` nested arrays or maps, hand-built (msgpack refuses to pack so deep)."""
    head = b"".join(rng.choice([b"\x91", b"\x81\xa1k"]) for _ in range(depth))
    return head + b"\xc0"


def amplifier(rng: random.Random) -> dict[str, Any]:
    """An ``extra`` near the frame limit made of tiny containers (1 byte each on the wire,
    tens of bytes each as Python objects)."""
    return {f"k{i}": [[] if rng.random() < 0.5 else {} for _ in range(900)] for i in range(64)}


def hostile(rng: random.Random) -> list[bytes]:
    kind = rng.choice(TYPES)
    body = {"v": PROTOCOL_VERSION, **valid_body(rng, kind)}
    packed = msgpack.packb(body)
    roll = rng.randrange(12)
    if roll == 0:                                   # random bytes, 1-3 frames
        return [rng.randbytes(rng.randrange(0, 2000)) for _ in range(rng.randrange(1, 4))]
    if roll == 1:                                   # a valid body, truncated
        return [kind.encode(), packed[:rng.randrange(0, len(packed))]]
    if roll == 2:                                   # one field of the wrong type
        key = rng.choice(list(body))
        body[key] = junk_value(rng)
        return [kind.encode(), msgpack.packb(body, use_bin_type=True)]
    if roll == 3:                                   # a huge map within the frame limit
        big = {f"k{i}": i for i in range(rng.choice([65, 500, 5000]))}
        return [kind.encode(), msgpack.packb({**body, **big})]
    if roll == 4:                                   # deep nesting in a field and as a body
        return [kind.encode(), packed[:-1] + deep(rng.choice([9, 100, 5000]), rng)
                if rng.random() < 0.5 else deep(rng.choice([9, 3000]), rng)]
    if roll == 5:                                   # extra frames
        return [kind.encode(), packed, *[b"x"] * rng.randrange(1, 5)]
    if roll == 6:                                   # empty frames
        return rng.choice([[b""], [b"", b""], [kind.encode(), b""], [b"", packed]])
    if roll == 7:                                   # wrong or missing version
        body["v"] = rng.choice([0, 1, 3, "2", None, 2.0])
        return [kind.encode(), msgpack.packb(body)]
    if roll == 8:                                   # a map with non-string keys
        return [kind.encode(), msgpack.packb({1: 2, b"k": 3, **body}, use_bin_type=True)]
    if roll == 9:                                   # trailing bytes after the body
        return [kind.encode(), packed + rng.randbytes(rng.randrange(1, 10))]
    if roll == 10:                                  # a type frame that is not a type
        return [rng.randbytes(rng.randrange(1, 40)), packed]
    return [kind.encode(), packed]                  # valid (requests answered, rest refused)


def flood(rng: random.Random) -> Iterator[list[bytes]]:
    """Hellos and node-status reports from random node ids, some with amplifying extras."""
    for i in range(FLOOD):
        node_id = f"fake-{rng.getrandbits(64):016x}"
        if i % 3:
            yield [b"hello", msgpack.packb({"v": PROTOCOL_VERSION, "node_id": node_id,
                                            "role": "kiosk"})]
        else:
            extra = amplifier(rng) if i % 2 == 0 else {"fps": 1.0}
            yield [b"node-status", msgpack.packb({
                "v": PROTOCOL_VERSION, "node_id": node_id, "frames": 1, "show_time": 0.0,
                "offset_us": 0.0,
                "rtt_us": 0.0, "captures": ["c" * 200] * 1000 if i % 2 else [],
                "extra": extra})]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def status(make_socket, port: int, req: int) -> tuple[dict[str, Any], float]:
    """Ask for status on a fresh DEALER; return the reply data and how long it took."""
    dealer = make_socket(zmq.DEALER)
    dealer.connect(f"tcp://{HOST}:{port}")
    # Hello first (docs/protocol.md §5): commands from a peer not welcomed are refused.
    dealer.send_multipart([b"hello", msgpack.packb({"v": PROTOCOL_VERSION, "node_id": "desk",
                                                    "role": "operator"})])
    deadline = time.monotonic() + 5.0
    while True:
        assert dealer.poll(max(1, int((deadline - time.monotonic()) * 1000))), "no welcome"
        if dealer.recv_multipart()[0] == b"welcome":
            break
    start = time.monotonic()
    dealer.send_multipart([b"command", msgpack.packb({"v": PROTOCOL_VERSION, "name": "status",
                                                      "req": req})])
    deadline = start + 5.0
    while True:
        assert dealer.poll(max(1, int((deadline - time.monotonic()) * 1000))), "no status reply"
        kind, body = dealer.recv_multipart()
        reply = msgpack.unpackb(body)
        if kind == b"reply" and reply.get("req") == req:
            assert reply["ok"], reply.get("error")
            dealer.close(linger=0)
            return reply["data"], time.monotonic() - start


def send_all(make_socket, port: int, messages: Iterator[list[bytes]]) -> int:
    """Send on one DEALER (blocking at the high-water mark, 5 s timeout); return the count."""
    dealer = make_socket(zmq.DEALER)
    dealer.connect(f"tcp://{HOST}:{port}")
    sent = 0
    for frames in messages:
        dealer.send_multipart(frames)
        sent += 1
        while dealer.poll(0):       # read (and drop) replies so neither side backs up
            dealer.recv_multipart()
    return sent


def test_controller_survives_hostile_frames_with_bounded_memory(
        spawn_controller, free_ports, make_socket) -> None:
    started = time.monotonic()
    proc = spawn_controller(*free_ports(2))
    pid = proc.proc.pid
    rng = random.Random(SEED)

    # Warm up: one round of everything, so allocator pools and caches exist before measuring.
    sent = send_all(make_socket, proc.state_port, (hostile(rng) for _ in range(500)))
    sent += send_all(make_socket, proc.state_port, flood(random.Random(SEED + 1)))
    before_data, _ = status(make_socket, proc.state_port, 1)
    rss_before = rss_kb(pid)

    # The PUB receives only subscriptions: random subscribe/unsubscribe and junk frames.
    xsub = make_socket(zmq.XSUB)
    xsub.connect(f"tcp://{HOST}:{proc.publish_port}")
    for _ in range(2000):
        xsub.send(rng.choice([b"\x01", b"\x00", b""]) + rng.randbytes(rng.randrange(0, 64)))
        xsub.send(b"\x00" + rng.randbytes(rng.randrange(0, 64)))
    xsub.send(b"\x01")                  # everything: heartbeats keep coming during the run

    # The run: thousands of hostile messages and the floods again, from several peers.
    for _ in range(4):
        sent += send_all(make_socket, proc.state_port,
                         (hostile(rng) for _ in range(ROUNDS // 4)))
    sent += send_all(make_socket, proc.state_port, flood(random.Random(SEED + 2)))

    data, took = status(make_socket, proc.state_port, 2)
    rss_after = rss_kb(pid)
    assert proc.proc.poll() is None, "controller process died"
    assert took < 2.0, f"status took {took:.2f} s"
    assert data["malformed"] - before_data["malformed"] >= ROUNDS // 2
    assert data["last_malformed"]
    assert len(data["nodes"]) <= MAX_NODES          # random node ids cannot grow the table
    growth = rss_after - rss_before
    print(f"fuzz: {sent} messages, malformed {data['malformed']}, RSS {rss_before} -> "
          f"{rss_after} kB (+{growth} kB), {time.monotonic() - started:.1f} s")
    assert growth < RSS_GROWTH_BOUND_KB
    # Heartbeats still flow on the PUB to the subscription made amid the junk.
    assert xsub.poll(2000), "no heartbeat after the fuzz"
