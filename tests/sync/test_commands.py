"""The one command path (sync.commands): who may send what, every command's arguments.

Pure: no sockets. The show-command rules here were ShowControl's own checks before the
controller's command path took them over; each is run as the controller runs it (checked
first, then handed to a real ShowControl) and must leave the show untouched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from exhibit_engine.config import BundleRef, CueConfig, ShowConfig
from exhibit_engine.errors import CommandError
from exhibit_engine.show import ControlResult, ShowControl
from exhibit_engine.show import control as show_control
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.commands import COMMANDS, ROLE_COMMANDS, check_command, may_send
from exhibit_engine.sync.controller_core import ControllerCore

from .conftest import desk_command

WALL = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SHOW = ShowConfig("s", {}, (BundleRef("b", "b.exb"),),
                  (CueConfig("intro", "b", "one", 100.0), CueConfig("story", "b", "two", 900.0)))
KIOSK_REFUSAL = "kiosk may not send 'go' (kiosk commands: language, select, status, touch)"


def show_command(ctl: ShowControl, role: str, name: str, args: Mapping[str, Any],
                 ) -> ControlResult:
    """A show command as the controller carries it out: checked, then to the control."""
    return ctl.command(name, check_command(role, name, args, show_control=True), 1000.0, WALL)


# --------------------------------------------------------------------------- rights


def test_a_kiosk_may_not_send_go_only_its_own_commands() -> None:
    ctl = ShowControl(SHOW, 1000.0, WALL)
    with pytest.raises(CommandError, match="kiosk may not send 'go'") as err:
        show_command(ctl, "kiosk", "go", {})
    assert str(err.value) == KIOSK_REFUSAL and err.value.refused
    assert err.value.command == "go"
    assert show_command(ctl, "kiosk", "touch", {}).ignored == ""    # a kiosk's show command


def test_rights_are_data_and_an_operator_may_send_everything() -> None:
    assert all(may_send("operator", name) for name in COMMANDS)
    assert [n for n in COMMANDS if may_send("projector", n)] == ["status"]
    assert not may_send("stranger", "status")
    granted = {**ROLE_COMMANDS, "kiosk": ROLE_COMMANDS["kiosk"] | {"seek"}}
    assert check_command("kiosk", "seek", {"position": 1.0}, rights=granted)["position"] == 1.0
    with pytest.raises(CommandError, match=r"^stranger may not send 'status' \(stranger "
                                           r"commands: none\)$"):
        check_command("stranger", "status", {})


def test_an_unknown_command_is_refused_by_role_first_then_named_unknown() -> None:
    with pytest.raises(CommandError, match="kiosk may not send 'dance'") as refused:
        check_command("kiosk", "dance", {})
    assert refused.value.refused
    with pytest.raises(CommandError) as unknown:
        check_command("operator", "dance", {})
    assert not unknown.value.refused
    assert str(unknown.value) == f"unknown command 'dance' (known: {', '.join(sorted(COMMANDS))})"


# --------------------------------------------------------------------------- the table


def test_the_show_commands_are_the_ones_the_show_control_carries_out() -> None:
    in_table = {n for n, spec in COMMANDS.items() if spec.show or spec.show_args is not None}
    assert in_table == set(show_control.COMMANDS)


def test_every_command_of_the_table_reaches_a_controller_handler() -> None:
    core = ControllerCore(0.0, "s")
    core.attach_show(SHOW, 0.0, WALL)
    for name in COMMANDS:
        reply = desk_command(core, name, 0.1).replies[0]
        assert isinstance(reply, p.Reply)
        assert "unknown command" not in reply.error, name


def test_defaults_are_filled_in_and_numbers_become_floats() -> None:
    assert check_command("operator", "capture", {"tag": "t"}) == {"tag": "t", "delay": 0.5}
    assert check_command("operator", "select", {"item": "vase", "delay": 1}) == {
        "item": "vase", "delay": 1.0}
    plain = check_command("operator", "seek", {"position": -5})
    assert plain == {"position": -5.0, "rate": 1.0, "delay": 0.2}
    assert all(isinstance(v, float) for v in plain.values())
    # With a show control its own defaults apply (delay, a rate that is kept, the fade).
    assert check_command("operator", "seek", {"position": 5}, show_control=True) == {
        "position": 5.0}
    assert check_command("operator", "blackout", {"on": True}, show_control=True) == {
        "on": True}
    assert check_command("operator", "goto", {"cue": "x"}, show_control=True) == {"cue": "x"}


def test_a_show_command_without_a_show_control_is_refused() -> None:
    with pytest.raises(CommandError) as err:
        check_command("operator", "go", {"delay": 99})
    assert str(err.value) == "go: this show has no cue list, so no show control"
    assert not err.value.refused


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("name, args, match", [
    ("go", {"cue": "x"}, "unknown argument 'cue'"),
    ("blackout", {}, "'on' must be true or false"),
    ("blackout", {"on": True, "fade": -1}, "'fade' must be a number"),
    ("seek", {"position": 5, "rate": 99}, "'rate' must be a number from 0 to 16"),
    ("pause", {"delay": 60}, "'delay' must be a number"),
    ("seek", {"position": float("nan")}, "'position' must be"),
])
def test_bad_show_command_arguments_never_reach_the_show_control(
        name: str, args: dict, match: str) -> None:
    ctl = ShowControl(SHOW, 1000.0, WALL)
    before = ctl.state()
    with pytest.raises(CommandError, match=match) as err:
        show_command(ctl, "operator", name, args)
    assert str(err.value).startswith(f"{name}: ") and not err.value.refused
    assert ctl.state() == before


@pytest.mark.parametrize("name, args, show, error", [
    ("status", {"x": 1}, False, "status: unknown argument 'x' (known: none)"),
    ("seek", {"speed": 2}, True, "seek: unknown argument 'speed' (known: position, rate, "
                                 "delay)"),
    ("seek", {}, False, "seek: 'position' is required"),
    ("seek", {"position": None}, True, "seek: 'position' is required"),
    ("seek", {"position": 1, "rate": None}, True, "seek: 'rate' is required"),
    ("seek", {"position": -1.0}, True, "seek: 'position' must be a number from 0 to 1e+09"),
    ("seek", {"position": 2e9}, False,
     "seek: 'position' must be a number from -1e+09 to 1e+09"),
    ("seek", {"position": 1, "rate": -17}, False,
     "seek: 'rate' must be a number from -16 to 16"),
    ("capture", {}, False, "capture: 'tag' must be a string of 1 to 128 characters"),
    ("capture", {"tag": "t" * 129}, False,
     "capture: 'tag' must be a string of 1 to 128 characters"),
    ("capture", {"tag": "t", "delay": 61}, False,
     "capture: 'delay' must be a number from 0 to 60"),
    ("capture", {"tag": "t", "delay": True}, False,
     "capture: 'delay' must be a number from 0 to 60"),
    ("select", {"item": 5}, False, "select: 'item' must be a string of 1 to 128 characters"),
    ("touch", {"delay": math.inf}, True, "touch: 'delay' must be a number from 0 to 10"),
    ("blackout", {"on": "yes"}, True, "blackout: 'on' must be true or false"),
    ("blackout", {"on": True, "fade": 601}, True,
     "blackout: 'fade' must be a number from 0 to 600"),
])
def test_each_rule_has_one_reply_text(name: str, args: dict, show: bool, error: str) -> None:
    with pytest.raises(CommandError) as err:
        check_command("operator", name, args, show_control=show)
    assert str(err.value) == error and err.value.command == name


def test_what_only_the_show_can_judge_is_passed_on() -> None:
    # A cue id and a language are judged against the show, not the table.
    assert check_command("operator", "goto", {"cue": True}, show_control=True) == {"cue": True}
    assert check_command("kiosk", "language", {"language": "fr"}) == {"language": "fr"}
    assert check_command("kiosk", "language", {}) == {}
