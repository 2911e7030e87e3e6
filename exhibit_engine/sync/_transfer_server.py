"""The controller's side of bundle distribution: :class:`TransferServer` (see
:mod:`.transfer`, which presents it, and ``docs/protocol.md`` §11)."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import zmq

from ..config.show import ShowConfig
from ..errors import ProtocolError, SyncError
from ._transfer_core import (CHUNK_BYTES, FETCH_ROLES, Catalogue, Entry, bucket_for,
                             decode_request, encode)
from .auth import ServerCurve, ZapHandler, apply_server, split_user_id

__all__ = ["TransferServer"]

log = logging.getLogger("exhibit_engine.sync.transfer")


class TransferServer:
    """Serves a show's bundles from the controller's bundle folder.

    Args:
        show: the show whose ``[[bundles]]`` are offered.
        folder: the controller's bundle folder (``--bundle-dir``).
        host: the address to bind (the controller's).
        port: the port (0: a free one; :attr:`port` after :meth:`bind`).
        curve: the controller's CURVE settings (``None``: curve off).
        rate_mbps: the rate limit for all fetchers together, megabits per second (0:
            none).
        mangle: for tests: ``(sha256, index, data) -> data`` applied to each chunk
            sent (a fault in transit).
    """

    def __init__(self, show: ShowConfig, folder: str | os.PathLike[str], host: str, port: int,
                 *, curve: ServerCurve | None = None, rate_mbps: float = 0.0,
                 mangle: Callable[[str, int, bytes], bytes] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.catalogue = Catalogue(show, folder)
        self.host, self.port, self.curve = host, port, curve
        self.rate_mbps, self.mangle, self._clock = rate_mbps, mangle, clock
        self._ctx: zmq.Context[zmq.Socket[bytes]] | None = None
        self._router: zmq.Socket[bytes] | None = None
        self._zap: ZapHandler | None = None
        self._fds: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        #: What the server did: bytes and chunks sent, requests refused, peers (last seen).
        self.stats: dict[str, Any] = {"bytes_sent": 0, "chunks_sent": 0, "lists": 0,
                                      "refused": 0, "malformed": 0}
        self._peers: dict[bytes, float] = {}

    @property
    def endpoint(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def bind(self) -> None:
        """Hash the catalogue and bind the ROUTER.

        Raises:
            SyncError: the port cannot be bound.
        """
        if self._ctx is not None:
            return
        self.catalogue.refresh()
        for bundle_id, why in self.catalogue.problems.items():
            log.warning("bundle %r cannot be served to the nodes: %s", bundle_id, why)
        self._ctx = ctx = zmq.Context()
        try:
            if self.curve is not None:
                self._zap = ZapHandler(ctx, dict(self.curve.roles))
            router = self._router = ctx.socket(zmq.ROUTER)
            router.setsockopt(zmq.LINGER, 0)
            router.setsockopt(zmq.MAXMSGSIZE, 64 * 1024)   # requests are a few bytes
            if self.curve is not None:
                apply_server(router, self.curve)
            try:
                if self.port:
                    router.bind(self.endpoint)
                else:
                    self.port = router.bind_to_random_port(f"tcp://{self.host}")
            except zmq.ZMQError as exc:
                raise SyncError(f"cannot serve bundles on {self.endpoint}: {exc} (another "
                                "controller? set [network] transfer_port or "
                                "--transfer-port)") from None
        except SyncError:
            self.close()
            raise

    def start(self) -> TransferServer:
        """Bind, then serve in a daemon thread until :meth:`close`."""
        self.bind()
        self._thread = threading.Thread(target=self._serve_guarded, name="bundle-transfer",
                                        daemon=True)
        self._thread.start()
        return self

    def summary(self) -> dict[str, Any]:
        """For the controller's ``status``: what is offered and what was sent (a few KB at
        most: each bundle's version and size, the first 8 problems)."""
        with self._lock:
            now = self._clock()
            problems = sorted(self.catalogue.problems.items())
            return {"port": self.port, "rate_mbps": self.rate_mbps,
                    "bundles": {e.id: {"version": e.version, "size": e.size}
                                for e in self.catalogue.entries},
                    "problems": {k: v[:160] for k, v in problems[:8]},
                    "fetchers": sum(1 for at in self._peers.values() if now - at < 10.0),
                    **self.stats}

    def close(self) -> None:
        """Stop serving; close the socket (linger 0), the ZAP handler and the files."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5.0)
            self._thread = None
        if self._router is not None:
            self._router.close(linger=0)
            self._router = None
        if self._zap is not None:
            self._zap.stop()
            self._zap = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    # ------------------------------------------------------------------ loop

    def _serve_guarded(self) -> None:
        try:
            self.serve()
        except Exception:       # the show goes on without distribution; say why once
            log.exception("the bundle transfer server stopped")

    def serve(self) -> None:
        """Answer requests until :meth:`close` (the thread's body)."""
        router = self._router
        if router is None:
            raise SyncError("the transfer server is not bound")
        bucket = bucket_for(self.rate_mbps, self._clock())
        pending: deque[tuple[bytes, Entry, int]] = deque()
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        while not self._stop.is_set():
            wait_s = 0.1
            while pending:
                peer, entry, index = pending[0]
                wait = bucket.wait(entry.chunk_size(index), self._clock())
                if wait > 0:        # over the rate: sleep until the bucket allows it
                    wait_s = min(wait_s, wait)
                    break
                pending.popleft()
                self._send_chunk(router, peer, entry, index)
                if router.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    wait_s = 0.0    # requests waiting: read them between chunks
                    break
            if not dict(poller.poll(math.ceil(wait_s * 1000))):
                continue
            for _ in range(256):
                try:
                    frames = router.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    break
                self._handle(router, frames, pending)

    def _handle(self, router: zmq.Socket[bytes], frames: list[zmq.Frame],
                pending: deque[tuple[bytes, Entry, int]]) -> None:
        peer = frames[0].bytes
        if len(frames) < 2:
            return
        if self.curve is not None:
            try:
                role, _ = split_user_id(frames[1].get("User-Id"))
            except (ValueError, zmq.ZMQError):
                role = ""
            if role not in FETCH_ROLES:
                self.stats["refused"] += 1
                self._reply(router, peer, {"type": "error", "reason": f"the {role or '?'} "
                            f"role may not fetch bundles (only {', '.join(FETCH_ROLES)})"})
                return
        try:
            req = decode_request([f.bytes for f in frames[1:]])
        except ProtocolError as exc:
            self.stats["malformed"] += 1
            self._reply(router, peer, {"type": "error", "reason": str(exc)[:400]})
            return
        with self._lock:
            self._peers[peer] = self._clock()
            if len(self._peers) > 4096:
                self._peers = dict(sorted(self._peers.items(), key=lambda kv: kv[1])[-1024:])
        if req["type"] == "list":
            self.stats["lists"] += 1
            with self._lock:
                if self.catalogue.refresh():
                    self._forget_files()
                entries = self.catalogue.entries
                problems = dict(self.catalogue.problems)
            self._reply(router, peer, {"type": "list",
                                       "bundles": [e.wire() for e in entries],
                                       "missing": problems})
            return
        found = self.catalogue.path_of(req["sha256"])
        if found is None or req["index"] >= len(found[0].chunks):
            self._reply(router, peer, {"type": "error", "sha256": req["sha256"],
                                       "index": req["index"],
                                       "reason": "gone: not offered (ask for the list again)"
                                       if found is None else "no such chunk"})
            return
        pending.append((peer, found[0], req["index"]))

    def _forget_files(self) -> None:
        offered = {e.sha256 for e in self.catalogue.entries}
        for sha in [s for s in self._fds if s not in offered]:
            os.close(self._fds.pop(sha))

    def _send_chunk(self, router: zmq.Socket[bytes], peer: bytes, entry: Entry,
                    index: int) -> None:
        try:
            fd = self._fds.get(entry.sha256)
            if fd is None:
                found = self.catalogue.path_of(entry.sha256)
                if found is None:
                    raise FileNotFoundError(entry.sha256)
                fd = self._fds[entry.sha256] = os.open(found[1], os.O_RDONLY)
            data = os.pread(fd, entry.chunk_size(index), index * CHUNK_BYTES)
        except OSError as exc:
            self._reply(router, peer, {"type": "error", "sha256": entry.sha256, "index": index,
                                       "reason": f"gone: cannot read it ({exc.strerror or exc})"})
            return
        if self.mangle is not None:
            data = self.mangle(entry.sha256, index, data)
        header = encode({"type": "chunk", "sha256": entry.sha256, "index": index})
        try:
            router.send_multipart([peer, header, data], zmq.NOBLOCK, copy=False)
        except zmq.ZMQError:
            return          # that peer's queue is full or it left: it will ask again
        self.stats["bytes_sent"] += len(data)
        self.stats["chunks_sent"] += 1

    def _reply(self, router: zmq.Socket[bytes], peer: bytes, body: dict[str, Any]) -> None:
        try:
            router.send_multipart([peer, encode(body)], zmq.NOBLOCK)
        except zmq.ZMQError:
            pass
