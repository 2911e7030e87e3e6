"""What a node's picture owes to the replicated session state, besides show time.

The controller's show control publishes (see :mod:`exhibit_engine.show.control`)::

    "program":  {"name": "main"|"attract"|"standby", "since": controller_time}
    "blackout": {"level", "from", "at": controller_time, "fade"}
    "selected_item": {"item", "selected_at"},   "language": "zh"|"en"|"ru"

A :class:`Playback` turns them into what one frame needs: the timeline of the program
playing (switched when the controller clock reaches ``since``, the instant the new anchor
takes effect too, so every node changes program on the same frame), the ``dim`` factor
of the final pass (``1 - blackout_level``), and the scene state (language, selection).

Pure: no panda3d, no clock; the node passes the controller time it estimates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..config import ShowConfig
from ..show import PROGRAMS, Timeline, blackout_level

__all__ = ["Frame", "Playback"]


@dataclass(frozen=True)
class Frame:
    """What to draw besides show time.

    Attributes:
        program: the program playing.
        timeline: its timeline; ``None`` for a program the show lacks (a standby without
            a scene): the wall is black.
        dim: the final image's factor, 0..1 (``1 - blackout level``; 0 when no timeline).
        scene_state: session values scenes read (``language``, ``selected_item``,
            ``selected_at``).
    """

    program: str
    timeline: Timeline | None
    dim: float
    scene_state: Mapping[str, Any] = field(default_factory=dict)


class Playback:
    """Follows the session state's program, blackout and scene keys for one node.

    Args:
        show: the show file (its programs' timelines are built once, here).
    """

    def __init__(self, show: ShowConfig) -> None:
        self.timelines = {p: Timeline.from_show(show, p) for p in PROGRAMS
                          if Timeline.has_program(show, p)}
        self.program = "main"
        self._session: Mapping[str, Any] = {}

    def frame(self, session: Mapping[str, Any], controller_time: float) -> Frame:
        """The frame's program, timeline, dim factor and scene state.

        Args:
            session: the replicated session state (a node's copy).
            controller_time: the node's estimate of the controller clock now.

        Malformed values never stop the picture: an unreadable program is ignored (the
        last one plays on) and an unreadable blackout counts as none. A session without
        an ``"anchor"`` is one not received yet (a node that just joined, or whose
        controller restarted and has not sent its snapshot): the last complete one holds,
        so a blacked-out wall does not flash up while a controller restarts.
        """
        if "anchor" in session:
            self._session = session
        session = self._session
        value = session.get("program")
        if isinstance(value, Mapping) and value.get("name") in PROGRAMS:
            since = value.get("since", -math.inf)
            if not isinstance(since, (int, float)) or isinstance(since, bool) \
                    or controller_time >= since:
                self.program = str(value["name"])
        timeline = self.timelines.get(self.program)
        dim = 1.0 - blackout_level(session.get("blackout"), controller_time)
        if timeline is None:
            dim = 0.0
        return Frame(self.program, timeline, min(1.0, max(0.0, dim)), _scene_state(session))


def _scene_state(session: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lang = session.get("language")
    if isinstance(lang, str):
        out["language"] = lang
    sel = session.get("selected_item")
    if isinstance(sel, Mapping) and isinstance(sel.get("item"), str):
        out["selected_item"] = sel["item"]
        at = sel.get("selected_at")
        if isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at):
            out["selected_at"] = float(at)
    return out
