"""A controller pair in one process (threads, real sockets on 127.0.0.1): Binary Star
takeover, replication, no split-brain on a partition, and peers that fail over by
themselves. The kill -9 of a real primary process is ``tests/e2e/test_pair_failover.py``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from exhibit_engine.config.network import ControllerEndpoint
from exhibit_engine.config.roles import PairSettings
from exhibit_engine.sync.node import NodeLink
from exhibit_engine.sync.operator import OperatorClient

from ..conftest import HOST, ThreadedController, controller_settings

FRAME_S = 1 / 60


class Pair:
    """A primary and a backup serving in threads, and helpers to watch them."""

    def __init__(self, start: Callable[..., ThreadedController], ports: list[int]) -> None:
        self._start = start
        self.ends = {"primary": ControllerEndpoint(HOST, ports[0], ports[1], 1, ports[2]),
                     "backup": ControllerEndpoint(HOST, ports[3], ports[4], 1, ports[5])}
        self.handles: dict[str, ThreadedController] = {}

    def start(self, role: str) -> ThreadedController:
        own = self.ends[role]
        other = self.ends["backup" if role == "primary" else "primary"]
        settings = replace(controller_settings(own.state_port, own.publish_port),
                           pair=PairSettings(role, own.peer_port, other, 0.5))
        self.handles[role] = self._start(settings=settings)
        return self.handles[role]

    def state(self, role: str) -> str:
        link = self.handles[role].server.pair
        return link.star.state if link is not None else "stopped"

    def node(self, node_id: str, first: str = "primary", **kwargs: Any) -> NodeLink:
        a, b = self.ends[first], self.ends["backup" if first == "primary" else "primary"]
        return NodeLink(node_id, HOST, a.state_port, a.publish_port,
                        backup=(HOST, b.state_port, b.publish_port), **kwargs)

    def operator(self, timeout_s: float = 2.0) -> OperatorClient:
        a, b = self.ends["primary"], self.ends["backup"]
        return OperatorClient(HOST, a.state_port, timeout_s, backup=(HOST, b.state_port))


@pytest.fixture
def pair(start_controller: Callable[..., ThreadedController],
         free_ports: Callable[[int], list[int]]) -> Pair:
    return Pair(start_controller, free_ports(6))


def wait_states(pair: Pair, want: dict[str, str], wait_for: Callable[..., bool],
                links: list[NodeLink], timeout: float = 5.0) -> bool:
    return wait_for(lambda: all(pair.state(r) == s for r, s in want.items()), links,
                    timeout=timeout)


def lead(link: NodeLink) -> float:
    """Show time minus the local clock: constant while the show plays at rate 1."""
    t = link.show_time()
    assert t is not None
    return t - time.monotonic()


def test_the_backup_takes_over_the_same_session_on_the_same_timeline(
        pair: Pair, wait_for: Callable[..., bool], run_for: Callable[..., None]) -> None:
    pair.start("primary")
    pair.start("backup")
    with pair.node("a") as a, pair.node("b") as b, pair.operator() as op:
        links = [a, b]
        assert wait_states(pair, {"primary": "active", "backup": "passive"}, wait_for, links)
        assert wait_for(lambda: a.synced and b.synced, links)
        op.command("seek", position=500.0)
        done = op.command("capture", tag="before", request_id="tap-1")
        played: dict[str, list[Any]] = {x.core.node_id: [] for x in links}

        def play() -> bool:       # every event due, as a render loop takes them
            for x in links:
                played[x.core.node_id] += x.take_events(1e9, 1e12)
            return all(played.values())
        assert wait_for(play, links)
        run_for(0.5, links)
        before = {x.core.node_id: lead(x) for x in links}
        session = a.core.session
        at_backup = str(pair.ends["backup"].state_port)
        pair.handles["primary"].stop()          # the primary's loop ends: it is gone
        killed = time.monotonic()
        assert wait_for(lambda: all(x.joined and x.controller.endswith(at_backup)
                                    for x in links), links,
                        timeout=5.0), "the nodes did not move to the backup"
        took = time.monotonic() - killed
        assert pair.state("backup") == "active" and took < 2.0, took
        run_for(0.5, links)
        for x in links:
            jump = lead(x) - before[x.core.node_id]
            assert abs(jump) <= FRAME_S, f"{x.core.node_id}: show time jumped {jump * 1e3:.3f} ms"
            assert x.core.session == session          # one session, no restart
        # The capture before the takeover is repeated by the backup's heartbeats (it is
        # in the replica) and dropped as a repeat: played once on every node.
        play()
        assert all(len(p) == 1 and p[0].kind == "capture" for p in played.values()), played
        # The action retried at the new active acts once: the pair replicated its id.
        again = op.command("capture", tag="before", request_id="tap-1")
        assert again.pop("repeated") is True and again == done
        status = op.command("status", request_id="")
        assert op.failovers == 1 and status["pair"]["state"] == "active"
        assert status["pair"]["history"][-1]["from"] == "passive"
        assert "asked" in status["pair"]["history"][-1]["reason"]
        assert {n["id"]: n["state"] for n in status["nodes"]
                if n["role"] == "projector"} == {"a": "joined", "b": "joined"}
        # A GO after the takeover reaches every node once, on the same controller time.
        op.command("capture", tag="after")
        assert wait_for(lambda: all(x.core._pending for x in links), links)
        ats = {x.core.node_id: [e.controller_at for e in x.core._pending.values()]
               for x in links}
        assert ats["a"] == ats["b"] and len(ats["a"]) == 1


def test_a_partition_between_the_controllers_alone_makes_no_second_primary(
        pair: Pair, wait_for: Callable[..., bool], run_for: Callable[..., None]) -> None:
    primary, backup = pair.start("primary"), pair.start("backup")
    with pair.node("a") as a, pair.operator() as op:
        assert wait_states(pair, {"primary": "active", "backup": "passive"}, wait_for, [a])
        assert primary.server.pair is not None and backup.server.pair is not None
        assert wait_for(lambda: a.joined, [a])
        moved = a.failovers            # (a node that came while the pair decided moved)
        primary.server.pair.cut = backup.server.pair.cut = True
        # The clients still reach the primary: none asks the backup, which stays passive
        # although it has lost its partner.
        assert wait_for(lambda: not backup.server.pair.star.peer_alive(
            backup.server.pair._base()), [a])
        for _ in range(3):
            op.command("capture", tag="during")
            run_for(0.4, [a])
        assert pair.state("backup") == "passive" and pair.state("primary") == "active"
        assert a.failovers == moved and op.failovers == 0
        primary.server.pair.cut = backup.server.pair.cut = False
        run_for(0.5, [a])
        assert (pair.state("primary"), pair.state("backup")) == ("active", "passive")
        assert op.command("status", request_id="")["pair"]["peer"]["alive"] is True


def test_two_actives_after_a_healed_partition_settle_on_one(
        pair: Pair, wait_for: Callable[..., bool]) -> None:
    primary, backup = pair.start("primary"), pair.start("backup")
    with pair.node("a") as a:
        assert wait_states(pair, {"primary": "active", "backup": "passive"}, wait_for, [a])
        assert primary.server.pair is not None and backup.server.pair is not None
        primary.server.pair.cut = backup.server.pair.cut = True
        assert wait_for(lambda: not backup.server.pair.star.peer_alive(
            backup.server.pair._base()), [a])
        # A kiosk cut off from the primary only asks the backup: it takes over.
        with OperatorClient(HOST, pair.ends["backup"].state_port, 2.0, role="kiosk",
                            peer_id="kiosk-1") as kiosk:
            kiosk.command("select", item="vase")
        assert pair.state("backup") == "active" == pair.state("primary")
        primary.server.pair.cut = backup.server.pair.cut = False
        # The newer term (the backup's) serves; the primary steps down.
        assert wait_states(pair, {"primary": "passive", "backup": "active"}, wait_for, [a])
        assert wait_for(lambda: a.joined and a.controller.endswith(
            str(pair.ends["backup"].state_port)), [a], timeout=5.0)


def test_a_node_that_asks_the_passive_first_is_sent_to_the_active(
        pair: Pair, wait_for: Callable[..., bool]) -> None:
    pair.start("primary")
    backup = pair.start("backup")
    with pair.node("a") as a:
        assert wait_states(pair, {"primary": "active", "backup": "passive"}, wait_for, [a])
    with pair.node("b", first="backup") as b:
        assert wait_for(lambda: b.joined and b.synced, [b], timeout=5.0)
        assert b.controller.endswith(str(pair.ends["primary"].state_port))
        assert pair.state("backup") == "passive"
        assert backup.server.pair is not None and backup.server.pair.star.summary(
            backup.server.pair._base())["refused"] >= 1


def test_a_passive_holds_the_replica_and_saves_it(
        pair: Pair, wait_for: Callable[..., bool], tmp_path: Any,
        start_controller: Callable[..., ThreadedController]) -> None:
    primary = pair.start("primary")
    own, other = pair.ends["backup"], pair.ends["primary"]
    settings = replace(controller_settings(own.state_port, own.publish_port,
                                           state_file=str(tmp_path / "backup.json")),
                       pair=PairSettings("backup", own.peer_port, other, 0.5))
    backup = start_controller(settings=settings)
    pair.handles["backup"] = backup
    with pair.node("a") as a, pair.operator() as op:
        assert wait_states(pair, {"primary": "active", "backup": "passive"}, wait_for, [a])
        op.command("select", item="vase")
        seq = primary.server.core.seq if primary.server.core is not None else -1
        assert wait_for(lambda: (backup.server.pair.replica or {}).get("seq") == seq, [a])
        assert backup.server.pair.replica["state"]["selected_item"]["item"] == "vase"
        assert wait_for(lambda: (tmp_path / "backup.json").exists() and "vase" in (
            tmp_path / "backup.json").read_text(), [a], timeout=5.0)


def test_a_beat_queued_before_a_cut_and_delivered_late_changes_nothing(free_ports) -> None:
    """After a cable comes back, a partner's beat sent before the cut can arrive after its
    newer acks (two TCP connections). The primary that stepped down for the backup's term
    must not read that old "passive, term 0" as "both passive" and take over again."""
    import zmq

    from exhibit_engine.sync.pair import PairLink

    my_port, other_port = free_ports(2)
    partner = ControllerEndpoint(HOST, peer_port=other_port)
    ctx = zmq.Context()
    clock = [100.0]
    link = PairLink(ctx, PairSettings("primary", my_port, partner), HOST, lambda: clock[0])
    try:
        star = link.star
        star.state, star.term = "passive", 1         # it stepped down for the backup
        inc = 12345

        def body(n: int, state: str, term: int, incarnation: int = inc) -> dict[str, Any]:
            return {"v": 1, "kind": "ack", "role": "backup", "state": state, "term": term,
                    "t0": 99.9, "t1": 99.95, "t2": 99.96, "inc": incarnation, "n": n}

        assert link._take(link.dealer, [], body(10, "active", 2), clock[0]) is None
        assert star.peer_term == 2
        # the stale one, sent before: dropped, not "both were passive"
        assert link._take(link.dealer, [], body(7, "passive", 0), clock[0]) is None
        assert star.state == "passive" and star.peer_state == "active" and link.stale == 1
        # a partner that restarted (a new incarnation) is taken at its word
        change = link._take(link.dealer, [], body(1, "backup", 0, incarnation=999), clock[0])
        assert change is not None and change.new == "active" and star.peer_state == "backup"
    finally:
        link.close()
        ctx.term()


def _thread_cpu_s(handle: ThreadedController) -> float:
    ident = handle.thread.ident
    assert ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(ident))


def test_a_passive_controller_waits_for_input_and_does_not_spin(
        pair: Pair, wait_for: Callable[..., bool], run_for: Callable[..., None]) -> None:
    """A passive's core publishes no beats, so its next-beat time stays in the past: a
    loop that waited for it polled with no timeout and took a whole core (found by the
    soak: the backup used more CPU than any render node)."""
    pair.start("primary")
    backup = pair.start("backup")
    with pair.node("a") as a:
        assert wait_states(pair, {"primary": "active", "backup": "passive"}, wait_for, [a])
        cpu0, t0 = _thread_cpu_s(backup), time.monotonic()
        run_for(1.5, [a])
        used = (_thread_cpu_s(backup) - cpu0) / (time.monotonic() - t0)
    # The partner's beats, replicas and 10 wake-ups a second: a few per cent at most; a
    # spinning loop is near 100 % (or whatever share of a core it is given).
    assert used < 0.2, f"the passive's loop used {used:.0%} of a core while idle"
    assert pair.state("backup") == "passive"
