"""Output paths and file names given by an operator: checked before any work is done,
written atomically under the umask.

Every file Exhibit Engine writes on request (``render -o``, ``pack -o``, ``preview -o``,
``wall check --png``, a node's ``--status-file`` and its captures) goes through here:

- :func:`check_output_path`: a UTF-8 name; the parent is an existing, writable folder and the
  destination is a regular file or absent (never a device such as ``/dev/full``, a
  symbolic link or a folder). A broken rule is one :class:`~exhibit_engine.errors.ConfigError`
  line naming the path.
- :func:`check_output_dir`: a folder that files are written into (``--capture-dir``).
- :func:`check_file_name`: a name from the network or a flag (a capture's tag) that
  becomes part of a file name: no separator, no ``..``, no control character, bounded.
- :func:`write_atomic`: a temporary file in the same folder, fsync, ``os.replace``; the
  file's mode is ``0o666`` less the umask (or a stricter mode asked for), so a failed
  write leaves nothing and a written one is never ``0600`` by accident.
- :func:`shown`: a path as one printable line (undecodable bytes and control characters
  escaped), for error messages.

Standard library only; nothing above :mod:`exhibit_engine.errors` is imported.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import ConfigError, ExhibitError

__all__ = ["MAX_NAME", "check_file_name", "check_output_dir", "check_output_path", "shown",
           "write_atomic"]

#: The longest file name part (a capture tag) accepted, in characters.
MAX_NAME = 128


def shown(path: str | os.PathLike[str]) -> str:
    """``path`` as one printable line: undecodable bytes and control characters escaped."""
    text = os.fsdecode(os.fspath(path))
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def check_file_name(name: object, max_len: int = MAX_NAME) -> str | None:
    """Why ``name`` cannot be (part of) a file name, or ``None`` when it can.

    A safe name is a string of 1 to ``max_len`` printable characters, with no ``/`` or
    ``\\``, not ``.`` or ``..`` and not starting with a dot (no hidden files).
    """
    if not isinstance(name, str) or not name:
        return "must be a non-empty string"
    if len(name) > max_len:
        return f"must be at most {max_len} characters"
    if "/" in name or "\\" in name:
        return "must not contain '/' or '\\' (it becomes a file name)"
    if name.startswith("."):
        return "must not start with '.' (it becomes a file name)"
    if not name.isprintable():
        return "must not contain control characters (it becomes a file name)"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid UTF-8 text"
    return None


def _utf8(path: Path, where: str) -> None:
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(where, f"{shown(path)} is not a UTF-8 name (venue and show "
                                 "files could never name it)") from None


def _writable_dir(folder: Path, flag: str | None, what: str) -> None:
    where = flag or shown(folder)
    _utf8(folder, where)
    try:
        st = folder.stat()
    except FileNotFoundError:
        raise ConfigError(where, f"{what} {shown(folder)} does not exist") from None
    except NotADirectoryError:
        raise ConfigError(where, f"{shown(folder)} is under a file, not a folder") from None
    except OSError as exc:
        raise ConfigError(where, f"{what} {shown(folder)} cannot be read "
                                 f"({exc.strerror or 'error'})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(where, f"{shown(folder)} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(where, f"{what} {shown(folder)} is not writable")


def check_output_dir(path: str | os.PathLike[str], flag: str | None = None) -> Path:
    """Check that files can be written into the folder ``path``; return it as a Path.

    Args:
        path: the folder.
        flag: the option that named it (``"--capture-dir"``), for the error.

    Raises:
        ConfigError: it is absent, not a folder, or not writable.
    """
    folder = Path(path)
    _writable_dir(folder, flag, "folder")
    return folder


def check_output_path(path: str | os.PathLike[str], flag: str | None = None) -> Path:
    """Check that ``path`` may be written (and replaced); return it as a Path.

    The parent must be an existing, writable folder; the destination a regular file or
    absent: a device, a symbolic link (even to a regular file), a folder or a socket is
    refused, so ``-o /dev/full`` never replaces the device, even as root.

    Args:
        path: the file to write.
        flag: the option that named it (``"-o"``), for the error.

    Raises:
        ConfigError: a rule is broken (one line naming the path and the rule).
    """
    out = Path(path)
    where = flag or shown(out)
    if not out.name or out.name in (".", ".."):
        raise ConfigError(where, f"{shown(out)} is not a file name")
    _utf8(out, where)
    _writable_dir(out.parent, flag, "folder")
    try:
        st = out.lstat()
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise ConfigError(where, f"{shown(out)} cannot be checked "
                                 f"({exc.strerror or 'error'})") from None
    if stat.S_ISLNK(st.st_mode):
        raise ConfigError(where, f"{shown(out)} is a symbolic link; it is never replaced")
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(where, f"{shown(out)} is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(where, f"{shown(out)} is not a regular file (a device?); "
                                 "it is never replaced")
    return out


def write_atomic(path: str | os.PathLike[str], data: bytes | Callable[[BinaryIO], None], *,
                 mode: int = 0o666, min_free: int = 0, flag: str | None = None,
                 parents: bool = False) -> Path:
    """Write ``path`` atomically: a temporary file beside it, fsync, then ``os.replace``.

    Args:
        path: the file (checked with :func:`check_output_path` first).
        data: the bytes, or a function that writes them to the open file.
        mode: the file's mode before the umask (``0o666``: the umask decides; ``0o600``
            for a secret).
        min_free: refuse before writing unless the folder's file system has this many
            bytes free.
        flag: the option that named the path, for the error.
        parents: make missing parent folders first (a library caller's convenience; the
            CLI checks its paths before any work instead).

    Returns:
        The path written.

    Raises:
        ConfigError: the path breaks a rule of :func:`check_output_path`.
        ExhibitError: the write failed (a full disk, say); nothing is left behind.
    """
    if parents:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass                        # the check below says why, in one line
    out = check_output_path(path, flag)
    if min_free:
        try:
            free = shutil.disk_usage(out.parent).free
        except OSError:
            free = min_free
        if free < min_free:
            raise ExhibitError(f"{shown(out)}: cannot write: only {free:,} bytes free "
                               f"in its folder")
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(6)}.tmp")
    try:
        # os.open's mode is masked by the umask (mkstemp would always give 0600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                data(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        raise ExhibitError(f"{shown(out)}: cannot write ({exc.strerror or 'error'})") \
            from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
    return out
