"""An operator's client: send one command to the controller, wait for its reply.

Used by ``exhibit status``, ``exhibit ctl …`` and the demo. A DEALER with
``ZMQ_IMMEDIATE`` (a command is never queued for a controller that is not running, so a
timed-out ``capture`` cannot fire later) and linger 0. Every command carries a request
number that its reply echoes, so a late reply to an earlier, timed-out command is
recognised and dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import zmq

from ..errors import ProtocolError, SyncError, SyncTimeout
from .auth import ClientCurve, HandshakeWatch, apply_client
from .protocol import MAX_FRAME_BYTES, Command, Message, Reply, Welcome, decode

__all__ = ["OperatorClient"]


class OperatorClient:
    """Sends operator commands (``status``, ``capture``, ``seek``) to a controller.

    Args:
        host: the controller's address.
        state_port: its ROUTER port.
        timeout_s: how long :meth:`command` waits, connection included.
        curve: this client's CURVE keys and the controller's public key, when the venue
            has ``[security] curve = true`` (from :func:`.auth.client_curve`). A key the
            controller does not allow never connects: a command then fails with a
            :class:`SyncError` that says so.
    """

    def __init__(self, host: str, state_port: int, timeout_s: float = 2.0, *,
                 curve: ClientCurve | None = None) -> None:
        if not timeout_s > 0:
            raise ValueError("timeout_s must be greater than 0")
        self.address = f"tcp://{host}:{state_port}"
        self.timeout_s = timeout_s
        self._req = 0
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._watch: HandshakeWatch | None = None
        try:
            self._sock.setsockopt(zmq.LINGER, 0)
            self._sock.setsockopt(zmq.IMMEDIATE, 1)
            self._sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            if curve is not None:
                apply_client(self._sock, curve)
                self._watch = HandshakeWatch(self._sock, curve)
            self._sock.connect(self.address)
        except zmq.ZMQError as exc:
            self.close()
            raise SyncError(f"cannot connect to {self.address}: {exc}") from None

    def __enter__(self) -> OperatorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def command(self, name: str, **args: Any) -> dict[str, Any]:
        """Send command ``name`` with ``args`` and return the reply's data.

        Raises:
            SyncTimeout: no reply within ``timeout_s`` (names the controller's address).
            ProtocolError: the reply breaks the wire format.
            SyncError: the controller refused the command (its reason is the message),
                or the client is closed.
        """
        self._req += 1
        req = self._req
        reply = cast(Reply, self._request(Command(name, args, req), repr(name),
                                          lambda m: isinstance(m, Reply) and m.req == req))
        if not reply.ok:
            raise SyncError(f"{self.address}: {reply.error or 'command failed'}")
        return dict(reply.data)

    def _request(self, message: Message, what: str, answers: Callable[[Message], bool],
                 ) -> Message:
        """Send ``message``; return the first message for which ``answers`` holds.

        Anything else that arrives meanwhile (a late reply to an earlier, timed-out
        request) is dropped, except another message type where a reply was due, which
        breaks the protocol.

        Raises:
            SyncTimeout: nothing answered within ``timeout_s``.
            ProtocolError: a frame breaks the wire format.
            SyncError: the client is closed.
        """
        if self._ctx is None:
            raise SyncError("the operator client is closed")
        frames = message.encode()
        deadline = time.monotonic() + self.timeout_s
        # With ZMQ_IMMEDIATE the socket is writable only once a controller is connected.
        if not self._sock.poll(_ms_left(deadline), zmq.POLLOUT):
            refused = self._watch.failure() if self._watch is not None else ""
            if refused:
                raise SyncError(f"{self.address}: {refused}")
            raise SyncTimeout(self.address, f"no controller answered within "
                              f"{self.timeout_s:g} s ({what})")
        try:
            self._sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            raise SyncTimeout(self.address, f"could not send {what}") from None
        while True:
            if not self._sock.poll(_ms_left(deadline), zmq.POLLIN):
                raise SyncTimeout(self.address, f"no reply to {what} within "
                                  f"{self.timeout_s:g} s")
            answer = decode(self._sock.recv_multipart(), peer=self.address)
            if answers(answer):
                return answer
            if not isinstance(answer, (Reply, Welcome)):
                raise ProtocolError(f"expected a reply, got {type(answer).__name__}",
                                    self.address)
            # else: the answer to an earlier request that timed out

    def close(self) -> None:
        """Close the socket (linger 0) and the context; safe to call twice."""
        if self._ctx is None:
            return
        if self._watch is not None:
            self._watch.close()
        self._sock.close(linger=0)
        self._ctx.term()
        self._ctx = None


def _ms_left(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))
