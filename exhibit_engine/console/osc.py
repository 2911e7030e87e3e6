"""OSC from show consoles (QLab, Chataigne, TouchDesigner, Companion): UDP in, commands out.

:class:`OscServer` listens for OSC 1.0 messages on UDP and turns each into the controller
command of the same name, through the one command path (``ControllerServer.request``: hello
first as peer ``"osc"`` in role ``"operator"``, the table of rights, the same handlers)::

    /exhibit/go                  go
    /exhibit/next                next
    /exhibit/back                back
    /exhibit/goto  s|i           goto {cue: s}   a cue id (string) or an index (integer)
    /exhibit/pause               pause
    /exhibit/resume              resume
    /exhibit/blackout  i         blackout {on: i == 1}   1 on, 0 off (true/false too)
    /exhibit/panic               panic

A button that sends one number with a press and a release (TouchOSC sends 1.0 then 0.0)
fires on the press only: the argument-less addresses take no argument or one number, and a
zero is ignored. Address patterns (``*``, ``?``, ``[``, ``{``) are refused: one message
must never fire GO and panic at once (``/exhibit/*``).

**Replies** (``replies=True``), in the way QLab sends them: to the sender's address and
port, the address ``/reply`` + the message's address, with one string argument, JSON::

    /reply/exhibit/go  '{"workspace_id": "<session>", "address": "/exhibit/go",
                         "status": "ok", "data": {"cue": "hall", ...}}'

``status`` is ``"ok"`` (``data``: the controller's reply data), ``"error"`` (``data``: its
one-line error) or ``"denied"`` (the controller refused the role); ``workspace_id`` is the
controller's session id. A malformed, unknown or refused packet gets no reply.

**Safety.** Only datagrams from the ``allow`` list (IP addresses or networks) are read;
the rest are counted as ``refused`` and dropped. A packet that is not OSC, has the wrong
argument types or an unknown address is counted as ``malformed`` and dropped; nothing it
holds can raise past the server, and a flood logs at most one warning every 5 s. The
datagrams are read on a daemon thread and the commands sent from another (at most 64
wait; more are dropped), so neither the controller's loop nor the reader ever waits on
the other.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket
from pythonosc.osc_server import BlockingOSCUDPServer

from ..errors import SyncError
from ..sync.protocol import Command, Hello, Message, Reply, Welcome

__all__ = ["OSC_ADDRESSES", "OscServer"]

log = logging.getLogger("exhibit_engine.console.osc")

#: OSC address -> the controller command it sends.
OSC_ADDRESSES: dict[str, str] = {
    "/exhibit/back": "back", "/exhibit/blackout": "blackout", "/exhibit/go": "go",
    "/exhibit/goto": "goto", "/exhibit/next": "next", "/exhibit/panic": "panic",
    "/exhibit/pause": "pause", "/exhibit/resume": "resume",
}

_PEER = "osc"
_ROLE = "operator"
_PATTERN_CHARS = frozenset("*?[]{}")
_MAX_CUE = 128            # the longest cue id a goto may carry
_MAX_WAITING = 64         # commands waiting for the controller; more are dropped
_ANSWER_S = 5.0           # how long one command waits for the controller's reply
_WARN_EVERY_S = 5.0
_MAX_REPLY = 8000         # bytes of reply JSON; past it, the data is left out
_RCVBUF = 1 << 20         # bytes the kernel may hold for us (capped by net.core.rmem_max)
_BUNDLE = b"#bundle\x00"
_MAX_DEPTH = 4            # bundles in bundles
_TYPES = frozenset("FNTdfhis")   # the OSC argument types read: numbers, strings, flags


class _Malformed(ValueError):
    """A message that is not one of ours (its text is the reason, one line)."""


@dataclass(frozen=True)
class _Job:
    command: str
    args: dict[str, Any]
    address: str
    sender: tuple[str, int]


class _UDPServer(BlockingOSCUDPServer):
    """python-osc's blocking UDP server, with our admission and our packet handling."""

    max_packet_size = 65535           # read a whole datagram (socketserver's is 8192)

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher,
                 owner: OscServer) -> None:
        self._owner = owner
        super().__init__(address, dispatcher)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return self._owner._admit(client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        self._owner._packet(request[0], client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # finish_request never raises; should it, the packet is malformed, not a traceback
        self._owner._malformed("the packet could not be read")


class OscServer:
    """OSC over UDP into the controller's one command path.

    Args:
        request: ``ControllerServer.request`` (or anything with its signature): sends one
            message as a local peer and returns a future of the core's reply.
        host: the address to bind (loopback by default in ``[console] osc``).
        port: the UDP port; 0 picks a free one (see :attr:`port` after :meth:`start`).
        allow: the source addresses whose datagrams are read: IP addresses or networks
            (``"192.168.10.0/24"``).
        replies: send QLab-style replies to the sender.

    Raises:
        SyncError: an entry of ``allow`` is not an IP address or network.
    """

    def __init__(self, request: Callable[[str, str, Message], Future[Message | None]],
                 host: str, port: int, *, allow: Sequence[str] = ("127.0.0.1",),
                 replies: bool = True) -> None:
        self._request = request
        self.host = host
        self._port = port
        self.replies = replies
        nets = []
        for entry in allow:
            try:
                nets.append(ipaddress.ip_network(str(entry).strip(), strict=False))
            except ValueError:
                raise SyncError(f"OSC allow list: {str(entry)[:64]!r} is not an IP address "
                                "or network") from None
        self._allow = tuple(nets)
        self._lock = threading.Lock()
        self._stats: dict[str, Any] = {"received": 0, "handled": 0, "malformed": 0,
                                       "refused": 0, "dropped": 0, "ignored": 0,
                                       "last_error": None}
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=_MAX_WAITING)
        self._server: _UDPServer | None = None
        self._threads: list[threading.Thread] = []
        self._welcomed = False
        self._workspace = ""
        self._req = 0
        self._unlogged = 0
        self._warned_at = -_WARN_EVERY_S
        self._dispatcher = Dispatcher()
        for address in OSC_ADDRESSES:
            self._dispatcher.map(address, self._message, needs_reply_address=True)

    # ------------------------------------------------------------------ lifetime

    @property
    def port(self) -> int:
        """The UDP port: the one bound once started (a free one when given 0)."""
        return self._port

    @property
    def stats(self) -> dict[str, Any]:
        """A copy of the counters: ``received`` (datagrams), ``handled`` (commands the
        controller answered), ``malformed``, ``refused`` (not on the allow list),
        ``dropped`` (too many commands waiting), ``ignored`` (a button's release) and
        ``last_error`` (one line, or ``None``)."""
        with self._lock:
            return dict(self._stats)

    def start(self) -> None:
        """Bind the UDP port and start reading and sending, each on a daemon thread.

        Raises:
            SyncError: the address is in use or cannot be bound (one line naming it).
        """
        if self._server is not None:
            return
        try:
            server = _UDPServer((self.host, self._port), self._dispatcher, self)
        except OSError as exc:
            why = exc.strerror or str(exc) or type(exc).__name__
            raise SyncError(f"OSC cannot listen on {self.host}:{self._port}: {why}") from None
        try:    # room for a burst (a console's macro): the kernel drops what overflows
            server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        except OSError:
            pass
        self._server = server
        self._port = server.server_address[1]
        self._threads = [
            threading.Thread(target=server.serve_forever, args=(0.2,), daemon=True,
                             name="exhibit-osc-read"),
            threading.Thread(target=self._work, daemon=True, name="exhibit-osc-send"),
        ]
        for thread in self._threads:
            thread.start()
        log.info("OSC on udp %s:%d (replies %s)", self.host, self._port,
                 "on" if self.replies else "off")

    def stop(self) -> None:
        """Stop reading and sending and close the port; safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        while True:             # make room for the sentinel: what waits is not sent now
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=_ANSWER_S + 1.0)
        self._threads = []

    def __enter__(self) -> OscServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ reading

    def _admit(self, client_address: Any) -> bool:
        """On the reader thread: count the datagram; read it only from an allowed source."""
        with self._lock:
            self._stats["received"] += 1
        try:
            ip = ipaddress.ip_address(client_address[0])
        except (ValueError, TypeError, IndexError):
            ip = None
        if ip is not None and any(ip in net for net in self._allow):
            return True
        who = str(client_address[0]) if ip is not None else "an unknown source"
        self._count("refused", f"a packet from {who}, which is not on the OSC allow list")
        return False

    def _packet(self, data: bytes, sender: tuple[str, int]) -> None:
        """On the reader thread: parse one datagram, dispatch each message it holds."""
        try:
            # python-osc logs (on the root logger) and skips a type tag it does not know,
            # and an element of a bundle that is neither: checked first, so a flood of
            # them is counted here, rate-limited, and never read as a message without
            # its arguments.
            _scan(data)
            messages = [timed.message for timed in OscPacket(data).messages]
        except _Malformed as exc:
            self._malformed(str(exc))
            return
        except Exception:       # python-osc raises more than ParseError on random bytes
            self._malformed(f"a packet of {len(data)} bytes that is not OSC")
            return
        for message in messages:
            try:
                address = message.address
                if not isinstance(address, str) or not address.startswith("/"):
                    raise _Malformed("an OSC address must start with '/'")
                if _PATTERN_CHARS.intersection(address):
                    raise _Malformed(f"address patterns are not taken: {address[:64]!r}")
                # A known address first: a long unknown one is never compiled to a regex.
                handlers = list(self._dispatcher.handlers_for_address(address)) \
                    if address in OSC_ADDRESSES else []
                if not handlers:
                    raise _Malformed(f"unknown OSC address {address[:64]!r} (known: "
                                     f"{', '.join(sorted(OSC_ADDRESSES))})")
                for handler in handlers:
                    handler.invoke(sender, message)
            except _Malformed as exc:
                self._malformed(str(exc))
            except Exception:   # an argument python-osc could not decode, say
                self._malformed("a message whose arguments could not be read")

    def _message(self, sender: tuple[str, int], address: str, *args: Any) -> None:
        """The dispatcher's handler: check the arguments, queue the command."""
        command = OSC_ADDRESSES[address]
        checked = _arguments(command, address, args)
        if checked is None:
            with self._lock:
                self._stats["ignored"] += 1
            return
        try:
            self._jobs.put_nowait(_Job(command, checked, address, sender))
        except queue.Full:
            self._count("dropped", f"{address}: dropped, {_MAX_WAITING} commands wait "
                                   "for the controller already")

    # ------------------------------------------------------------------ sending

    def _work(self) -> None:
        """On the sender thread: each queued command to the controller, then its reply."""
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                status, data = self._send(job.command, job.args)
            except Exception as exc:    # a bug here must not stop the next GO
                log.exception("OSC %s failed", job.address)
                status, data = "error", f"{job.address}: {type(exc).__name__}"
            if status != "ok":
                with self._lock:
                    self._stats["last_error"] = str(data)[:200]
            if self.replies:
                self._reply(job, status, data)

    def _send(self, command: str, args: dict[str, Any]) -> tuple[str, Any]:
        """Send one command (hello first); return ``(status, data)`` for the reply."""
        for _ in range(2):
            if not self._welcomed:
                welcome = self._ask(Hello(_PEER, _ROLE))
                if not isinstance(welcome, Welcome):
                    return "error", _why_not(welcome, "hello")
                self._welcomed, self._workspace = True, welcome.session
            self._req += 1
            reply = self._ask(Command(command, args, self._req))
            if isinstance(reply, Reply) and not reply.ok and \
                    reply.data.get("hello_first"):
                self._welcomed = False      # a restarted controller: hello again, resend
                continue
            if not isinstance(reply, Reply):
                return "error", _why_not(reply, command)
            with self._lock:
                self._stats["handled"] += 1
            if reply.ok:
                return "ok", dict(reply.data)
            return ("denied" if " may not send " in reply.error else "error"), reply.error
        return "error", f"{command}: the controller asked for hello twice"

    def _ask(self, message: Message) -> Message | None | Exception:
        try:
            return self._request(_PEER, _ROLE, message).result(timeout=_ANSWER_S)
        except Exception as exc:        # stopped, too busy, or no answer in time
            return exc

    def _reply(self, job: _Job, status: str, data: Any) -> None:
        """Send the QLab-style reply to the sender (from the listening port)."""
        server = self._server
        if server is None:
            return
        body = {"workspace_id": self._workspace, "address": job.address, "status": status,
                "data": data}
        text = json.dumps(body, ensure_ascii=False, default=str)
        if len(text.encode("utf-8")) > _MAX_REPLY:
            body["data"] = None
            text = json.dumps(body, ensure_ascii=False, default=str)
        builder = OscMessageBuilder(address="/reply" + job.address)
        builder.add_arg(text, OscMessageBuilder.ARG_TYPE_STRING)
        try:
            server.socket.sendto(builder.build().dgram, job.sender)
        except OSError as exc:          # the sender went away: nothing to tell it
            log.debug("OSC reply to %s failed: %s", job.sender, exc)

    # ------------------------------------------------------------------ counting

    def _malformed(self, why: str) -> None:
        self._count("malformed", why)

    def _count(self, counter: str, why: str) -> None:
        """Count a dropped packet; warn at most once every few seconds (a flood)."""
        now = time.monotonic()
        with self._lock:
            self._stats[counter] += 1
            self._stats["last_error"] = why[:200]
            self._unlogged += 1
            if now - self._warned_at < _WARN_EVERY_S:
                return
            count, self._unlogged, self._warned_at = self._unlogged, 0, now
        log.warning("OSC: dropped %d packet(s) or command(s); last: %s", count, why[:200])


def _scan(dgram: bytes, depth: int = 0) -> None:
    """Check the frame of an OSC packet: a message whose type tags are all ones this
    server reads, or a bundle whose elements each fit the packet and are such messages.

    Raises:
        _Malformed: it is not (the reason, one line).
    """
    if dgram.startswith(_BUNDLE):
        if depth >= _MAX_DEPTH:
            raise _Malformed(f"OSC bundles nested deeper than {_MAX_DEPTH}")
        index = len(_BUNDLE) + 8                 # the time tag
        if len(dgram) < index:
            raise _Malformed("a truncated OSC bundle")
        while index < len(dgram):
            if index + 4 > len(dgram):
                raise _Malformed("a truncated OSC bundle element")
            (size,) = struct.unpack_from(">i", dgram, index)
            index += 4
            if size <= 0 or index + size > len(dgram):
                raise _Malformed("an OSC bundle element that overruns its packet")
            _scan(dgram[index:index + size], depth + 1)
            index += size
        return
    if not dgram.startswith(b"/"):
        raise _Malformed(f"a packet of {len(dgram)} bytes that is not OSC")
    end = dgram.find(b"\x00")
    if end < 0:
        raise _Malformed("an OSC address without its end")
    index = (end // 4 + 1) * 4                   # the address, padded to 4 bytes
    if index >= len(dgram):
        return                                   # no type tags: no arguments
    tags_end = dgram.find(b"\x00", index)
    if tags_end < 0 or dgram[index:index + 1] != b",":
        raise _Malformed("an OSC message without a type tag string")
    bad = set(dgram[index + 1:tags_end].decode("latin-1")) - _TYPES
    if bad:
        raise _Malformed(f"OSC argument types not taken: {''.join(sorted(bad))[:16]!r} "
                         f"(taken: {''.join(sorted(_TYPES))})")


def _arguments(command: str, address: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
    """The command's arguments from the message's, or ``None`` for a button's release.

    Raises:
        _Malformed: the arguments do not fit the address.
    """
    if command == "goto":
        if len(args) == 1:
            (cue,) = args
            if isinstance(cue, str) and 0 < len(cue) <= _MAX_CUE:
                return {"cue": cue}
            if isinstance(cue, int) and not isinstance(cue, bool):
                return {"cue": cue}
            if isinstance(cue, float) and cue.is_integer() and abs(cue) < 1e6:
                return {"cue": int(cue)}
        raise _Malformed(f"{address} takes one cue id (a string of 1 to {_MAX_CUE} "
                         "characters) or a cue index (an integer)")
    if command == "blackout":
        if len(args) == 1 and isinstance(args[0], (bool, int, float)) and args[0] in (0, 1):
            return {"on": bool(args[0])}
        raise _Malformed(f"{address} takes one argument: 1 (on) or 0 (off)")
    if not args:
        return {}
    if len(args) == 1 and isinstance(args[0], (bool, int, float)):
        return {} if args[0] else None
    raise _Malformed(f"{address} takes no argument (or one number: a button's press)")


def _why_not(answer: Message | None | Exception, what: str) -> str:
    """One line for an answer that was not the one expected."""
    if isinstance(answer, Reply):
        return answer.error or f"{what}: refused"
    if isinstance(answer, TimeoutError):
        return f"{what}: the controller did not answer within {_ANSWER_S:g} s"
    if isinstance(answer, Exception):
        return f"{what}: {answer}"
    return f"{what}: the controller did not answer"
