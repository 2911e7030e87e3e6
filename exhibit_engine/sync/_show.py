"""The show half of :class:`~exhibit_engine.sync.controller.ControllerCore`.

:class:`ShowCommands` is mixed into the core: it owns a
:class:`~exhibit_engine.show.control.ShowControl` (GO, pause, goto, blackout, panic,
attract, opening hours) and turns what it returns into the core's own currency::

    ControlResult.changed  -> one KeyUpdate per key (state seq + 1 each), published now
    ControlResult.events   -> Events (event seq + 1 each); ``effective_at`` is the show
                              time at the control's controller time; repeated in heartbeats
    ControlResult.data     -> the reply's data; ``ignored`` (why nothing happened) added
    ControlError           -> a refused command, its message the reply's error

Commands it adds (every one takes an optional ``delay``, 0-10 s, default 0.2 s)::

    go | next                       next cue of the main program, playing
    back                            previous cue's start
    pause | resume                  rate 0 / the play rate, position continuous
    goto     cue: id | index        that cue's start (a pause stays a pause)
    seek     position: s, rate=0-16 (replaces the core's plain seek when a show runs)
    blackout on: bool, fade: s      fade to black and back
    panic                           fade to black and latch; a second panic is black at once
    touch                           kiosk activity: leaves the attract loop
    language language: str          state "language" (one of the show's title languages)

Nothing here reads a clock: the driver passes the wall time into
:meth:`ControllerCore.tick`, and a command's wall time is the last one extrapolated by the
controller clock, so a command and the tick before it agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import ShowConfig
from ..errors import ProtocolError
from ..show.control import (
    COMMANDS,
    ControlError,
    ControlResult,
    ShowControl,
    blackout_level,
)
from ..show.anchor import ShowAnchor
from .protocol import Event, KeyUpdate, Message

__all__ = ["DEFAULT_LANGUAGES", "SHOW_COMMANDS", "ShowCommands"]

log = logging.getLogger("exhibit_engine.sync.controller")

#: The show-control commands the controller takes (``seek`` included).
SHOW_COMMANDS: tuple[str, ...] = tuple(COMMANDS)
#: Languages ``language`` accepts when the show's title names none.
DEFAULT_LANGUAGES = ("zh", "en", "ru")
_MAX_PENDING_EVENTS = 64

Handler = Callable[[Mapping[str, Any], float], dict[str, Any]]


class _NoShow(Exception):
    """A show command before the driver ever passed a wall clock (a driver bug)."""


class ShowCommands:
    """Mixin for ControllerCore: show control commands, the show tick and the wall clock.

    The core provides ``seq``, ``state``, ``anchor``, ``_event_seq``, ``_pending``,
    ``_publish`` and ``load_state``; this class adds :attr:`show_control` (``None`` until
    :meth:`attach_show`, and for a show without cues).
    """

    show_control: ShowControl | None = None
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    _wall_ref: tuple[float, datetime] | None = None

    # Provided by ControllerCore.
    seq: int
    state: dict[str, Any]
    anchor: ShowAnchor
    _event_seq: int
    _pending: list[Event]
    _publish: Callable[[Message], None]
    load_state: Callable[[Mapping[str, Any]], int]

    def attach_show(self, show: ShowConfig, now: float, wall_time: datetime,
                    restored: Mapping[str, Any] | None = None) -> None:
        """Run ``show``'s show control from now on (a show without cues gets none).

        Args:
            show: the show file.
            now: controller clock.
            wall_time: the wall clock now (an aware datetime).
            restored: the control's saved state (``ShowControl.to_dict()``) from before a
                restart; a malformed one is logged and the show starts fresh.

        Raises:
            ControlError: ``wall_time`` is naive, or the show's control settings are out
                of range.
        """
        self.languages = tuple(show.title) or DEFAULT_LANGUAGES
        self._wall_ref = (now, wall_time)
        if not show.cues:
            return
        try:
            ctl = ShowControl(show, now, wall_time, restored=restored)
        except ControlError as exc:
            if restored is None:
                raise
            log.warning("saved show state not used (%s); the show starts fresh", exc)
            ctl = ShowControl(show, now, wall_time)
        self.show_control = ctl
        try:
            self.load_state(ctl.state())
        except ProtocolError as exc:     # only a bug: the control's values are plain
            log.error("show control state cannot be published: %s", exc)
        self.anchor = ctl.anchor

    def wall_time_at(self, now: float) -> datetime:
        """The wall clock at controller time ``now``: the last one the driver passed,
        run on by the controller clock (UTC arithmetic, so a DST change is no jump)."""
        if self._wall_ref is None:
            raise _NoShow("no wall clock yet")
        ref_now, ref_wall = self._wall_ref
        zone = ref_wall.tzinfo
        return (ref_wall.astimezone(UTC) + timedelta(seconds=now - ref_now)).astimezone(zone)

    def show_summary(self, now: float) -> dict[str, Any]:
        """What ``status`` says about the show: ``program``, ``cue`` (id), ``paused``,
        ``waiting`` (a wait cue holds), ``panic`` (0-2), ``blackout`` (the level now) and
        ``open`` (opening hours)."""
        ctl = self.show_control
        if ctl is None:
            return {}
        cue = self.state.get("cue")
        return {"program": ctl.program,
                "cue": cue.get("id", "") if isinstance(cue, Mapping) else "",
                "paused": ctl.paused, "waiting": ctl.waiting, "panic": ctl.panic,
                "blackout": round(blackout_level(self.state.get("blackout"), now), 4),
                "open": ctl.is_open()}

    def _show_handlers(self) -> dict[str, Handler]:
        """The command handlers to merge into the core's table."""
        handlers: dict[str, Handler] = {
            name: (lambda args, now, name=name: self._cmd_show(name, args, now))
            for name in SHOW_COMMANDS if name != "seek"}
        handlers["language"] = self._cmd_language
        return handlers

    def _tick_show(self, now: float, wall_time: datetime | None) -> list[Message]:
        """Advance the show control; return the key updates to publish with the beat
        (its events join the pending ones the beat repeats)."""
        if wall_time is not None:
            self._wall_ref = (now, wall_time)
        ctl = self.show_control
        if ctl is None:
            return []
        try:
            result = ctl.tick(now, self.wall_time_at(now))
        except ControlError as exc:       # a naive wall clock: a driver bug, not fatal
            log.error("show control tick failed: %s", exc)
            return []
        updates, _ = self._apply_show(result, now)
        return updates

    def _apply_show(self, result: ControlResult, now: float,
                    ) -> tuple[list[Message], list[Event]]:
        """Take a ControlResult into the state; return its key updates and new events."""
        ctl = self.show_control
        updates: list[Message] = []
        for key, value in result.changed.items():
            self.seq += 1
            self.state[key] = value
            updates.append(KeyUpdate(self.seq, key, value))
        if ctl is not None:
            self.anchor = ctl.anchor
        events = []
        for kind, at, args in result.events:
            self._event_seq += 1
            show_at = ctl.position(at) if ctl is not None else self.anchor.show_time(at)
            events.append(Event(kind, show_at, dict(args), self._event_seq))
        if events:
            self._pending = [*self._pending, *events][-_MAX_PENDING_EVENTS:]
        return updates, events

    def _cmd_show(self, name: str, args: Mapping[str, Any], now: float,
                  role: str = "operator") -> dict[str, Any]:
        from .controller import _BadArgs  # at call time: controller imports this module

        ctl = self.show_control
        if ctl is None:
            raise _BadArgs("this show has no cue list, so no show control")
        try:
            result = ctl.command(name, args, now, self.wall_time_at(now), role)
        except (ControlError, _NoShow) as exc:
            # The core puts the command's name in front; some reasons already start so.
            raise _BadArgs(str(exc).removeprefix(f"{name}: ")) from None
        updates, events = self._apply_show(result, now)
        for message in (*updates, *events):
            self._publish(message)
        data = dict(result.data)
        if result.ignored:
            data["ignored"] = result.ignored
        data["seq"] = self.seq
        if events:
            data["events"] = [e.seq for e in events]
        return data

    def _show_activity(self, now: float) -> None:
        """A kiosk did something: restart the idle timer, leave the attract loop."""
        if self.show_control is not None:
            self._cmd_show("touch", {}, now)

    def _cmd_language(self, args: Mapping[str, Any], now: float) -> dict[str, Any]:
        from .controller import _BadArgs, _check_keys

        _check_keys(args, ("language",))
        lang = args.get("language")
        if lang not in self.languages:
            raise _BadArgs(f"'language' must be one of {', '.join(self.languages)}")
        if self.state.get("language") != lang:
            self.seq += 1
            self.state["language"] = lang
            self._publish(KeyUpdate(self.seq, "language", lang))
        self._show_activity(now)
        return {"language": lang, "state_seq": self.seq}
