"""Logs of the long-running roles: readable lines on stderr, JSON lines in a rotating file.

``exhibit controller`` and ``exhibit node`` log joins, losses, refusals and dropped frames
to stderr, one line each, as they always have. With ``--log-file PATH`` they also write
every record as one JSON object per line, rotated at ``--log-max-mb`` (default 10) with
``--log-backups`` old files kept (default 5: ``PATH.1`` newest ... ``PATH.5`` oldest)::

    {"ts": "2026-12-02T03:04:27.512+00:00", "level": "warning",
     "logger": "exhibit_engine.sync.controller", "role": "controller", "host": "wall-1",
     "pid": 4242, "msg": "node 'left' lost", "exc": "OSError: [Errno 28] No space left"}

``exc`` is there only for a record with an exception: its type and message, one line (the
traceback goes to stderr). ``exhibit logs`` reads these files back.

Secrets never reach a log: every handler carries :class:`RedactSecrets`, which replaces a
``token=...``, an ``Authorization:`` header's value and a ``Bearer ...`` credential by
``<redacted>``, in the message and in the exception's text.

The file is checked like every output path (its folder exists and is writable; it is not
a device or a link) and is created under the umask.
"""

from __future__ import annotations

import functools
import json
import logging
import logging.handlers
import os
import re
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..config.paths import check_output_path, shown
from ..errors import ConfigError
from ._params import Count, Finite

__all__ = ["JsonFormatter", "LogSettings", "RedactSecrets", "log_options", "redact",
           "start_logging"]

_META = "exhibit.log"
_STDERR_FORMAT = "%(asctime)s %(name)s: %(message)s"
_REDACTED = "<redacted>"
_SECRETS = (
    # Authorization: Bearer abc / Basic abc / abc (a header, or a header dumped as a dict)
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token)\s+)?"
               r"[^\s,;\"'}]+"),
    re.compile(r"(?i)(\bbearer\s+)[^\s,;\"'}]+"),
    # token=abc, access_token=abc, ?token=abc&...
    re.compile(r"(?i)(\b[a-z_]*token=)[^\s&,;\"'}]+"),
    # "token": "abc" (JSON or a repr of a dict)
    re.compile(r"(?i)([\"'][a-z_]*token[\"']\s*:\s*[\"'])[^\"']+"),
)


def redact(text: str) -> str:
    """``text`` with every token and credential replaced by ``<redacted>``."""
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: m.group(1) + _REDACTED, text)
    return text


class RedactSecrets(logging.Filter):
    """A handler filter that removes credentials from a record before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:       # a bad format string: logging reports it itself
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module's docstring).

    Args:
        role: the process's role (``"controller"``, ``"node"``...).
    """

    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role
        self.host = socket.gethostname()

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created).astimezone()
        line: dict[str, Any] = {
            "ts": ts.isoformat(timespec="milliseconds"), "level": record.levelname.lower(),
            "logger": record.name, "role": self.role, "host": self.host,
            "pid": record.process or os.getpid(), "msg": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            line["exc"] = " ".join(redact(f"{type(exc).__name__}: {exc}").split())[:1000]
        return json.dumps(line, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class LogSettings:
    """What ``--log-file``, ``--log-max-mb`` and ``--log-backups`` asked for.

    Attributes:
        role: the process's role, in every JSON line.
        path: the JSON log file, or ``None`` for stderr only.
        max_mb: the size (MiB) at which the file rotates.
        backups: how many rotated files are kept.
    """

    role: str
    path: Path | None = None
    max_mb: float = 10.0
    backups: int = 5


def log_options(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for a click command: adds ``--log-file``, ``--log-max-mb`` and
    ``--log-backups``, checks the file at once (a bad path is one ``exhibit: error:``
    line before anything starts) and keeps them for :func:`start_logging`."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def command(*args: Any, log_file: Path | None, log_max_mb: float,
                    log_backups: int, **kwargs: Any) -> Any:
            path = check_output_path(log_file, "--log-file") if log_file else None
            click.get_current_context().meta[_META] = LogSettings(role, path, log_max_mb,
                                                                  log_backups)
            return f(*args, **kwargs)

        for option in reversed([
            click.option("--log-file", type=click.Path(path_type=Path),
                         help="Also log JSON lines to this file, rotated (read it with "
                              "`exhibit logs`)."),
            click.option("--log-max-mb", type=Finite(0.001, 1e6), default=10.0,
                         show_default=True, help="Rotate the log file at this size (MiB)."),
            click.option("--log-backups", type=Count(1, 1000), default=5, show_default=True,
                         help="Rotated log files kept (FILE.1 newest)."),
        ]):
            command = option(command)
        return command

    return decorate


def start_logging(settings: LogSettings | None = None) -> list[logging.Handler]:
    """Log INFO and above to stderr, and to the JSON file if one was asked for.

    Args:
        settings: what to log where; ``None`` takes what :func:`log_options` kept for the
            running command (stderr only outside one).

    Returns:
        The handlers added to the root logger (a second call replaces them).

    Raises:
        ConfigError: the log file cannot be opened (one line naming it).
    """
    if settings is None:
        ctx = click.get_current_context(silent=True)
        settings = ctx.meta.get(_META) if ctx is not None else None
        settings = settings or LogSettings("exhibit")
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_exhibit", False)]:
        root.removeHandler(old)
        old.close()
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(_STDERR_FORMAT))
    handlers: list[logging.Handler] = [stderr]
    if settings.path is not None:
        try:
            rotating = logging.handlers.RotatingFileHandler(
                settings.path, maxBytes=max(1, int(settings.max_mb * 1024 * 1024)),
                backupCount=settings.backups, encoding="utf-8")
        except OSError as exc:
            raise ConfigError("--log-file", f"{shown(settings.path)} cannot be opened "
                              f"({exc.strerror or 'error'})") from None
        rotating.setFormatter(JsonFormatter(settings.role))
        handlers.append(rotating)
    for handler in handlers:
        handler.addFilter(RedactSecrets())
        handler._exhibit = True      # type: ignore[attr-defined]
        root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handlers
