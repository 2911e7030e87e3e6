"""A projector node's link to the controller: join, clock sync, state, events.

Two halves, like the controller:

- :class:`NodeCore` is a pure state machine: :meth:`NodeCore.handle` takes one decoded
  message and the local time and returns the messages to send; :meth:`NodeCore.tick`
  returns what is due (hello, snapshot request, clock probes). It follows the Clone
  pattern (subscribe, then snapshot; updates with ``seq <= snapshot`` dropped; a gap or a
  heartbeat ahead of us triggers a new snapshot), keeps a :class:`ClockEstimator`, and
  holds events until their show time.
- :class:`NodeLink` drives it over ZeroMQ (a SUB connected first, then a DEALER with
  ``ZMQ_IMMEDIATE`` so nothing is queued for a controller that is not there) from a small
  agent thread, so clock probes are timed to the message, not to the frame. The render
  loop calls :meth:`NodeLink.poll`, :meth:`NodeLink.show_time` and friends once per
  frame; none of them blocks.

The node keeps playing from its last anchor and clock estimate when the controller
vanishes, and joins again (with a fresh snapshot and probe burst) when one comes back.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import zmq

from ..errors import ProtocolError, SyncError
from .clock import ClockEstimator, ShowAnchor
from .protocol import (
    MAX_FRAME_BYTES,
    PUBLISHED_TYPES,
    Event,
    Heartbeat,
    Hello,
    KeyUpdate,
    Message,
    NodeStatus,
    Ping,
    Pong,
    Snapshot,
    SnapshotRequest,
    Welcome,
    decode,
    decode_anchor,
)

__all__ = ["NodeCore", "NodeLink"]

log = logging.getLogger(__name__)

_MAX_BUFFERED_UPDATES = 256
_MAX_PENDING_EVENTS = 1024
_MAX_REMEMBERED_EVENTS = 4096


class NodeCore:
    """A node's sync state machine. Times called ``now`` are the node's local clock;
    nothing here reads a clock or touches a socket.

    Args:
        node_id: this node's id (its display id).
        role: the role it claims in its hello.
        burst: clock probes to collect right after joining (one in flight at a time).
        probe_interval_s: time between probes after the burst.
        fast_probe_interval_s: time between probes while the best round trip is above
            ``good_rtt_s``. A render loop that reads the answer only after drawing a slow
            frame inflates the round trip; probing more often finds the probes whose
            answer arrived while the loop was polling.
        good_rtt_s: a round trip this short needs no extra probes.
        probe_timeout_s: a burst probe unanswered this long is replaced by a new one.
        status_interval_s: least time between two status reports.
        controller_lost_s: silence after which the controller is taken as gone.
        estimator: the clock estimator (a default :class:`ClockEstimator` if omitted).
    """

    def __init__(self, node_id: str, role: str = "projector", *, burst: int = 8,
                 probe_interval_s: float = 1.0, fast_probe_interval_s: float = 0.2,
                 good_rtt_s: float = 0.005, probe_timeout_s: float = 0.25,
                 status_interval_s: float = 0.5, controller_lost_s: float = 3.0,
                 estimator: ClockEstimator | None = None) -> None:
        self.node_id = node_id
        self.role = role
        self.burst = burst
        self.probe_interval_s = probe_interval_s
        self.fast_probe_interval_s = fast_probe_interval_s
        self.good_rtt_s = good_rtt_s
        self.probe_timeout_s = probe_timeout_s
        self.status_interval_s = status_interval_s
        self.controller_lost_s = controller_lost_s
        self.clock = estimator or ClockEstimator()
        self.session: str | None = None
        self.state: dict[str, Any] = {}
        self.state_seq = 0
        self.malformed = 0
        self._welcomed = False
        self._have_snapshot = False
        self._last_heard: float | None = None
        self._next_hello = -math.inf
        self._next_snapshot = -math.inf
        self._buffered: list[KeyUpdate] = []
        self._anchor: ShowAnchor | None = None
        self._next_anchor: ShowAnchor | None = None
        self._outstanding: deque[float] = deque(maxlen=16)   # t0 of unanswered probes
        self._burst_left = burst
        self._last_probe = -math.inf
        self._awaiting_burst_reply = False
        self._last_status = -math.inf
        self._pending: dict[int, Event] = {}
        self._delivered: set[int] = set()
        self._delivered_order: deque[int] = deque()

    # ------------------------------------------------------------------ queries

    @property
    def joined(self) -> bool:
        """True while welcomed by a controller that has been heard from recently."""
        return self._welcomed

    @property
    def synced(self) -> bool:
        """True once the node has a show anchor and a clock estimate."""
        return self._anchor is not None and self.clock.ready

    @property
    def have_snapshot(self) -> bool:
        """True while the replicated state is complete up to :attr:`state_seq`."""
        return self._have_snapshot

    def show_time(self, now: float) -> float | None:
        """The show time at local time ``now``, or ``None`` until :attr:`synced`."""
        if not self.synced:
            return None
        controller_now = self.clock.to_controller(now)
        nxt = self._next_anchor
        if nxt is not None and controller_now >= nxt.controller_time:
            self._anchor, self._next_anchor = nxt, None
        anchor = self._anchor
        return anchor.show_time(controller_now) if anchor is not None else None

    def offset_us(self, now: float) -> float:
        """The clock offset in use (controller minus local), microseconds; 0 before sync."""
        return self.clock.offset_at(now) * 1e6 if self.clock.ready else 0.0

    @property
    def rtt_us(self) -> float:
        """Round trip of the best clock probe, microseconds; 0 before the first."""
        return self.clock.delay_s * 1e6

    def take_events(self, show_t: float) -> list[Event]:
        """Return the events due at show time ``show_t``, each exactly once, in order."""
        due = sorted((e for e in self._pending.values() if e.effective_at <= show_t),
                     key=lambda e: (e.effective_at, e.seq))
        for event in due:
            del self._pending[event.seq]
            self._remember(event.seq)
        return due

    # ------------------------------------------------------------------ inputs

    def handle(self, message: Message, now: float) -> list[Message]:
        """Take one message from the controller (SUB or DEALER); return what to send."""
        self._last_heard = now
        if isinstance(message, Heartbeat):
            return self._on_heartbeat(message, now)
        if isinstance(message, Pong):
            if message.t0 in self._outstanding:
                self._outstanding.remove(message.t0)
                self._awaiting_burst_reply = False
                if self.clock.add(message.t0, message.t1, message.t2, now):
                    self._burst_left = max(0, self._burst_left - 1)
            return []
        if isinstance(message, Welcome):
            if message.session != self.session:
                self._new_session(message.session, now)
            if not self._welcomed:
                log.info("%s joined controller session %s", self.node_id, message.session)
            self._welcomed = True
            self._next_snapshot = now
            return []
        if isinstance(message, Snapshot):
            self._on_snapshot(message, now)
            return []
        if isinstance(message, KeyUpdate):
            self._on_update(message, now)
            return []
        if isinstance(message, Event):
            seq = message.seq
            if seq not in self._delivered and seq not in self._pending:
                if len(self._pending) >= _MAX_PENDING_EVENTS:
                    del self._pending[min(self._pending)]
                self._pending[seq] = message
            return []
        return []    # replies and requests are not for a node

    def tick(self, now: float) -> list[Message]:
        """Return the messages due at ``now`` (hello, snapshot request, clock probe)."""
        out: list[Message] = []
        if (self._welcomed and self._last_heard is not None
                and now - self._last_heard > self.controller_lost_s):
            log.warning("%s: controller silent for %.1f s; playing on from the last anchor",
                        self.node_id, now - self._last_heard)
            self._welcomed = False
            self._next_hello = now
        if not self._welcomed:
            if now >= self._next_hello:
                out.append(Hello(self.node_id, self.role))
                self._next_hello = now + 0.2
        elif not self._have_snapshot and now >= self._next_snapshot:
            out.append(SnapshotRequest())
            self._next_snapshot = now + 1.0
        if self._probe_due(now):
            out.append(Ping(now))
            self._outstanding.append(now)
            self._last_probe = now
            self._awaiting_burst_reply = True
        return out

    def status(self, now: float, frames: int, show_time: float,
               captures: Iterable[str] = (), extra: Mapping[str, Any] | None = None,
               ) -> NodeStatus | None:
        """Return a NodeStatus if one is due (at most every ``status_interval_s``)."""
        if now - self._last_status < self.status_interval_s:
            return None
        self._last_status = now
        show = float(show_time)
        return NodeStatus(
            node_id=self.node_id,
            frames=max(0, int(frames)),
            show_time=show if math.isfinite(show) else 0.0,
            offset_us=self.offset_us(now),
            rtt_us=self.rtt_us,
            captures=tuple(str(c)[:256] for c in captures)[-64:],
            extra=dict(extra or {}),
        )

    # ------------------------------------------------------------------ internals

    def _probe_due(self, now: float) -> bool:
        if self._burst_left > 0:
            return (not self._awaiting_burst_reply
                    or now - self._last_probe >= self.probe_timeout_s)
        interval = (self.probe_interval_s if self.clock.delay_s <= self.good_rtt_s
                    else self.fast_probe_interval_s)
        return now - self._last_probe >= interval

    def _new_session(self, session: str, now: float) -> None:
        if self.session is not None:
            log.info("%s: controller restarted (session %s -> %s)", self.node_id,
                     self.session, session)
            self.clock.forget_samples()
        self.session = session
        self._welcomed = False
        self._have_snapshot = False
        self.state, self.state_seq = {}, 0
        self._buffered.clear()
        self._pending.clear()
        self._delivered.clear()
        self._delivered_order.clear()
        self._burst_left = self.burst
        self._awaiting_burst_reply = False
        self._next_hello = now

    def _on_heartbeat(self, beat: Heartbeat, now: float) -> list[Message]:
        if beat.session and beat.session != self.session:
            self._new_session(beat.session, now)
        if self._have_snapshot and beat.seq > self.state_seq:
            # The controller is ahead of us: an update went missing. Re-snapshot.
            self._have_snapshot = False
            self._next_snapshot = now
        if not self._have_snapshot or beat.seq >= self.state_seq:
            self._set_anchor(beat.anchor)
        return []

    def _on_snapshot(self, snap: Snapshot, now: float) -> None:
        if not self._welcomed:
            return    # a left-over answer from before the controller restarted
        self.state, self.state_seq = dict(snap.items), snap.seq
        self._have_snapshot = True
        self._apply_value("anchor", self.state.get("anchor"))
        buffered, self._buffered = sorted(self._buffered, key=lambda u: u.seq), []
        for update in buffered:
            self._on_update(update, now)

    def _on_update(self, update: KeyUpdate, now: float) -> None:
        if not self._have_snapshot:
            if len(self._buffered) < _MAX_BUFFERED_UPDATES:
                self._buffered.append(update)
            return
        if update.seq <= self.state_seq:
            return
        if update.seq > self.state_seq + 1:
            self._have_snapshot = False
            self._next_snapshot = now
            self._buffered.append(update)
            return
        self.state[update.key] = update.value
        self.state_seq = update.seq
        self._apply_value(update.key, update.value)

    def _apply_value(self, key: str, value: Any) -> None:
        if key != "anchor" or value is None:
            return
        try:
            self._set_anchor(decode_anchor(value))
        except ProtocolError:
            self.malformed += 1

    def _set_anchor(self, anchor: ShowAnchor) -> None:
        if self._anchor is None:
            self._anchor = anchor
        elif anchor != self._anchor and anchor != self._next_anchor:
            # Applied when the controller clock reaches it (see show_time), so a change
            # announced a little ahead lands on the same frame on every node.
            self._next_anchor = anchor

    def _remember(self, seq: int) -> None:
        self._delivered.add(seq)
        self._delivered_order.append(seq)
        if len(self._delivered_order) > _MAX_REMEMBERED_EVENTS:
            self._delivered.discard(self._delivered_order.popleft())


class NodeLink:
    """A node's link to the controller; the render loop reads it once per frame.

    Like the ZeroMQ guide's Clone client, the sockets live in a small *agent* thread that
    reads every message the moment it arrives. That matters for the clock: a pong read
    only after the next frame has been drawn would make the round trip look as long as a
    frame and skew the offset by half of it. The render thread never touches a socket;
    :meth:`show_time`, :meth:`take_events` and :meth:`report` only take a short lock.

    Args:
        node_id: this node's id (its display id).
        host: the controller's address.
        state_port: the controller's ROUTER port.
        publish_port: the controller's PUB port.
        clock: the local clock; ``time.monotonic`` unless a test passes another.
        role: the role claimed in the hello.
        core: the state machine to drive (a fresh :class:`NodeCore` for ``node_id`` and
            ``role`` if omitted); tools pass a subclass, e.g. to timestamp what arrives.

    Raises:
        SyncError: the endpoints cannot be used (e.g. a malformed host).
    """

    _TICK_S = 0.02     # the agent wakes at least this often for due probes and status

    def __init__(self, node_id: str, host: str, state_port: int, publish_port: int,
                 clock: Callable[[], float] = time.monotonic, *, role: str = "projector",
                 core: NodeCore | None = None) -> None:
        self.core = core if core is not None else NodeCore(node_id, role)
        self.controller = f"tcp://{host}:{state_port}"
        self._clock = clock
        self._lock = threading.Lock()
        self._news = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._error: Exception | None = None
        self._latest: tuple[int, float, tuple[str, ...], dict[str, Any]] | None = None
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = zmq.Context()
        sub = self._ctx.socket(zmq.SUB)
        dealer = self._ctx.socket(zmq.DEALER)
        try:
            for sock in (sub, dealer):
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            for topic in PUBLISHED_TYPES:
                sub.setsockopt(zmq.SUBSCRIBE, topic)
            # Clone pattern: subscribe first, so no update slips between snapshot and SUB.
            sub.connect(f"tcp://{host}:{publish_port}")
            dealer.setsockopt(zmq.IMMEDIATE, 1)
            dealer.setsockopt(zmq.SNDHWM, 100)
            dealer.connect(self.controller)
        except zmq.ZMQError as exc:
            sub.close(linger=0)
            dealer.close(linger=0)
            self._ctx.term()
            self._ctx = None
            raise SyncError(f"cannot connect to tcp://{host}:{state_port}/{publish_port}: "
                            f"{exc}") from None
        # The sockets move to the agent thread; Thread.start() is the memory barrier
        # ZeroMQ asks for when a socket changes threads.
        self._thread = threading.Thread(target=self._agent, args=(sub, dealer), daemon=True,
                                        name=f"exhibit-sync-{node_id}")
        self._thread.start()

    def __enter__(self) -> NodeLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ render thread

    def poll(self, timeout_s: float = 0.0) -> None:
        """Check the link once per frame; returns at once unless given a timeout.

        The agent thread has already handled everything that arrived and sent what was
        due, so this only reports a failure. Tools and tests may pass ``timeout_s`` to
        wait (without spinning) until the agent has news or the time is up.

        Raises:
            SyncError: the link is closed, or its agent thread failed.
        """
        if self._ctx is None:
            raise SyncError("the node link is closed")
        if self._error is not None:
            raise SyncError(f"the node link failed: {self._error}") from self._error
        if timeout_s > 0:
            with self._news:
                self._news.wait(timeout_s)

    @property
    def joined(self) -> bool:
        """True while a controller has welcomed this node and is heard from."""
        with self._lock:
            return self.core.joined

    @property
    def synced(self) -> bool:
        """True once the node has a show anchor and a clock estimate."""
        with self._lock:
            return self.core.synced

    @property
    def offset_us(self) -> float:
        """Estimated controller clock minus local clock, microseconds."""
        with self._lock:
            return self.core.offset_us(self._clock())

    @property
    def rtt_us(self) -> float:
        """Round trip of the best clock probe, microseconds."""
        with self._lock:
            return self.core.rtt_us

    def show_time(self) -> float | None:
        """The show time now, or ``None`` until :attr:`synced`."""
        with self._lock:
            return self.core.show_time(self._clock())

    def take_events(self, show_t: float) -> list[Event]:
        """Events with ``effective_at <= show_t`` not yet returned, in order, once each."""
        with self._lock:
            return self.core.take_events(show_t)

    def session_state(self) -> dict[str, Any]:
        """A copy of the replicated session state (e.g. ``"anchor"``, ``"selected_item"``);
        empty until the first snapshot."""
        with self._lock:
            return dict(self.core.state)

    def report(self, frames: int, show_time: float, captures: Iterable[str] = (),
               extra: Mapping[str, Any] | None = None) -> None:
        """Hand over the frame count, show time and captures for the next status report.

        Never blocks: the agent sends a NodeStatus at most every ~0.5 s, and only after a
        new report, so a render loop that hangs stops reporting. Dropped while no
        controller is connected.
        """
        latest = (int(frames), float(show_time), tuple(captures), dict(extra or {}))
        with self._lock:
            self._latest = latest

    def close(self) -> None:
        """Stop the agent, close both sockets (linger 0) and the context; safe twice."""
        if self._ctx is None:
            return
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._ctx.term()
        self._ctx = None

    # ------------------------------------------------------------------ agent thread

    def _agent(self, sub: zmq.Socket[bytes], dealer: zmq.Socket[bytes]) -> None:
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(dealer, zmq.POLLIN)
        try:
            while not self._stop.is_set():
                self._send(dealer, self._due(self._clock()))
                ready = dict(poller.poll(int(self._TICK_S * 1000)))
                handled = 0
                for sock in (sub, dealer):
                    if sock in ready:
                        handled += self._drain(sock, dealer)
                if handled:
                    with self._news:
                        self._news.notify_all()
        # Whatever goes wrong in the agent is handed to the render thread by poll();
        # a thread that dies silently would leave a node frozen without a word.
        except Exception as exc:
            log.exception("node link agent failed")
            self._error = exc
        finally:
            sub.close(linger=0)
            dealer.close(linger=0)

    def _due(self, now: float) -> list[Message]:
        with self._lock:
            out = self.core.tick(now)
            if self._latest is not None:
                frames, show, captures, extra = self._latest
                status = self.core.status(now, frames, show, captures, extra)
                if status is not None:
                    out.append(status)
                    self._latest = None
        return out

    def _drain(self, sock: zmq.Socket[bytes], dealer: zmq.Socket[bytes],
               limit: int = 256) -> int:
        handled = 0
        for _ in range(limit):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            now = self._clock()     # t3 of a probe: taken the moment it is read
            try:
                message = decode(frames, peer=self.controller)
            except ProtocolError as exc:
                with self._lock:
                    self.core.malformed += 1
                log.debug("dropped a malformed frame: %s", exc)
                continue
            with self._lock:
                out = self.core.handle(message, now)
            self._send(dealer, out)
            handled += 1
        return handled

    @staticmethod
    def _send(dealer: zmq.Socket[bytes], messages: list[Message]) -> None:
        for message in messages:
            try:
                dealer.send_multipart(message.encode(), zmq.NOBLOCK)
            except zmq.Again:
                pass    # not connected (ZMQ_IMMEDIATE): drop; the core sends again later
            except ProtocolError as exc:
                log.warning("cannot send %s: %s", type(message).__name__, exc)
