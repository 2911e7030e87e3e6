"""Opening hours: is the venue open at an instant, and when does it open and close.

Pure (no clock is read): every question takes an aware :class:`~datetime.datetime` or a
:class:`~datetime.date`. Hours are local wall-clock times in the schedule's time zone
(:mod:`zoneinfo`), so on a daylight-saving day a ``10:00``-``18:00`` day still opens at
10:00 and closes at 18:00 local time; the instants carry that day's UTC offsets (on
Europe/Berlin's 2026-03-29 the venue opens at 08:00 UTC, on 2026-03-28 at 09:00 UTC).

Rules:
    - Special days override the weekday's hours (``None``: closed that date).
    - A day's hours never run past midnight (``"24:00"`` closes at the next midnight).
    - Opening counts as open, closing as closed: open on ``[opening, closing)``.
    - A local time that does not exist (inside the spring-forward gap) is read with the
      offset before the change, as :mod:`zoneinfo` does for ``fold=0``; one that exists
      twice (autumn) is its first occurrence. Hours inside 02:00-03:00 are rare; the rule
      just keeps the answer deterministic.
    - Instants are compared in UTC, never as local wall times.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from ..config import ScheduleConfig, ShowConfig

__all__ = ["OpeningHours", "Schedule", "elapsed_s"]

#: How far ahead :meth:`Schedule.next_change` looks for an opening or closing (days).
_HORIZON_DAYS = 400


class OpeningHours(NamedTuple):
    """One day's open period as aware datetimes (in the schedule's time zone).

    Attributes:
        opening: the instant the venue opens.
        closing: the instant it closes (the first instant it is closed again).
    """

    opening: datetime
    closing: datetime

    @property
    def seconds(self) -> float:
        """Elapsed seconds from opening to closing (a DST day's 00:00-24:00 is 23 or 25 h)."""
        return elapsed_s(self.opening, self.closing)


def elapsed_s(start: datetime, end: datetime) -> float:
    """Real seconds from ``start`` to ``end`` (aware datetimes).

    Python subtracts two datetimes that share a ``tzinfo`` as wall times, which is wrong
    across a daylight-saving change; this subtracts instants.
    """
    return (_utc(end) - _utc(start)).total_seconds()


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("the schedule needs an aware datetime (with a time zone)")
    return dt.astimezone(UTC)


class Schedule:
    """Opening hours per weekday plus special days, in one time zone.

    Args:
        config: the show's ``[schedule]``; ``None`` means always open.
    """

    def __init__(self, config: ScheduleConfig | None) -> None:
        self.config = config
        self.tz = ZoneInfo(config.timezone) if config is not None else UTC

    @classmethod
    def from_show(cls, show: ShowConfig) -> Schedule:
        """The schedule of a show file (always open when it has no ``[schedule]``)."""
        return cls(show.schedule)

    @property
    def always_open(self) -> bool:
        """True when there is no schedule (the venue never closes)."""
        return self.config is None

    def hours(self, day: date) -> tuple[int, int] | None:
        """``(open, close)`` in minutes after local midnight on ``day``, or ``None`` (closed).

        A special day wins over the weekday.
        """
        if self.config is None:
            return (0, 1440)
        if day in self.config.special:
            return self.config.special[day]
        return self.config.weekly[day.weekday()]

    def opening_and_closing(self, day: date) -> OpeningHours | None:
        """The opening and closing instants of the local date ``day``, or ``None`` if closed."""
        h = self.hours(day)
        if h is None:
            return None
        return OpeningHours(self._instant(day, h[0]), self._instant(day, h[1]))

    def _instant(self, day: date, minutes: int) -> datetime:
        local = datetime(day.year, day.month, day.day, tzinfo=self.tz) if minutes < 1440 else \
            datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)
        if minutes < 1440:
            local = local.replace(hour=minutes // 60, minute=minutes % 60)
        # Normalise through UTC: a time inside the spring-forward gap becomes a real instant.
        return local.astimezone(UTC).astimezone(self.tz)

    def period_at(self, dt: datetime) -> OpeningHours | None:
        """The open period containing instant ``dt``, or ``None`` when closed then.

        Raises:
            ValueError: ``dt`` is naive.
        """
        u = _utc(dt)
        day = u.astimezone(self.tz).date()
        for d in (day, day - timedelta(days=1)):  # yesterday's "24:00" ends at today's 00:00
            p = self.opening_and_closing(d)
            if p is not None and _utc(p.opening) <= u < _utc(p.closing):
                return p
        return None

    def catch_up(self, dt: datetime, duration: float, loop: bool) -> float:
        """Where a show of ``duration`` seconds plays at instant ``dt``: the seconds since
        today's opening, wrapped by ``duration`` if the show loops, else held at its end
        (0 without a schedule, or while closed).

        Raises:
            ValueError: ``dt`` is naive.
        """
        period = self.period_at(dt)
        if self.always_open or period is None:
            return 0.0
        seconds = max(0.0, elapsed_s(period.opening, dt))
        return seconds % duration if loop else min(seconds, duration)

    def is_open(self, dt: datetime) -> bool:
        """True when the venue is open at instant ``dt`` (opening inclusive, closing not).

        Raises:
            ValueError: ``dt`` is naive.
        """
        if self.config is None:
            _utc(dt)
            return True
        return self.period_at(dt) is not None

    def next_change(self, dt: datetime) -> datetime | None:
        """The first opening or closing strictly after ``dt``, or ``None`` if there is none.

        Back-to-back days (``"24:00"`` then ``"00:00"``) are one open stretch: their shared
        midnight is not a change.

        Raises:
            ValueError: ``dt`` is naive.
        """
        if self.config is None:
            _utc(dt)
            return None
        u = _utc(dt)
        state = self.is_open(dt)
        day = u.astimezone(self.tz).date() - timedelta(days=1)
        for i in range(_HORIZON_DAYS):
            p = self.opening_and_closing(day + timedelta(days=i))
            if p is None:
                continue
            for edge in p:
                if _utc(edge) > u and self.is_open(edge) != state:
                    return edge
        return None
