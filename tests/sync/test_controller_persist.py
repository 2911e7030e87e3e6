"""The controller's state file: saved atomically, resumed by the wall clock, never fatal."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.controller import ControllerServer, simulated_wall_clock
from exhibit_engine.sync.controller_core import ControllerCore
from exhibit_engine.sync.operator import OperatorClient
from exhibit_engine.sync.persist import (
    FORMAT,
    VERSION,
    SavedSession,
    load_session,
    save_session,
)

from .conftest import desk_command

SHOW = "test"     # the show id of the sync fixtures' minimal show


def command(core: ControllerCore, name: str, now: float, **args: Any) -> p.Reply:
    (reply,) = desk_command(core, name, now, args).replies
    assert isinstance(reply, p.Reply)
    return reply


def test_saved_session_round_trips_through_the_file(tmp_path: Path) -> None:
    saved = SavedSession(SHOW, 1_700_000_000.5, 812.25, 1.0, seq=41, event_seq=17,
                         state={"selected_item": {"item": "vase", "selected_at": 3.0},
                                "language": "ru"},
                         control={"program": "main"})
    path = tmp_path / "deep" / "state.json"
    save_session(path, saved)
    assert load_session(path, SHOW) == saved
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == FORMAT and data["version"] == VERSION
    assert data["anchor"] == {"wall_time": 1_700_000_000.5, "position": 812.25, "rate": 1.0}
    assert [f.name for f in path.parent.iterdir()] == ["state.json"]   # no temp file left


def test_position_runs_on_by_wall_time_and_never_backwards() -> None:
    playing = SavedSession(SHOW, 1000.0, 50.0, 1.0)
    assert playing.position_at(1012.5) == 62.5
    assert playing.position_at(990.0) == 50.0          # wall clock set back: no rewind
    paused = SavedSession(SHOW, 1000.0, 50.0, 0.0)
    assert paused.position_at(5000.0) == 50.0


@pytest.mark.parametrize("text, reason", [
    ("{not json", "cannot be used"),
    (json.dumps({"format": FORMAT, "version": 99}), "unknown version 99"),
    (json.dumps({"format": "something-else"}), "not an"),
    (json.dumps({"format": FORMAT, "version": VERSION, "show": SHOW,
                 "anchor": {"wall_time": 1.0, "position": "x", "rate": 1.0}}),
     "finite numbers"),
    (json.dumps({"format": FORMAT, "version": VERSION, "show": SHOW}), "anchor"),
    ("\udcff", "cannot be used"),
])
def test_a_bad_file_is_one_warning_naming_it_and_a_fresh_start(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, reason: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with caplog.at_level(logging.WARNING, logger="exhibit_engine.sync.persist"):
        assert load_session(path, SHOW) is None
    (record,) = caplog.records
    assert str(path) in record.getMessage() and reason in record.getMessage()


def test_a_file_of_another_show_is_not_resumed(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.json"
    save_session(path, SavedSession("other-show", 1000.0, 5.0))
    with caplog.at_level(logging.WARNING, logger="exhibit_engine.sync.persist"):
        assert load_session(path, SHOW) is None
    assert "belongs to show 'other-show'" in caplog.text
    assert load_session(tmp_path / "missing.json", SHOW) is None   # no file: silent


def test_core_resumes_show_time_state_and_sequence_numbers() -> None:
    first = ControllerCore(now=100.0, session="one")
    command(first, "seek", 100.0, position=40.0, delay=0.0)
    command(first, "select", 101.0, item="vase")
    command(first, "capture", 101.0, tag="x")
    saved = first.saved(110.0, wall_time=5000.0, show_id=SHOW)
    assert saved.position == pytest.approx(50.0) and saved.rate == 1.0
    assert (saved.seq, saved.event_seq) == (2, 2)
    assert saved.state == {"selected_item": first.state["selected_item"]}

    # A new process: its monotonic clock has nothing to do with the old one's.
    second = ControllerCore(now=7.0, session="two")
    second.restore(saved, now=7.0, wall_time=5003.0)
    assert second.show_time(7.0) == pytest.approx(53.0)
    assert second.state["selected_item"] == first.state["selected_item"]
    assert second.state["anchor"] == [7.0, pytest.approx(53.0), 1.0]
    assert second.session == "two"
    assert second.seq == 3     # saved 2, + 1 for the restored state as a whole
    # Numbering continues: the next event and key update do not reuse old numbers.
    reply = command(second, "select", 8.0, item="bowl")
    assert reply.data["seq"] == 3 and reply.data["state_seq"] == 4


def test_restore_drops_values_that_break_the_wire_rules(caplog: pytest.LogCaptureFixture,
                                                        ) -> None:
    core = ControllerCore(now=0.0, session="s")
    saved = SavedSession(SHOW, 0.0, 0.0, state={"good": [1, 2], "bad": {"k": b"\x00"},
                                                "deep": [[[[[[[[[["x"]]]]]]]]]]})
    with caplog.at_level(logging.WARNING):
        core.restore(saved, now=0.0, wall_time=0.0)
    assert set(core.state) == {"anchor", "good"}
    assert "dropped" in caplog.text


def test_simulated_wall_clock_runs_in_absolute_time_across_a_dst_change() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    ticks = iter([0.0, 3600.0])
    wall = simulated_wall_clock(datetime(2026, 3, 29, 1, 30, tzinfo=berlin),
                                clock=lambda: next(ticks))
    later = wall()
    # 01:30 CET + 1 h is 03:30 CEST (02:30 does not exist that night).
    assert (later.hour, later.minute) == (3, 30)
    assert later.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_server_saves_on_change_and_a_restarted_one_resumes(
        start_controller: Any, tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    wall_now = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC)]
    mono = [500.0]
    ctl = start_controller(state_file=str(state_file), clock=lambda: mono[0],
                           wall_clock=lambda: wall_now[0])
    settings = ctl.server.settings
    try:
        with OperatorClient("127.0.0.1", ctl.state_port) as op:
            op.command("seek", position=100.0, rate=0.5, delay=0.0)
            op.command("select", item="vase")
        # The command loop saves once the change is handled; the reply came before it.
        assert ctl.server.wait_saved(timeout=10.0)
        saved = load_session(state_file, SHOW)
        assert saved is not None and saved.seq == 2
    finally:
        ctl.stop()
    saved = load_session(state_file, SHOW)
    assert saved is not None and saved.rate == 0.5 and saved.position == pytest.approx(100.0)
    assert saved.wall_time == wall_now[0].timestamp()

    # Ten wall seconds later, a new controller process (another monotonic origin).
    wall_now[0] += timedelta(seconds=10)
    again = ControllerServer(settings, clock=lambda: 3.0, wall_clock=lambda: wall_now[0])
    again.bind()
    try:
        assert again.core is not None
        assert again.core.show_time(3.0) == pytest.approx(105.0)
        assert again.core.state["selected_item"]["item"] == "vase"
    finally:
        again.close()


def test_an_unwritable_state_file_is_warned_about_once_and_the_show_goes_on(
        controller_settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from dataclasses import replace

    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = replace(controller_settings(), state_file=str(blocker / "state.json"))
    server = ControllerServer(settings)
    server.bind()
    try:
        with caplog.at_level(logging.WARNING):
            assert server.save(force=True) is False
            assert server.save(force=True) is False
        assert caplog.text.count("cannot save the controller state") == 1
    finally:
        server.close()
