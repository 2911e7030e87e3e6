"""The controller's pure core: the one source of truth for show time, session state and events.

:class:`ControllerCore` is a state machine, as pyzmq's ``auth/base.py`` is to its drivers.
It takes decoded messages and the time, and returns :class:`Actions` (replies to the
sender, messages to publish). It never touches a socket or reads a clock, so failover and
bad-input tests are plain calls; :mod:`.controller` runs it on ZeroMQ sockets.

It is made of parts that each own one concern:

- :class:`~._peers.Peers`: who is there (node ids, roles, keys, routing ids);
- :mod:`.commands`: which role may send what, and every command's arguments (each
  command passes :func:`~.commands.check_command` before a handler sees it);
- :class:`~._show.ShowSession`: the show control (a cue list's: schedule, attract loop),
  whose changes the core applies to its own state (seq numbers, key updates, events);
- :mod:`._status`: the ``status`` reply, trimmed to one frame;
- :class:`~._replies.RecentRequests`: a command's ``id`` retried acts once;
- :class:`~._core_replica.CoreReplica`: the replica a controller pair's passive holds,
  and its adoption at a takeover.

Commands and replies: :mod:`.commands`, ``docs/protocol.md`` §7; one from a peer that has
not said hello is refused (:data:`HELLO_FIRST`). Every event takes effect at a controller
time (``controller_at``, when its anchor does), with the show time there as
``effective_at``.

Who may send what is :data:`~.commands.ROLE_COMMANDS`. The role is the one the peer's
CURVE key is allow-listed for (the ZAP handler of :mod:`.auth` names it and the key's id as
each message's User-Id, ``ROLE:KEY_ID``), else the role its hello claimed. With CURVE a
node id belongs to the key that holds it while its peer is not lost, and
``[security.displays]`` binds a display's id to one projector key for good
(:attr:`ControllerCore.bound_ids`). A refusal is a reply naming the rule; ``status``
counts them (``refused``, ``last_refused``, ``handshakes_refused``).

With a state file (:mod:`.persist`) the driver resumes :meth:`ControllerCore.restore` and
saves :meth:`ControllerCore.saved` whenever :attr:`ControllerCore.save_mark` changes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any

from ..config import ShowConfig
from ..errors import CommandError, ProtocolError, VersionMismatch
from ..show.anchor import ShowAnchor
from ..show.control import ShowControl
from ._core_commands import CoreCommands
from ._core_replica import CoreReplica
from ._gate import GATE_OFF, StartGate
from ._peers import NodeInfo, Peers, a_role
from ._replies import RecentRequests
from ._show import ShowChange, ShowSession
from ._status import fit_status
from .commands import COMMANDS, ROLE_COMMANDS, check_command
from .persist import SavedSession, wire_safe
from .protocol import (
    PROTOCOL_VERSION,
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
    decode_anchor,
    encode_anchor,
)
from .snapshot import DEBUG_FILL_PREFIX, snapshot_messages

__all__ = ["Actions", "ControllerCore", "HELLO_FIRST", "HUNG_AFTER_S",
           "LOST_AFTER_S", "PEER_LOST_AFTER_S", "SNAPSHOT_EVERY_S"]

# The controller's log, whichever of its modules writes the line.
log = logging.getLogger("exhibit_engine.sync.controller")

#: A projector whose status beats (sent every 0.1 s) stop for this long is reported lost.
LOST_AFTER_S = 0.35
#: A projector whose render loop has not run for this long is reported hung.
HUNG_AFTER_S = 2.0
#: A kiosk or operator (any message counts, they send no beats) silent this long is lost.
PEER_LOST_AFTER_S = 3.0
#: The refusal of a command from a peer that has not said hello (or whose hello this
#: controller no longer holds: it restarted, or forgot the peer); its reply's data is
#: ``{"hello_first": true}``, so a client says hello and sends the command again.
HELLO_FIRST = ("say hello first: this controller takes commands only from a peer it has "
               "welcomed (docs/protocol.md §5)")
#: A peer gets at most one snapshot answer this often (a 20-byte request can ask for
#: megabytes, so a flood of requests must not turn into a flood of answers).
SNAPSHOT_EVERY_S = 0.1
_EVENT_GRACE_S = 1.0     # events are repeated in heartbeats until this long after they apply
_EVENT_REPEATS = 2       # ...and after their first copy in at most this many heartbeats
_MAX_PENDING_EVENTS = 64

# A command handler: checked arguments and the time in, reply data and messages out.
_Handler = Callable[[Mapping[str, Any], float], tuple[dict[str, Any], list[Message]]]


@dataclass(frozen=True)
class Actions:
    """What the core wants done after one input.

    Attributes:
        replies: messages for the peer that sent the input (via the ROUTER).
        publish: messages for every subscriber (via the PUB).
    """

    replies: tuple[Message, ...] = ()
    publish: tuple[Message, ...] = ()


class ControllerCore(CoreCommands, CoreReplica):
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

    Attributes:
        peers: who is there (:class:`~._peers.Peers`).
        show: the show control and its languages (:class:`~._show.ShowSession`).
        role_commands: which role may send which command; a copy of
            :data:`~.commands.ROLE_COMMANDS` (granting is editing this data).
        insecure: set (to why) when the controller listens on a network address without
            CURVE (``--insecure``); ``status`` repeats it.
        items: the item ids the show's bundles hold, which ``select`` may name; ``None``
            (the bundles are not known here) lets any item id through.
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
        self._prev_anchor = self.anchor     # in force until self.anchor's controller_time
        self.seq = 0
        self.state: dict[str, Any] = {"anchor": encode_anchor(self.anchor)}
        self.peers = Peers(max_nodes, lambda info, t: self.node_state(info, t) == "lost")
        self.show = ShowSession()
        self.malformed = 0
        self.last_malformed = ""
        self.refused = 0                          # hellos and commands refused by role
        self.last_refused = ""
        self.handshakes_refused = 0               # CURVE keys refused by ZAP (the driver's)
        self._refusal_logged_at = -math.inf
        self._unlogged_refusals = 0
        self.role_commands: dict[str, frozenset[str]] = dict(ROLE_COMMANDS)
        self.recent = RecentRequests()            # replies by request id (retries)
        self.acted = 0                            # commands carried out (a replica's mark)
        self.items: frozenset[str] | None = None
        self.insecure: str | None = None          # why this controller is open, if it is
        self.debug_commands = True                # debug-fill (the driver: off with CURVE)
        self._snapshot_cache: tuple[tuple[int, int], list[Message]] | None = None
        self._snapshot_sent: dict[Any, float] = {}    # routing id -> last answer
        self._next_beat = now
        self._event_seq = 0
        self._pending: list[Event] = []
        self._copies_left: dict[int, int] = {}  # event seq -> heartbeat copies to go
        self.gate: StartGate | None = None        # a show held until its nodes are ready
        self._handlers: dict[str, _Handler] = {
            "status": lambda args, t: (self.status(t), []),
            "capture": self._cmd_capture,
            "seek": self._cmd_seek,
            "select": self._cmd_select,
            "language": self._cmd_language,
            "debug-fill": self._cmd_debug_fill,
            "restart": self._cmd_restart,
            **{name: partial(self._cmd_show, name)
               for name, spec in COMMANDS.items() if spec.show},
            "start": lambda args, t: (GATE_OFF if self.gate is None
                                      else self.gate.command(args["force"], t, *self._gated(t)[1:])),
        }

    @property
    def nodes(self) -> dict[str, NodeInfo]:
        """Every peer known, by node id."""
        return self.peers.nodes

    @property
    def bound_ids(self) -> dict[str, str]:
        """With CURVE: node id -> the only key id that may use it (``[security.displays]``);
        a key named here may use no other node id."""
        return self.peers.bound_ids

    @bound_ids.setter
    def bound_ids(self, value: dict[str, str]) -> None:
        self.peers.bound_ids = value

    @property
    def show_control(self) -> ShowControl | None:
        """The show control (``None`` until :meth:`attach_show`; a show without cues)."""
        return self.show.control

    # ------------------------------------------------------------------ inputs

    def handle(self, peer: Any, message: Message, now: float, role: str | None = None,
               key: str = "") -> Actions:
        """Take one decoded message from ``peer``, received at controller time ``now``.

        Args:
            peer: the sender's routing id (any hashable; the driver passes bytes).
            message: the decoded message.
            now: the controller clock when it arrived.
            role: the role its CURVE key authenticated (the ZAP User-Id), or ``None`` in
                development mode (its hello's counts; commands by :attr:`role_commands`).
            key: the id of its CURVE key, ``""`` in development mode (a node id belongs
                to the key that holds it while that node is not lost).

        Returns:
            The replies for ``peer`` and the messages to publish (a Pong's ``t2`` is
            ``now``: the driver sets the real send time).
        """
        if isinstance(message, Ping):
            self.peers.touch(peer, now)
            return Actions(replies=(Pong(message.t0, now, now),))
        if isinstance(message, Hello):
            if role is not None and message.role != role:
                return self._refuse(f"hello from {message.node_id[:64]!r} refused: it "
                                    f"claims role {message.role!r} but its key is "
                                    f"{a_role(role)} key", 0, now, {"role": role})
            taken = self.peers.taken(message.node_id, role, now, key)
            if taken:
                return self._refuse(taken, 0, now)
            self.peers.seen(peer, message.node_id, message.role, now, key)
            return Actions(replies=(Welcome(self.session, self.seq),))
        if isinstance(message, SnapshotRequest):
            self.peers.touch(peer, now)
            if now - self._snapshot_sent.get(peer, -math.inf) < SNAPSHOT_EVERY_S:
                return Actions()      # too soon: the peer asks again after its timeout
            if len(self._snapshot_sent) >= 4 * self.max_nodes:
                self._snapshot_sent.clear()
            self._snapshot_sent[peer] = now
            return Actions(replies=self._snapshot_answer(message.req))
        if isinstance(message, NodeStatus):
            taken = self.peers.taken(message.node_id, role, now, key)
            if taken:
                return self._refuse(taken, 0, now)
            self.peers.report(peer, message, role, now, key)
            return Actions()
        if isinstance(message, Command):
            info = self.peers.welcomed(peer)
            if info is None:      # refused before anything is judged: a retry is safe
                return self._refuse(HELLO_FIRST, message.req, now, {"hello_first": True})
            self.peers.touch(peer, now)           # any message is a sign of life (§5)
            if message.id and (again := self.recent.again(info.node_id, message.id,
                                                           message.req, now)):
                return Actions(replies=(again,))  # a retry of one action: it acts once
            actions = self._command(message, now, role or info.role)
            if message.id and isinstance(actions.replies[0], Reply):
                self.recent.remember(info.node_id, message.id, actions.replies[0], now)
            return actions
        # Anything else (a peer echoing controller messages back) is not a request.
        self.note_malformed(peer, ProtocolError(f"{type(message).__name__} is not a request"))
        return Actions()

    def note_malformed(self, peer: Any, error: ProtocolError) -> Actions:
        """Count a frame that could not be used (it is dropped) and keep its reason.

        Returns:
            A failed reply with the reason for a frame in another protocol version (the
            peer learns why it is never welcomed), else nothing: a broken frame gets no
            answer.
        """
        self.malformed += 1
        self.last_malformed = str(error)[:200]
        if isinstance(error, VersionMismatch):
            return Actions(replies=(Reply(False, {"version": PROTOCOL_VERSION},
                                          error=error.rule, req=error.req),))
        return Actions()

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
        # Cue starts due before the next tick (and its way to the nodes) go out now, so
        # each arrives before its moment and every node applies it on the same frame.
        updates, _ = self._apply(self.show.tick(now, wall_time, lead=2 * self.heartbeat_s))
        if self.gate is not None:
            updates += self.gate.tick(now, *self._gated(now)[1:])
        # Each event goes out when made and again in the next _EVENT_REPEATS heartbeats,
        # for a node that missed the first copy; an event the show tick made has its
        # first copy in this heartbeat. More copies only wake every node for nothing: a
        # node that joins later takes the state from a snapshot.
        repeat = [e for e in self._pending if now < (e.controller_at or 0.0) + _EVENT_GRACE_S]
        left = {e.seq: self._copies_left.get(e.seq, _EVENT_REPEATS + (e.seq not in sent)) - 1
                for e in repeat}
        self._pending = [e for e in repeat if left[e.seq] > 0]
        self._copies_left = {seq: n for seq, n in left.items() if n > 0}
        beat = Heartbeat(now, self.anchor, self.seq, self.session)
        return Actions(publish=(*updates, beat, *repeat))

    def seconds_to_next_tick(self, now: float) -> float:
        """How long the driver may wait for input before calling :meth:`tick`."""
        return max(0.0, self._next_beat - now)

    def attach_show(self, show: ShowConfig, now: float, wall_time: datetime,
                    restored: Mapping[str, Any] | None = None,
                    displays: tuple[str, ...] = ()) -> None:
        """Run ``show``'s show control from now on (a show without cues gets none); its
        state is loaded under one new sequence number (see :meth:`load_state`).

        A fresh show whose ``[control] start`` is ``"when-ready"`` is held at its start
        until a node of each of ``displays`` (the venue's) is ready (:mod:`._gate`).
        The arguments and errors are those of :meth:`~._show.ShowSession.attach`
        (``restored``: the control's saved state, from :meth:`restore`'s file).
        """
        ctl = self.show.attach(show, now, wall_time, restored)
        if ctl is None:
            return
        if show.start == "when-ready" and restored is None and displays:
            self.gate = StartGate.holding_show(self.show, displays, now, show.ready_timeout_s)
        try:
            self.load_state(ctl.state())
        except ProtocolError as exc:     # only a bug: the control's values are plain
            log.error("show control state cannot be published: %s", exc)
        self.anchor = ctl.anchor

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
        if anchor != self.anchor:
            self._prev_anchor = anchor      # seeded or resumed: no earlier one to keep
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

    def _set_anchor(self, anchor: ShowAnchor, now: float) -> None:
        """Make ``anchor`` the show anchor, keeping the one in force at ``now`` until it
        takes effect."""
        if now >= self.anchor.controller_time:
            self._prev_anchor = self.anchor
        self.anchor = anchor

    def _set(self, key: str, value: Any) -> KeyUpdate:
        """Set one state key under the next sequence number; return its key update."""
        self.seq += 1
        self.state[key] = value
        return KeyUpdate(self.seq, key, value)

    def _event(self, kind: str, controller_at: float, args: Mapping[str, Any]) -> Event:
        """A new event at controller time ``controller_at`` (next event sequence number),
        kept to repeat in heartbeats; its ``effective_at`` is the show time then, under
        the anchor in force then."""
        self._event_seq += 1
        event = Event(kind, self.show_time(controller_at), dict(args), self._event_seq,
                      controller_at)
        self._pending = [*self._pending, event][-_MAX_PENDING_EVENTS:]
        return event

    def _apply(self, change: ShowChange) -> tuple[list[KeyUpdate], list[Event]]:
        """Take what the show changed into the state; return its key updates and events."""
        updates = [self._set(key, value) for key, value in change.changed.items()]
        if change.anchor is not None:
            self.anchor = change.anchor     # (the show control keeps the one before)
        events = [self._event(kind, at, args) for kind, at, args in change.events]
        return updates, events

    # ------------------------------------------------------------------ persistence

    def saved(self, now: float, wall_time: float, show_id: str) -> SavedSession:
        """What the state file keeps (see :mod:`.persist`), at controller time ``now``
        and wall clock ``wall_time`` (Unix seconds)."""
        control = self.show.control
        return SavedSession(
            show=show_id, wall_time=wall_time, position=self.show_time(now),
            rate=self.anchor.rate, seq=self.seq, event_seq=self._event_seq,
            state={k: v for k, v in self.state.items()
                   if k != "anchor" and not k.startswith(DEBUG_FILL_PREFIX)},
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
        control's own state (``saved.control``) is for :meth:`attach_show`, so the show
        time resumed is known only after it (the driver logs it then: a seek pending at the
        save may have taken effect meanwhile).
        """
        state = wire_safe(saved.state)
        self.seq = max(self.seq, saved.seq)
        self._event_seq = max(self._event_seq, saved.event_seq)
        anchor = encode_anchor(ShowAnchor(now + 0.0, saved.position_at(wall_time), saved.rate))
        try:
            self.load_state({**state, "anchor": anchor})
        except ProtocolError as exc:
            log.warning("restored state dropped: %s", exc)
            self.load_state({"anchor": anchor})

    # ------------------------------------------------------------------ queries

    def show_time(self, now: float) -> float:
        """The show time at controller time ``now`` (an anchor announced for a moment
        later takes effect then, as on the nodes)."""
        if self.show.control is not None:
            return self.show.control.position(now)
        anchor = self.anchor if now >= self.anchor.controller_time else self._prev_anchor
        return anchor.show_time(now)

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
        if info.render_age(now) > self.hung_after_s:
            return "hung"
        return "joined"

    def status(self, now: float) -> dict[str, Any]:
        """The answer to the ``status`` command, trimmed to one frame
        (:func:`~._status.fit_status`)."""
        nodes = [n.row(now, self.node_state(n, now))
                 for n in sorted(self.nodes.values(), key=lambda n: n.node_id)]
        data = {"show_time": self.show_time(now), "session": self.session, "seq": self.seq,
                "malformed": self.malformed, "last_malformed": self.last_malformed,
                "refused": self.refused, "last_refused": self.last_refused,
                "handshakes_refused": self.handshakes_refused,
                "nodes": nodes}
        if self.show.control is not None:
            data["show"] = self.show.summary(now, self.state)
        if self.gate is not None:
            data["gate"] = self.gate.summary(now, *self._gated(now)[1:3])
        if self.insecure:
            data["insecure"] = self.insecure
        return fit_status(data)

    # ------------------------------------------------------------------ commands

    def _refuse(self, why: str, req: int, now: float,
                data: Mapping[str, Any] | None = None) -> Actions:
        self.refused += 1
        self.last_refused = why[:200]
        # At most one line every 5 s (a refused node says hello 5 times a second); the
        # status command carries the full count.
        self._unlogged_refusals += 1
        if now - self._refusal_logged_at >= 5.0:
            log.warning("refused %d request(s) by role; last: %s", self._unlogged_refusals, why)
            self._refusal_logged_at, self._unlogged_refusals = now, 0
        return Actions(replies=(Reply(False, dict(data or {}), error=why, req=req),))

    def _command(self, cmd: Command, now: float, role: str = "operator") -> Actions:
        try:
            args = check_command(role, cmd.name, cmd.args, rights=self.role_commands,
                                 show_control=self.show.control is not None)
            data, publish = self._handlers[cmd.name](args, now)
        except CommandError as exc:
            if exc.refused:
                return self._refuse(str(exc), cmd.req, now)
            return Actions(replies=(Reply(False, error=str(exc), req=cmd.req),))
        if cmd.name != "status":
            self.acted += 1
        return Actions(replies=(Reply(True, data, req=cmd.req),), publish=tuple(publish))

    def _cmd_show(self, name: str, args: Mapping[str, Any], now: float,
                  ) -> tuple[dict[str, Any], list[Message]]:
        if self.gate is not None:
            self.gate.check_held(name, *self._gated(now)[1:3])
        change = self.show.command(name, args, now)
        updates, events = self._apply(change)
        data = {**change.data, "seq": self.seq}
        if events:
            data["events"] = [e.seq for e in events]
        return data, [*updates, *events]

    def _gated(self, now: float) -> tuple[StartGate, Mapping[str, NodeInfo], Any, Any]:
        """The gate's inputs now: the nodes, their states, and how to start the show."""
        assert self.gate is not None

        def resume() -> list[Message]:
            updates, events = self._apply(self.show.command("resume", {}, now))
            return [*updates, *events]
        return self.gate, self.nodes, lambda info: self.node_state(info, now), resume
