"""A node's pure sync core: join, clock sync, state and events, and when to do what.

- :class:`NodeCore` is a pure state machine: :meth:`NodeCore.handle` takes one decoded
  message and the local time and returns the messages to send; :meth:`NodeCore.tick`
  returns what is due (hello, snapshot request, clock probes). It follows the Clone
  pattern (subscribe, then snapshot; updates with ``seq <= snapshot`` dropped; a gap or a
  heartbeat ahead of us triggers a new snapshot), keeps a :class:`~.clock.ClockEstimator`,
  and holds events until their show time. A snapshot arrives in parts; each request
  carries a fresh nonce, and the parts of one answer are checked together
  (:class:`~.snapshot.SnapshotAssembly`: order, count, digest, size limits). A dropped
  part or a bad digest means: ask again. A refused hello is said once in the log and
  tried again every few seconds.
- :class:`LinkSchedule` is the timing policy of the driver's agent thread: the node's
  status beat on its own grid, the timer that runs the core, and the short wait for quiet
  after a broadcast. It only does arithmetic on the times it is given.

:class:`~.node.NodeLink` drives both over ZeroMQ. Nothing here reads a clock or touches a
socket: every time is an argument, so tests feed numbers.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ProtocolError
from ..show.anchor import ShowAnchor
from .clock import ClockEstimator
from .protocol import (
    MAX_LOADING_S,
    Event,
    Heartbeat,
    Hello,
    KeyUpdate,
    Message,
    NodeHealth,
    NodeStatus,
    Ping,
    Pong,
    Reply,
    Snapshot,
    SnapshotPart,
    SnapshotRequest,
    Welcome,
    decode_anchor,
)
from .snapshot import SnapshotAssembly

__all__ = ["LinkSchedule", "NodeCore"]

# The node's log, whichever of its modules writes the line.
log = logging.getLogger("exhibit_engine.sync.node")

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
        #: Times the driver moved to the other controller of a pair (:meth:`switched`).
        self.failovers = 0
        self._passive_said = False           # the controller said it is a passive one
        self._reply_ref: float | None = None   # the last answer on the request socket
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

    def show_rate(self, now: float) -> float | None:
        """The show's rate at local time ``now`` (1 plays, 0 holds; ``None`` until
        :attr:`synced`). Reads only: unlike :meth:`show_time` it never moves on to an
        anchor that falls due, so it may look ahead."""
        if not self.synced:
            return None
        nxt = self._next_anchor
        if nxt is not None and self.clock.to_controller(now) >= nxt.controller_time:
            return nxt.rate
        return self._anchor.rate if self._anchor is not None else None

    def offset_us(self, now: float) -> float:
        """The clock offset in use (controller minus local), microseconds; 0 before sync."""
        return self.clock.offset_at(now) * 1e6 if self.clock.ready else 0.0

    @property
    def rtt_us(self) -> float:
        """Round trip of the best clock probe, microseconds; 0 before the first."""
        return self.clock.delay_s * 1e6

    def controller_time(self, now: float) -> float | None:
        """The controller clock at local time ``now``, or ``None`` until :attr:`synced`."""
        return self.clock.to_controller(now) if self.synced else None

    def take_events(self, show_t: float, controller_t: float | None = None) -> list[Event]:
        """Return the events due on a frame, each exactly once, in order.

        Args:
            show_t: the frame's show time.
            controller_t: the frame's controller time (the one its show time was taken
                at). An event that names its ``controller_at`` is due once this reaches
                it, so it lands on the same frame as the anchor it comes with on every
                node; one that names none is due once ``show_t`` reaches its
                ``effective_at``.
        """
        def due_at(e: Event) -> bool:
            if e.controller_at is not None and controller_t is not None:
                return e.controller_at <= controller_t
            return e.effective_at <= show_t

        due = sorted((e for e in self._pending.values() if due_at(e)),
                     key=lambda e: (e.effective_at if e.controller_at is None
                                    else e.controller_at, e.seq))
        for event in due:
            del self._pending[event.seq]
            self._remember(event.seq)
        return due

    # ------------------------------------------------------------------ inputs

    def heard(self, now: float) -> None:
        """The controller was heard at ``now`` (a message the driver did not need to
        hand over: a copy of an event already taken)."""
        self._last_heard = now

    def handle(self, message: Message, now: float) -> list[Message]:
        """Take one message from the controller (SUB or DEALER); return what to send."""
        self._last_heard = now
        if isinstance(message, (Pong, Welcome, SnapshotPart, Snapshot, Reply)):
            self._reply_ref = now             # an answer: the request socket's peer lives
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
        if isinstance(message, Reply) and not message.ok \
                and message.data.get("passive") is True:
            self._passive_said = True         # a pair's passive: the driver tries the other
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

    def probe_sent(self, planned: float, sent: float) -> None:
        """The probe :meth:`tick` made at ``planned`` left at ``sent``, its ``t0`` on the
        wire: its answer is matched by that."""
        try:
            self._outstanding[self._outstanding.index(planned)] = sent
        except ValueError:
            pass

    def status(self, now: float, frames: int, show_time: float,
               captures: Iterable[str] = (), extra: Mapping[str, Any] | None = None, *,
               render_age_s: float = 0.0, loading_s: float = 0.0, force: bool = False,
               health: NodeHealth | None = None) -> NodeStatus | None:
        """Return a NodeStatus if one is due (every ``status_interval_s``, or now with
        ``force``, e.g. to announce a scene load before it blocks).

        Args:
            now: local time.
            frames, show_time, captures, extra: the render loop's last report.
            render_age_s: seconds since the render loop last ran.
            loading_s: the node will be busy loading for at most this long (clamped to
                0..:data:`~.protocol.MAX_LOADING_S`).
            force: send one now even if the last was sent less than an interval ago.
            health: how the render loop draws (see :class:`~.protocol.NodeHealth`),
                brought within the wire's ranges (:meth:`~.protocol.NodeHealth.clamped`).
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
            health=(health or NodeHealth()).clamped(),
        )

    def failover_due(self, now: float, after_s: float) -> bool:
        """Whether a driver with a pair of controllers should try the other one now: this
        one said it is the passive one, or nothing came back on the request socket (no
        welcome, pong or snapshot) for ``after_s`` while it was asked (hellos, probes)."""
        if self._reply_ref is None:
            self._reply_ref = now
        return self._passive_said or now - self._reply_ref > after_s

    def switched(self, now: float) -> None:
        """The driver now talks to the other controller of the pair: say hello there. The
        session, state, clock estimate and the events played are kept: a pair serves one
        session on one timeline, and a new session id (a partner that never had the
        replica) resets them as a restart does."""
        self.failovers += 1
        self._passive_said = False
        self._reply_ref = now
        self._welcomed = False
        self._assembly = None
        self._outstanding.clear()
        self._awaiting_burst_reply = False
        self._next_hello = now

    def warm_up_due(self, now: float) -> bool:
        """Whether a timed clock probe falls due at ``now`` (joined, and a probe interval
        since the last probe): a driver may send a warm-up ping just before it, whose
        pong matches no probe and is dropped (see :class:`~.node.NodeLink`)."""
        return self._welcomed and now - self._last_probe >= self._probe_interval()

    # ------------------------------------------------------------------ internals

    def _probe_due(self, now: float) -> bool:
        if self._burst_left > 0:
            return (not self._awaiting_burst_reply
                    or now - self._last_probe >= self.probe_timeout_s)
        return now - self._last_probe >= self._probe_interval()

    def _probe_interval(self) -> float:
        """Time between timed probes: shorter while the best round trip is not good."""
        return (self.probe_interval_s if self.clock.delay_s <= self.good_rtt_s
                else self.fast_probe_interval_s)

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


class LinkSchedule:
    """When a node link's agent thread runs the core: the timing policy, as arithmetic.

    Timing matters here more than anywhere. A broadcast (heartbeat, event) wakes every
    node at once; a probe sent then queues behind all of them at the controller, and its
    round trip (and offset error) grows by milliseconds. So due work runs on the agent's
    own jittered timer, not on the wake-up a broadcast causes, and a turn that falls due
    just after one waits once for quiet (:meth:`broadcast`). A reply on the DEALER (pong,
    welcome, snapshot) runs the core at once (:meth:`replied`): the initial probe burst
    and the snapshot request follow without delay. The timer wakes when the status beat
    is due (probes ride on it), not on a fixed fast grid: 64 idle nodes on one machine
    must not eat its CPU waking for nothing. Each node beats on its own grid (a random
    phase, fixed): nodes started together would otherwise beat together, and each beat,
    with the probe riding on it, queues behind the others at the controller. A beat
    deferred for quiet does not move the grid, so deferred beats never pile up behind
    the broadcasts.

    The driver's loop: if :meth:`due`, run the core (with a status when
    :meth:`beating`) and call :meth:`ran`; then wait for input at most
    :meth:`wait_ms`.

    Args:
        beat_s: the status beat's period (the core's ``status_interval_s``).
        now: local time at the start.
        rand: returns a random number in [0, 1): the beat's phase (drawn once, here) and
            the spread of turns deferred for quiet.
        tick_s: the timer runs the core at least this often (retries, probes).
        quiet_s: after a broadcast, a due turn waits this long (once) for quiet.

    Attributes:
        next_beat: local time of the next status beat (on the node's grid).
        next_tick: local time of the next turn.
        urgent: a reply arrived: the next turn runs at once and sends no warm-up ping.
    """

    def __init__(self, beat_s: float, now: float, rand: Callable[[], float], *,
                 tick_s: float = 0.1, quiet_s: float = 0.01) -> None:
        self.beat_s = beat_s
        self.tick_s = tick_s
        self.quiet_s = quiet_s
        self._rand = rand
        self.next_beat = now + beat_s * rand()     # this node's phase
        self.next_tick = min(now, self.next_beat)
        self.urgent = False
        self._quiet_until = -math.inf
        self._waited = False

    def due(self, now: float) -> bool:
        """Whether the agent runs the core at ``now``. A turn due within ``quiet_s`` of a
        broadcast is put off once, to the end of the quiet plus a random part of
        ``quiet_s`` (unless a reply made it urgent)."""
        if now < self.next_tick:
            return False
        if now < self._quiet_until and not (self._waited or self.urgent):
            self.next_tick = self._quiet_until + self.quiet_s * self._rand()
            self._waited = True
            return False
        return True

    def beating(self, now: float) -> bool:
        """Whether a turn at ``now`` sends the status beat."""
        return now >= self.next_beat

    def ran(self, now: float, beat: bool) -> None:
        """The core ran at ``now`` (with the beat if ``beat``): set the next turn."""
        if beat:     # the next grid point after now
            self.next_beat += self.beat_s * (1 + math.floor((now - self.next_beat) / self.beat_s))
        self.next_tick = min(now + self.tick_s, self.next_beat)
        self._waited = self.urgent = False

    def wait_ms(self, now: float) -> int:
        """How long the agent may wait for input at ``now`` (whole ms, rounded up)."""
        return max(0, math.ceil((self.next_tick - now) * 1000))

    def replied(self, now: float) -> None:
        """A reply arrived on the DEALER at ``now``: run the core at once."""
        self.next_tick, self.urgent = now, True

    def broadcast(self, now: float) -> None:
        """A broadcast arrived at ``now``: a turn due soon waits for quiet."""
        self._quiet_until = now + self.quiet_s
