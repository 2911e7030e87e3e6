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
                                       nodes: [{id, role, state: "joined"|"loading"|"hung"|
                                       "lost", frames, show_time, offset_us, rtt_us,
                                       captures (last 16), extra, last_seen_s,
                                       render_age_s}]}
    capture  tag: str, delay: s=0.5 -> publishes Event("capture", now_show + delay, {tag})
                                       {effective_at, seq}
    seek     position: s, rate=1.0, delay: s=0.2
                                    -> new anchor from controller time now + delay;
                                       published as a key-update; {anchor, seq}
    select   item: str, delay: s=0.3 -> publishes Event("select", now_show + delay, {item})
                                       and sets state "selected_item" to {item,
                                       selected_at} (a key-update); {effective_at, seq,
                                       state_seq}; counts as kiosk activity (touch)

With a show that has a cue list, a :class:`~exhibit_engine.show.control.ShowControl` runs
the show (see :mod:`._show`): ``go``, ``next``, ``back``, ``pause``, ``resume``, ``goto``,
``seek`` (then through the control), ``blackout``, ``panic``, ``touch`` and ``language``;
``status`` gains ``show: {program, cue, paused, waiting, panic, blackout, open}``; the
heartbeat tick runs the schedule and the attract loop.

Who may send what is :data:`ROLE_COMMANDS` (an operator everything; a kiosk ``select``,
``touch``, ``language`` and ``status``; a projector ``status``). The role is the one the
peer's CURVE key is allow-listed for (``[security] curve = true``: the ZAP handler of
:mod:`.auth` names it and the key's id as each message's User-Id, ``ROLE:KEY_ID``),
else the role its hello claimed. With CURVE a node id also belongs to the key that holds
it: while its peer is not lost, another key (even one of the same role) cannot say hello
or report status under that id; ``[security.displays]`` binds a display's id to one
projector key for good (:attr:`ControllerCore.bound_ids`). A refusal is a reply naming
the rule (``kiosk may not
send 'seek'``); ``status`` counts them in ``refused`` / ``last_refused``, and refused
CURVE handshakes in ``handshakes_refused``.

With a state file (:mod:`.persist`) the server resumes the saved session at start and
saves it whenever it changes, every few seconds, and on the way out.
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
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack
import zmq

from ..config import ControllerSettings
from ..errors import ProtocolError, SyncError
from ._fields import check_value
from ._show import ShowCommands
from .auth import ServerCurve, ZapHandler, apply_server, server_curve, split_user_id
from ..show.anchor import ShowAnchor
from .curve_keys import CurvePublicKey
from .persist import SAVE_EVERY_S, SavedSession, load_session, save_session
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
    SnapshotRequest,
    Welcome,
    decode,
    decode_anchor,
    encode_anchor,
)
from .snapshot import snapshot_messages

__all__ = ["Actions", "NodeInfo", "ControllerCore", "ControllerServer", "run_controller",
           "simulated_wall_clock", "ROLE_COMMANDS"]

log = logging.getLogger(__name__)

#: A projector whose status beats (sent every 0.1 s) stop for this long is reported lost.
LOST_AFTER_S = 0.35
#: A projector whose render loop has not run for this long is reported hung.
HUNG_AFTER_S = 2.0
#: A kiosk or operator (any message counts, they send no beats) silent this long is lost.
PEER_LOST_AFTER_S = 3.0
#: A peer gets at most one snapshot answer this often (a 20-byte request can ask for
#: megabytes, so a flood of requests must not turn into a flood of answers).
SNAPSHOT_EVERY_S = 0.1
#: Which commands each role may send, as plain data (``"*"``: every command). The role
#: is the one its CURVE key is allow-listed for, or in development mode (no CURVE) the
#: one its hello claimed; a peer that never said hello there counts as an operator
#: (``exhibit ctl`` sends no hello). A projector only reads ``status``.
ROLE_COMMANDS: dict[str, frozenset[str]] = {
    "operator": frozenset({"*"}),
    "kiosk": frozenset({"select", "touch", "language", "status"}),
    "projector": frozenset({"status"}),
}
_EVENT_GRACE_S = 1.0     # events are repeated in heartbeats until this long after they apply
_EVENT_REPEATS = 2       # ...and after their first copy in at most this many heartbeats
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
        last_seen: controller time of its last sign of life: for a projector its last
            hello or NodeStatus (clock probes do not count), for other roles any message.
        frames, show_time, offset_us, rtt_us, captures, extra: from its last NodeStatus.
        status_at: controller time of its last NodeStatus (``None``: none yet).
        render_age_s, loading_s: from its last NodeStatus (see the protocol).
        key: the id of the CURVE key that holds this node id (``""`` without CURVE).
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
    status_at: float | None = None
    render_age_s: float = 0.0
    loading_s: float = 0.0
    key: str = ""


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


class ControllerCore(ShowCommands):
    """The controller's state machine: nodes, show anchor, session state, events.

    Args:
        now: controller clock at start; the show anchor starts as ``(now, 0.0, 1.0)``.
        session: this run's session id (peers notice a restart by it).
        heartbeat_s: how often :meth:`tick` publishes a heartbeat.
        lost_after_s: a projector without a status beat for this long is reported lost.
        hung_after_s: a projector whose render loop has not run for this long is
            reported hung (unless it announced it is loading).
        peer_lost_after_s: a kiosk or operator silent this long is reported lost.
        max_nodes: most peers tracked; the longest-silent one is forgotten first.
    """

    def __init__(self, now: float, session: str, *, heartbeat_s: float = 0.2,
                 lost_after_s: float = LOST_AFTER_S, hung_after_s: float = HUNG_AFTER_S,
                 peer_lost_after_s: float = PEER_LOST_AFTER_S, max_nodes: int = 256) -> None:
        if min(heartbeat_s, lost_after_s, hung_after_s, peer_lost_after_s) <= 0 \
                or max_nodes < 1:
            raise ValueError("heartbeat_s, lost_after_s, hung_after_s, peer_lost_after_s and "
                             "max_nodes must be positive")
        self.session = session
        self.heartbeat_s = heartbeat_s
        self.lost_after_s = lost_after_s
        self.hung_after_s = hung_after_s
        self.peer_lost_after_s = peer_lost_after_s
        self.max_nodes = max_nodes
        self.anchor = ShowAnchor(now + 0.0, 0.0, 1.0)
        self.seq = 0
        self.state: dict[str, Any] = {"anchor": encode_anchor(self.anchor)}
        self.nodes: dict[str, NodeInfo] = {}
        self.malformed = 0
        self.last_malformed = ""
        self.refused = 0                          # hellos and commands refused by role
        self.last_refused = ""
        self.handshakes_refused = 0               # CURVE keys refused by ZAP (the driver's)
        self._refusal_logged_at = -math.inf
        self._unlogged_refusals = 0
        self.role_commands: dict[str, frozenset[str]] = dict(ROLE_COMMANDS)
        #: With CURVE: node id -> the only key id that may use it (``[security.displays]``);
        #: a key named here may use no other node id.
        self.bound_ids: dict[str, str] = {}
        self._peers: dict[Any, str] = {}          # routing id -> node id
        self._snapshot_cache: tuple[tuple[int, int], list[Message]] | None = None
        self._snapshot_sent: dict[Any, float] = {}    # routing id -> last answer
        self._next_beat = now
        self._event_seq = 0
        self._pending: list[Event] = []
        self._copies_left: dict[int, int] = {}  # event seq -> heartbeat copies to go
        self._published: list[Message] = []     # filled by command handlers
        self._commands: dict[str, Callable[[Mapping[str, Any], float], dict[str, Any]]] = {
            "status": self._cmd_status,
            "capture": self._cmd_capture,
            "seek": self._cmd_seek,
            "select": self._cmd_select,
            **self._show_handlers(),     # go, pause, blackout... (see ._show)
        }

    # ------------------------------------------------------------------ inputs

    def handle(self, peer: Any, message: Message, now: float, role: str | None = None,
               key: str = "") -> Actions:
        """Take one decoded message from ``peer``, received at controller time ``now``.

        Args:
            peer: the sender's routing id (any hashable; the driver passes bytes).
            message: the decoded message.
            now: the controller clock when it arrived.
            role: the role its CURVE key authenticated (the ZAP User-Id), or ``None`` in
                development mode, where the role its hello claimed counts instead. A
                hello claiming another role than its key's is refused (counted in
                ``refused``), and commands are granted by :attr:`role_commands`.
            key: the id of its CURVE key (from the User-Id), ``""`` in development
                mode. A hello or status under a node id that another key holds, while
                that node is not lost, is refused (counted in ``refused``).

        Returns:
            The replies for ``peer`` and the messages to publish. A Pong's ``t1`` and ``t2``
            are both ``now``; the driver sets ``t2`` to the real send time.
        """
        if isinstance(message, Ping):
            self._touch_peer(peer, now)
            return Actions(replies=(Pong(message.t0, now, now),))
        if isinstance(message, Hello):
            if role is not None and message.role != role:
                return self._refuse(f"hello from {message.node_id[:64]!r} refused: it "
                                    f"claims role {message.role!r} but its key is "
                                    f"{_a(role)} key", 0, now)
            taken = self._taken(message.node_id, role, now, key)
            if taken:
                return self._refuse(taken, 0, now)
            self._seen(peer, message.node_id, message.role, now, key)
            return Actions(replies=(Welcome(self.session, self.seq),))
        if isinstance(message, SnapshotRequest):
            self._touch_peer(peer, now)
            if now - self._snapshot_sent.get(peer, -math.inf) < SNAPSHOT_EVERY_S:
                return Actions()      # too soon: the peer asks again after its timeout
            if len(self._snapshot_sent) >= 4 * self.max_nodes:
                self._snapshot_sent.clear()
            self._snapshot_sent[peer] = now
            return Actions(replies=self._snapshot_answer(message.req))
        if isinstance(message, NodeStatus):
            taken = self._taken(message.node_id, role, now, key)
            if taken:
                return self._refuse(taken, 0, now)
            info = self._seen(peer, message.node_id, role, now, key)
            info.frames, info.show_time = message.frames, message.show_time
            info.offset_us, info.rtt_us = message.offset_us, message.rtt_us
            info.status_at = now
            info.render_age_s, info.loading_s = message.render_age_s, message.loading_s
            # Keep only what status shows, so hostile reports cannot grow memory.
            info.captures = message.captures[-_MAX_CAPTURES:]
            info.extra = message.extra if _packed_size(message.extra) <= _MAX_EXTRA_BYTES \
                else {"dropped": f"extra over {_MAX_EXTRA_BYTES} bytes"}
            return Actions()
        if isinstance(message, Command):
            return self._command(message, now, role or self._claimed_role(peer))
        # Anything else (a peer echoing controller messages back) is not a request.
        self.note_malformed(peer, ProtocolError(f"{type(message).__name__} is not a request"))
        return Actions()

    def note_malformed(self, peer: Any, error: ProtocolError) -> None:
        """Count a frame that could not be used (it is dropped) and keep its reason."""
        self.malformed += 1
        self.last_malformed = str(error)[:200]

    def tick(self, now: float, wall_time: datetime | None = None) -> Actions:
        """Return what is due at ``now``: the show control's changes (schedule, attract,
        cue events), the heartbeat, and pending events repeated.

        Args:
            now: the controller clock.
            wall_time: the wall clock now (aware); ``None`` runs the last one on.
        """
        if now < self._next_beat:
            return Actions()
        # Keep the beat on its grid, but never try to catch up on missed beats.
        self._next_beat += self.heartbeat_s
        if self._next_beat <= now:
            self._next_beat = now + self.heartbeat_s
        sent = {e.seq for e in self._pending}     # published when made (commands)
        updates = self._tick_show(now, wall_time)
        show = self.anchor.show_time(now)
        # Each event goes out when made and again in the next _EVENT_REPEATS heartbeats,
        # for a node that missed the first copy; an event the show tick made has its
        # first copy in this heartbeat. More copies only wake every node for nothing: a
        # node that joins later takes the state from a snapshot.
        repeat = [e for e in self._pending if show < e.effective_at + _EVENT_GRACE_S]
        left = {e.seq: self._copies_left.get(e.seq, _EVENT_REPEATS + (e.seq not in sent)) - 1
                for e in repeat}
        self._pending = [e for e in repeat if left[e.seq] > 0]
        self._copies_left = {seq: n for seq, n in left.items() if n > 0}
        beat = Heartbeat(now, self.anchor, self.seq, self.session)
        return Actions(publish=(*updates, beat, *repeat))

    def seconds_to_next_tick(self, now: float) -> float:
        """How long the driver may wait for input before calling :meth:`tick`."""
        return max(0.0, self._next_beat - now)

    # ------------------------------------------------------------------ state

    def load_state(self, items: Mapping[str, Any]) -> int:
        """Set many session-state keys at once (seeding a show, a bench, a resume).

        The keys are merged into :attr:`state` under ONE new sequence number and nothing
        is published: nodes see the heartbeat's ``seq`` ahead of theirs and take a fresh
        snapshot (the Clone rule for a gap), so 10,000 keys cost no flood of key-updates.
        An ``"anchor"`` among them becomes the show anchor.

        Args:
            items: state keys and their values (plain values, see the protocol).

        Returns:
            The new state sequence number.

        Raises:
            ProtocolError: a key or value breaks the wire rules, or the state would pass a
                snapshot limit (:data:`~.protocol.MAX_STATE_KEYS` keys,
                :data:`~.protocol.MAX_STATE_BYTES` bytes); the state is then unchanged.
        """
        merged = {**self.state, **items}
        anchor = decode_anchor(merged["anchor"]) if "anchor" in items else self.anchor
        merged["anchor"] = encode_anchor(anchor)
        answer = snapshot_messages(0, self.seq + 1, merged)    # checks every limit
        self.state, self.anchor = merged, anchor
        self.seq += 1
        self._snapshot_cache = ((self.seq, len(self.state)), answer)
        return self.seq

    def _snapshot_answer(self, req: int) -> tuple[Message, ...]:
        """The parts and closing Snapshot of the current state, for request ``req``.

        Built once per state sequence number (10,000 keys take ~15 ms to split and pack)
        and re-stamped with each request's nonce.
        """
        mark = (self.seq, len(self.state))
        if self._snapshot_cache is None or self._snapshot_cache[0] != mark:
            try:
                self._snapshot_cache = (mark, snapshot_messages(0, self.seq, self.state))
            except ProtocolError as exc:
                # Only a bug can get here (every setter checks its values); say so loudly
                # and answer nothing rather than a snapshot that would not verify.
                log.error("cannot send a snapshot of the session state: %s", exc)
                return ()
        return tuple(replace(m, req=req) for m in self._snapshot_cache[1])

    # ------------------------------------------------------------------ persistence

    def saved(self, now: float, wall_time: float, show_id: str) -> SavedSession:
        """What the state file keeps (see :mod:`.persist`), at controller time ``now``
        and wall clock ``wall_time`` (Unix seconds)."""
        control = self.show_control
        return SavedSession(
            show=show_id, wall_time=wall_time, position=self.show_time(now),
            rate=self.anchor.rate, seq=self.seq, event_seq=self._event_seq,
            state={k: v for k, v in self.state.items() if k != "anchor"},
            control=None if control is None else control.to_dict())

    @property
    def save_mark(self) -> tuple[int, int]:
        """Changes whenever something the state file keeps changes (state or events)."""
        return self.seq, self._event_seq

    def restore(self, saved: SavedSession, now: float, wall_time: float) -> None:
        """Resume a saved session: show time runs on from where it was saved (by the wall
        clock), and the state and event sequence numbers continue.

        Values that break the wire rules (a hand-edited file) are left out with a warning,
        so a bad file can never stop the controller from serving snapshots. The show
        control's own state (``saved.control``) is for :meth:`attach_show`.
        """
        state: dict[str, Any] = {}
        for key, value in saved.state.items():
            try:
                if not 0 < len(key) <= 256:
                    raise ProtocolError(f"state key {key[:40]!r}: 1 to 256 characters")
                check_value(value, f"state key {key!r}", None)
            except ProtocolError as exc:
                log.warning("restored state: dropped %s", exc)
                continue
            state[key] = value
        self.seq = max(self.seq, saved.seq)
        self._event_seq = max(self._event_seq, saved.event_seq)
        anchor = encode_anchor(ShowAnchor(now + 0.0, saved.position_at(wall_time), saved.rate))
        try:
            self.load_state({**state, "anchor": anchor})
        except ProtocolError as exc:
            log.warning("restored state dropped: %s", exc)
            self.load_state({"anchor": anchor})
        log.info("resumed the saved show at %.3f s (rate %g), state seq %d, event seq %d",
                 self.anchor.position, self.anchor.rate, self.seq, self._event_seq)

    # ------------------------------------------------------------------ queries

    def show_time(self, now: float) -> float:
        """The show time at controller time ``now`` (an anchor announced for a moment
        later takes effect then, as on the nodes)."""
        if self.show_control is not None:
            return self.show_control.position(now)
        return self.anchor.show_time(now)

    def node_state(self, info: NodeInfo, now: float) -> str:
        """The peer's state at controller time ``now``.

        Returns:
            ``"loading"``: a projector inside the scene load it announced (``loading_s``
            of its last status; it may fall silent meanwhile, e.g. while a loader holds
            the interpreter); ``"lost"``: no status beat for ``lost_after_s`` (a kiosk or
            operator: no message for ``peer_lost_after_s``); ``"hung"``: beats arrive but
            its render loop has not run for ``hung_after_s``; else ``"joined"``.
        """
        if info.role != "projector":
            return "lost" if now - info.last_seen > self.peer_lost_after_s else "joined"
        if info.status_at is not None and info.loading_s > 0 \
                and now < info.status_at + info.loading_s:
            return "loading"
        if now - info.last_seen > self.lost_after_s:
            return "lost"
        if self._render_age(info, now) > self.hung_after_s:
            return "hung"
        return "joined"

    @staticmethod
    def _render_age(info: NodeInfo, now: float) -> float:
        """Seconds since the peer's render loop last ran, as of ``now`` (0 before its
        first status)."""
        if info.status_at is None:
            return 0.0
        return info.render_age_s + max(0.0, now - info.status_at)

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
            "render_age_s": round(self._render_age(n, now), 6),
        } for n in sorted(self.nodes.values(), key=lambda n: n.node_id)]
        data = {"show_time": self.show_time(now), "session": self.session, "seq": self.seq,
                "malformed": self.malformed, "last_malformed": self.last_malformed,
                "refused": self.refused, "last_refused": self.last_refused,
                "handshakes_refused": self.handshakes_refused,
                "nodes": nodes}
        if self.show_control is not None:
            data["show"] = self.show_summary(now)
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
        # A projector's liveness is its status beat alone: its clock probes come from the
        # same agent thread but say nothing about whether it is still drawing.
        node_id = self._peers.get(peer)
        info = self.nodes.get(node_id) if node_id is not None else None
        if info is not None and info.role != "projector":
            info.last_seen = now

    def _seen(self, peer: Any, node_id: str, role: str | None, now: float,
              key: str = "") -> NodeInfo:
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
        if key:
            info.key = key      # a lost node's id passes to the key that claims it next
        info.last_seen = now
        if peer not in self._peers and len(self._peers) >= 4 * self.max_nodes:
            self._peers.clear()    # a flood of fake peers: forget routing, keep nodes
        self._peers[peer] = node_id
        return info

    def _taken(self, node_id: str, role: str | None, now: float, key: str = "") -> str:
        """With CURVE: why ``node_id`` may not be used by a peer of ``role`` with key
        ``key`` (:attr:`bound_ids` binds it, or this key, elsewhere; or another role's
        peer, or another key, holds it and is not lost), else ``""``. A kiosk key cannot
        pose as a projector in ``status``, nor one projector's key as another projector."""
        if role is None:
            return ""
        owner = self.bound_ids.get(node_id)
        if key and owner is not None and owner != key:
            return (f"node id {node_id[:64]!r} refused for {role} key {key[:16]}: venue.toml "
                    f"[security.displays] binds it to key {owner}")
        if key and owner is None and key in self.bound_ids.values():
            mine = sorted(n for n, k in self.bound_ids.items() if k == key)
            return (f"node id {node_id[:64]!r} refused for {role} key {key[:16]}: venue.toml "
                    f"[security.displays] binds that key to {', '.join(mine)}")
        info = self.nodes.get(node_id)
        if info is None or self.node_state(info, now) == "lost":
            return ""
        if info.role != role:
            return (f"node id {node_id[:64]!r} refused for {_a(role)} key: {_a(info.role)} "
                    "holds it")
        if key and info.key and info.key != key:
            return (f"node id {node_id[:64]!r} refused for {role} key {key[:16]}: it belongs "
                    f"to key {info.key} until that node is lost (a node id is bound to "
                    "the key that holds it)")
        return ""

    def _claimed_role(self, peer: Any) -> str:
        """Development mode: the role this peer's hello claimed; ``"operator"`` for a
        peer that never said hello (``exhibit ctl`` and ``status`` send none)."""
        info = self.nodes.get(self._peers.get(peer, ""))
        return info.role if info is not None else "operator"

    def may_send(self, role: str, command: str) -> bool:
        """Whether ``role`` may send ``command`` (see :data:`ROLE_COMMANDS`)."""
        allowed = self.role_commands.get(role, frozenset())
        return "*" in allowed or command in allowed

    def _refuse(self, why: str, req: int, now: float) -> Actions:
        self.refused += 1
        self.last_refused = why[:200]
        # At most one line every 5 s (a refused node says hello 5 times a second); the
        # status command carries the full count.
        self._unlogged_refusals += 1
        if now - self._refusal_logged_at >= 5.0:
            log.warning("refused %d request(s) by role; last: %s", self._unlogged_refusals, why)
            self._refusal_logged_at, self._unlogged_refusals = now, 0
        return Actions(replies=(Reply(False, error=why, req=req),))

    def _command(self, cmd: Command, now: float, role: str = "operator") -> Actions:
        if not self.may_send(role, cmd.name):
            allowed = sorted(c for c in self._commands if self.may_send(role, c))
            return self._refuse(f"{role} may not send {cmd.name!r} ({role} commands: "
                                f"{', '.join(allowed) or 'none'})", cmd.req, now)
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
        self._show_activity(now)     # a kiosk in use: the attract loop gives way
        return {"effective_at": event.effective_at, "seq": event.seq, "state_seq": self.seq}

    def _cmd_seek(self, args: Mapping[str, Any], now: float) -> dict[str, Any]:
        if self.show_control is not None:
            return self._cmd_show("seek", args, now)
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
        settings: the controller's settings (host, ports, heartbeat period, state file).
        clock: the controller clock; ``time.monotonic`` unless a test passes another.
        lost_after_s: silence after which a projector is reported lost; the venue's
            ``[network] lost_after_s`` if omitted (``hung_after_s`` always comes from it).
        wall_clock: the wall clock, an aware :class:`~datetime.datetime` (show schedules
            and the state file use it); the real one unless a test or ``--sim-time``
            passes another.

    A port of 0 binds a free port; :attr:`state_port` and :attr:`publish_port` give the
    real ones after :meth:`bind`. With ``settings.state_file`` the session is resumed from
    that file at :meth:`bind` and saved to it whenever it changes, every
    :data:`~.persist.SAVE_EVERY_S` seconds and on the way out.
    """

    def __init__(self, settings: ControllerSettings, clock: Callable[[], float] = time.monotonic,
                 *, lost_after_s: float | None = None,
                 wall_clock: Callable[[], datetime] | None = None) -> None:
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
        self._wall = wall_clock or _real_wall_clock
        self._curve: ServerCurve | None = None
        self._zap: ZapHandler | None = None
        self._saved_mark: tuple[int, int] | None = None
        self._next_save = -math.inf
        self._save_failed = False

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
            SyncError: a port cannot be bound (in use, bad host...).
            ConfigError: curve is on and the controller's key file is missing or bad.
        """
        if self._ctx is not None:
            return
        curve = server_curve(self.settings.venue.security, self.settings.key_file)
        self._ctx = ctx = zmq.Context()
        try:
            if curve is not None:
                # Before any socket binds: no handshake may ever happen without it.
                self._zap = ZapHandler(ctx, dict(curve.roles))
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
        except SyncError:
            self.close()
            raise
        self.core = ControllerCore(self._clock(), secrets.token_hex(8),
                                   heartbeat_s=self.settings.heartbeat_s,
                                   lost_after_s=(self._lost_after_s
                                                 or self.settings.venue.network.lost_after_s),
                                   hung_after_s=self.settings.venue.network.hung_after_s)
        if curve is not None:
            self.core.bound_ids = {
                display: CurvePublicKey(z85).key_id
                for display, z85 in self.settings.venue.security.displays}
        saved = None
        if self.settings.state_file:
            saved = load_session(self.settings.state_file, self.settings.show.id)
            if saved is not None:
                self.core.restore(saved, self._clock(), self._wall().timestamp())
        self.core.attach_show(self.settings.show, self._clock(), self._wall(),
                              restored=saved.control if saved is not None else None)
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
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        try:
            while not stop.is_set():
                self._publish(core.tick(self._clock(), self._wall()))
                # Wake for the next beat, and at least every 0.1 s to notice ``stop``.
                # (One poller for the whole loop, rounded up so a wait under 1 ms sleeps.)
                wait = min(core.seconds_to_next_tick(self._clock()), 0.1)
                if poller.poll(math.ceil(wait * 1000)):
                    self._drain(core, router)
                self.save()
        finally:
            self.save(force=True)
            self.close()

    def save(self, force: bool = False) -> bool:
        """Write the state file if the session changed or :data:`~.persist.SAVE_EVERY_S`
        passed (always with ``force``); returns whether it wrote.

        A write that fails is logged once (until one succeeds again) and never stops the
        show.
        """
        core, path = self.core, self.settings.state_file
        if core is None or not path:
            return False
        now = self._clock()
        if not force and core.save_mark == self._saved_mark and now < self._next_save:
            return False
        try:
            save_session(path, core.saved(now, self._wall().timestamp(),
                                          self.settings.show.id))
        except (OSError, ValueError) as exc:
            if not self._save_failed:
                log.warning("cannot save the controller state to %s: %s", path, exc)
            self._save_failed = True
            self._next_save = now + SAVE_EVERY_S
            return False
        self._save_failed = False
        self._saved_mark, self._next_save = core.save_mark, now + SAVE_EVERY_S
        return True

    def close(self) -> None:
        """Close both sockets (linger 0), then the ZAP handler, then the context."""
        for sock in (self._router, self._pub):
            if sock is not None:
                sock.close(linger=0)
        self._router = self._pub = None
        if self._zap is not None:
            self._zap.stop()
            self._zap = None
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
        curve = self._curve is not None
        if self._zap is not None:
            core.handshakes_refused = self._zap.refused
        for _ in range(limit):
            role, key = None, ""
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
                core.note_malformed(peer, exc)
                self._warn(exc)
                continue
            actions = core.handle(peer, message, now, role, key)
            # Broadcasts first: an event reaches the nodes before the sender hears "ok".
            self._publish(actions)
            for reply in actions.replies:
                if isinstance(reply, Pong):
                    reply = replace(reply, t2=self._clock())
                frames = _encode(reply)
                if frames is not None:
                    _send(router, [peer, *frames])

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


def _real_wall_clock() -> datetime:
    return datetime.now(UTC).astimezone()


def simulated_wall_clock(start: datetime,
                         clock: Callable[[], float] = time.monotonic) -> Callable[[], datetime]:
    """A wall clock that reads ``start`` now and runs on at the pace of ``clock``.

    For tests and rehearsals (``exhibit controller --sim-time``): the show's schedule
    sees, say, a Sunday in March at 14:03 while the machine's clock says otherwise.

    Args:
        start: the simulated instant at the moment of this call (an aware datetime; a
            naive one is taken as local time).
        clock: the monotonic clock the simulated one follows.
    """
    if start.tzinfo is None:
        start = start.astimezone()
    zone, start_utc = start.tzinfo, start.astimezone(UTC)
    origin = clock()
    # Add in UTC: an aware datetime plus a timedelta is wall-clock arithmetic in its own
    # zone, which would step straight over a daylight-saving change.
    return lambda: (start_utc + timedelta(seconds=clock() - origin)).astimezone(zone)


def _a(role: str) -> str:
    """``"a kiosk"``, ``"an operator"``."""
    return f"an {role}" if role[:1] in ("a", "e", "i", "o", "u") else f"a {role}"


def _user_id(frame: zmq.Frame) -> str | None:
    """The ZAP User-Id of a received message (``ROLE:KEY_ID``), if it has one."""
    try:
        user_id = frame.get("User-Id")
    except zmq.ZMQError:
        return None
    return user_id if isinstance(user_id, str) and user_id else None


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
                   on_ready: Callable[[ControllerServer], None] | None = None, *,
                   wall_clock: Callable[[], datetime] | None = None) -> int:
    """Run a controller until SIGINT or SIGTERM, then stop cleanly.

    Args:
        settings: the controller's settings.
        on_ready: called with the bound server before serving (e.g. to print its ports).
        wall_clock: the wall clock (see :class:`ControllerServer`); the real one if omitted.

    Returns:
        The process exit code, 0 after a clean stop.

    Raises:
        SyncError: a port cannot be bound.
    """
    stop = threading.Event()
    server = ControllerServer(settings, wall_clock=wall_clock)
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
