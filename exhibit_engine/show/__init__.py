"""The show: what plays when. Pure: no clocks, no I/O; time is always an argument."""

from .control import ControlError, ControlResult, ShowControl, blackout_level
from .schedule import OpeningHours, Schedule
from .timeline import PROGRAMS, CueFiring, CueStart, CueState, Timeline

__all__ = [
    "PROGRAMS",
    "ControlError",
    "ControlResult",
    "CueFiring",
    "CueStart",
    "CueState",
    "OpeningHours",
    "Schedule",
    "ShowControl",
    "Timeline",
    "blackout_level",
]
