"""NodeCore against ControllerCore in a simulated network: no sockets, no waiting.

Every message goes through ``encode``/``decode`` and arrives after a chosen delay; the
controller's clock runs ``offset`` seconds ahead of the node's. Time is a number.
"""

from __future__ import annotations

import heapq
import itertools
import random
import tracemalloc
from collections.abc import Callable
from dataclasses import replace

import pytest

from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.controller_core import ControllerCore
from exhibit_engine.sync.node_core import LinkSchedule, NodeCore
from exhibit_engine.sync.snapshot import snapshot_messages

from .conftest import desk_command


class Sim:
    """One controller and some nodes; ``run(seconds)`` advances the node clock."""

    def __init__(self, offset: float = 5.0, up: float = 0.001, down: float = 0.001,
                 nodes: tuple[str, ...] = ("left",), jitter: float = 0.0, seed: int = 1) -> None:
        self.now = 100.0                     # node-local clock (all nodes share it)
        self.offset = offset
        self.up, self.down, self.jitter = up, down, jitter
        self.rng = random.Random(seed)
        self.ctrl: ControllerCore | None = ControllerCore(self.now + offset, "s1",
                                                          heartbeat_s=0.2)
        self.nodes = {n: NodeCore(n) for n in nodes}
        self._queue: list[tuple[float, int, str, list[bytes]]] = []
        self._order = itertools.count()
        self.drop: Callable[[str, p.Message], bool] = lambda dest, m: False

    def controller_time(self, local: float | None = None) -> float:
        return (self.now if local is None else local) + self.offset

    def restart_controller(self, session: str, offset: float | None = None) -> None:
        if offset is not None:
            self.offset = offset
        self.ctrl = ControllerCore(self.controller_time(), session, heartbeat_s=0.2)

    def _delay(self, base: float) -> float:
        return base + (self.rng.random() * self.jitter if self.jitter else 0.0)

    def _send(self, at: float, dest: str, message: p.Message) -> None:
        """Queue ``message`` for ``dest``: "ctrl|<node>" (uplink) or a node name."""
        if self.drop(dest, message):
            return
        delay = self._delay(self.up if dest.startswith("ctrl|") else self.down)
        heapq.heappush(self._queue, (at + delay, next(self._order), dest, message.encode()))

    def _publish(self, at: float, actions_publish: tuple[p.Message, ...]) -> None:
        for m in actions_publish:
            for name in self.nodes:
                self._send(at, name, m)

    def _deliver_until(self, t: float) -> None:
        while self._queue and self._queue[0][0] <= t:
            at, _, dest, frames = heapq.heappop(self._queue)
            message = p.decode(frames)
            if dest.startswith("ctrl|"):
                if self.ctrl is None:
                    continue
                sender = dest.partition("|")[2]
                actions = self.ctrl.handle(sender.encode(), message, self.controller_time(at))
                for reply in actions.replies:
                    self._send(at, sender, reply)
                self._publish(at, actions.publish)
            else:
                node = self.nodes[dest]
                for out in node.handle(message, at):
                    self._send(at, f"ctrl|{dest}", out)

    def step(self, dt: float = 0.01) -> None:
        self.now += dt
        self._deliver_until(self.now)
        for name, node in self.nodes.items():
            for out in node.tick(self.now):
                self._send(self.now, f"ctrl|{name}", out)
        if self.ctrl is not None:
            self._publish(self.now, self.ctrl.tick(self.controller_time()).publish)

    def run(self, seconds: float, dt: float = 0.01) -> None:
        for _ in range(round(seconds / dt)):
            self.step(dt)

    def command(self, name: str, **args: object) -> p.Reply:
        assert self.ctrl is not None
        actions = desk_command(self.ctrl, name, self.controller_time(), dict(args),
                               peer=b"operator")
        self._publish(self.now, actions.publish)
        (reply,) = actions.replies
        assert isinstance(reply, p.Reply)
        return reply


@pytest.fixture
def sim() -> Sim:
    return Sim()


def test_join_sync_and_show_time(sim: Sim) -> None:
    node = sim.nodes["left"]
    assert not node.joined and not node.synced and node.show_time(sim.now) is None
    sim.run(0.5)
    assert node.joined and node.synced and node.have_snapshot
    assert node.session == "s1"
    assert node.clock.sample_count >= 8               # the burst, then regular probes
    assert node.offset_us(sim.now) == pytest.approx(5e6, abs=0.01)
    assert node.rtt_us == pytest.approx(2000.0, abs=1.0)
    assert sim.ctrl is not None
    assert node.show_time(sim.now) == pytest.approx(sim.ctrl.show_time(sim.controller_time()),
                                                    abs=1e-6)


def test_asymmetric_path_error_is_half_the_difference() -> None:
    # 4 ms up, 0 down: the controller's clock looks 2 ms further ahead than it is.
    s = Sim(up=0.004, down=0.0)
    s.run(0.5)
    assert s.nodes["left"].offset_us(s.now) == pytest.approx(5e6 + 2000.0, abs=0.5)


def test_jittery_network_best_of_n_stays_close() -> None:
    s = Sim(up=0.0005, down=0.0005, jitter=0.020, seed=7)
    s.run(3.0)
    node = s.nodes["left"]
    assert node.synced
    assert abs(node.offset_us(s.now) - 5e6) < 5000     # far below the 20 ms jitter


def test_controller_vanishes_node_keeps_playing_then_rejoins(sim: Sim) -> None:
    node = sim.nodes["left"]
    sim.run(0.5)
    t_before = node.show_time(sim.now)
    assert t_before is not None
    sim.ctrl = None                                   # controller gone: nothing answers
    sim.run(2.0)
    assert node.show_time(sim.now) == pytest.approx(t_before + 2.0, abs=1e-6)
    assert node.joined                                # not yet given up
    sim.run(1.5)
    assert not node.joined and node.synced            # lost, but still playing
    assert node.show_time(sim.now) == pytest.approx(t_before + 3.5, abs=1e-6)
    sim.restart_controller("s2")
    sim.run(0.5)
    assert node.joined and node.session == "s2"
    assert sim.ctrl is not None
    assert node.show_time(sim.now) == pytest.approx(sim.ctrl.show_time(sim.controller_time()),
                                                    abs=1e-6)


def test_restart_on_another_machine_steps_the_clock(sim: Sim) -> None:
    node = sim.nodes["left"]
    sim.run(0.5)
    sim.restart_controller("s2", offset=-20.0)
    sim.run(1.0)
    assert node.session == "s2"
    assert node.offset_us(sim.now) == pytest.approx(-20e6, abs=0.01)
    assert sim.ctrl is not None
    assert node.show_time(sim.now) == pytest.approx(sim.ctrl.show_time(sim.controller_time()),
                                                    abs=1e-6)


def test_seek_lands_on_the_same_controller_instant_everywhere() -> None:
    s = Sim(nodes=("left", "right"))
    s.run(0.5)
    reply = s.command("seek", position=500.0, delay=0.1)
    assert reply.ok
    switch = reply.data["anchor"][0] - s.offset          # local time of the switch
    s.run(0.05)
    for node in s.nodes.values():
        assert node.state_seq == 1
        assert node.show_time(switch - 0.001) == pytest.approx(
            s.controller_time(switch - 0.001) - (s.controller_time(100.0)), abs=1e-6)
    s.run(0.1)
    for node in s.nodes.values():
        assert node.show_time(s.now) == pytest.approx(500.0 + (s.now - switch), abs=1e-6)


def test_lost_update_is_repaired_by_a_new_snapshot(sim: Sim) -> None:
    node = sim.nodes["left"]
    sim.run(0.5)
    sim.drop = lambda dest, m: isinstance(m, p.KeyUpdate)
    sim.command("seek", position=42.0, delay=0.0)
    sim.run(0.05)
    assert node.state_seq == 0
    sim.drop = lambda dest, m: False
    sim.run(0.5)                                  # a heartbeat says seq 1: re-snapshot
    assert node.state_seq == 1 and node.have_snapshot
    assert node.state["anchor"][1] == 42.0
    assert node.show_time(sim.now) == pytest.approx(42.0 + sim.now - 100.5, abs=1e-6)


def test_capture_event_once_on_every_node_despite_repeats() -> None:
    s = Sim(nodes=("left", "right"))
    s.run(0.5)
    reply = s.command("capture", tag="t1", delay=0.3)
    taken: dict[str, list[p.Event]] = {n: [] for n in s.nodes}
    for _ in range(200):                                 # 2 s of frames
        s.step(0.01)
        for name, node in s.nodes.items():
            show = node.show_time(s.now)
            assert show is not None
            for event in node.take_events(show):
                assert show >= event.effective_at
                assert show - event.effective_at < 0.011  # applied on the first due frame
                taken[name].append(event)
    assert [e.seq for e in taken["left"]] == [1] == [e.seq for e in taken["right"]]
    assert taken["left"][0].effective_at == reply.data["effective_at"]
    assert taken["left"] == taken["right"]


def test_a_node_that_missed_an_event_applies_its_repeat_on_time() -> None:
    s = Sim(nodes=("left", "right"))
    s.run(0.5)
    missed: list[p.Event] = []

    def drop_first_copy(dest: str, m: p.Message) -> bool:
        if dest == "right" and isinstance(m, p.Event) and not missed:
            missed.append(m)
            return True
        return False

    s.drop = drop_first_copy
    reply = s.command("capture", tag="t1", delay=0.5)
    assert [e.seq for e in missed] == [reply.data["seq"]]       # the original publication
    applied: dict[str, list[tuple[float, p.Event]]] = {n: [] for n in s.nodes}
    for _ in range(150):                                 # 1.5 s of 10 ms frames
        s.step(0.01)
        for name, node in s.nodes.items():
            show = node.show_time(s.now)
            assert show is not None
            applied[name] += [(show, e) for e in node.take_events(show)]
    at = reply.data["effective_at"]
    for name in s.nodes:
        ((show, event),) = applied[name]
        assert event.seq == reply.data["seq"] and event.effective_at == at
        assert at <= show < at + 0.011                   # the first frame at or after it


def test_node_core_events_in_order_once_each() -> None:
    node = NodeCore("n")
    e1, e2, e3 = (p.Event("capture", at, {"tag": str(seq)}, seq)
                  for seq, at in ((1, 5.0), (2, 3.0), (3, 9.0)))
    for e in (e1, e2, e3, e1, e2):
        node.handle(e, 0.0)
    assert node.take_events(2.0) == []
    assert node.take_events(6.0) == [e2, e1]
    node.handle(e1, 0.0)                                   # a repeat after delivery
    assert node.take_events(6.0) == []
    assert node.take_events(100.0) == [e3]


def request(node: NodeCore, now: float) -> p.SnapshotRequest:
    """The snapshot request the node's tick sends at ``now`` (exactly one)."""
    (req,) = [m for m in node.tick(now) if isinstance(m, p.SnapshotRequest)]
    return req


def answer(node: NodeCore, messages: list[p.Message], now: float) -> None:
    """Deliver an answer through the wire format."""
    for m in messages:
        node.handle(p.decode(m.encode()), now)


def feed_snapshot(node: NodeCore, seq: int, items: dict[str, object], now: float) -> int:
    """Let the node ask for a snapshot and answer it whole; return the request's nonce."""
    req = request(node, now).req
    answer(node, snapshot_messages(req, seq, items), now)
    return req


def test_node_core_clone_rules() -> None:
    node = NodeCore("n")
    node.handle(p.Welcome("s", 0), 0.0)
    # Updates before the snapshot are buffered, then those after it applied in order.
    node.handle(p.KeyUpdate(3, "lang", "ru"), 0.0)
    node.handle(p.KeyUpdate(2, "lang", "en"), 0.0)
    feed_snapshot(node, 1, {"anchor": [0.0, 0.0, 1.0], "lang": "zh"}, 0.0)
    assert node.have_snapshot
    assert node.state_seq == 3 and node.state["lang"] == "ru"
    # Old and duplicate updates are dropped.
    node.handle(p.KeyUpdate(2, "lang", "xx"), 0.0)
    node.handle(p.KeyUpdate(3, "lang", "yy"), 0.0)
    assert node.state["lang"] == "ru"
    # A gap asks for a new snapshot.
    node.handle(p.KeyUpdate(5, "lang", "de"), 1.0)
    assert not node.have_snapshot
    # A bad anchor value is counted, not fatal.
    feed_snapshot(node, 5, {"anchor": "nonsense"}, 1.0)
    assert node.malformed == 1 and node.have_snapshot and node.state_seq == 5


def test_snapshot_before_welcome_is_ignored() -> None:
    node = NodeCore("n")
    answer(node, snapshot_messages(0, 4, {"anchor": [0.0, 0.0, 1.0]}), 0.0)
    assert not node.have_snapshot and node.state == {}
    assert node.stale_parts == 2


def big_state(n: int = 10_000) -> dict[str, object]:
    return {f"k{i:05d}": [i, f"value {i}"] for i in range(n)}


def test_ten_thousand_keys_in_parts_over_the_simulated_network() -> None:
    s = Sim(nodes=("left", "right"))
    assert s.ctrl is not None
    seq = s.ctrl.load_state(big_state())
    assert seq == 1 and len(s.ctrl.state) == 10_001
    parts: list[int] = []
    s.drop = lambda dest, m: isinstance(m, p.SnapshotPart) and bool(parts.append(m.index))
    s.run(0.5)
    assert len(set(parts)) >= 4                    # it really went in several parts
    for node in s.nodes.values():
        assert node.have_snapshot and node.state == s.ctrl.state and node.state_seq == 1
        assert node.snapshot_failures == 0
    # A node that already had a snapshot when the keys were loaded catches up too
    # (the heartbeat's seq is ahead of its own: a gap, so a new snapshot).
    s.ctrl.load_state({"k00000": "changed"})
    s.run(0.5)
    for node in s.nodes.values():
        assert node.state["k00000"] == "changed" and node.state_seq == 2


def test_a_dropped_part_is_detected_and_the_snapshot_asked_for_again() -> None:
    s = Sim()
    assert s.ctrl is not None
    s.ctrl.load_state(big_state())
    dropped: list[int] = []

    def drop(dest: str, m: p.Message) -> bool:
        if isinstance(m, p.SnapshotPart) and m.index == 1 and not dropped:
            dropped.append(m.req)                 # the ROUTER's high-water mark at work
            return True
        return False

    s.drop = drop
    s.run(0.5)
    node = s.nodes["left"]
    assert dropped and node.snapshot_failures == 1
    assert "missing" in node.last_snapshot_error
    assert node.have_snapshot and node.state == s.ctrl.state


def test_a_dropped_closing_message_times_out_and_is_asked_again() -> None:
    s = Sim()
    finals: list[int] = []

    def drop(dest: str, m: p.Message) -> bool:
        if isinstance(m, p.Snapshot) and not finals:
            finals.append(m.req)
            return True
        return False

    s.drop = drop
    s.run(0.3)
    node = s.nodes["left"]
    assert finals and not node.have_snapshot
    s.run(0.5)
    assert node.have_snapshot and node.snapshot_failures == 1
    assert "no answer" in node.last_snapshot_error


@pytest.mark.parametrize("field, value, fragment", [
    ("count", 9_999, "count says"),
    ("digest", "0" * 64, "digest"),
    ("parts", 99, "parts sent"),
])
def test_a_wrong_count_or_digest_is_refused_and_asked_again(field: str, value: object,
                                                           fragment: str) -> None:
    node = NodeCore("n")
    node.handle(p.Welcome("s", 0), 0.0)
    first = request(node, 0.0)
    *parts, final = snapshot_messages(first.req, 1, big_state())
    answer(node, [*parts, replace(final, **{field: value})], 0.01)
    assert not node.have_snapshot and node.state == {}
    assert node.snapshot_failures == 1 and fragment in node.last_snapshot_error
    assert not [m for m in node.tick(0.05) if isinstance(m, p.SnapshotRequest)]
    again = request(node, 0.12)                    # after 0.1 s, with a new nonce
    assert again.req != first.req
    answer(node, snapshot_messages(again.req, 1, big_state()), 0.13)
    assert node.have_snapshot and len(node.state) == 10_000


def test_parts_of_two_requests_never_mix() -> None:
    node = NodeCore("n")
    node.handle(p.Welcome("s", 0), 0.0)
    old = request(node, 0.0)
    old_answer = snapshot_messages(old.req, 1, {"lang": "zh", "old": True})
    answer(node, old_answer[:1], 0.1)
    new = request(node, 1.0)                       # the old one timed out
    assert new.req != old.req and node.snapshot_failures == 1
    new_answer = snapshot_messages(new.req, 2, {"lang": "ru"})
    # The rest of the old answer arrives amid the new one: ignored, not mixed in.
    answer(node, [new_answer[0], *old_answer[1:], new_answer[1]], 1.1)
    assert node.have_snapshot and node.state == {"lang": "ru"} and node.state_seq == 2
    assert node.stale_parts == 1 and node.snapshot_failures == 1


def test_hostile_answers_are_refused_without_growing_memory() -> None:
    node = NodeCore("n")
    node.handle(p.Welcome("s", 0), 0.0)
    req = request(node, 0.0).req
    # Too many keys: parts keep coming past MAX_STATE_KEYS; refused at the limit.
    flood = [p.SnapshotPart.of(req, i, {f"k{i}-{j}": 0 for j in range(4096)})
             for i in range(p.MAX_STATE_KEYS // 4096 + 2)]
    answer(node, flood, 0.01)
    assert node.snapshot_failures == 1 and "keys" in node.last_snapshot_error
    assert node.state == {} and node._assembly is None
    # Too many bytes: big values up to MAX_STATE_BYTES, then refused.
    req = request(node, 0.2).req
    big = [p.SnapshotPart.of(req, i, {f"b{i}": "x" * 60_000})
           for i in range(p.MAX_STATE_BYTES // 60_000 + 2)]
    answer(node, big, 0.21)
    assert node.snapshot_failures == 2 and "bytes" in node.last_snapshot_error
    assert node._assembly is None
    # Parts for a nonce nobody asked for are dropped as they come (nothing kept).
    stale_before = node.stale_parts
    answer(node, [p.SnapshotPart.of(12345, i, {f"s{i}": 0}) for i in range(100)], 0.22)
    assert node.stale_parts == stale_before + 100 and node._assembly is None
    # The node still takes an honest answer afterwards.
    feed_snapshot(node, 7, {"lang": "en"}, 2.0)
    assert node.have_snapshot and node.state == {"lang": "en"}


def test_hostile_answers_again_and_again_do_not_grow_memory() -> None:
    node = NodeCore("n")
    node.handle(p.Welcome("s", 0), 0.0)
    # Decoded once (as the agent would, frame by frame); replayed for each request.
    flood = [p.decode(m.encode()) for m in
             (p.SnapshotPart.of(0, i, {f"k{i}-{j}": j for j in range(4000)})
              for i in range(p.MAX_STATE_KEYS // 4000 + 2))]
    t = 0.0

    def one_round() -> None:
        nonlocal t
        t += 2.0
        req = request(node, t).req
        for part in flood:
            node.handle(replace(part, req=req), t)
        node.handle(p.decode(p.SnapshotPart.of(req + 99, 0, {"x": 1}).encode()), t)

    tracemalloc.start()
    try:
        for _ in range(2):
            one_round()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(8):
            one_round()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert node.snapshot_failures == 10 and node._assembly is None
    assert after - before < 256 * 1024, f"grew {after - before} bytes over 8 hostile answers"
    assert peak < 64 * 1024 * 1024


def test_status_is_a_beat_every_tenth_of_a_second_and_sanitised() -> None:
    node = NodeCore("n")
    first = node.status(10.0, 5, float("nan"), ["a"] * 100, {"fps": 60},
                        render_age_s=float("inf"), loading_s=1e9)
    assert first is not None and first.show_time == 0.0 and len(first.captures) == 64
    assert first.render_age_s == 0.0 and first.loading_s == p.MAX_LOADING_S
    assert p.decode(first.encode()) == first
    assert node.status(10.05, 6, 1.0) is None
    forced = node.status(10.06, 6, 1.0, render_age_s=0.02, loading_s=-3.0, force=True)
    assert forced is not None and forced.loading_s == 0.0 and forced.render_age_s == 0.02
    assert node.status(10.17, 6, 1.0) is not None


def test_probe_schedule_burst_then_once_a_second() -> None:
    node = NodeCore("n", probe_interval_s=1.0)
    pings = [m for m in node.tick(0.0) if isinstance(m, p.Ping)]
    assert len(pings) == 1
    assert not [m for m in node.tick(0.1) if isinstance(m, p.Ping)]   # waiting for a reply
    assert [m for m in node.tick(0.3) if isinstance(m, p.Ping)]       # timed out: again
    t = 0.3
    for _ in range(8):
        (ping,) = [m for m in node.tick(t) if isinstance(m, p.Ping)] or [p.Ping(t)]
        node.handle(p.Pong(ping.t0, ping.t0 + 1.0005, ping.t0 + 1.0006), ping.t0 + 0.001)
        t += 0.002
    assert node.clock.sample_count == 8
    assert not [m for m in node.tick(t) if isinstance(m, p.Ping)]
    assert [m for m in node.tick(t + 1.0) if isinstance(m, p.Ping)]


def test_poor_round_trips_probe_faster_until_a_good_one() -> None:
    node = NodeCore("n", burst=1, probe_interval_s=1.0)
    (ping,) = [m for m in node.tick(0.0) if isinstance(m, p.Ping)]
    node.handle(p.Pong(ping.t0, 0.04, 0.04), 0.08)            # 80 ms: a slow frame
    assert not [m for m in node.tick(0.1) if isinstance(m, p.Ping)]
    (ping,) = [m for m in node.tick(0.3) if isinstance(m, p.Ping)]   # 0.2 s, not 1 s
    node.handle(p.Pong(ping.t0, 0.3001, 0.3001), 0.3002)      # 0.2 ms: good
    assert node.rtt_us == pytest.approx(200.0)
    assert not [m for m in node.tick(0.6) if isinstance(m, p.Ping)]
    assert [m for m in node.tick(1.3) if isinstance(m, p.Ping)]


def test_a_warm_up_is_due_with_a_timed_probe_and_only_once_joined() -> None:
    node = NodeCore("n", burst=1, probe_interval_s=1.0)
    assert not node.warm_up_due(0.0)                          # not welcomed yet
    node.handle(p.Welcome("s", 0), 0.0)
    assert node.warm_up_due(0.0)
    (ping,) = [m for m in node.tick(0.0) if isinstance(m, p.Ping)]
    node.handle(p.Pong(ping.t0, 0.0001, 0.0001), 0.0002)      # a good round trip
    assert not node.warm_up_due(0.9)
    assert node.warm_up_due(1.0)
    assert [m for m in node.tick(1.0) if isinstance(m, p.Ping)]   # the probe it warms for


# --------------------------------------------------------------------------- the agent's timing


def test_the_beat_keeps_its_own_grid_and_a_late_turn_does_not_move_it() -> None:
    timer = LinkSchedule(0.1, 10.0, lambda: 0.25)             # phase: a quarter beat
    assert timer.next_beat == pytest.approx(10.025) and timer.due(10.0)
    assert not timer.beating(10.0)
    timer.ran(10.0, False)
    assert timer.next_tick == pytest.approx(10.025)           # woken for the beat
    assert not timer.due(10.02) and timer.due(10.025) and timer.beating(10.025)
    timer.ran(10.031, True)                                   # a turn 6 ms late
    assert timer.next_beat == pytest.approx(10.125)           # the grid, not now + 0.1
    timer.ran(10.37, True)                                    # beats missed: no catching up
    assert timer.next_beat == pytest.approx(10.425)
    assert timer.wait_ms(10.3705) == 55                      # rounded up: 54.5 ms


def test_a_turn_just_after_a_broadcast_waits_once_for_quiet_unless_a_reply_is_there() -> None:
    timer = LinkSchedule(0.1, 0.0, lambda: 0.5, quiet_s=0.01)
    timer.ran(0.0, False)
    timer.broadcast(0.048)
    assert not timer.due(0.05)                                # deferred, once
    assert timer.next_tick == pytest.approx(0.063)            # quiet end + half of quiet_s
    timer.broadcast(0.06)
    assert timer.due(0.063)                                   # not deferred twice
    timer.ran(0.063, True)
    timer.broadcast(0.09)
    timer.replied(0.095)                                      # a pong: run at once
    assert timer.urgent and timer.due(0.095)
    timer.ran(0.095, False)
    assert not timer.urgent
