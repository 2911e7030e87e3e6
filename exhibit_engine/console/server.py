"""The console's HTTP server: uvicorn in a daemon thread with its own asyncio loop.

:class:`ConsoleServer` binds its socket in :meth:`~ConsoleServer.start` (so a port in use
is one :class:`~exhibit_engine.errors.SyncError` line there, and port 0 gives a free port,
readable as :attr:`~ConsoleServer.port`), then serves the app in a thread of its own: the
controller's loop thread never runs HTTP. :meth:`~ConsoleServer.stop` ends the event
streams, asks uvicorn to exit and joins the thread.

uvicorn's access log is off (a request line may carry what should not be kept) and the
console never logs a request's headers, so no token reaches a log.

:func:`check_bind` is the rule for where a console may listen: on any address but
loopback only with tokens, as the controller needs CURVE there.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import threading
import uvicorn
from fastapi import FastAPI

from ..config import ConsoleConfig
from ..config.roles import is_loopback
from ..errors import ConfigError, SyncError
from .hub import Hub

__all__ = ["ConsoleServer", "check_bind"]

log = logging.getLogger(__name__)


def check_bind(host: str, config: ConsoleConfig, path: str = "<flags>") -> None:
    """Refuse a console on a non-loopback address without tokens.

    Raises:
        ConfigError: ``host`` is reachable from other machines and ``[console] tokens``
            lists none.
    """
    if not config.tokens and not is_loopback(host):
        raise ConfigError(path, f"the console would listen on {host!r} without tokens, so "
                          "any machine on that network could command the show: add "
                          "[[console.tokens]] (exhibit keys new NAME --kind token) or bind "
                          "127.0.0.1", key="console.tokens")


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, telling a thread when it serves."""

    def __init__(self, config: uvicorn.Config, ready: threading.Event) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self._ready.set()


class ConsoleServer:
    """Serves a console app on ``host:port`` from a daemon thread.

    Args:
        app: the app (:func:`~.api.create_app`).
        host: the address to bind.
        port: the port; 0 picks a free one.
        hub: the app's hub, whose event streams :meth:`stop` ends first.
    """

    def __init__(self, app: FastAPI, host: str, port: int, hub: Hub | None = None) -> None:
        self.app, self.host, self.port, self.hub = app, host, port, hub
        self._server: _Uvicorn | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Bind, start serving, and return once uvicorn serves.

        Raises:
            SyncError: the address cannot be bound (in use, not this machine's...), or
                the app did not start within ``timeout``.
        """
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        config = uvicorn.Config(self.app, log_config=None, access_log=False,
                                log_level="warning", server_header=False,
                                timeout_graceful_shutdown=2, lifespan="on")
        self._server = server = _Uvicorn(config, ready)

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            except Exception:       # a bug in the app: say so, never kill the process
                log.exception("the console's HTTP server failed")
            finally:
                sock.close()
                loop.close()

        self._thread = thread = threading.Thread(target=serve, name="exhibit-console-http",
                                                 daemon=True)
        thread.start()
        while not ready.wait(0.05):
            if not thread.is_alive() or timeout <= 0:
                self.stop()
                raise SyncError(f"the console did not start on {self.url}")
            timeout -= 0.05
        log.info("console on %s", self.url)

    def stop(self, timeout: float = 5.0) -> None:
        """End the event streams, stop uvicorn and join its thread (safe twice)."""
        server, loop, thread = self._server, self._loop, self._thread
        if server is None or thread is None:
            return
        if self.hub is not None and loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.hub.close_streams)
        server.should_exit = True
        thread.join(timeout)
        self._server = self._thread = None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        why = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise SyncError(f"the console cannot listen on {host}:{port}: {why}") from None
    sock.set_inheritable(False)
    return sock

