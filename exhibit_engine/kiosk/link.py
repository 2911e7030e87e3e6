"""The kiosk's connection to the controller, in a thread of its own: the app never waits.

The visitor's app renders a frame, then asks a :class:`KioskLink` what happened: whether
the controller answers (:attr:`~KioskLink.online`), its last ``status``
(:attr:`~KioskLink.status`) and the taps that have an answer (:meth:`~KioskLink.finished`).
A tap is :meth:`~KioskLink.send`: it returns a :class:`Ticket` at once, ``"pending"``
until the worker thread has the controller's answer.

One worker thread owns the :class:`~exhibit_engine.sync.kiosk.KioskClient` (ZeroMQ
sockets belong to one thread); the app's thread only touches the link's queue and fields,
under one lock. What the worker does, in order:

- **Status** every ``poll_s`` (each waits at most ``timeout_s``): an answer makes the
  link online; a poll or command with no answer makes it offline at once, so a controller
  that stops is seen within ``poll_s + timeout_s`` (1.5 s by default). Offline, it goes
  on polling; ZeroMQ reconnects by itself, and a restarted controller (a new session)
  answers the first command with ``hello_first``, on which the client says hello again,
  so the link comes back online without a tap.
- **Commands**, one at a time, in the order sent; a poll that is due goes first, so a
  command waits for at most one poll. Each carries the app's request id (one per tap,
  docs/protocol.md §7): a retry, or the same tap sent twice, acts once on the controller
  and gets its first reply again (``data["repeated"]``).

What a tap gets (:attr:`Ticket.state`):

- ``"done"``: the reply's data (``select``: ``effective_at``, ``seq``, ``state_seq``).
- ``"refused"``: the controller answered no; :attr:`Ticket.reason` is its one line
  (``select: no bundle of the show has item 'x'``). A kiosk the controller turns away
  (its hello refused, or its CURVE key not in the venue's ``[security]``) is not online,
  and says why in every ``"offline"`` reason until it is let in.
- ``"offline"``: no answer. Online, a command that times out is sent once more with the
  same id, then fails: at most ``2 * timeout_s`` once it leaves the queue (where a poll
  on the wire may hold it for up to ``timeout_s``). Offline for less than
  :data:`GRACE_S` (a blip), it is sent once. Offline for longer, it fails at once without going on the
  wire: a visitor's tap is never kept to act minutes later, when the wall is back and
  the visitor gone.

Nothing it does raises into the app's thread: an unexpected error in the worker is
logged (logger ``exhibit_engine.kiosk``), the client is made anew, and it goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ProtocolError, SyncError, SyncTimeout
from ..sync.auth import ClientCurve
from ..sync.kiosk import KioskClient

__all__ = ["GRACE_S", "KioskLink", "LinkStats", "TICKET_STATES", "Ticket"]

log = logging.getLogger("exhibit_engine.kiosk")

#: A tap sent this soon (seconds) after the link went offline is still tried once.
GRACE_S = 1.0
#: The states of a :class:`Ticket`: it leaves ``"pending"`` once, for one of the others.
TICKET_STATES = ("pending", "done", "refused", "offline")

_KEEP_FINISHED = 1000       # finished tickets kept for finished(), the oldest dropped
_KEEP_IDS = 1024            # request ids counted in LinkStats.by_request_id


@dataclass(eq=False)
class Ticket:
    """One tap's command and, once the worker has it, its outcome.

    The worker fills in ``data``, ``reason`` and ``finished`` before it sets ``state``,
    once; the app only reads.

    Attributes:
        request_id: the app's id for the tap (the same for its retries).
        command: the command's name (``select``, ``touch``, ``language``).
        args: its arguments.
        created: the link's clock when it was sent.
        state: one of :data:`TICKET_STATES`.
        data: the reply's data, when ``"done"``.
        reason: why not: the controller's refusal, or why it is offline.
        finished: the link's clock when it left ``"pending"``.
        sent: how many times it went on the wire (a retry counts).
    """

    request_id: str
    command: str
    args: dict[str, Any]
    created: float
    state: str = "pending"
    data: dict[str, Any] | None = None
    reason: str = ""
    finished: float | None = None
    sent: int = 0

    @property
    def pending(self) -> bool:
        """No answer yet."""
        return self.state == "pending"


@dataclass
class LinkStats:
    """What the link did (a copy, from :attr:`KioskLink.stats`).

    Attributes:
        sent: the app's commands put on the wire, retries included (status polls and
            hellos are not counted; a command that found no controller never went).
        by_request_id: ``sent`` by request id (the last 1,024 ids).
        polls: status polls tried.
        reconnects: times it came back online after being offline.
        offline_periods: times it went offline after being online.
    """

    sent: int = 0
    by_request_id: dict[str, int] = field(default_factory=dict)
    polls: int = 0
    reconnects: int = 0
    offline_periods: int = 0


class KioskLink:
    """The kiosk's connection to the controller, run in a background thread.

    Args:
        host: the controller's address.
        state_port: its ROUTER port.
        kiosk_id: this kiosk's id (its hello's, as ``status`` lists it).
        curve: the kiosk's CURVE keys and the controller's public key, where the venue
            has ``[security] curve = true``.
        poll_s: the pause between status polls.
        timeout_s: how long one request waits for its answer.
        clock: the clock of :attr:`offline_since`, :attr:`status_at` and the tickets'
            times (seconds, like :func:`time.monotonic`).
        backup: the backup controller's ``(host, state_port)`` (``[network.backup]``):
            the link fails over to it as :class:`~exhibit_engine.sync.operator
            .OperatorClient` does.

    Raises:
        ValueError: a bad ``kiosk_id``, ``poll_s`` or ``timeout_s``.

    Call :meth:`start` once, poll the properties and :meth:`finished` every frame, and
    :meth:`close` on the way out.
    """

    def __init__(self, host: str, state_port: int, kiosk_id: str, *,
                 curve: ClientCurve | None = None, poll_s: float = 0.5,
                 timeout_s: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 backup: tuple[str, int] | None = None) -> None:
        if not 0 < len(kiosk_id) <= 256:
            raise ValueError("kiosk_id must be 1 to 256 characters")
        if not poll_s > 0 or not timeout_s > 0:
            raise ValueError("poll_s and timeout_s must be greater than 0")
        self.host, self.state_port, self.kiosk_id = host, state_port, kiosk_id
        self.backup = backup
        self.poll_s, self.timeout_s = poll_s, timeout_s
        self.grace_s = GRACE_S
        self._curve = curve
        self._clock = clock
        self._cond = threading.Condition(threading.RLock())
        self._queue: deque[Ticket] = deque()
        self._done: deque[Ticket] = deque(maxlen=_KEEP_FINISHED)
        self._online = False
        self._answered = False              # ever
        self._offline_since: float | None = None
        self._failing_since: float | None = None   # the first unanswered request since
        self._last_error = "no answer yet"
        self._refusal = ""                  # a refused hello or CURVE key, until answered
        self._status: dict[str, Any] | None = None
        self._status_at: float | None = None
        self._stats = LinkStats()
        self._closed = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        """Start the worker thread (a daemon) and return at once; a second call does
        nothing."""
        with self._cond:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"exhibit-kiosk-link-{self.kiosk_id[:32]}")
            self._thread.start()

    def close(self) -> None:
        """Stop the worker (within about ``timeout_s``: a request on the wire ends
        first) and close its sockets, linger 0. Tickets still queued fail as
        ``"offline"``. Safe to call twice."""
        with self._cond:
            already = self._closed
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if not already and thread is not None and thread is not threading.current_thread():
            thread.join(self.timeout_s + 0.5)
            if thread.is_alive():
                log.warning("kiosk link %s: the worker is still waiting on the controller; "
                            "it closes its sockets when that request ends", self.kiosk_id)
        self._fail_queued("the kiosk link is closed")

    # ------------------------------------------------------------------ the app's side

    @property
    def online(self) -> bool:
        """The last status poll or command got an answer."""
        with self._cond:
            return self._online

    @property
    def offline_since(self) -> float | None:
        """The clock when it went offline; ``None`` while online and before the first
        answer."""
        with self._cond:
            return self._offline_since

    @property
    def status(self) -> dict[str, Any] | None:
        """The controller's last ``status`` reply data (a copy; kept while offline, see
        :attr:`status_at`), ``None`` before the first."""
        with self._cond:
            return None if self._status is None else dict(self._status)

    @property
    def status_at(self) -> float | None:
        """The clock when :attr:`status` arrived."""
        with self._cond:
            return self._status_at

    @property
    def stats(self) -> LinkStats:
        """A copy of what it did so far."""
        with self._cond:
            return replace(self._stats, by_request_id=dict(self._stats.by_request_id))

    def send(self, command: str, args: Mapping[str, Any], request_id: str) -> Ticket:
        """Queue ``command`` for the controller; returns its ticket at once, never
        raises. Offline for longer than :data:`GRACE_S`, or closed, the ticket is
        ``"offline"`` already.

        ``request_id`` is the tap's own id: the same id again (a double tap, a retry)
        acts once and gets the first reply, marked ``repeated``. ``""`` sends no id, so
        a retry after a lost reply may act twice."""
        ticket = Ticket(str(request_id), str(command), {}, self._now())
        try:
            ticket.args = dict(args)
        except (TypeError, ValueError):
            self._finish(ticket, "refused", reason=f"{ticket.command}: arguments must be "
                         "a mapping")
            return ticket
        with self._cond:
            if self._closed:
                self._finish(ticket, "offline", reason="the kiosk link is closed")
            elif self._tries(ticket.created) == 0:
                self._finish(ticket, "offline", reason=self._offline_reason(ticket.created))
            else:
                self._queue.append(ticket)
                self._cond.notify_all()
        return ticket

    def finished(self) -> list[Ticket]:
        """The tickets that left ``"pending"`` since the last call, oldest first (at most
        the last 1,000)."""
        with self._cond:
            out = list(self._done)
            self._done.clear()
            return out

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until ``predicate()`` holds, checked at each change of the link (a
        ticket finished, online changed, a status arrived); False at the deadline. For
        tests and tools: the app polls instead."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout_s)

    # ------------------------------------------------------------------ the worker

    def _run(self) -> None:
        client: KioskClient | None = None
        next_poll = self._now()
        try:
            while True:
                with self._cond:
                    while not self._closed and not self._queue and self._now() < next_poll:
                        self._cond.wait(max(0.0, next_poll - self._now()))
                    if self._closed:
                        return
                    ticket = None if self._now() >= next_poll else self._queue.popleft()
                try:
                    if client is None:
                        client = self._connect()
                    if client is None:
                        if ticket is not None:
                            self._finish(ticket, "offline",
                                         reason=self._offline_reason(self._now()))
                    elif ticket is not None:
                        self._command(client, ticket)
                    else:
                        self._poll(client)
                except Exception as exc:       # never let the worker die: log, go on
                    log.exception("kiosk link %s: unexpected error (going on)",
                                  self.kiosk_id)
                    if ticket is not None and ticket.pending:
                        self._finish(ticket, "offline", reason=f"the kiosk link failed: "
                                     f"{type(exc).__name__}")
                    if client is not None:
                        client.close()
                    client = None
                if ticket is None:
                    next_poll = self._now() + self.poll_s
        finally:
            if client is not None:
                client.close()
            self._fail_queued("the kiosk link is closed")

    def _connect(self) -> KioskClient | None:
        """A new client, or ``None`` where the address cannot be used (said once, and
        kept as the reason it is offline)."""
        try:
            return KioskClient(self.host, self.state_port, self.kiosk_id, self.timeout_s,
                               curve=self._curve, backup=self.backup)
        except SyncError as exc:
            if str(exc) != self._refusal:
                log.error("kiosk link %s: %s", self.kiosk_id, exc)
            self._no_answer(str(exc), refused=True)
            return None

    def _poll(self, client: KioskClient) -> None:
        with self._cond:
            self._stats.polls += 1
        try:
            data = client.command("status", request_id="")    # no id: a repeat acts again
        except SyncError as exc:        # SyncTimeout, ProtocolError, a refused hello or key
            if isinstance(exc, ProtocolError):
                log.warning("kiosk link %s: %s", self.kiosk_id, exc)
            self._no_answer(str(exc), refused=not isinstance(exc, (SyncTimeout,
                                                                   ProtocolError)))
            return
        with self._cond:
            self._status, self._status_at = data, self._now()
            self._got_answer()

    def _command(self, client: KioskClient, ticket: Ticket) -> None:
        why = ""
        for attempt in range(self._tries(self._now())):
            if attempt and self._closed:
                why = "the kiosk link is closed"
                break
            before = client.sent
            try:
                data = client.command(ticket.command, request_id=ticket.request_id,
                                      **ticket.args)
            except (SyncTimeout, ProtocolError) as exc:
                self._count(ticket, client.sent - before)
                self._no_answer(str(exc))
                why = str(exc)
                continue                # once more, with the same id: it acts once
            except SyncError as exc:    # the controller's no (or its hello's, its key's)
                self._count(ticket, client.sent - before)
                if client.session is None:      # never welcomed: not online
                    self._no_answer(str(exc), refused=True)
                else:
                    self._got_answer()
                self._finish(ticket, "refused",
                             reason=str(exc).removeprefix(f"{client.address}: "))
                return
            except (TypeError, ValueError) as exc:     # args that cannot be sent
                self._finish(ticket, "refused", reason=f"{ticket.command}: {exc}")
                return
            self._count(ticket, client.sent - before)
            self._got_answer()
            self._finish(ticket, "done", data=data)
            return
        self._finish(ticket, "offline", reason=why or self._offline_reason(self._now()))

    # ------------------------------------------------------------------ shared state

    def _now(self) -> float:
        return self._clock()

    def _tries(self, now: float) -> int:
        """How many times a command may go on the wire now: twice online (or before the
        first poll has an answer or not), once in the first GRACE_S offline, else 0."""
        with self._cond:
            if self._online or self._failing_since is None:
                return 2
            return 1 if now - self._failing_since < self.grace_s else 0

    def _offline_reason(self, now: float) -> str:
        with self._cond:
            since = self._failing_since if self._failing_since is not None else now
            return (f"offline: no answer from the controller for {now - since:.1f} s "
                    f"({self._last_error})")

    def _got_answer(self) -> None:
        with self._cond:
            back = not self._online and self._answered
            if back:
                self._stats.reconnects += 1
            self._online, self._answered = True, True
            self._offline_since = self._failing_since = None
            self._refusal = ""
            self._cond.notify_all()
        if back:        # (logged outside the lock: the app's frame never waits on a log)
            log.info("kiosk link %s: the controller answers again", self.kiosk_id)

    def _no_answer(self, why: str, *, refused: bool = False) -> None:
        """Nothing answered (``refused``: the controller turned this kiosk away: its
        hello or its CURVE key; that reason is kept over later timeouts)."""
        with self._cond:
            now = self._now()
            if refused:
                self._refusal = why
            self._last_error = self._refusal or why
            if self._failing_since is None:
                self._failing_since = now
            went = self._online
            if went:
                self._online, self._offline_since = False, now
                self._stats.offline_periods += 1
            self._cond.notify_all()
        if went:
            log.warning("kiosk link %s: offline: %s", self.kiosk_id, why)

    def _count(self, ticket: Ticket, n: int) -> None:
        with self._cond:
            ticket.sent += n
            stats = self._stats
            stats.sent += n
            counts = stats.by_request_id
            counts[ticket.request_id] = counts.pop(ticket.request_id, 0) + n
            while len(counts) > _KEEP_IDS:
                del counts[next(iter(counts))]

    def _finish(self, ticket: Ticket, state: str, *, data: dict[str, Any] | None = None,
                reason: str = "") -> None:
        with self._cond:
            ticket.data, ticket.reason, ticket.finished = data, reason, self._now()
            ticket.state = state        # last: the app sees a whole ticket
            self._done.append(ticket)
            self._cond.notify_all()

    def _fail_queued(self, reason: str) -> None:
        with self._cond:
            while self._queue:
                self._finish(self._queue.popleft(), "offline", reason=reason)
