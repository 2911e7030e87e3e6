"""``exhibit ctl`` and ``exhibit kiosk`` against a real controller on 127.0.0.1: every
command answers in one line; bad arguments and refusals are one line and a non-zero exit."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from exhibit_engine.cli import main
from exhibit_engine.cli.demo import free_ports
from exhibit_engine.config import CueConfig, ShowConfig

pytestmark = pytest.mark.sync

CONTENT = Path(__file__).resolve().parents[1] / "content"

SHOW = ShowConfig("cli", {"en": "CLI", "ru": "Тест"}, (),
                  (CueConfig("dawn", "b", "s", 10.0), CueConfig("dusk", "b", "s", 10.0)))
CTL_COMMANDS = ["status", "go", "next", "back", "pause", "resume", "goto", "seek",
                "blackout", "panic", "capture"]


@pytest.fixture
def controller(start_controller: Callable[..., Any]) -> Any:
    """A controller thread with a two-cue show; its core is inspected by the tests."""
    return start_controller(show=SHOW,
                            wall_clock=lambda: datetime(2026, 5, 1, 12, tzinfo=UTC)).server


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_error_line(res: Result) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.output
    return lines[0]


@pytest.mark.parametrize("group, cmd", [("ctl", c) for c in CTL_COMMANDS]
                         + [("kiosk", c) for c in ("select", "touch", "language")])
def test_every_show_command_explains_itself(group: str, cmd: str) -> None:
    res = run(group, cmd, "--help")
    assert res.exit_code == 0
    assert len(res.output.split("Options:")[0].split()) > 8, f"`exhibit {group} {cmd} --help`"


def test_operator_cues_the_show(controller: Any) -> None:
    port = str(controller.state_port)
    res = run("ctl", "--state-port", port, "goto", "dusk", "--delay", "0")
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "goto: cue 'dusk' (#1), at show time 10.000 s, program main"
    res = run("ctl", "--state-port", port, "go")
    assert res.exit_code == 0 and res.stdout.startswith("go: cue 'dawn' (#0)")
    res = run("ctl", "--state-port", port, "go")
    assert res.exit_code == 0 and "ignored (double GO" in res.stdout
    assert run("ctl", "--state-port", port, "pause").exit_code == 0
    res = run("ctl", "--state-port", port, "blackout", "on", "--fade", "0", "--delay", "0")
    assert res.stdout.strip() == "blackout: blackout on, fade 0 s, program main"
    res = run("ctl", "--state-port", port, "status", "--json")
    st = json.loads(res.stdout)
    assert st["show"]["paused"] is True and st["show"]["blackout"] == 1.0
    assert st["show"]["cue"] == "dawn"
    # With the venue (no [security]: development mode), the port from the flag wins.
    res = run("ctl", "--venue", str(CONTENT / "venue.toml"), "--state-port", port, "status")
    assert res.exit_code == 0 and "program main, cue 'dawn', paused, blackout 100%" in res.stdout


def test_kiosk_selects_touches_and_switches_language(controller: Any) -> None:
    port = str(controller.state_port)
    res = run("kiosk", "--state-port", port, "--id", "lobby", "select", "vase")
    assert res.exit_code == 0 and res.stdout.startswith("select: 'vase' at show time")
    assert controller.core.state["selected_item"]["item"] == "vase"
    assert run("kiosk", "--state-port", port, "touch").exit_code == 0
    res = run("kiosk", "--state-port", port, "language", "ru")
    assert res.exit_code == 0 and res.stdout.strip() == "language: ru"
    assert controller.core.state["language"] == "ru"
    assert controller.core.nodes["lobby"].role == "kiosk"


@pytest.mark.parametrize("args, code, says", [
    (["ctl", "goto", "nowhere"], 1, "goto: no cue 'nowhere' in the main cue list"),
    (["ctl", "goto", "5"], 1, "goto: no cue 5"),
    (["ctl", "seek", "soon"], 2, "<args>: SECONDS: 'soon' is not a number"),
    (["ctl", "seek", "5", "--rate", "-1"], 2, "--rate: '-1' is not a number from 0 to 16"),
    (["ctl", "blackout", "maybe"], 2, "blackout: must be on or off, not 'maybe'"),
    (["ctl", "go", "--delay", "99"], 2, "--delay: '99' is not a number from 0 to 10"),
    (["kiosk", "language", "fr"], 1, "'language' must be one of en, ru"),
    (["kiosk", "--id", "", "touch"], 2, "--id: must be 1 to 256 characters"),
])
def test_bad_arguments_and_refusals_are_one_line(controller: Any, args: list[str], code: int,
                                                  says: str) -> None:
    res = run(args[0], "--state-port", str(controller.state_port), *args[1:])
    assert res.exit_code == code
    assert says in one_error_line(res)


def test_no_controller_is_one_line_naming_the_address() -> None:
    (port,) = free_ports(1)
    res = run("ctl", "--state-port", str(port), "--timeout", "0.2", "status")
    assert res.exit_code == 1
    line = one_error_line(res)
    assert f"tcp://127.0.0.1:{port}" in line and "no controller answered" in line
    res = run("ctl", "--timeout", "0", "status")
    assert res.exit_code == 2 and "--timeout" in one_error_line(res)


@pytest.mark.parametrize("flags, says", [
    (["--sim-time", "yesterday"], "--sim-time: 'yesterday' is not an ISO date and time"),
    (["--no-state", "--state-file", "s.json"], "--no-state: cannot be combined"),
])
def test_controller_flags_are_checked_in_one_line(flags: list[str], says: str) -> None:
    res = run("controller", "--venue", str(CONTENT / "venue.toml"),
              "--show", str(CONTENT / "show.toml"), *flags)
    assert res.exit_code == 2
    assert says in one_error_line(res)


def test_a_kiosk_client_may_not_cue_the_show(controller: Any) -> None:
    from exhibit_engine.errors import SyncError
    from exhibit_engine.sync.kiosk import KioskClient

    with KioskClient("127.0.0.1", controller.state_port, kiosk_id="lobby") as k:
        with pytest.raises(SyncError, match="kiosk may not send 'go'"):
            k.command("go")
        assert k.session == controller.core.session       # it said hello first
        assert k.touch()["program"] == "main"
    assert controller.core.show_control.program == "main"
