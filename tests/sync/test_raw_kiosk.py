"""A kiosk written only from ``docs/protocol.md``: raw pyzmq and msgpack, none of our classes.

The controller and the two projector nodes are ours (fixtures from ``conftest.py``); the
kiosk side below uses nothing but ``zmq``, ``msgpack`` and the standard library, and every
step cites the section of the protocol page it follows. If this test needs something the
page does not say, the page is wrong.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
import zmq

pytestmark = pytest.mark.sync

HOST = "127.0.0.1"


class RawKiosk:
    """A peer with role ``"kiosk"``, built from the protocol page alone."""

    def __init__(self, make_socket: Callable[[int], zmq.Socket[bytes]],
                 state_port: int, publish_port: int, idle: Callable[[], None]) -> None:
        self.idle = idle    # run while waiting, like a kiosk's UI loop
        # §1, §5 step 1: SUB first, subscribed to the topics a kiosk needs; DEALER second.
        self.sub = make_socket(zmq.SUB)
        self.sub.setsockopt(zmq.MAXMSGSIZE, 65536)
        for topic in (b"heartbeat", b"key-update", b"event"):
            self.sub.setsockopt(zmq.SUBSCRIBE, topic)
        self.sub.connect(f"tcp://{HOST}:{publish_port}")
        self.dealer = make_socket(zmq.DEALER)
        self.dealer.setsockopt(zmq.IMMEDIATE, 1)
        self.dealer.setsockopt(zmq.MAXMSGSIZE, 65536)
        self.dealer.connect(f"tcp://{HOST}:{state_port}")
        self.events: dict[int, dict[str, Any]] = {}      # §6: deduplicated by seq
        self.session = ""
        self._req = 0
        self._snapshot_req = 0

    # §2: frame 0 the type in ASCII, frame 1 one msgpack map with "v": 2.
    def send(self, kind: str, **body: Any) -> bool:
        frames = [kind.encode("ascii"), msgpack.packb({"v": 2, **body})]
        try:
            self.dealer.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:       # §1: no controller connected yet; dropped, sent again later
            return False
        return True

    def _read_sub(self) -> None:
        while self.sub.poll(0):
            kind, body = self.sub.recv_multipart()
            msg = msgpack.unpackb(body)
            assert msg["v"] == 2
            if kind == b"event":
                self.events.setdefault(msg["seq"], msg)

    def recv(self, want: bytes, timeout: float, resend: Callable[[], object] | None = None,
             every: float = 0.2) -> list[bytes]:
        """Wait for a DEALER message of type ``want``, re-sending every ``every`` s."""
        deadline = time.monotonic() + timeout
        next_send = time.monotonic()
        while time.monotonic() < deadline:
            if resend is not None and time.monotonic() >= next_send:
                resend()
                next_send = time.monotonic() + every
            self.idle()
            self._read_sub()
            if self.dealer.poll(10):
                frames = self.dealer.recv_multipart()
                if frames[0] == want:
                    return frames
        raise AssertionError(f"no {want.decode()} within {timeout} s")

    def join(self) -> None:
        # §5 step 2: hello every 0.2 s until a welcome arrives.
        _, body = self.recv(b"welcome", 10.0, lambda: self.send(
            "hello", node_id="kiosk-lobby", role="kiosk"))
        welcome = msgpack.unpackb(body)
        assert isinstance(welcome["session"], str) and isinstance(welcome["seq"], int)
        self.session = welcome["session"]

    def snapshot(self, attempts: int = 5) -> tuple[int, dict[str, Any]]:
        # §5 steps 3-4: snapshot-request with a new nonce "req"; collect the
        # snapshot-parts of that req in index order, then check the closing snapshot's
        # parts, count and digest. Anything wrong, or no answer in 1 s: ask again.
        for _ in range(attempts):
            result = self.try_snapshot()
            if result is not None:
                return result
        raise AssertionError(f"no verified snapshot in {attempts} attempts")

    def try_snapshot(self, timeout: float = 1.0) -> tuple[int, dict[str, Any]] | None:
        self._snapshot_req += 1
        req = self._snapshot_req
        assert self.send("snapshot-request", req=req)
        parts: list[bytes] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.idle()
            self._read_sub()
            if not self.dealer.poll(10):
                continue
            frames = self.dealer.recv_multipart()
            head = msgpack.unpackb(frames[1])
            if head.get("req") != req:
                continue                      # an answer to an older request: ignored
            if frames[0] == b"snapshot-part":
                if head["index"] != len(parts):
                    return None               # a part went missing: ask again
                parts.append(frames[2])
            elif frames[0] == b"snapshot":
                items: dict[str, Any] = {}
                for frame in parts:
                    items.update(msgpack.unpackb(frame))
                if (head["parts"] != len(parts) or head["count"] != len(items)
                        or hashlib.sha256(b"".join(parts)).hexdigest() != head["digest"]):
                    return None
                return head["seq"], items
        return None

    def command(self, name: str, **args: Any) -> dict[str, Any]:
        # §7: a new req for each command; the reply echoes it.
        self._req += 1
        req = self._req
        assert self.send("command", name=name, args=args, req=req)
        deadline = time.monotonic() + 5.0
        while True:
            _, body = self.recv(b"reply", deadline - time.monotonic())
            reply = msgpack.unpackb(body)
            if reply.get("req", 0) == req:
                assert reply["ok"], reply.get("error")
                return reply.get("data", {})


def test_raw_kiosk_selects_an_item_and_every_node_follows(
        start_controller, make_node, make_socket, wait_for) -> None:
    ctl = start_controller()
    links = {name: make_node(name, ctl.state_port, ctl.publish_port)
             for name in ("left", "right")}
    followed: dict[str, tuple[float, dict[str, Any]]] = {}   # node -> (show time, event)
    frames = {name: 0 for name in links}

    def render_frame() -> None:
        """One frame of each node's render loop: apply due events, report status."""
        for name, link in links.items():
            link.poll(0.0)
            show = link.show_time()
            if show is None:
                continue
            frames[name] += 1
            for event in link.take_events(show):
                if event.kind == "select":
                    followed[name] = (show, {"effective_at": event.effective_at,
                                             "item": event.args["item"], "seq": event.seq})
            selected = followed.get(name, (0.0, {"item": ""}))[1]["item"]
            link.report(frames[name], show, extra={"selected": selected})

    kiosk = RawKiosk(make_socket, ctl.state_port, ctl.publish_port, render_frame)
    kiosk.join()
    # The kiosk waits until both projectors are listed and reporting (§7 status).
    deadline = time.monotonic() + 10.0
    while True:
        nodes = {n["id"]: n for n in kiosk.command("status")["nodes"]}
        if all(nodes.get(name, {}).get("frames", 0) > 0 for name in links):
            break
        assert time.monotonic() < deadline, f"projectors never reported: {nodes}"
    assert nodes["kiosk-lobby"]["role"] == "kiosk"

    data = kiosk.command("select", item="whale-skeleton")
    effective_at, event_seq = data["effective_at"], data["seq"]

    # Every node follows, and the kiosk sees it in status (extra.selected) -- §6, §7.
    deadline = time.monotonic() + 10.0
    while True:
        nodes = {n["id"]: n for n in kiosk.command("status")["nodes"]}
        if all(nodes[name]["extra"].get("selected") == "whale-skeleton" for name in links):
            break
        assert time.monotonic() < deadline, f"nodes did not follow: {nodes}"

    # Both nodes got the same event: same seq, same effective_at, applied at or after it.
    assert set(followed) == set(links)
    for name, (applied_show, event) in followed.items():
        assert event == {"effective_at": effective_at, "item": "whale-skeleton",
                         "seq": event_seq}, name
        assert applied_show >= effective_at
    # Both applied it within a frame or two of effective_at (they run the same show clock).
    applied = [show for show, _ in followed.values()]
    assert max(applied) - min(applied) < 0.1

    # The kiosk saw the event on its SUB too (§6), with the same effective_at.
    assert kiosk.events[event_seq]["kind"] == "select"
    assert kiosk.events[event_seq]["effective_at"] == effective_at
    assert kiosk.events[event_seq]["args"] == {"item": "whale-skeleton"}

    # The selection is session state (§5): in a snapshot, and replicated to both nodes.
    seq, items = kiosk.snapshot()
    expected = {"item": "whale-skeleton", "selected_at": effective_at}
    assert items["selected_item"] == expected and seq == data["state_seq"]
    assert wait_for(lambda: all(link.session_state().get("selected_item") == expected
                                for link in links.values()), links.values())


def test_raw_kiosk_bad_select_is_refused_with_a_reason(start_controller, make_socket) -> None:
    ctl = start_controller()
    kiosk = RawKiosk(make_socket, ctl.state_port, ctl.publish_port, lambda: None)
    kiosk.join()
    kiosk._req += 1
    assert kiosk.send("command", name="select", args={"item": ""}, req=kiosk._req)
    _, body = kiosk.recv(b"reply", 5.0)
    reply = msgpack.unpackb(body)
    assert reply["ok"] is False and reply["req"] == kiosk._req
    assert reply["error"].startswith("select:") and "'item'" in reply["error"]
