"""A peer written from docs/protocol.md alone (tests/sync/thirdparty_peer.py) against the
real controller, ``exhibit controller`` in a process of its own.

Each test asserts only what the page promises: liveness of kiosks and operators (§5),
backward jumps landing on the frame of the new anchor on every node (§4, §6), the version
refusal (§2), hello before any command (§5), the unknown-item refusal of ``select`` (§7),
restarts with and without a state file (§5, §10) and a snapshot of many parts (§5, §7).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from .thirdparty_peer import AppliedEvent, Peer, RawDealer, decode, encode

pytestmark = [pytest.mark.sync, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
VENUE = ROOT / "content" / "venue.toml"
HOST = "127.0.0.1"
START_S = 60.0      # a controller process's start (imports, the show checked against bundles)

SHOW = """\
[show]
id = "peer-test"
title = { zh = "测", en = "Peer test", ru = "Тест" }
loop = true

[[bundles]]
id = "ice-festival"
file = "ice-festival.exb"

[[cues]]
id = "one"
bundle = "ice-festival"
scene = "castle-night"
duration = 4.0

[[cues]]
id = "two"
bundle = "ice-festival"
scene = "lantern-walk"
duration = 4.0

[[cues]]
id = "three"
bundle = "ice-festival"
scene = "castle-night"
duration = 60.0

[control]
go_guard_s = 0.5
"""


class Controller:
    """``exhibit controller`` on two free loopback ports, restartable on the same ones."""

    def __init__(self, folder: Path, bundle_dir: Path) -> None:
        from exhibit_engine.cli.demo import free_ports

        self.folder, self.bundle_dir = folder, bundle_dir
        self.show = folder / "show.toml"
        self.show.write_text(SHOW, encoding="utf-8")
        self.state_port, self.publish_port = free_ports(2)
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self, *state: str, show: Path | None = None) -> None:
        """Start it; ``state`` is ``("--no-state",)`` or ``("--state-file", PATH)``."""
        self.runs += 1
        self.log = self.folder / f"controller-{self.runs}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "exhibit_engine.cli", "controller",
                 "--venue", str(VENUE), "--show", str(show or self.show), "--host", HOST,
                 "--state-port", str(self.state_port),
                 "--publish-port", str(self.publish_port),
                 "--bundle-dir", str(self.bundle_dir), *(state or ("--no-state",))],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT),
                     "EXHIBIT_STATE_FILE": str(self.folder / "default-state.json")})

    def kill(self) -> None:
        """SIGKILL: a crash, nothing saved on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def peer(self, node_id: str, role: str = "projector", **kw: Any) -> Peer:
        return Peer(HOST, self.state_port, self.publish_port, node_id, role, **kw)


def joined(peer: Peer, ctl: Controller, *, clock: bool = True) -> Peer:
    """Wait until ``peer`` is welcomed, holds a verified snapshot and (with a clock) has
    finished its burst of probes."""
    def ready() -> bool:
        if ctl.proc is not None and ctl.proc.poll() is not None:
            raise AssertionError(f"the controller exited:\n{ctl.output()}")
        return (peer.welcomed and peer.synced
                and (not clock or peer.clock_est.accepted >= 8))
    peer.wait_for(ready, START_S, "welcome, snapshot and clock burst")
    return peer


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, ice_exb: Path) -> Iterator[Controller]:
    """One controller (no state file) for the tests that do not restart it."""
    ctl = Controller(tmp_path_factory.mktemp("peer-ctl"), ice_exb.parent)
    ctl.start("--no-state")
    try:
        yield ctl
    finally:
        ctl.stop()


@pytest.fixture
def own(tmp_path: Path, ice_exb: Path) -> Iterator[Controller]:
    """A controller of the test's own (started by the test)."""
    ctl = Controller(tmp_path, ice_exb.parent)
    try:
        yield ctl
    finally:
        ctl.stop()


# ---------------------------------------------------------------- §8 worked bytes

def test_the_peer_encodes_the_worked_bytes_of_section_8() -> None:
    """No sockets: the page's own examples, byte for byte, and its example digest."""
    import hashlib

    ping = encode("ping", {"t0": 12.5})
    assert ping == [b"ping", bytes.fromhex("82a17602a27430cb4029000000000000")]
    cmd = encode("command", {"name": "capture", "args": {"tag": "t1", "delay": 0.5},
                             "req": 3})
    assert cmd == [b"command", bytes.fromhex(
        "84a17602a46e616d65a763617074757265a46172677382a3746167a27431a564656c"
        "6179cb3fe0000000000000a372657103")]
    req = encode("snapshot-request", {"req": 7})
    assert req == [b"snapshot-request", bytes.fromhex("82a17602a3726571 07".replace(" ", ""))]
    part = [b"snapshot-part", bytes.fromhex("83a17602a3726571 07a5696e64657800".replace(" ", "")),
            bytes.fromhex("81a6616e63686f7293cb4059000000000000cb0000000000000000"
                          "cb3ff0000000000000")]
    kind, body, chunk = decode(part)
    assert (kind, body) == ("snapshot-part", {"v": 2, "req": 7, "index": 0})
    assert msgpack.unpackb(chunk) == {"anchor": [100.0, 0.0, 1.0]}
    assert part[2] == msgpack.packb({"anchor": [100.0, 0.0, 1.0]})
    assert hashlib.sha256(chunk).hexdigest() == (
        "6ff35c65c35a6cd51bfae380a97fab7664921a1bb77e646b3cff1da8a470d3bb")


# ---------------------------------------------------------------- 1. liveness (§5)

def _state(obs: Peer, node_id: str) -> str | None:
    st = obs.command("status")
    return next((n["state"] for n in st["data"]["nodes"] if n["id"] == node_id), None)


def test_kiosks_and_operators_that_ping_stay_joined_and_a_silent_one_is_lost(
        shared: Controller) -> None:
    obs = shared.peer("obs-live", "operator", clock=False)
    kiosk = shared.peer("kiosk-live", "kiosk", clock=False)
    desk = shared.peer("desk-live", "operator", clock=False)
    quiet = shared.peer("kiosk-quiet", "kiosk", clock=False)
    proj = shared.peer("proj-quiet", "projector")
    peers = [obs, kiosk, desk, quiet, proj]
    for p in peers:
        p.start()
    try:
        for p in peers:
            joined(p, shared, clock=p is proj)
        # a projector is joined while its node-status beats come, lost soon after they
        # stop (lost_after_s, 0.35 s), though its clock probes go on: they do not count
        obs.wait_for(lambda: _state(obs, "proj-quiet") == "joined", 5.0, "projector joined")
        with proj.cond:
            proj.beating = False
        obs.wait_for(lambda: _state(obs, "proj-quiet") == "lost", 3.0, "projector lost")
        with quiet.cond:
            quiet.muted = True            # still connected, sends nothing from now on
            silent_since = quiet.last_sent
        assert silent_since is not None
        start = obs.local()
        seen: list[tuple[float, str]] = []
        while obs.local() - start < 5.5:
            beats = obs.last_heard
            obs.wait_for(lambda b=beats: obs.last_heard != b, 2.0, "a heartbeat")
            st = obs.command("status")
            assert st["ok"], st
            nodes = {n["id"]: n for n in st["data"]["nodes"]}
            # §5: a kiosk or desk that pings every second or so is never listed as lost
            assert nodes["kiosk-live"]["state"] == "joined", nodes["kiosk-live"]
            assert nodes["desk-live"]["state"] == "joined", nodes["desk-live"]
            assert nodes["kiosk-live"]["role"] == "kiosk"
            assert nodes["desk-live"]["role"] == "operator"
            seen.append((quiet.local() - silent_since, nodes["kiosk-quiet"]["state"]))
        # §5: lost after 3 s of silence (a margin for the poll and the status round trip)
        early = [s for t, s in seen if t < 2.7]
        late = [s for t, s in seen if t > 3.5]
        assert early and set(early) == {"joined"}, seen
        assert late and set(late) == {"lost"}, seen
    finally:
        for p in peers:
            p.stop()


# ---------------------------------------------------------------- 2. backward jumps (§4, §6)

def _cue_event(p: Peer, after_seq: int) -> AppliedEvent | None:
    return next((e for e in p.applied if e.kind == "cue" and e.seq > after_seq), None)


def test_backward_jumps_land_on_the_frame_of_the_new_anchor_on_every_projector(
        shared: Controller) -> None:
    desk = shared.peer("desk-jump", "operator", frame_s=0.02)
    # three projectors with local clocks far apart: only the §4 estimate brings them
    # to the controller's time
    walls = [shared.peer(f"wall-{i}", "projector", skew_s=skew)
             for i, skew in enumerate((0.0, 41.5, -7.25))]
    for p in [desk, *walls]:
        p.start()
    try:
        for p in [desk, *walls]:
            joined(p, shared)
        for w in walls:
            assert abs((w.clock_est.offset or 0.0) + w.skew_s) < 0.02, w.clock_est.offset

        def step(name: str, args: dict[str, Any], backward: bool) -> list[AppliedEvent]:
            last = max((e.seq for w in walls for e in w.applied), default=-1)
            marks = [(len(w.switch_frames), w.frames) for w in walls]
            reply = desk.command(name, args)
            assert reply["ok"], reply
            data = reply["data"]
            assert "ignored" not in data, data
            cues = []
            for w, (switches, frames) in zip(walls, marks, strict=True):
                ev = w.wait_for(lambda w=w: _cue_event(w, last), 5.0, f"the cue of {name}")
                with w.cond:
                    new = [s for s in w.switch_frames[switches:] if s[0] > frames]
                    assert new, f"{w.node_id}: no anchor switch after {name}"
                    first = new[0]
                    # §6: the cue event lands on the first frame under the new anchor
                    assert ev.frame == first[0], (name, w.node_id, ev, first)
                    assert ev.frame_switched_anchor
                    assert ev.controller_at is not None
                    assert ev.frame_controller_time >= ev.controller_at
                    # §6: effective_at is the show time at controller_at under the new
                    # anchor: that frame's show time, less how late the frame came
                    assert ev.frame_show_time is not None and ev.effective_at is not None
                    late = ev.frame_controller_time - ev.controller_at
                    assert late < 0.1, ev
                    rate = first[3][2]
                    assert abs(ev.frame_show_time - late * rate - ev.effective_at) < 1e-3, ev
                    if backward:
                        assert ev.frame in w.backward_frames, (name, w.node_id)
                cues.append(ev)
            # every projector agrees on the event
            assert len({(e.seq, e.controller_at, e.effective_at) for e in cues}) == 1, cues
            if "events" in data:
                assert cues[0].seq in data["events"], (data, cues[0])
            # past the GO guard before the next command (§7: a second GO within it is
            # ignored)
            until = cues[0].controller_at + 0.6
            desk.wait_for(lambda: desk.controller_now(desk.local()) > until, 5.0,
                          "the guard time to pass")
            return cues

        step("next", {}, backward=False)                      # into cue "two"
        back = step("back", {}, backward=True)[0]
        assert back.effective_at == back.args.get("position"), back   # the cue's start
        step("goto", {"cue": 2}, backward=False)              # cue "three" at 8 s
        to_one = step("goto", {"cue": 0}, backward=True)[0]
        assert to_one.args.get("id") == "one" and to_one.effective_at == 0.0, to_one
        step("goto", {"cue": "three"}, backward=False)
        seek = step("seek", {"position": 1.0}, backward=True)[0]
        assert seek.args.get("id") == "one", seek
        assert abs(seek.effective_at - 1.0) < 1e-6, seek
        for w in walls:
            assert w.duplicates > 0, w.node_id     # §6: events come again; applied once
            assert len({e.seq for e in w.applied}) == len(w.applied)
            assert w.malformed == [], w.malformed
    finally:
        for p in [desk, *walls]:
            p.stop()


# ---------------------------------------------------------------- 3. version refusal (§2)

def test_a_frame_of_another_version_is_answered_with_the_documented_reason(
        shared: Controller) -> None:
    raw = RawDealer(HOST, shared.state_port)
    desk = shared.peer("desk-version", "operator", clock=False).start()
    try:
        joined(desk, shared, clock=False)
        raw.send("command", {"name": "status", "req": 5}, v=3)
        kind, body = raw.recv(5.0)     # decode() checked the reply itself is version 2
        assert kind == "reply"
        assert body["ok"] is False
        assert body["error"] == "unsupported protocol version 3 (this peer speaks version 2)"
        assert body["data"] == {"version": 2}
        assert body["req"] == 5
        # a hello of version 3 gets the same reply, never a welcome
        raw.send("hello", {"node_id": "v3-peer", "role": "kiosk"}, v=3)
        kind, body = raw.recv(5.0)
        assert (kind, body["ok"], body["req"]) == ("reply", False, 0), body
        assert body["error"].startswith("unsupported protocol version 3")
        # the version is checked before the type
        raw.send("no-such-type", {"req": 6}, v=3)
        kind, body = raw.recv(5.0)
        assert (kind, body["ok"], body["req"]) == ("reply", False, 6), body
        assert body["error"].startswith("unsupported protocol version 3"), body
        st = desk.command("status")["data"]
        assert st["malformed"] >= 3
        assert "unsupported protocol version 3" in st["last_malformed"]
        # §2: an unknown type of version 2 is counted and dropped (rule named)
        raw.send("no-such-type", {"req": 7})
        st2 = desk.wait_for(lambda: (d := desk.command("status")["data"])["malformed"]
                            > st["malformed"] and d, 5.0, "the unknown type counted")
        assert "unknown message type" in st2["last_malformed"], st2
    finally:
        raw.close()
        desk.stop()


# ---------------------------------------------------------------- 4. hello first (§5)

def test_a_command_before_hello_is_refused_and_works_after_hello(shared: Controller) -> None:
    raw = RawDealer(HOST, shared.state_port)
    try:
        raw.send("command", {"name": "status", "args": {}, "req": 11})
        kind, body = raw.recv(5.0)
        assert kind == "reply" and body["ok"] is False and body["req"] == 11, body
        assert body["error"].startswith("say hello first: "), body
        assert body["data"].get("hello_first") is True, body
        raw.send("hello", {"node_id": "raw-desk", "role": "operator"})
        kind, welcome = raw.recv(5.0)
        assert kind == "welcome", (kind, welcome)
        assert isinstance(welcome["session"], str) and isinstance(welcome["seq"], int)
        raw.send("command", {"name": "status", "args": {}, "req": 12})
        kind, body = raw.recv(5.0)
        assert kind == "reply" and body["ok"] is True and body["req"] == 12, body
        assert body["data"]["session"] == welcome["session"]
        assert "raw-desk" in {n["id"] for n in body["data"]["nodes"]}
    finally:
        raw.close()


# ---------------------------------------------------------------- 5. select (§7)

def test_select_of_an_unknown_item_is_refused_with_the_nearest_id(shared: Controller) -> None:
    kiosk = shared.peer("kiosk-select", "kiosk", frame_s=0.01).start()
    try:
        joined(kiosk, shared)
        bad = kiosk.command("select", {"item": "castel"})
        assert bad["ok"] is False, bad
        assert "castle" in bad["error"] and "\n" not in bad["error"], bad
        # §9: a kiosk may send only its commands, in development mode too
        seek = kiosk.command("seek", {"position": 1.0})
        assert seek["ok"] is False and seek["error"] == (
            "kiosk may not send 'seek' (kiosk commands: language, select, status, touch)")
        good = kiosk.command("select", {"item": "lantern"})
        assert good["ok"] is True, good
        data = good["data"]
        ev = kiosk.wait_for(lambda: next((e for e in kiosk.applied if e.seq == data["seq"]),
                                         None), 5.0, "the select event")
        assert ev.kind == "select" and ev.args == {"item": "lantern"}
        assert ev.controller_at == data["controller_at"]
        assert ev.effective_at == data["effective_at"]
        assert ev.frame_controller_time >= data["controller_at"]
        kiosk.wait_for(lambda: kiosk.seq is not None and kiosk.seq >= data["state_seq"],
                       5.0, "the selection's key-update")
        assert kiosk.state["selected_item"] == {"item": "lantern",
                                                "selected_at": data["effective_at"]}
        assert not any(e.args.get("item") == "castel" for e in kiosk.applied)
    finally:
        kiosk.stop()


# ---------------------------------------------------------------- 6. restart (§5, §10)

def _resynced_after(p: Peer, restarts: int) -> bool:
    return p.restarts > restarts and p.welcomed and p.synced


def _saved_after(desk: Peer, change: Any) -> None:
    """Wait until ``status`` reports a state save other than ``saved`` (made before a
    change), i.e. one made after it (§7 ``state_save``)."""
    def saved() -> bool:
        s = desk.command("status")["data"].get("state_save")
        return bool(s) and s != change and s["ok"]
    desk.wait_for(saved, 10.0, "a state save after the change")


def _restart(ctl: Controller, wall: Peer, *state: str, show: Path | None = None
             ) -> tuple[float, float]:
    """Kill the controller, let the wall play alone, start it again and wait until the
    wall has noticed the new session, rejoined and taken a fresh snapshot. Returns the
    wall's (controller time, show time) at the kill."""
    with wall.cond:
        restarts, frames, session = wall.restarts, wall.frames, wall.session
    ctl.kill()
    with wall.cond:
        killed_at = wall.controller_now(wall.local())
        show_at_kill = wall.show_time_at(killed_at)
    # §5: a node keeps playing from its last anchor while the controller is away
    wall.wait_for(lambda: wall.frames > frames + 50, 5.0, "frames with no controller")
    ctl.start(*state, show=show)
    wall.wait_for(lambda: _resynced_after(wall, restarts), START_S,
                  "the new session, a welcome and a fresh snapshot")
    assert wall.session != session
    assert wall.snapshots[-1].reason == "join"
    assert show_at_kill is not None
    return killed_at, show_at_kill


def _show_now(wall: Peer) -> tuple[float, tuple[float, ...]]:
    with wall.cond:
        now = wall.controller_now(wall.local())
        anchor = tuple(wall.state["anchor"])
    return anchor[1] + (now - anchor[0]) * anchor[2], anchor


def test_a_restarted_controller_is_noticed_and_resumes_as_section_10_says(
        own: Controller) -> None:
    state_file = own.folder / "state.json"
    with_file = ("--state-file", str(state_file))
    own.start(*with_file)
    wall = own.peer("wall-restart", "projector", skew_s=3.0).start()
    desk = own.peer("desk-restart", "operator", frame_s=0.02).start()
    raw = RawDealer(HOST, own.state_port)
    try:
        joined(wall, own)
        joined(desk, own)
        raw.send("hello", {"node_id": "raw-restart", "role": "operator"})
        assert raw.recv(5.0)[0] == "welcome"
        assert desk.command("seek", {"position": 20.0})["ok"]
        wall.wait_for(lambda: (wall.show_time or 0.0) > 20.0, 5.0, "show time past 20 s")
        saved = desk.command("status")["data"].get("state_save")
        selected = desk.command("select", {"item": "lantern"})
        assert selected["ok"], selected
        wall.wait_for(lambda: wall.state.get("selected_item", {}).get("item") == "lantern",
                      5.0, "the selection")
        _saved_after(desk, saved)
        seq = wall.seq
        assert seq is not None

        # 1. killed and started again with its state file: a playing show played on
        killed_at, show_at_kill = _restart(own, wall, *with_file)
        assert wall.welcome_seq is not None and wall.welcome_seq >= seq   # seq continues
        assert wall.state.get("selected_item", {}).get("item") == "lantern"
        resumed, anchor = _show_now(wall)
        expected = show_at_kill + (wall.controller_now(wall.local()) - killed_at)
        assert anchor[2] == 1.0 and abs(resumed - expected) < 0.25, (resumed, expected)
        # §5: the restarted controller forgot the raw peer's hello: say hello first
        raw.send("command", {"name": "status", "req": 21})
        kind, body = raw.recv(5.0)
        assert kind == "reply" and body["req"] == 21 and body["ok"] is False, body
        assert body["data"].get("hello_first") is True, body
        # the operator desk rejoined too and its commands work again
        desk.wait_for(lambda: desk.restarts >= 1 and desk.welcomed, START_S, "desk rejoin")
        assert desk.command("status")["data"]["session"] == wall.session
        # §10: both seq counters continue, the events' too
        again = desk.command("select", {"item": "castle"})
        assert again["ok"] and again["data"]["seq"] > selected["data"]["seq"], again
        assert again["data"]["state_seq"] > selected["data"]["state_seq"], again

        # 2. paused, killed and started again with the file: where it stopped
        saved = desk.command("status")["data"].get("state_save")
        paused = desk.command("pause")
        assert paused["ok"], paused
        wall.wait_for(lambda: wall.anchor is not None and wall.anchor[2] == 0.0
                      and wall.pending_anchor is None, 5.0, "the pause")
        position = wall.anchor[1]
        _saved_after(desk, saved)
        _restart(own, wall, *with_file)
        resumed, anchor = _show_now(wall)
        assert anchor[2] == 0.0 and abs(resumed - position) < 1e-6, (resumed, position)

        # 3. started without a state file: show time starts at 0
        _restart(own, wall, "--no-state")
        show, anchor = _show_now(wall)
        assert anchor[1] == 0.0 and anchor[2] == 1.0 and 0.0 <= show < 10.0, anchor
        wall.wait_for(lambda: wall.show_time is not None and wall.show_time < 10.0, 5.0,
                      "the wall on the new show time")

        # 4. with the state file (the paused session of step 2) but another show: 0 too
        other = own.folder / "other-show.toml"
        other.write_text(SHOW.replace('id = "peer-test"', 'id = "other-show"'),
                         encoding="utf-8")
        _restart(own, wall, *with_file, show=other)
        show, anchor = _show_now(wall)
        assert anchor[1] == 0.0 and 0.0 <= show < 10.0, anchor
    finally:
        raw.close()
        wall.stop()
        desk.stop()


# ---------------------------------------------------------------- 7. multi-part snapshot

def test_a_large_state_arrives_as_a_verified_snapshot_of_many_parts(own: Controller) -> None:
    own.start("--no-state")
    old = own.peer("wall-big", "projector").start()
    desk = own.peer("desk-big", "operator", clock=False)
    fresh: Peer | None = None
    try:
        desk.start()
        joined(old, own)
        joined(desk, own, clock=False)
        for keys, value_bytes in ((3000, 100), (12000, 300)):
            gaps = old.gaps
            reply = desk.command("debug-fill", {"keys": keys, "value_bytes": value_bytes})
            assert reply["ok"], reply
            data = reply["data"]
            if (keys, value_bytes) == (3000, 100):
                assert data["parts"] == 6        # §7's example
            assert data["keys"] == keys
            # the joined peer sees the gap in a heartbeat and takes a snapshot
            snap = old.wait_for(lambda s=data["state_seq"]: next(
                (x for x in old.snapshots if x.seq >= s), None), 10.0, "a gap snapshot")
            assert old.gaps > gaps and snap.reason == "gap"
            assert snap.parts == data["parts"] > 1
            assert snap.count == data["state_keys"] == len(snap.keys_in_order)
            assert snap.keys_in_order == sorted(snap.keys_in_order)
            with old.cond:
                fill = sorted(k for k in old.state if k.startswith("debug/fill/"))
                assert fill == [f"debug/fill/{i:05d}" for i in range(keys)]
                assert all(len(old.state[k]) == value_bytes for k in fill)
                assert "anchor" in old.state
            # a fresh peer gets the same parts; one part lost on the way (a ROUTER drops
            # parts for a slow reader): the peer notices, drops it all and asks again
            fresh = own.peer(f"wall-fresh-{keys}", "projector")
            fresh.lose_part = 3
            fresh.start()
            joined(fresh, own)
            assert fresh.snapshot_failures == ["part 4 where 3 was due"]
            first = fresh.snapshots[0]
            assert first.reason == "join" and first.parts == data["parts"]
            if first.seq == snap.seq:
                assert first.digest == snap.digest
            assert len(fresh.state) == data["state_keys"]
            fresh.stop()
            fresh = None
        # keys: 0 removes them, again under a new seq the peer notices
        reply = desk.command("debug-fill", {"keys": 0})
        assert reply["ok"], reply
        old.wait_for(lambda: not any(k.startswith("debug/fill/") for k in old.state)
                     and old.seq is not None and old.seq >= reply["data"]["state_seq"],
                     10.0, "the filler gone")
    finally:
        for p in (old, desk, fresh):
            if p is not None:
                p.stop()
