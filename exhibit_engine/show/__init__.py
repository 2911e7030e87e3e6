"""The show: what plays when. Pure: no clocks, no I/O; time is always an argument.

- :mod:`~exhibit_engine.show.anchor`: ``ShowAnchor``, show time as a point of the
  controller clock and a rate.
- :mod:`~exhibit_engine.show.timeline`: cue lists answered as ``state_at(t)``, and
  ``CueFiring`` (each cue start reported once).
- :mod:`~exhibit_engine.show.schedule`: opening hours.
- :mod:`~exhibit_engine.show.blackout`: ``blackout_level``, how dark the wall is (the
  session-state value a node reads every frame).
- :mod:`~exhibit_engine.show.control`: ``ShowControl``, the controller's show state machine
  (GO, pause, goto, blackout, panic, attract, the schedule); it takes command arguments
  that the sync layer has already checked.

The show lies below the sync layer: nothing here imports :mod:`exhibit_engine.sync`.
"""

from .anchor import ShowAnchor
from .blackout import blackout_level
from .control import ControlResult, ShowControl
from .schedule import OpeningHours, Schedule
from .timeline import PROGRAMS, CueFiring, CueStart, CueState, Timeline

__all__ = ["ControlResult", "CueFiring", "CueStart", "CueState",
           "OpeningHours", "PROGRAMS", "Schedule", "ShowAnchor", "ShowControl", "Timeline",
           "blackout_level"]
