"""ControllerCore as a pure state machine: messages and times in, actions out."""

from __future__ import annotations

from typing import Any

import pytest

from exhibit_engine.errors import ProtocolError
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.clock import ShowAnchor
from exhibit_engine.sync.controller import ControllerCore, _encode


@pytest.fixture
def core() -> ControllerCore:
    return ControllerCore(now=1000.0, session="sess", heartbeat_s=0.2, lost_after_s=3.0)


def command(core: ControllerCore, name: str, now: float, **args: Any) -> tuple[p.Reply, tuple]:
    actions = core.handle(b"op", p.Command(name, args, 7), now)
    (reply,) = actions.replies
    assert isinstance(reply, p.Reply) and reply.req == 7
    return reply, actions.publish


def test_show_starts_at_zero_when_the_controller_starts(core: ControllerCore) -> None:
    assert core.anchor == ShowAnchor(1000.0, 0.0, 1.0)
    assert core.show_time(1000.0) == 0.0
    assert core.show_time(1012.5) == 12.5
    assert core.state["anchor"] == [1000.0, 0.0, 1.0]


def test_hello_is_welcomed(core: ControllerCore) -> None:
    actions = core.handle(b"r1", p.Hello("left"), 1000.1)
    assert actions.replies == (p.Welcome("sess", 0),)
    assert core.nodes["left"].role == "projector"


def test_ping_is_answered_with_receive_time(core: ControllerCore) -> None:
    actions = core.handle(b"r1", p.Ping(5.0), 1000.5)
    assert actions.replies == (p.Pong(5.0, 1000.5, 1000.5),)


def test_snapshot_carries_the_anchor(core: ControllerCore) -> None:
    (snap,) = core.handle(b"r1", p.SnapshotRequest(), 1000.1).replies
    assert isinstance(snap, p.Snapshot)
    assert snap.seq == 0 and snap.count == 1
    assert p.decode(snap.encode()) == snap


def test_heartbeat_on_schedule(core: ControllerCore) -> None:
    (beat,) = core.tick(1000.0).publish
    assert beat == p.Heartbeat(1000.0, core.anchor, 0, "sess")
    assert core.tick(1000.1).publish == ()
    assert core.seconds_to_next_tick(1000.1) == pytest.approx(0.1)
    assert len(core.tick(1000.2).publish) == 1
    # After a long stall, one beat, not a burst of catch-up beats.
    assert len(core.tick(1010.0).publish) == 1
    assert core.tick(1010.05).publish == ()


def test_status_lists_nodes_and_marks_lost_after_three_seconds(core: ControllerCore) -> None:
    core.handle(b"r1", p.Hello("left"), 1000.0)
    core.handle(b"r1", p.NodeStatus("left", 120, 2.0, -15.0, 250.0, ("c1",)), 1001.0)
    core.handle(b"r2", p.Hello("right"), 1001.0)
    reply, _ = command(core, "status", 1002.0)
    assert reply.ok
    nodes = {n["id"]: n for n in reply.data["nodes"]}
    assert nodes["left"] == {"id": "left", "role": "projector", "state": "joined",
                             "frames": 120, "show_time": 2.0, "offset_us": -15.0,
                             "rtt_us": 250.0, "captures": ["c1"], "extra": {},
                             "last_seen_s": 1.0}
    assert reply.data["show_time"] == pytest.approx(2.0)
    # A ping from the same routing id keeps "right" alive; "left" goes silent.
    core.handle(b"r2", p.Ping(1.0), 1004.5)
    reply, _ = command(core, "status", 1004.5)
    states = {n["id"]: n["state"] for n in reply.data["nodes"]}
    assert states == {"left": "lost", "right": "joined"}
    # "left" comes back.
    core.handle(b"r9", p.NodeStatus("left", 130, 4.0, 0.0, 0.0), 1005.0)
    reply, _ = command(core, "status", 1005.0)
    assert {n["id"]: n["state"] for n in reply.data["nodes"]}["left"] == "joined"


def test_capture_publishes_an_event_in_the_future(core: ControllerCore) -> None:
    reply, published = command(core, "capture", 1010.0, tag="shot", delay=0.75)
    assert reply.ok and reply.data["effective_at"] == pytest.approx(10.75)
    (event,) = published
    assert event == p.Event("capture", reply.data["effective_at"], {"tag": "shot"}, 1)
    reply2, (event2,) = command(core, "capture", 1011.0, tag="again")
    assert event2.seq == 2 and event2.effective_at == pytest.approx(11.5)   # default delay


def test_pending_events_repeat_in_heartbeats_until_past(core: ControllerCore) -> None:
    _, (event,) = command(core, "capture", 1000.0, tag="x", delay=0.5)
    assert event in core.tick(1000.0).publish
    assert event in core.tick(1001.0).publish         # 0.5 s past: still within grace
    assert event not in core.tick(1002.0).publish     # long past: no longer repeated


@pytest.mark.parametrize("args, fragment", [
    ({}, "'tag'"),
    ({"tag": ""}, "'tag'"),
    ({"tag": 5}, "'tag'"),
    ({"tag": "x", "delay": -1}, "'delay'"),
    ({"tag": "x", "delay": True}, "'delay'"),
    ({"tag": "x", "delay": "soon"}, "'delay'"),
    ({"tag": "x", "delay": 1e9}, "'delay'"),
    ({"tag": "x", "colour": "red"}, "unknown argument 'colour'"),
])
def test_capture_rejects_bad_arguments(core: ControllerCore, args: dict[str, Any],
                                       fragment: str) -> None:
    reply, published = command(core, "capture", 1000.0, **args)
    assert not reply.ok and fragment in reply.error and reply.error.startswith("capture:")
    assert published == ()


def test_unknown_command(core: ControllerCore) -> None:
    reply, _ = command(core, "self-destruct", 1000.0)
    assert not reply.ok and "unknown command 'self-destruct'" in reply.error
    assert "status" in reply.error


def test_seek_updates_state_and_publishes_key_update(core: ControllerCore) -> None:
    reply, (update,) = command(core, "seek", 1005.0, position=100.0, delay=0.25)
    assert reply.ok and reply.data["seq"] == 1
    assert update == p.KeyUpdate(1, "anchor", [1005.25, 100.0, 1.0])
    assert core.show_time(1005.25) == 100.0
    (beat,) = core.tick(1005.3).publish
    assert beat.seq == 1 and beat.anchor == ShowAnchor(1005.25, 100.0, 1.0)
    (snap,) = core.handle(b"r", p.SnapshotRequest(), 1005.3).replies
    assert isinstance(snap, p.Snapshot) and snap.seq == 1
    assert snap.items["anchor"] == [1005.25, 100.0, 1.0]
    bad, published = command(core, "seek", 1005.0)
    assert not bad.ok and "'position'" in bad.error and published == ()


def test_select_publishes_an_event_and_sets_session_state(core: ControllerCore) -> None:
    reply, (event, update) = command(core, "select", 1010.0, item="whale")
    assert reply.ok and reply.data["effective_at"] == pytest.approx(10.3)   # default delay
    assert event == p.Event("select", reply.data["effective_at"], {"item": "whale"}, 1)
    value = {"item": "whale", "selected_at": event.effective_at}
    assert update == p.KeyUpdate(1, "selected_item", value)
    assert reply.data["seq"] == 1 and reply.data["state_seq"] == 1 == core.seq
    assert event in core.tick(1010.0).publish          # repeated like every pending event
    (snap,) = core.handle(b"r", p.SnapshotRequest(), 1010.1).replies
    assert isinstance(snap, p.Snapshot) and snap.items["selected_item"] == value
    # Events and state share nothing but the clock: a capture takes the next event seq.
    _, (capture,) = command(core, "capture", 1011.0, tag="t")
    assert capture.seq == 2 and core.seq == 1


@pytest.mark.parametrize("args, fragment", [
    ({}, "'item'"),
    ({"item": ""}, "'item'"),
    ({"item": ["whale"]}, "'item'"),
    ({"item": "x" * 129}, "'item'"),
    ({"item": "x", "delay": -0.1}, "'delay'"),
    ({"item": "x", "colour": "red"}, "unknown argument 'colour'"),
])
def test_select_rejects_bad_arguments(core: ControllerCore, args: dict[str, Any],
                                      fragment: str) -> None:
    reply, published = command(core, "select", 1000.0, **args)
    assert not reply.ok and fragment in reply.error and reply.error.startswith("select:")
    assert published == () and core.seq == 0 and "selected_item" not in core.state


def test_malformed_input_is_counted(core: ControllerCore) -> None:
    core.note_malformed(b"x", ProtocolError("junk"))
    # A controller-to-node message sent to the controller is not a request.
    assert core.handle(b"x", p.Heartbeat(1.0, core.anchor, 0, "s"), 1000.0).replies == ()
    reply, _ = command(core, "status", 1000.0)
    assert reply.data["malformed"] == 2
    assert "Heartbeat is not a request" in reply.data["last_malformed"]


def test_node_table_is_bounded() -> None:
    core = ControllerCore(now=0.0, session="s", max_nodes=4)
    for i in range(50):
        core.handle(f"r{i}".encode(), p.Hello(f"n{i}"), float(i))
    assert len(core.nodes) == 4
    assert set(core.nodes) == {"n46", "n47", "n48", "n49"}


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        ControllerCore(now=0.0, session="s", heartbeat_s=0.0)


def test_oversized_reply_becomes_an_error_reply() -> None:
    frames = _encode(p.Reply(True, {"blob": "y" * 70_000}, req=4))
    assert frames is not None
    reply = p.decode(frames)
    assert isinstance(reply, p.Reply)
    assert not reply.ok and reply.req == 4 and "larger than" in reply.error
    assert _encode(p.Event("x", 1.0, {"blob": "y" * 70_000}, 1)) is None


def test_hostile_reports_are_bounded_and_status_always_fits_a_frame(core: ControllerCore) -> None:
    for i in range(256):
        core.handle(b"r%d" % i, p.NodeStatus(f"{'n' * 200}{i:03d}", 1, 0.0, 0.0, 0.0,
                                             ("c" * 250,) * 1000,
                                             {f"k{j}": [[]] * 900 for j in range(64)}), 1000.0)
    core.handle(b"real", p.NodeStatus("left", 5, 0.0, 0.0, 0.0, ("a",), {"fps": 60.0}), 1003.5)
    info = core.nodes["n" * 200 + "255"]
    assert len(info.captures) == 16 and info.extra == {"dropped": "extra over 1024 bytes"}
    assert core.nodes["left"].extra == {"fps": 60.0}
    reply, _ = command(core, "status", 1003.6)
    assert reply.ok and reply.data["trimmed"] is True and reply.data["omitted"] > 0
    assert len(_encode(reply)[1]) <= p.MAX_FRAME_BYTES
    # The one joined projector is listed first; the lost flood is what gets omitted.
    assert "left" in [n["id"] for n in reply.data["nodes"]]
