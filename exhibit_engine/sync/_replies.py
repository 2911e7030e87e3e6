"""The controller's memory of recent requests by id: a retried action acts once.

A peer may give a command an ``id`` (docs/protocol.md §7): the same for every retry of one
action, such as a kiosk's tap sent again after a network blip, or a double tap. The first
command with that id is carried out; a repeat from the same node id within
:data:`REMEMBER_S` gets the first one's reply again, marked ``repeated``, and changes
nothing. Memory stays bounded: at most :data:`MAX_REMEMBERED` entries, the oldest forgotten
first.

Pure: no sockets, no clocks (times are arguments).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Any

import msgpack

from .protocol import Reply

__all__ = ["MAX_REMEMBERED", "REMEMBER_S", "RecentRequests"]

#: How long a request id is remembered (seconds of controller time).
REMEMBER_S = 60.0
#: At most this many request ids are remembered.
MAX_REMEMBERED = 4096


class RecentRequests:
    """Replies to recent commands, by (node id, request id)."""

    def __init__(self, remember_s: float = REMEMBER_S, size: int = MAX_REMEMBERED) -> None:
        self.remember_s, self.size = remember_s, size
        self._seen: OrderedDict[tuple[str, str], tuple[float, Reply]] = OrderedDict()

    def again(self, node_id: str, request_id: str, req: int, now: float) -> Reply | None:
        """The reply to an earlier command with this id from this node (re-stamped with
        ``req`` and marked ``repeated``), or ``None`` when it is new."""
        self._forget(now)
        seen = self._seen.get((node_id, request_id))
        if seen is None:
            return None
        return replace(seen[1], req=req, data={**seen[1].data, "repeated": True})

    def remember(self, node_id: str, request_id: str, reply: Reply, now: float) -> None:
        """Keep ``reply`` as the answer to this node's request ``request_id``."""
        self._seen[(node_id, request_id)] = (now, reply)
        self._seen.move_to_end((node_id, request_id))
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)

    def recent(self, limit: int = 256, max_bytes: int = 4096) -> list[list[Any]]:
        """The newest ``limit`` entries as plain lists ``[node id, request id, at, ok,
        data, error]`` (for a pair's replica), leaving out replies over ``max_bytes``."""
        out: list[list[Any]] = []
        for (node_id, request_id), (at, reply) in reversed(self._seen.items()):
            if len(out) >= limit:
                break
            row = [node_id, request_id, at, reply.ok, dict(reply.data), reply.error]
            if len(msgpack.packb(row, use_bin_type=True)) <= max_bytes:
                out.append(row)
        return out[::-1]

    def load(self, rows: list[Any]) -> None:
        """Remember the entries of :meth:`recent` (another controller's), oldest first;
        malformed rows are skipped."""
        for row in rows:
            if (isinstance(row, list) and len(row) == 6 and isinstance(row[0], str)
                    and isinstance(row[1], str) and isinstance(row[2], (int, float))
                    and isinstance(row[4], dict) and isinstance(row[5], str)):
                self.remember(row[0], row[1], Reply(bool(row[3]), row[4], error=row[5]),
                              float(row[2]))

    def _forget(self, now: float) -> None:
        while self._seen:
            (key, (at, _)) = next(iter(self._seen.items()))
            if now - at <= self.remember_s:
                return
            del self._seen[key]
