"""Show control: GO, pause, goto, blackout, panic, attract mode and the opening hours.

A pure state machine (no clock is read, no I/O): the controller passes ``now`` (its
monotonic clock, seconds) and ``wall_time`` (an aware datetime) into every call, and gets
back a :class:`ControlResult` naming the session-state keys to publish.

Command arguments arrive checked: the sync layer's one command path
(:mod:`exhibit_engine.sync.commands`) has already refused what a role may not send, unknown
arguments, wrong types and values out of range. What only the show can judge stays here: a
cue that is not in the cue list, a command that has nothing to do (``ignored``).

Session-state keys this module owns (the values :meth:`ShowControl.state` returns)::

    "anchor":   [controller_time, position, rate]        show time on the controller clock
    "program":  {"name": "main"|"attract"|"standby", "since": controller_time}
    "blackout": {"level": 0..1, "from": 0..1, "at": controller_time, "fade": seconds}
    "cue":      {"id": str, "index": int, "program": str}  informational ("" / -1: none)

All times inside session-state values are *controller* times (not show time): show time
stops while paused or after a panic, and a fade to black must still run then (a node
reads ``"blackout"`` with :func:`~exhibit_engine.show.blackout.blackout_level`).

Every change takes effect ``delay`` seconds in the future (default 0.2 s) so that every
node switches on the same frame; :meth:`ShowControl.position` honours an anchor that is
not yet in effect, as a node does.

Operator rules (what an operator expects; the tests pin each one):

- ``go`` / ``next`` jump to the start of the next cue of the *main* program and play. A
  second GO within ``go_guard_s`` of the last accepted one is ignored (``ignored`` says
  so); one after the window is carried out.
- Every operator cue command (go, next, back, pause, resume, goto, seek) drives the main
  program: sent while the attract loop or the standby scene plays, it first returns to
  main at the position main had when it was left. It also counts as activity (it restarts
  the idle timer). ``back`` goes to the previous cue's start; ``goto`` and ``seek`` keep
  a pause (the show stays parked on the new position); ``go`` always plays.
- ``pause`` / ``resume`` change only the rate: the position is continuous.
- A ``wait`` cue holds its last frame (1 ms before its end) until GO or resume; the hold
  is published as an anchor up to :data:`WAIT_LEAD_S` ahead, so :meth:`ShowControl.tick`
  must run at least that often (every heartbeat is plenty). Wait cues hold only in main,
  and the schedule's catch-up does not stop at them.
- ``blackout`` {on, fade} fades the wall to black and back. ``panic`` fades to black over
  ``panic_fade_s`` and latches; a second panic is black at once and stops the show (rate
  0). ``blackout`` with ``on = false`` clears a panic (the show stays stopped until
  resume or GO). A latched blackout or panic survives opening hours and restarts.
- ``touch`` (a kiosk) restarts the idle timer and, during the attract loop, returns to
  main where it was. After ``attract.idle_after`` seconds without activity while open and
  playing main (not paused, holding a wait cue or in panic), the attract loop starts from
  its beginning.
- Schedule: the program changes only when the venue opens or closes (so an operator may
  start main by hand while closed; it plays until the next change). At closing, standby
  plays (its scene, or black when the show has none). At opening, and when the control
  starts during opening hours, main plays from where the schedule says: the seconds since
  today's opening, wrapped by the main loop's length (a non-looping show holds its end).
  With no ``[schedule]`` the venue is always open and main starts at 0.
- Persistence: :meth:`ShowControl.to_dict` stores times relative to the wall clock; a
  restored control continues a playing show by the wall time elapsed since, unless the
  venue opened or closed in between, when the schedule's catch-up wins.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..config import ShowConfig
from ..errors import ControlError
from .anchor import ShowAnchor
from .blackout import blackout_level
from .schedule import Schedule, elapsed_s
from .timeline import PROGRAMS, CueFiring, CueStart, Timeline

__all__ = ["COMMANDS", "ControlResult", "MAX_DELAY_S", "ShowControl",
           "WAIT_LEAD_S"]

#: The commands :meth:`ShowControl.command` carries out (their arguments:
#: :data:`exhibit_engine.sync.commands.COMMANDS`).
COMMANDS = ("go", "next", "back", "pause", "resume", "goto", "seek", "blackout", "panic",
            "touch")
#: The longest a change may be announced ahead (``delay``, seconds).
MAX_DELAY_S = 10.0
#: How far ahead of a wait cue's end its hold is published (s).
WAIT_LEAD_S = 1.0

_HOLD_EPS = 1e-3      # a wait cue holds this long before its end: still its last frame
_SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class ControlResult:
    """What one command or tick changed.

    Attributes:
        changed: session-state keys to set, with their new values (publish each as a
            key update).
        events: ``(kind, controller_at, args)`` for each one-shot event, ``controller_at``
            in controller time: ``("cue", t, {"id", "index", "program", "loop",
            "position"})`` when a cue starts (or is entered by a jump), at the moment it
            does (a jump's: when its anchor takes effect).
        data: the command's reply data.
        ignored: why the command did nothing (e.g. ``"double GO within 0.5 s"``); empty when
            it was carried out.
    """

    changed: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[tuple[str, float, Mapping[str, Any]], ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    ignored: str = ""


def _aware(wall_time: datetime) -> datetime:
    if not isinstance(wall_time, datetime) or wall_time.utcoffset() is None:
        raise ControlError("wall_time must be an aware datetime (with a time zone)")
    return wall_time


def _setting(key: str, value: float, hi: float) -> float:
    """A number setting of the control itself (not a command argument), from 0 to ``hi``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not 0.0 <= value <= hi:
        raise ControlError(f"'{key}' must be a number from 0 to {hi:g}")
    return float(value)


class ShowControl:
    """The controller's show state: program, anchor, blackout, GO guard, attract, schedule.

    Args:
        show: the show file (cue lists, attract loop, standby, schedule, guard and fades).
        now: controller clock (s) at construction.
        wall_time: aware datetime at construction (the schedule's catch-up reads it).
        go_guard_s: a second GO within this many seconds is ignored; ``None`` takes
            the show file's ``[control] go_guard_s``.
        restored: a :meth:`to_dict` value from before a controller restart, or ``None``.
        delay: how far in the future changes take effect (s).

    Attributes:
        anchor: the show anchor to publish (may lie up to ``delay`` in the future, or up to
            :data:`WAIT_LEAD_S` for a wait cue's hold).
        program: the program playing (``"main"``, ``"attract"`` or ``"standby"``).
        paused: the operator paused (or a second panic stopped) the show.
        waiting: main holds at the end of a wait cue until GO.
        panic: 0, 1 (faded to black, latched) or 2 (black and stopped).

    Raises:
        ControlError: ``wall_time`` is naive, a setting is out of range, or ``restored``
            is malformed.
    """

    def __init__(self, show: ShowConfig, now: float, wall_time: datetime, *,
                 go_guard_s: float | None = None, restored: Mapping[str, Any] | None = None,
                 delay: float = 0.2) -> None:
        wall_time = _aware(wall_time)
        self.show = show
        self.delay = _setting("delay", delay, MAX_DELAY_S)
        guard = show.go_guard_s if go_guard_s is None else go_guard_s
        self.go_guard_s = _setting("go_guard_s", guard, 60.0)
        self.schedule = Schedule.from_show(show)
        self._timelines = {p: Timeline.from_show(show, p) for p in PROGRAMS
                           if Timeline.has_program(show, p)}
        self._now, self._wall = now, wall_time
        self.program = "main"
        self._since = now
        self.anchor = ShowAnchor(now, 0.0, 1.0)
        self._prev = self.anchor
        self.paused = False
        self.waiting = False
        self.panic = 0
        self._play_rate = 1.0
        self._main_held = 0.0
        self._blackout_on = False
        self._blackout: dict[str, float] = {"level": 0.0, "from": 0.0, "at": now, "fade": 0.0}
        self._last_go: float | None = None
        self._last_activity = now
        self._open = self.schedule.is_open(wall_time)
        self._firing: CueFiring | None = None
        self._cue: dict[str, Any] = {"id": "", "index": -1, "program": "main"}
        if restored is None or not self._restore(restored, now, wall_time):
            self._enter_schedule(now, now, wall_time, initial=True)
        self._refresh_cue(now)

    # ------------------------------------------------------------------ queries

    def position(self, now: float) -> float:
        """Show time at controller time ``now`` (honouring an anchor not yet in effect)."""
        return self._anchor_at(now).show_time(now)

    def timeline(self, program: str | None = None) -> Timeline | None:
        """The timeline of ``program`` (default: the one playing); ``None`` for a standby
        without a scene."""
        return self._timelines.get(program or self.program)

    def is_open(self) -> bool:
        """Whether the venue was open at the last call's wall time."""
        return self._open

    def state(self) -> dict[str, Any]:
        """The session-state keys this object owns: anchor, program, blackout, cue."""
        a = self.anchor
        return {
            "anchor": [a.controller_time, a.position, a.rate],
            "program": {"name": self.program, "since": self._since},
            "blackout": dict(self._blackout),
            "cue": dict(self._cue),
        }

    # ------------------------------------------------------------------ commands

    def command(self, name: str, args: Mapping[str, Any], now: float,
                wall_time: datetime) -> ControlResult:
        """Carry out one show command (the rules are in the module docstring).

        Args:
            name: one of :data:`COMMANDS`.
            args: the command's arguments, checked by the sync layer (types, ranges, no
                unknown keys): ``goto``: ``cue`` (an id or index, judged here); ``seek``:
                ``position``, optional ``rate`` (0 pauses); ``blackout``: ``on``, optional
                ``fade`` (default the show's); every command: optional ``delay``.
            now: controller clock (s).
            wall_time: aware datetime now.

        Returns:
            The changes to publish; ``ignored`` says why nothing happened, if so.

        Raises:
            ControlError: an unknown command, a naive ``wall_time``, or a cue that is not
                in the main cue list.
        """
        if name not in COMMANDS:
            raise ControlError(f"unknown show command {name!r} (known: {', '.join(COMMANDS)})")
        wall_time = _aware(wall_time)
        delay = float(args.get("delay", self.delay))
        before = self.state()
        self._now, self._wall = now, wall_time
        eff = now + delay
        handler = getattr(self, f"_cmd_{name}")
        events: list[tuple[str, float, Mapping[str, Any]]] = []
        data, ignored = handler(args, now, eff, events)
        self._refresh_cue(now)
        data = {**data, "program": self.program, "controller_at": eff} if not ignored else data
        return ControlResult(self._diff(before), tuple(events), data, ignored)

    def _cmd_go(self, args: Mapping[str, Any], now: float, eff: float,
                events: list) -> tuple[dict[str, Any], str]:
        if self._last_go is not None and 0.0 <= now - self._last_go < self.go_guard_s:
            return {}, f"double GO within {self.go_guard_s:g} s"
        tl = self._timelines["main"]
        nxt = tl.next_start(self._main_position(eff))
        if nxt is None:
            return {}, "the show has ended: no next cue"
        self._last_go = now
        self.paused = False
        self._move(now, eff, nxt.at, self._play_rate, events)
        return {"cue": nxt.cue.id, "index": nxt.index, "position": nxt.at}, ""

    _cmd_next = _cmd_go

    def _cmd_back(self, args: Mapping[str, Any], now: float, eff: float,
                  events: list) -> tuple[dict[str, Any], str]:
        tl = self._timelines["main"]
        st = tl.state_at(self._main_position(eff))
        if st.ended:
            target = tl.cue_start(st.index, 0)
        elif st.index > 0:
            target = tl.cue_start(st.index - 1, st.loop)
        elif tl.loop and st.loop > 0:
            target = tl.cue_start(len(tl.cues) - 1, st.loop - 1)
        else:
            target = tl.cue_start(0, 0)
        self._move(now, eff, target.at, self._rate(), events)
        return {"cue": target.cue.id, "index": target.index, "position": target.at}, ""

    def _cmd_pause(self, args: Mapping[str, Any], now: float, eff: float,
                   events: list) -> tuple[dict[str, Any], str]:
        if self.program == "main" and self.paused:
            return {}, "already paused"
        pos = self._main_position(eff)
        self.paused = True
        self._move(now, eff, pos, 0.0, events, jump=False)
        return {"position": pos}, ""

    def _cmd_resume(self, args: Mapping[str, Any], now: float, eff: float,
                    events: list) -> tuple[dict[str, Any], str]:
        if self.program == "main" and not self.paused and not self.waiting:
            return {}, "already playing"
        pos = self._main_position(eff)
        self.paused = False
        self._move(now, eff, pos, self._play_rate, events, jump=False)
        return {"position": pos}, ""

    def _cmd_goto(self, args: Mapping[str, Any], now: float, eff: float,
                  events: list) -> tuple[dict[str, Any], str]:
        tl = self._timelines["main"]
        cue = args.get("cue")
        ids = [c.id for c in tl.cues]
        if isinstance(cue, str) and cue in ids:
            index = ids.index(cue)
        elif isinstance(cue, int) and not isinstance(cue, bool) and 0 <= cue < len(ids):
            index = cue
        else:
            raise ControlError(f"goto: no cue {cue!r} in the main cue list "
                               f"(known: {', '.join(ids)}, or an index 0-{len(ids) - 1})")
        st = tl.state_at(self._main_position(eff))
        target = tl.cue_start(index, 0 if st.ended else st.loop)
        self._move(now, eff, target.at, self._rate(), events)
        return {"cue": target.cue.id, "index": index, "position": target.at}, ""

    def _cmd_seek(self, args: Mapping[str, Any], now: float, eff: float,
                  events: list) -> tuple[dict[str, Any], str]:
        pos = float(args["position"])
        if "rate" in args:
            rate = float(args["rate"])
            self.paused = rate == 0.0
            if rate > 0.0:
                self._play_rate = rate
        self._move(now, eff, pos, self._rate(), events)
        return {"position": pos}, ""

    def _cmd_blackout(self, args: Mapping[str, Any], now: float, eff: float,
                      events: list) -> tuple[dict[str, Any], str]:
        on = bool(args["on"])
        fade = float(args.get("fade", self.show.blackout_fade_s))
        if on == self._blackout_on and (on or self.panic == 0):
            return {}, f"blackout already {'on' if on else 'off'}"
        self._blackout_on = on
        if not on:
            self.panic = 0
        self._update_blackout(eff, fade)
        return {"on": on, "fade": fade}, ""

    def _cmd_panic(self, args: Mapping[str, Any], now: float, eff: float,
                   events: list) -> tuple[dict[str, Any], str]:
        if self.panic >= 2:
            return {}, "already stopped by panic ('blackout' off clears it)"
        self.panic += 1
        if self.panic == 1:
            self._update_blackout(eff, self.show.panic_fade_s)
        else:
            # Second panic: black on the next synchronised frame, no fade, and stop.
            self._blackout = {"level": 1.0, "from": 1.0, "at": eff, "fade": 0.0}
            self.paused = True
            self._set_anchor(now, eff, self.position(eff), 0.0)
        return {"stage": self.panic}, ""

    def _cmd_touch(self, args: Mapping[str, Any], now: float, eff: float,
                   events: list) -> tuple[dict[str, Any], str]:
        self._last_activity = now
        if self.program == "attract":
            self._move(now, eff, self._main_held, self._rate(), events, jump=False)
        return {}, ""

    # ------------------------------------------------------------------ time

    def tick(self, now: float, wall_time: datetime, lead: float = 0.0) -> ControlResult:
        """Advance time: opening hours, attract after idleness, wait cues, cue events.

        Call it often (every heartbeat, and at least every :data:`WAIT_LEAD_S`); calling
        it twice with the same inputs changes nothing the second time.

        Args:
            now: controller clock (s).
            wall_time: aware datetime now.
            lead: a cue start due within this many seconds is reported now (its event
                time is still the moment its cue starts), so that the event reaches every
                node before that moment: the caller ticks every ``lead / 2`` or so. At
                most :data:`WAIT_LEAD_S` (a wait cue's hold is published first).

        Raises:
            ControlError: ``wall_time`` is naive.
        """
        lead = min(max(lead, 0.0), WAIT_LEAD_S)
        wall_time = _aware(wall_time)
        before = self.state()
        self._now, self._wall = now, wall_time
        events: list[tuple[str, float, Mapping[str, Any]]] = []
        eff = now + self.delay
        is_open = self.schedule.is_open(wall_time)
        if is_open != self._open:
            self._open = is_open
            wall_eff = wall_time.astimezone(UTC) + timedelta(seconds=self.delay)
            self._enter_schedule(now, eff, wall_eff, events)
        elif self._attract_due(now):
            self._switch("attract", now, eff, 0.0, 1.0, events)
        self._hold_wait(now)
        if self._firing is not None and now >= self.anchor.controller_time:
            for cs in self._firing.update(self.position(now + lead)):
                events.append(self._cue_event(cs, self._controller_time_of(cs.at, now)))
        self._refresh_cue(now)
        return ControlResult(self._diff(before), tuple(events))

    def _attract_due(self, now: float) -> bool:
        attract = self.show.attract
        return (attract is not None and self._open and self.program == "main"
                and not self.paused and not self.waiting and self.panic == 0
                and now - self._last_activity >= attract.idle_after)

    def _hold_wait(self, now: float) -> None:
        """Publish the hold at the end of the next wait cue once it is near."""
        a = self.anchor
        if (self.program != "main" or self.waiting or a.rate <= 0.0
                or now < a.controller_time):
            return
        p = a.show_time(now)
        hold = self._timelines["main"].next_hold(p, _HOLD_EPS)
        if hold is not None and (hold - p) / a.rate <= WAIT_LEAD_S:
            self._set_anchor(now, a.controller_time_at(hold), hold, 0.0)
            self.waiting = True

    # ------------------------------------------------------------------ internals

    def _anchor_at(self, now: float) -> ShowAnchor:
        return self.anchor if now >= self.anchor.controller_time else self._prev

    def _rate(self) -> float:
        return 0.0 if self.paused else self._play_rate

    def _main_position(self, eff: float) -> float:
        """Main's position at ``eff``: live while main plays, else where it was left."""
        return self.position(eff) if self.program == "main" else self._main_held

    def _set_anchor(self, now: float, at: float, position: float, rate: float) -> None:
        if now >= self.anchor.controller_time:
            self._prev = self.anchor  # the anchor in effect until the new one starts
        self.anchor = ShowAnchor(at, position, rate)

    def _switch(self, program: str, now: float, eff: float, position: float, rate: float,
                events: list) -> None:
        """Change program at ``eff`` and enter its timeline at ``position``."""
        if self.program == "main" and program != "main":
            self._main_held = self.position(eff)
        self.program = program
        self._since = eff
        self.waiting = False
        self._set_anchor(now, eff, position, rate)
        tl = self._timelines.get(program)
        self._firing = CueFiring(tl) if tl is not None else None
        if self._firing is not None:
            events.extend(self._cue_event(cs, eff) for cs in self._firing.reset(position))
        self._update_blackout(eff, self.show.blackout_fade_s)

    def _move(self, now: float, eff: float, position: float, rate: float, events: list,
              jump: bool = True) -> None:
        """An operator move of main (switching to main first when needed)."""
        self._last_activity = now
        if self.program != "main":
            self._switch("main", now, eff, position, rate, events)
            return
        self.waiting = False
        before, announced = self._main_position(eff), self._firing and self._firing.reached
        self._set_anchor(now, eff, position, rate)
        if jump and self._firing is not None:
            # A forward move onto a start already announced (ticks lead) is not told twice.
            events.extend(self._cue_event(cs, eff) for cs in self._firing.reset(position)
                          if not (announced is not None and before < cs.at <= announced))

    def _enter_schedule(self, now: float, eff: float, wall_eff: datetime,
                        events: list | None = None, initial: bool = False) -> None:
        """Open: main where the schedule says. Closed: standby."""
        events = [] if events is None else events
        self.paused, self.waiting = self.panic >= 2, False  # a panic stop stays stopped
        if self._open:
            self._last_activity = now
            main = self._timelines["main"]
            start = self.schedule.catch_up(wall_eff, main.duration, main.loop)
            self._switch("main", now, eff, start, self._rate(), events)
        else:
            self._switch("standby", now, eff, 0.0, 1.0, events)
        if initial:
            # Nothing is on the wall yet: no fade in from an earlier state, no pending anchor.
            level = self._blackout["level"]
            self._blackout = {"level": level, "from": level, "at": eff, "fade": 0.0}
            self._prev = self.anchor

    def _update_blackout(self, eff: float, fade: float) -> None:
        dark = (self._blackout_on or self.panic > 0
                or (self.program == "standby" and "standby" not in self._timelines))
        target = 1.0 if dark else 0.0
        if target != self._blackout["level"]:
            self._blackout = {"level": target, "from": blackout_level(self._blackout, eff),
                              "at": eff, "fade": fade}

    def _controller_time_of(self, position: float, now: float) -> float:
        a = self._anchor_at(now)
        return a.controller_time_at(position) if a.rate > 0 else now

    def _cue_event(self, cs: CueStart, at: float) -> tuple[str, float, Mapping[str, Any]]:
        return ("cue", at, {"id": cs.cue.id, "index": cs.index, "program": self.program,
                            "loop": cs.loop, "position": cs.at})

    def _refresh_cue(self, now: float) -> None:
        tl = self._timelines.get(self.program)
        if tl is None:
            self._cue = {"id": "", "index": -1, "program": self.program}
            return
        st = tl.state_at(self.position(max(now, self.anchor.controller_time)))
        self._cue = {"id": st.cue.id, "index": st.index, "program": self.program}

    def _diff(self, before: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in self.state().items() if before.get(k) != v}

    # ------------------------------------------------------------------ persistence

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot for persistence across a controller restart.

        Controller times are stored relative to the last call's ``now`` and tied to its
        wall time, since a restarted controller's monotonic clock starts elsewhere.
        """
        base = self._now

        def rel(a: ShowAnchor) -> list[float]:
            return [a.controller_time - base, a.position, a.rate]

        return {
            "version": _SNAPSHOT_VERSION,
            "show": self.show.id,
            "wall_time": self._wall.isoformat(),
            "controller_time": base,   # absolute: a pair's backup adopts it, a restart not
            "program": self.program,
            "since": self._since - base,
            "anchor": rel(self.anchor),
            "previous_anchor": rel(self._prev),
            "paused": self.paused,
            "waiting": self.waiting,
            "panic": self.panic,
            "play_rate": self._play_rate,
            "main_held": self._main_held,
            "blackout_on": self._blackout_on,
            "blackout": {**self._blackout, "at": self._blackout["at"] - base},
            "last_activity": self._last_activity - base,
            "last_go": None if self._last_go is None else self._last_go - base,
            "open": self._open,
            "reached": self._firing.reached if self._firing is not None else None,
        }

    @classmethod
    def from_dict(cls, show: ShowConfig, data: Mapping[str, Any], now: float,
                  wall_time: datetime, **kwargs: Any) -> ShowControl:
        """Restore a :meth:`to_dict` snapshot (same as ``ShowControl(..., restored=data)``):
        a playing show continues by the wall time elapsed since; if an opening or closing
        lies in between, the schedule wins (catch-up as after a reboot), keeping only a
        latched blackout or panic. Raises ControlError: malformed, or another show's."""
        return cls(show, now, wall_time, restored=data, **kwargs)

    def _restore(self, data: Mapping[str, Any], now: float, wall: datetime) -> bool:
        """Load a snapshot; False when the schedule must decide instead (after a change)."""
        try:
            if not isinstance(data, Mapping) or data.get("version") != _SNAPSHOT_VERSION:
                raise ValueError(f"unknown snapshot version {data.get('version')!r}"
                                 if isinstance(data, Mapping) else "not a map")
            if data["show"] != self.show.id:
                raise ValueError(f"it belongs to show {data['show']!r}, not {self.show.id!r}")
            saved_wall = _aware(datetime.fromisoformat(data["wall_time"]))
            blackout_on, panic = bool(data["blackout_on"]), int(data["panic"])
            if panic not in (0, 1, 2):
                raise ValueError("panic must be 0, 1 or 2")
            elapsed = max(0.0, elapsed_s(saved_wall, wall))
            base = now - elapsed  # the old `now`, on this controller's clock
            change = self.schedule.next_change(saved_wall)
            self._blackout_on, self.panic = blackout_on, panic
            self.paused = panic == 2
            if change is not None and change <= wall:
                self._update_blackout(now, 0.0)
                return False
            program = data["program"]
            if program not in self._timelines and program != "standby":
                raise ValueError(f"no program {program!r} in this show")

            def anchor(v: Any) -> ShowAnchor:
                ct, pos, rate = (float(x) for x in v)
                if not all(math.isfinite(x) for x in (ct, pos, rate)):
                    raise ValueError("anchor values must be finite")
                return ShowAnchor(ct + base, pos, rate)

            self.program = program
            self._since = float(data["since"]) + base
            self.anchor, self._prev = anchor(data["anchor"]), anchor(data["previous_anchor"])
            self.paused, self.waiting = bool(data["paused"]), bool(data["waiting"])
            self._play_rate = float(data["play_rate"])
            self._main_held = float(data["main_held"])
            b = data["blackout"]
            self._blackout = {"level": float(b["level"]), "from": float(b["from"]),
                              "at": float(b["at"]) + base, "fade": float(b["fade"])}
            self._last_activity = float(data["last_activity"]) + base
            self._last_go = None if data["last_go"] is None else float(data["last_go"]) + base
            self._open = self.schedule.is_open(wall)
            tl = self._timelines.get(program)
            reached = data["reached"]
            self._firing = CueFiring(tl, None if reached is None else float(reached)) \
                if tl is not None else None
        except ControlError as exc:
            raise ControlError(f"saved show state is malformed: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise ControlError(f"saved show state is malformed: {exc}") from None
        return True
