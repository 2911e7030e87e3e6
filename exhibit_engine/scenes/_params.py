"""Scene parameters: a manifest's ``params`` mapping -> a frozen dataclass, checked.

Every scene kind declares its parameters as a frozen dataclass whose defaults give the
types (bool, int or float); :func:`typed_params` refuses unknown keys and wrong types with
one :class:`~exhibit_engine.errors.SceneError` line, and the kind then checks ranges.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

from ..errors import SceneError

__all__ = ["check_ranges", "typed_params"]

T = TypeVar("T")


def typed_params(cls: type[T], kind: str, scene_id: str, params: Mapping[str, Any]) -> T:
    """Build ``cls`` from ``params``, checking every key and its type against the defaults.

    Raises:
        SceneError: an unknown key, or a value of the wrong type (ints accept no bools,
            floats accept ints and no NaN or infinity).
    """
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key not in known:
            raise SceneError(scene_id, f"unknown {kind} parameter {key!r} "
                             f"(known: {', '.join(known)})")
        default = known[key].default
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value)
            value = float(value) if ok else value
        if not ok:
            raise SceneError(scene_id, f"{kind} parameter {key!r} must be "
                             f"{type(default).__name__}, not {value!r}")
        out[key] = value
    return cls(**out)


def check_ranges(scene_id: str, checks: Iterable[tuple[bool, str]]) -> None:
    """Raise the first failed range check as a SceneError."""
    for ok, why in checks:
        if not ok:
            raise SceneError(scene_id, why)
