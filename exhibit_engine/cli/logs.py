"""``exhibit logs``: read the JSON log files of ``--log-file`` back, one readable line each.

``exhibit logs PATH`` prints the rotated set oldest first (``PATH.5`` ... ``PATH.1``, then
``PATH``); ``--follow`` then waits for more, as ``tail -F`` does: when the file is rotated
(replaced by a new one) it finishes the old one and reads the new one from its start, and
when it is truncated it starts again from the top. A line still being written is printed
once it is whole. ``--level`` keeps records at that level and above, ``--grep`` those
holding a text (in any case), and ``--json`` prints the JSON lines as they are instead of
readable ones. A line that is not one of our JSON objects is printed as it is (without
``--level`` or ``--json``), never an error.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from ..config.paths import shown
from ..errors import ConfigError

__all__ = ["logs"]

_LEVELS = ("debug", "info", "warning", "error", "critical")
_RANK = {name: i for i, name in enumerate(_LEVELS)}
_STYLE = {"debug": "dim", "info": "", "warning": "yellow", "error": "red",
          "critical": "bold red"}
_POLL_S = 0.2
_MAX_BACKUPS = 1000


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--follow", "-f", is_flag=True,
              help="Keep printing lines as they are written, across rotations.")
@click.option("--level", type=click.Choice(_LEVELS, case_sensitive=False),
              help="Only records at this level and above.")
@click.option("--grep", "grep", metavar="TEXT", help="Only lines holding TEXT (any case).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON lines as they are.")
def logs(path: Path, follow: bool, level: str | None, grep: str | None,
         as_json: bool) -> None:
    """Print a controller's or node's JSON log (--log-file), one readable line each.

    Reads the rotated files too (PATH.5 ... PATH.1, then PATH). With --follow it waits for
    more lines, across rotations, until Ctrl-C.
    """
    _check(path)
    from rich.console import Console

    console = Console(soft_wrap=True, highlight=False, markup=False, emoji=False)
    show = _printer(console, level.lower() if level else None,
                    grep.casefold() if grep else None, as_json)
    try:
        for backup in reversed(_backups(path)):
            with open(backup, "rb") as f:
                for line in _lines(f, final=True):
                    show(line)
        if follow:
            _follow(path, show)
        else:
            with open(path, "rb") as f:
                for line in _lines(f, final=True):
                    show(line)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:         # `exhibit logs x | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:
        raise ConfigError(shown(path), f"cannot be read ({exc.strerror or 'error'})") \
            from None


def _check(path: Path) -> None:
    """The log file exists and is a regular file (one line naming it if not)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(shown(path), "no such log file") from None
    except OSError as exc:
        raise ConfigError(shown(path), f"cannot be read ({exc.strerror or 'error'})") \
            from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(shown(path), "is not a regular file (a log file is)")
    if not os.access(path, os.R_OK):
        raise ConfigError(shown(path), "cannot be read (permission denied)")


def _backups(path: Path) -> list[Path]:
    """``PATH.1``, ``PATH.2``... while they exist (newest first)."""
    out = []
    for k in range(1, _MAX_BACKUPS + 1):
        backup = path.with_name(f"{path.name}.{k}")
        if not backup.is_file():
            break
        out.append(backup)
    return out


def _lines(f: IO[bytes], *, final: bool, carry: bytearray | None = None) -> Iterator[str]:
    """The whole lines readable from ``f`` now; a partial last one waits in ``carry``
    unless ``final`` (the file will not grow)."""
    buf = carry if carry is not None else bytearray()
    while True:
        chunk = f.read(65536)
        if not chunk:
            break
        buf += chunk
        *whole, rest = bytes(buf).split(b"\n")
        buf[:] = rest
        for raw in whole:
            yield raw.decode("utf-8", "replace").rstrip("\r")
    if final and buf:
        yield bytes(buf).decode("utf-8", "replace")
        buf.clear()


def _follow(path: Path, show: Callable[[str], None]) -> None:
    """Print ``path`` and then what is appended to it, across rotation and truncation."""
    f = open(path, "rb")
    carry = bytearray()
    try:
        while True:
            for line in _lines(f, final=False, carry=carry):
                show(line)
            try:
                st = os.stat(path)
            except FileNotFoundError:       # between the rename and the new file
                st = None
            mine = os.fstat(f.fileno())
            if st is not None and (st.st_ino, st.st_dev) != (mine.st_ino, mine.st_dev):
                for line in _lines(f, final=True, carry=carry):    # the old file's rest
                    show(line)
                f.close()
                f = open(path, "rb")
                continue
            if st is not None and st.st_size < f.tell():           # truncated
                carry.clear()
                f.seek(0)
                continue
            time.sleep(_POLL_S)
    finally:
        f.close()


def _printer(console: Any, level: str | None, grep: str | None,
             as_json: bool) -> Callable[[str], None]:
    """A function that prints one log line as asked (or skips it)."""
    from rich.text import Text

    least = _RANK[level] if level else None

    def show(line: str) -> None:
        if not line.strip():
            return
        if grep is not None and grep not in line.casefold():
            return
        record = _record(line)
        if record is None:
            if least is None and not as_json:
                console.print(Text(line, style="dim"))
                console.file.flush()
            return
        name = str(record.get("level", "")).lower()
        if least is not None and _RANK.get(name, len(_LEVELS)) < least:
            return
        if as_json:
            console.print(Text(line))
        else:
            text = Text()
            text.append(str(record.get("ts", "")), style="dim")
            text.append(" ")
            text.append(f"{name.upper():<8}", style=_STYLE.get(name, "bold"))
            text.append(" ")
            who = "@".join(str(record[k]) for k in ("role", "host") if record.get(k))
            if who:
                text.append(f"{who} ", style="cyan")
            text.append(f"{record.get('logger', '')}: ", style="dim")
            text.append(" ".join(str(record.get("msg", "")).splitlines()))
            if record.get("exc"):
                text.append(f" | {record['exc']}", style="red")
            console.print(text)
        console.file.flush()

    return show


def _record(line: str) -> dict[str, Any] | None:
    """The JSON object a log line holds, or ``None`` if it holds none of ours."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "msg" in value else None
