"""CURVE encryption and ZAP authentication for the sync sockets.

With ``[security] curve = true`` in ``venue.toml``:

- the controller's ROUTER and PUB are CURVE servers (``curve_server``, its secret key)
  in the ZAP domain :data:`ZAP_DOMAIN`, with ``ZMQ_ZAP_ENFORCE_DOMAIN`` set, so a
  handshake that no ZAP handler answers is refused rather than let through;
- a :class:`ZapHandler` thread answers ZAP requests for the controller's context: a
  client key on an allow-list gets status 200 and ``ROLE:KEY_ID`` as the ZAP *User-Id*
  (its role, ``"projector"``, ``"kiosk"`` or ``"operator"``, and the key's id, e.g.
  ``"projector:3f9a0c1d2e4b5a69"``, see :func:`user_id`); any other key, or any other
  mechanism, gets 400 and never gets a connection. The controller reads the User-Id of
  each message (``frame.get("User-Id")``), grants commands by the role and binds node
  ids to the key (a live node's id cannot be claimed with another key);
- every peer's DEALER and SUB are CURVE clients (:func:`apply_client`) that know the
  controller's public key, so a peer also knows it talks to the real controller. A
  :class:`HandshakeWatch` (a socket monitor) lets a refused client say why it never
  connects, instead of only timing out.

Why a small ZAP thread of our own rather than pyzmq's ``ThreadAuthenticator``: that one
runs an asyncio event loop in its thread and maps a key to a User-Id only through a
subclass hook; ours is a plain ``poll`` loop of ~40 lines that answers every request
(a malformed one with 400, never an exception that would leave libzmq waiting),
counts and logs refusals for ``status``, refuses every mechanism but CURVE, and is a
named thread the controller joins on close. Its socket is bound before the controller
binds anything and closed only after the controller's sockets, so no handshake can
happen without it; if the thread died, handshakes would stall (fail closed), never pass.

Key files, their format and the venue's allow-list are :mod:`exhibit_engine.keys` (core,
no zmq); this module adds what needs libsodium: making and checking key pairs, and the
socket options.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import zmq

from ..config import SecurityConfig
from ..errors import ConfigError, SyncError
from ..keys import (
    CurvePublicKey,
    load_allow_list,
    load_curve_public_keys,
    load_curve_secret_key,
    z85_encode,
)
from .protocol import ROLES

__all__ = ["ClientCurve", "HandshakeWatch", "ServerCurve", "ZAP_DOMAIN", "ZAP_ENDPOINT",
           "ZapHandler", "apply_client", "apply_server", "client_curve",
           "client_curve_for_server", "new_key_pair", "public_key_of", "server_curve",
           "split_user_id", "user_id"]

log = logging.getLogger(__name__)

#: The ZAP domain of the controller's sockets; the handler refuses any other.
ZAP_DOMAIN = "exhibit"
#: Where libzmq sends ZAP requests (RFC 27/ZAP), one handler per context.
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
_WARN_EVERY_S = 5.0


def user_id(role: str, public_z85: str) -> str:
    """The ZAP User-Id the controller's handler gives an allow-listed key:
    ``"ROLE:KEY_ID"`` (``KEY_ID`` as :attr:`.CurvePublicKey.key_id`, 16 hex digits)."""
    return f"{role}:{CurvePublicKey(public_z85).key_id}"


def split_user_id(value: str) -> tuple[str, str]:
    """``(role, key id)`` of a User-Id made by :func:`user_id` (``key id`` is ``""``
    when the User-Id holds a role only)."""
    role, _, key_id = value.partition(":")
    return role, key_id


def new_key_pair() -> tuple[str, str]:
    """Make a new CURVE key pair; returns ``(public, secret)``, 40 Z85 characters each."""
    public, secret = zmq.curve_keypair()
    return public.decode("ascii"), secret.decode("ascii")


def public_key_of(secret: str) -> str:
    """The public key (Z85) of a CURVE secret key (Z85)."""
    return zmq.curve_public(secret.encode("ascii")).decode("ascii")


@dataclass(frozen=True)
class ServerCurve:
    """The controller's CURVE settings.

    Attributes:
        secret: its secret key (Z85).
        public: its public key (Z85).
        roles: the allow-list, ``(client public key (Z85), role)`` pairs: the ZAP
            handler's table.
        bound_ids: ``[security.displays]`` as ``(node id, key id)`` pairs: the only key
            that may use each of those node ids (the controller core's ``bound_ids``).
    """

    secret: str
    public: str
    roles: tuple[tuple[str, str], ...]
    bound_ids: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:  # never print a secret into a log or a traceback
        return f"ServerCurve(public={self.public!r}, {len(self.roles)} allowed keys)"


@dataclass(frozen=True)
class ClientCurve:
    """A peer's CURVE settings.

    Attributes:
        secret: the peer's secret key (Z85).
        public: the peer's public key (Z85).
        server_public: the controller's public key (Z85).
        role: the role the venue lists the key under (``None``: not known here, e.g.
            without the venue file); a client says hello in that role.
    """

    secret: str
    public: str
    server_public: str
    role: str | None = None

    def __repr__(self) -> str:
        return f"ClientCurve(public={self.public!r}, server_public={self.server_public!r})"


def _secret_pair(key_file: str) -> tuple[str, str]:
    """Load a secret key file; return ``(secret, public)``, the public one checked."""
    loaded = load_curve_secret_key(key_file)
    public = public_key_of(loaded.secret)
    if loaded.public and loaded.public != public:
        raise ConfigError(key_file, "its public-key does not belong to its secret-key")
    return loaded.secret, public


def _missing_key(security: SecurityConfig, what: str, where: str) -> ConfigError:
    return ConfigError("<flags>", f"this venue requires CURVE ([security] curve = true in "
                       f"its venue.toml): give {what} with {where}", key="--key")


def server_curve(security: SecurityConfig, key_file: str | None) -> ServerCurve | None:
    """The controller's CURVE settings, or ``None`` in development mode (curve off).

    Args:
        security: the venue's ``[security]``.
        key_file: the controller's secret key file (``--key`` or ``controller_key``).

    Raises:
        ConfigError: a key file the venue lists is missing or bad (even with curve off,
            see :func:`exhibit_engine.keys.load_allow_list`), or curve is on and the
            controller's key file is missing, unreadable, or does not match the venue's
            ``controller_public_key``.
    """
    allowed = load_allow_list(security)
    if not security.curve:
        return None
    if not key_file:
        raise _missing_key(security, "the controller's secret key file",
                           "--key PATH (or [security] controller_key)")
    secret, public = _secret_pair(key_file)
    if allowed.controller_public and public != allowed.controller_public:
        raise ConfigError(key_file, "is not the key of [security] controller_public_key "
                          f"({security.controller_public_key}); peers would refuse this "
                          "controller")
    return ServerCurve(secret, public, allowed.roles, allowed.bound_ids())


def client_curve(security: SecurityConfig, key_file: str | None,
                 role: str | None = None) -> ClientCurve | None:
    """A peer's CURVE settings, or ``None`` in development mode (curve off).

    Args:
        security: the venue's ``[security]``.
        key_file: the peer's secret key file (``--key``).
        role: the role the peer is about to play; its key must be listed for it.

    Raises:
        ConfigError: a key file the venue lists is missing or bad (even with curve off,
            see :func:`exhibit_engine.keys.load_allow_list`), or curve is on and the key
            file is missing or unreadable, or its public key is not allow-listed (for
            ``role``) in the venue: the controller would refuse it, so say so now rather
            than time out later.
    """
    allowed = load_allow_list(security)
    if not security.curve:
        return None
    if not key_file:
        raise _missing_key(security, "this peer's secret key file",
                           "--key PATH (NAME.curve.key from `exhibit keys new NAME --kind "
                           "curve`)")
    secret, public = _secret_pair(key_file)
    listed = allowed.role_of(public)
    key_id = CurvePublicKey(public).key_id
    if listed is None:
        raise ConfigError(key_file, f"key {key_id} is not allowed by the venue: add its "
                          ".curve.pub file to [security] projectors, kiosks or operators")
    if role is not None and listed != role:
        raise ConfigError(key_file, f"key {key_id} is {_a(listed)} key; {_a(role)} needs a "
                          f"key listed under [security] {role}s")
    return ClientCurve(secret, public, allowed.controller_public, listed)


def client_curve_for_server(key_file: str, server_key_file: str) -> ClientCurve:
    """A peer's CURVE settings without a venue file: its own secret key file and the
    controller's public key file (what the venue lists as ``controller_public_key``).

    Without the venue's allow-list the peer cannot check its key in advance; a key the
    controller does not list is refused at the handshake (see :class:`HandshakeWatch`).

    Raises:
        ConfigError: a file is missing or unreadable, or the controller's file does not
            hold exactly one public key.
    """
    secret, public = _secret_pair(key_file)
    found = load_curve_public_keys(server_key_file)
    if len(found) != 1:
        raise ConfigError(server_key_file, f"holds {len(found)} keys; the controller's "
                          "public key file holds exactly one")
    return ClientCurve(secret, public, found[0].z85)


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in ("a", "e", "i", "o", "u") else f"a {word}"


def apply_server(sock: zmq.Socket[bytes], curve: ServerCurve) -> None:
    """Make ``sock`` a CURVE server in :data:`ZAP_DOMAIN` (before it binds)."""
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.secret.encode("ascii"))
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN.encode("ascii"))
    # Without a ZAP handler libzmq would accept every CURVE client; enforce the domain
    # so that, whatever happens to the handler, an unchecked peer is refused.
    sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)


def apply_client(sock: zmq.Socket[bytes], curve: ClientCurve) -> None:
    """Make ``sock`` a CURVE client of the controller (before it connects)."""
    sock.setsockopt(zmq.CURVE_SERVERKEY, curve.server_public.encode("ascii"))
    sock.setsockopt(zmq.CURVE_PUBLICKEY, curve.public.encode("ascii"))
    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.secret.encode("ascii"))


class HandshakeWatch:
    """Watches a CURVE client socket's handshakes, so a client that never connects can say
    why instead of only timing out (a socket monitor; attach it before connecting).

    Args:
        sock: the client socket.
        curve: its CURVE settings (for the key id in messages).
    """

    _EVENTS = (zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
               | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)

    def __init__(self, sock: zmq.Socket[bytes], curve: ClientCurve) -> None:
        self._sock = sock
        self._key_id = CurvePublicKey(curve.public).key_id
        self._monitor: zmq.Socket[bytes] | None = sock.get_monitor_socket(self._EVENTS)

    def failure(self) -> str:
        """Why the last handshake failed (one line), or ``""`` if none has failed."""
        from zmq.utils.monitor import parse_monitor_message

        why = ""
        while self._monitor is not None and self._monitor.poll(0):
            event = parse_monitor_message(self._monitor.recv_multipart())
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                why = (f"the controller refused this client's CURVE key {self._key_id} "
                       f"(ZAP status {event['value']}): its venue.toml [security] does not "
                       "list the key")
            elif not why:
                why = ("the CURVE handshake failed: is [security] controller_public_key "
                       "this controller's key, and does the controller run with curve = "
                       "true?")
        return why

    def close(self) -> None:
        """Stop watching (before the socket closes); safe to call twice."""
        if self._monitor is not None:
            self._sock.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None


class ZapHandler:
    """Answers ZAP requests for one context: allow-listed CURVE keys only.

    Args:
        ctx: the controller's context (ZAP is per context).
        roles: client public key (Z85) -> role; the User-Id is ``ROLE:KEY_ID``
            (:func:`user_id`).
        domain: the only ZAP domain accepted.

    Attributes:
        accepted: handshakes admitted so far.
        refused: handshakes refused so far (unknown key, other mechanism or domain).
        last_refused: why the last one was refused, one line.

    Raises:
        SyncError: another ZAP handler is already bound in ``ctx``.
    """

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], roles: Mapping[str, str],
                 domain: str = ZAP_DOMAIN) -> None:
        for role in roles.values():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        self._users = {key.encode("ascii"): user_id(role, key).encode("ascii")
                       for key, role in roles.items()}
        self._domain = domain.encode("ascii")
        self.accepted = 0
        self.refused = 0
        self.last_refused = ""
        self._warned_at = -math.inf
        self._unwarned = 0
        self._sock = ctx.socket(zmq.REP)
        self._sock.setsockopt(zmq.LINGER, 0)
        wake_name = f"inproc://exhibit-zap-stop-{id(self):x}"
        self._wake = ctx.socket(zmq.PAIR)
        self._wake.setsockopt(zmq.LINGER, 0)
        self._wake_thread_end = ctx.socket(zmq.PAIR)
        self._wake_thread_end.setsockopt(zmq.LINGER, 0)
        try:
            self._sock.bind(ZAP_ENDPOINT)
            self._wake_thread_end.bind(wake_name)
            self._wake.connect(wake_name)
        except zmq.ZMQError as exc:
            self._close_sockets()
            raise SyncError(f"cannot start the ZAP handler: {exc}") from None
        # Sockets move to the thread; Thread.start() is the memory barrier ZeroMQ needs.
        self._thread = threading.Thread(target=self._run, daemon=True, name="exhibit-sync-zap")
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close the sockets; call after the sockets it guards are
        closed (then no handshake is left to answer). Safe to call twice."""
        if self._thread.is_alive():
            try:
                self._wake.send(b"stop", zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
            self._thread.join(timeout=5.0)
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in (self._sock, self._wake, self._wake_thread_end):
            if not sock.closed:
                sock.close(linger=0)

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._wake_thread_end, zmq.POLLIN)
        try:
            while True:
                ready = dict(poller.poll())
                if self._wake_thread_end in ready:
                    return
                if self._sock in ready:
                    request = self._sock.recv_multipart()
                    self._sock.send_multipart(self.answer(request))
        # The sockets stay open on a failure: libzmq then waits for an answer that never
        # comes, so peers are refused (fail closed) rather than let in.
        except Exception:
            log.exception("the ZAP handler failed; new peers cannot connect")

    def answer(self, request: list[bytes]) -> list[bytes]:
        """The reply frames to one ZAP request (RFC 27): 200 with ``ROLE:KEY_ID`` as
        User-Id for an allow-listed CURVE key, else 400 with the reason."""
        if len(request) < 2:
            return self._refuse(b"", "malformed ZAP request")
        version, request_id = request[0], request[1]
        if version != b"1.0" or len(request) < 6:
            return self._refuse(request_id, "malformed ZAP request")
        domain, address, mechanism, credentials = request[2], request[3], request[5], \
            request[6:]
        peer = address.decode("ascii", "replace")
        if domain != self._domain:
            return self._refuse(request_id, f"{peer}: ZAP domain {domain[:40]!r} is not "
                                f"{self._domain.decode()!r}")
        if mechanism != b"CURVE" or len(credentials) != 1 or len(credentials[0]) != 32:
            return self._refuse(request_id, f"{peer}: only CURVE peers are admitted "
                                f"(mechanism {mechanism[:20].decode('ascii', 'replace')})")
        key = z85_encode(credentials[0])
        user = self._users.get(key.encode("ascii"))
        if user is None:
            return self._refuse(request_id, f"{peer}: key {CurvePublicKey(key).key_id} "
                                f"({key}) is not in venue.toml [security]")
        self.accepted += 1
        return [b"1.0", request_id, b"200", b"OK", user, b""]

    def _refuse(self, request_id: bytes, why: str) -> list[bytes]:
        self.refused += 1
        self.last_refused = why[:200]
        self._unwarned += 1
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:    # a refused peer retries ~10 times a s
            log.warning("refused %d peer handshake(s); last: %s", self._unwarned, why)
            self._warned_at, self._unwarned = now, 0
        return [b"1.0", request_id, b"400", b"not allowed", b"", b""]
