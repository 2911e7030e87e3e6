"""Levels of detail: which level of a model a node draws at show time t, and the fade
from one level to the next (:mod:`.heritage` uses it for its artifacts).

A level's geometric error is taken as the typical edge of its triangles spread over the
model's bounding sphere, ``radius * sqrt(4 pi / triangles)``; its projected error is that
over the camera's distance times the view's scale (:class:`~exhibit_engine.wall.frustum.LodView`).
A node draws the coarsest level whose projected error is at most :data:`THRESHOLD_PX`.

The choice is made on a grid of show times, every :data:`GRID_S`, from the camera pose
at the grid time, so it is a pure function of show time, state and the venue's scale
(the same on every node: nodes sharing an overlap draw the same level). When the level
at one grid time differs from the one before, the grid step that follows is a
screen-door fade from the old level to the new (:func:`blend`): each wall pixel shows
exactly one of the two, never a pop and never a hole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["GRID_S", "Levels", "THRESHOLD_PX", "blend", "choose", "level_errors"]

#: Seconds between two choices of level; a change fades over the step after it.
GRID_S = 0.5
#: Largest projected error (pixels) of the level drawn: finer detail would not show.
THRESHOLD_PX = 1.5


def level_errors(radius: float, triangles: Sequence[int]) -> tuple[float, ...]:
    """Each level's geometric error (metres, the typical edge of its triangles)."""
    return tuple(radius * math.sqrt(4.0 * math.pi / max(n, 1)) for n in triangles)


def choose(errors: Sequence[float], distance: float, scale: float,
           threshold: float = THRESHOLD_PX) -> int:
    """The coarsest level (highest index) whose error, seen from ``distance`` at
    ``scale`` pixels per unit of tangent, is at most ``threshold`` pixels; 0 (the full
    model) when none is, or when the view has no scale."""
    if scale <= 0.0 or not errors:
        return 0
    distance = max(distance, 1e-6)
    for level in range(len(errors) - 1, 0, -1):
        if errors[level] / distance * scale <= threshold:
            return level
    return 0


def blend(t: float, level_at: Callable[[int], int]) -> tuple[int, int, float]:
    """``(old, new, weight)`` at show time ``t``: ``level_at(k)`` is the level chosen at
    grid time ``k * GRID_S``; within a step whose level differs from the step before,
    ``weight`` goes from 0 to 1 (the share of wall pixels showing ``new``)."""
    k = math.floor(t / GRID_S)
    new, old = level_at(k), level_at(k - 1)
    if new == old:
        return new, new, 1.0
    return old, new, min(max((t - k * GRID_S) / GRID_S, 0.0), 1.0)


class Levels:
    """One model's levels of detail in a scene: which are drawn at show time t.

    Args:
        triangles: each level's triangle count, the full model first.
        radius: the model's bounding radius as it stands (metres).
        centre: its centre in the scene (metres).
        scale: the view's scale (:class:`~exhibit_engine.wall.frustum.LodView`).
        eye_at: the camera's eye at a show time under a state (the scene's pure pose).
    """

    def __init__(self, triangles: Sequence[int], radius: float,
                 centre: tuple[float, float, float], scale: float,
                 eye_at: Callable[[float, Mapping[str, Any]], tuple[float, float, float]]
                 ) -> None:
        self.errors = level_errors(radius, triangles)
        self.centre, self.scale, self._eye_at = centre, scale, eye_at
        self._chosen: dict[tuple[Any, ...], int] = {}

    def shown(self, t: float, state: Mapping[str, Any]) -> tuple[int, int, float]:
        """``(old, new, weight)`` at ``t`` (see :func:`blend`)."""
        sel = (state.get("selected_item"), state.get("selected_at"))

        def level_at(k: int) -> int:
            key = (k, *sel)
            if key not in self._chosen:
                if len(self._chosen) > 64:
                    self._chosen.clear()
                eye = self._eye_at(k * GRID_S, state)
                self._chosen[key] = choose(self.errors, math.dist(eye, self.centre),
                                           self.scale)
            return self._chosen[key]

        return blend(t, level_at)
