"""The bundle transfer of a controller and of a node, each in a process of its own.

:class:`ServerProcess` (the controller) and :class:`FetcherProcess` (a node) run a
:class:`~.transfer.TransferServer` or a :class:`~.transfer.Fetcher` in a child process
(``python -m exhibit_engine.sync.distribution serve|fetch``) at nice
:data:`~.transfer.TRANSFER_NICE`. Why a process and not a thread: moving hundreds of
megabytes is CPU work (hashing, copying, encryption) and Python work, and a thread doing
it would share the GIL with the sync loop and the render loop. Measured here
(``exhibit bench transfer``, 8 nodes on 2 cores), transfer threads, even at the lowest
priority, made operator events reach the nodes 5 times later: a low-priority thread that
holds the GIL when it is descheduled stalls every thread of its process. A child process
shares no GIL, runs below everything else on a busy CPU, and cannot take its parent down.

The parent writes the settings (secret keys included: never on a command line) as one
JSON line to the child's stdin and keeps the pipe open; the child stops when it closes
(so a parent that dies, however it dies, takes its child with it). The child writes JSON
lines to stdout: ``{"ready": port}`` once bound (a server), then its state whenever it
changes (a server's :meth:`~.transfer.TransferServer.summary`; a fetcher's progress,
counts, rounds and the ids installed since the last line), at most 10 a second. Its log
lines go to the parent's stderr.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from ..config.show import BundleRef, ShowConfig
from ..errors import SyncError
from .auth import ClientCurve, ServerCurve
from ._transfer_core import SETTLED_STATES
from .transfer import TRANSFER_NICE

__all__ = ["FetcherProcess", "ServerProcess", "main"]

log = logging.getLogger(__name__)

_LINE_EVERY_S = 0.1


def _show_doc(show: ShowConfig) -> list[list[str]]:
    return [[r.id, r.file] for r in show.bundles]


def _show_of(doc: list[list[str]]) -> ShowConfig:
    return ShowConfig("transfer", {}, tuple(BundleRef(i, f) for i, f in doc), ())


class _Child:
    """A child process speaking JSON lines, and a thread reading them."""

    def __init__(self, mode: str, settings: dict[str, Any], on_line: Any) -> None:
        self._on_line = on_line
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exhibit_engine.sync.distribution", mode],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(settings) + "\n")
        self.proc.stdin.flush()
        self.ended = threading.Event()
        self._reader = threading.Thread(target=self._read, name=f"transfer-{mode}-pipe",
                                        daemon=True)
        self._reader.start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            for line in out:
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if isinstance(doc, dict):
                    self._on_line(doc)
        finally:
            self.ended.set()
            self._on_line({"ended": self.proc.wait()})

    def close(self, timeout: float = 10.0) -> None:
        stdin: IO[str] | None = self.proc.stdin
        if stdin is not None and not stdin.closed:
            try:
                stdin.close()           # the child's cue to stop
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class ServerProcess:
    """The controller's :class:`~.transfer.TransferServer`, in a child process.

    Args: as :class:`~.transfer.TransferServer` (no test hooks).

    Raises:
        SyncError: the child could not bind its port (its reason), or did not start.
    """

    def __init__(self, show: ShowConfig, folder: str | os.PathLike[str], host: str, port: int,
                 *, curve: ServerCurve | None = None, rate_mbps: float = 0.0,
                 start_timeout_s: float = 60.0) -> None:
        self.host = host
        self._lock = threading.Condition()
        self._summary: dict[str, Any] = {}
        self._error: str | None = None
        self.port = 0
        settings = {"show": _show_doc(show), "folder": str(folder), "host": host,
                    "port": port, "rate_mbps": rate_mbps,
                    "curve": asdict(curve) if curve is not None else None}
        self._child = _Child("serve", settings, self._line)
        with self._lock:
            ok = self._lock.wait_for(lambda: self.port or self._error, start_timeout_s)
        if not ok or self._error:
            why = self._error or "it did not start in time"
            self._child.close()
            raise SyncError(f"cannot serve the bundles: {why}")

    def _line(self, doc: dict[str, Any]) -> None:
        with self._lock:
            if "ready" in doc:
                self.port = int(doc["ready"])
                self._summary = doc.get("summary", {})
            elif "error" in doc:
                self._error = str(doc["error"])
            elif "summary" in doc:
                self._summary = doc["summary"]
            elif "ended" in doc and not self.port:
                self._error = self._error or f"it ended with status {doc['ended']}"
            self._lock.notify_all()

    @property
    def endpoint(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def summary(self) -> dict[str, Any]:
        """The server's last summary (see :meth:`~.transfer.TransferServer.summary`),
        with ``running`` false once the child has ended."""
        with self._lock:
            return {**self._summary, "running": not self._child.ended.is_set()}

    def close(self) -> None:
        self._child.close()


class FetcherProcess:
    """A node's :class:`~.transfer.Fetcher`, in a child process; the same reading API
    (:meth:`progress`, :meth:`take_installed`, :meth:`wait_settled`, :attr:`counts`).

    Args: as :class:`~.transfer.Fetcher`, but the trusted keys as files
    (``trust_files``, the venue's ``[bundles] trusted_keys``).
    """

    def __init__(self, show: ShowConfig, library: str | os.PathLike[str], host: str,
                 port: int, *, curve: ClientCurve | None = None,
                 trust_files: Sequence[str] = (), require_signed: bool = False,
                 poll_s: float = 2.0, who: str = "node") -> None:
        self._lock = threading.Condition()
        self._progress: dict[str, dict[str, Any]] = {
            r.id: {"state": "waiting", "done": 0, "size": 0} for r in show.bundles}
        self._installed: list[str] = []
        self.counts: dict[str, int] = {}
        self.rounds = 0
        self.pid = 0
        self._settings = {"show": _show_doc(show), "library": str(library), "host": host,
                          "port": port, "trust_files": list(trust_files),
                          "require_signed": require_signed, "poll_s": poll_s, "who": who,
                          "curve": asdict(curve) if curve is not None else None}
        self._child: _Child | None = None

    def start(self) -> FetcherProcess:
        self._child = _Child("fetch", self._settings, self._line)
        self.pid = self._child.proc.pid
        return self

    def _line(self, doc: dict[str, Any]) -> None:
        with self._lock:
            if "progress" in doc:
                self._progress = doc["progress"]
                self._installed += doc.get("installed", [])
                self.counts = doc.get("counts", {})
                self.rounds = int(doc.get("rounds", 0))
            elif "ended" in doc and doc["ended"]:
                for p in self._progress.values():
                    if p.get("state") not in ("installed", "refused"):
                        p.update(state="failed", error=f"the fetcher process ended with "
                                 f"status {doc['ended']}")
            self._lock.notify_all()

    def progress(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._progress.items()}

    def take_installed(self) -> list[str]:
        with self._lock:
            out, self._installed = self._installed, []
            return out

    def wait_settled(self, timeout: float) -> bool:
        with self._lock:
            start = self.rounds
            return self._lock.wait_for(
                lambda: self.rounds > start and all(
                    p.get("state") in SETTLED_STATES for p in self._progress.values()), timeout)

    def close(self) -> None:
        if self._child is not None:
            self._child.close()
            self._child = None


# --------------------------------------------------------------------------- child


def _one_core() -> None:
    """On a machine with four CPUs or more, run on the last one only: whatever the transfer
    costs, the sync loop, the clock probes and the render loop keep the other cores (a
    load that saturates every core delays the sync events several times over, even at nice
    19; ``exhibit bench transfer`` measures it as its floor). With fewer CPUs one core is
    too large a share of the machine's throughput to give up, and nice alone applies."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 4:
            os.sched_setaffinity(0, {cpus[-1]})
    except (OSError, AttributeError):
        pass


def _emit(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def _child_main(mode: str) -> int:
    try:
        os.nice(TRANSFER_NICE)
    except (OSError, AttributeError):
        pass
    _one_core()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s transfer: %(message)s")
    first = sys.stdin.readline()
    try:
        settings = json.loads(first)
    except ValueError:
        _emit({"error": "no settings on stdin"})
        return 2
    stop = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()        # returns at EOF: the parent closed the pipe or died
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    show = _show_of(settings["show"])
    if mode == "serve":
        return _serve(settings, show, stop)
    return _fetch(settings, show, stop)


def _serve(settings: dict[str, Any], show: ShowConfig, stop: threading.Event) -> int:
    from .transfer import TransferServer

    curve = settings["curve"]
    if curve is not None:
        curve = ServerCurve(curve["secret"], curve["public"],
                            tuple(tuple(p) for p in curve["roles"]),  # type: ignore[misc]
                            tuple(tuple(p) for p in curve["bound_ids"]))  # type: ignore[misc]
    server = TransferServer(show, settings["folder"], settings["host"], settings["port"],
                            curve=curve, rate_mbps=settings["rate_mbps"])
    try:
        server.start()
    except SyncError as exc:
        _emit({"error": str(exc)})
        return 1
    last: Any = server.summary()
    _emit({"ready": server.port, "summary": last})
    try:
        while not stop.wait(_LINE_EVERY_S * 5):
            summary = server.summary()
            if summary != last:
                _emit({"summary": summary})
                last = summary
    finally:
        server.close()
    return 0


def _fetch(settings: dict[str, Any], show: ShowConfig, stop: threading.Event) -> int:
    from ..assets.signing import load_public_keys
    from .transfer import Fetcher

    curve = settings["curve"]
    if curve is not None:
        curve = ClientCurve(curve["secret"], curve["public"], curve["server_public"],
                            curve.get("role"))
    trust = [k for path in settings["trust_files"] for k in load_public_keys(path)]
    fetcher = Fetcher(show, Path(settings["library"]), settings["host"], settings["port"],
                      curve=curve, trust=trust, require_signed=settings["require_signed"],
                      poll_s=settings["poll_s"], who=settings["who"]).start()
    last: Any = None
    try:
        while not stop.wait(_LINE_EVERY_S):
            state = [fetcher.progress(), dict(fetcher.counts), fetcher.rounds]
            installed = fetcher.take_installed()
            if state != last or installed:
                _emit({"progress": state[0], "counts": state[1], "rounds": state[2],
                       "installed": installed})
                last = state
    finally:
        fetcher.close()
    return 0


def main(argv: list[str]) -> int:
    """Entry point of the child processes (``serve`` or ``fetch``)."""
    if argv[:1] not in (["serve"], ["fetch"]):
        print("usage: python -m exhibit_engine.sync.distribution serve|fetch (settings as "
              "one JSON line on stdin)", file=sys.stderr)
        return 2
    try:
        return _child_main(argv[0])
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
