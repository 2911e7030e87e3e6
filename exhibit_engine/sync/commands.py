"""Every command the controller takes, who may send it, and the one check on the way in.

:data:`COMMANDS` is the table: each command's arguments (type, range, default) and whether
the show control carries it out; :data:`ROLE_COMMANDS` says which role may send which.
:func:`check_command` is the one command path. The controller passes every command
through it, whoever sent it (``exhibit ctl``, a kiosk, a script), and gets the checked
arguments back, or one :class:`~exhibit_engine.errors.CommandError` whose text is the
reply's error::

    refused    kiosk may not send 'seek' (kiosk commands: language, select, status, touch)
    unknown    unknown command 'dance' (known: back, blackout, capture, ...)
    no show    go: this show has no cue list, so no show control
    arguments  seek: unknown argument 'speed' (known: position, rate, delay)
               seek: 'position' is required
               capture: 'tag' must be a string of 1 to 128 characters
               capture: 'tag' must not contain '/' or '\\' (it becomes a file name)
               blackout: 'on' must be true or false

The table (seconds; "show": carried out by the show control, so refused while the show
has no cue list)::

    status                                             every role
    capture   tag: str, delay=0.5 (0-60)
    select    item: str, delay=0.3 (0-60)              kiosks too
    seek      position (-1e9 to 1e9), rate=1 (-16 to 16), delay=0.2 (0-60)
              while a show control runs, the show control's seek: position (0 to 1e9),
              rate (0-16; omitted: kept), delay (0-10)
    language  language                                 kiosks too
    go | next | back | pause | resume | panic   delay  show
    touch     delay                                    show; kiosks too
    goto      cue (an id or an index), delay           show
    blackout  on: bool, fade (0-600), delay            show
    start     force=false                              starts a show its gate holds until
                                                       every display is ready
    restart   node: a projector's id, delay=0.5 (0-60)  that node's process starts afresh
    debug-fill keys (0-16000), value_bytes=64 (1-4096) development mode only: fills the
                                                       state with filler keys (0 removes
                                                       them), to test multi-part snapshots

A show command's ``delay`` is 0 to :data:`~exhibit_engine.show.control.MAX_DELAY_S`;
omitted, the show control's own (0.2 s) applies, and an omitted ``fade`` is the show's
``blackout_fade_s``. What only the show can judge is left to it: whether a cue exists
(``goto``) and which languages the show has (``language``).

Core: the standard library and the show layer below; never ZeroMQ.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..config.paths import check_file_name
from ..errors import CommandError
from ..show.control import MAX_DELAY_S

__all__ = ["Arg", "COMMANDS", "CommandSpec", "ROLE_COMMANDS", "check_command", "may_send"]

#: Which commands each role may send, as plain data (``"*"``: every command). The role
#: is the one its CURVE key is allow-listed for, or in development mode (no CURVE) the
#: one its hello claimed; a peer that never said hello may send nothing (the controller
#: refuses it before this check). A projector only reads ``status``.
ROLE_COMMANDS: dict[str, frozenset[str]] = {
    "operator": frozenset({"*"}),
    "kiosk": frozenset({"select", "touch", "language", "status"}),
    "projector": frozenset({"status"}),
}

_MAX_DELAY_S = 60.0      # capture, select and the plain seek
_MAX_FADE_S = 600.0
_MAX_TEXT = 128          # a capture's tag, a selected item


@dataclass(frozen=True)
class Arg:
    """One argument of a command.

    Attributes:
        name: its key in the command's ``args``.
        kind: ``"number"`` (finite, from ``lo`` to ``hi``), ``"text"`` (a string of 1 to
            ``hi`` characters), ``"flag"`` (true or false) or ``"any"`` (passed on as it
            is, for the show to judge).
        lo: the smallest number allowed.
        hi: the largest number allowed, or a text's longest length.
        default: the value of an omitted argument; ``None`` leaves an omitted argument out
            of the checked ones (a text or flag is then an error, a number only when
            ``required``).
        required: an omitted number is an error.
    """

    name: str
    kind: Literal["number", "text", "flag", "any"] = "number"
    lo: float = 0.0
    hi: float = 0.0
    default: float | None = None
    required: bool = False

    def check(self, command: str, args: Mapping[str, Any]) -> tuple[bool, Any]:
        """Return ``(given, value)``: whether the argument goes on, and its checked value.

        Args:
            command: the command's name (it starts the error).
            args: the command's arguments as received.

        Raises:
            CommandError: the value breaks the rule, e.g. ``"seek: 'position' is
                required"``.
        """
        if self.name in args:
            value = args[self.name]
        elif self.default is not None:
            return True, self.default
        elif self.kind in ("number", "any") and not self.required:
            return False, None
        else:
            value = None
        if self.kind == "any":
            return True, value
        if self.kind == "flag":
            if not isinstance(value, bool):
                raise self._error(command, "must be true or false")
            return True, value
        if self.kind == "text":
            if not isinstance(value, str) or not 0 < len(value) <= self.hi:
                raise self._error(command, f"must be a string of 1 to {self.hi:g} characters")
            return True, value
        if value is None:
            raise self._error(command, "is required")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or not self.lo <= value <= self.hi:
            raise self._error(command, f"must be a number from {self.lo:g} to {self.hi:g}")
        return True, float(value)

    def _error(self, command: str, rule: str) -> CommandError:
        return CommandError(command, f"{command}: {self.name!r} {rule}")


@dataclass(frozen=True)
class CommandSpec:
    """One command of the table.

    Attributes:
        name: the command's name on the wire.
        args: its arguments, in the order they are checked (and listed in errors).
        show: the show control carries it out: refused while the show has none.
        show_args: its arguments while a show control runs, where they differ (``seek``
            then goes to the show control).
    """

    name: str
    args: tuple[Arg, ...] = ()
    show: bool = False
    show_args: tuple[Arg, ...] | None = None


_SHOW_DELAY = Arg("delay", hi=MAX_DELAY_S)      # omitted: the show control's own delay


def _show(name: str, *args: Arg) -> CommandSpec:
    return CommandSpec(name, (*args, _SHOW_DELAY), show=True)


#: Every command the controller takes, by name (see the module docstring).
COMMANDS: Mapping[str, CommandSpec] = {spec.name: spec for spec in (
    CommandSpec("status"),
    CommandSpec("capture", (Arg("tag", "text", hi=_MAX_TEXT),
                            Arg("delay", hi=_MAX_DELAY_S, default=0.5))),
    CommandSpec("select", (Arg("item", "text", hi=_MAX_TEXT),
                           Arg("delay", hi=_MAX_DELAY_S, default=0.3))),
    CommandSpec("seek", (Arg("position", lo=-1e9, hi=1e9, required=True),
                         Arg("rate", lo=-16.0, hi=16.0, default=1.0),
                         Arg("delay", hi=_MAX_DELAY_S, default=0.2)),
                show_args=(Arg("position", hi=1e9, required=True), Arg("rate", hi=16.0),
                           _SHOW_DELAY)),
    CommandSpec("language", (Arg("language", "any"),)),
    _show("go"),
    _show("next"),
    _show("back"),
    _show("pause"),
    _show("resume"),
    _show("goto", Arg("cue", "any")),
    _show("blackout", Arg("on", "flag"), Arg("fade", hi=_MAX_FADE_S)),
    _show("panic"),
    _show("touch"),
    CommandSpec("start", (Arg("force", "flag", default=False),)),
    CommandSpec("restart", (Arg("node", "text", hi=256),
                            Arg("delay", hi=_MAX_DELAY_S, default=0.5))),
    CommandSpec("debug-fill", (Arg("keys", hi=16_000, required=True),
                               Arg("value_bytes", lo=1, hi=4096, default=64))),
)}


def may_send(role: str, name: str, rights: Mapping[str, frozenset[str]] = ROLE_COMMANDS,
             ) -> bool:
    """Whether ``role`` may send command ``name`` under ``rights`` (see
    :data:`ROLE_COMMANDS`)."""
    allowed = rights.get(role, frozenset())
    return "*" in allowed or name in allowed


def check_command(role: str, name: str, args: Mapping[str, Any], *,
                  show_control: bool = False,
                  rights: Mapping[str, frozenset[str]] = ROLE_COMMANDS) -> dict[str, Any]:
    """Check one command on its way in; return its checked arguments.

    Args:
        role: the sender's role (its key's, or its hello's in development mode).
        name: the command's name.
        args: its arguments as received.
        show_control: whether a show control runs (a show with a cue list): show commands
            are refused without one, and ``seek`` takes the show control's arguments.
        rights: which role may send which command (the controller's editable copy of
            :data:`ROLE_COMMANDS`).

    Returns:
        The arguments given, numbers as floats, with the table's defaults filled in.

    Raises:
        CommandError: the role may not send it (``refused``), no such command exists, it
            needs a show control that is not there, or an argument is unknown or breaks
            its rule. The text is the reply's error (see the module docstring).
    """
    if not may_send(role, name, rights):
        allowed = sorted(c for c in COMMANDS if may_send(role, c, rights))
        raise CommandError(name, f"{role} may not send {name!r} ({role} commands: "
                                 f"{', '.join(allowed) or 'none'})", refused=True)
    spec = COMMANDS.get(name)
    if spec is None:
        raise CommandError(name, f"unknown command {name!r} "
                                 f"(known: {', '.join(sorted(COMMANDS))})")
    if spec.show and not show_control:
        raise CommandError(name, f"{name}: this show has no cue list, so no show control")
    if not isinstance(args, Mapping):
        raise CommandError(name, f"{name}: arguments must be a map")
    params = spec.show_args if show_control and spec.show_args is not None else spec.args
    unknown = sorted(set(args) - {a.name for a in params})
    if unknown:
        known = ", ".join(a.name for a in params) or "none"
        raise CommandError(name, f"{name}: unknown argument {unknown[0]!r} (known: {known})")
    checked: dict[str, Any] = {}
    for arg in params:
        given, value = arg.check(name, args)
        if given:
            checked[arg.name] = value
    if name == "capture":       # the tag becomes part of each node's file name
        why = check_file_name(checked["tag"])
        if why is not None:
            raise CommandError(name, f"capture: 'tag' {why}")
    return checked
