"""The link between the two controllers of a pair: beats, the replica, one timeline.

A venue with ``[network.backup]`` runs a primary and a backup controller. Which one
serves is the Binary Star state machine of :mod:`._pair`; this module is its driver on
ZeroMQ, run inside the controller's own loop (:class:`~.controller.ControllerServer`
polls :meth:`PairLink.sockets` with its others, so the pair adds no thread):

- each controller binds a ROUTER on its ``peer_port`` and connects a DEALER to the
  partner's. Every 0.1 s its DEALER sends a *beat* (its role, state, term, the replica
  it holds, and its clock for a probe); the partner's ROUTER answers with an *ack* (the
  same about itself, and NTP times). Beats in both directions are the liveness of
  Binary Star; the acks are a clock probe;
- the passive estimates the active's controller clock from those probes
  (:class:`~.clock.ClockEstimator`). When it takes over, its controller clock becomes
  that estimate, so the anchor, the pending events and every node's clock estimate stay
  valid: the show continues on one timeline whichever PC serves it;
- the active sends its replica (:meth:`~._core_replica.CoreReplica.replica`) whenever the
  session changed, before it publishes the change, and again whenever the partner's
  beat says it holds an older one (a partner that just started).

With ``[security] curve = true`` the link is CURVE-encrypted with the controller key,
which both PCs of a pair hold (copy the controller's key file to the backup); the ZAP
handler admits only that key on it (role ``controller``).

Frames: ``[b"pair", msgpack body]``, ``body["kind"]`` one of ``beat``, ``ack``,
``replica`` (``docs/protocol.md`` §12). A frame that breaks the format is counted and
dropped; a replica is at most :data:`MAX_REPLICA_BYTES`.

Every message carries the sender's incarnation (``inc``, random per start) and a count
(``n``) over everything it sent on either socket. Beats and replicas travel one TCP
connection and acks the other, so after a cable comes back a message queued before the
cut can arrive after newer ones; a message of the same incarnation that is not newer
than the last one taken is dropped (counted in ``stale``). Otherwise a passive's old
"passive, term 0" beat, delivered late, would tell a primary that had just stepped down
that both are passive, and it would take over again with its stale session. A new
incarnation (the partner restarted) is always taken.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from ..config.roles import PairSettings
from ..errors import SyncError
from ._pair import ACTIVE, BinaryStar, Transition
from .auth import ClientCurve, ServerCurve, apply_client, apply_server
from .clock import ClockEstimator

__all__ = ["BEAT_S", "MAX_REPLICA_BYTES", "PAIR_VERSION", "PairLink"]

log = logging.getLogger("exhibit_engine.sync.controller")

#: The pair link's format version (``body["v"]``).
PAIR_VERSION = 1
#: Each controller beats to its partner this often.
BEAT_S = 0.1
#: The largest replica (the session state may be up to 4 MiB of items).
MAX_REPLICA_BYTES = 8 << 20
_TYPE = b"pair"
_RESEND_S = 0.25     # a partner that holds an old replica gets the new one this often


class PairLink:
    """One controller's side of the pair link.

    Args:
        ctx: the controller's ZeroMQ context (its ZAP handler guards the ROUTER).
        settings: the pair's settings (role, ports, partner).
        host: the address this controller binds.
        base_clock: this PC's monotonic clock (the beats' probe times).
        curve: the controller's CURVE settings (``None``: no encryption).

    Attributes:
        star: the Binary Star state machine.
        offset: this controller's clock minus ``base_clock``; 0 until it takes over from
            a partner, then the partner's clock as estimated.
        replica: the newest replica from the partner (``None``: none yet).
        malformed: frames dropped on the link.
        stale: messages dropped as older than one already taken (see the module).
        cut: set to drop everything this side sends and receives on the link (a
            partition, injected: tests and the soak set it on both sides).

    Raises:
        SyncError: the peer port cannot be bound.
    """

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], settings: PairSettings, host: str,
                 base_clock: Callable[[], float], curve: ServerCurve | None = None) -> None:
        self.settings = settings
        self._base = base_clock
        self.offset = 0.0
        self.star = BinaryStar(settings.role, base_clock(), settings.peer_lost_after_s)
        self.estimator = ClockEstimator()
        self.replica: dict[str, Any] | None = None
        self.malformed = 0
        self.stale = 0
        self.cut = False
        self._inc = secrets.randbits(62)        # this start; every message counted
        self._n = 0
        self._peer_inc: int | None = None
        self._peer_n = -1
        self.partner = f"{settings.partner.host}:{settings.partner.state_port}"
        self._partner_mark: Any = None
        self._sent_mark: Any = None
        self._sent_at = -math.inf
        self._next_beat = -math.inf
        self.router = ctx.socket(zmq.ROUTER)
        self.dealer = ctx.socket(zmq.DEALER)
        try:
            for sock in (self.router, self.dealer):
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.MAXMSGSIZE, MAX_REPLICA_BYTES + 4096)
            self.dealer.setsockopt(zmq.IMMEDIATE, 1)
            self.dealer.setsockopt(zmq.SNDHWM, 8)
            if curve is not None:
                apply_server(self.router, curve)
                apply_client(self.dealer, ClientCurve(curve.secret, curve.public,
                                                      curve.public, "controller"))
            self.router.bind(f"tcp://{host}:{settings.peer_port}")
            self.dealer.connect(f"tcp://{settings.partner.host}:{settings.partner.peer_port}")
        except zmq.ZMQError as exc:
            self.close()
            raise SyncError(f"cannot open the pair link on tcp://{host}:"
                            f"{settings.peer_port}: {exc}") from None

    def now(self) -> float:
        """This controller's clock (on the pair's shared timeline)."""
        return self._base() + self.offset

    def partner_now(self) -> float:
        """The partner's controller clock now, as estimated over the link (this
        controller's own clock where no probe came back yet)."""
        offset = self.estimator.target_offset_s if self.estimator.ready else self.offset
        return self._base() + offset

    @property
    def sockets(self) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
        """The two sockets the controller's poller watches."""
        return self.router, self.dealer

    @property
    def active(self) -> bool:
        """Whether this controller serves now."""
        return self.star.active

    def seconds_to_next_beat(self) -> float:
        """How long the loop may wait before :meth:`tick` has a beat to send."""
        return max(0.0, self._next_beat - self._base())

    def tick(self, mark: Any) -> None:
        """Send the beat if due (``mark``: the replica mark this controller holds)."""
        base = self._base()
        if base < self._next_beat:
            return
        self._next_beat = base + BEAT_S
        held = mark if self.star.active else (self.replica or {}).get("mark")
        self._send(self.dealer, {"kind": "beat", "role": self.star.role,
                                 "state": self.star.state, "term": self.star.term,
                                 "t0": base, "mark": held})

    def drain(self) -> list[Transition]:
        """Read what the partner sent; return the state changes it caused."""
        changes: list[Transition] = []
        for sock in (self.router, self.dealer):
            for _ in range(64):
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if self.cut:
                    continue
                base = self._base()
                route, payload = (frames[:1], frames[1:]) if sock is self.router else ([], frames)
                body = self._decode(payload)
                if body is None:
                    continue
                change = self._take(sock, route, body, base)
                if change is not None:
                    changes.append(change)
        return changes

    def replicate(self, mark: Any, replica: Callable[[], dict[str, Any]],
                  force: bool = False) -> None:
        """As the active: send the replica if the session changed since the last one
        sent (``mark``), or the partner holds an older one (at most every 0.25 s)."""
        if not self.star.active:
            return
        base = self._base()
        stale = self._partner_mark != mark and base - self._sent_at >= _RESEND_S
        if force or mark != self._sent_mark or stale:
            self._sent_mark, self._sent_at = mark, base
            self._send(self.dealer, {"kind": "replica", "body": replica()})

    def client_request(self, who: str) -> tuple[bool, Transition | None]:
        """A client asks this controller to serve it (see :meth:`._pair.BinaryStar
        .client_request`)."""
        return self.star.client_request(self._base(), who)

    def take_over_clock(self) -> float:
        """Move this controller's clock onto the partner's timeline (as estimated over
        the link; unchanged if no probe ever came back); returns the change (s)."""
        if not self.estimator.ready:
            return 0.0
        old, self.offset = self.offset, self.estimator.target_offset_s
        return self.offset - old

    def summary(self) -> dict[str, Any]:
        """The pair's part of ``status``."""
        base = self._base()
        out = self.star.summary(base)
        out["partner"] = self.partner
        out["replica_at"] = None if self.replica is None else self.replica.get("at")
        out["clock_offset_ms"] = round(self.offset * 1e3, 3)
        if self.estimator.ready:
            out["partner_rtt_us"] = round(self.estimator.delay_s * 1e6, 1)
        out["malformed"] = self.malformed
        out["stale"] = self.stale
        return out

    def close(self) -> None:
        """Close both sockets (linger 0)."""
        for sock in (self.router, self.dealer):
            sock.close(linger=0)

    # ------------------------------------------------------------------ internals

    def _take(self, sock: zmq.Socket[bytes], route: list[bytes], body: dict[str, Any],
              base: float) -> Transition | None:
        kind = body.get("kind")
        inc, n = body.get("inc"), body.get("n")
        if isinstance(inc, int) and isinstance(n, int) and not isinstance(n, bool):
            if inc == self._peer_inc and n <= self._peer_n:
                self.stale += 1             # sent before something already taken
                return None
            self._peer_inc, self._peer_n = inc, n
        if kind == "replica" and sock is self.router:
            replica = body.get("body")
            if isinstance(replica, dict) and not self.star.active:
                self.replica = replica
            return None
        if kind not in ("beat", "ack"):
            self.malformed += 1
            return None
        if kind == "beat" and sock is self.router:
            self._partner_mark = body.get("mark")
            t0 = body.get("t0")
            self._send(self.router, {"kind": "ack", "role": self.star.role,
                                     "state": self.star.state, "term": self.star.term,
                                     "t0": t0, "t1": base + self.offset,
                                     "t2": self._base() + self.offset}, route)
        elif kind == "ack" and sock is self.dealer:
            try:
                t0, t1, t2 = (float(body[k]) for k in ("t0", "t1", "t2"))
                if all(math.isfinite(t) for t in (t0, t1, t2)):
                    self.estimator.add(t0, t1, t2, base)
            except (KeyError, TypeError, ValueError):
                self.malformed += 1
        else:
            self.malformed += 1
            return None
        state, term = body.get("state"), body.get("term")
        if not isinstance(state, str) or not isinstance(term, int):
            self.malformed += 1
            return None
        change = self.star.peer(state, term, base)
        if change is not None and change.old == ACTIVE:
            self.replica = None      # stepped down: the new active's replica will follow
        return change

    def _decode(self, frames: list[bytes]) -> dict[str, Any] | None:
        try:
            if len(frames) != 2 or frames[0] != _TYPE:
                raise ValueError("not a pair frame")
            body = msgpack.unpackb(frames[1], raw=False, strict_map_key=True)
            if not isinstance(body, dict) or body.get("v") != PAIR_VERSION:
                raise ValueError("not a pair body of this version")
        except (ValueError, msgpack.UnpackException, TypeError):
            self.malformed += 1
            return None
        return body

    def _send(self, sock: zmq.Socket[bytes], body: dict[str, Any],
              route: list[bytes] | None = None) -> None:
        if self.cut:
            return
        self._n += 1
        try:
            packed = msgpack.packb({"v": PAIR_VERSION, "inc": self._inc, "n": self._n, **body},
                                   use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            log.error("cannot send %s to the partner controller: %s", body.get("kind"), exc)
            return
        if len(packed) > MAX_REPLICA_BYTES:
            log.error("the replica is %d bytes, more than the pair link takes (%d)",
                      len(packed), MAX_REPLICA_BYTES)
            return
        try:
            sock.send_multipart([*(route or []), _TYPE, packed], zmq.NOBLOCK)
        except zmq.Again:
            pass     # no partner connected (IMMEDIATE), or it does not read: beats go on
