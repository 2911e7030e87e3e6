"""Typed, bounded reading of msgpack bodies for :mod:`exhibit_engine.sync.protocol`.

Core (standard library and ``msgpack`` only). Everything here turns hostile input into
:class:`~exhibit_engine.errors.ProtocolError` and nothing else.
"""

from __future__ import annotations

import math
from typing import Any

import msgpack

from ..errors import ProtocolError
from ..show.anchor import ShowAnchor

__all__ = ["Body", "MAX_DEPTH", "MAX_FRAME_BYTES", "MAX_INT", "MAX_LIST", "MAX_MAP_KEYS",
           "MAX_STR", "REQUIRED", "check_value", "decode_anchor", "is_number", "unpack"]

#: Largest frame (bytes) any peer accepts.
MAX_FRAME_BYTES = 64 * 1024
#: Most keys in a body or in a map value inside it.
MAX_MAP_KEYS = 64

MAX_STR = 256
MAX_LIST = 256
MAX_DEPTH = 8
MAX_INT = 2**63 - 1
#: Marks a field without a default.
REQUIRED: Any = object()


def decode_anchor(value: Any, peer: str | None = None) -> ShowAnchor:
    """Read a show anchor from its wire form ``[controller_time, position, rate]``.

    Raises:
        ProtocolError: the value is not a list of three finite numbers.
    """
    if (not isinstance(value, (list, tuple)) or len(value) != 3
            or not all(is_number(x) and math.isfinite(x) for x in value)):
        raise ProtocolError("anchor must be [controller_time, position, rate] (3 finite numbers)",
                            peer)
    return ShowAnchor(float(value[0]), float(value[1]), float(value[2]))


def is_number(x: Any) -> bool:
    """True for int and float, but not bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def unpack(data: bytes, what: str, peer: str | None, max_keys: int) -> Any:
    """Unpack one msgpack value with every container bounded.

    Raises:
        ProtocolError: ``data`` is not exactly one valid, bounded msgpack value.
    """
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True,
                               max_str_len=MAX_FRAME_BYTES, max_bin_len=MAX_FRAME_BYTES,
                               max_array_len=MAX_LIST * 4, max_map_len=max_keys,
                               max_ext_len=MAX_FRAME_BYTES)
    # msgpack reports every malformed input as a ValueError subclass (incomplete input,
    # extra data, stack depth, limits, bad UTF-8); the others are belt and braces.
    except (ValueError, TypeError, OverflowError, msgpack.UnpackException) as exc:
        raise ProtocolError(f"{what} is not valid msgpack ({exc})", peer) from None


def check_value(value: Any, where: str, peer: str | None, depth: int = 0, *,
                tuples: bool = False) -> int:
    """Allow only JSON-like values: nil, bool, int, float, str, arrays, string-keyed maps.

    Args:
        value: what to check.
        where, peer: for the error message.
        depth: the nesting depth ``value`` is at.
        tuples: also allow tuples as arrays (a sender's own values; msgpack writes them
            as arrays, and they come back as lists).

    Returns:
        How many values ``value`` holds, itself included (every scalar and every
        container counts one), so callers can bound what many values add up to.

    Raises:
        ProtocolError: another type, a non-string key, or nesting deeper than 8.
    """
    arrays: tuple[type, ...] = (list, tuple) if tuples else (list,)
    count = 0
    # Iterative, with scalars and empty containers checked in place: a hostile 64 KiB
    # frame can hold tens of thousands of tiny containers, and this runs on every one.
    stack = [(value, depth)]
    while stack:
        v, d = stack.pop()
        if d > MAX_DEPTH:
            raise ProtocolError(f"{where} is nested more than {MAX_DEPTH} deep", peer)
        count += 1
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise ProtocolError(f"{where} has a map key that is not a string", peer)
            items: Any = v.values()
        elif isinstance(v, arrays):
            items = v
        else:
            _check_scalar(v, where, peer)
            continue
        inner = d + 1
        if items and inner > MAX_DEPTH:
            raise ProtocolError(f"{where} is nested more than {MAX_DEPTH} deep", peer)
        for item in items:
            t = type(item)
            if t is str or t is float or t is bool or item is None:
                count += 1
            elif t is list or t is dict or (tuples and t is tuple):
                if item:
                    stack.append((item, inner))
                else:
                    count += 1            # an empty container: nothing inside to check
            else:
                _check_scalar(item, where, peer)
                count += 1
    return count


def _check_scalar(v: Any, where: str, peer: str | None) -> None:
    if v is None or isinstance(v, (bool, float, str)):
        return
    if isinstance(v, int):
        if abs(v) > MAX_INT:
            raise ProtocolError(f"{where} holds an integer out of the 64-bit range", peer)
        return
    raise ProtocolError(f"{where} holds a {type(v).__name__}; only nil, bool, int, "
                        "float, str, arrays and maps are allowed", peer)


class Body:
    """Typed, bounded access to one decoded body; every mistake is a ProtocolError.

    Args:
        kind: the message type, for error messages.
        body: the decoded body map.
        peer: the sender, for error messages.

    Each reader takes the key and, where the field is optional, its default.
    """

    def __init__(self, kind: str, body: dict[str, Any], peer: str | None) -> None:
        self.kind, self.body, self.peer = kind, body, peer

    def fail(self, key: str, why: str) -> ProtocolError:
        """The error for field ``key``, which ``why`` explains."""
        return ProtocolError(f"{self.kind}: field {key!r} {why}", self.peer)

    def _get(self, key: str, default: Any) -> Any:
        if key in self.body:
            return self.body[key]
        if default is REQUIRED:
            raise self.fail(key, "is missing")
        return default

    def text(self, key: str, default: Any = REQUIRED, *, nonempty: bool = True) -> str:
        """A string of at most 256 characters (non-empty unless ``nonempty=False``)."""
        v = self._get(key, default)
        if not isinstance(v, str) or len(v) > MAX_STR or (nonempty and not v):
            raise self.fail(key, f"must be a {'non-empty ' if nonempty else ''}string of at "
                             f"most {MAX_STR} characters")
        return v

    def number(self, key: str, default: Any = REQUIRED) -> float:
        """A finite int or float, as float."""
        v = self._get(key, default)
        if not is_number(v) or not math.isfinite(v):
            raise self.fail(key, "must be a finite number")
        return float(v)

    def count(self, key: str, default: Any = REQUIRED) -> int:
        """An integer from 0 to 2**63-1."""
        v = self._get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_INT:
            raise self.fail(key, "must be an integer from 0 to 2**63-1")
        return v

    def flag(self, key: str) -> bool:
        """A bool (required)."""
        v = self._get(key, REQUIRED)
        if not isinstance(v, bool):
            raise self.fail(key, "must be true or false")
        return v

    def mapping(self, key: str) -> dict[str, Any]:
        """A map of plain values, at most 64 keys; ``{}`` when absent."""
        v = self._get(key, {})
        if not isinstance(v, dict) or len(v) > MAX_MAP_KEYS:
            raise self.fail(key, f"must be a map of at most {MAX_MAP_KEYS} keys")
        check_value(v, f"{self.kind}: field {key!r}", self.peer)
        return v

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of at most 256 strings; ``()`` when absent."""
        v = self._get(key, [])
        if (not isinstance(v, list) or len(v) > MAX_LIST
                or not all(isinstance(s, str) and len(s) <= MAX_STR for s in v)):
            raise self.fail(key, f"must be a list of at most {MAX_LIST} strings")
        return tuple(v)

    def anchor(self, key: str) -> ShowAnchor:
        """A show anchor ``[controller_time, position, rate]`` (required)."""
        v = self._get(key, REQUIRED)
        try:
            return decode_anchor(v, self.peer)
        except ProtocolError:
            raise self.fail(key, "must be [controller_time, position, rate] "
                             "(3 finite numbers)") from None

    def any_value(self, key: str) -> Any:
        """Any plain value (required)."""
        v = self._get(key, REQUIRED)
        check_value(v, f"{self.kind}: field {key!r}", self.peer)
        return v
