"""The controller: the one source of truth for show time, session state and events.

Two halves, as in pyzmq's ``auth/base.py`` and ``auth/thread.py``:

- :class:`ControllerCore` is a pure state machine. It takes decoded messages and the time,
  and returns :class:`Actions` (replies to the sender, messages to publish). It never
  touches a socket or reads a clock, so failover and bad-input tests are plain calls.
- :class:`ControllerServer` is a small ZeroMQ loop around it: a ROUTER for requests
  (hello, snapshot, clock probes, node status, operator commands) and a PUB for heartbeats,
  state updates and events. :func:`run_controller` runs one until SIGINT/SIGTERM.

Operator commands (``Command`` -> ``Reply``)::

    status                         -> {show_time, session, seq, malformed, last_malformed,
                                       nodes: [{id, role, state: "joined"|"lost", frames,
                                       show_time, offset_us, rtt_us, captures (last 16),
                                       extra, last_seen_s}]}
    capture  tag: str, delay: s=0.5 -> publishes Event("capture", now_show + delay, {tag})
                                       {effective_at, seq}
    seek     position: s, rate=1.0, delay: s=0.2
                                    -> new anchor from controller time now + delay;
                                       published as a key-update; {anchor, seq}
    select   item: str, delay: s=0.3 -> publishes Event("select", now_show + delay, {item})
                                       and sets state "selected_item" to {item,
                                       selected_at} (a key-update); {effective_at, seq,
                                       state_seq}
"""

from __future__ import annotations

import logging
import math
import secrets
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import msgpack
import zmq

from ..config import ControllerSettings
from ..errors import ProtocolError, SyncError
from .clock import ShowAnchor
from .protocol import (
    MAX_FRAME_BYTES,
    Command,
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
    SnapshotRequest,
    Welcome,
    decode,
    encode_anchor,
)

__all__ = ["Actions", "NodeInfo", "ControllerCore", "ControllerServer", "run_controller"]

log = logging.getLogger(__name__)

#: A node silent for this long (three missed ~1 s beats) is reported as lost.
LOST_AFTER_S = 3.0
_EVENT_GRACE_S = 1.0     # events are repeated in heartbeats until this long after they apply
_MAX_PENDING_EVENTS = 64
_MAX_DELAY_S = 60.0
_MAX_CAPTURES = 16       # per node, as reported by status
_MAX_EXTRA_BYTES = 1024  # a node's ``extra`` kept only up to this size (packed)
_STATUS_BYTES = 60000    # status reply budget, under the 64 KiB frame limit


@dataclass(frozen=True)
class Actions:
    """What the core wants done after one input.

    Attributes:
        replies: messages for the peer that sent the input (via the ROUTER).
        publish: messages for every subscriber (via the PUB).
    """

    replies: tuple[Message, ...] = ()
    publish: tuple[Message, ...] = ()


@dataclass
class NodeInfo:
    """What the controller knows about one peer that said hello or reported status.

    Attributes:
        node_id: the id the peer gave.
        role: its role (``"projector"``, ``"kiosk"``...).
        last_seen: controller time of its last message.
        frames, show_time, offset_us, rtt_us, captures, extra: from its last NodeStatus.
    """

    node_id: str
    role: str
    last_seen: float
    frames: int = 0
    show_time: float = 0.0
    offset_us: float = 0.0
    rtt_us: float = 0.0
    captures: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


class _BadArgs(Exception):
    """A command's arguments are wrong; the text becomes the reply's error."""


def _arg_number(args: Mapping[str, Any], key: str, default: float | None,
                lo: float, hi: float) -> float:
    v = args.get(key, default)
    if v is None:
        raise _BadArgs(f"{key!r} is required")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
            or not lo <= v <= hi:
        raise _BadArgs(f"{key!r} must be a number from {lo:g} to {hi:g}")
    return float(v)


def _check_keys(args: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(args) - set(known))
    if unknown:
        raise _BadArgs(f"unknown argument {unknown[0]!r} (known: {', '.join(known) or 'none'})")


class ControllerCore:
    """The controller's state machine: nodes, show anchor, session state, events.

    Args:
        now: controller clock at start; the show anchor starts as ``(now, 0.0, 1.0)``.
        session: this run's session id (peers notice a restart by it).
        heartbeat_s: how often :meth:`tick` publishes a heartbeat.
        lost_after_s: silence after which a node is reported lost.
        max_nodes: most peers tracked; the longest-silent one is forgotten first.
    """

    def __init__(self, now: float, session: str, *, heartbeat_s: float = 0.2,
                 lost_after_s: float = LOST_AFTER_S, max_nodes: int = 256) -> None:
        if heartbeat_s <= 0 or lost_after_s <= 0 or max_nodes < 1:
            raise ValueError("heartbeat_s, lost_after_s and max_nodes must be positive")
        self.session = session
        self.heartbeat_s = heartbeat_s
        self.lost_after_s = lost_after_s
        self.max_nodes = max_nodes
        self.anchor = ShowAnchor(now + 0.0, 0.0, 1.0)
        self.seq = 0
        self.state: dict[str, Any] = {"anchor": encode_anchor(self.anchor)}
        self.nodes: dict[str, NodeInfo] = {}
        self.malformed = 0
        self.last_malformed = ""
        self._peers: dict[Any, str] = {}          # routing id -> node id
        self._next_beat = now
        self._event_seq = 0
        self._pending: list[Event] = []
        self._published: list[Message] = []     # filled by command handlers
        self._commands: dict[str, Callable[[Mapping[str, Any], float], dict[str, Any]]] = {
            "status": self._cmd_status,
            "capture": self._cmd_capture,
            "seek": self._cmd_seek,
            "select": self._cmd_select,
        }

    # ------------------------------------------------------------------ inputs

    def handle(self, peer: Any, message: Message, now: float) -> Actions:
        """Take one decoded message from ``peer``, received at controller time ``now``.

        Args:
            peer: the sender's routing id (any hashable; the driver passes bytes).
            message: the decoded message.
            now: the controller clock when it arrived.

        Returns:
            The replies for ``peer`` and the messages to publish. A Pong's ``t1`` and ``t2``
            are both ``now``; the driver sets ``t2`` to the real send time.
        """
        if isinstance(message, Ping):
            self._touch_peer(peer, now)
            return Actions(replies=(Pong(message.t0, now, now),))
        if isinstance(message, Hello):
            self._seen(peer, message.node_id, message.role, now)
            return Actions(replies=(Welcome(self.session, self.seq),))
        if isinstance(message, SnapshotRequest):
            self._touch_peer(peer, now)
            return Actions(replies=(Snapshot.of(self.seq, self.state),))
        if isinstance(message, NodeStatus):
            info = self._seen(peer, message.node_id, None, now)
            info.frames, info.show_time = message.frames, message.show_time
            info.offset_us, info.rtt_us = message.offset_us, message.rtt_us
            # Keep only what status shows, so hostile reports cannot grow memory.
            info.captures = message.captures[-_MAX_CAPTURES:]
            info.extra = message.extra if _packed_size(message.extra) <= _MAX_EXTRA_BYTES \
                else {"dropped": f"extra over {_MAX_EXTRA_BYTES} bytes"}
            return Actions()
        if isinstance(message, Command):
            return self._command(message, now)
        # Anything else (a peer echoing controller messages back) is not a request.
        self.note_malformed(peer, ProtocolError(f"{type(message).__name__} is not a request"))
        return Actions()

    def note_malformed(self, peer: Any, error: ProtocolError) -> None:
        """Count a frame that could not be used (it is dropped) and keep its reason."""
        self.malformed += 1
        self.last_malformed = str(error)[:200]

    def tick(self, now: float) -> Actions:
        """Return what is due at ``now``: the heartbeat, and pending events repeated."""
        if now < self._next_beat:
            return Actions()
        # Keep the beat on its grid, but never try to catch up on missed beats.
        self._next_beat += self.heartbeat_s
        if self._next_beat <= now:
            self._next_beat = now + self.heartbeat_s
        show = self.anchor.show_time(now)
        self._pending = [e for e in self._pending if show < e.effective_at + _EVENT_GRACE_S]
        beat = Heartbeat(now, self.anchor, self.seq, self.session)
        return Actions(publish=(beat, *self._pending))

    def seconds_to_next_tick(self, now: float) -> float:
        """How long the driver may wait for input before calling :meth:`tick`."""
        return max(0.0, self._next_beat - now)

    # ------------------------------------------------------------------ queries

    def show_time(self, now: float) -> float:
        """The show time at controller time ``now``."""
        return self.anchor.show_time(now)

    def node_state(self, info: NodeInfo, now: float) -> str:
        """``"joined"`` or ``"lost"`` (silent for more than ``lost_after_s``)."""
        return "lost" if now - info.last_seen > self.lost_after_s else "joined"

    def status(self, now: float) -> dict[str, Any]:
        """The answer to the ``status`` command.

        It always fits one frame: past :data:`_STATUS_BYTES` the nodes lose ``captures``
        and ``extra`` (``trimmed``: true), then joined nodes are listed before lost ones
        and the rest are counted in ``omitted``.
        """
        nodes = [{
            "id": n.node_id, "role": n.role, "state": self.node_state(n, now),
            "frames": n.frames, "show_time": n.show_time, "offset_us": n.offset_us,
            "rtt_us": n.rtt_us, "captures": list(n.captures[-16:]), "extra": dict(n.extra),
            "last_seen_s": round(now - n.last_seen, 6),
        } for n in sorted(self.nodes.values(), key=lambda n: n.node_id)]
        data = {"show_time": self.show_time(now), "session": self.session, "seq": self.seq,
                "malformed": self.malformed, "last_malformed": self.last_malformed,
                "nodes": nodes}
        if _packed_size(data) <= _STATUS_BYTES:
            return data
        for n in nodes:
            n["captures"], n["extra"] = [], {}
        data["trimmed"] = True
        if _packed_size(data) > _STATUS_BYTES:
            ranked = sorted(nodes, key=lambda n: (n["state"] != "joined", n["role"] != "projector",
                                                  n["last_seen_s"]))
            used, kept = _packed_size({**data, "nodes": [], "omitted": len(nodes)}), []
            for n in ranked:
                used += _packed_size(n)
                if used > _STATUS_BYTES:
                    break
                kept.append(n)
            data["nodes"] = sorted(kept, key=lambda n: n["id"])
            data["omitted"] = len(nodes) - len(kept)
        return data

    # ------------------------------------------------------------------ internals

    def _touch_peer(self, peer: Any, now: float) -> None:
        node_id = self._peers.get(peer)
        if node_id is not None and node_id in self.nodes:
            self.nodes[node_id].last_seen = now

    def _seen(self, peer: Any, node_id: str, role: str | None, now: float) -> NodeInfo:
        info = self.nodes.get(node_id)
        if info is None:
            if len(self.nodes) >= self.max_nodes:
                oldest = min(self.nodes.values(), key=lambda n: n.last_seen)
                del self.nodes[oldest.node_id]
            info = self.nodes[node_id] = NodeInfo(node_id, role or "projector", now)
            log.info("node %s joined", node_id)
        elif self.node_state(info, now) == "lost":
            log.info("node %s is back", node_id)
        if role is not None:
            info.role = role
        info.last_seen = now
        if peer not in self._peers and len(self._peers) >= 4 * self.max_nodes:
            self._peers.clear()    # a flood of fake peers: forget routing, keep nodes
        self._peers[peer] = node_id
        return info

    def _command(self, cmd: Command, now: float) -> Actions:
        handler = self._commands.get(cmd.name)
        if handler is None:
            known = ", ".join(sorted(self._commands))
            return Actions(replies=(Reply(False, error=f"unknown command {cmd.name!r} "
                                          f"(known: {known})", req=cmd.req),))
        self._published.clear()
        try:
            data = handler(cmd.args, now)
        except _BadArgs as exc:
            self._published.clear()
            return Actions(replies=(Reply(False, error=f"{cmd.name}: {exc}", req=cmd.req),))
        publish = tuple(self._published)
        self._published.clear()
        return Actions(replies=(Reply(True, data, req=cmd.req),), publish=publish)

    def _publish(self, message: Message) -> None:
        self._published.append(message)

    def _cmd_status(self, args: Mapping[str, Any], now: float) -> dict[str, Any]:
        _check_keys(args, ())
        return self.status(now)

    def _cmd_capture(self, args: Mapping[str, Any], now: float) -> dict[str, Any]:
        _check_keys(args, ("tag", "delay"))
        tag = args.get("tag")
        if not isinstance(tag, str) or not 0 < len(tag) <= 128:
            raise _BadArgs("'tag' must be a string of 1 to 128 characters")
        delay = _arg_number(args, "delay", 0.5, 0.0, _MAX_DELAY_S)
        self._event_seq += 1
        event = Event("capture", self.show_time(now) + delay, {"tag": tag}, self._event_seq)
        self._pending = [*self._pending, event][-_MAX_PENDING_EVENTS:]
        self._publish(event)
        return {"effective_at": event.effective_at, "seq": event.seq}

    def _cmd_select(self, args: Mapping[str, Any], now: float) -> dict[str, Any]:
        _check_keys(args, ("item", "delay"))
        item = args.get("item")
        if not isinstance(item, str) or not 0 < len(item) <= 128:
            raise _BadArgs("'item' must be a string of 1 to 128 characters")
        delay = _arg_number(args, "delay", 0.3, 0.0, _MAX_DELAY_S)
        self._event_seq += 1
        event = Event("select", self.show_time(now) + delay, {"item": item}, self._event_seq)
        self._pending = [*self._pending, event][-_MAX_PENDING_EVENTS:]
        self._publish(event)
        # Also session state, so a node that joins later knows what is selected.
        self.seq += 1
        self.state["selected_item"] = {"item": item, "selected_at": event.effective_at}
        self._publish(KeyUpdate(self.seq, "selected_item", self.state["selected_item"]))
        return {"effective_at": event.effective_at, "seq": event.seq, "state_seq": self.seq}

    def _cmd_seek(self, args: Mapping[str, Any], now: float) -> dict[str, Any]:
        _check_keys(args, ("position", "rate", "delay"))
        position = _arg_number(args, "position", None, -1e9, 1e9)
        rate = _arg_number(args, "rate", 1.0, -16.0, 16.0)
        delay = _arg_number(args, "delay", 0.2, 0.0, _MAX_DELAY_S)
        self.anchor = ShowAnchor(now + delay, position, rate)
        self.seq += 1
        self.state["anchor"] = encode_anchor(self.anchor)
        self._publish(KeyUpdate(self.seq, "anchor", self.state["anchor"]))
        return {"anchor": self.state["anchor"], "seq": self.seq}


# --------------------------------------------------------------------------- driver


class ControllerServer:
    """Runs a :class:`ControllerCore` on a ROUTER (requests) and a PUB (broadcasts).

    Args:
        settings: the controller's settings (host, ports, heartbeat period).
        clock: the controller clock; ``time.monotonic`` unless a test passes another.
        lost_after_s: silence after which a node is reported lost.

    A port of 0 binds a free port; :attr:`state_port` and :attr:`publish_port` give the
    real ones after :meth:`bind`.
    """

    def __init__(self, settings: ControllerSettings, clock: Callable[[], float] = time.monotonic,
                 *, lost_after_s: float = LOST_AFTER_S) -> None:
        self.settings = settings
        self._clock = clock
        self._lost_after_s = lost_after_s
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._router: zmq.Socket[bytes] | None = None
        self._pub: zmq.Socket[bytes] | None = None
        self.core: ControllerCore | None = None
        self.state_port = settings.state_port
        self.publish_port = settings.publish_port
        self._warned_at = -math.inf
        self._unwarned = 0

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

        Raises:
            SyncError: a port cannot be bound (in use, bad host...).
        """
        if self._ctx is not None:
            return
        self._ctx = ctx = zmq.Context()
        try:
            self._router = _socket(ctx, zmq.ROUTER)
            # zmq drops (and disconnects) a peer that sends an over-long frame before
            # it is ever buffered whole.
            self._router.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            self.state_port = self._bind(self._router, self.settings.state_port)
            self._pub = _socket(ctx, zmq.PUB)
            self.publish_port = self._bind(self._pub, self.settings.publish_port)
        except SyncError:
            self.close()
            raise
        self.core = ControllerCore(self._clock(), secrets.token_hex(8),
                                   heartbeat_s=self.settings.heartbeat_s,
                                   lost_after_s=self._lost_after_s)
        log.info("controller %s: state %s, publish %s", self.core.session,
                 self.state_endpoint, self.publish_endpoint)

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
        try:
            while not stop.is_set():
                self._publish(core.tick(self._clock()))
                # Wake for the next beat, and at least every 0.1 s to notice ``stop``.
                wait = min(core.seconds_to_next_tick(self._clock()), 0.1)
                if router.poll(int(wait * 1000), zmq.POLLIN):
                    self._drain(core, router)
        finally:
            self.close()

    def close(self) -> None:
        """Close both sockets (linger 0) and the context."""
        for sock in (self._router, self._pub):
            if sock is not None:
                sock.close(linger=0)
        self._router = self._pub = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    # ------------------------------------------------------------------ internals

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
        for _ in range(limit):
            try:
                frames = router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            now = self._clock()       # t1 of a probe: as close to the receive as we can
            peer, payload = frames[0], frames[1:]
            try:
                message = decode(payload, peer=peer.hex())
            except ProtocolError as exc:
                core.note_malformed(peer, exc)
                self._warn(exc)
                continue
            actions = core.handle(peer, message, now)
            for reply in actions.replies:
                if isinstance(reply, Pong):
                    reply = replace(reply, t2=self._clock())
                frames = _encode(reply)
                if frames is not None:
                    _send(router, [peer, *frames])
            self._publish(actions)

    def _publish(self, actions: Actions) -> None:
        if self._pub is not None:
            for message in actions.publish:
                frames = _encode(message)
                if frames is not None:
                    _send(self._pub, frames)

    def _warn(self, exc: ProtocolError) -> None:
        # At most one warning every 5 s; the status command carries the full count.
        now = self._clock()
        self._unwarned += 1
        if now - self._warned_at >= 5.0:
            log.warning("dropped %d malformed frame(s); last: %s", self._unwarned, exc)
            self._warned_at, self._unwarned = now, 0


def _packed_size(value: Any) -> int:
    return len(msgpack.packb(value, use_bin_type=True))


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
                   on_ready: Callable[[ControllerServer], None] | None = None) -> int:
    """Run a controller until SIGINT or SIGTERM, then stop cleanly.

    Args:
        settings: the controller's settings.
        on_ready: called with the bound server before serving (e.g. to print its ports).

    Returns:
        The process exit code, 0 after a clean stop.

    Raises:
        SyncError: a port cannot be bound.
    """
    stop = threading.Event()
    server = ControllerServer(settings)
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
