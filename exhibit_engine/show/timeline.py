"""The show timeline: a cue list answered as ``state_at(t)``.

Pure functions of show time. A node asks "what is on the wall at show time t?" and gets
the cue, the time inside it and, during a transition, the outgoing cue and the weight of
the incoming one. No clock is read here; tests pass numbers.

:class:`CueFiring` turns successive show times into cue starts, each reported once.
Its rules, chosen for what an operator expects of cue-triggered effects:

- Forward: every cue start in ``(previous, now]`` is reported, in show order, including
  cues a jump went over. A jump longer than a whole pass reports each cue once (its
  latest start), not once per pass.
- Backward (a clock step, a node's estimate corrected): nothing is reported, and a cue
  already reported is not reported again until show time passes the furthest point
  already reached, i.e. the next pass of a looping show.
- Re-entry: an explicit goto or seek calls :meth:`CueFiring.reset`, which reports the
  cue at the new position (entered, even if mid-cue) and forgets the furthest point.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from itertools import accumulate

from ..config import CueConfig, ShowConfig

__all__ = ["CueFiring", "CueStart", "CueState", "PROGRAMS", "Timeline"]

#: Program names a show may have: its main cue list, the attract loop, the standby scene.
PROGRAMS = ("main", "attract", "standby")


@dataclass(frozen=True)
class CueState:
    """What plays at one show time.

    Attributes:
        index: index of the current cue in the cue list.
        cue: the current cue.
        local_t: seconds since the current cue started.
        loop: how many times the cue list has wrapped (0 on the first pass).
        previous: the outgoing cue while a transition runs, else ``None``.
        previous_local_t: the outgoing cue's local time (continues past its end).
        weight: the incoming cue's weight in [0, 1]; 1 outside transitions.
        ended: True once a non-looping show has played its last cue (it holds the end).
    """

    index: int
    cue: CueConfig
    local_t: float
    loop: int = 0
    previous: CueConfig | None = None
    previous_local_t: float = 0.0
    weight: float = 1.0
    ended: bool = False


@dataclass(frozen=True)
class CueStart:
    """One cue start on the show-time axis.

    Attributes:
        index: the cue's index in the cue list.
        cue: the cue.
        loop: the pass it belongs to (0 on the first).
        at: its show time (``loop * duration + start``).
    """

    index: int
    cue: CueConfig
    loop: int
    at: float


class Timeline:
    """A show's cue list laid out on show time.

    Args:
        cues: the cues in order (at least one).
        loop: whether the list wraps around after the last cue.
    """

    def __init__(self, cues: tuple[CueConfig, ...], loop: bool = True) -> None:
        if not cues:
            raise ValueError("a timeline needs at least one cue")
        self.cues = tuple(cues)
        self.loop = loop
        self._starts = [0.0, *accumulate(c.duration for c in self.cues)]
        self.duration = self._starts[-1]

    @classmethod
    def from_show(cls, show: ShowConfig, program: str = "main") -> "Timeline":
        """The timeline of one of a show file's programs.

        Args:
            show: the show.
            program: ``"main"`` (the cue list), ``"attract"`` (the attract loop) or
                ``"standby"`` (the standby scene, looping).

        Raises:
            ValueError: an unknown program, or one the show does not have (no
                ``[attract]``; no ``[standby]`` scene, where the wall is black instead).
        """
        if program == "main":
            return cls(show.cues, show.loop)
        if program == "attract" and show.attract is not None:
            return cls(show.attract.cues, show.attract.loop)
        if program == "standby" and show.standby is not None:
            return cls((show.standby,), True)
        if program not in PROGRAMS:
            raise ValueError(f"unknown program {program!r} (known: {', '.join(PROGRAMS)})")
        raise ValueError(f"show {show.id!r} has no {program} program")

    @staticmethod
    def has_program(show: ShowConfig, program: str) -> bool:
        """True when :meth:`from_show` can build ``program`` for ``show``."""
        return program == "main" or (program == "attract" and show.attract is not None) or \
            (program == "standby" and show.standby is not None)

    def start_of(self, index: int) -> float:
        """Show time (within one pass) at which cue ``index`` starts."""
        return self._starts[index]

    def cue_start(self, index: int, loop: int = 0) -> CueStart:
        """The start of cue ``index`` in pass ``loop``."""
        return CueStart(index, self.cues[index], loop, loop * self.duration + self._starts[index])

    def fired_between(self, t_prev: float, t_now: float) -> tuple[CueStart, ...]:
        """Cue starts ``s`` with ``t_prev < s <= t_now``, each cue at most once, in order.

        Pure. A range longer than a pass gives each cue's latest start only; an empty or
        backward range gives nothing. A non-looping show has each start once, ever.

        Raises:
            ValueError: a time is not finite.
        """
        if not (math.isfinite(t_prev) and math.isfinite(t_now)):
            raise ValueError("show time must be finite")
        out = []
        if t_now <= t_prev or t_now < 0:
            return ()
        for i, start in enumerate(self._starts[:-1]):
            if self.loop:
                k = math.floor((t_now - start) / self.duration)
                at = k * self.duration + start
                if at > t_now:  # float rounding at the edge of a pass
                    k, at = k - 1, at - self.duration
            else:
                k, at = 0, start
            if k >= 0 and t_prev < at <= t_now:
                out.append(CueStart(i, self.cues[i], k, at))
        out.sort(key=lambda c: c.at)
        return tuple(out)

    def next_start(self, t: float) -> CueStart | None:
        """The first cue start strictly after show time ``t``; ``None`` after a
        non-looping show's last cue has started."""
        if t < 0:
            return self.cue_start(0)
        state = self.state_at(t)
        if state.ended:
            return None
        if state.index + 1 < len(self.cues):
            return self.cue_start(state.index + 1, state.loop)
        return self.cue_start(0, state.loop + 1) if self.loop else None

    def next_hold(self, t: float, eps: float) -> float | None:
        """Where the next wait cue holds after show time ``t``: ``eps`` before its end
        (still its last frame), the first such point past ``t``; ``None`` when no wait
        cue lies ahead (or a non-looping show has ended)."""
        st = self.state_at(t)
        if st.ended:
            return None
        n = len(self.cues)
        for step in range(n + 1):
            i, k = (st.index + step) % n, st.loop + (st.index + step) // n
            if not self.loop and k > 0:
                return None
            hold = k * self.duration + self.start_of(i + 1) - eps
            if self.cues[i].wait and hold > t:
                return hold
        return None

    def state_at(self, t: float) -> CueState:
        """What plays at show time ``t`` (seconds since the show started).

        Times before 0 hold the first cue at local time 0.
        """
        if not math.isfinite(t):
            raise ValueError("show time must be finite")
        if t < 0:
            return CueState(0, self.cues[0], 0.0)
        loop_n, t_show = 0, t
        if t >= self.duration:
            if not self.loop:
                last = len(self.cues) - 1
                return CueState(last, self.cues[last], self.cues[last].duration, ended=True)
            loop_n = int(t // self.duration)
            # The same sums as cue_start's: a cue's start is inside its own cue, never the
            # last instant of the one before (float division may round either way).
            loop_n += (loop_n + 1) * self.duration <= t_show
            loop_n -= loop_n > 0 and loop_n * self.duration > t_show
            t = t_show - loop_n * self.duration
        base = loop_n * self.duration
        i = min(max(bisect.bisect_right(self._starts, t) - 1, 0), len(self.cues) - 1)
        while i + 1 < len(self.cues) and base + self._starts[i + 1] <= t_show:
            i += 1
        while i > 0 and base + self._starts[i] > t_show:
            i -= 1
        cue = self.cues[i]
        local = max(0.0, t_show - (base + self._starts[i]))
        has_previous = i > 0 or (self.loop and loop_n > 0)
        if cue.transition != "cut" and cue.transition_time > 0 and local < cue.transition_time \
                and has_previous:
            prev_i = (i - 1) % len(self.cues)
            prev = self.cues[prev_i]
            w = local / cue.transition_time
            w = w * w * (3.0 - 2.0 * w)  # smoothstep: no visible kink at either end
            return CueState(i, cue, local, loop_n, prev, prev.duration + local, w)
        return CueState(i, cue, local, loop_n)


class CueFiring:
    """Reports each cue start once as show time moves (rules in the module docstring).

    Args:
        timeline: the timeline whose cues fire.
        reached: the furthest show time already reported (restoring a saved tracker);
            ``None`` for a fresh one, whose first update enters the show.

    Stateful but pure: the caller passes show times (a node's per-frame show time, the
    controller's position at each tick).
    """

    def __init__(self, timeline: Timeline, reached: float | None = None) -> None:
        if reached is not None and not math.isfinite(reached):
            raise ValueError("show time must be finite")
        self.timeline = timeline
        self._reached = reached  # the furthest show time already reported

    @property
    def reached(self) -> float | None:
        """The furthest show time processed so far (``None`` before the first update)."""
        return self._reached

    def update(self, t: float) -> tuple[CueStart, ...]:
        """Move to show time ``t``; return the cue starts to fire now.

        The first call enters the show at ``t`` (as :meth:`reset`).
        """
        if self._reached is None:
            return self.reset(t)
        if not math.isfinite(t):
            raise ValueError("show time must be finite")
        if t <= self._reached:
            return ()
        fired = self.timeline.fired_between(self._reached, t)
        self._reached = t
        return fired

    def reset(self, t: float) -> tuple[CueStart, ...]:
        """Re-enter the show at ``t`` (explicit goto / seek); return the cue entered.

        The cue playing at ``t`` is reported even when ``t`` lies inside it (its
        ``at`` is then earlier than ``t``); cues after ``t`` fire as time reaches them.
        """
        state = self.timeline.state_at(t)
        self._reached = t
        if state.ended:
            return ()
        return (self.timeline.cue_start(state.index, state.loop),)
