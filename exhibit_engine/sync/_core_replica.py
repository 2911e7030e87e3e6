"""The controller core's replica: what a pair's passive controller holds to take over.

A part of :class:`~.controller_core.ControllerCore` (as :mod:`._core_commands` is). The
active controller of a pair (:mod:`._pair`, :mod:`.pair`) sends :meth:`CoreReplica.replica`
to its partner whenever the session changed, *before* it publishes the change, so that
whatever a node has seen, the passive holds too. The passive keeps the newest one and, when
it takes over, :meth:`CoreReplica.adopt` resumes the very same session:

- the same session id (nodes see no restart: they keep their clock estimate, their state
  and the events they already played, so an event repeated by the new active is dropped
  as a repeat, never played twice);
- the same show anchor and pending events, on the same controller timeline (the passive
  runs its clock on the active's, estimated over the pair link, so show time does not
  jump);
- the state keys, under a sequence number 1000 ahead (every node takes one fresh
  snapshot, so a key update the old active published in its last instant and never
  replicated cannot survive on some nodes only);
- the show control (cue, program, blackout, attract loop and the kiosks' idle timer)
  and the recent request ids (a kiosk's tap retried at the new active acts once).

Core: standard library and ``msgpack`` types only; never ZeroMQ.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import ProtocolError
from ..show.anchor import ShowAnchor
from .protocol import Event, decode_anchor, encode_anchor

from .persist import SavedSession, wire_safe
from .snapshot import DEBUG_FILL_PREFIX

if TYPE_CHECKING:
    from ._replies import RecentRequests
    from ._show import ShowSession

__all__ = ["CoreReplica", "REPLICA_VERSION", "SEQ_MARGIN", "saved_from_replica"]

log = logging.getLogger("exhibit_engine.sync.controller")

#: The replica's format version; a partner sending another one is not adopted.
REPLICA_VERSION = 1
#: A takeover moves the state sequence number this far ahead (see the module doc).
SEQ_MARGIN = 1000


class CoreReplica:
    """Replica out and in (mixed into ``ControllerCore``)."""

    session: str
    seq: int
    state: dict[str, Any]
    anchor: ShowAnchor
    _prev_anchor: ShowAnchor
    _event_seq: int
    _pending: list[Event]
    _copies_left: dict[int, int]
    show: ShowSession
    recent: RecentRequests
    acted: int
    gate: Any
    _next_beat: float
    _snapshot_sent: dict[Any, float]

    if TYPE_CHECKING:
        def load_state(self, items: Mapping[str, Any]) -> int: ...
        def saved(self, now: float, wall_time: float, show_id: str) -> SavedSession: ...

    @property
    def replica_mark(self) -> list[Any]:
        """Changes whenever anything a replica holds changes: ``[session, state seq, event
        seq, commands carried out]``."""
        return [self.session, self.seq, self._event_seq, self.acted]

    def replica(self, now: float) -> dict[str, Any]:
        """Everything a partner needs to take over at controller time ``now``."""
        control = self.show.control
        return {
            "version": REPLICA_VERSION, "mark": self.replica_mark, "at": now,
            "session": self.session, "seq": self.seq, "state": dict(self.state),
            "anchor": encode_anchor(self.anchor),
            "prev_anchor": encode_anchor(self._prev_anchor),
            "event_seq": self._event_seq,
            "pending": [[e.kind, e.effective_at, dict(e.args), e.seq, e.controller_at]
                        for e in self._pending],
            "copies_left": [[seq, n] for seq, n in self._copies_left.items()],
            "control": None if control is None else control.to_dict(),
            "recent": self.recent.recent(),
        }

    def adopt(self, replica: Mapping[str, Any], now: float, wall_time: datetime) -> None:
        """Take the session of ``replica`` over at controller time ``now`` (see the module
        doc).

        Raises:
            ProtocolError: the replica is malformed or of another version; nothing is
                changed then.
        """
        try:
            if replica.get("version") != REPLICA_VERSION:
                raise ValueError(f"version {replica.get('version')!r}, not {REPLICA_VERSION}")
            session, seq = str(replica["session"]), int(replica["seq"])
            event_seq = int(replica["event_seq"])
            anchor = decode_anchor(replica["anchor"])
            prev = decode_anchor(replica["prev_anchor"])
            state = dict(replica["state"])
            pending = [Event(str(k), float(eff), dict(args), int(s),
                             None if at is None else float(at))
                       for k, eff, args, s, at in replica["pending"]]
            copies = {int(s): int(n) for s, n in replica["copies_left"]}
            control = replica.get("control")
            if control is not None and not isinstance(control, Mapping):
                raise ValueError("control must be a map")
        except (KeyError, TypeError, ValueError, ProtocolError) as exc:
            raise ProtocolError(f"the partner's replica is malformed: {exc}") from None
        if control is not None and self.show.control is not None:
            self._adopt_control(control, now, wall_time)
        self.session = session
        self.seq = max(self.seq, seq) + SEQ_MARGIN - 1
        self._event_seq = max(self._event_seq, event_seq)
        self.state = {}          # the partner's keys only, never a stale one of ours
        self.load_state({**state, "anchor": encode_anchor(anchor)})   # seq + 1
        self.anchor, self._prev_anchor = anchor, prev
        self._pending, self._copies_left = pending, copies
        self.gate = None     # the show the partner ran is past any start gate
        # Times of this controller's own past are on another timeline now.
        self._next_beat = now
        self._snapshot_sent.clear()
        recent = replica.get("recent")
        if isinstance(recent, list):
            self.recent.load(recent)

    def _adopt_control(self, control: Mapping[str, Any], now: float,
                       wall_time: datetime) -> None:
        """Rebuild the show control from the partner's: its times are relative to its last
        call, at ``controller_time`` on the shared timeline, so the wall time passed in is
        the one that makes the elapsed time exactly ``now - controller_time``."""
        ctl = self.show.control
        assert ctl is not None
        at = control.get("controller_time")
        if not isinstance(at, (int, float)) or not math.isfinite(at):
            log.warning("the partner's show control names no controller time; its state is "
                        "not adopted")
            return
        try:
            saved_wall = datetime.fromisoformat(str(control["wall_time"]))
        except (KeyError, ValueError):
            log.warning("the partner's show control has no valid wall time; not adopted")
            return
        if saved_wall.tzinfo is None:
            saved_wall = saved_wall.astimezone()
        wall = saved_wall + timedelta(seconds=max(0.0, now - float(at)))
        self.show.control = type(ctl)(ctl.show, now, wall, restored=control)
        self.show.set_wall(now, wall_time)


def saved_from_replica(replica: Mapping[str, Any], now: float, wall_time: float,
                       show_id: str) -> SavedSession:
    """What a passive controller writes to its own state file from its partner's replica
    (so that it resumes the show if it is ever started alone), at the partner's
    controller time ``now`` and this PC's wall clock ``wall_time`` (Unix seconds).

    Raises:
        ValueError: the replica is malformed.
    """
    try:
        anchor = decode_anchor(replica["anchor"])
        at = max(float(now), float(replica["at"]))
        state = {k: v for k, v in dict(replica["state"]).items()
                 if k != "anchor" and not k.startswith(DEBUG_FILL_PREFIX)}
        return SavedSession(show=show_id, wall_time=wall_time,
                            position=anchor.show_time(max(at, anchor.controller_time)),
                            rate=anchor.rate, seq=int(replica["seq"]),
                            event_seq=int(replica["event_seq"]), state=wire_safe(state),
                            control=replica.get("control"))
    except (KeyError, TypeError, ProtocolError) as exc:
        raise ValueError(f"the partner's replica is malformed: {exc}") from None
