"""Controller, nodes and operator over real ZeroMQ sockets on 127.0.0.1 (controller in a
thread). Waiting is on socket polls with deadlines, never on sleep."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
import zmq

from exhibit_engine.errors import ProtocolError, SyncError, SyncTimeout
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.controller import ControllerServer
from exhibit_engine.sync.kiosk import KioskClient
from exhibit_engine.sync.node import NodeLink
from exhibit_engine.sync.operator import OperatorClient

from .scripted_controller import ScriptedController

pytestmark = pytest.mark.sync

HOST = "127.0.0.1"


def joined_and_synced(*links: NodeLink) -> Callable[[], bool]:
    return lambda: all(link.joined and link.synced for link in links)


def test_node_started_before_controller_joins(start_controller, make_node, free_ports,
                                              wait_for, run_for) -> None:
    state_port, publish_port = free_ports(2)
    link = make_node("left", state_port, publish_port)
    run_for(0.3, [link])                       # nobody there: nothing blocks, nothing joins
    assert not link.joined and not link.synced and link.show_time() is None
    link.report(1, 0.0, [])                    # nobody to send it to: dropped, no error
    start_controller(state_port, publish_port)
    assert wait_for(joined_and_synced(link), [link], timeout=5.0)
    show = link.show_time()
    assert show is not None and 0.0 <= show < 5.0


def test_node_started_after_controller_joins(start_controller, make_node, wait_for) -> None:
    ctrl = start_controller()
    link = make_node("left", ctrl.state_port, ctrl.publish_port)
    assert wait_for(joined_and_synced(link), [link], timeout=5.0)
    with OperatorClient(HOST, ctrl.state_port) as op:
        status = op.command("status")
    nodes = [n for n in status["nodes"] if n["role"] == "projector"]
    assert [n["id"] for n in nodes] == ["left"]
    assert nodes[0]["state"] == "joined"


def test_offset_within_a_millisecond_on_loopback(start_controller, make_node,
                                                 wait_for) -> None:
    ctrl = start_controller()
    link = make_node("left", ctrl.state_port, ctrl.publish_port)
    assert wait_for(lambda: link.synced and link.core.clock.sample_count >= 8, [link],
                    timeout=5.0, step=0.005)
    # Both ends read time.monotonic, so the true offset is 0.
    assert abs(link.offset_us) < 1000.0
    assert 0.0 < link.rtt_us < 50_000.0
    with OperatorClient(HOST, ctrl.state_port) as op:
        controller_show = op.command("status")["show_time"]
    node_show = link.show_time()
    assert node_show is not None and abs(node_show - controller_show) < 0.1


def test_status_reports_reach_the_controller(start_controller, make_node, wait_for) -> None:
    ctrl = start_controller()
    link = make_node("left", ctrl.state_port, ctrl.publish_port)
    assert wait_for(joined_and_synced(link), [link])
    with OperatorClient(HOST, ctrl.state_port) as op:

        def reported() -> bool:
            show = link.show_time() or 0.0
            link.report(77, show, ["cap-a"], {"fps": 60.0})
            node = {n["id"]: n for n in op.command("status")["nodes"]}["left"]
            return node["frames"] == 77 and node["captures"] == ["cap-a"]

        assert wait_for(reported, [link], timeout=5.0, step=0.05)


def test_stopped_controller_leaves_show_time_running(start_controller, make_node,
                                                     wait_for, run_for) -> None:
    ctrl = start_controller()
    link = make_node("left", ctrl.state_port, ctrl.publish_port)
    assert wait_for(joined_and_synced(link), [link])
    ctrl.stop()
    t0, s0 = time.monotonic(), link.show_time()
    run_for(0.5, [link])
    t1, s1 = time.monotonic(), link.show_time()
    assert s0 is not None and s1 is not None
    assert s1 - s0 == pytest.approx(t1 - t0, abs=0.01)
    assert link.synced


def test_node_rejoins_a_restarted_controller(start_controller, make_node,
                                             wait_for) -> None:
    first = start_controller()
    ports = first.state_port, first.publish_port
    link = make_node("left", *ports)
    assert wait_for(joined_and_synced(link), [link])
    old_session = link.core.session
    first.stop()
    second = start_controller(*ports)
    assert wait_for(lambda: link.joined and link.core.session != old_session, [link])
    assert second.server.core is not None
    assert link.core.session == second.server.core.session
    # The new controller's show restarted at 0; the node follows it.
    assert wait_for(lambda: (link.show_time() or 99.0) < 5.0, [link])


def test_capture_delivered_once_to_two_nodes(start_controller, make_node, wait_for) -> None:
    ctrl = start_controller()
    links = [make_node(name, ctrl.state_port, ctrl.publish_port) for name in ("left", "right")]
    assert wait_for(joined_and_synced(*links), links)
    with OperatorClient(HOST, ctrl.state_port) as op:
        reply = op.command("capture", tag="t1", delay=0.3)
    effective_at = reply["effective_at"]
    taken: dict[str, list[tuple[float, p.Event]]] = {"left": [], "right": []}

    def frame() -> bool:
        for name, link in zip(("left", "right"), links):
            show = link.show_time()
            assert show is not None
            taken[name] += [(show, e) for e in link.take_events(show)]
        # Run on until the controller has stopped repeating the event in its heartbeats.
        return min(link.show_time() or 0.0 for link in links) > effective_at + 1.2

    assert wait_for(frame, links, timeout=5.0, step=0.004)
    for name in ("left", "right"):
        assert len(taken[name]) == 1, name
        show, event = taken[name][0]
        assert event.kind == "capture" and event.args == {"tag": "t1"}
        assert event.effective_at == effective_at
        assert effective_at <= show < effective_at + 0.1
    assert taken["left"][0][1] == taken["right"][0][1]


def test_seek_reaches_nodes_and_late_joiners(start_controller, make_node, wait_for) -> None:
    ctrl = start_controller()
    early = make_node("left", ctrl.state_port, ctrl.publish_port)
    assert wait_for(joined_and_synced(early), [early])
    with OperatorClient(HOST, ctrl.state_port) as op:
        assert op.command("seek", position=1000.0, delay=0.1)["seq"] == 1
    late = make_node("right", ctrl.state_port, ctrl.publish_port)
    links = [early, late]
    assert wait_for(lambda: all(link.core.state_seq == 1 and link.synced
                                and 1000.0 <= (link.show_time() or 0.0) < 1002.0
                                for link in links), links)


def test_hostile_frames_do_not_stop_the_controller(start_controller, make_socket,
                                                   make_node, wait_for) -> None:
    ctrl = start_controller()
    rng = random.Random(99)
    dealer = make_socket(zmq.DEALER)
    dealer.connect(f"tcp://{HOST}:{ctrl.state_port}")
    valid = [m.encode() for m in (p.Ping(1.0), p.Hello("x"), p.Command("status"))]
    sent = 0
    for i in range(3000):
        kind = i % 4
        if kind == 0:
            frames = [rng.randbytes(rng.randint(0, 64)) for _ in range(rng.randint(1, 5))]
        elif kind == 1:
            good = rng.choice(valid)
            frames = [good[0], good[1][:rng.randrange(len(good[1]))]]      # truncated
        elif kind == 2:
            frames = [rng.choice(list(p._DECODERS)), b"\x8f" + rng.randbytes(30)]
        else:
            frames = [b"ping", msgpack.packb({"v": 9, "t0": 1.0})]          # wrong version
        dealer.send_multipart(frames)
        sent += 1
    # Also a few frames over the 64 KiB limit from a second peer (zmq disconnects it).
    big = make_socket(zmq.DEALER)
    big.connect(f"tcp://{HOST}:{ctrl.state_port}")
    for _ in range(3):
        big.send_multipart([b"ping", b"\x00" * (p.MAX_FRAME_BYTES + 10)])
    link = make_node("left", ctrl.state_port, ctrl.publish_port)
    with OperatorClient(HOST, ctrl.state_port) as op:
        assert wait_for(lambda: op.command("status")["malformed"] >= sent * 0.95, [link],
                        timeout=10.0, step=0.05)
        assert wait_for(joined_and_synced(link), [link])
        assert "left" in {n["id"] for n in op.command("status")["nodes"]}
    assert ctrl.thread.is_alive()


def test_operator_times_out_naming_the_controller(free_ports) -> None:
    (port,) = free_ports(1)
    with OperatorClient(HOST, port, timeout_s=0.2) as op:
        started = time.monotonic()
        with pytest.raises(SyncTimeout) as info:
            op.command("status")
        assert time.monotonic() - started < 2.0
    assert info.value.peer == f"tcp://{HOST}:{port}"
    assert f"tcp://{HOST}:{port}" in str(info.value)


def test_operator_refused_command_and_bad_reply(start_controller, make_socket,
                                                free_ports) -> None:
    ctrl = start_controller()
    with OperatorClient(HOST, ctrl.state_port) as op:
        with pytest.raises(SyncError, match="unknown command 'nope'"):
            op.command("nope")
        with pytest.raises(SyncError, match="'tag'"):
            op.command("capture")
    # A fake controller that answers with garbage.
    (port,) = free_ports(1)
    fake = make_socket(zmq.ROUTER)
    fake.bind(f"tcp://{HOST}:{port}")
    result: dict[str, Any] = {}

    def answer() -> None:
        frames = fake.recv_multipart()
        fake.send_multipart([frames[0], b"reply", b"\xc1garbage"])
        result["done"] = True

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        with OperatorClient(HOST, port, timeout_s=3.0) as op, pytest.raises(ProtocolError):
            op.command("status")
    finally:
        thread.join(timeout=5.0)
    assert result.get("done")


def test_a_request_id_is_kept_across_the_hello_first_resend() -> None:
    """The caller's id goes on the wire, the same on the resend after ``hello_first``
    (a hello between them); ``""`` sends no id; by default each call has a new one."""
    refused_once: list[int] = []

    def answer(message: p.Message) -> p.Message | None:
        if isinstance(message, p.Hello):
            return p.Welcome("s1", 0)
        assert isinstance(message, p.Command)
        if message.name == "select" and not refused_once:
            refused_once.append(message.req)     # "restarted": it forgot the client
            return p.Reply(False, {"hello_first": True}, "say hello first", message.req)
        return p.Reply(True, {"id": message.id}, req=message.req)

    with ScriptedController(answer) as ctl, \
            KioskClient(HOST, ctl.port, "kiosk-1", timeout_s=5.0) as kiosk:
        assert kiosk.command("select", request_id="tap-42", item="stone") == {"id": "tap-42"}
        assert [type(m).__name__ for m in ctl.received] == ["Hello", "Command", "Hello",
                                                             "Command"]
        assert [c.id for c in ctl.commands()] == ["tap-42", "tap-42"]
        assert kiosk.sent == 2                  # both commands went; hellos do not count
        assert kiosk.command("status", request_id="") == {"id": ""}
        kiosk.command("touch")
        kiosk.command("touch")
        ids = [c.id for c in ctl.commands("touch")]
        assert len(set(ids)) == 2 and all(len(i) == 16 for i in ids)
        assert kiosk.sent == 5
        with pytest.raises(ValueError, match="256"):
            kiosk.command("touch", request_id="x" * 257)
        assert kiosk.sent == 5


def test_a_command_sent_twice_with_one_request_id_acts_once(start_controller) -> None:
    ctrl = start_controller()
    with OperatorClient(HOST, ctrl.state_port) as op:
        first = op.command("select", request_id="tap-1", item="stone")
        again = op.command("select", request_id="tap-1", item="stone")
        other = op.command("select", request_id="tap-2", item="vase")
    assert "repeated" not in first and again == {**first, "repeated": True}
    assert other["seq"] == first["seq"] + 1          # one select event between them
    assert op.sent == 3


def test_serve_stops_promptly_and_closes(start_controller, controller_settings) -> None:
    ctrl = start_controller()
    ctrl.stop(timeout=2.0)
    assert not ctrl.thread.is_alive()
    # The ports are free again: a second server can bind them.
    again = ControllerServer(controller_settings(ctrl.state_port, ctrl.publish_port))
    again.bind()
    again.close()


def test_port_in_use_is_a_sync_error(start_controller, controller_settings) -> None:
    ctrl = start_controller()
    server = ControllerServer(controller_settings(ctrl.state_port, 0))
    with pytest.raises(SyncError, match="cannot listen"):
        server.bind()


def test_closed_link_refuses_poll(make_node, free_ports) -> None:
    link = make_node("left", *free_ports(2))
    link.close()
    link.close()
    with pytest.raises(SyncError):
        link.poll()
    link.report(1, 0.0, [])                    # harmless after close
    assert not [t for t in threading.enumerate() if t.name.startswith("exhibit-sync-")]


def test_every_node_applies_a_back_on_the_frame_it_jumps(start_controller, make_node,
                                                         wait_for) -> None:
    """Issue 12: after ``back`` the cue event's time was already behind the show time of
    the anchor every node still held, so each node applied it on whatever frame it
    arrived. Now each node applies it on its first frame of the new anchor."""
    from exhibit_engine.config import CueConfig, ShowConfig

    cues = (CueConfig("intro", "b", "s1", 10.0), CueConfig("hall", "b", "s2", 20.0))
    ctrl = start_controller(show=ShowConfig("two", {}, (), cues))
    links = [make_node(name, ctrl.state_port, ctrl.publish_port) for name in ("left", "right")]
    assert wait_for(joined_and_synced(*links), links)
    with OperatorClient(HOST, ctrl.state_port) as op:
        op.command("seek", position=15.0, delay=0.05)        # inside "hall"
        assert wait_for(lambda: all((link.show_time() or 0.0) > 15.2 for link in links), links)
        frames: dict[str, list[tuple[float, list[p.Event]]]] = {"left": [], "right": []}
        reply = op.command("back", delay=0.3)                  # to "intro", at 0 s
    assert reply["cue"] == "intro"

    def frame() -> bool:
        for name, link in zip(("left", "right"), links):
            times = link.frame_time()
            assert times is not None
            cues_now = [e for e in link.take_events(*times) if e.seq in reply["events"]]
            frames[name].append((times[0], cues_now))
        return all(f[-1][0] < 5.0 and len(f) > 1 and f[-1][0] > 0.3 for f in frames.values())

    assert wait_for(frame, links, timeout=5.0, step=0.004)
    for name, seen in frames.items():
        applied = [i for i, (_, events) in enumerate(seen) if events]
        jumped = next(i for i, (show, _) in enumerate(seen) if show < 5.0)
        assert applied == [jumped], (name, applied, jumped)
        (event,) = seen[jumped][1]
        assert event.args["id"] == "intro" and event.effective_at == 0.0
        assert 0.0 <= seen[jumped][0] < 0.1          # the jump frame shows the cue's start
        assert seen[jumped - 1][0] > 15.0            # and the frame before, the old cue
