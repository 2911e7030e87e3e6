"""The show gate: a show with ``[control] start = "when-ready"`` holds at its start until
every display's node reports ready; ``start --force`` overrides it (the core, in process;
the real-process test is in tests/e2e/test_show_gate.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.config import BundleRef, CueConfig, ShowConfig, load_show
from exhibit_engine.errors import ConfigError
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.controller_core import ControllerCore

from .conftest import desk_command

WALL = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
SHOW = ShowConfig("s", {}, (BundleRef("b", "b.exb"),),
                  (CueConfig("one", "b", "x", 30.0), CueConfig("two", "b", "y", 30.0)),
                  start="when-ready")
DISPLAYS = ("left", "right")


def gated(show: ShowConfig = SHOW, now: float = 100.0) -> ControllerCore:
    core = ControllerCore(now, "s")
    core.attach_show(show, now, WALL, displays=DISPLAYS)
    return core


def report(core: ControllerCore, node: str, now: float, *, ready: bool,
           frames: int = 10) -> None:
    peer = node.encode()
    if core.peers.welcomed(peer) is None:
        core.handle(peer, p.Hello(node), now)
    core.handle(peer, p.NodeStatus(node, frames, 0.0, 0.0, 100.0,
                                   health=p.NodeHealth(ready=ready)), now)


def cmd(core: ControllerCore, name: str, now: float, **args: Any) -> p.Reply:
    reply = desk_command(core, name, now, args).replies[0]
    assert isinstance(reply, p.Reply)
    return reply


def test_the_show_holds_at_its_start_until_every_display_is_ready() -> None:
    core = gated()
    assert core.gate is not None and core.gate.holding
    core.tick(101.0)
    assert core.show_time(110.0) == pytest.approx(0.0), "held: show time stands at 0"
    status = cmd(core, "status", 110.0).data
    assert status["gate"]["holding"] is True
    assert status["gate"]["waiting_for"] == {"left": "not joined", "right": "not joined"}
    assert status["show"]["paused"] is True

    report(core, "left", 111.0, ready=True)
    report(core, "right", 111.0, ready=False)
    core.tick(111.1)
    assert core.gate.holding and core.show_time(111.2) == pytest.approx(0.0)
    assert cmd(core, "status", 111.15).data["gate"]["waiting_for"] == {
        "right": "not ready (bundles or first frame)"}
    # GO, resume, goto and seek would start it: refused, naming who is missing.
    for name, args in (("go", {}), ("resume", {}), ("goto", {"cue": "two"}),
                       ("seek", {"position": 5.0})):
        reply = cmd(core, name, 111.2, **args)
        assert not reply.ok and "waits to start" in reply.error and "right" in reply.error
    assert cmd(core, "blackout", 111.2, on=True).ok, "blackout still works while held"
    # start without --force: not yet
    reply = cmd(core, "start", 111.25)
    assert not reply.ok and "right (not ready" in reply.error and "--force" in reply.error

    report(core, "left", 111.3, ready=True)
    report(core, "right", 111.3, ready=True)
    beat = core.tick(111.4)
    assert not core.gate.holding and core.gate.released == "ready"
    assert any(isinstance(m, p.KeyUpdate) and m.key == "anchor" for m in beat.publish)
    t0 = core.show_time(112.0)
    assert core.show_time(115.0) - t0 == pytest.approx(3.0), "the show plays"
    assert cmd(core, "status", 115.0).data["gate"] == {
        "holding": False, "displays": ["left", "right"], "released": "ready",
        "released_at": 111.4}
    again = cmd(core, "start", 115.0, force=True)
    assert again.ok and again.data["ignored"] == "the show has started (ready)"
    assert cmd(core, "go", 115.1).ok, "GO works once it started"


def test_start_force_starts_without_the_missing_displays() -> None:
    core = gated()
    report(core, "left", 101.0, ready=True)
    core.tick(101.1)
    reply = cmd(core, "start", 101.2, force=True)
    assert reply.ok and reply.data["started"] == "forced"
    assert reply.data["missing"] == {"right": "not joined"}
    assert core.show_time(104.0) > core.show_time(103.0) > 0.0
    gate = cmd(core, "status", 104.0).data["gate"]
    assert gate["released"] == "forced" and gate["missing_at_release"] == {
        "right": "not joined"}


def test_a_lost_or_loading_node_is_not_ready_and_a_timeout_starts_anyway() -> None:
    core = gated(replace(SHOW, ready_timeout_s=30.0))
    report(core, "left", 101.0, ready=True)
    report(core, "right", 101.0, ready=False)
    core.tick(101.1)
    assert core.gate is not None and core.gate.holding
    # right falls silent: lost, so not ready (whatever it said before)
    core.handle(b"left", p.NodeStatus("left", 11, 0.0, 0.0, 100.0,
                                      health=p.NodeHealth(ready=True)), 110.0)
    core.tick(110.1)
    assert core.gate is not None and core.gate.holding
    assert cmd(core, "status", 110.2).data["gate"]["waiting_for"] == {"right": "lost"}
    assert cmd(core, "status", 110.2).data["gate"]["starts_in_s"] == pytest.approx(19.8)
    core.handle(b"left", p.NodeStatus("left", 12, 0.0, 0.0, 100.0,
                                      health=p.NodeHealth(ready=True)), 130.0)
    core.tick(130.1)
    assert not core.gate.holding and core.gate.released == "timeout"
    assert core.gate.missing_at_release == {"right": "lost"}


def test_at_once_and_a_restored_show_are_never_held() -> None:
    core = gated(replace(SHOW, start="at-once"))
    assert core.gate is None and core.show_time(105.0) == pytest.approx(5.0)
    reply = cmd(core, "start", 105.0)
    assert reply.ok and reply.data["started"] == "at-once"
    fresh = gated()
    saved = fresh.show.control.to_dict()
    restarted = ControllerCore(200.0, "s2")
    restarted.attach_show(SHOW, 200.0, WALL, restored=saved, displays=DISPLAYS)
    assert restarted.gate is None, "a controller restart mid-show plays on"


def test_show_toml_start_is_checked(tmp_path: Path) -> None:
    base = ('[show]\nid = "s"\n[[bundles]]\nid = "b"\nfile = "b.exb"\n'
            '[[cues]]\nid = "c"\nbundle = "b"\nscene = "x"\nduration = 5.0\n')
    good = tmp_path / "good.toml"
    good.write_text(base + '[control]\nstart = "when-ready"\nready_timeout_s = 120\n')
    show = load_show(good)
    assert (show.start, show.ready_timeout_s) == ("when-ready", 120.0)
    bad = tmp_path / "bad.toml"
    bad.write_text(base + '[control]\nstart = "when_ready"\n')
    with pytest.raises(ConfigError, match=r"did you mean 'when-ready'") as err:
        load_show(bad)
    assert "bad.toml" in str(err.value) and "control.start" in str(err.value)
    bad.write_text(base + '[control]\nready_timeout_s = -1\n')
    with pytest.raises(ConfigError, match="at least 0"):
        load_show(bad)
    assert load_show(tmp_path / "good.toml").start == "when-ready"
