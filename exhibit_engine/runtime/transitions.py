"""Transitions between cues: cut, crossfade (render-to-texture) and fade through black.

During a transition the renderer holds two scenes, the outgoing and the incoming one,
each with its own scene graph and camera rig (each scene poses its own camera). What
reaches the output is a per-pixel blend of the two frames, drawn by the final full-screen
pass (:class:`~exhibit_engine.runtime.output.OutputPass`, which also applies a wall
display's blend and warp):

    out = gain_out * outgoing + gain_in * incoming

The gains are a pure function of the transition's kind and weight (:func:`gains`), and
the weight is a pure function of show time (``Timeline.state_at(t).weight``), so every
projector node blends its slice of the wall identically on the same frame, and the
slices still stitch.

Kinds (``show.toml`` ``transition``):

- ``cut``: the incoming scene, instantly (no blend pass, nothing held).
- ``crossfade``: both scenes are drawn into textures and mixed:
  ``gains = (1 - w, w)``.
- ``fade`` (through black): the outgoing scene dims to black over the first half,
  then the incoming one rises from black: ``gains = (max(0, 1 - 2w), max(0, 2w - 1))``;
  only the scene with a non-zero gain is drawn.

When one gain is 1 and the other 0 the renderer skips the blend pass and draws that
scene straight to the output, which gives the same pixels (the blend reads texels
1:1 with ``texelFetch`` and multiplies by exactly 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..config import TRANSITIONS
from ..errors import RenderError

__all__ = ["Transition", "gains"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Transition:
    """The outgoing side of a running transition, for one frame.

    Attributes:
        kind: ``cut``, ``crossfade`` or ``fade``.
        weight: the incoming scene's weight in [0, 1] (from the timeline).
        t: the outgoing scene's local time.
        state: the show state the outgoing scene is posed with.

    Raises:
        RenderError: an unknown kind, or a weight or time that is not finite.
    """

    kind: str
    weight: float
    t: float
    state: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self) -> None:
        if self.kind not in TRANSITIONS:
            raise RenderError(f"unknown transition {self.kind!r} "
                              f"(known: {', '.join(TRANSITIONS)})")
        if not (math.isfinite(self.weight) and math.isfinite(self.t)):
            raise RenderError(f"transition weight and time must be finite, not "
                              f"{self.weight!r}, {self.t!r}")

    @property
    def gains(self) -> tuple[float, float]:
        """(outgoing gain, incoming gain) for this frame (see :func:`gains`)."""
        return gains(self.kind, self.weight)


def gains(kind: str, weight: float) -> tuple[float, float]:
    """(outgoing gain, incoming gain) of a transition at incoming weight ``weight``.

    A pure function; ``weight`` is clamped to [0, 1].

    Raises:
        RenderError: an unknown kind.
    """
    w = min(max(float(weight), 0.0), 1.0)
    if kind == "cut":
        return 0.0, 1.0
    if kind == "crossfade":
        return 1.0 - w, w
    if kind == "fade":
        return max(0.0, 1.0 - 2.0 * w), max(0.0, 2.0 * w - 1.0)
    raise RenderError(f"unknown transition {kind!r} (known: {', '.join(TRANSITIONS)})")
