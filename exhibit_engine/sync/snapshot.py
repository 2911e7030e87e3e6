"""Snapshots in parts: a whole session state split for the wire, and put together again.

A snapshot-request is answered by ``parts`` snapshot-part messages (index 0, 1, ...) and
then one snapshot message, all echoing the request's ``req`` (see
:mod:`~exhibit_engine.sync.protocol` for the frames). :func:`snapshot_messages` builds the
answer on the controller; :class:`SnapshotAssembly` checks it on the peer (order, count,
digest, size limits), so a dropped part can never pass as a complete state.

Core (standard library and ``msgpack`` only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import msgpack

from ..errors import ProtocolError
from ._fields import MAX_FRAME_BYTES, MAX_INT, MAX_STR, check_value
from .protocol import (
    MAX_SNAPSHOT_PARTS,
    MAX_STATE_BYTES,
    MAX_STATE_KEYS,
    MAX_STATE_VALUES,
    Message,
    Snapshot,
    SnapshotPart,
)

__all__ = ["DEBUG_FILL_PREFIX", "SnapshotAssembly", "debug_filled", "snapshot_messages"]

# Room in frame 2 for the entries of one part (a map header is at most 5 bytes).
_PART_BUDGET = MAX_FRAME_BYTES - 16


def snapshot_messages(req: int, seq: int, items: Mapping[str, Any]) -> list[Message]:
    """The whole answer to a snapshot request: the parts, then the closing Snapshot.

    Keys go in sorted order, each part filled up to the 64 KiB frame limit, so the same
    state always gives the same parts and digest.

    Args:
        req: the request's nonce.
        seq: the state sequence number ``items`` reflect.
        items: the whole state.

    Returns:
        ``[SnapshotPart(req, 0, ...), ..., Snapshot(req, seq, count, parts, digest)]``.

    Raises:
        ProtocolError: the state breaks a limit (a key or value that is not allowed, one
            entry too big for a frame, more than :data:`~.protocol.MAX_STATE_KEYS` keys,
            :data:`~.protocol.MAX_STATE_BYTES` bytes or :data:`~.protocol.MAX_STATE_VALUES`
            values).
    """
    if len(items) > MAX_STATE_KEYS:
        raise ProtocolError(f"snapshot: the state has {len(items)} keys, more than "
                            f"{MAX_STATE_KEYS}")
    for key in items:
        if not isinstance(key, str) or not 0 < len(key) <= MAX_STR:
            raise ProtocolError(f"snapshot: state key {str(key)[:40]!r} must be a non-empty "
                                f"string of at most {MAX_STR} characters")
    packer = msgpack.Packer(use_bin_type=True)
    chunks: list[tuple[dict[str, Any], list[bytes]]] = []
    chunk: dict[str, Any] = {}
    entries: list[bytes] = []
    used = values = part_values = 0
    counts: list[int] = []
    for key in sorted(items):
        value = items[key]
        kind = type(value)
        n = 1 if (kind is str or kind is float or kind is bool or value is None
                  or (kind is int and -MAX_INT <= value <= MAX_INT)) \
            else check_value(value, f"state key {key!r}", None, tuples=True)
        values += n
        try:
            entry = packer.pack(key) + packer.pack(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ProtocolError(f"snapshot: cannot encode state key {key!r} ({exc})") from None
        if len(entry) > _PART_BUDGET:
            raise ProtocolError(f"snapshot: state key {key!r} is too large for one frame "
                                f"({len(entry)} bytes)")
        if used + len(entry) > _PART_BUDGET:
            chunks.append((chunk, entries))
            counts.append(part_values)
            chunk, entries, used, part_values = {}, [], 0, 0
        chunk[key] = value
        entries.append(entry)
        used += len(entry)
        part_values += n
    if chunk:
        chunks.append((chunk, entries))
        counts.append(part_values)
    packed_parts = [packer.pack_map_header(len(c)) + b"".join(e) for c, e in chunks]
    total = sum(len(b) for b in packed_parts)
    if total > MAX_STATE_BYTES or values > MAX_STATE_VALUES or len(chunks) > MAX_SNAPSHOT_PARTS:
        raise ProtocolError(f"snapshot: the state is too large ({total} bytes, {values} "
                            f"values, {len(chunks)} parts; at most {MAX_STATE_BYTES}, "
                            f"{MAX_STATE_VALUES} and {MAX_SNAPSHOT_PARTS})")
    digest = hashlib.sha256()
    out: list[Message] = []
    for index, ((part_items, _), packed, n) in enumerate(zip(chunks, packed_parts, counts,
                                                             strict=True)):
        digest.update(packed)
        out.append(SnapshotPart(req, index, part_items, packed, n))
    out.append(Snapshot(req, seq, len(items), len(chunks), digest.hexdigest()))
    return out


class SnapshotAssembly:
    """Collects the parts of one snapshot answer and checks them against its Snapshot.

    Memory stays bounded whatever arrives: parts beyond the limits fail the assembly
    (and are not kept), and the caller drops parts of other requests before they get
    here (a part of another ``req`` raises).

    Args:
        req: the nonce of the request being answered.
        max_keys, max_bytes, max_values, max_parts: limits of the whole state
            (defaults: the protocol's).

    Raises (from :meth:`add` and :meth:`finish`):
        ProtocolError: a part is missing, repeated or out of order, a key appears twice,
            a limit is passed, or the closing Snapshot's parts, count or digest disagree.
            The assembly is then spoiled: ask again with a new nonce.
    """

    def __init__(self, req: int, *, max_keys: int = MAX_STATE_KEYS,
                 max_bytes: int = MAX_STATE_BYTES, max_values: int = MAX_STATE_VALUES,
                 max_parts: int = MAX_SNAPSHOT_PARTS) -> None:
        self.req = req
        self.max_keys, self.max_bytes = max_keys, max_bytes
        self.max_values, self.max_parts = max_values, max_parts
        self.items: dict[str, Any] = {}
        self.parts = 0
        self.bytes = 0
        self.values = 0
        self._digest = hashlib.sha256()

    def add(self, part: SnapshotPart, peer: str | None = None) -> None:
        """Take the next part (index 0, 1, ... in order).

        Raises:
            ProtocolError: see the class.
        """
        if part.req != self.req:
            raise ProtocolError(f"snapshot-part: for request {part.req}, not {self.req}", peer)
        if part.index != self.parts:
            what = "repeated" if part.index < self.parts else f"{self.parts} missing"
            raise ProtocolError(f"snapshot-part: got part {part.index}, expected "
                                f"{self.parts} (part {what})", peer)
        if self.parts + 1 > self.max_parts:
            raise ProtocolError(f"snapshot: more than {self.max_parts} parts", peer)
        if len(self.items) + len(part.items) > self.max_keys:
            raise ProtocolError(f"snapshot: more than {self.max_keys} keys", peer)
        if self.bytes + len(part.packed) > self.max_bytes:
            raise ProtocolError(f"snapshot: more than {self.max_bytes} bytes of items", peer)
        values = part.values
        if values < 0:
            # depth -1: the map itself; its values start at depth 0, as in a key-update.
            values = check_value(dict(part.items), "snapshot items", peer, -1,
                                 tuples=True) - 1
        if self.values + values > self.max_values:
            raise ProtocolError(f"snapshot: more than {self.max_values} values", peer)
        repeated = next((k for k in part.items if k in self.items), None)
        if repeated is not None:
            raise ProtocolError(f"snapshot-part: key {repeated!r} appears twice", peer)
        self.items.update(part.items)
        self.parts += 1
        self.bytes += len(part.packed)
        self.values += values
        self._digest.update(part.packed)

    def finish(self, final: Snapshot, peer: str | None = None) -> dict[str, Any]:
        """Check the closing message; return the whole state it vouches for.

        Raises:
            ProtocolError: see the class.
        """
        if final.req != self.req:
            raise ProtocolError(f"snapshot: for request {final.req}, not {self.req}", peer)
        if final.parts != self.parts:
            raise ProtocolError(f"snapshot: {final.parts} parts sent, {self.parts} arrived "
                                "(a part was dropped)", peer)
        if final.count != len(self.items):
            raise ProtocolError(f"snapshot: holds {len(self.items)} keys, count says "
                                f"{final.count}", peer)
        if self._digest.hexdigest() != final.digest.lower():
            raise ProtocolError("snapshot: items do not match the digest (altered or "
                                "reordered parts)", peer)
        return self.items


#: The state keys ``debug-fill`` sets (development mode; see docs/protocol.md §7).
DEBUG_FILL_PREFIX = "debug/fill/"


def debug_filled(state: Mapping[str, Any], keys: int, value_bytes: int, seq: int,
                 ) -> tuple[dict[str, Any], list[Message]]:
    """``state`` with ``keys`` filler keys (``debug/fill/00000``...) of ``value_bytes``
    characters each instead of any it had (0: none), and its snapshot answer at ``seq``:
    a state of many parts to test a peer against.

    Raises:
        ProtocolError: the filled state would pass a limit of the protocol (checked by
            size before megabytes of parts are built).
    """
    if keys * value_bytes > MAX_STATE_BYTES:
        raise ProtocolError(f"{keys:,} keys of {value_bytes:,} bytes pass the state's "
                            f"{MAX_STATE_BYTES:,}-byte limit")
    filled = {**{k: v for k, v in state.items() if not k.startswith(DEBUG_FILL_PREFIX)},
              **{f"{DEBUG_FILL_PREFIX}{i:05d}": "x" * value_bytes for i in range(keys)}}
    return filled, snapshot_messages(0, seq, filled)
