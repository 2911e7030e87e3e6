"""The NodeLink agent against a scripted controller: warm-up pings, switch interval.

The controller here is a bare ROUTER/PUB pair driven by the test, so every ping the node
sends is seen and answered exactly once. Waiting is on socket polls with deadlines.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from itertools import pairwise

import pytest
import zmq

from exhibit_engine.show.anchor import ShowAnchor
from exhibit_engine.sync.node import NodeLink
from exhibit_engine.sync.node_core import NodeCore
from exhibit_engine.sync.protocol import (
    Event,
    Heartbeat,
    Hello,
    Message,
    Ping,
    Pong,
    SnapshotRequest,
    Welcome,
    decode,
)
from exhibit_engine.sync.snapshot import snapshot_messages

HOST = "127.0.0.1"


@pytest.fixture
def restore_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


def _serve(router: zmq.Socket[bytes], until: Callable[[list[float]], bool],
           timeout_s: float = 10.0) -> list[float]:
    """Answer hello, snapshot requests and pings until ``until(ping arrival times)``."""
    pings: list[float] = []
    deadline = time.monotonic() + timeout_s
    while not until(pings):
        left = deadline - time.monotonic()
        assert left > 0, f"the node sent only {len(pings)} pings"
        if not router.poll(int(left * 1000) + 1):
            continue
        peer, *frames = router.recv_multipart()
        message = decode(frames)
        now = time.monotonic()
        if isinstance(message, Hello):
            replies: list = [Welcome("s1", 0)]
        elif isinstance(message, SnapshotRequest):
            replies = snapshot_messages(message.req, 0, {"anchor": [now, 0.0, 1.0]})
        elif isinstance(message, Ping):
            pings.append(now)
            replies = [Pong(message.t0, now, time.monotonic())]
        else:
            replies = []
        for reply in replies:
            router.send_multipart([peer, *reply.encode()])
    return pings


def test_timed_probes_follow_a_warm_up_whose_pong_is_no_sample(
        make_socket: Callable[[int], zmq.Socket[bytes]],
        make_node: Callable[..., NodeLink], restore_switch_interval: None) -> None:
    router, pub = make_socket(zmq.ROUTER), make_socket(zmq.PUB)
    state_port = router.bind_to_random_port(f"tcp://{HOST}")
    publish_port = pub.bind_to_random_port(f"tcp://{HOST}")
    link = make_node("n1", state_port, publish_port)
    burst = link.core.burst

    def timed_pairs(pings: list[float]) -> int:
        # After the burst, timed probes are >= 0.2 s apart; a ping < 0.1 s after the one
        # before it is the real probe of a (warm-up, probe) pair.
        timed = pings[burst:]
        return sum(1 for a, b in pairwise(timed) if b - a < 0.1)

    pings = _serve(router, lambda p: timed_pairs(p) >= 3)
    timed = pings[burst:]
    assert len(timed) in (6, 7)          # three pairs (and maybe the next warm-up)

    def samples() -> int:
        with link._lock:
            return link.core.clock.sample_count

    # Pongs are read in order: once the last real probe's pong is a sample, every pong
    # answered has been read. Each burst pong and real probe's pong is a sample; were
    # the warm-up pongs too, there would be 8 + 6.
    deadline = time.monotonic() + 5.0
    while samples() < burst + 3 and time.monotonic() < deadline:
        link.poll(0.05)
    assert samples() == burst + 3


def test_a_link_lowers_the_switch_interval(make_socket: Callable[[int], zmq.Socket[bytes]],
                                           make_node: Callable[..., NodeLink],
                                           restore_switch_interval: None) -> None:
    sys.setswitchinterval(0.005)
    router, pub = make_socket(zmq.ROUTER), make_socket(zmq.PUB)
    make_node("n1", router.bind_to_random_port(f"tcp://{HOST}"),
              pub.bind_to_random_port(f"tcp://{HOST}"))
    assert sys.getswitchinterval() == pytest.approx(NodeLink._SWITCH_S)
    # A lower interval set by the application is kept.
    sys.setswitchinterval(0.0001)
    make_node("n2", router.bind_to_random_port(f"tcp://{HOST}"),
              pub.bind_to_random_port(f"tcp://{HOST}"))
    assert sys.getswitchinterval() == pytest.approx(0.0001)


def test_a_probe_is_stamped_as_it_leaves_and_its_answer_still_matches(
        make_socket: Callable[[int], zmq.Socket[bytes]],
        make_node: Callable[..., NodeLink], restore_switch_interval: None) -> None:
    """The core makes a probe with the agent's loop time; the status, the lock and the
    encoding come between that and the send. The t0 on the wire is read just before the
    send (here every clock reading is 1 ms later than the last, so any reading between
    shows), and the pong that echoes it is still taken as a sample."""
    from exhibit_engine.sync.node_core import NodeCore

    planned: list[float] = []

    class Recording(NodeCore):
        def tick(self, now: float) -> list:
            out = super().tick(now)
            planned.extend(m.t0 for m in out if isinstance(m, Ping))
            return out

    calls = [0]

    def clock() -> float:
        calls[0] += 1
        return time.monotonic() + calls[0] * 1e-3

    router, pub = make_socket(zmq.ROUTER), make_socket(zmq.PUB)
    state_port = router.bind_to_random_port(f"tcp://{HOST}")
    publish_port = pub.bind_to_random_port(f"tcp://{HOST}")
    link = make_node("n1", state_port, publish_port, clock=clock, core=Recording("n1"))
    sent: list[float] = []
    deadline = time.monotonic() + 10.0
    while len(sent) < 12:
        assert time.monotonic() < deadline, f"the node sent only {len(sent)} pings"
        if not router.poll(100):
            continue
        peer, *frames = router.recv_multipart()
        message = decode(frames)
        now = clock()
        replies: list = []
        if isinstance(message, Hello):
            replies = [Welcome("s1", 0)]
        elif isinstance(message, SnapshotRequest):
            replies = snapshot_messages(message.req, 0, {"anchor": [now, 0.0, 1.0]})
        elif isinstance(message, Ping):
            sent.append(message.t0)
            replies = [Pong(message.t0, now, now)]
        for reply in replies:
            router.send_multipart([peer, *reply.encode()])
    made = [t for t in planned if t in set(sent)]
    assert not made, f"probes left with the time the core made them at: {made}"
    # each probe the core made left later (warm-up pings are not the core's; the last
    # may not have arrived yet)
    assert len(planned) >= 8 and all(any(p < s < p + 1.0 for s in sent) for p in planned[:-1])

    def samples() -> int:
        with link._lock:
            return link.core.clock.sample_count
    while samples() < 8 and time.monotonic() < deadline:
        link.poll(0.05)
    assert samples() >= 8, "the answers to restamped probes were not taken"


def test_a_repeated_copy_of_an_event_is_only_a_sign_of_life(
        make_socket: Callable[[int], zmq.Socket[bytes]],
        make_node: Callable[..., NodeLink]) -> None:
    """The controller repeats each event in the next heartbeats; a link hands the core
    the first copy only (the others count as hearing the controller), and a new session
    (which numbers its events anew) starts afresh."""

    class Counting(NodeCore):
        def __init__(self, node_id: str) -> None:
            super().__init__(node_id)
            self.events = self.beats = self.heard_copies = 0
            self.last_beat: float | None = None

        def handle(self, message: Message, now: float) -> list[Message]:
            self.events += isinstance(message, Event)
            if isinstance(message, Heartbeat):
                self.beats += 1
                self.last_beat = message.controller_time
            return super().handle(message, now)

        def heard(self, now: float) -> None:
            self.heard_copies += 1
            super().heard(now)

    router, pub = make_socket(zmq.ROUTER), make_socket(zmq.PUB)
    state_port = router.bind_to_random_port(f"tcp://{HOST}")
    publish_port = pub.bind_to_random_port(f"tcp://{HOST}")
    core = Counting("n1")
    make_node("n1", state_port, publish_port, core=core)

    def beat_until(session: str) -> None:
        """Publish heartbeats stamped now until the node has handled one of them: one
        PUB keeps order, so whatever was published before has been handled too (a beat
        still in flight from an earlier call does not count)."""
        stamp = time.monotonic()
        deadline = stamp + 10.0
        while core.last_beat != stamp:
            assert time.monotonic() < deadline, "the node never heard a heartbeat"
            pub.send_multipart(Heartbeat(stamp, ShowAnchor(0.0, 0.0, 1.0), 0,
                                         session).encode())
            router.poll(20)         # (a hello may come; it needs no answer here)

    event = Event("capture", 1.0, {"tag": "a"}, 5, 2.0).encode()
    beat_until("s1")
    for _ in range(3):
        pub.send_multipart(event)
    beat_until("s1")                    # the copies came first
    assert (core.events, core.heard_copies) == (1, 2)
    beat_until("s2")                    # the controller restarted: a new session
    pub.send_multipart(event)
    beat_until("s2")
    assert (core.events, core.heard_copies) == (2, 2)
