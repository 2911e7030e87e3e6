"""A projector node's link to the controller over ZeroMQ: the driver of a NodeCore.

:class:`NodeLink` drives a :class:`~.node_core.NodeCore` (the pure state machine: join,
clock sync, state, events) over a SUB connected first, then a DEALER with
``ZMQ_IMMEDIATE`` so nothing is queued for a controller that is not there. The sockets
live in a small agent thread, so clock probes are timed to the message, not to the frame;
the agent asks the core what to send and its :class:`~.node_core.LinkSchedule` when. The
render loop calls :meth:`NodeLink.poll`, :meth:`NodeLink.show_time` and friends once per
frame; none of them blocks.

The node keeps playing from its last anchor and clock estimate when the controller
vanishes, and joins again (with a fresh snapshot and probe burst) when one comes back.

With a pair of controllers (``backup``), the SUB listens to both publishers (only the
active one publishes) and the DEALER talks to one at a time, as a Binary Star client
does: when its controller has not answered for ``failover_after_s`` (no welcome, pong or
snapshot) or says it is the passive one, the DEALER is closed and a new one says hello to
the other. The session, state, clock estimate and the events already played are kept
across the move (:meth:`~.node_core.NodeCore.switched`), so show time does not jump and no
event is played twice.

Given a :class:`~.faults.FaultPlan` (or ``EXHIBIT_FAULTS`` in the environment), every
message in and out passes through a :class:`~.faults.FaultQueue` first: delay, jitter,
loss, duplication and reordering, for the tests, ``bench sync`` and the soak.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import zmq

from ..errors import ProtocolError, SyncError
from .auth import ClientCurve, HandshakeWatch, apply_client
from .faults import FaultPlan, FaultQueue
from .node_core import LinkSchedule, NodeCore
from .protocol import (MAX_FRAME_BYTES, MAX_LOADING_S, PUBLISHED_TYPES, Event, Message,
                       NodeHealth, Ping, decode)

__all__ = ["NodeLink"]

log = logging.getLogger(__name__)
#: Event bodies a link remembers to know a repeated copy (a few seconds of events).
_TAKEN_EVENTS = 64


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
        backup: the backup controller's ``(host, state_port, publish_port)``, to fail
            over to (see above).
        failover_after_s: silence on the request socket after which it tries the other
            controller of the pair.
        faults: network faults to inject into this link (default: ``EXHIBIT_FAULTS``'s,
            if set; see :mod:`.faults`).

    Raises:
        SyncError: the endpoints cannot be used (e.g. a malformed host).
    """

    _SWITCH_S = 0.0005     # the interpreter's switch interval while a link exists (at most)
    _WARM_S = 0.0003   # a warm-up ping goes this long before a timed probe (0: none)

    def __init__(self, node_id: str, host: str, state_port: int, publish_port: int,
                 clock: Callable[[], float] = time.monotonic, *, role: str = "projector",
                 core: NodeCore | None = None, curve: ClientCurve | None = None,
                 backup: tuple[str, int, int] | None = None,
                 failover_after_s: float = 1.0, faults: FaultPlan | None = None) -> None:
        plan = faults if faults is not None else FaultPlan.from_env()
        self._in_q: FaultQueue[list[bytes]] | None = None
        self._out_q: FaultQueue[list[bytes]] | None = None
        if plan is not None and plan.active:
            rand = random.Random(plan.seed)
            self._in_q = FaultQueue(plan, random.Random(rand.random()))
            self._out_q = FaultQueue(plan, random.Random(rand.random()))
        self.core = core if core is not None else NodeCore(node_id, role)
        if sys.getswitchinterval() > self._SWITCH_S:
            sys.setswitchinterval(self._SWITCH_S)
        ends = [(host, state_port, publish_port), *([backup] if backup is not None else [])]
        self._controllers = [f"tcp://{h}:{sp}" for h, sp, _ in ends]
        self._at = 0
        self._curve = curve
        self.failover_after_s = failover_after_s
        self.controller = self._controllers[0]
        self._clock = clock
        self._lock = threading.Lock()
        self._news = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._error: Exception | None = None
        self._latest: tuple[int, float, tuple[str, ...], dict[str, Any]] = (0, 0.0, (), {})
        self._health = NodeHealth()
        self._alive_at = clock()                # the render loop's last poll or report
        self._loading_until = -math.inf         # announced scene load ends by then
        self._announce = False                  # send a status at once (loading news)
        self._turns = 0                         # agent iterations, to wait for one
        self._turn = threading.Condition(self._lock)
        self._taken: dict[bytes, None] = {}     # last event bodies handled (agent only)
        self._taken_session: str | None = None
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = zmq.Context()
        sub = self._ctx.socket(zmq.SUB)
        # Says in the log why a CURVE node never joins (its key refused, a wrong
        # controller key); the agent reads it only while the node is not joined.
        self._watch: HandshakeWatch | None = None
        self._refusal_logged = -math.inf
        dealer = None
        try:
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            if curve is not None:
                apply_client(sub, curve)
            for topic in PUBLISHED_TYPES:
                sub.setsockopt(zmq.SUBSCRIBE, topic)
            # Clone pattern: subscribe first, so no update slips between snapshot and SUB.
            for h, _, pp in ends:
                sub.connect(f"tcp://{h}:{pp}")
            dealer = self._dealer()
        except zmq.ZMQError as exc:
            if self._watch is not None:
                self._watch.close()
            sub.close(linger=0)
            if dealer is not None:
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

    def _dealer(self) -> zmq.Socket[bytes]:
        """A DEALER connected to the controller of now (:attr:`controller`)."""
        assert self._ctx is not None
        dealer = self._ctx.socket(zmq.DEALER)
        try:
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            if self._curve is not None:
                apply_client(dealer, self._curve)
            dealer.setsockopt(zmq.IMMEDIATE, 1)
            dealer.setsockopt(zmq.SNDHWM, 100)
            if self._curve is not None:
                self._watch = HandshakeWatch(dealer, self._curve)
            dealer.connect(self.controller)
        except zmq.ZMQError:
            dealer.close(linger=0)
            raise
        return dealer

    @property
    def failovers(self) -> int:
        """How many times this node moved to the other controller of its pair."""
        with self._lock:
            return self.core.failovers

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

    def frame_time(self) -> tuple[float, float] | None:
        """``(show time, controller time)`` now, from one clock reading (a frame's times:
        pass both to :meth:`take_events`), or ``None`` until :attr:`synced`."""
        with self._lock:
            now = self._clock()
            show_t = self.core.show_time(now)
            controller_t = self.core.controller_time(now)
        if show_t is None or controller_t is None:
            return None
        return show_t, controller_t

    def take_events(self, show_t: float, controller_t: float | None = None) -> list[Event]:
        """The events due on the frame at ``show_t`` / ``controller_t`` not yet returned,
        in order, once each (see :meth:`NodeCore.take_events
        <exhibit_engine.sync.node_core.NodeCore.take_events>`)."""
        with self._lock:
            return self.core.take_events(show_t, controller_t)

    def session_state(self) -> dict[str, Any]:
        """A copy of the replicated session state (e.g. ``"anchor"``, ``"selected_item"``);
        empty until the first snapshot."""
        with self._lock:
            return dict(self.core.state)

    def report(self, frames: int, show_time: float, captures: Iterable[str] = (),
               extra: Mapping[str, Any] | None = None,
               health: NodeHealth | None = None) -> None:
        """Hand over the frame count, show time and captures for the next status report,
        and the render loop's health (frame rate, frame times, GPU, cue, bundles; the last
        one given is kept when ``None``).

        Never blocks. The agent sends a NodeStatus every 0.1 s whatever the render loop
        does (the controller's liveness beat), with the last report and the time since
        the render loop last called :meth:`report` or :meth:`poll` (``render_age_s``),
        so a render loop that hangs is reported ``"hung"``, a stopped process ``"lost"``.
        Dropped while no controller is connected.
        """
        latest = (int(frames), float(show_time), tuple(captures), dict(extra or {}))
        with self._lock:
            self._latest = latest
            if health is not None:
                self._health = health
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
        # When to run the core is the schedule's (see LinkSchedule); this loop only reads
        # the clock, sends and polls.
        # A probe on the timer follows a warm-up ping by ~0.3 ms. Every thread on the
        # way out (our ZeroMQ I/O thread, the controller's, the controller itself) has
        # usually slept for milliseconds, while those on the way back ran a moment ago:
        # measured here, a cold request took ~200 us one way against ~85 us for the
        # warm answer, an offset error of +60 us in every probe. After the warm-up both
        # ways are warm (~50-60 us each). Its pong matches no probe and is dropped.
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(dealer, zmq.POLLIN)
        clock = self._clock
        timer = LinkSchedule(self.core.status_interval_s, clock(), random.Random().random)
        try:
            while not self._stop.is_set():
                now = clock()
                if len(self._controllers) > 1 and self._failover_due(now):
                    poller.unregister(dealer)
                    dealer = self._switch(dealer, now)
                    poller.register(dealer, zmq.POLLIN)
                    timer.replied(now)
                if timer.due(now):
                    if not timer.urgent and self._WARM_S > 0 and self._warm_up_due(now):
                        self._send(dealer, [Ping(now)])
                        time.sleep(self._WARM_S)
                        now = clock()
                    beating = timer.beating(now)
                    self._send(dealer, self._due(now, beating))
                    timer.ran(now, beating)
                wait_ms = timer.wait_ms(clock())
                if self._in_q is not None or self._out_q is not None:
                    wait_ms = min(wait_ms, self._faults_turn(dealer, clock()))
                ready = dict(poller.poll(wait_ms))
                handled = 0
                # The DEALER first: a pong's arrival time (t3) must not wait for broadcasts.
                if dealer in ready:
                    handled += self._drain(dealer, dealer)
                    timer.replied(clock())
                if sub in ready:
                    handled += self._drain(sub, dealer)
                    timer.broadcast(clock())
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

    def _failover_due(self, now: float) -> bool:
        with self._lock:
            return self.core.failover_due(now, self.failover_after_s)

    def _switch(self, dealer: zmq.Socket[bytes], now: float) -> zmq.Socket[bytes]:
        """Close the DEALER and open one to the other controller of the pair."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        dealer.close(linger=0)
        old = self.controller
        self._at = (self._at + 1) % len(self._controllers)
        self.controller = self._controllers[self._at]
        with self._lock:
            self.core.switched(now)
        log.info("%s: %s does not serve; trying %s", self.core.node_id, old, self.controller)
        return self._dealer()

    def _warm_up_due(self, now: float) -> bool:
        """Whether the core is about to send a timed clock probe (to warm the path)."""
        with self._lock:
            return self.core.warm_up_due(now)

    def _due(self, now: float, beat: bool) -> list[Message]:
        with self._lock:
            out = self.core.tick(now)
            if beat or self._announce:      # the agent keeps the beat's time (its grid)
                frames, show, captures, extra = self._latest
                status = self.core.status(now, frames, show, captures, extra,
                                          render_age_s=now - self._alive_at,
                                          loading_s=self._loading_until - now, force=True,
                                          health=self._health)
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
        for i in range(limit):
            # The poll said the first one is there. After it, asking is cheaper than the
            # exception an empty socket's receive raises.
            if i and not sock.get(zmq.EVENTS) & zmq.POLLIN:
                break
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            now = self._clock()     # t3 of a probe: taken the moment it is read
            if self._in_q is not None:
                self._in_q.admit(frames, now, stream=id(sock))   # released by _faults_turn
                continue
            handled += self._handle(frames, now, dealer)
        return handled

    def _handle(self, frames: list[bytes], now: float, dealer: zmq.Socket[bytes]) -> int:
        """Decode one message and hand it to the core (1), or count it malformed (0);
        a byte-identical copy of an event already taken is only a sign of life (0)."""
        if frames[0] == b"event" and len(frames) == 2 and self._repeat(frames[1], now):
            return 0
        try:
            message = decode(frames, peer=self.controller)
        except ProtocolError as exc:
            with self._lock:
                self.core.malformed += 1
            log.debug("dropped a malformed frame: %s", exc)
            return 0
        with self._lock:
            out = self.core.handle(message, now)
            if isinstance(message, Event):
                self._taken[frames[1]] = None
                if len(self._taken) > _TAKEN_EVENTS:
                    del self._taken[next(iter(self._taken))]
        if out:
            self._send(dealer, out)
        return 1

    def _repeat(self, body: bytes, now: float) -> bool:
        """Whether ``body`` is an event this link handed the core in this session.

        The controller sends each event again in the next heartbeats, for a node that
        missed it, and every copy wakes every node: on a machine that a wall's nodes
        share, decoding the copies again takes the CPU the next broadcast's fan-out
        needs. The core would drop them by sequence number; the bytes say it sooner.
        """
        # The memory and the core's session change on this (the agent) thread only: the
        # lock is needed just for the core's sign of life.
        if self.core.session != self._taken_session:
            self._taken_session = self.core.session
            self._taken.clear()        # a new session numbers its events anew
            return False
        if body not in self._taken:
            return False
        with self._lock:
            self.core.heard(now)
        return True

    def _faults_turn(self, dealer: zmq.Socket[bytes], now: float) -> int:
        """Release what the fault queues hold and is due; returns how long the agent may
        wait for the next release (ms)."""
        handled = 0
        if self._out_q is not None:
            for frames in self._out_q.due(now):
                self._send_frames(dealer, frames)
        if self._in_q is not None:
            for frames in self._in_q.due(now):
                handled += self._handle(frames, self._clock(), dealer)
        if handled:
            with self._news:
                self._news.notify_all()
        waits = [w for q in (self._in_q, self._out_q) if q is not None
                 and (w := q.wait_s(self._clock())) is not None]
        return math.ceil(min(waits) * 1000) if waits else 100

    def _send(self, dealer: zmq.Socket[bytes], messages: list[Message]) -> None:
        for message in messages:
            planned, probe = None, None
            if isinstance(message, Ping):
                # A probe's t0 is the moment it leaves, not the one the core made it at:
                # the lock, the status built after it and the encoding lie between, and
                # every sample's way out would look that much longer (a bias no choice
                # among samples removes).
                planned, probe = message.t0, Ping(self._clock())
                message = probe
            try:
                frames = message.encode()
            except ProtocolError as exc:
                log.warning("cannot send %s: %s", type(message).__name__, exc)
                continue
            if self._out_q is not None:
                self._out_q.admit(frames, self._clock())
            else:
                self._send_frames(dealer, frames)
            if probe is not None and planned is not None:
                with self._lock:     # before the answer can be read: this thread reads it
                    self.core.probe_sent(planned, probe.t0)

    @staticmethod
    def _send_frames(dealer: zmq.Socket[bytes], frames: list[bytes]) -> None:
        try:
            dealer.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            pass    # not connected (ZMQ_IMMEDIATE): drop; the core sends again later
