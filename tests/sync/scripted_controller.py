"""A scripted controller for client tests: a ROUTER on 127.0.0.1, served in a thread,
that answers each message as the test's function says (or not at all, to make the client
time out) and keeps every message it received.

It checks what a client puts on the wire (the ids of resent commands, a hello before a
resend) where a real controller would only show the outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import zmq

from exhibit_engine.sync.protocol import Command, Message, decode

from ..conftest import HOST

__all__ = ["ScriptedController"]


class ScriptedController:
    """A ROUTER bound to a free port of 127.0.0.1; use it as a context manager.

    Args:
        answer: called (on its thread) with each message received; the message it
            returns goes back to the sender, ``None`` sends nothing.

    Attributes:
        port: the port it is bound to.
    """

    def __init__(self, answer: Callable[[Message], Message | None]) -> None:
        self._answer = answer
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self.port = self._sock.bind_to_random_port(f"tcp://{HOST}")
        self._lock = threading.Lock()
        self._received: list[Message] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True,
                                        name="test-controller-scripted")

    def __enter__(self) -> ScriptedController:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._sock.close(linger=0)
        self._ctx.term()
        if self._thread.is_alive():
            raise RuntimeError("the scripted controller's thread did not stop")

    @property
    def received(self) -> list[Message]:
        """Every message received so far, in order."""
        with self._lock:
            return list(self._received)

    def commands(self, name: str | None = None) -> list[Command]:
        """The commands received (named ``name``, if given)."""
        return [m for m in self.received if isinstance(m, Command)
                and (name is None or m.name == name)]

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self._sock.poll(20, zmq.POLLIN):
                continue
            frames = self._sock.recv_multipart()
            message = decode(frames[1:], peer="test client")
            with self._lock:
                self._received.append(message)
            out = self._answer(message)
            if out is not None:
                self._sock.send_multipart([frames[0], *out.encode()])
