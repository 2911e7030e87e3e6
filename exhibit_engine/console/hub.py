"""The console's link to the controller: commands, the polled status and the event log.

A :class:`Hub` lives on the console's own asyncio loop (uvicorn's), never on the
controller's loop thread. It reaches the controller only through the two calls of
:class:`~exhibit_engine.sync.controller.ControllerServer` made for in-process peers:

- ``request(peer, role, message)`` runs a message through the controller's one command
  path (hello first, the table of rights) and returns a future of the reply. The hub
  says hello lazily, as local peer ``"console"`` for operator requests and
  ``"console-kiosk"`` for kiosk ones, and again when the controller has forgotten it
  (a ``hello_first`` refusal).
- ``listen(fn)`` calls ``fn`` on the controller's loop thread with every message it
  publishes. The hub's ``fn`` only hands the message to its own loop
  (``call_soon_threadsafe``); everything else happens there.

What the hub keeps for the API and its event stream:

- :attr:`Hub.status`: the latest ``status`` reply, polled every ``poll_s`` (0.25 s)
  through the same command path.
- :attr:`Hub.log`: an :class:`EventLog`, a ring of the last 1,000 stream events with
  increasing integer ids: ``state`` (each key update: ``key``, ``value``, ``seq``),
  ``event`` (each event once, though the controller repeats it in its next heartbeats:
  ``kind``, ``controller_at``, ``effective_at``, ``args``, ``seq``), ``status`` (when a
  node's state, the show or the controller's health changed, and at least once a second:
  ``controller`` ``"ok"``, ``nodes`` (the status reply's rows), ``show``, ``show_time``,
  ``session``, ``insecure``, ``state_save``, ``omitted``; or ``controller`` ``"lost"``
  and ``error``) and whatever :meth:`Hub.post` adds (``log``: the warnings the process
  logs). Ids start from the wall
  clock in milliseconds, so a restarted console's ids follow the last run's and a
  client's ``Last-Event-ID`` from before the restart is known to be too old.
- :attr:`Hub.clock`: the show clock, from the controller's heartbeats, renewed once a
  second (controller time): ``show_time``, ``controller_time``, ``rate``, ``session``,
  ``seq``. Only the latest one counts, so it is not in the log (a stream sends it
  without an id).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..config import ShowConfig
from ..errors import SyncError, SyncTimeout
from ..show.anchor import ShowAnchor
from ..sync.protocol import Command, Event, Heartbeat, Hello, KeyUpdate, Message, Reply, Welcome

__all__ = ["CommandResult", "EventLog", "Hub", "LOCAL_PEERS", "StreamEvent"]

log = logging.getLogger(__name__)

#: The local peer name the hub uses for each role.
LOCAL_PEERS = {"operator": "console", "kiosk": "console-kiosk"}

_Request = Callable[[str, str, Message], "Future[Message | None]"]
_Listen = Callable[[Callable[[Message], None]], Callable[[], None]]


@dataclass(frozen=True)
class CommandResult:
    """The controller's answer to one command.

    Attributes:
        ok: it was carried out.
        data: the reply's data (see ``docs/protocol.md`` §7).
        error: why not, in one line (the controller's words).
    """

    ok: bool
    data: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass(frozen=True)
class StreamEvent:
    """One entry of the event stream.

    Attributes:
        id: increasing integer id (the SSE ``id:``).
        kind: the SSE ``event:`` name (``state``, ``event``, ``status``).
        data: its JSON body.
    """

    id: int
    kind: str
    data: Mapping[str, Any]


class EventLog:
    """A ring of the last ``size`` stream events, with increasing ids.

    Args:
        size: how many events it keeps.
        first_id: the id before the first event's (the first one gets ``first_id + 1``).
    """

    def __init__(self, size: int = 1000, first_id: int = 0) -> None:
        if size < 1:
            raise ValueError("an event log holds at least one event")
        self._ring: deque[StreamEvent] = deque(maxlen=size)
        self._ids = itertools.count(first_id + 1)
        self.first_id = first_id
        self.last_id = first_id

    def append(self, kind: str, data: Mapping[str, Any]) -> StreamEvent:
        """Add an event; returns it with its id."""
        event = StreamEvent(next(self._ids), kind, data)
        self._ring.append(event)
        self.last_id = event.id
        return event

    def since(self, last_id: int) -> list[StreamEvent] | None:
        """Every event after ``last_id``, or ``None`` when the ring no longer holds them all
        (too old), or ``last_id`` is not one of this log's (from another run)."""
        if last_id == self.last_id:
            return []
        if last_id > self.last_id or last_id < self.first_id:
            return None
        oldest = self._ring[0].id if self._ring else self.last_id + 1
        if last_id < oldest - 1:
            return None
        return [e for e in self._ring if e.id > last_id]

    def __len__(self) -> int:
        return len(self._ring)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Hub:
    """The console's link to one controller; lives on the console's asyncio loop.

    Args:
        request: ``ControllerServer.request``.
        listen: ``ControllerServer.listen``.
        show: the show the controller plays (for the cue list), if known.
        poll_s: how often the status is polled.
        timeout_s: a request the controller has not answered by then fails
            (:class:`~exhibit_engine.errors.SyncTimeout`).
        log_size: how many stream events the log keeps.
        first_id: the id before the first stream event's; the wall clock in milliseconds
            if omitted.
        clock_every_s: how often (controller seconds) the show clock is renewed.
        status_every_s: a ``status`` event is logged when the nodes' states, the show or
            the controller's health change, and at least this often while it answers
            (so the nodes' figures stay fresh).

    Call :meth:`start` on the loop that serves the API and :meth:`stop` on the way out.
    """

    def __init__(self, request: _Request, listen: _Listen, *, show: ShowConfig | None = None,
                 poll_s: float = 0.25, timeout_s: float = 2.0, log_size: int = 1000,
                 first_id: int | None = None, clock_every_s: float = 1.0,
                 status_every_s: float = 1.0) -> None:
        self._request = request
        self._listen = listen
        self.show = show
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.clock_every_s = clock_every_s
        self.status_every_s = status_every_s
        self.log = EventLog(log_size, _wall_ms() if first_id is None else first_id)
        #: The latest ``status`` reply's data (``None`` until the first answer).
        self.status: dict[str, Any] | None = None
        #: Whether the last status poll was answered.
        self.controller_ok = False
        #: The latest show clock (see the module docstring), ``None`` before a heartbeat.
        self.clock: dict[str, Any] | None = None
        #: What the controller published, counted by message type (``Event`` counts each
        #: copy: the controller repeats events in its next heartbeats).
        self.counters: dict[str, int] = {}
        #: Counts clock renewals, so a stream knows whether it sent the latest.
        self.clock_count = 0
        #: The controller's session, from its welcome.
        self.session = ""
        #: Set by :meth:`close_streams`: every event stream ends.
        self.closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._hello: dict[str, asyncio.Lock] = {}
        self._welcomed: set[str] = set()
        self._reqs = itertools.count(1)
        self._unlisten: Callable[[], None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._summary: Any = None
        self._anchor: ShowAnchor | None = None      # the one in force at the last beat
        self._clock_at = -float("inf")
        self._event_seq = -1        # the last event logged (repeats are dropped)
        self._status_logged_at = -float("inf")
        self._status_at = time.monotonic()

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        """Listen to the controller and start polling its status (on the API's loop)."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._hello = {role: asyncio.Lock() for role in LOCAL_PEERS}
        self._unlisten = self._listen(self._from_controller)
        self._poller = self._loop.create_task(self._poll_forever(), name="console-status")

    async def stop(self) -> None:
        """Stop listening and polling; end every event stream."""
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        self.close_streams()
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    def close_streams(self) -> None:
        """End every event stream (the server is stopping); on the hub's loop."""
        self.closing = True
        self._notify()

    # ------------------------------------------------------------------ commands

    async def command(self, role: str, name: str, args: Mapping[str, Any] | None = None,
                      ) -> CommandResult:
        """Send command ``name`` as the local peer of ``role``; the controller's answer.

        Raises:
            SyncTimeout: the controller did not answer within ``timeout_s``.
            SyncError: the controller is not taking requests (stopped, or flooded).
        """
        cmd = Command(name, dict(args or {}), next(self._reqs))
        for _ in range(2):
            await self._say_hello(role)
            reply = await self._ask(role, cmd)
            if not isinstance(reply, Reply):
                raise SyncError(f"the controller answered {name!r} with no reply")
            if not reply.ok and reply.data.get("hello_first"):
                self._welcomed.discard(role)     # it forgot us: say hello again
                continue
            return CommandResult(reply.ok, dict(reply.data), reply.error)
        raise SyncError(f"the controller keeps asking the console to say hello ({name!r})")

    async def refresh(self) -> dict[str, Any]:
        """Ask the controller for its status now; keeps and returns it.

        Raises:
            SyncTimeout, SyncError: as :meth:`command`; also a refused status.
        """
        result = await self.command("operator", "status")
        if not result.ok:
            raise SyncError(f"the controller refused the console's status: {result.error}")
        self.status = dict(result.data)
        self._status_at = time.monotonic()
        self.controller_ok = True
        self._note_status()
        return self.status

    def status_age(self) -> float:
        """Seconds since :attr:`status` was answered."""
        return time.monotonic() - self._status_at

    async def _say_hello(self, role: str) -> None:
        if role in self._welcomed:
            return
        async with self._hello[role]:
            if role in self._welcomed:
                return
            reply = await self._ask(role, Hello(LOCAL_PEERS[role], role))
            if isinstance(reply, Welcome):
                self.session = reply.session
                self._welcomed.add(role)
                return
            why = reply.error if isinstance(reply, Reply) else "no welcome"
            raise SyncError(f"the controller refused the console's hello: {why}")

    async def _ask(self, role: str, message: Message) -> Message | None:
        future = self._request(LOCAL_PEERS[role], role, message)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except TimeoutError:
            raise SyncTimeout("the controller",
                              f"no answer within {self.timeout_s:g} s") from None
        except RuntimeError as exc:     # LocalPort: stopped, or too many requests wait
            why = str(exc)
            raise SyncError(why if why.startswith("the controller") else
                            f"the controller: {why}") from None

    # ------------------------------------------------------------------ status poller

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except SyncError as exc:
                if self.controller_ok or self._summary is None:
                    # (On the way out the controller stops before its console does.)
                    stopping = "not taking requests now" in str(exc)
                    log.log(logging.INFO if stopping else logging.WARNING,
                            "console: lost the controller: %s", exc)
                self.controller_ok = False
                self._note_lost(str(exc))
            await asyncio.sleep(self.poll_s)

    def _note_status(self) -> None:
        status = self.status or {}
        nodes = [(n.get("id"), n.get("role"), n.get("state")) for n in status.get("nodes", [])]
        show = {k: v for k, v in status.get("show", {}).items() if k != "blackout"}
        summary = {"controller": "ok", "nodes": nodes, "show": show,
                   "insecure": status.get("insecure", ""),
                   "state_save_ok": (status.get("state_save") or {}).get("ok", True)}
        now = time.monotonic()
        if summary == self._summary and now - self._status_logged_at < self.status_every_s:
            return
        self._summary, self._status_logged_at = summary, now
        self.log.append("status", {
            "controller": "ok", "nodes": status.get("nodes", []),
            "show": status.get("show", {}), "show_time": status.get("show_time"),
            "session": status.get("session", ""), "insecure": status.get("insecure", ""),
            "state_save": status.get("state_save"), "omitted": status.get("omitted", 0)})
        self._notify()

    def post(self, kind: str, data: Mapping[str, Any]) -> None:
        """From any thread: log a stream event of another source (``log``: a warning the
        process logged); it reaches the streams on the hub's loop."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):     # our loop closed meanwhile
                loop.call_soon_threadsafe(self._post, kind, dict(data))

    def _post(self, kind: str, data: dict[str, Any]) -> None:
        self.log.append(kind, data)
        self._notify()

    def _note_lost(self, why: str) -> None:
        summary = {"controller": "lost"}
        if summary != self._summary:
            self._summary = summary
            self.log.append("status", {"controller": "lost", "error": why})
            self._notify()

    # ------------------------------------------------------------------ published messages

    def _from_controller(self, message: Message) -> None:
        """On the controller's loop thread: hand the message over, nothing more."""
        loop = self._loop
        if loop is None or not isinstance(message, (KeyUpdate, Event, Heartbeat)):
            return
        with contextlib.suppress(RuntimeError):     # our loop closed meanwhile
            loop.call_soon_threadsafe(self._on_message, message)

    def _on_message(self, message: Message) -> None:
        kind = type(message).__name__
        self.counters[kind] = self.counters.get(kind, 0) + 1
        if isinstance(message, KeyUpdate):
            self.log.append("state", {"key": message.key, "value": message.value,
                                      "seq": message.seq})
        elif isinstance(message, Event):
            if message.seq <= self._event_seq:
                return          # the controller repeats events in its next heartbeats
            self._event_seq = message.seq
            self.log.append("event", {"kind": message.kind,
                                      "controller_at": message.controller_at,
                                      "effective_at": message.effective_at,
                                      "args": dict(message.args), "seq": message.seq})
        elif isinstance(message, Heartbeat):
            self._beat(message)
            return
        self._notify()

    def _beat(self, beat: Heartbeat) -> None:
        now = beat.controller_time
        if beat.anchor.controller_time <= now or self._anchor is None:
            self._anchor = beat.anchor          # an anchor announced for later waits
        if now - self._clock_at < self.clock_every_s:
            return
        self._clock_at = now
        anchor = self._anchor
        self.clock = {"show_time": anchor.show_time(now), "controller_time": now,
                      "rate": anchor.rate, "session": beat.session, "seq": beat.seq}
        self.clock_count += 1
        self._notify()

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def changed(self) -> asyncio.Event:
        """The event that is set at the next change (take it before reading, so that a
        change meanwhile is not missed)."""
        if self._changed is None:
            raise SyncError("the console hub was not started")
        return self._changed

    async def wait(self, changed: asyncio.Event, timeout: float) -> bool:
        """Wait until ``changed`` (from :meth:`changed`) is set: something new was
        logged, the clock was renewed or the streams end; False when ``timeout`` passed
        first."""
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            return False
        return True
