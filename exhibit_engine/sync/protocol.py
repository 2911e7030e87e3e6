"""The sync wire format: every message as a frozen dataclass, and one :func:`decode`.

This module is part of the core: it imports the standard library and ``msgpack`` only,
never ZeroMQ, so the format can be tested (and reused by other transports) without sockets.
``docs/protocol.md`` expands what follows into a guide for other languages.

Sockets (the controller binds, peers connect)::

    controller ROUTER  tcp://HOST:STATE_PORT    <-  DEALER  node / kiosk / operator
               hello, snapshot-request, ping, node-status, command   (peer -> controller)
               welcome, snapshot-part, snapshot, pong, reply         (controller -> peer)
    controller PUB     tcp://HOST:PUBLISH_PORT  ->  SUB     node / kiosk
               heartbeat, key-update, event

Frames of one message (the ROUTER adds/strips the peer's routing id in front)::

    frame 0   type     ASCII message type, e.g. b"heartbeat"; also the PUB topic
    frame 1   body     msgpack map, string keys; "v": PROTOCOL_VERSION is always present
    frame 2   items    only for "snapshot-part": a msgpack map, a chunk of the state

Bodies (every key below is required unless a default is given; unknown keys are ignored)::

    hello             v, node_id: str, role: "projector" | "kiosk" | "operator"
    welcome           v, session: str, seq: int
    ping              v, t0: float                      sender's clock at send
    pong              v, t0, t1, t2: float              t1/t2: controller clock at receive/send
    heartbeat         v, controller_time: float, anchor: [controller_time, position, rate],
                      seq: int (state sequence), session: str
    node-status       v, node_id: str, frames: int, show_time: float, offset_us: float,
                      rtt_us: float, captures: [str] = [], extra: map = {},
                      render_age_s: float = 0 (since the render loop last ran),
                      loading_s: float = 0 (announced busy loading for this long, <= 30),
                      + health (see NodeHealth): fps: float = 0, frame_ms_worst: float = 0,
                      frames_dropped: int = 0, renderer: str = "", gpu_memory_mb: float,
                      gpu_free_mb: float (both absent: unknown), cue: str = "",
                      bundles: {bundle id: version or "broken"} = {}
    command           v, name: str, args: map = {}, req: int = 0
    reply             v, ok: bool, data: map = {}, error: str = "", req: int = 0
    event             v, kind: str, effective_at: float (show seconds), args: map = {}, seq: int,
                      controller_at: float (controller seconds: the frame it applies on)
    snapshot-request  v, req: int = 0                   a nonce chosen by the peer
    snapshot-part     v, req: int, index: int           (+ frame 2: a chunk of the items)
    snapshot          v, req: int, seq: int, count: int, parts: int, digest: str
    key-update        v, seq: int, key: str, value: any

A snapshot-request is answered by ``parts`` snapshot-part messages (index 0, 1, ...) and
then one snapshot message, all echoing the request's ``req``. ``digest`` is the hex
SHA-256 of the parts' frame-2 bytes concatenated in index order and ``count`` the number
of keys in all parts together (no key appears twice).
:class:`~exhibit_engine.sync.snapshot.SnapshotAssembly` checks all of it; the ROUTER may drop
parts of a peer that does not read, and a missing part must never pass as a complete state.

Values inside maps are nil, bool, int, float, str, arrays and maps with string keys (no
bin or ext types), nested at most 8 deep. A frame is at most 64 KiB; a map has at most 64
keys (snapshot items: see below); a string field of a body (``node_id``, ``name``,
``kind``...) and a state key at most 256 characters, and so is each entry of ``captures``.
The whole state is at most :data:`MAX_STATE_KEYS` keys, :data:`MAX_STATE_BYTES` bytes of
items frames and :data:`MAX_STATE_VALUES` values (every scalar and container counts one).

A frame that breaks any of this raises :class:`~exhibit_engine.errors.ProtocolError` from
:func:`decode`; nothing else escapes it. ``v`` must equal :data:`PROTOCOL_VERSION`: there is
no negotiation, peers of different versions refuse each other's frames with a clear reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

import msgpack

from ..errors import ProtocolError, VersionMismatch
from ..show.anchor import ShowAnchor
from ._fields import (
    MAX_FRAME_BYTES,
    MAX_INT,
    MAX_MAP_KEYS,
    MAX_STR,
    Body,
    check_value,
    decode_anchor,
    unpack,
)
from ._health import NodeHealth, read_health

__all__ = ["Command", "Event", "Heartbeat", "Hello", "KeyUpdate", "MAX_FRAME_BYTES",
           "MAX_LOADING_S", "MAX_MAP_KEYS", "MAX_SNAPSHOT_PARTS", "MAX_STATE_BYTES",
           "MAX_STATE_KEYS", "MAX_STATE_VALUES", "Message", "NodeHealth", "NodeStatus", "PROTOCOL_VERSION",
           "PUBLISHED_TYPES", "Ping", "Pong", "ROLES", "Reply", "Snapshot", "SnapshotPart",
           "SnapshotRequest", "Welcome", "decode", "decode_anchor", "encode_anchor"]

#: The version every body carries as ``"v"``; peers refuse any other.
PROTOCOL_VERSION = 2
#: Most keys in the replicated session state (all parts of a snapshot together).
MAX_STATE_KEYS = 16384
#: Most bytes of items frames in one snapshot (all parts together).
MAX_STATE_BYTES = 4 << 20
#: Most values in one snapshot: every scalar and every container counts one, so a state
#: of tiny containers (1 byte on the wire, ~60 as a Python object) stays bounded too.
MAX_STATE_VALUES = 1 << 18
#: Most parts of one snapshot.
MAX_SNAPSHOT_PARTS = 1024
#: Longest busy-loading time a node may announce in its status (seconds).
MAX_LOADING_S = 30.0
#: Roles a peer may claim in its hello.
ROLES = ("projector", "kiosk", "operator")
#: Message types the controller sends on its PUB socket (the SUB topics).
PUBLISHED_TYPES = (b"heartbeat", b"key-update", b"event")


class _Wire:
    """Shared encoding for every message dataclass."""

    TYPE: ClassVar[bytes] = b""

    def _body(self) -> dict[str, Any]:
        raise NotImplementedError

    def _extra_frames(self) -> list[bytes]:
        return []

    def encode(self) -> list[bytes]:
        """Return the frames of this message (type, body and any extra frame).

        Raises:
            ProtocolError: a frame would exceed :data:`MAX_FRAME_BYTES`, or a value cannot be
                written as msgpack.
        """
        kind = self.TYPE.decode()
        try:
            body = msgpack.packb({"v": PROTOCOL_VERSION, **self._body()}, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ProtocolError(f"{kind}: cannot encode ({exc})") from None
        frames = [self.TYPE, body, *self._extra_frames()]
        if any(len(f) > MAX_FRAME_BYTES for f in frames):
            raise ProtocolError(f"{kind}: a frame is larger than {MAX_FRAME_BYTES} bytes")
        return frames


def encode_anchor(anchor: ShowAnchor) -> list[float]:
    """Return the wire form ``[controller_time, position, rate]`` of a show anchor."""
    return [float(anchor.controller_time), float(anchor.position), float(anchor.rate)]


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Hello(_Wire):
    """A peer introduces itself to the controller (DEALER -> ROUTER); answered by Welcome.

    Attributes:
        node_id: the peer's id (a display id for projectors).
        role: one of :data:`ROLES`.
        version: the protocol version the peer speaks (written as ``"v"``).
    """

    TYPE: ClassVar[bytes] = b"hello"
    node_id: str
    role: str = "projector"
    version: int = PROTOCOL_VERSION

    def _body(self) -> dict[str, Any]:
        # "v" here overrides the default, so a test can speak another version.
        return {"v": self.version, "node_id": self.node_id, "role": self.role}


@dataclass(frozen=True)
class Welcome(_Wire):
    """The controller accepts a hello.

    Attributes:
        session: the controller's session id (new on every controller start).
        seq: the controller's current state sequence number.
    """

    TYPE: ClassVar[bytes] = b"welcome"
    session: str
    seq: int

    def _body(self) -> dict[str, Any]:
        return {"session": self.session, "seq": self.seq}


@dataclass(frozen=True)
class Ping(_Wire):
    """A clock probe: ``t0`` is the sender's clock when it sent the probe."""

    TYPE: ClassVar[bytes] = b"ping"
    t0: float

    def _body(self) -> dict[str, Any]:
        return {"t0": self.t0}


@dataclass(frozen=True)
class Pong(_Wire):
    """The answer to a probe.

    Attributes:
        t0: the probe's ``t0``, echoed.
        t1: controller clock when the probe arrived.
        t2: controller clock when the answer left.
    """

    TYPE: ClassVar[bytes] = b"pong"
    t0: float
    t1: float
    t2: float

    def _body(self) -> dict[str, Any]:
        return {"t0": self.t0, "t1": self.t1, "t2": self.t2}


@dataclass(frozen=True)
class Heartbeat(_Wire):
    """The controller's periodic beat on PUB; repeats the show anchor.

    Attributes:
        controller_time: the controller clock when it was sent.
        anchor: the current show anchor (the state key ``"anchor"``).
        seq: the controller's state sequence number (a node that is behind re-snapshots).
        session: the controller's session id.
    """

    TYPE: ClassVar[bytes] = b"heartbeat"
    controller_time: float
    anchor: ShowAnchor
    seq: int
    session: str = ""

    def _body(self) -> dict[str, Any]:
        return {"controller_time": self.controller_time, "anchor": encode_anchor(self.anchor),
                "seq": self.seq, "session": self.session}


@dataclass(frozen=True)
class NodeStatus(_Wire):
    """A node's periodic report (also its heartbeat towards the controller).

    Attributes:
        node_id: the node's id.
        frames: frames rendered so far.
        show_time: the show time of the last frame.
        offset_us: the node's estimate of (controller clock - local clock), microseconds.
        rtt_us: the round trip of its best clock probe, microseconds.
        captures: tags of the captures the node has taken.
        extra: free-form details (a map of plain values).
        render_age_s: seconds since the node's render loop last ran (a frame or a poll);
            the controller reports a node whose loop stalls as ``"hung"``.
        loading_s: the node announces it is busy loading (a blocking scene load) for at
            most this many seconds from now (0: not loading; at most
            :data:`MAX_LOADING_S`); the controller reports ``"loading"`` meanwhile.
        health: how it draws (frame rate, frame times, GPU, cue, bundles); on the wire
            its fields are optional keys of the body (see :class:`NodeHealth`).
    """

    TYPE: ClassVar[bytes] = b"node-status"
    node_id: str
    frames: int
    show_time: float
    offset_us: float
    rtt_us: float
    captures: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    render_age_s: float = 0.0
    loading_s: float = 0.0
    health: NodeHealth = field(default_factory=NodeHealth)

    def _body(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "frames": self.frames, "show_time": self.show_time,
                "offset_us": self.offset_us, "rtt_us": self.rtt_us,
                "captures": list(self.captures), "extra": dict(self.extra),
                "render_age_s": self.render_age_s, "loading_s": self.loading_s,
                **self.health.body()}


@dataclass(frozen=True)
class Command(_Wire):
    """An operator (or kiosk) command; the controller answers with a Reply carrying ``req``.

    ``id`` (optional, at most 256 characters): the request's own id, the same for every
    retry of one action (a kiosk's tap). The controller carries out the first command with
    an id and answers a repeat of it from the same node id (within 60 s) with the first
    one's reply, marked ``repeated``, without acting again.
    """

    TYPE: ClassVar[bytes] = b"command"
    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    req: int = 0
    id: str = ""

    def _body(self) -> dict[str, Any]:
        body = {"name": self.name, "args": dict(self.args), "req": self.req}
        if self.id:
            body["id"] = self.id
        return body


@dataclass(frozen=True)
class Reply(_Wire):
    """The answer to a Command: ``data`` when ``ok``, else a one-line ``error``."""

    TYPE: ClassVar[bytes] = b"reply"
    ok: bool
    data: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    req: int = 0

    def _body(self) -> dict[str, Any]:
        return {"ok": self.ok, "data": dict(self.data), "error": self.error, "req": self.req}


@dataclass(frozen=True)
class Event(_Wire):
    """Something every node applies on the same frame (a capture, a selection, a cue).

    Attributes:
        kind: what happens, e.g. ``"capture"``.
        effective_at: the show time (seconds) of the frame it takes effect on, under the
            anchor in force at ``controller_at`` (a backward jump's cue: the cue's start).
        args: the event's parameters.
        seq: unique per controller session; nodes drop repeats by it.
        controller_at: the controller time (seconds) it takes effect at: a node applies
            it on its first frame whose controller time is at or after it, as it switches
            anchors (so an event and the jump it comes with land on one frame, even when
            show time goes back or stands still). ``None`` (a peer that sent none): the
            node judges ``effective_at`` against its show time instead.
    """

    TYPE: ClassVar[bytes] = b"event"
    kind: str
    effective_at: float
    args: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 0
    controller_at: float | None = None

    def _body(self) -> dict[str, Any]:
        body = {"kind": self.kind, "effective_at": self.effective_at, "args": dict(self.args),
                "seq": self.seq}
        if self.controller_at is not None:
            body["controller_at"] = self.controller_at
        return body


@dataclass(frozen=True)
class SnapshotRequest(_Wire):
    """A peer asks for the whole session state (Clone pattern).

    Attributes:
        req: a nonce the peer picks anew for every request; every message of the answer
            echoes it, so the parts of two answers never mix.
    """

    TYPE: ClassVar[bytes] = b"snapshot-request"
    req: int = 0

    def _body(self) -> dict[str, Any]:
        return {"req": self.req}


@dataclass(frozen=True)
class SnapshotPart(_Wire):
    """One chunk of a snapshot answer; build a whole answer with
    :func:`~exhibit_engine.sync.snapshot.snapshot_messages`.

    Attributes:
        req: the request's nonce, echoed.
        index: 0 for the first part, then 1, 2...
        items: this chunk of the state map.
        packed: the wire bytes of ``items`` (frame 2), which the snapshot's digest covers.
        values: how many values ``items`` holds (see :data:`MAX_STATE_VALUES`), counted
            when it was checked; -1 if not known yet.
    """

    TYPE: ClassVar[bytes] = b"snapshot-part"
    req: int
    index: int
    items: Mapping[str, Any]
    packed: bytes = field(repr=False)
    values: int = field(default=-1, repr=False, compare=False)

    @classmethod
    def of(cls, req: int, index: int, items: Mapping[str, Any]) -> SnapshotPart:
        """A part holding ``items`` (packed here).

        Raises:
            ProtocolError: the items cannot be encoded.
        """
        try:
            packed = msgpack.packb(dict(items), use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ProtocolError(f"snapshot-part: cannot encode items ({exc})") from None
        return cls(req, index, dict(items), packed)

    def _body(self) -> dict[str, Any]:
        return {"req": self.req, "index": self.index}

    def _extra_frames(self) -> list[bytes]:
        return [self.packed]


@dataclass(frozen=True)
class Snapshot(_Wire):
    """The last message of a snapshot answer: what the parts before it must add up to.

    Attributes:
        req: the request's nonce, echoed.
        seq: the state sequence number the items reflect.
        count: the number of keys in all parts together.
        parts: how many parts came before this message.
        digest: hex SHA-256 of the parts' items frames concatenated in index order.
    """

    TYPE: ClassVar[bytes] = b"snapshot"
    req: int
    seq: int
    count: int
    parts: int
    digest: str

    def _body(self) -> dict[str, Any]:
        return {"req": self.req, "seq": self.seq, "count": self.count, "parts": self.parts,
                "digest": self.digest}


@dataclass(frozen=True)
class KeyUpdate(_Wire):
    """One change to the session state, published with the next sequence number."""

    TYPE: ClassVar[bytes] = b"key-update"
    seq: int
    key: str
    value: Any

    def _body(self) -> dict[str, Any]:
        return {"seq": self.seq, "key": self.key, "value": self.value}


#: Any message of the protocol.
Message = Union[Hello, Welcome, Ping, Pong, Heartbeat, NodeStatus, Command, Reply, Event,
                SnapshotRequest, SnapshotPart, Snapshot, KeyUpdate]


# --------------------------------------------------------------------------- decoding


def _hello(b: Body, frames: list[bytes]) -> Hello:
    role = b.text("role")
    if role not in ROLES:
        raise b.fail("role", f"must be one of {', '.join(ROLES)}")
    return Hello(b.text("node_id"), role, PROTOCOL_VERSION)


def _snapshot_part(b: Body, frames: list[bytes]) -> SnapshotPart:
    req, index = b.count("req"), b.count("index")
    raw = frames[2]
    items = unpack(raw, "snapshot-part items", b.peer, MAX_STATE_KEYS)
    if not isinstance(items, dict):
        raise ProtocolError("snapshot-part: items must be a map", b.peer)
    if not all(isinstance(key, str) and 0 < len(key) <= MAX_STR for key in items):
        raise ProtocolError(f"snapshot-part: a key must be a non-empty string of at most "
                            f"{MAX_STR} characters", b.peer)
    # depth -1 and - 1: the map itself; its values start at depth 0, as in a key-update.
    values = check_value(items, "snapshot-part items", b.peer, -1) - 1
    return SnapshotPart(req, index, items, raw, values)


def _snapshot(b: Body, frames: list[bytes]) -> Snapshot:
    digest = b.text("digest")
    if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise b.fail("digest", "must be 64 hex digits (SHA-256)")
    return Snapshot(b.count("req"), b.count("seq"), b.count("count"), b.count("parts"),
                    digest.lower())


def _node_status(b: Body, frames: list[bytes]) -> NodeStatus:
    render_age, loading = b.number("render_age_s", 0.0), b.number("loading_s", 0.0)
    if render_age < 0:
        raise b.fail("render_age_s", "must not be negative")
    if not 0 <= loading <= MAX_LOADING_S:
        raise b.fail("loading_s", f"must be from 0 to {MAX_LOADING_S:g} seconds")
    return NodeStatus(b.text("node_id"), b.count("frames"), b.number("show_time"),
                      b.number("offset_us"), b.number("rtt_us"), b.texts("captures"),
                      b.mapping("extra"), render_age, loading, read_health(b))


# type -> (number of frames, reader). Plain data, one line per message type.
_DECODERS: dict[bytes, tuple[int, Callable[[Body, list[bytes]], Message]]] = {
    b"hello": (2, _hello),
    b"welcome": (2, lambda b, f: Welcome(b.text("session"), b.count("seq"))),
    b"ping": (2, lambda b, f: Ping(b.number("t0"))),
    b"pong": (2, lambda b, f: Pong(b.number("t0"), b.number("t1"), b.number("t2"))),
    b"heartbeat": (2, lambda b, f: Heartbeat(b.number("controller_time"), b.anchor("anchor"),
                                             b.count("seq"), b.text("session", ""))),
    b"node-status": (2, _node_status),
    b"command": (2, lambda b, f: Command(b.text("name"), b.mapping("args"), b.count("req", 0),
                                         b.text("id", "", nonempty=False))),
    b"reply": (2, lambda b, f: Reply(b.flag("ok"), b.mapping("data"),
                                     b.text("error", "", nonempty=False), b.count("req", 0))),
    b"event": (2, lambda b, f: Event(b.text("kind"), b.number("effective_at"),
                                     b.mapping("args"), b.count("seq"),
                                     b.number("controller_at") if "controller_at" in b.body
                                     else None)),
    b"snapshot-request": (2, lambda b, f: SnapshotRequest(b.count("req", 0))),
    b"snapshot-part": (3, _snapshot_part),
    b"snapshot": (2, _snapshot),
    b"key-update": (2, lambda b, f: KeyUpdate(b.count("seq"), b.text("key"),
                                              b.any_value("value"))),
}


def decode(frames: Sequence[bytes], peer: str | None = None) -> Message:
    """Read one message from its frames (routing id already removed).

    Args:
        frames: the frames as received.
        peer: who sent them, for the error message.

    Returns:
        The message dataclass. Unknown body keys are ignored.

    Raises:
        ProtocolError: the frames break the wire format in any way (the only exception
            this function raises).
    """
    if not isinstance(frames, (list, tuple)) or not 2 <= len(frames) <= 3:
        raise ProtocolError("a message is 2 or 3 frames", peer)
    raw: list[bytes] = []
    for i, f in enumerate(frames):
        if not isinstance(f, (bytes, bytearray, memoryview)):
            raise ProtocolError(f"frame {i} is not bytes", peer)
        if len(f) > MAX_FRAME_BYTES:
            raise ProtocolError(f"frame {i} is larger than {MAX_FRAME_BYTES} bytes", peer)
        raw.append(bytes(f))
    body = unpack(raw[1], "body", peer, MAX_MAP_KEYS)
    if not isinstance(body, dict):
        raise ProtocolError("body must be a msgpack map", peer)
    version = body.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError("body lacks the protocol version 'v'", peer)
    if version != PROTOCOL_VERSION:
        req = body.get("req")
        raise VersionMismatch(f"unsupported protocol version {version} (this peer speaks "
                              f"version {PROTOCOL_VERSION})", peer, version=version,
                              req=req if isinstance(req, int) and not isinstance(req, bool)
                              and 0 <= req <= MAX_INT else 0)
    entry = _DECODERS.get(raw[0])
    if entry is None:
        raise ProtocolError("unknown message type", peer)
    nframes, reader = entry
    kind = raw[0].decode("ascii")
    if len(raw) != nframes:
        raise ProtocolError(f"{kind}: must be {nframes} frames, got {len(raw)}", peer)
    return reader(Body(kind, body, peer), raw)
