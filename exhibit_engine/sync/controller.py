"""The controller's ZeroMQ driver: a ROUTER for requests and a PUB for broadcasts.

:class:`ControllerServer` is a small loop around the pure
:class:`~exhibit_engine.sync.controller_core.ControllerCore` (as pyzmq's ``auth/thread.py``
is around ``auth/base.py``): a ROUTER for requests (hello, snapshot, clock probes, node
status, operator commands) and a PUB for heartbeats, state updates and events. It reads
the clocks, receives and decodes frames, hands each message to the core with the role and
key id its CURVE handshake established, and sends what the core returns.
:func:`run_controller` runs one until SIGINT/SIGTERM. What it does with each message, and
the commands it takes, are written in :mod:`.controller_core` and :mod:`.commands`.

With a state file (:mod:`.persist`) the server resumes the saved session at start and
saves it whenever it changes, every few seconds, and on the way out. At start it first
takes the state file's lock (a second controller on the same file refuses to start, naming
the first), refuses a state file that exists but cannot be read or parsed (unless started
``fresh``, when that file is moved aside, never overwritten) and removes the temporary
files of crashed saves. A save that fails shows in the ``status`` reply's ``state_save``
and in the log until one succeeds again.
"""

from __future__ import annotations

import logging
import math
import secrets
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from datetime import datetime
from typing import Any

import zmq

from ..config import ControllerSettings
from ..errors import ProtocolError, SyncError
from ._local import LocalPort, LocalRequest
from .auth import ServerCurve, ZapHandler, apply_server, server_curve, split_user_id
from .commands import ROLE_COMMANDS
from .controller_core import Actions, ControllerCore
from ._core_replica import saved_from_replica
from ._pair import ACTIVE, Transition
from .distribution import ServerProcess
from .pair import PairLink
from ._wallclock import real_wall_clock as _real_wall_clock
from ._wallclock import simulated_wall_clock
from .persist import SAVE_EVERY_S, StateLock, claim_state_file, load_session, save_session
from .protocol import MAX_FRAME_BYTES, Command, Hello, Message, Pong, Reply, decode

__all__ = ["ControllerServer", "run_controller", "simulated_wall_clock"]

log = logging.getLogger(__name__)


class ControllerServer:
    """Runs a :class:`ControllerCore` on a ROUTER (requests) and a PUB (broadcasts).

    Args:
        settings: the controller's settings (host, ports, heartbeat period, state file).
        clock: the controller clock; ``time.monotonic`` unless a test passes another.
        lost_after_s: silence after which a projector is reported lost; the venue's
            ``[network] lost_after_s`` if omitted (``hung_after_s`` always comes from it).
        wall_clock: the wall clock, an aware :class:`~datetime.datetime` (show schedules
            and the state file use it); the real one unless a test or ``--sim-time``
            passes another.
        fresh: a state file that exists but cannot be read or parsed is moved aside
            (``<state>.unreadable-<timestamp>``) and the show starts fresh, instead of the
            controller refusing to start.

    A port of 0 binds a free port; :attr:`state_port` and :attr:`publish_port` give the
    real ones after :meth:`bind`. With ``settings.state_file`` the session is resumed from
    that file at :meth:`bind` and saved to it whenever it changes, every
    :data:`~.persist.SAVE_EVERY_S` seconds and on the way out.
    """

    def __init__(self, settings: ControllerSettings, clock: Callable[[], float] = time.monotonic,
                 *, lost_after_s: float | None = None,
                 wall_clock: Callable[[], datetime] | None = None,
                 fresh: bool = False) -> None:
        self.settings = settings
        self._fresh = fresh
        self._lock: StateLock | None = None
        #: The last save's outcome, for ``status`` (``None`` before the first / without
        #: a state file): ``ok``, ``path``, then ``saved_at`` or ``error`` and ``since``.
        self.state_save: dict[str, Any] | None = None
        self._base_clock = clock
        self._lost_after_s = lost_after_s
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._router: zmq.Socket[bytes] | None = None
        self._pub: zmq.Socket[bytes] | None = None
        self.core: ControllerCore | None = None
        self.state_port = settings.state_port
        self.publish_port = settings.publish_port
        self._warned_at = -math.inf
        self._unwarned = 0
        self._wall = wall_clock or _real_wall_clock
        self._curve: ServerCurve | None = None
        self._zap: ZapHandler | None = None
        self._saved_mark: tuple[int, int] | None = None
        self._saved = threading.Condition()
        self._next_save = -math.inf
        self._save_failed = False
        #: In-process peers (the console) and listeners of what is published; see
        #: :mod:`._local`. Use :meth:`request` and :meth:`listen`.
        self.local = LocalPort()
        #: Serves the show's bundles to the nodes (``settings.bundle_dir``; ``None``: no
        #: bundle folder, nothing served), in a process of its own (:mod:`.distribution`).
        self.transfer: ServerProcess | None = None
        #: The link to the other controller of a pair (``settings.pair``; ``None``: a
        #: single controller). See :mod:`.pair`.
        self.pair: PairLink | None = None

    def _clock(self) -> float:
        """The controller clock: this PC's, moved onto the partner's timeline by a
        takeover (:meth:`.pair.PairLink.take_over_clock`)."""
        return self._base_clock() + (self.pair.offset if self.pair is not None else 0.0)

    @property
    def serving(self) -> bool:
        """Whether this controller serves its peers now (always, unless it is the
        passive one of a pair, or still deciding)."""
        return self.pair is None or self.pair.active

    @property
    def state_endpoint(self) -> str:
        """The ROUTER address peers connect their DEALER to."""
        return f"tcp://{self.settings.host}:{self.state_port}"

    @property
    def publish_endpoint(self) -> str:
        """The PUB address peers connect their SUB to."""
        return f"tcp://{self.settings.host}:{self.publish_port}"

    def bind(self) -> None:
        """Open and bind both sockets and start the session (does nothing the second time).

        With ``[security] curve`` on, both sockets are CURVE servers and a ZAP handler
        admits only the allow-listed keys (see :mod:`.auth`), the PUB included, so an
        unknown peer can neither send nor listen.

        Raises:
            SyncError: a port cannot be bound (in use, bad host...); another controller
                holds the state file; the state file exists but cannot be read or parsed
                (without ``fresh``).
            ConfigError: curve is on and the controller's key file is missing or bad.
        """
        if self._ctx is not None:
            return
        curve = server_curve(self.settings.venue.security, self.settings.key_file)
        if self.settings.state_file:
            self._lock = claim_state_file(self.settings.state_file, self._fresh,
                                          _real_wall_clock().isoformat(timespec="seconds"),
                                          _real_wall_clock().strftime("%Y%m%dT%H%M%S"))
        self._ctx = ctx = zmq.Context()
        try:
            if curve is not None:
                # Before any socket binds: no handshake may ever happen without it. The
                # pair link admits the controller key itself (both PCs of a pair hold it).
                roles = dict(curve.roles)
                if self.settings.pair is not None:
                    roles[curve.public] = "controller"
                self._zap = ZapHandler(ctx, roles)
                self._curve = curve
            self._router = _socket(ctx, zmq.ROUTER)
            # zmq drops (and disconnects) a peer that sends an over-long frame before
            # it is ever buffered whole.
            self._router.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            self._pub = _socket(ctx, zmq.PUB)
            if curve is not None:
                apply_server(self._router, curve)
                apply_server(self._pub, curve)
            self.state_port = self._bind(self._router, self.settings.state_port)
            self.publish_port = self._bind(self._pub, self.settings.publish_port)
            if self.settings.bundle_dir is not None:
                self.transfer = ServerProcess(
                    self.settings.show, self.settings.bundle_dir, self.settings.host,
                    self.settings.transfer_port, curve=curve,
                    rate_mbps=self.settings.transfer_rate_mbps)
            if self.settings.pair is not None:
                self.pair = PairLink(ctx, self.settings.pair, self.settings.host,
                                     self._base_clock, curve)
        except SyncError:
            self.close()
            raise
        self.core = ControllerCore(self._clock(), secrets.token_hex(8),
                                   heartbeat_s=self.settings.heartbeat_s,
                                   lost_after_s=(self._lost_after_s
                                                 or self.settings.venue.network.lost_after_s),
                                   hung_after_s=self.settings.venue.network.hung_after_s)
        if curve is not None:
            self.core.bound_ids = dict(curve.bound_ids)
            self.core.debug_commands = False
        saved = None
        if self.settings.state_file:
            saved = load_session(self.settings.state_file, self.settings.show.id)
            if saved is not None:
                self.core.restore(saved, self._clock(), self._wall().timestamp())
        self.core.attach_show(self.settings.show, self._clock(), self._wall(),
                              restored=saved.control if saved is not None else None,
                              displays=tuple(d.id for d in self.settings.venue.displays))
        if saved is not None:
            # After the show control is attached: its anchor (a seek pending at the save
            # and due meanwhile, say) decides the show time, not the saved line alone.
            now = self._clock()
            log.info("resumed the saved show at %.3f s (rate %g), state seq %d, event "
                     "seq %d", self.core.show_time(now), self.core.anchor.rate,
                     self.core.seq, saved.event_seq)
        log.info("controller %s: state %s, publish %s%s", self.core.session,
                 self.state_endpoint, self.publish_endpoint,
                 "" if self.pair is None else f"; the {self.pair.star.role} of a pair with "
                 f"{self.pair.partner}")

    def serve(self, stop_event: threading.Event | None = None) -> None:
        """Bind if needed, then answer and publish until ``stop_event`` is set.

        Closes both sockets on the way out. Without a stop event it serves until the
        process ends (run it through :func:`run_controller` to stop on a signal).
        """
        self.bind()
        core, router = self.core, self._router
        if core is None or router is None:
            raise SyncError("the controller was closed while starting")
        stop = stop_event or threading.Event()
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        poller.register(self.local.fd, zmq.POLLIN)     # the console's requests wake it too
        for sock in self.pair.sockets if self.pair is not None else ():
            poller.register(sock, zmq.POLLIN)
        try:
            while not stop.is_set():
                if self.serving:
                    self._publish(core.tick(self._clock(), self._wall()))
                # Wake for the next beat (a passive core has none), at least every 0.1 s
                # to notice ``stop``; one poller, rounded up so a wait under 1 ms sleeps.
                wait = min(core.seconds_to_next_tick(self._clock()) if self.serving else 1, 0.1)
                if self.pair is not None:
                    wait = min(wait, self._pair_turn(core))
                ready = dict(poller.poll(math.ceil(wait * 1000)))
                if router in ready:
                    self._drain(core, router)
                if self.local.fd in ready:
                    self.local.drain(self._local)
                self.save()
        finally:
            self.save(force=True)
            self.close()

    def request(self, peer: str, role: str, message: Message) -> Future[Message | None]:
        """From any thread: hand ``message`` to the core as local peer ``peer`` in ``role``
        (the console, which judged its own credentials); a future of the core's reply.

        The message takes the one path every peer's does (hello first, the table of
        rights), on the loop thread, which wakes for it at once.
        """
        return self.local.request(peer, role, message)

    def listen(self, listener: Callable[[Message], None]) -> Callable[[], None]:
        """Call ``listener`` on the loop thread with every message published from now on
        (it must only hand it on); returns a function that stops it."""
        return self.local.listen(listener)

    def save(self, force: bool = False) -> bool:
        """Write the state file if the session changed or :data:`~.persist.SAVE_EVERY_S`
        passed (always with ``force``); returns whether it wrote.

        A write that fails is logged once (until one succeeds again) and never stops the
        show; :attr:`state_save` carries it (``ok`` false, the ``error`` and ``since``
        when) for ``status`` until a save succeeds.
        """
        core, path = self.core, self.settings.state_file
        if core is None or not path:
            return False
        now = self._clock()
        replica = None if self.serving or self.pair is None else self.pair.replica
        if not self.serving and replica is None:
            return False        # a passive without a replica keeps the file it has
        mark = core.save_mark if replica is None else tuple((replica.get("mark") or [])[1:])
        if not force and mark == self._saved_mark and now < self._next_save:
            return False
        try:
            save_session(path, core.saved(now, self._wall().timestamp(),
                                          self.settings.show.id) if replica is None else
                         saved_from_replica(replica, self.pair.partner_now(),
                                            self._wall().timestamp(), self.settings.show.id))
        except (OSError, ValueError) as exc:
            if not self._save_failed:
                log.warning("cannot save the controller state to %s: %s", path, exc)
                self.state_save = {"ok": False, "path": str(path), "error": _why(exc),
                                   "since": self._stamp()}
            self._save_failed = True
            self._next_save = now + SAVE_EVERY_S
            return False
        if self._save_failed:
            log.info("controller state saved to %s again", path)
        self._save_failed = False
        self.state_save = {"ok": True, "path": str(path), "saved_at": self._stamp()}
        with self._saved:
            self._saved_mark, self._next_save = mark, now + SAVE_EVERY_S
            self._saved.notify_all()
        return True

    def wait_saved(self, timeout: float = 5.0) -> bool:
        """Block until the state file holds the session as it is now (everything handled
        so far), or ``timeout`` seconds pass; return whether it does. For tests and tools
        that drive a serving controller from another thread.
        """
        core = self.core
        if core is None or not self.settings.state_file:
            return False
        target = core.save_mark
        with self._saved:
            return self._saved.wait_for(
                lambda: self._saved_mark is not None and self._saved_mark >= target, timeout)

    def close(self) -> None:
        """Close both sockets (linger 0), then the ZAP handler, then the context; fail
        the local requests still waiting."""
        self.local.close()
        if self.transfer is not None:
            self.transfer.close()
            self.transfer = None
        for sock in (self._router, self._pub):
            if sock is not None:
                sock.close(linger=0)
        self._router = self._pub = None
        if self._zap is not None:
            self._zap.stop()
            self._zap = None
        if self.pair is not None:
            self.pair.close()
            self.pair = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # ------------------------------------------------------------------ internals

    def _stamp(self) -> str:
        return self._wall().isoformat(timespec="seconds")

    def _bind(self, sock: zmq.Socket[bytes], port: int) -> int:
        host = self.settings.host
        try:
            if port == 0:
                return sock.bind_to_random_port(f"tcp://{host}")
            sock.bind(f"tcp://{host}:{port}")
        except zmq.ZMQError as exc:
            raise SyncError(f"cannot listen on tcp://{host}:{port}: {exc}") from None
        return port

    def _drain(self, core: ControllerCore, router: zmq.Socket[bytes], limit: int = 1000) -> None:
        curve = self._curve is not None
        if self._zap is not None:
            core.handshakes_refused = self._zap.refused
        for i in range(limit):
            role, key = None, ""
            if i and not router.get(zmq.EVENTS) & zmq.POLLIN:
                return      # (asking is cheaper than the exception an empty receive raises)
            try:
                if curve:
                    # Frames, not bytes: the role and key id the ZAP handler gave the key
                    # travel as each message's User-Id property ("ROLE:KEY_ID").
                    parts = router.recv_multipart(zmq.NOBLOCK, copy=False)
                    user = _user_id(parts[-1])
                    if user is not None:
                        role, key = split_user_id(user)
                    frames = [p.bytes for p in parts]
                else:
                    frames = router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            now = self._clock()       # t1 of a probe: as close to the receive as we can
            peer, payload = frames[0], frames[1:]
            if curve and role not in ROLE_COMMANDS:
                # Only a peer that bypassed ZAP could get here; never serve it.
                core.note_malformed(peer, ProtocolError("a message without an "
                                                        "authenticated role", peer.hex()))
                continue
            try:
                message = decode(payload, peer=peer.hex())
            except ProtocolError as exc:
                self._warn(exc)
                self._reply(router, peer, core.note_malformed(peer, exc))
                continue
            if not self.serving and not self._pair_serves(router, peer, message, role):
                continue
            actions = core.handle(peer, message, now, role, key)
            # Broadcasts first: an event reaches the nodes before the sender hears "ok".
            self._publish(actions)
            self._reply(router, peer, actions,
                        status=isinstance(message, Command) and message.name == "status")

    def _reply(self, router: zmq.Socket[bytes], peer: bytes, actions: Actions,
               status: bool = False) -> None:
        """Send ``actions``' replies to ``peer``."""
        for reply in actions.replies:
            frames = _encode(self._stamped(reply, status))
            if frames is not None:
                _send(router, [peer, *frames])

    def _stamped(self, reply: Message, status: bool) -> Message:
        """A pong stamped as it leaves; a status reply with the state file's last save."""
        if isinstance(reply, Pong):
            return replace(reply, t2=self._clock())
        if status and isinstance(reply, Reply) and reply.ok:
            extra: dict[str, Any] = {}
            if self.state_save:
                extra["state_save"] = dict(self.state_save)
            if self.transfer is not None:
                extra["transfer"] = self.transfer.summary()
            if self.pair is not None:
                extra["pair"] = self.pair.summary()
            if extra:
                return replace(reply, data={**reply.data, **extra})
        return reply

    def _local(self, req: LocalRequest) -> Message | None:
        """Answer one in-process request as the core answers a peer's (on the loop)."""
        core = self.core
        if core is None:
            return None
        if not self.serving and not self._pair_serves(None, req.routing_id, req.message,
                                                      req.role):
            return self._passive_reply(req.message)
        actions = core.handle(req.routing_id, req.message, self._clock(), req.role,
                              f"local:{req.peer}")
        self._publish(actions)
        status = isinstance(req.message, Command) and req.message.name == "status"
        return self._stamped(actions.replies[0], status) if actions.replies else None

    def _publish(self, actions: Actions) -> None:
        if self.pair is not None and actions.publish and self.core is not None:
            # The partner holds every change before any node can see it.
            self.pair.replicate(self.core.replica_mark, self._replica)
        if self._pub is not None and self.serving:
            for message in actions.publish:
                frames = _encode(message)
                if frames is not None:
                    _send(self._pub, frames)
                    self.local.published(message)

    # ------------------------------------------------------------------ the pair

    def _pair_turn(self, core: ControllerCore) -> float:
        """Beat, read the partner, act on a change of state, replicate; returns how long
        the loop may wait before the next beat."""
        assert self.pair is not None
        for change in self.pair.drain():
            self._pair_changed(core, change)
        self.pair.tick(core.replica_mark)
        self.pair.replicate(core.replica_mark, self._replica)
        return self.pair.seconds_to_next_beat()

    def _replica(self) -> dict[str, Any]:
        assert self.core is not None
        return self.core.replica(self._clock())

    def _pair_serves(self, router: zmq.Socket[bytes] | None, peer: Any, message: Message,
                     role: str | None) -> bool:
        """A passive (or undecided) controller got a message: a client's hello or
        command takes it over when its partner is lost; anything else, and any request
        while the partner lives, is refused (the client then tries the partner). A
        ``status`` never takes a passive over (a monitor that reaches the backup alone
        must not make it serve): it gets the refusal, which carries the pair's state."""
        assert self.pair is not None and self.core is not None
        if not isinstance(message, (Hello, Command)):
            return False          # beats and probes of a peer that has not moved yet
        serve = False
        if not (isinstance(message, Command) and message.name == "status"):
            who = message.node_id if isinstance(message, Hello) else f"a {role or 'peer'}"
            serve, change = self.pair.client_request(who)
            if change is not None:
                self._pair_changed(self.core, change)
        if not serve and router is not None:
            frames = _encode(self._passive_reply(message))
            if frames is not None:
                _send(router, [peer, *frames])
        return serve

    def _passive_reply(self, message: Message) -> Reply:
        assert self.pair is not None
        return Reply(False, {"passive": True, "active": self.pair.partner,
                             "pair": self.pair.summary()},
                     error=self.pair.star.refusal(self.pair.partner),
                     req=message.req if isinstance(message, Command) else 0)

    def _pair_changed(self, core: ControllerCore, change: Transition) -> None:
        assert self.pair is not None
        if change.new != ACTIVE:
            level = logging.ERROR if change.old == ACTIVE else logging.INFO
            log.log(level, "pair: %s -> %s (%s)%s", change.old, change.new, change.reason,
                    "; no longer serving" if change.old == ACTIVE else "")
            return
        replica = self.pair.replica
        moved = self.pair.take_over_clock() if replica is not None else 0.0
        now = self._clock()
        if replica is not None:
            try:
                core.adopt(replica, now, self._wall())
            except ProtocolError as exc:
                log.error("pair: the partner's replica cannot be used (%s); serving this "
                          "controller's own session", exc)
        self._next_save = -math.inf
        log.warning("pair: %s -> active, term %d (%s): serving session %s at show time "
                    "%.3f s%s", change.old, self.pair.star.term, change.reason,
                    core.session, core.show_time(now),
                    f"; clock moved {moved * 1e3:+.3f} ms onto the partner's"
                    if replica is not None else "")

    def _warn(self, exc: ProtocolError) -> None:
        # At most one warning every 5 s; the status command carries the full count.
        now = self._clock()
        self._unwarned += 1
        if now - self._warned_at >= 5.0:
            log.warning("dropped %d malformed frame(s); last: %s", self._unwarned, exc)
            self._warned_at, self._unwarned = now, 0


def _why(exc: BaseException) -> str:
    """An OSError's reason without its errno and path (``No space left on device``)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _user_id(frame: zmq.Frame) -> str | None:
    """The ZAP User-Id of a received message (``ROLE:KEY_ID``), if it has one."""
    try:
        user_id = frame.get("User-Id")
    except zmq.ZMQError:
        return None
    return user_id if isinstance(user_id, str) and user_id else None


def _socket(ctx: zmq.Context[zmq.Socket[bytes]], kind: int) -> zmq.Socket[bytes]:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 1000)
    sock.setsockopt(zmq.RCVHWM, 1000)
    return sock


def _encode(message: Message) -> list[bytes] | None:
    """Encode, turning a reply that is too big into an error reply instead of a crash."""
    try:
        return message.encode()
    except ProtocolError as exc:
        log.warning("cannot send %s: %s", type(message).__name__, exc)
        if isinstance(message, Reply):
            return Reply(False, error=f"reply could not be sent: {exc}", req=message.req).encode()
        return None


def _send(sock: zmq.Socket[bytes], frames: list[bytes]) -> None:
    try:
        sock.send_multipart(frames, zmq.NOBLOCK)
    except zmq.Again:
        pass    # a peer that does not read loses messages; it never stalls the others


def run_controller(settings: ControllerSettings,
                   on_ready: Callable[[ControllerServer], None] | None = None, *,
                   wall_clock: Callable[[], datetime] | None = None,
                   fresh: bool = False) -> int:
    """Run a controller until SIGINT or SIGTERM, then stop cleanly.

    Args:
        settings: the controller's settings.
        on_ready: called with the bound server before serving (e.g. to print its ports).
        wall_clock: the wall clock (see :class:`ControllerServer`); the real one if omitted.
        fresh: move an unreadable state file aside instead of refusing to start.

    Returns:
        The process exit code, 0 after a clean stop.

    Raises:
        SyncError: a port cannot be bound, or the state file is locked or unreadable (see
            :meth:`ControllerServer.bind`).
    """
    stop = threading.Event()
    server = ControllerServer(settings, wall_clock=wall_clock, fresh=fresh)
    server.bind()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    try:
        if on_ready is not None:
            on_ready(server)
        server.serve(stop)
    finally:
        server.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
