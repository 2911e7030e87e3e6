"""The show half of the controller: the show control, the show's languages, the wall clock.

:class:`ShowSession` is held by :class:`~exhibit_engine.sync.controller_core.ControllerCore`
(``core.show``). It owns a :class:`~exhibit_engine.show.control.ShowControl` (GO, pause,
goto, blackout, panic, attract, opening hours) but never touches the core's state: each
call returns a :class:`ShowChange`, which the core applies in its own currency::

    ShowChange.changed  -> one KeyUpdate per key (state seq + 1 each), published now
    ShowChange.events   -> Events (event seq + 1 each) at their controller time, with the
                           show time there (the show control's position); repeated in
                           heartbeats
    ShowChange.anchor   -> the core's show anchor
    ShowChange.data     -> the reply's data; ``ignored`` (why nothing happened) added
    ControlError        -> CommandError, its message the reply's error

Commands it carries out (their arguments are checked by :mod:`.commands` first; every one
takes an optional ``delay``, default 0.2 s)::

    go | next                       next cue of the main program, playing
    back                            previous cue's start
    pause | resume                  rate 0 / the play rate, position continuous
    goto     cue: id | index        that cue's start (a pause stays a pause)
    seek     position: s, rate=0-16 (replaces the core's plain seek when a show runs)
    blackout on: bool, fade: s      fade to black and back
    panic                           fade to black and latch; a second panic is black at once
    touch                           kiosk activity: leaves the attract loop

and it judges ``language``: one of the show's title languages.

Nothing here reads a clock: the driver passes the wall time into
:meth:`ControllerCore.tick`, and a command's wall time is the last one extrapolated by the
controller clock, so a command and the tick before it agree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import ShowConfig
from ..errors import CommandError, ControlError, SyncError
from ..show.anchor import ShowAnchor
from ..show.blackout import blackout_level
from ..show.control import ControlResult, ShowControl

__all__ = ["DEFAULT_LANGUAGES", "ShowChange", "ShowSession"]

# The controller's log, whichever of its modules writes the line.
log = logging.getLogger("exhibit_engine.sync.controller")

#: Languages ``language`` accepts when the show's title names none.
DEFAULT_LANGUAGES = ("zh", "en", "ru")


@dataclass(frozen=True)
class ShowChange:
    """What one show command or tick changed, for the core to apply.

    Attributes:
        changed: session-state keys and their new values, in order (one key update each).
        events: ``(kind, controller_at, args)`` of each new event, ``controller_at`` in
            controller time (the core adds the show time there as ``effective_at``).
        anchor: the show anchor from now on (``None``: unchanged).
        data: the reply's data (``ignored`` says why a command did nothing).
    """

    changed: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[tuple[str, float, Mapping[str, Any]], ...] = ()
    anchor: ShowAnchor | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


class ShowSession:
    """The controller's show: its show control (``None`` until :meth:`attach`, and for a
    show without cues), its languages and the wall clock the driver last passed.

    Attributes:
        control: the show control, or ``None``.
        languages: the languages ``language`` accepts.
    """

    def __init__(self) -> None:
        self.control: ShowControl | None = None
        self.languages: tuple[str, ...] = DEFAULT_LANGUAGES
        self._wall_ref: tuple[float, datetime] | None = None

    def attach(self, show: ShowConfig, now: float, wall_time: datetime,
               restored: Mapping[str, Any] | None = None) -> ShowControl | None:
        """Run ``show``'s show control from now on; return it (``None``: the show has no
        cues, so no show control).

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
            return None
        try:
            ctl = ShowControl(show, now, wall_time, restored=restored)
        except ControlError as exc:
            if restored is None:
                raise
            log.warning("saved show state not used (%s); the show starts fresh", exc)
            ctl = ShowControl(show, now, wall_time)
        self.control = ctl
        return ctl

    def set_wall(self, now: float, wall_time: datetime) -> None:
        """The wall clock reads ``wall_time`` at controller time ``now`` (a tick does this
        too; a takeover, whose controller clock moved onto the partner's, does it first)."""
        self._wall_ref = (now, wall_time)

    def wall_time_at(self, now: float) -> datetime:
        """The wall clock at controller time ``now``: the last one the driver passed,
        run on by the controller clock (UTC arithmetic, so a DST change is no jump).

        Raises:
            SyncError: no wall clock yet (the driver never called :meth:`attach`).
        """
        if self._wall_ref is None:
            raise SyncError("no wall clock yet (the show was never attached)")
        ref_now, ref_wall = self._wall_ref
        zone = ref_wall.tzinfo
        return (ref_wall.astimezone(UTC) + timedelta(seconds=now - ref_now)).astimezone(zone)

    def summary(self, now: float, state: Mapping[str, Any]) -> dict[str, Any]:
        """What ``status`` says about the show: ``program``, ``cue`` (id), ``paused``,
        ``waiting`` (a wait cue holds), ``panic`` (0-2), ``blackout`` (the level now),
        ``open`` (opening hours), ``selected_item`` (the id of the item the wall was last
        asked to show, ``None`` before any ``select``) and ``language`` (``None`` before
        any ``language``); empty without a show control.

        Args:
            now: controller clock.
            state: the core's session state (its ``"cue"``, ``"blackout"``,
                ``"selected_item"`` and ``"language"`` keys).
        """
        ctl = self.control
        if ctl is None:
            return {}
        cue, selected = state.get("cue"), state.get("selected_item")
        language = state.get("language")
        return {"program": ctl.program,
                "cue": cue.get("id", "") if isinstance(cue, Mapping) else "",
                "paused": ctl.paused, "waiting": ctl.waiting, "panic": ctl.panic,
                "blackout": round(blackout_level(state.get("blackout"), now), 4),
                "open": ctl.is_open(),
                "selected_item": selected.get("item") if isinstance(selected, Mapping)
                else None,
                "language": language if isinstance(language, str) else None}

    def tick(self, now: float, wall_time: datetime | None, lead: float = 0.0) -> ShowChange:
        """Advance the show control (schedule, attract, wait cues, cue events).

        Args:
            now: controller clock.
            wall_time: the wall clock now (aware); ``None`` runs the last one on.
            lead: report cue starts due within this many seconds now (see
                :meth:`~exhibit_engine.show.control.ShowControl.tick`).
        """
        if wall_time is not None:
            self._wall_ref = (now, wall_time)
        ctl = self.control
        if ctl is None:
            return ShowChange()
        try:
            result = ctl.tick(now, self.wall_time_at(now), lead)
        except ControlError as exc:       # a naive wall clock: a driver bug, not fatal
            log.error("show control tick failed: %s", exc)
            return ShowChange()
        return self._change(ctl, result)

    def command(self, name: str, args: Mapping[str, Any], now: float) -> ShowChange:
        """Carry out a show command whose arguments :mod:`.commands` has checked.

        Raises:
            CommandError: the show control cannot carry it out (e.g. no such cue).
            SyncError: there is no show control (the command path lets no show command
                through then).
        """
        ctl = self.control
        if ctl is None:
            raise SyncError(f"show command {name!r} without a show control")
        try:
            result = ctl.command(name, args, now, self.wall_time_at(now))
        except ControlError as exc:
            # The reply's error starts with the command's name; some reasons already do.
            raise CommandError(name, f"{name}: {str(exc).removeprefix(f'{name}: ')}") \
                from None
        data = dict(result.data)
        if result.ignored:
            data["ignored"] = result.ignored
        return replace(self._change(ctl, result), data=data)

    def activity(self, now: float) -> ShowChange:
        """A kiosk did something: restart the idle timer, leave the attract loop."""
        if self.control is None:
            return ShowChange()
        return self.command("touch", {}, now)

    def language(self, value: Any) -> str:
        """Return ``value`` if it is one of the show's :attr:`languages`.

        Raises:
            CommandError: it is not.
        """
        if value not in self.languages:
            raise CommandError("language", "language: 'language' must be one of "
                                           f"{', '.join(self.languages)}")
        return value

    @staticmethod
    def _change(ctl: ShowControl, result: ControlResult) -> ShowChange:
        return ShowChange(dict(result.changed), tuple(result.events), ctl.anchor)
