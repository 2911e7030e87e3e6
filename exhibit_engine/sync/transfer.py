"""Bundle distribution over ZeroMQ: the controller serves the show's bundles, nodes fetch
what they lack. The wire is ``docs/protocol.md`` §11; the pure parts are in
:mod:`._transfer_core`.

- :class:`TransferServer` (in the controller's transfer process; :mod:`._transfer_server`,
  taken from there): a ROUTER on the
  transfer port (``[network] transfer_port``, 5572) that answers ``list`` with the
  catalogue of the show's bundles (whole-file and per-chunk SHA-256, hashed once per
  change of the file) and ``chunk`` with one :data:`CHUNK_BYTES` chunk. Chunks go out
  through a token bucket (``[network] transfer_rate_mbps``), so a room of nodes fetching
  at once leaves the sync traffic its share of the network. With ``[security] curve`` on
  it is a CURVE server with its own ZAP handler: only allow-listed projector and kiosk
  keys may fetch.
- :class:`Fetcher` (in a node's transfer process, :mod:`.distribution`): asks for the
  catalogue every :attr:`Fetcher.poll_s` seconds; for each show bundle that its library lacks, or holds in
  another version, it fetches the chunks into ``LIBRARY/.fetch/<id>-<sha>.part`` with
  :data:`WINDOW` requests in flight (credit-based flow control, as the ZeroMQ guide's
  file transfer), verifies each chunk's SHA-256 as it arrives (a bad one is asked for
  again), then the whole file's, then installs it with :func:`~exhibit_engine.assets.
  library.install` (the venue's signature policy, every file's hash, no rollback). A
  partial file survives a disconnect or a restart: its verified chunks are kept. Nothing
  is ever played from a partial file: the node reads only installed bundles.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq

from ..assets.library import compare_versions, file_sha256, install, installed, library_path
from ..assets.signing import PublicKey
from ..config.show import ShowConfig
from ..errors import BundleError, ProtocolError
from ._transfer_core import (CHUNK_BYTES, FETCH_ROLES, MAX_HEADER_BYTES, SETTLED_STATES,
                             TRANSFER_NICE, WINDOW, Download, Entry, decode_reply, encode)
from ._transfer_server import TransferServer
from .auth import ClientCurve, HandshakeWatch, apply_client

__all__ = ["FETCH_ROLES", "Fetcher", "TRANSFER_NICE", "TransferServer"]

log = logging.getLogger(__name__)

_REPLY_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------- fetcher


class _Unreachable(Exception):
    """The controller did not answer in time."""


class _Stale(Exception):
    """The catalogue changed under a download: ask for the list again."""


class Fetcher:
    """Keeps a node's library holding the controller's version of every show bundle.

    Args:
        show: the show (its ``[[bundles]]``).
        library: the node's bundle folder (made if missing).
        host, port: the controller's transfer endpoint.
        curve: the node's CURVE settings (``None``: curve off).
        trust, require_signed: the venue's signature policy.
        poll_s: seconds between two asks for the catalogue.
        who: for log lines (the node's display id).
    """

    def __init__(self, show: ShowConfig, library: str | os.PathLike[str], host: str,
                 port: int, *, curve: ClientCurve | None = None,
                 trust: Sequence[PublicKey] = (), require_signed: bool = False,
                 poll_s: float = 2.0, who: str = "node") -> None:
        self.show, self.library = show, Path(library)
        self.endpoint = f"tcp://{host}:{port}"
        self.curve, self.trust, self.require_signed = curve, list(trust), require_signed
        self.poll_s, self.who = poll_s, who
        self._lock = threading.Condition()
        self._progress: dict[str, dict[str, Any]] = {
            r.id: {"state": "waiting", "done": 0, "size": 0} for r in show.bundles}
        self._installed: list[str] = []
        self._refused: dict[str, str] = {}      # sha256 -> why (never fetched again)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0
        #: Totals: chunks that failed their hash, bytes fetched, bytes kept from a partial
        #: file at a resume, whole files installed.
        self.counts = {"corrupt_chunks": 0, "bytes_fetched": 0, "bytes_resumed": 0,
                       "installed": 0}
        self.handshake: str | None = None
        self._hashed: dict[str, tuple[tuple[int, int, int, int], str | None]] = {}

    def start(self) -> Fetcher:
        self._thread = threading.Thread(target=self._run_guarded, name="bundle-fetch",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10.0)
            self._thread = None

    def progress(self) -> dict[str, dict[str, Any]]:
        """Bundle id -> ``{"state", "done", "size"}`` and, where known, ``version`` and
        ``error`` (a copy; :data:`~._health.TRANSFER_STATES`)."""
        with self._lock:
            return {k: dict(v) for k, v in self._progress.items()}

    def take_installed(self) -> list[str]:
        """The ids installed since the last call (the node then opens them)."""
        with self._lock:
            out, self._installed = self._installed, []
            return out

    def wait_settled(self, timeout: float) -> bool:
        """Until a whole round found every bundle installed, refused, failed or missing
        (for tests and the bench); returns whether it did in time."""
        start = self.rounds
        with self._lock:
            return self._lock.wait_for(
                lambda: self.rounds > start and all(
                    p["state"] in SETTLED_STATES for p in self._progress.values()), timeout)

    # ------------------------------------------------------------------ thread

    def _set(self, bundle_id: str, **kv: Any) -> None:
        with self._lock:
            p = self._progress.setdefault(bundle_id, {"state": "waiting", "done": 0, "size": 0})
            if kv.get("state") not in (None, "failed", "refused"):
                p.pop("error", None)
            p.update(kv)
            self._lock.notify_all()

    def _run_guarded(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("%s: the bundle fetcher stopped", self.who)

    def _run(self) -> None:
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        watch = None
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.IMMEDIATE, 1)
            sock.setsockopt(zmq.MAXMSGSIZE, CHUNK_BYTES + MAX_HEADER_BYTES)
            sock.setsockopt(zmq.RECONNECT_IVL, 200)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
            if self.curve is not None:
                apply_client(sock, self.curve)
                watch = HandshakeWatch(sock, self.curve)
            sock.connect(self.endpoint)
            while not self._stop.is_set():
                try:
                    self._round(sock)
                except _Unreachable:
                    why = (watch.failure() if watch is not None else "") or (
                        f"the controller's transfer port {self.endpoint} does not answer")
                    self.handshake = why
                    for bundle_id, p in self.progress().items():
                        if p["state"] in ("waiting", "fetching"):
                            self._set(bundle_id, state="waiting", error=why[:400])
                with self._lock:
                    self.rounds += 1
                    self._lock.notify_all()
                self._stop.wait(self.poll_s)
        finally:
            if watch is not None:
                watch.close()
            sock.close(linger=0)
            ctx.term()

    def _send(self, sock: zmq.Socket[bytes], body: dict[str, Any]) -> None:
        try:
            sock.send(encode(body), zmq.NOBLOCK)
        except zmq.Again:
            raise _Unreachable() from None

    def _recv(self, sock: zmq.Socket[bytes], timeout_s: float) -> dict[str, Any] | None:
        if not sock.poll(int(timeout_s * 1000), zmq.POLLIN):
            return None
        # Zero-copy: a chunk is hashed and written straight from the frame's buffer.
        frames = sock.recv_multipart(copy=False)
        try:
            return decode_reply([frames[0].bytes, *(f.buffer for f in frames[1:])])
        except ProtocolError as exc:
            log.warning("%s: a bad reply from the transfer server: %s", self.who, exc)
            return {"type": "bad"}

    def _round(self, sock: zmq.Socket[bytes]) -> None:
        self._send(sock, {"type": "list"})
        deadline = time.monotonic() + _REPLY_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            reply = self._recv(sock, max(0.0, left)) if left > 0 else None
            if reply is None:
                raise _Unreachable()
            if reply["type"] == "list":
                break
            if reply["type"] == "error" and reply.get("sha256") is None:
                self._refuse_all(reply["reason"])     # e.g. a key not allowed to fetch
                return
        self.handshake = None
        entries = {e.id: e for e in reply["entries"]}
        for ref in self.show.bundles:
            if self._stop.is_set():
                return
            try:
                self._one(sock, ref.id, entries.get(ref.id), reply["missing"].get(ref.id))
            except _Stale:
                return              # a newer catalogue: the next round asks for it

    def _refuse_all(self, reason: str) -> None:
        for bundle_id in self.progress():
            self._set(bundle_id, state="failed", error=f"the controller refused: {reason}"[:400])

    def _local_sha(self, bundle_id: str) -> tuple[Path, str | None]:
        """The file a node would play for this bundle and its SHA-256 (``None``: none),
        hashed again only when its ``stat`` changes (a damaged file is fetched again)."""
        ref = self.show.bundle(bundle_id)
        path = library_path(self.library, ref.id, ref.file)
        try:
            st = os.stat(path)
        except OSError:
            return path, None
        ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        cached = self._hashed.get(bundle_id)
        if cached is None or cached[0] != ident:
            cached = self._hashed[bundle_id] = (ident, file_sha256(path))
        return path, cached[1]

    def _one(self, sock: zmq.Socket[bytes], bundle_id: str, entry: Entry | None,
             missing: str | None) -> None:
        try:
            rec = installed(self.library, bundle_id)
        except BundleError as exc:
            self._set(bundle_id, state="failed", error=str(exc)[:400])
            return
        path, sha = self._local_sha(bundle_id)
        if entry is None:
            if sha is not None:
                size = path.stat().st_size
                self._set(bundle_id, state="installed", done=size, size=size,
                          **({"version": rec.version} if rec else {}))
            else:
                self._set(bundle_id, state="missing",
                          error=f"the controller does not offer it: "
                                f"{missing or 'not in its bundle folder'}"[:400])
            return
        if sha == entry.sha256:             # the very file the controller has
            self._set(bundle_id, state="installed", version=entry.version, done=entry.size,
                      size=entry.size)
            return
        if entry.sha256 in self._refused:
            return
        if rec is not None and compare_versions(entry.version, rec.version) < 0:
            self._refuse(entry, f"version {entry.version} is older than installed "
                         f"{rec.version}: not fetched (no rollback)")
            return
        if rec is not None and sha != rec.sha256 and sha is not None:
            log.warning("%s: installed bundle %r (%s) differs from its record; fetching it "
                        "again", self.who, bundle_id, path)
        self._fetch(sock, entry)

    def _refuse(self, entry: Entry, why: str) -> None:
        self._refused[entry.sha256] = why
        log.error("%s: bundle %r %s refused: %s", self.who, entry.id, entry.version, why)
        self._set(entry.id, state="refused", version=entry.version, error=why[:400])

    def _fetch(self, sock: zmq.Socket[bytes], entry: Entry) -> None:
        parts = self.library / ".fetch"
        parts.mkdir(parents=True, exist_ok=True)
        path = parts / f"{entry.id}-{entry.sha256[:16]}.part"
        for old in parts.glob(f"{entry.id}-*.part"):
            if old != path:
                old.unlink(missing_ok=True)     # an older download of this bundle
        have = path.stat().st_size if path.exists() else 0
        free = shutil.disk_usage(self.library).free
        if free < entry.size - have + (64 << 20):
            self._set(entry.id, state="failed", version=entry.version, size=entry.size,
                      error=f"not enough disk space in {self.library}: {entry.size >> 20} "
                            f"MiB needed, {free >> 20} MiB free")
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            dl = Download(entry, path)
            dl.resume(fd)
            self.counts["bytes_resumed"] += dl.resumed
            if dl.resumed:
                log.info("%s: resuming bundle %r %s at %d of %d MiB", self.who, entry.id,
                         entry.version, dl.resumed >> 20, entry.size >> 20)
            self._set(entry.id, state="fetching", version=entry.version, done=dl.bytes_done,
                      size=entry.size)
            self._chunks(sock, fd, dl)
            os.ftruncate(fd, entry.size)
            os.fsync(fd)
        finally:
            os.close(fd)
        if not dl.whole_ok():
            path.unlink(missing_ok=True)
            self._set(entry.id, state="failed", error="the whole file's SHA-256 differs from "
                      "the catalogue's; fetching it again")
            return
        self._set(entry.id, state="verifying", done=entry.size)
        try:
            got = install(path, self.library, trust=self.trust,
                          require_signed=self.require_signed,
                          installed_at=datetime.now(UTC).isoformat(timespec="seconds"),
                          move_sha256=entry.sha256)
        except BundleError as exc:
            path.unlink(missing_ok=True)
            # The rule and the file in the bundle it concerns (the download's own path
            # would say nothing to an operator).
            self._refuse(entry, f"{exc.entry}: {exc.rule}" if exc.entry else exc.rule)
            return
        finally:
            path.unlink(missing_ok=True)
        self.counts["installed"] += 1
        log.info("%s: bundle %r %s fetched and installed (%d MiB%s)", self.who, entry.id,
                 got.version, entry.size >> 20,
                 f", {dl.corrupt} corrupt chunks fetched again" if dl.corrupt else "")
        self._set(entry.id, state="installed", version=got.version, done=entry.size,
                  size=entry.size)
        try:                    # its hash is known: the next round need not read it again
            st = os.stat(got.path)
            self._hashed[entry.id] = ((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns),
                                      entry.sha256)
        except OSError:
            pass
        with self._lock:
            self._installed.append(entry.id)

    def _chunks(self, sock: zmq.Socket[bytes], fd: int, dl: Download) -> None:
        stalls = 0
        last_report = 0.0
        while not dl.complete:
            if self._stop.is_set():
                raise _Unreachable()        # kept: the next start resumes it
            for index in dl.to_ask(WINDOW):
                self._send(sock, {"type": "chunk", "sha256": dl.entry.sha256, "index": index})
            reply = self._recv(sock, _REPLY_TIMEOUT_S)
            if reply is None:
                stalls += 1
                dl.asked.clear()            # lost in a reconnect: ask again
                if stalls >= 3:
                    raise _Unreachable()
                continue
            stalls = 0
            if reply["type"] == "error" and reply.get("sha256") == dl.entry.sha256:
                if not reply["reason"].startswith("gone"):
                    self._set(dl.entry.id, state="failed", error=reply["reason"])
                raise _Stale()
            if reply["type"] != "chunk" or reply["sha256"] != dl.entry.sha256:
                continue                    # a stale answer to an earlier ask
            try:
                good = dl.accept(fd, reply["index"], reply["data"])
            except ProtocolError as exc:
                self._set(dl.entry.id, state="failed", error=str(exc)[:400])
                raise _Stale() from None
            if good:
                self.counts["bytes_fetched"] += len(reply["data"])
            else:
                self.counts["corrupt_chunks"] += 1
                log.warning("%s: bundle %r chunk %d failed its SHA-256; asking again",
                            self.who, dl.entry.id, reply["index"])
            now = time.monotonic()
            if now - last_report > 0.1 or dl.complete:
                last_report = now
                self._set(dl.entry.id, done=dl.bytes_done)
