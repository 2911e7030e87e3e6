"""The show: what plays when. Pure: no clocks, no I/O; time is always an argument."""

from .timeline import CueState, Timeline

__all__ = ["CueState", "Timeline"]
