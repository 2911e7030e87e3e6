"""The warnings the controller logs, kept for the status page.

:class:`LogTail` is a :class:`logging.Handler` that keeps the last warnings and errors the
controller's process logs (a node lost, a save that failed, a refused key...) in a ring,
and hands each new one to its listeners (the console's event stream sends them as ``log``
events). Entries are plain dicts, ready for JSON::

    {"ts": "2026-12-02T03:20:01.123+00:00", "level": "warning",
     "logger": "exhibit_engine.sync.controller", "msg": "node left is lost"}

Secrets never reach it: a line that carries a bearer token or a ``token=`` value has it
replaced by ``…`` before it is kept.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["LogTail", "redact"]

_SECRET = re.compile(r"(?i)(bearer\s+|token[=:]\s*)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """``text`` with bearer tokens and ``token=`` values replaced by ``…``."""
    return _SECRET.sub(r"\1…", text)


class LogTail(logging.Handler):
    """Keeps the last ``size`` records at ``level`` or above, and tells listeners.

    Args:
        size: how many entries to keep.
        level: the lowest level kept (warnings by default).
    """

    def __init__(self, size: int = 200, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self._lines: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock_tail = threading.Lock()
        self._listeners: list[Callable[[dict[str, Any]], None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:              # a bad format string must not lose the line
            msg = str(record.msg)
        entry = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                     timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name,
                 "msg": redact(msg)[:1000]}
        with self._lock_tail:
            self._lines.append(entry)
            listeners = tuple(self._listeners)
        for listener in listeners:
            try:
                listener(entry)
            except Exception:          # a listener's bug must not break logging
                pass

    def lines(self) -> list[dict[str, Any]]:
        """The entries kept, oldest first."""
        with self._lock_tail:
            return list(self._lines)

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """Call ``listener`` with every new entry (on the logging thread; it must only
        hand it on); returns a function that stops it."""
        with self._lock_tail:
            self._listeners.append(listener)

        def stop() -> None:
            with self._lock_tail:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return stop
