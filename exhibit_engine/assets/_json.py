"""Strict JSON for the files of a bundle: no duplicate keys, no NaN or Infinity.

Python's :func:`json.loads` takes the last of two equal keys and reads ``NaN`` and
``Infinity``; a manifest, a signature or a content file that relies on either could mean
one thing to us and another to the next reader, so both are refused. Each caller raises
its own error kind (``error``), with the same words.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["strict_loads"]


def strict_loads(data: str | bytes, error: Callable[[str], Exception] = ValueError) -> Any:
    """``json.loads`` that raises ``error(text)`` on a repeated key or a non-finite number."""

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise error(f"duplicate JSON key {key!r}")
            out[key] = value
        return out

    def no_constant(token: str) -> Any:
        raise error(f"non-finite number {token} is not JSON")

    return json.loads(data, object_pairs_hook=unique, parse_constant=no_constant)
