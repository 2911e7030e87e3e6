"""The show timeline: a cue list answered as ``state_at(t)``.

Pure functions of show time. A node asks "what is on the wall at show time t?" and gets
the cue, the time inside it and, during a transition, the outgoing cue and the weight of
the incoming one. No clock is read here; tests pass numbers.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from itertools import accumulate

from ..config import CueConfig, ShowConfig

__all__ = ["CueState", "Timeline"]


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
    def from_show(cls, show: ShowConfig) -> "Timeline":
        """The timeline of a show file."""
        return cls(show.cues, show.loop)

    def start_of(self, index: int) -> float:
        """Show time (within one pass) at which cue ``index`` starts."""
        return self._starts[index]

    def state_at(self, t: float) -> CueState:
        """What plays at show time ``t`` (seconds since the show started).

        Times before 0 hold the first cue at local time 0.
        """
        if not math.isfinite(t):
            raise ValueError("show time must be finite")
        if t < 0:
            return CueState(0, self.cues[0], 0.0)
        loop_n = 0
        if t >= self.duration:
            if not self.loop:
                last = len(self.cues) - 1
                return CueState(last, self.cues[last], self.cues[last].duration, ended=True)
            loop_n = int(t // self.duration)
            t -= loop_n * self.duration
        i = min(bisect.bisect_right(self._starts, t) - 1, len(self.cues) - 1)
        cue = self.cues[i]
        local = t - self._starts[i]
        has_previous = i > 0 or (self.loop and loop_n > 0)
        if cue.transition != "cut" and cue.transition_time > 0 and local < cue.transition_time \
                and has_previous:
            prev_i = (i - 1) % len(self.cues)
            prev = self.cues[prev_i]
            w = local / cue.transition_time
            w = w * w * (3.0 - 2.0 * w)  # smoothstep: no visible kink at either end
            return CueState(i, cue, local, loop_n, prev, prev.duration + local, w)
        return CueState(i, cue, local, loop_n)
