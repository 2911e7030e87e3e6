"""A projector node's link to the controller: join, clock sync, state, events.

Two halves, like the controller:

- :class:`NodeCore` is a pure state machine: :meth:`NodeCore.handle` takes one decoded
  message and the local time and returns the messages to send; :meth:`NodeCore.tick`
  returns what is due (hello, snapshot request, clock probes). It follows the Clone
  pattern (subscribe, then snapshot; updates with ``seq <= snapshot`` dropped; a gap or a
  heartbeat ahead of us triggers a new snapshot), keeps a :class:`ClockEstimator`, and
  holds events until their show time. A snapshot arrives in parts; each request carries a
  fresh nonce, and the parts of one answer are checked together (:class:`SnapshotAssembly`:
  order, count, digest, size limits). A dropped part or a bad digest means: ask again.
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
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import zmq

from ..errors import ProtocolError, SyncError
from ..show.anchor import ShowAnchor
from .auth import ClientCurve, HandshakeWatch, apply_client
from .clock import ClockEstimator
from .protocol import (
    MAX_FRAME_BYTES,
    MAX_LOADING_S,
    PUBLISHED_TYPES,
    Event,
    Heartbeat,
    Hello,
    KeyUpdate,
    Message,
    NodeStatus,
    Ping,
    Pong,
    Reply,
    Snapshot,
    SnapshotPart,
    SnapshotRequest,
    Welcome,
    decode,
    decode_anchor,
)
from .snapshot import SnapshotAssembly

__all__ = ["NodeCore", "NodeLink"]

log = logging.getLogger(__name__)

_MAX_BUFFERED_UPDATES = 256
_REFUSED_RETRY_S = 5.0     # a refused node says hello again this often
_MAX_PENDING_EVENTS = 1024
_MAX_REMEMBERED_EVENTS = 4096


class NodeCore:
    """A node's sync state machine. Times called ``now`` are the node's local clock;
    nothing here reads a clock or touches a socket.

    Args:
        node_id: this node's id (its display id).
        role: the role it claims in its hello.
        burst: clock probes to collect right after joining (one in flight at a time).
        probe_interval_s: time between probes after the burst (4 a second: the clock
            estimator keeps the best of the last 32, so frequent probes find a quick one).
        fast_probe_interval_s: time between probes while the best round trip is above
            ``good_rtt_s``. A render loop that reads the answer only after drawing a slow
            frame inflates the round trip; probing more often finds the probes whose
            answer arrived while the loop was polling.
        good_rtt_s: a round trip this short needs no extra probes.
        probe_timeout_s: a burst probe unanswered this long is replaced by a new one.
        status_interval_s: time between two status reports; they are the node's
            heartbeat, by which the controller tells a stopped node (lost after a few
            missed beats).
        controller_lost_s: silence after which the controller is taken as gone.
        snapshot_timeout_s: a snapshot answer that makes no progress (no part) for this
            long is given up and requested again.
        hello_interval_s: time between hellos until a welcome arrives (a hello sent before
            the DEALER has connected is dropped, so a short interval joins sooner).
        estimator: the clock estimator (a default :class:`ClockEstimator` if omitted).
    """

    def __init__(self, node_id: str, role: str = "projector", *, burst: int = 8,
                 probe_interval_s: float = 0.25, fast_probe_interval_s: float = 0.2,
                 good_rtt_s: float = 0.005, probe_timeout_s: float = 0.25,
                 status_interval_s: float = 0.1, controller_lost_s: float = 3.0,
                 snapshot_timeout_s: float = 0.5, hello_interval_s: float = 0.05,
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
        self.snapshot_timeout_s = snapshot_timeout_s
        self.hello_interval_s = hello_interval_s
        self.clock = estimator or ClockEstimator()
        self.session: str | None = None
        self.state: dict[str, Any] = {}
        self.state_seq = 0
        self.malformed = 0
        #: The controller's reason for refusing this node's last hello ("" while none):
        #: a key not allowed for the role, a node id bound to another key...
        self.refusal = ""
        #: Snapshot answers given up (dropped part, bad digest or count, a limit passed).
        self.snapshot_failures = 0
        #: Why the last one was given up.
        self.last_snapshot_error = ""
        #: Snapshot parts (and closing messages) of no request in progress: dropped unread.
        self.stale_parts = 0
        self._welcomed = False
        self._have_snapshot = False
        self._last_heard: float | None = None
        self._next_hello = -math.inf
        self._next_snapshot = -math.inf
        self._snapshot_req = 0
        self._assembly: SnapshotAssembly | None = None
        self._failed_in_row = 0
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
            self.refusal = ""
            if self._assembly is None:     # (a second welcome must not abandon an answer)
                self._next_snapshot = now
            return []
        if isinstance(message, SnapshotPart):
            self._on_snapshot_part(message, now)
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
        if isinstance(message, Reply) and not message.ok and message.req == 0 \
                and not self._welcomed:
            self._on_refusal(message.error or "hello refused", now)
            return []
        return []    # other replies and requests are not for a node

    def tick(self, now: float) -> list[Message]:
        """Return the messages due at ``now`` (hello, snapshot request, clock probe)."""
        out: list[Message] = []
        if (self._welcomed and self._last_heard is not None
                and now - self._last_heard > self.controller_lost_s):
            log.warning("%s: controller silent for %.1f s; playing on from the last anchor",
                        self.node_id, now - self._last_heard)
            self._welcomed = False
            self._assembly = None        # an answer in progress will not come now
            self._next_hello = now
        if not self._welcomed:
            if now >= self._next_hello:
                out.append(Hello(self.node_id, self.role))
                self._next_hello = now + self.hello_interval_s
        elif not self._have_snapshot and now >= self._next_snapshot:
            if self._assembly is not None:
                self._snapshot_failed(f"no answer in {self.snapshot_timeout_s:g} s", now)
            # A fresh nonce each time: parts of an earlier, abandoned answer still in
            # flight can never be taken for parts of this one.
            self._snapshot_req += 1
            self._assembly = SnapshotAssembly(self._snapshot_req)
            out.append(SnapshotRequest(self._snapshot_req))
            self._next_snapshot = now + self.snapshot_timeout_s
        if self._probe_due(now):
            out.append(Ping(now))
            self._outstanding.append(now)
            self._last_probe = now
            self._awaiting_burst_reply = True
        return out

    def status(self, now: float, frames: int, show_time: float,
               captures: Iterable[str] = (), extra: Mapping[str, Any] | None = None, *,
               render_age_s: float = 0.0, loading_s: float = 0.0, force: bool = False,
               ) -> NodeStatus | None:
        """Return a NodeStatus if one is due (every ``status_interval_s``, or now with
        ``force``, e.g. to announce a scene load before it blocks).

        Args:
            now: local time.
            frames, show_time, captures, extra: the render loop's last report.
            render_age_s: seconds since the render loop last ran.
            loading_s: the node will be busy loading for at most this long (clamped to
                0..:data:`~.protocol.MAX_LOADING_S`).
            force: send one now even if the last was sent less than an interval ago.
        """
        if not force and now - self._last_status < self.status_interval_s:
            return None
        self._last_status = now
        show = float(show_time)
        age, loading = float(render_age_s), float(loading_s)
        return NodeStatus(
            node_id=self.node_id,
            frames=max(0, int(frames)),
            show_time=show if math.isfinite(show) else 0.0,
            offset_us=self.offset_us(now),
            rtt_us=self.rtt_us,
            captures=tuple(str(c)[:256] for c in captures)[-64:],
            extra=dict(extra or {}),
            render_age_s=max(0.0, age) if math.isfinite(age) else 0.0,
            loading_s=min(MAX_LOADING_S, max(0.0, loading)) if math.isfinite(loading) else 0.0,
        )

    # ------------------------------------------------------------------ internals

    def _probe_due(self, now: float) -> bool:
        if self._burst_left > 0:
            return (not self._awaiting_burst_reply
                    or now - self._last_probe >= self.probe_timeout_s)
        interval = (self.probe_interval_s if self.clock.delay_s <= self.good_rtt_s
                    else self.fast_probe_interval_s)
        return now - self._last_probe >= interval

    def _on_refusal(self, reason: str, now: float) -> None:
        # A refused hello is a configuration problem (venue.toml's [security]), not a
        # network one: say why once, then ask again only every few seconds, so the
        # controller's allow-list can be fixed and restarted without restarting nodes.
        if reason != self.refusal:
            log.error("%s: the controller refused this node: %s", self.node_id, reason[:200])
        self.refusal = reason[:200]
        self._next_hello = max(self._next_hello, now + _REFUSED_RETRY_S)

    def _new_session(self, session: str, now: float) -> None:
        if self.session is not None:
            log.info("%s: controller restarted (session %s -> %s)", self.node_id,
                     self.session, session)
            self.clock.forget_samples()
        self.session = session
        self._welcomed = False
        self._have_snapshot = False
        self._assembly = None
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

    def _on_snapshot_part(self, part: SnapshotPart, now: float) -> None:
        assembly = self._assembly
        if assembly is None or part.req != assembly.req or not self._welcomed:
            self.stale_parts += 1     # another (abandoned) request's: never mixed in
            return
        try:
            assembly.add(part)
        except ProtocolError as exc:
            self._snapshot_failed(str(exc), now)
            return
        self._next_snapshot = now + self.snapshot_timeout_s     # progress: keep waiting

    def _snapshot_failed(self, why: str, now: float) -> None:
        self.snapshot_failures += 1
        self.last_snapshot_error = why
        self._failed_in_row += 1
        self._assembly = None
        log.warning("%s: snapshot given up (%s); asking again", self.node_id, why)
        # 0.1 s, then back off (0.2, 0.4 ... 1 s) so a link that keeps dropping parts is
        # not hammered with requests (the controller answers a peer at most every 0.1 s).
        self._next_snapshot = now + min(1.0, 0.1 * 2 ** (self._failed_in_row - 1))

    def _on_snapshot(self, snap: Snapshot, now: float) -> None:
        assembly = self._assembly
        if assembly is None or snap.req != assembly.req or not self._welcomed:
            self.stale_parts += 1     # a left-over answer (e.g. from before a restart)
            return
        try:
            items = assembly.finish(snap)
        except ProtocolError as exc:
            self._snapshot_failed(str(exc), now)
            return
        self._assembly = None
        self._failed_in_row = 0
        self.state, self.state_seq = items, snap.seq
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

    The agent can only read a message once it holds the interpreter lock, and Python
    lets a busy render thread keep it for 5 ms before handing it over. So a link lowers
    the interpreter's switch interval (process-wide) to 0.5 ms: an agent woken by a pong
    or an event waits at most that long for a render thread that is running Python.

    Args:
        node_id: this node's id (its display id).
        host: the controller's address.
        state_port: the controller's ROUTER port.
        publish_port: the controller's PUB port.
        clock: the local clock; ``time.monotonic`` unless a test passes another.
        role: the role claimed in the hello.
        core: the state machine to drive (a fresh :class:`NodeCore` for ``node_id`` and
            ``role`` if omitted); tools pass a subclass, e.g. to timestamp what arrives.
        curve: this node's CURVE keys and the controller's public key, when the venue
            has ``[security] curve = true`` (from :func:`.auth.client_curve`); both
            sockets are then encrypted and authenticated.

    Raises:
        SyncError: the endpoints cannot be used (e.g. a malformed host).
    """

    _TICK_S = 0.1      # the agent's timer: at least this often (retries, probes), and
    #                    at each status beat (on the node's own grid, random phase)
    _SWITCH_S = 0.0005     # the interpreter's switch interval while a link exists (at most)
    _QUIET_S = 0.01    # after a broadcast, due beats and probes wait this long (once) for quiet
    _WARM_S = 0.0003   # a warm-up ping goes this long before a timed probe (0: none)

    def __init__(self, node_id: str, host: str, state_port: int, publish_port: int,
                 clock: Callable[[], float] = time.monotonic, *, role: str = "projector",
                 core: NodeCore | None = None, curve: ClientCurve | None = None) -> None:
        self.core = core if core is not None else NodeCore(node_id, role)
        if sys.getswitchinterval() > self._SWITCH_S:
            sys.setswitchinterval(self._SWITCH_S)
        self.controller = f"tcp://{host}:{state_port}"
        self._clock = clock
        self._lock = threading.Lock()
        self._news = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._error: Exception | None = None
        self._latest: tuple[int, float, tuple[str, ...], dict[str, Any]] = (0, 0.0, (), {})
        self._alive_at = clock()                # the render loop's last poll or report
        self._loading_until = -math.inf         # announced scene load ends by then
        self._announce = False                  # send a status at once (loading news)
        self._turns = 0                         # agent iterations, to wait for one
        self._turn = threading.Condition(self._lock)
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = zmq.Context()
        sub = self._ctx.socket(zmq.SUB)
        dealer = self._ctx.socket(zmq.DEALER)
        # Says in the log why a CURVE node never joins (its key refused, a wrong
        # controller key); the agent reads it only while the node is not joined.
        self._watch: HandshakeWatch | None = None
        self._refusal_logged = -math.inf
        try:
            for sock in (sub, dealer):
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
                if curve is not None:
                    apply_client(sock, curve)
            for topic in PUBLISHED_TYPES:
                sub.setsockopt(zmq.SUBSCRIBE, topic)
            # Clone pattern: subscribe first, so no update slips between snapshot and SUB.
            sub.connect(f"tcp://{host}:{publish_port}")
            dealer.setsockopt(zmq.IMMEDIATE, 1)
            dealer.setsockopt(zmq.SNDHWM, 100)
            if curve is not None:
                self._watch = HandshakeWatch(dealer, curve)
            dealer.connect(self.controller)
        except zmq.ZMQError as exc:
            if self._watch is not None:
                self._watch.close()
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
        self._alive_at = self._clock()     # the render loop is running (a float store)
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

        Never blocks. The agent sends a NodeStatus every 0.1 s whatever the render loop
        does (the controller's liveness beat), with the last report and the time since
        the render loop last called :meth:`report` or :meth:`poll` (``render_age_s``),
        so a render loop that hangs is reported ``"hung"``, a stopped process ``"lost"``.
        Dropped while no controller is connected.
        """
        latest = (int(frames), float(show_time), tuple(captures), dict(extra or {}))
        with self._lock:
            self._latest = latest
            self._alive_at = self._clock()

    @contextmanager
    def loading(self, max_s: float = MAX_LOADING_S) -> Iterator[None]:
        """Announce a blocking scene load around the ``with`` body.

        The controller reports the node as ``"loading"`` (neither hung nor lost) until the
        body ends or ``max_s`` (at most 30 s) has passed, even if its beats stop because a
        loader holds the interpreter. The announcement is on the wire before the body
        starts (this waits for the agent to send it, at most ~50 ms); the end is sent at
        once too.

        Args:
            max_s: the longest the load may take; past it, silence counts again.
        """
        with self._lock:
            self._loading_until = self._clock() + min(max(0.0, max_s), MAX_LOADING_S)
            self._announce = True
            # Two agent turns: the first builds the status, the second starts only after
            # the first has sent it.
            target = self._turns + 2
            if self._ctx is not None and self._thread.is_alive():
                self._turn.wait_for(lambda: self._turns >= target, timeout=0.25)
        try:
            yield
        finally:
            with self._lock:
                self._loading_until = -math.inf
                self._alive_at = self._clock()
                self._announce = True

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
        # Timing matters here more than anywhere. A broadcast (heartbeat, event) wakes
        # every node at once; a probe sent then queues behind all of them at the
        # controller, and its round trip (and offset error) grows by milliseconds. So
        # due work runs on the agent's own jittered timer, not on the wake-up a broadcast
        # causes, and a probe that falls due just after one waits once for quiet. A
        # reply on the DEALER (pong, welcome, snapshot) runs the core at once: the
        # initial probe burst and the snapshot request follow without delay. The timer
        # wakes when the status beat is due (probes ride on it), not on a fixed fast
        # grid: 64 idle nodes on one machine must not eat its CPU waking for nothing.
        # Each node beats on its own grid (a random phase, fixed): nodes started together
        # would otherwise beat together, and each beat, with the probe riding on it,
        # queues behind the others at the controller. A beat deferred for quiet does not
        # move the grid, so deferred beats never pile up behind the broadcasts.
        # A probe on the timer follows a warm-up ping by ~0.3 ms. Every thread on the
        # way out (our ZeroMQ I/O thread, the controller's, the controller itself) has
        # usually slept for milliseconds, while those on the way back ran a moment ago:
        # measured here, a cold request took ~200 us one way against ~85 us for the
        # warm answer, an offset error of +60 us in every probe. After the warm-up both
        # ways are warm (~50-60 us each). Its pong matches no probe and is dropped.
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(dealer, zmq.POLLIN)
        jitter = random.Random()
        clock = self._clock
        beat = self.core.status_interval_s
        next_beat = clock() + beat * jitter.random()     # this node's phase
        next_tick = min(clock(), next_beat)
        quiet_until = -math.inf
        waited = urgent = False
        last_probe = -math.inf
        try:
            while not self._stop.is_set():
                now = clock()
                if now >= next_tick:
                    if now < quiet_until and not (waited or urgent):
                        next_tick = quiet_until + self._QUIET_S * jitter.random()
                        waited = True
                    else:
                        if not urgent and self._WARM_S > 0 and self._probe_due(now, last_probe):
                            self._send(dealer, [Ping(now)])
                            time.sleep(self._WARM_S)
                            now = clock()
                        beating = now >= next_beat
                        out = self._due(now, beating)
                        self._send(dealer, out)
                        if beating:     # the next grid point after now
                            next_beat += beat * (1 + math.floor((now - next_beat) / beat))
                        if any(isinstance(m, Ping) for m in out):
                            last_probe = now
                        next_tick = min(now + self._TICK_S, next_beat)
                        waited = urgent = False
                ready = dict(poller.poll(max(0, math.ceil((next_tick - clock()) * 1000))))
                handled = 0
                # The DEALER first: a pong's arrival time (t3) must not wait for broadcasts.
                if dealer in ready:
                    handled += self._drain(dealer, dealer)
                    next_tick, urgent = clock(), True
                if sub in ready:
                    handled += self._drain(sub, dealer)
                    quiet_until = clock() + self._QUIET_S
                if handled:
                    with self._news:
                        self._news.notify_all()
        # Whatever goes wrong in the agent is handed to the render thread by poll();
        # a thread that dies silently would leave a node frozen without a word.
        except Exception as exc:
            log.exception("node link agent failed")
            self._error = exc
        finally:
            if self._watch is not None:
                self._watch.close()
            sub.close(linger=0)
            dealer.close(linger=0)

    def _probe_due(self, now: float, last_probe: float) -> bool:
        """Whether the core is about to send a timed clock probe (to warm the path)."""
        with self._lock:
            core = self.core
            interval = (core.probe_interval_s if core.clock.delay_s <= core.good_rtt_s
                        else core.fast_probe_interval_s)
            return core.joined and now - last_probe >= interval

    def _due(self, now: float, beat: bool) -> list[Message]:
        with self._lock:
            out = self.core.tick(now)
            if beat or self._announce:      # the agent keeps the beat's time (its grid)
                frames, show, captures, extra = self._latest
                status = self.core.status(now, frames, show, captures, extra,
                                          render_age_s=now - self._alive_at,
                                          loading_s=self._loading_until - now, force=True)
                if status is not None:
                    out.append(status)
                self._announce = False
            self._turns += 1
            self._turn.notify_all()
            joined = self.core.joined
        if self._watch is not None and not joined and now - self._refusal_logged >= 10.0:
            why = self._watch.failure()
            if why:
                log.warning("%s cannot join %s: %s", self.core.node_id, self.controller, why)
                self._refusal_logged = now
        return out

    def _drain(self, sock: zmq.Socket[bytes], dealer: zmq.Socket[bytes],
               limit: int = 256) -> int:
        handled = 0
        for _ in range(limit):
            # Asking is cheaper than the exception an empty socket's receive raises.
            if not sock.get(zmq.EVENTS) & zmq.POLLIN:
                break
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
            if out:
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
