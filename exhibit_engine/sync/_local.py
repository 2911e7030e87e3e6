"""In-process peers of the controller: the console's way in, on the controller's own loop.

The operator's console (HTTP, OSC) runs in the controller's process but never on its loop
thread: a slow browser must not delay a heartbeat. It still sends every command through
the one command path (hello first, the table of rights, the same handlers), so it talks
to the core as a peer does, only without a socket:

- :meth:`LocalPort.request` (any thread) queues a message from a local peer and returns a
  :class:`~concurrent.futures.Future` of the core's reply. It writes one byte to a pipe
  that the controller's poller watches, so the loop wakes at once rather than at its next
  beat.
- The loop calls :meth:`LocalPort.drain` when the pipe is readable: each queued message
  goes to the core under its peer's routing id and role, and its reply settles the future.
- :meth:`LocalPort.listen` registers a function that the loop calls with every message it
  publishes (key updates, events, heartbeats), in order. It runs on the loop thread and
  must only hand the message on (a queue put); one that raises is logged and dropped.

A local peer's routing id is ``b"\x00local:" + name``: ZeroMQ reserves ids that start
with a zero byte for the ones a ROUTER makes up, and those are 5 bytes long, so no remote
peer can ever have a local one. Its role is given by the console (which judged the HTTP
or OSC credentials), not claimed.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from .protocol import Message

__all__ = ["LocalPort", "LocalRequest"]

log = logging.getLogger("exhibit_engine.sync.controller")

#: At most this many requests wait for the loop; more are refused at once (a flood from
#: one HTTP client must not grow memory).
MAX_WAITING = 1024


@dataclass(frozen=True)
class LocalRequest:
    """One message from an in-process peer, waiting for the loop.

    Attributes:
        peer: the local peer's name (its routing id is ``b"\\x00local:" + name``).
        role: the role its credentials gave it (``"operator"``, ``"kiosk"``...).
        message: the request (a ``Hello``, a ``Command``...).
        reply: settled by the loop with the core's first reply (``None``: it had none).
    """

    peer: str
    role: str
    message: Message
    reply: Future[Message | None]

    @property
    def routing_id(self) -> bytes:
        """The routing id the core knows this peer by."""
        return b"\x00local:" + self.peer.encode("utf-8")


class LocalPort:
    """The queue of in-process requests and the listeners of what the controller publishes.

    Create it before the loop runs; :attr:`fd` is the pipe end the loop's poller watches.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[LocalRequest] = queue.SimpleQueue()
        self._waiting = 0
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._listeners: list[Callable[[Message], None]] = []
        self.closed = False

    @property
    def fd(self) -> int:
        """The file descriptor that is readable while requests wait."""
        return self._read

    def request(self, peer: str, role: str, message: Message) -> Future[Message | None]:
        """Queue ``message`` from local peer ``peer`` in ``role``; any thread may call it.

        Returns:
            A future of the core's reply (a ``Reply``, a ``Welcome``...), or of ``None``
            when the core answers nothing. It fails with :class:`RuntimeError` if the
            controller stops first or too many requests wait.
        """
        future: Future[Message | None] = Future()
        if self.closed or self._waiting >= MAX_WAITING:
            future.set_exception(RuntimeError("the controller is not taking requests now"
                                              if self.closed else "too many requests wait"))
            return future
        self._waiting += 1
        self._queue.put(LocalRequest(peer, role, message, future))
        try:
            os.write(self._write, b"\x01")
        except BlockingIOError:
            pass           # the pipe is full of wake-ups already: the loop is awake
        except OSError:
            pass           # closed meanwhile: close() fails what is left
        return future

    def drain(self, handle: Callable[[LocalRequest], Message | None]) -> None:
        """On the loop thread: answer every waiting request with ``handle``."""
        try:
            while os.read(self._read, 4096):
                pass
        except (BlockingIOError, OSError):
            pass
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                return
            self._waiting -= 1
            if req.reply.set_running_or_notify_cancel():
                try:
                    req.reply.set_result(handle(req))
                except Exception as exc:   # a bug in a handler must not stop the loop
                    log.exception("local request %s failed", type(req.message).__name__)
                    req.reply.set_exception(exc)

    def listen(self, listener: Callable[[Message], None]) -> Callable[[], None]:
        """Call ``listener`` (on the loop thread) with every message published from now
        on; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners \
            else None

    def published(self, message: Message) -> None:
        """On the loop thread: hand ``message`` to every listener."""
        for listener in tuple(self._listeners):
            try:
                listener(message)
            except Exception:      # a listener's bug must not stop the show
                log.exception("a listener of the controller's messages failed")

    def close(self) -> None:
        """Fail every waiting request and close the pipe (the loop has stopped)."""
        self.closed = True
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                break
            if req.reply.set_running_or_notify_cancel():
                req.reply.set_exception(RuntimeError("the controller stopped"))
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
