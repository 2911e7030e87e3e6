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
unknown version or one written for another show gives one warning naming the file, and the
controller starts fresh rather than failing.

Writes are atomic (a temporary file in the same folder, then :func:`os.replace`), so a
controller killed mid-write leaves the previous file intact.

Pure standard library: no sockets, no clocks read here (times are arguments).
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "SAVE_EVERY_S", "SavedSession", "VERSION", "load_session", "save_session"]

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
        if p.stat().st_size > _MAX_BYTES:
            raise ValueError(f"larger than {_MAX_BYTES} bytes")
        data = json.loads(p.read_text(encoding="utf-8"))
        saved = _parse(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        # json.JSONDecodeError and UnicodeDecodeError are ValueErrors.
        log.warning("controller state file %s cannot be used (%s); starting a fresh show",
                    p, exc)
        return None
    if saved.show != show_id:
        log.warning("controller state file %s belongs to show %r, not %r; starting a fresh "
                    "show", p, saved.show, show_id)
        return None
    return saved


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
