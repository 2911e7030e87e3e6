"""``exhibit controller`` as a real process: on a simulated wall clock (``--sim-time``) it
follows the show's opening hours and, started mid-day, catches up to where the schedule
says the show should be; a state file it cannot use is refused in one line (never
overwritten), and with ``--fresh`` moved aside for a fresh show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.cli.demo import free_ports
from exhibit_engine.errors import SyncError
from exhibit_engine.sync.operator import OperatorClient

from .conftest import CONTENT, Procs, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.sync]

SCHEDULE = """
[schedule]
timezone = "Europe/Berlin"
mon = "closed"
tue = ["10:00", "18:00"]
"""


def _status(op: OperatorClient) -> dict[str, Any] | None:
    try:
        return op.command("status")
    except SyncError:
        return None


@pytest.mark.parametrize("sim_time, program, show_time", [
    # Tuesday 14:04: open since 10:00, 4 h 4 min = 14,640 s into the sample show's 180 s
    # loop (four 45 s cues) -> 60 s.
    ("2026-11-24T14:04:00+01:00", "main", 60.0),
    ("2026-11-23T14:03:00+01:00", "standby", None),      # Monday: closed all day
])
def test_a_controller_started_mid_day_lands_where_the_schedule_says(
        procs: Procs, tmp_path: Path, sim_time: str, program: str,
        show_time: float | None) -> None:
    show = tmp_path / "show.toml"
    show.write_text((CONTENT / "show.toml").read_text(encoding="utf-8") + SCHEDULE,
                    encoding="utf-8")
    state, pub = free_ports(2)
    procs.start("controller", "controller", "--venue", str(CONTENT / "venue.toml"),
                "--show", str(show), "--host", "127.0.0.1", "--state-port", str(state),
                "--publish-port", str(pub), "--no-state", "--sim-time", sim_time)
    with OperatorClient("127.0.0.1", state, timeout_s=2.0) as op:
        st = wait_until(lambda: _status(op), 60.0, "the controller to answer")
    assert st["show"]["program"] == program, procs.log("controller")
    assert st["show"]["open"] is (program == "main")
    if show_time is not None:
        # It answered within a few seconds of starting: the clock ran on meanwhile.
        assert show_time <= st["show_time"] < show_time + 10.0


def test_an_unusable_state_file_is_refused_and_with_fresh_moved_aside(procs: Procs,
                                                                       tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    text = '{"format": "exhibit-controller-state", "version": 7}'
    state_file.write_text(text)
    state, pub = free_ports(2)
    args = ("--venue", str(CONTENT / "venue.toml"), "--show", str(CONTENT / "show.toml"),
            "--host", "127.0.0.1", "--state-port", str(state), "--publish-port", str(pub),
            "--state-file", str(state_file))
    # Never overwritten: without --fresh the controller refuses in one line.
    refused = procs.start("refused", "controller", *args)
    assert refused.wait(timeout=60) == 1
    (line,) = procs.log("refused").strip().splitlines()
    assert line.startswith("exhibit: error:") and str(state_file) in line
    assert "unknown version 7" in line and "--fresh" in line
    assert state_file.read_text() == text
    # With --fresh it is moved aside, and the show starts fresh.
    procs.start("controller", "controller", *args, "--fresh")
    with OperatorClient("127.0.0.1", state, timeout_s=2.0) as op:
        st = wait_until(lambda: _status(op), 60.0, "the controller to answer")
        assert st["show_time"] < 30.0          # a fresh show
        wait_until(lambda: state_file.exists() and '"version": 1' in state_file.read_text(),
                   10.0, "the controller to write its state file")
    (aside,) = tmp_path.glob("state.json.unreadable-*")
    assert aside.read_text() == text
    warnings = [ln for ln in procs.log("controller").splitlines() if "cannot be read" in ln]
    assert len(warnings) == 1 and str(state_file) in warnings[0] and str(aside) in warnings[0]
    assert "unknown version 7" in warnings[0] and "Traceback" not in procs.log("controller")
