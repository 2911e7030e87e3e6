"""An operator's client: say hello, send one command to the controller, wait for its reply.

Used by ``exhibit status``, ``exhibit ctl …`` and the demo. A DEALER with
``ZMQ_IMMEDIATE`` (a command is never queued for a controller that is not running, so a
timed-out ``capture`` cannot fire later) and linger 0. The client says hello (role
``"operator"`` unless told otherwise) before its first command, as the protocol asks, and
again when a controller that restarted or forgot it refuses a command with
``hello_first``; the command, which that controller did not carry out, is then sent once
more. Every command carries a request number that its reply echoes, so a late reply to an
earlier, timed-out command is recognised and dropped, and an action id (``id``, §7), one
per call unless the caller gives its own (a kiosk's tap, the same for its retries), so the
controller carries out a resent command once.

Given a ``backup`` (the venue's ``[network.backup]``), the client fails over as a Binary
Star client does (``sync/_pair.py``): a controller that does not answer within its share
of the timeout, or that answers it is the passive one of a pair, makes the client try the
other, with the same action id (the pair replicates those, so a command carried out just
before a takeover still acts once). The controller that answered last is the one asked
first next time.
"""

from __future__ import annotations

import getpass
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any, cast

import zmq

from ..errors import ProtocolError, SyncError, SyncTimeout
from .auth import ClientCurve, HandshakeWatch, apply_client
from .protocol import (
    MAX_FRAME_BYTES,
    ROLES,
    Command,
    Hello,
    Message,
    Reply,
    Welcome,
    decode,
)

__all__ = ["OperatorClient", "default_peer_id"]


class _Passive(SyncError):
    """The controller answered that it is the passive one of a pair (try the other)."""


class OperatorClient:
    """Sends operator commands (``status``, ``capture``, ``seek``) to a controller.

    Args:
        host: the controller's address.
        state_port: its ROUTER port.
        timeout_s: how long each request waits, connection included.
        curve: this client's CURVE keys and the controller's public key, when the venue
            has ``[security] curve = true`` (from :func:`.auth.client_curve`). A key the
            controller does not allow never connects: a command then fails with a
            :class:`SyncError` that says so.
        peer_id: the id its hello gives, as ``status`` lists it; default
            ``ctl-USER@HOST`` (so repeated ``exhibit ctl`` runs are one line there).
        role: the role its hello claims (with CURVE it must be its key's).
        backup: the backup controller's ``(host, state_port)``, to fail over to.

    Attributes:
        session: the controller session that welcomed it (``None`` before).
        sent: how many commands it has put on the wire (each resend counts; hellos do
            not; a command that found no controller connected was never sent).
        failovers: how many times it moved to the other controller of a pair.
    """

    role = "operator"

    def __init__(self, host: str, state_port: int, timeout_s: float = 2.0, *,
                 curve: ClientCurve | None = None, peer_id: str | None = None,
                 role: str | None = None, backup: tuple[str, int] | None = None) -> None:
        if not timeout_s > 0:
            raise ValueError("timeout_s must be greater than 0")
        if peer_id is not None and not 0 < len(peer_id) <= 256:
            raise ValueError("peer_id must be 1 to 256 characters")
        self._peer_id = peer_id
        # The role to claim: the one asked for, else the one the venue lists the key
        # under, else this class's; a role a controller names for the key is taken on.
        self._role_given = role is not None
        if role is not None:
            self.role = role
        elif curve is not None and curve.role is not None:
            self.role = curve.role
        self.session: str | None = None
        self.sent = 0
        self.failovers = 0
        self.timeout_s = timeout_s
        self._endpoints = [f"tcp://{host}:{state_port}"]
        if backup is not None:
            self._endpoints.append(f"tcp://{backup[0]}:{backup[1]}")
        self._at = 0
        self._curve = curve
        self._req = 0
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = zmq.Context()
        self._sock: zmq.Socket[bytes] | None = None
        self._watch: HandshakeWatch | None = None
        self._connect()

    @property
    def address(self) -> str:
        """The controller it talks to now (``tcp://HOST:PORT``)."""
        return self._endpoints[self._at]

    def _connect(self) -> None:
        assert self._ctx is not None
        self._sock = self._ctx.socket(zmq.DEALER)
        try:
            self._sock.setsockopt(zmq.LINGER, 0)
            self._sock.setsockopt(zmq.IMMEDIATE, 1)
            self._sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
            if self._curve is not None:
                apply_client(self._sock, self._curve)
                self._watch = HandshakeWatch(self._sock, self._curve)
            self._sock.connect(self.address)
        except zmq.ZMQError as exc:
            self.close()
            raise SyncError(f"cannot connect to {self.address}: {exc}") from None

    def _fail_over(self) -> None:
        """Close the socket and connect to the other controller of the pair."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        if self._sock is not None:
            self._sock.close(linger=0)
        self._at = (self._at + 1) % len(self._endpoints)
        self.session = None          # the other one has never welcomed us
        self.failovers += 1
        self._connect()

    def __enter__(self) -> OperatorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def peer_id(self) -> str:
        """The id its hello gives (default: :func:`default_peer_id` of its role)."""
        return self._peer_id if self._peer_id is not None else default_peer_id(self.role)

    def join(self, deadline: float | None = None) -> str:
        """Say hello as :attr:`peer_id` in :attr:`role`; return the controller's session.

        Raises:
            SyncTimeout: no controller answered within the timeout.
            SyncError: the controller refused the hello (its reason is the message: a
                key of another role, or an id another key holds, or it is the passive
                one of a pair).
        """
        answer = self._request(Hello(self.peer_id, self.role), "hello", _answers_hello,
                               deadline)
        key_role = answer.data.get("role") if isinstance(answer, Reply) else None
        if not self._role_given and key_role in ROLES and key_role != self.role:
            # With CURVE the key's role is the one that counts (a projector PC asking
            # for status with its projector key): claim that one.
            self.role = str(key_role)
            answer = self._request(Hello(self.peer_id, self.role), "hello", _answers_hello,
                                   deadline)
        if isinstance(answer, Reply):
            if answer.data.get("passive") is True:
                raise _Passive(f"{self.address}: {answer.error}")
            raise SyncError(f"{self.address}: {self.role} {self.peer_id[:64]!r} cannot "
                            f"join: {answer.error or 'hello refused'}")
        self.session = cast(Welcome, answer).session
        return self.session

    def command(self, name: str, *, request_id: str | None = None, **args: Any,
                ) -> dict[str, Any]:
        """Send command ``name`` with ``args`` and return the reply's data (saying hello
        first, and again if the controller has forgotten this client).

        ``request_id`` is the action's id (at most 256 characters), the same for every
        retry of one action: a repeat from this client within 60 s is answered with the
        first reply, marked ``repeated``, and acts once. Default: a new random id per
        call; ``""`` sends none (a repeat acts again, as a ``status`` poll should).

        Raises:
            SyncTimeout: no reply within ``timeout_s`` (names the controller's address).
            ProtocolError: the reply breaks the wire format.
            SyncError: the controller refused the hello or the command (its reason is
                the message), or the client is closed.
            ValueError: ``request_id`` is longer than 256 characters.
        """
        if request_id is not None and len(request_id) > 256:
            raise ValueError("request_id must be at most 256 characters")
        # One id for this action, whatever the retries: the controller acts on it once.
        action = secrets.token_hex(8) if request_id is None else request_id
        deadline = time.monotonic() + self.timeout_s
        tries = 2 * len(self._endpoints)       # a pair: each one twice at most
        for attempt in range(tries):
            # A pair: the first controller asked gets half the time, then the other.
            left = deadline - time.monotonic()
            share = left if attempt == tries - 1 or len(self._endpoints) == 1 else left / 2
            try:
                return self._command_once(name, args, action, time.monotonic() + share)
            except (SyncTimeout, _Passive) as exc:
                if attempt == tries - 1 or time.monotonic() >= deadline:
                    if isinstance(exc, SyncTimeout) and len(self._endpoints) > 1:
                        raise SyncTimeout(" and ".join(self._endpoints), f"neither "
                                          f"controller of the pair answered {name!r} within "
                                          f"{self.timeout_s:g} s") from None
                    raise exc from None
                if isinstance(exc, _Passive) and attempt % 2 == 1:
                    # Both said passive (a pair deciding): give it a moment.
                    self._sock.poll(min(100, _ms_left(deadline)))     # type: ignore[union-attr]
                self._fail_over()
        raise SyncTimeout(self.address, "no controller answered")     # (not reached)

    def _command_once(self, name: str, args: dict[str, Any], action: str,
                      deadline: float) -> dict[str, Any]:
        """Send the command to the controller of now; its reply's data."""
        if self.session is None:
            self.join(deadline)
        reply = self._command(name, args, action, deadline)
        if not reply.ok and reply.data.get("hello_first") is True:
            self.join(deadline)   # it restarted or forgot us; the command was not carried out
            reply = self._command(name, args, action, deadline)
        if not reply.ok and reply.data.get("passive") is True:
            raise _Passive(f"{self.address}: {reply.error}")
        if not reply.ok:
            raise SyncError(f"{self.address}: {reply.error or 'command failed'}")
        return dict(reply.data)

    def _command(self, name: str, args: dict[str, Any], action: str = "",
                 deadline: float | None = None) -> Reply:
        self._req += 1
        req = self._req
        return cast(Reply, self._request(Command(name, args, req, action), repr(name),
                                         lambda m: isinstance(m, Reply) and m.req == req,
                                         deadline))

    def _request(self, message: Message, what: str, answers: Callable[[Message], bool],
                 deadline: float | None = None) -> Message:
        """Send ``message``; return the first message for which ``answers`` holds.

        Anything else that arrives meanwhile (a late reply to an earlier, timed-out
        request) is dropped, except another message type where a reply was due, which
        breaks the protocol.

        Raises:
            SyncTimeout: nothing answered within ``timeout_s``.
            ProtocolError: a frame breaks the wire format.
            SyncError: the client is closed.
        """
        if self._ctx is None or self._sock is None:
            raise SyncError("the operator client is closed")
        frames = message.encode()
        if deadline is None:
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
        if isinstance(message, Command):
            self.sent += 1
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
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None
        self._ctx.term()
        self._ctx = None


def default_peer_id(role: str = "operator") -> str:
    """``ctl-USER@HOST`` (``ctl-ROLE-USER@HOST`` for another role than operator): the same
    for every ``exhibit ctl`` run of one person on one machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):      # no name for this uid (a bare container)
        user = "operator"
    who = "ctl" if role == "operator" else f"ctl-{role}"
    return f"{who}-{user}@{socket.gethostname()}"[:256]


def _answers_hello(message: Message) -> bool:
    """A welcome, or the controller's refusal of a hello (a failed reply with req 0;
    commands are numbered from 1)."""
    return isinstance(message, Welcome) or (isinstance(message, Reply) and message.req == 0
                                            and not message.ok)


def _ms_left(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))
