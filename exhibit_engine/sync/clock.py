"""Clock maths: NTP-style offset/delay and a slewing clock estimator.

Part of the core (standard library only). No function here reads a clock: the caller
passes ``now`` (its local monotonic time), so tests feed numbers instead of waiting.

Two clocks are involved. The *controller clock* is the controller's monotonic time; the
*local clock* is a node's. A probe records four times (t0 node send, t1 controller receive,
t2 controller send, t3 node receive) and gives, as in NTP::

    offset = ((t1 - t0) + (t2 - t3)) / 2      controller clock - local clock
    delay  = (t3 - t0) - (t2 - t1)            network round trip

The error of one offset is at most ``delay / 2``, so the estimator keeps the last N samples
and trusts the one with the smallest *sync distance*: ``delay / 2`` plus the drift the two
clocks may have accumulated since it was taken (``drift * age``, NTP's dispersion). A long
window of frequent probes then finds the rare probe that met no queueing on either side
(on a busy machine most round trips are inflated by wake-ups and other traffic), while an
old sample cannot outlive its usefulness. The samples almost as good as that one (within
``combine`` times its distance) are averaged with it, each weighted by 1/distance²: on a
jittery network their errors are independent and of either sign, and their mean is
about 40 % closer than the best alone (2 ms of jitter each way, a window of 32), while a
lone quick probe among slow ones still decides alone. A new estimate is reached by *slewing* (the
controller-time it reports runs at most ``max_slew`` faster or slower than local time) so
show time never jumps; only an error above ``step_threshold_s`` is corrected at once, and so
are the first few samples (the initial burst, before anything has played for long).

Show time itself is a :class:`~exhibit_engine.show.anchor.ShowAnchor` on the controller
clock; the estimator turns a node's local time into that clock.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ..errors import SyncError

__all__ = ["ClockEstimator", "ClockSample", "offset_delay"]


def offset_delay(t0: float, t1: float, t2: float, t3: float) -> tuple[float, float]:
    """Return ``(offset, delay)`` of one probe, NTP style.

    Args:
        t0: local clock when the probe left.
        t1: controller clock when it arrived.
        t2: controller clock when the answer left.
        t3: local clock when the answer arrived.

    Returns:
        ``offset`` (controller clock minus local clock) and ``delay`` (round trip less
        the controller's processing time), both in seconds.
    """
    return ((t1 - t0) + (t2 - t3)) / 2.0, (t3 - t0) - (t2 - t1)


@dataclass(frozen=True)
class ClockSample:
    """One accepted probe.

    Attributes:
        offset: controller clock minus local clock (s).
        delay: round trip (s).
        at: local time the answer arrived (t3).
    """

    offset: float
    delay: float
    at: float


class ClockEstimator:
    """Best-of-N estimate of the controller clock, corrected by slewing.

    Args:
        window: how many recent samples compete (the smallest sync distance wins).
        step_threshold_s: an error larger than this is corrected at once (a step);
            smaller ones are slewed.
        max_slew: the fastest the applied offset may change, in seconds per local second
            (0.005 lets show time run up to 0.5 % fast or slow while it catches up).
        max_delay_s: probes with a longer round trip are discarded as useless.
        acquire: the first this many samples are always stepped to: while the first
            burst of probes comes in nothing has been shown for long, and a poor first
            probe should not take seconds to slew away.
        drift: the most the two clocks' rates may differ (seconds per second): a
            sample's sync distance grows by ``drift`` for every second of its age
            (15 ppm, NTP's PHI, by default; 0 picks the smallest round trip, however old).
        acquire_s: samples that arrive within this many seconds of the first one are
            stepped to as well. A node that starts together with many others on a
            busy machine gets only slow probes at first; slewing away their error of
            tens of milliseconds would take seconds. :meth:`forget_samples` ends it.
        combine: samples within this many times the best one's sync distance are
            averaged with it (1/distance² weights); 1 trusts the best alone.
    """

    def __init__(self, window: int = 32, step_threshold_s: float = 0.05,
                 max_slew: float = 0.005, max_delay_s: float = 1.0, acquire: int = 8,
                 drift: float = 15e-6, acquire_s: float = 5.0, combine: float = 2.0) -> None:
        if window < 1 or acquire < 1:
            raise ValueError("window and acquire must be at least 1")
        if step_threshold_s < 0 or not 0 < max_slew < 1 or max_delay_s <= 0:
            raise ValueError("step_threshold_s >= 0, 0 < max_slew < 1, max_delay_s > 0")
        if not 0 <= drift < 0.01 or acquire_s < 0 or combine < 1.0:
            raise ValueError("drift must be from 0 to 0.01, acquire_s at least 0 and "
                             "combine at least 1")
        self.combine = combine
        self._target = 0.0
        self.drift = drift
        self.acquire_s = acquire_s
        self._acquire_until = math.inf     # set by the first sample
        self.step_threshold_s = step_threshold_s
        self.max_slew = max_slew
        self.max_delay_s = max_delay_s
        self.acquire = acquire
        self._accepted = 0
        self._samples: deque[ClockSample] = deque(maxlen=window)
        self._best: ClockSample | None = None
        self._applied = 0.0     # the offset in use at local time self._at
        self._at = -math.inf
        self._steps = 0

    # ------------------------------------------------------------------ properties

    @property
    def ready(self) -> bool:
        """True once at least one sample has been accepted."""
        return self._best is not None

    @property
    def best(self) -> ClockSample | None:
        """The sample the estimate rests on (smallest sync distance in the window when
        the last sample was added)."""
        return self._best

    @property
    def target_offset_s(self) -> float:
        """The best estimate of the offset (the near-best samples' weighted mean), which
        the applied offset moves towards."""
        return self._target if self._best else 0.0

    @property
    def delay_s(self) -> float:
        """Round trip of the best sample (s); 0 before the first."""
        return self._best.delay if self._best else 0.0

    @property
    def steps(self) -> int:
        """How many times the applied offset has stepped (the first estimate counts)."""
        return self._steps

    @property
    def sample_count(self) -> int:
        """Samples currently in the window."""
        return len(self._samples)

    # ------------------------------------------------------------------ updates

    def add(self, t0: float, t1: float, t2: float, t3: float) -> bool:
        """Take one probe's four times (see :func:`offset_delay`); ``t3`` is "now".

        Returns:
            True if the sample was accepted; False for an impossible or useless one
            (non-finite times, time running backwards, a round trip that is negative or
            longer than ``max_delay_s``).
        """
        if not all(math.isfinite(t) for t in (t0, t1, t2, t3)) or t3 < t0 or t2 < t1:
            return False
        offset, delay = offset_delay(t0, t1, t2, t3)
        # Clock granularity (or a little drift between the clocks) can make a loopback
        # round trip come out a hair below zero; anything more is a broken sample.
        if delay < -1e-4 or delay > self.max_delay_s:
            return False
        self._advance(t3)
        self._samples.append(ClockSample(offset, max(delay, 0.0), t3))
        self._best = min(self._samples, key=lambda s: self.distance(s, t3))
        self._target = self._combined(t3)
        self._accepted += 1
        error = abs(self._target - self._applied)
        if self._accepted == 1:
            self._acquire_until = t3 + self.acquire_s
        acquiring = self._accepted <= self.acquire or t3 <= self._acquire_until
        if acquiring or error > self.step_threshold_s:
            if error > 0.0 or self._steps == 0:
                self._steps += 1
            self._applied = self._target
        return True

    def distance(self, sample: ClockSample, now: float) -> float:
        """The sync distance of ``sample`` at local time ``now``: the most its offset can
        be wrong by then (half its round trip, plus ``drift`` times its age)."""
        return sample.delay / 2.0 + self.drift * max(0.0, now - sample.at)

    def _combined(self, now: float) -> float:
        """The offset of the samples within ``combine`` times the best's distance (plus
        10 us of clock granularity), weighted by 1/distance²."""
        assert self._best is not None
        limit = self.combine * self.distance(self._best, now) + 1e-5
        total = weight = 0.0
        for sample in self._samples:
            d = self.distance(sample, now)
            if d <= limit:
                w = 1.0 / max(d, 1e-6) ** 2
                total += w * sample.offset
                weight += w
        return total / weight if weight else self._best.offset

    def forget_samples(self) -> None:
        """Drop the samples but keep the applied offset (e.g. the controller restarted).

        Show time stays continuous; the next sample becomes the new target and is slewed
        to, or stepped to if it is far off.
        """
        self._samples.clear()
        self._acquire_until = -math.inf    # the show is running: slew from now on
        if self._best is not None:
            # Keep "ready" and the current target until a fresh sample replaces them.
            self._best = ClockSample(self._applied, self._best.delay, self._best.at)
            self._target = self._applied

    # ------------------------------------------------------------------ conversion

    def offset_at(self, now: float) -> float:
        """Return the offset (controller minus local, seconds) in use at local time ``now``.

        Raises:
            SyncError: no sample has been accepted yet.
        """
        if self._best is None:
            raise SyncError("no clock estimate yet (no probe has been answered)")
        # A ``now`` earlier than the last one gets the current offset: the slew is never
        # undone, so controller time stays monotonic for a caller whose clock is.
        self._advance(now)
        return self._applied

    def to_controller(self, now: float) -> float:
        """Convert local time ``now`` to controller time.

        Raises:
            SyncError: no sample has been accepted yet.
        """
        return now + self.offset_at(now)

    def _advance(self, now: float) -> None:
        if now <= self._at:
            return
        if self._best is not None and math.isfinite(self._at):
            budget = (now - self._at) * self.max_slew
            diff = self._target - self._applied
            self._applied += max(-budget, min(budget, diff))
        self._at = now
