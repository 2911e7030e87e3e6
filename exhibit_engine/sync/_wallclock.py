"""The wall clock a controller runs its show schedule and state file on: the real one, or a
simulated one for rehearsals and tests (``exhibit controller --sim-time``).

Pure standard library.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["real_wall_clock", "simulated_wall_clock"]


def real_wall_clock() -> datetime:
    """The real wall clock, aware, in the local zone."""
    return datetime.now(UTC).astimezone()


def simulated_wall_clock(start: datetime,
                         clock: Callable[[], float] = time.monotonic) -> Callable[[], datetime]:
    """A wall clock that reads ``start`` now and runs on at the pace of ``clock``.

    For tests and rehearsals (``exhibit controller --sim-time``): the show's schedule
    sees, say, a Sunday in March at 14:03 while the machine's clock says otherwise.

    Args:
        start: the simulated instant at the moment of this call (an aware datetime; a
            naive one is taken as local time).
        clock: the monotonic clock the simulated one follows.
    """
    if start.tzinfo is None:
        start = start.astimezone()
    zone, start_utc = start.tzinfo, start.astimezone(UTC)
    origin = clock()
    # Add in UTC: an aware datetime plus a timedelta is wall-clock arithmetic in its own
    # zone, which would step straight over a daylight-saving change.
    return lambda: (start_utc + timedelta(seconds=clock() - origin)).astimezone(zone)
