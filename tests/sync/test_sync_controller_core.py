"""ControllerCore as a pure state machine: messages and times in, actions out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import msgpack
import pytest

from exhibit_engine.config import ControllerSettings, ShowConfig, load_venue
from exhibit_engine.errors import ConfigError, ProtocolError
from exhibit_engine.show.anchor import ShowAnchor
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.controller import ControllerServer, _encode
from exhibit_engine.sync.controller_core import ControllerCore
from exhibit_engine.sync.snapshot import SnapshotAssembly

from .conftest import desk_command

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def core() -> ControllerCore:
    return ControllerCore(now=1000.0, session="sess", heartbeat_s=0.2, lost_after_s=0.35)


def command(core: ControllerCore, name: str, now: float, **args: Any) -> tuple[p.Reply, tuple]:
    actions = desk_command(core, name, now, args, 7)
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


def snapshot_of(core: ControllerCore, now: float, req: int = 9) -> tuple[int, dict[str, Any]]:
    """Ask for a snapshot (from a new peer); check and assemble the parts; return
    (seq, items)."""
    replies = core.handle(f"asker-{req}-{now}".encode(), p.SnapshotRequest(req), now).replies
    assembly = SnapshotAssembly(req)
    *parts, final = [p.decode(m.encode()) for m in replies]
    for part in parts:
        assembly.add(part)
    assert isinstance(final, p.Snapshot) and final.req == req
    return final.seq, assembly.finish(final)


def test_snapshot_carries_the_anchor(core: ControllerCore) -> None:
    replies = core.handle(b"r1", p.SnapshotRequest(3), 1000.1).replies
    assert [type(m) for m in replies] == [p.SnapshotPart, p.Snapshot]
    assert all(m.req == 3 for m in replies)
    assert replies[-1].seq == 0 and replies[-1].count == 1
    assert snapshot_of(core, 1000.1) == (0, {"anchor": [1000.0, 0.0, 1.0]})


def test_load_state_seeds_ten_thousand_keys_under_one_seq(core: ControllerCore) -> None:
    items = {f"k{i:05d}": i for i in range(10_000)}
    assert core.load_state(items) == 1 == core.seq
    seq, state = snapshot_of(core, 1000.2)
    assert seq == 1 and state == {"anchor": [1000.0, 0.0, 1.0], **items}
    # Nothing is published: the heartbeat's seq sends joined nodes for a snapshot.
    (beat,) = core.tick(1000.2).publish
    assert beat.seq == 1
    # Two requests get the same parts, each stamped with its own nonce.
    a = core.handle(b"r1", p.SnapshotRequest(1), 1000.3).replies
    b = core.handle(b"r2", p.SnapshotRequest(2), 1000.3).replies
    assert len(a) == len(b) >= 3
    assert [replace(m, req=0) for m in a] == [replace(m, req=0) for m in b]
    # One answer per peer per 0.1 s: a flood of requests is not a flood of answers.
    assert core.handle(b"r1", p.SnapshotRequest(3), 1000.35).replies == ()
    assert len(core.handle(b"r1", p.SnapshotRequest(4), 1000.41).replies) == len(a)
    # Tuples are written as arrays (the show control's own values may hold them).
    core.load_state({"pair": (1, (2, 3))})
    assert snapshot_of(core, 1000.5)[1]["pair"] == [1, [2, 3]]
    # An anchor among the keys becomes the show anchor.
    core.load_state({"anchor": [1000.0, 50.0, 0.0]})
    assert core.show_time(1010.0) == 50.0 and core.seq == 3


@pytest.mark.parametrize("items, fragment", [
    ({"x": b"bytes"}, "bytes"),
    ({"": 1}, "string"),
    ({1: "one", "a": 2}, "string"),
    ({"big": "x" * 70_000}, "too large"),
    ({f"k{i}": i for i in range(p.MAX_STATE_KEYS)}, "keys"),
    ({"anchor": [1.0, 2.0]}, "anchor"),
])
def test_load_state_refuses_what_cannot_be_sent(core: ControllerCore, items: dict[str, Any],
                                                fragment: str) -> None:
    with pytest.raises(ProtocolError, match=fragment):
        core.load_state(items)
    assert core.seq == 0 and core.state == {"anchor": [1000.0, 0.0, 1.0]}


def test_heartbeat_on_schedule(core: ControllerCore) -> None:
    (beat,) = core.tick(1000.0).publish
    assert beat == p.Heartbeat(1000.0, core.anchor, 0, "sess")
    assert core.tick(1000.1).publish == ()
    assert core.seconds_to_next_tick(1000.1) == pytest.approx(0.1)
    assert len(core.tick(1000.2).publish) == 1
    # After a long stall, one beat, not a burst of catch-up beats.
    assert len(core.tick(1010.0).publish) == 1
    assert core.tick(1010.05).publish == ()


def beat(core: ControllerCore, node: str, now: float, *, render_age: float = 0.0,
         loading: float = 0.0, peer: bytes = b"r1") -> None:
    core.handle(peer, p.NodeStatus(node, 1, 0.0, 0.0, 0.0, render_age_s=render_age,
                                   loading_s=loading), now)


def peers(reply: p.Reply) -> list[dict[str, Any]]:
    """The peers of a status reply, less the operator desk that asked."""
    return [n for n in reply.data["nodes"] if n["role"] != "operator"]


def states(core: ControllerCore, now: float) -> dict[str, str]:
    reply, _ = command(core, "status", now)
    return {n["id"]: n["state"] for n in peers(reply)}


def test_status_lists_nodes_and_their_state(core: ControllerCore) -> None:
    core.handle(b"r1", p.Hello("left"), 1000.0)
    core.handle(b"r1", p.NodeStatus("left", 120, 2.0, -15.0, 250.0, ("c1",),
                                    render_age_s=0.25), 1001.0)
    core.handle(b"r2", p.Hello("right"), 1001.0)
    reply, _ = command(core, "status", 1001.2)
    assert reply.ok
    nodes = {n["id"]: n for n in reply.data["nodes"]}
    assert nodes["left"] == {"id": "left", "role": "projector", "state": "joined",
                             "frames": 120, "show_time": 2.0, "offset_us": -15.0,
                             "rtt_us": 250.0, "captures": ["c1"], "extra": {},
                             "last_seen_s": 0.2, "render_age_s": 0.45,
                             # its health: the defaults, as it sent none (§5)
                             "fps": 0.0, "frame_ms_worst": 0.0, "frames_dropped": 0,
                             "renderer": "", "gpu_memory_mb": None, "gpu_free_mb": None,
                             "cue": "", "bundles": {}, "item": "", "language": "", "ready": False}
    assert reply.data["show_time"] == pytest.approx(1.2)


HEALTH = p.NodeHealth(29.5, 48.25, 4, "llvmpipe (LLVM 15.0.6, 256 bits); Mesa/X.org", None,
                      None, "intro", {"ice-festival": "1.0.0", "standby": "broken"})


def test_status_lists_each_projectors_health(core: ControllerCore) -> None:
    core.handle(b"r1", p.NodeStatus("left", 120, 2.0, -15.0, 250.0, health=HEALTH), 1001.0)
    gpu = p.NodeHealth(60.0, 17.0, 0, "NVIDIA H200/PCIe/SSE2; NVIDIA Corporation", 143771.0,
                       140000.5, "intro", {"ice-festival": "1.0.0"}, "vase-07", "ru")
    core.handle(b"r2", p.NodeStatus("right", 240, 2.0, 3.0, 200.0, health=gpu), 1001.0)
    reply, _ = command(core, "status", 1001.1)
    nodes = {n["id"]: n for n in reply.data["nodes"]}
    left, right = nodes["left"], nodes["right"]
    assert (left["fps"], left["frame_ms_worst"], left["frames_dropped"]) == (29.5, 48.25, 4)
    assert left["renderer"].startswith("llvmpipe") and left["cue"] == "intro"
    assert left["gpu_memory_mb"] is None and left["gpu_free_mb"] is None   # unknown
    assert left["bundles"] == {"ice-festival": "1.0.0", "standby": "broken"}
    assert (left["item"], left["language"]) == ("", "")       # none sent: the defaults
    assert (right["item"], right["language"]) == ("vase-07", "ru")
    assert (right["gpu_memory_mb"], right["gpu_free_mb"]) == (143771.0, 140000.5)
    # The next report replaces the last one (an older node that sends none: defaults).
    core.handle(b"r1", p.NodeStatus("left", 121, 2.1, -15.0, 250.0), 1001.2)
    assert core.nodes["left"].health == p.NodeHealth()
    # The reply, as it goes on the wire, decodes with every key intact.
    wire = p.decode(_encode(reply))
    assert isinstance(wire, p.Reply)
    assert {n["id"]: n for n in wire.data["nodes"]}["right"]["renderer"] == gpu.renderer


def test_a_reports_bundles_are_kept_up_to_1024_packed_bytes(core: ControllerCore) -> None:
    many = {f"bundle-{i:02d}-{'x' * 200}": "1.0.0" for i in range(64)}
    core.handle(b"r1", p.NodeStatus("left", 1, 0.0, 0.0, 0.0,
                                    health=p.NodeHealth(bundles=many)), 1000.0)
    kept = core.nodes["left"].health.bundles
    assert 0 < len(kept) < 64 and list(kept) == sorted(many)[:len(kept)]
    assert len(msgpack.packb(kept)) <= 1024


def test_a_status_of_256_projectors_with_their_health_fits_a_frame() -> None:
    core = ControllerCore(now=0.0, session="s", max_nodes=256)
    health = replace(HEALTH, gpu_memory_mb=8192.0, gpu_free_mb=4096.0,
                     bundles={f"bundle-{j}": "10.20.30" for j in range(8)})
    for i in range(255):
        core.handle(b"r%d" % i, p.NodeStatus(f"display-{i:03d}", 123456, 1234.5678, -12.345,
                                             210.5, ("cap-1",), {"k": "v"}, 0.01,
                                             health=health), 1.0)
    reply, _ = command(core, "status", 1.05)       # the asking desk is the 256th peer
    frames = _encode(reply)
    assert frames is not None and len(frames[1]) <= p.MAX_FRAME_BYTES
    assert reply.ok and "omitted" not in reply.data
    nodes = peers(reply)
    assert len(nodes) == 255 and len(reply.data["nodes"]) == 256
    # Trimmed: the details go, the numbers the page needs per node stay.
    assert reply.data["trimmed"] is True
    for n in nodes:
        assert (n["fps"], n["frame_ms_worst"], n["frames_dropped"]) == (29.5, 48.25, 4)
        assert {"last_seen_s", "show_time", "offset_us", "state"} <= set(n)
        assert "renderer" not in n and "bundles" not in n
        assert "item" not in n and "language" not in n
    # A small wall is not trimmed: every detail is there.
    small = ControllerCore(now=0.0, session="s")
    small.handle(b"r", p.NodeStatus("left", 1, 0.0, 0.0, 0.0, health=health), 1.0)
    reply, _ = command(small, "status", 1.05)
    assert "trimmed" not in reply.data and peers(reply)[0]["bundles"] == health.bundles


def test_a_silent_projector_is_lost_after_a_few_missed_beats() -> None:
    core = ControllerCore(now=0.0, session="s", lost_after_s=0.35)
    t = 0.0
    while t < 2.0:                                 # beats every 0.1 s
        beat(core, "left", t)
        assert states(core, t + 0.099) == {"left": "joined"}
        t = round(t + 0.1, 6)
    last = t - 0.1                                 # the process is stopped here
    assert states(core, last + 0.349) == {"left": "joined"}
    assert states(core, last + 0.351) == {"left": "lost"}
    beat(core, "left", last + 5.0)                 # SIGCONT: back at once
    assert states(core, last + 5.0) == {"left": "joined"}


def test_clock_probes_do_not_keep_a_projector_alive(core: ControllerCore) -> None:
    core.handle(b"r1", p.Hello("left"), 1000.0)
    core.handle(b"k1", p.Hello("lobby", "kiosk"), 1000.0)
    for i in range(1, 40):                         # probes and snapshot requests only
        core.handle(b"r1", p.Ping(float(i)), 1000.0 + i * 0.1)
        core.handle(b"r1", p.SnapshotRequest(i), 1000.0 + i * 0.1)
        core.handle(b"k1", p.Ping(float(i)), 1000.0 + i * 0.1)
    # The kiosk sends no beats: any message keeps it, for peer_lost_after_s.
    assert states(core, 1004.0) == {"left": "lost", "lobby": "joined"}
    assert states(core, 1003.9 + 3.01) == {"left": "lost", "lobby": "lost"}


def test_a_kiosk_that_only_sends_commands_is_not_lost(core: ControllerCore) -> None:
    """docs/protocol.md §5: any message from a kiosk or operator desk is a sign of life
    (before, only pings counted, so a kiosk went lost 3 s after hello while in use)."""
    core.handle(b"k1", p.Hello("lobby", "kiosk"), 1000.0)
    for i in range(1, 80):                         # a visitor touching, no pings
        core.handle(b"k1", p.Command("touch", {}, i), 1000.0 + i * 0.1)
    assert states(core, 1008.0) == {"lobby": "joined"}
    assert states(core, 1007.9 + 3.01) == {"lobby": "lost"}


def test_select_of_an_item_no_bundle_has_is_refused(core: ControllerCore) -> None:
    core.items = frozenset({"ding", "vase"})
    reply, published = command(core, "select", 10.0, item="dnig")
    assert not reply.ok and published == ()
    assert reply.error == "select: no bundle of the show has item 'dnig' (did you mean 'ding'?)"
    assert "selected_item" not in core.state
    reply, _ = command(core, "select", 10.0, item="vase")
    assert reply.ok
    core.items = None                      # bundles unknown here: any id goes
    assert command(core, "select", 11.0, item="anything")[0].ok


def test_a_hung_render_loop_is_reported_hung_not_lost() -> None:
    core = ControllerCore(now=0.0, session="s", lost_after_s=0.35, hung_after_s=2.0)
    # The agent keeps beating every 0.1 s; the render loop stopped at t = 1.0.
    seen: dict[float, str] = {}
    for i in range(50):
        t = round(i * 0.1, 6)
        beat(core, "left", t, render_age=max(0.0, t - 1.0))
        seen[t] = states(core, t + 0.05)["left"]
    assert {s for t, s in seen.items() if t + 0.05 <= 3.0} == {"joined"}   # < 2 s: fine
    assert {s for t, s in seen.items() if t + 0.05 > 3.05} == {"hung"}
    reply, _ = command(core, "status", 4.95)
    assert peers(reply)[0]["render_age_s"] == pytest.approx(3.95)
    beat(core, "left", 5.0, render_age=0.01)             # it draws again
    assert states(core, 5.0) == {"left": "joined"}


def test_slow_frames_are_neither_hung_nor_lost() -> None:
    core = ControllerCore(now=0.0, session="s", lost_after_s=0.35, hung_after_s=2.0)
    # llvmpipe at 3 fps: the render loop runs every 0.33 s; beats keep their pace.
    for i in range(100):
        t = i * 0.1
        beat(core, "left", t, render_age=t % 0.33)
        assert states(core, t + 0.05) == {"left": "joined"}


def test_an_announced_scene_load_is_loading_even_when_silent() -> None:
    core = ControllerCore(now=0.0, session="s", lost_after_s=0.35, hung_after_s=2.0)
    beat(core, "left", 0.0)
    beat(core, "left", 0.1, loading=5.0)                 # announced, then silence
    assert states(core, 0.2) == {"left": "loading"}
    assert states(core, 2.0) == {"left": "loading"}      # a 2 s load: no false loss
    assert states(core, 5.05) == {"left": "loading"}
    assert states(core, 5.11) == {"left": "lost"}        # past its own deadline: lost
    beat(core, "left", 6.0, render_age=5.9)              # back, with a stale render loop
    assert states(core, 6.0) == {"left": "hung"}
    beat(core, "left", 6.1, render_age=0.0)
    assert states(core, 6.1) == {"left": "joined"}
    # The announcement cannot be longer than MAX_LOADING_S (refused on the wire).
    with pytest.raises(ProtocolError):
        p.decode(p.NodeStatus("left", 1, 0.0, 0.0, 0.0, loading_s=1e6).encode())


def test_capture_publishes_an_event_in_the_future(core: ControllerCore) -> None:
    reply, published = command(core, "capture", 1010.0, tag="shot", delay=0.75)
    assert reply.ok and reply.data["effective_at"] == pytest.approx(10.75)
    (event,) = published
    assert event == p.Event("capture", reply.data["effective_at"], {"tag": "shot"}, 1,
                            controller_at=reply.data["controller_at"])
    assert reply.data["controller_at"] == pytest.approx(1010.75)
    reply2, (event2,) = command(core, "capture", 1011.0, tag="again")
    assert event2.seq == 2 and event2.effective_at == pytest.approx(11.5)   # default delay


def test_pending_events_repeat_in_heartbeats_until_past(core: ControllerCore) -> None:
    _, (event,) = command(core, "capture", 1000.0, tag="x", delay=0.5)
    assert event in core.tick(1000.0).publish
    assert event not in core.tick(1002.0).publish     # long past: no longer repeated


def test_an_event_is_repeated_in_the_next_two_heartbeats_only(core: ControllerCore) -> None:
    _, (event,) = command(core, "capture", 1000.0, tag="x", delay=5.0)
    beats = [core.tick(1000.001 + 0.2 * i).publish for i in range(6)]  # all before 5.0
    assert [event in beat for beat in beats] == [True, True, False, False, False, False]
    assert all(isinstance(beat[0], p.Heartbeat) for beat in beats)
    # A later event gets its own two repeats; the first one stays quiet.
    _, (later,) = command(core, "capture", 1001.3, tag="y", delay=5.0)
    beats = [core.tick(1001.401 + 0.2 * i).publish for i in range(3)]
    assert [later in beat for beat in beats] == [True, True, False]
    assert not any(event in beat for beat in beats)


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
    seq, items = snapshot_of(core, 1005.3)
    assert seq == 1 and items["anchor"] == [1005.25, 100.0, 1.0]
    bad, published = command(core, "seek", 1005.0)
    assert not bad.ok and "'position'" in bad.error and published == ()


def test_select_publishes_an_event_and_sets_session_state(core: ControllerCore) -> None:
    reply, (event, update) = command(core, "select", 1010.0, item="whale")
    assert reply.ok and reply.data["effective_at"] == pytest.approx(10.3)   # default delay
    assert event == p.Event("select", reply.data["effective_at"], {"item": "whale"}, 1,
                            controller_at=pytest.approx(1010.3))
    value = {"item": "whale", "selected_at": event.effective_at}
    assert update == p.KeyUpdate(1, "selected_item", value)
    assert reply.data["seq"] == 1 and reply.data["state_seq"] == 1 == core.seq
    assert event in core.tick(1010.0).publish          # repeated like every pending event
    assert snapshot_of(core, 1010.1)[1]["selected_item"] == value
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


def _venue_with(tmp_path: Path, extra: str) -> Path:
    text = (REPO / "content" / "venue.toml").read_text(encoding="utf-8")
    assert "\n[network]\n" in text
    path = tmp_path / "venue.toml"
    path.write_text(text.replace("\n[network]\n", f"\n[network]\n{extra}\n", 1),
                    encoding="utf-8")
    return path


def test_venue_network_sets_the_liveness_thresholds(tmp_path: Path) -> None:
    venue = load_venue(_venue_with(tmp_path, "lost_after_s = 0.5\nhung_after_s = 4"))
    assert venue.network.lost_after_s == 0.5 and venue.network.hung_after_s == 4.0
    default = load_venue(REPO / "content" / "venue.toml").network
    assert (default.lost_after_s, default.hung_after_s) == (0.35, 2.0)
    settings = ControllerSettings(venue, ShowConfig("t", {}, (), ()), "127.0.0.1", 0, 0)
    server = ControllerServer(settings)
    server.bind()
    try:
        assert server.core is not None
        assert (server.core.lost_after_s, server.core.hung_after_s) == (0.5, 4.0)
    finally:
        server.close()


@pytest.mark.parametrize("extra, key", [
    ("lost_after_s = 0.01", "network.lost_after_s"),
    ("lost_after_s = \"fast\"", "network.lost_after_s"),
    ("hung_after_s = 0.1", "network.hung_after_s"),
    ("lost_after_s = 120", "network.lost_after_s"),
])
def test_bad_liveness_thresholds_are_refused_naming_the_key(tmp_path: Path, extra: str,
                                                            key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_venue(_venue_with(tmp_path, extra))
    assert info.value.key == key and "venue.toml" in str(info.value)


def test_no_command_is_accepted_before_hello(core: ControllerCore) -> None:
    """Issue 12: a socket that never said hello could send operator commands in
    development mode. Now it is refused, before anything is judged, and the reply says
    so in its data, so a client says hello and sends the command again."""
    actions = core.handle(b"stranger", p.Command("seek", {"position": 5.0}, 4), 1000.0)
    (reply,) = actions.replies
    assert isinstance(reply, p.Reply) and not reply.ok and reply.req == 4
    assert reply.error.startswith("say hello first")
    assert reply.data == {"hello_first": True}
    assert actions.publish == () and core.seq == 0 and core.refused == 1
    core.handle(b"stranger", p.Hello("desk", "operator"), 1000.1)
    (reply,) = core.handle(b"stranger", p.Command("seek", {"position": 5.0}, 5),
                           1000.2).replies
    assert isinstance(reply, p.Reply) and reply.ok


def test_a_frame_of_another_protocol_version_is_answered_with_the_reason(
        core: ControllerCore) -> None:
    """Issue 12: a version refusal never reached the peer."""
    import msgpack

    from exhibit_engine.errors import VersionMismatch

    body = msgpack.packb({"v": 3, "name": "status", "req": 9})
    with pytest.raises(VersionMismatch) as info:
        p.decode([b"command", body], peer="ab")
    (reply,) = core.note_malformed(b"ab", info.value).replies
    assert isinstance(reply, p.Reply) and not reply.ok and reply.req == 9
    assert reply.error == "unsupported protocol version 3 (this peer speaks version 2)"
    assert reply.data == {"version": 2}
    assert core.malformed == 1
    # A broken frame of this version gets no answer.
    assert core.note_malformed(b"ab", ProtocolError("junk")).replies == ()


def test_debug_fill_makes_a_state_of_many_snapshot_parts(core: ControllerCore) -> None:
    reply, published = command(core, "debug-fill", 1000.0, keys=3000, value_bytes=100)
    assert reply.ok, reply.error
    assert published == ()                            # nodes see the seq gap and resync
    assert reply.data["parts"] > 1 and reply.data["keys"] == 3000
    answer = core.handle(b"n", p.SnapshotRequest(7), 1000.1).replies
    assert len(answer) == reply.data["parts"] + 1
    assert isinstance(answer[-1], p.Snapshot) and answer[-1].count == 3001   # + anchor
    assert not core.saved(1000.2, 0.0, "show").state    # never saved with the session
    reply, _ = command(core, "debug-fill", 1000.3, keys=0)
    assert reply.ok and reply.data["state_keys"] == 1
    reply, _ = command(core, "debug-fill", 1000.4, keys=16_000, value_bytes=4096)
    assert not reply.ok and "debug-fill: " in reply.error     # past the 4 MiB limit
    core.debug_commands = False                       # a controller with CURVE
    reply, _ = command(core, "debug-fill", 1000.5, keys=10)
    assert not reply.ok and "only in development mode" in reply.error


def test_a_command_retried_with_its_id_acts_once(core: ControllerCore) -> None:
    """Issue 14: a kiosk's tap sent twice (a double tap, a retry after a blip) must act
    once. A command's ``id`` names the action; a repeat from the same node gets the first
    reply again, marked ``repeated``, and publishes nothing."""
    core.handle(b"k1", p.Hello("lobby", "kiosk"), 1000.0)
    tap = p.Command("select", {"item": "vase"}, 1, id="tap-0001")
    first = core.handle(b"k1", tap, 1000.1)
    assert first.replies[0].ok and len(first.publish) >= 2
    seq = core.seq
    again = core.handle(b"k1", replace(tap, req=2), 1000.2)
    (reply,) = again.replies
    assert again.publish == () and core.seq == seq
    assert reply.req == 2 and reply.data == {**first.replies[0].data, "repeated": True}
    # The same kiosk after a reconnect (a new routing id) is still the same node.
    core.handle(b"k1-new", p.Hello("lobby", "kiosk"), 1001.0)
    assert core.handle(b"k1-new", replace(tap, req=3), 1001.1).replies[0].data["repeated"]
    # Another id, or the same id from another node, acts.
    other = core.handle(b"k1", p.Command("select", {"item": "vase"}, 4, id="tap-0002"),
                        1001.2)
    assert other.publish and "repeated" not in other.replies[0].data
    core.handle(b"k2", p.Hello("hall", "kiosk"), 1001.3)
    assert core.handle(b"k2", p.Command("select", {"item": "vase"}, 5, id="tap-0001"),
                       1001.4).publish
    # Forgotten after a minute.
    assert core.handle(b"k1", replace(tap, req=6), 1000.1 + 61.0).publish
    # The id travels on the wire, and may be left out.
    assert p.decode(tap.encode()).id == "tap-0001"
    assert p.decode(p.Command("status").encode()).id == ""
