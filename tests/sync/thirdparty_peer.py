"""A sync peer written from docs/protocol.md alone, as another vendor would write one.

It uses only the standard library, pyzmq and msgpack, never ``exhibit_engine``: it tests
the document, not the reference code. What it does, by section of the page:

- §1 sockets: SUB connected first (subscribed to everything), then a DEALER with
  ``LINGER=0``, ``IMMEDIATE=1`` and ``MAXMSGSIZE=65536``; sends are non-blocking and a
  send that fails with ``EAGAIN`` is dropped and tried again on the next beat.
- §2 frames: 2 frames (3 for ``snapshot-part``), a msgpack map with ``v: 2``; a frame of
  another version, a bad count or a body that is not a map is counted and dropped.
- §4 time: ping/pong clock estimate (a burst of 8 probes, one in flight, replaced after
  0.25 s; then one every 0.25 s, 0.2 s while the best round trip is above 5 ms; the last
  32 samples, best by sync distance; jump during the burst, slew 0.5 % after it, jump
  above 50 ms), and anchors whose ``controller_time`` is in the future kept pending until
  the controller clock reaches it.
- §5 joining: hello every 0.1 s until welcomed; snapshot parts checked in index order with
  a running SHA-256 over frame 2, ``parts``, ``count`` and ``digest`` checked, asked again
  with a new nonce on any mismatch or 0.5 s of silence (backing off 0.1, 0.2, 0.4... 1 s);
  key-updates buffered meanwhile, then applied by seq with gap detection (an update ahead
  or a heartbeat seq above ours asks for a snapshot); a new session in a heartbeat or
  welcome is a restart; 3 s without heartbeats is a controller gone; a projector beats
  ``node-status`` every 0.1 s, a kiosk or operator without a clock pings every second.
- §6 events: one clock reading per frame judges the anchor switch, the show time and the
  events due; events deduplicated by ``seq`` and applied in (``controller_at``, ``seq``)
  order on the first frame at or after their ``controller_at``.
- §7 commands: a new ``req`` per command, replies matched by it; a ``hello_first``
  refusal makes the peer say hello again and resend.

A peer runs its sockets in a thread of its own (``start``/``stop``); the test thread asks
it for commands and waits on its state through ``wait_for``.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq

__all__ = ["AppliedEvent", "ClockEstimate", "Peer", "RawDealer", "Refused", "Snapshot",
           "decode", "encode"]

VERSION = 2
MAX_FRAME = 65_536
STATE_MAX_KEYS = 16_384
STATE_MAX_BYTES = 4_194_304
STATE_MAX_PARTS = 1_024

HELLO_EVERY_S = 0.1          # §5 step 2: 0.05-0.2 s
BEAT_EVERY_S = 0.1           # §5 liveness: a projector's node-status
KEEPALIVE_EVERY_S = 1.0      # §5: a kiosk's or operator's ping "every second or so"
SNAPSHOT_SILENCE_S = 0.5     # §5 step 4: no part or snapshot for 0.5 s: ask again
CONTROLLER_GONE_S = 3.0      # §5: no heartbeat for 3 s
PROBE_TIMEOUT_S = 0.25       # §4: an unanswered probe is replaced
BURST = 8


class Refused(Exception):
    """A frame this peer refuses (§2 malformed frames)."""


def encode(kind: str, body: dict[str, Any], *, v: int = VERSION) -> list[bytes]:
    """The frames of one message: its type and the msgpack body with ``v``."""
    return [kind.encode("ascii"), msgpack.packb({"v": v, **body}, use_bin_type=True)]


def decode(frames: list[bytes]) -> tuple[str, dict[str, Any], bytes | None]:
    """``(type, body, frame 2 or None)``; raises :class:`Refused` for a bad frame."""
    if len(frames) not in (2, 3):
        raise Refused("wrong frame count")
    if any(len(f) > MAX_FRAME for f in frames):
        raise Refused("frame too large")
    try:
        body = msgpack.unpackb(frames[1], raw=False)
    except Exception as exc:  # noqa: BLE001 - any undecodable body is one bad frame
        raise Refused(f"body is not msgpack: {exc}") from None
    if not isinstance(body, dict):
        raise Refused("body is not a map")
    if body.get("v") != VERSION:  # checked before the type (§2 Versions)
        raise Refused(f"unsupported protocol version {body.get('v')} "
                      f"(this peer speaks version {VERSION})")
    kind = frames[0].decode("ascii", errors="replace")
    if (len(frames) == 3) != (kind == "snapshot-part"):
        raise Refused("wrong frame count")
    return kind, body, frames[2] if len(frames) == 3 else None


class RawDealer:
    """A bare DEALER for tests that send frames by hand (no hello, any version)."""

    def __init__(self, host: str, state_port: int) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
        self.sock.connect(f"tcp://{host}:{state_port}")

    def send(self, kind: str, body: dict[str, Any], *, v: int = VERSION) -> None:
        self.sock.send_multipart(encode(kind, body, v=v))

    def recv(self, timeout_s: float) -> tuple[str, dict[str, Any]]:
        """The next message; raises ``TimeoutError`` after ``timeout_s``."""
        if not self.sock.poll(int(timeout_s * 1000)):
            raise TimeoutError("no answer from the controller")
        kind, body, _ = decode(self.sock.recv_multipart())
        return kind, body

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


@dataclass
class _Sample:
    offset: float
    delay: float
    t3: float


class ClockEstimate:
    """§4: NTP-style samples, the best by sync distance, jumps in the burst, slews after."""

    def __init__(self) -> None:
        self.samples: deque[_Sample] = deque(maxlen=32)
        self.offset: float | None = None     # in use: controller clock - local clock
        self.accepted = 0
        self._adjusted_at: float | None = None

    @property
    def in_burst(self) -> bool:
        return self.accepted < BURST

    def add(self, t0: float, t1: float, t2: float, t3: float) -> bool:
        """Take one pong; False for a sample §4 says to drop."""
        delay = (t3 - t0) - (t2 - t1)
        if t3 < t0 or t2 < t1 or delay < 0 or delay > 1.0:
            return False
        self.samples.append(_Sample(((t1 - t0) + (t2 - t3)) / 2, delay, t3))
        self.accepted += 1
        return True

    def best(self, now: float) -> _Sample | None:
        return min(self.samples, key=lambda s: s.delay / 2 + 15e-6 * (now - s.t3),
                   default=None)

    def update(self, now: float, *, burst: bool) -> None:
        """Move the offset in use towards the best sample."""
        best = self.best(now)
        if best is None:
            return
        last, self._adjusted_at = self._adjusted_at, now
        if self.offset is None or burst or abs(best.offset - self.offset) > 0.05:
            self.offset = best.offset
            return
        step = 0.005 * (now - last if last is not None else 0.0)
        delta = best.offset - self.offset
        self.offset += max(-step, min(step, delta))

    def reset(self) -> None:
        self.samples.clear()
        self.accepted = 0


@dataclass
class Snapshot:
    """One verified snapshot answer."""

    req: int
    seq: int
    parts: int
    count: int
    digest: str
    keys_in_order: list[str]
    reason: str                   # "join" or "gap"


@dataclass
class AppliedEvent:
    """An event as this peer applied it, with the frame it landed on."""

    seq: int
    kind: str
    controller_at: float | None
    effective_at: float | None
    args: dict[str, Any]
    frame: int
    frame_controller_time: float
    frame_show_time: float | None
    frame_switched_anchor: bool


@dataclass
class _Snap:
    req: int
    started: float
    last: float
    reason: str
    parts: int = 0
    nbytes: int = 0
    items: dict[str, Any] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    sha: Any = field(default_factory=hashlib.sha256)


class Peer:
    """One peer of any role, its sockets served by a thread of its own."""

    def __init__(self, host: str, state_port: int, publish_port: int, node_id: str,
                 role: str = "projector", *, frame_s: float | None = None,
                 clock: bool = True, skew_s: float = 0.0) -> None:
        self.host, self.state_port, self.publish_port = host, state_port, publish_port
        self.node_id, self.role = node_id, role
        self.frame_s = frame_s if frame_s is not None else (0.004 if role == "projector"
                                                            else None)
        self.use_clock = clock
        self.skew_s = skew_s                   # this peer's local clock: monotonic + skew
        self.cond = threading.Condition()
        self.muted = False                     # sends nothing while set (goes silent)
        self.last_sent: float | None = None
        self.beating = True                    # a projector's node-status beats (§5)
        # a test's fault: the index of one snapshot part to lose once, as a ROUTER past its
        # high-water mark would (§5 step 4)
        self.lose_part: int | None = None
        # joining
        self.session: str | None = None
        self.welcomed = False
        self.welcome_seq: int | None = None
        self.welcomes = 0
        self.restarts = 0
        self.controller_gone = 0
        self.last_heard: float | None = None
        # state (§5)
        self.state: dict[str, Any] = {}
        self.seq: int | None = None
        self.synced = False
        self.snapshots: list[Snapshot] = []
        self.snapshot_failures: list[str] = []
        self.gaps = 0
        self._snap: _Snap | None = None
        self._snap_wanted: str | None = None
        self._snap_next_at = 0.0
        self._snap_failed_in_row = 0
        self._buffered: list[dict[str, Any]] = []
        self._req = itertools.count(1)
        # time (§4)
        self.clock_est = ClockEstimate()
        self.rtt: float | None = None
        self._probe_t0: float | None = None
        self._next_probe = 0.0
        self.anchor: tuple[float, float, float] | None = None
        self.pending_anchor: tuple[float, float, float] | None = None
        self.anchors_seen: list[tuple[float, float, float]] = []
        # events (§6) and frames
        self.seen_events: set[int] = set()
        self.duplicates = 0
        self._pending_events: list[dict[str, Any]] = []
        self.applied: list[AppliedEvent] = []
        self.frames = 0
        self.show_time: float | None = None
        self.last_frame_at: float | None = None
        self.switch_frames: list[tuple[int, float, float, tuple[float, float, float]]] = []
        self.backward_frames: list[int] = []
        self.malformed: list[str] = []
        # commands (§7)
        self._outbox: deque[tuple[int, str, dict[str, Any]]] = deque()
        self._aliases: dict[int, int] = {}
        # commands are remembered until answered, so that a hello_first refusal can resend
        self._awaited: dict[int, tuple[str, dict[str, Any]]] = {}
        self._replies: dict[int, dict[str, Any]] = {}
        self.hello_first_refusals = 0
        self.other_replies: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._timers: dict[str, float] = {}

    # ------------------------------------------------------------------ public side

    def local(self) -> float:
        """This peer's local clock (seconds)."""
        return time.monotonic() + self.skew_s

    def start(self) -> Peer:
        self._thread = threading.Thread(target=self._run, name=f"peer-{self.node_id}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def wait_for(self, check: Callable[[], Any], timeout_s: float, what: str) -> Any:
        """Wait (on this peer's condition, woken by its thread) until ``check()`` is
        truthy; ``AssertionError`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while True:
                value = check()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.node_id}: timed out after {timeout_s} s "
                                         f"waiting for {what}")
                self.cond.wait(min(left, 0.05))

    def command(self, name: str, args: dict[str, Any] | None = None,
                timeout_s: float = 5.0) -> dict[str, Any]:
        """Send a command (after hello) and wait for its reply body."""
        with self.cond:
            req = next(self._req)
            self._awaited[req] = (name, dict(args or {}))
            self._outbox.append((req, name, dict(args or {})))
        return self.wait_for(lambda: self._replies.pop(req, None), timeout_s,
                             f"the reply to {name!r}")

    def show_time_at(self, controller_time: float) -> float | None:
        a = self.anchor
        return None if a is None else a[1] + (controller_time - a[0]) * a[2]

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        ctx = zmq.Context()
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(f"tcp://{self.host}:{self.publish_port}")
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.setsockopt(zmq.IMMEDIATE, 1)
        dealer.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
        dealer.connect(f"tcp://{self.host}:{self.state_port}")
        self._dealer = dealer
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(dealer, zmq.POLLIN)
        next_frame = self.local()
        try:
            while not self._stop.is_set():
                wait = 0.01
                if self.frame_s:
                    wait = max(0.0, min(wait, next_frame - self.local()))
                ready = dict(poller.poll(int(wait * 1000)))
                with self.cond:
                    for sock in (dealer, sub):
                        if sock in ready:
                            for _ in range(2000):
                                try:
                                    frames = sock.recv_multipart(zmq.NOBLOCK)
                                except zmq.Again:
                                    break
                                self._receive(frames, self.local())
                    self._tick(self.local())
                    if self.frame_s and self.local() >= next_frame:
                        next_frame = max(next_frame + self.frame_s, self.local())
                        self._frame()
                    self.cond.notify_all()
        finally:
            sub.close(linger=0)
            dealer.close(linger=0)
            ctx.term()

    def _send(self, kind: str, body: dict[str, Any]) -> bool:
        if self.muted:
            return False
        try:
            self._dealer.send_multipart(encode(kind, body), zmq.NOBLOCK)
        except zmq.Again:
            return False    # nothing connected: dropped, sent again on the next beat
        self.last_sent = self.local()
        return True

    def _due(self, name: str, now: float, every: float) -> bool:
        if now >= self._timers.get(name, 0.0):
            self._timers[name] = now + every
            return True
        return False

    def _tick(self, now: float) -> None:
        if (self.welcomed and self.last_heard is not None
                and now - self.last_heard > CONTROLLER_GONE_S):
            self.welcomed = False         # controller gone: keep playing, say hello again
            self.controller_gone += 1
        if not self.welcomed:
            if self._due("hello", now, HELLO_EVERY_S):
                self._send("hello", {"node_id": self.node_id, "role": self.role})
            return
        self._snapshot_tick(now)
        if self.use_clock:
            self._probe_tick(now)
        elif self._due("keepalive", now, KEEPALIVE_EVERY_S):
            self._send("ping", {"t0": now})
        if (self.role == "projector" and self.beating
                and self._due("beat", now, BEAT_EVERY_S)):
            self._send("node-status", {
                "node_id": self.node_id, "frames": self.frames,
                "show_time": float(self.show_time or 0.0),
                "offset_us": float((self.clock_est.offset or 0.0) * 1e6),
                "rtt_us": float((self.rtt or 0.0) * 1e6), "captures": [], "extra": {},
                "render_age_s": float(max(0.0, now - (self.last_frame_at or now))),
                "loading_s": 0.0})
        while self._outbox:
            req, name, args = self._outbox[0]
            if not self._send("command", {"name": name, "args": args, "req": req}):
                break
            self._outbox.popleft()

    # -- clock (§4)

    def _probe_tick(self, now: float) -> None:
        burst = self.clock_est.in_burst
        if self._probe_t0 is not None:
            if now - self._probe_t0 < PROBE_TIMEOUT_S:
                return
            self._probe_t0 = None          # unanswered: replaced by a new one
        elif not burst and now < self._next_probe:
            return
        if self._send("ping", {"t0": now}):
            self._probe_t0 = now

    def _pong(self, body: dict[str, Any], t3: float) -> None:
        t0 = body.get("t0")
        if self._probe_t0 is None or t0 != self._probe_t0:
            return                          # matches no ping in flight: ignored
        self._probe_t0 = None
        burst = self.clock_est.in_burst
        if self.clock_est.add(float(t0), float(body["t1"]), float(body["t2"]), t3):
            best = self.clock_est.best(t3)
            self.rtt = best.delay if best else None
            self.clock_est.update(t3, burst=burst)
        every = 0.2 if (self.rtt or 0.0) > 0.005 else 0.25
        self._next_probe = t3 + every

    def controller_now(self, local: float) -> float:
        return local + (self.clock_est.offset or 0.0)

    # -- receiving

    def _receive(self, frames: list[bytes], now: float) -> None:
        try:
            kind, body, part = decode(frames)
        except Refused as exc:
            self.malformed.append(str(exc))
            return
        if kind == "pong":
            self._pong(body, now)
        elif kind == "heartbeat":
            self._heartbeat(body, now)
        elif kind == "welcome":
            self._welcome(body, now)
        elif kind == "key-update":
            self._key_update(body, now)
        elif kind == "event":
            seq = int(body["seq"])
            if seq in self.seen_events:
                self.duplicates += 1
            else:
                self.seen_events.add(seq)
                self._pending_events.append(body)
        elif kind == "snapshot-part":
            self._snapshot_part(body, part or b"", now)
        elif kind == "snapshot":
            self._snapshot_end(body, now)
        elif kind == "reply":
            self._reply(body)
        else:
            self.malformed.append(f"unknown message type {kind!r}")

    def _restart(self) -> None:
        """§5: forget the state and the event history, keep the old anchor, rejoin."""
        self.restarts += 1
        self.session = None
        self.welcomed = False
        self.state, self.seq, self.synced = {}, None, False
        self._snap, self._snap_wanted, self._buffered = None, None, []
        self.seen_events, self._pending_events = set(), []
        self._probe_t0 = None
        self.clock_est.reset()           # a new controller run: a new clock, burst again
        self._timers.pop("hello", None)

    def _heartbeat(self, body: dict[str, Any], now: float) -> None:
        session = body.get("session", "")
        if session and self.session is not None and session != self.session:
            self._restart()
        self.last_heard = now
        self._offer_anchor(body["anchor"])
        if (self.synced and self._snap is None and self._snap_wanted is None
                and int(body["seq"]) > (self.seq or 0)):
            self.gaps += 1
            self._want_snapshot("gap", now)

    def _welcome(self, body: dict[str, Any], now: float) -> None:
        if self.session is not None and body["session"] != self.session:
            self._restart()
        self.session = body["session"]
        self.welcome_seq = int(body["seq"])
        self.welcomed = True
        self.welcomes += 1
        self.last_heard = now
        self._timers.pop("beat", None)
        self._want_snapshot("join", now)

    def _offer_anchor(self, raw: Any) -> None:
        anchor = (float(raw[0]), float(raw[1]), float(raw[2]))
        if anchor in (self.anchor, self.pending_anchor):
            return
        self.anchors_seen.append(anchor)
        if self.anchor is None:
            self.anchor = anchor
        else:
            self.pending_anchor = anchor   # switches when the controller clock gets there

    def _set_key(self, key: str, value: Any) -> None:
        self.state[key] = value
        if key == "anchor":
            self._offer_anchor(value)

    def _key_update(self, body: dict[str, Any], now: float) -> None:
        if not self.synced or self._snap is not None or self._snap_wanted is not None:
            self._buffered.append(body)
            return
        self._apply_update(body, now)

    def _apply_update(self, body: dict[str, Any], now: float) -> None:
        seq = int(body["seq"])
        if self.seq is not None and seq <= self.seq:
            return
        if self.seq is not None and seq == self.seq + 1:
            self.seq = seq
            self._set_key(str(body["key"]), body["value"])
            return
        self.gaps += 1                     # further ahead: an update was lost
        self._buffered.append(body)
        self._want_snapshot("gap", now)

    # -- snapshots (§5 steps 3-4)

    def _want_snapshot(self, reason: str, now: float) -> None:
        self._snap, self._snap_wanted = None, reason
        self._snap_next_at = max(self._snap_next_at, now)

    def _snapshot_tick(self, now: float) -> None:
        if self._snap is not None and now - self._snap.last > SNAPSHOT_SILENCE_S:
            self._snapshot_failed("no part or snapshot for 0.5 s", now)
        if self._snap is None and self._snap_wanted is not None and now >= self._snap_next_at:
            req = next(self._req)
            if self._send("snapshot-request", {"req": req}):
                self._snap = _Snap(req, now, now, self._snap_wanted)

    def _snapshot_failed(self, why: str, now: float) -> None:
        reason = self._snap.reason if self._snap else (self._snap_wanted or "join")
        self.snapshot_failures.append(why)
        self._snap, self._snap_wanted = None, reason
        self._snap_failed_in_row += 1
        self._snap_next_at = now + min(1.0, 0.1 * 2 ** (self._snap_failed_in_row - 1))

    def _snapshot_part(self, body: dict[str, Any], chunk: bytes, now: float) -> None:
        snap = self._snap
        if snap is None or body.get("req") != snap.req:
            return                          # an answer to a request given up
        if self.lose_part is not None and body.get("index") == self.lose_part:
            self.lose_part = None
            return
        if body.get("index") != snap.parts:
            self._snapshot_failed(f"part {body.get('index')} where {snap.parts} was due",
                                  now)
            return
        snap.sha.update(chunk)
        snap.parts += 1
        snap.nbytes += len(chunk)
        snap.last = now
        items = msgpack.unpackb(chunk, raw=False)
        if not isinstance(items, dict):
            self._snapshot_failed("a part that is not a map", now)
            return
        for key, value in items.items():
            if key in snap.items:
                self._snapshot_failed(f"key {key!r} twice", now)
                return
            snap.items[key] = value
            snap.order.append(key)
        if (len(snap.items) > STATE_MAX_KEYS or snap.nbytes > STATE_MAX_BYTES
                or snap.parts > STATE_MAX_PARTS):
            self._snapshot_failed("past a state limit", now)

    def _snapshot_end(self, body: dict[str, Any], now: float) -> None:
        snap = self._snap
        if snap is None or body.get("req") != snap.req:
            return
        digest = snap.sha.hexdigest()
        if body["parts"] != snap.parts:
            self._snapshot_failed(f"parts {body['parts']} but {snap.parts} came", now)
            return
        if body["count"] != len(snap.items):
            self._snapshot_failed(f"count {body['count']} but {len(snap.items)} keys", now)
            return
        if body["digest"] != digest:
            self._snapshot_failed("digest mismatch", now)
            return
        self._snap, self._snap_wanted, self._snap_failed_in_row = None, None, 0
        self.state = {}
        for key, value in snap.items.items():
            self._set_key(key, value)
        self.seq = int(body["seq"])
        self.synced = True
        self.snapshots.append(Snapshot(snap.req, self.seq, snap.parts, len(snap.items),
                                       digest, snap.order, snap.reason))
        buffered, self._buffered = sorted(self._buffered, key=lambda b: b["seq"]), []
        for update in buffered:
            if self._snap_wanted is None:
                self._apply_update(update, now)
            else:
                self._buffered.append(update)

    # -- replies (§7)

    def _reply(self, body: dict[str, Any]) -> None:
        req = int(body.get("req", 0))
        orig = self._aliases.pop(req, req)
        data = body.get("data") or {}
        if not body.get("ok") and isinstance(data, dict) and data.get("hello_first"):
            self.hello_first_refusals += 1
            pending = next((c for c in self._sent_commands() if c[0] == orig), None)
            if pending is not None:
                self.welcomed = False      # say hello again, then resend (§5 step 2)
                new = next(self._req)
                self._aliases[new] = orig
                self._outbox.append((new, pending[1], pending[2]))
                return
        if self._awaited.pop(orig, None) is not None:
            self._replies[orig] = body
        else:
            self.other_replies.append(body)

    def _sent_commands(self) -> list[tuple[int, str, dict[str, Any]]]:
        return [(req, name, args) for req, (name, args) in self._awaited.items()]

    # -- frames (§6)

    def _frame(self) -> None:
        if self.anchor is None or (self.use_clock and self.clock_est.offset is None):
            return                          # nothing to show before a clock and an anchor
        ctrl = self.controller_now(self.local())     # the one clock reading of this frame
        switched = False
        if self.pending_anchor is not None and ctrl >= self.pending_anchor[0]:
            self.anchor, self.pending_anchor = self.pending_anchor, None
            switched = True
        show = self.show_time_at(ctrl)
        self.frames += 1
        if switched:
            self.switch_frames.append((self.frames, ctrl, show or 0.0, self.anchor))
        if self.show_time is not None and show is not None and show < self.show_time:
            self.backward_frames.append(self.frames)
        due = [e for e in self._pending_events
               if (ctrl >= float(e["controller_at"]) if "controller_at" in e
                   else show is not None and show >= float(e.get("effective_at", 0.0)))]
        for e in sorted(due, key=lambda e: (float(e.get("controller_at", ctrl)), e["seq"])):
            self._pending_events.remove(e)
            self.applied.append(AppliedEvent(
                int(e["seq"]), str(e["kind"]),
                float(e["controller_at"]) if "controller_at" in e else None,
                float(e["effective_at"]) if "effective_at" in e else None,
                dict(e.get("args") or {}), self.frames, ctrl, show, switched))
        self.show_time = show
        self.last_frame_at = self.local()
