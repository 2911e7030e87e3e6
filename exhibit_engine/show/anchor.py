"""Show time as an anchor: one point of the controller clock and a rate.

Show time is an anchor, not a stream: ``ShowAnchor(controller_time, position, rate)`` says
"at that controller time the show was at ``position`` and runs at ``rate``". The show
control makes anchors, the sync layer carries them (the state key ``"anchor"`` and every
heartbeat) and each node turns its estimate of the controller clock into show time with
:meth:`ShowAnchor.show_time`.

Pure: no clock is read here; the controller time is always an argument.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ShowAnchor"]


@dataclass(frozen=True)
class ShowAnchor:
    """Show time as a line through one point of the controller clock.

    Attributes:
        controller_time: the controller clock (seconds) at the anchor point.
        position: the show time (seconds) at that point.
        rate: show seconds per controller second (1.0 plays, 0.0 holds).
    """

    controller_time: float
    position: float
    rate: float = 1.0

    def show_time(self, controller_time: float) -> float:
        """Return the show time at ``controller_time`` (extrapolating either way)."""
        return self.position + (controller_time - self.controller_time) * self.rate

    def controller_time_at(self, position: float) -> float:
        """Return the controller time at which show time reaches ``position`` (the rate
        must not be 0)."""
        return self.controller_time + (position - self.position) / self.rate
