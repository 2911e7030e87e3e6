"""The controller's state file: what a restarted controller needs to resume the show.

The controller writes one small JSON file whenever its session state changes and every
few seconds (:data:`SAVE_EVERY_S`); a controller started again with the same file picks
the show up where it was. Show time is saved against the *wall* clock, because the
controller's monotonic clock starts again from an arbitrary point in a new process::

    {
      "format": "exhibit-controller-state", "version": 1,
      "show": "winter-nights",              the show id it belongs to
      "saved_at": "2026-11-25T19:30:00+00:00",
      "anchor": {"wall_time": 1764099000.0,  wall clock (Unix seconds) of the point below
                 "position": 812.4,          show time at that instant
                 "rate": 1.0},               show seconds per second (0 while paused)
      "seq": 41, "event_seq": 17,           state and event sequence counters
      "state": {"selected_item": {...}, ...}  replicated keys besides "anchor"
      "control": {...} | null                ShowControl.to_dict(), when a show control runs
    }

On start the show resumes at ``position + rate * (wall_now - wall_time)``: a show that was
playing has kept playing while the controller was away, a paused one is where it stopped.
The session id is new (nodes notice the restart and take a fresh snapshot), but event and
state sequence numbers continue. A missing file is a fresh start; a corrupt one, one of an
unknown version or one written for another show gives one warning naming the file from
:func:`load_session`. The controller itself never overwrites a file that exists but cannot
be read or parsed: :func:`unreadable_reason` says why, and the controller refuses to start
unless the operator asks for a fresh show, when :func:`move_aside` keeps the file as
``<state>.unreadable-<timestamp>``.

Writes are atomic (a temporary file ``.<name>.XXXXXXXX.tmp`` in the same folder, then
:func:`os.replace`), so a controller killed mid-write leaves the previous file intact; the
temporary files such a crash leaves are removed at the next start
(:func:`remove_stale_temps`). One controller at a time uses a state file:
:class:`StateLock` holds an OS lock (``flock``) on ``<state>.lock`` for the controller's
life, with the holder's pid, host and start time written inside for the refusal message.

Pure standard library: no sockets, no clocks read here (times are arguments).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import ProtocolError, SyncError
from ._fields import check_value

__all__ = ["FORMAT", "SAVE_EVERY_S", "SavedSession", "StateLock", "VERSION",
           "claim_state_file", "load_session",
           "move_aside", "remove_stale_temps", "save_session", "unreadable_reason", "wire_safe"]

log = logging.getLogger(__name__)

FORMAT = "exhibit-controller-state"
VERSION = 1
#: The controller rewrites its state file at least this often while it runs.
SAVE_EVERY_S = 2.0
#: A state file larger than this is not read (it cannot be one the controller wrote).
_MAX_BYTES = 4 << 20


@dataclass(frozen=True)
class SavedSession:
    """One controller's saved session, as read from or written to its state file.

    Attributes:
        show: the id of the show it belongs to.
        wall_time: wall clock (Unix seconds) at which the show was at ``position``.
        position: show time (s) at ``wall_time``.
        rate: show seconds per wall second (0 while paused).
        seq: the state sequence number reached.
        event_seq: the last event sequence number used.
        state: the replicated session keys besides ``"anchor"``.
        control: the show control's own state (``ShowControl.to_dict()``), if any.
    """

    show: str
    wall_time: float
    position: float
    rate: float = 1.0
    seq: int = 0
    event_seq: int = 0
    state: Mapping[str, Any] = field(default_factory=dict)
    control: Mapping[str, Any] | None = None

    def position_at(self, wall_time: float) -> float:
        """Show time at ``wall_time`` (Unix seconds), as if the show had run on meanwhile.

        A wall clock that went backwards (a corrected clock, an old file) counts as no
        time passed: the show never runs backwards on a restart.
        """
        return self.position + self.rate * max(0.0, wall_time - self.wall_time)

    def to_json(self) -> str:
        """The file's text."""
        saved_at = datetime.fromtimestamp(self.wall_time).astimezone().isoformat(
            timespec="seconds")
        return json.dumps({
            "format": FORMAT, "version": VERSION, "show": self.show, "saved_at": saved_at,
            "anchor": {"wall_time": self.wall_time, "position": self.position,
                       "rate": self.rate},
            "seq": self.seq, "event_seq": self.event_seq, "state": dict(self.state),
            "control": None if self.control is None else dict(self.control),
        }, indent=1, ensure_ascii=False, allow_nan=False)


def wire_safe(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` less the keys and values that break the wire rules (a hand-edited file),
    each dropped with a warning, so a bad file can never stop the controller from serving
    snapshots."""
    kept: dict[str, Any] = {}
    for key, value in state.items():
        try:
            if not 0 < len(key) <= 256:
                raise ProtocolError(f"state key {key[:40]!r}: 1 to 256 characters")
            check_value(value, f"state key {key!r}", None)
        except ProtocolError as exc:
            log.warning("restored state: dropped %s", exc)
            continue
        kept[key] = value
    return kept


def save_session(path: str | os.PathLike[str], saved: SavedSession) -> None:
    """Write ``saved`` to ``path`` atomically (the folder is made if missing).

    Raises:
        OSError: the folder or file cannot be written.
        ValueError: the state holds a value JSON cannot carry (NaN, bytes...).
    """
    target = Path(path)
    text = saved.to_json()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_session(path: str | os.PathLike[str], show_id: str) -> SavedSession | None:
    """Read a state file; ``None`` (start fresh) if there is none or it cannot be used.

    Never raises for a bad file: it logs one warning naming the file and the reason.

    Args:
        path: the state file.
        show_id: the id of the show the controller runs now; a file saved for another
            show is not used.
    """
    p = Path(path)
    try:
        saved = _read(p)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("controller state file %s cannot be used (%s); starting a fresh show",
                    p, _reason(exc))
        return None
    if saved.show != show_id:
        log.warning("controller state file %s belongs to show %r, not %r; starting a fresh "
                    "show", p, saved.show, show_id)
        return None
    return saved


def unreadable_reason(path: str | os.PathLike[str]) -> str | None:
    """Why a state file that exists cannot be read or parsed; ``None`` if it reads (or
    there is none, a fresh start).

    A file of another show reads fine (``None``): :func:`load_session` warns about it.
    """
    try:
        _read(Path(path))
    except (FileNotFoundError, NotADirectoryError):
        return None         # none there (a path under a file cannot hold one either)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        return _reason(exc)
    return None


def move_aside(path: str | os.PathLike[str], stamp: str) -> Path:
    """Rename a state file to ``<name>.unreadable-<stamp>`` beside it (never deleting
    anything: a name already taken gets ``-2``, ``-3``...); return the new path.

    Raises:
        OSError: it cannot be renamed.
    """
    p = Path(path)
    aside = p.with_name(f"{p.name}.unreadable-{stamp}")
    n = 1
    while aside.exists() or aside.is_symlink():
        n += 1
        aside = p.with_name(f"{p.name}.unreadable-{stamp}-{n}")
    os.rename(p, aside)
    return aside


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files crashed saves of ``path`` left beside it (only names
    :func:`save_session` makes: ``.<name>.XXXXXXXX.tmp``); return those removed.

    Call it only while holding the :class:`StateLock`: a running controller's temporary
    file is not stale. A file that cannot be removed is left (and not returned).
    """
    p = Path(path)
    pattern = re.compile(rf"\.{re.escape(p.name)}\.[a-z0-9_]{{8}}\.tmp")
    removed = []
    try:
        names = os.listdir(p.parent)
    except OSError:
        return []
    for name in sorted(names):
        tmp = p.parent / name
        if pattern.fullmatch(name) and tmp.is_file() and not tmp.is_symlink():
            try:
                tmp.unlink()
            except OSError:
                continue
            removed.append(tmp)
    return removed


class StateLock:
    """An exclusive OS lock on ``<state file>.lock``, held from :meth:`acquire` to
    :meth:`release` (or the process's end: the OS drops it even after kill -9).

    The lock file holds the holder's ``pid``, ``host`` and ``started`` time (JSON), which a
    refused controller reads back to name it. The file itself is left in place on release
    (removing it would race with a controller that just opened it).

    Args:
        path: the state file (the lock is ``<path>.lock``).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        state = Path(path)
        self.path = state.with_name(state.name + ".lock")
        self._fd: int | None = None

    def acquire(self, started: str) -> None:
        """Take the lock and write this process as its holder.

        Args:
            started: this controller's start time, as the refusal message will show it.

        Raises:
            BlockingIOError: another process holds it; the message names the holder.
            OSError: the lock file cannot be made or opened.
            NotImplementedError: this system has no ``fcntl.flock`` (not Linux or macOS).
        """
        try:
            import fcntl
        except ImportError:
            raise NotImplementedError("state file locking needs fcntl.flock (Linux or "
                                      "macOS)") from None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise BlockingIOError(f"held by {holder}") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": started}).encode("utf-8"))
        self._fd = fd

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def release(self) -> None:
        """Let go of the lock (doing nothing if not held)."""
        if self._fd is not None:
            os.close(self._fd)       # closing the descriptor drops the flock
            self._fd = None


def claim_state_file(path: str, fresh: bool, started: str, stamp: str) -> StateLock | None:
    """Lock a controller's state file, refuse (or with ``fresh`` move aside) an unreadable
    one, and remove crashed saves' temporary files; returns the lock held (``None``: the
    folder cannot be written, so the show runs without one and saves fail in status).

    Args:
        path: the state file.
        fresh: move an unreadable file aside (``<state>.unreadable-<stamp>``) instead of
            refusing to start.
        started: this controller's start time, for the lock's holder line.
        stamp: the time stamp of a file moved aside.

    Raises:
        SyncError: another controller holds the file; it cannot be read (without
            ``fresh``) or moved aside; this system cannot lock files.
    """
    lock: StateLock | None = StateLock(path)
    assert lock is not None
    try:
        lock.acquire(started)
    except BlockingIOError as exc:
        raise SyncError(f"controller state file {path} is in use by another controller "
                        f"({exc}); stop that one, or give this one another "
                        f"--state-file") from None
    except NotImplementedError as exc:
        raise SyncError(f"controller state file {path}: {exc}; run with --no-state "
                        f"on this system") from None
    except OSError as exc:
        # A folder that cannot be written: saves fail too and show in status; the
        # show itself still runs.
        log.warning("cannot lock the controller state file %s (%s: %s); running "
                    "without the lock", path, lock.path, _reason(exc))
        lock = None
    try:
        reason = unreadable_reason(path)
        if reason is not None:
            if not fresh:
                raise SyncError(f"controller state file {path} cannot be read ({reason}); "
                                "it was left as it is: fix it, or start with --fresh to "
                                "move it aside and start a fresh show")
            try:
                aside = move_aside(path, stamp)
            except OSError as exc:
                raise SyncError(f"controller state file {path} cannot be read ({reason}) "
                                f"nor moved aside ({_reason(exc)}); move it away by "
                                "hand") from None
            log.warning("controller state file %s cannot be read (%s); moved it to %s "
                        "and starting a fresh show", path, reason, aside)
        if lock is not None:
            for tmp in remove_stale_temps(path):
                log.info("removed %s, left by a save that never finished", tmp)
    except Exception:       # release the lock, then let the error through
        if lock is not None:
            lock.release()
        raise
    return lock


def _holder(fd: int) -> str:
    """The holder a lock file names: ``pid N on HOST since TIME``, or as much as it says."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"pid {int(data['pid'])} on {str(data['host'])[:80]} since " \
               f"{str(data['started'])[:40]}"
    except (OSError, ValueError, TypeError, KeyError):
        return "another process (it wrote no pid)"


def _read(p: Path) -> SavedSession:
    if p.stat().st_size > _MAX_BYTES:
        raise ValueError(f"larger than {_MAX_BYTES} bytes")
    return _parse(json.loads(p.read_text(encoding="utf-8")))


def _reason(exc: BaseException) -> str:
    # json.JSONDecodeError and UnicodeDecodeError are ValueErrors; an OSError is named
    # by its strerror (not "[Errno 21] ... 'path'", the path is in the message already).
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror[:1].isupper() else exc.strerror
    if isinstance(exc, KeyError):
        return f"missing {exc.args[0]!r}" if exc.args else "a key is missing"
    return str(exc)


def _parse(data: Any) -> SavedSession:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not an {FORMAT} file")
    if data.get("version") != VERSION:
        raise ValueError(f"unknown version {data.get('version')!r} (this controller reads "
                         f"version {VERSION})")
    anchor = data["anchor"]
    if not isinstance(anchor, dict):
        raise ValueError("'anchor' must be a map")
    numbers = [anchor["wall_time"], anchor["position"], anchor["rate"]]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in numbers):
        raise ValueError("anchor wall_time, position and rate must be finite numbers")
    seq, event_seq = data.get("seq", 0), data.get("event_seq", 0)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
               for v in (seq, event_seq)):
        raise ValueError("'seq' and 'event_seq' must be whole numbers >= 0")
    state, control = data.get("state", {}), data.get("control")
    if not isinstance(state, dict) or not (control is None or isinstance(control, dict)):
        raise ValueError("'state' and 'control' must be maps")
    if not isinstance(data.get("show"), str):
        raise ValueError("'show' must be a string")
    state = {k: v for k, v in state.items() if k != "anchor"}
    return SavedSession(data["show"], float(numbers[0]), float(numbers[1]), float(numbers[2]),
                        seq, event_seq, state, control)
