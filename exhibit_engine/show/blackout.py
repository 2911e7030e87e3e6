"""The blackout: how dark the wall is, read from its session-state value.

The show control writes the ``"blackout"`` key of the session state; every node reads it
each frame and dims its picture by the level at its estimate of the controller clock::

    "blackout": {"level": 0..1, "from": 0..1, "at": controller_time, "fade": seconds}

``from`` until ``at``, then a linear fade over ``fade`` seconds to ``level``. The times are
controller times, not show time: show time stops while paused or after a panic, and a
fade to black must still run then.

Pure: no clock is read here; the controller time is an argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["blackout_level"]


def blackout_level(value: Mapping[str, Any] | None, t: float) -> float:
    """How dark the wall is at controller time ``t`` (0 = picture, 1 = black).

    Args:
        value: the ``"blackout"`` session-state value (``None`` or empty: no blackout).
            ``from`` defaults to ``1 - level`` (a full fade).
        t: controller time (seconds).

    Returns:
        The level in [0, 1]: ``from`` until ``at``, then a linear fade over ``fade``
        seconds to ``level``. A malformed value counts as no blackout: the render loop
        keeps the picture rather than fail.
    """
    if not isinstance(value, Mapping) or not value:
        return 0.0
    try:
        level = float(value["level"])
        start = float(value.get("from", 1.0 - level))
        at = float(value.get("at", -math.inf))
        fade = float(value.get("fade", 0.0))
    except (KeyError, TypeError, ValueError):
        return 0.0
    if not all(math.isfinite(x) for x in (level, start, fade, t)):
        return 0.0
    if t < at:
        out = start
    elif fade <= 0.0 or t >= at + fade:
        out = level
    else:
        out = start + (level - start) * (t - at) / fade
    return min(1.0, max(0.0, out))
