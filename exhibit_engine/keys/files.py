"""Key files of every kind: names, bounded reading, atomic pair writing, key ids.

One rule for each, shared by Ed25519 signing keys (:mod:`exhibit_engine.assets.signing`)
and CURVE keys (:mod:`.curve`):

- a key's NAME is 1-64 letters, digits, '.', '_' or '-', starting with a letter or
  digit, so ``NAME.<kind>.key`` is always a plain file name in the key folder;
- a key file is read whole but never beyond 64 KiB, and a missing file, a folder or an
  unreadable file is one :class:`~exhibit_engine.errors.ConfigError` naming it;
- a pair is written atomically (a temporary file, then a hard link, so an existing
  file is never replaced unless asked), the secret half mode 0600, and never left
  half-written;
- a key's id is the first 16 hex digits of the SHA-256 of its raw 32 bytes.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from ..errors import ConfigError

__all__ = [
    "check_key_name",
    "key_id_of",
    "key_pair_paths",
    "read_key_file",
    "write_pair_files",
    "write_secret_file",
]

_MAX_KEY_FILE_BYTES = 64 * 1024
_KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def key_id_of(raw: bytes) -> str:
    """The key id of a raw 32-byte public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(raw).hexdigest()[:16]


def check_key_name(name: str) -> str:
    """Check a key name (letters, digits, '.', '_', '-'; at most 64) and return it.

    Raises:
        ConfigError: the name could not be used safely as a file name.
    """
    if not _KEY_NAME.fullmatch(name):
        raise ConfigError("<flags>", "must be 1-64 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit", key="NAME")
    return name


def read_key_file(path: Path) -> bytes:
    """The bytes of a key file of any kind, at most 64 KiB.

    Raises:
        ConfigError: missing, a folder, unreadable or too large (naming the file).
    """
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(str(path), "key file not found") from None
    except IsADirectoryError:
        raise ConfigError(str(path), "is a folder, not a key file") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the key file ({exc.strerror})") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigError(str(path), f"larger than {_MAX_KEY_FILE_BYTES} bytes; not a key file")
    return data


def key_pair_paths(directory: str | os.PathLike[str], name: str, secret_suffix: str,
                   public_suffix: str, *, force: bool) -> tuple[Path, Path]:
    """Make the key folder and return the (secret, public) file paths of key ``name``.

    Raises:
        ConfigError: the folder cannot be made, or a file exists and ``force`` is false.
    """
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(str(folder), f"cannot make the key folder ({exc.strerror})") from None
    paths = (folder / f"{name}{secret_suffix}", folder / f"{name}{public_suffix}")
    if not force:
        for p in paths:
            if p.exists() or p.is_symlink():
                raise ConfigError(str(p), "already exists; use --force to replace it")
    return paths


def write_pair_files(secret_path: Path, secret: bytes, public_path: Path, public: bytes, *,
                     force: bool) -> None:
    """Write a key pair's two files atomically (the secret one mode 0600); a pair is never
    left half-written: when the public file fails, the secret one is removed again.

    Raises:
        ConfigError: a write failed (naming the folder).
    """
    try:
        _write_new(secret_path, secret, 0o600, replace=force)
        try:
            _write_new(public_path, public, 0o644, replace=force)
        except (ConfigError, OSError):
            secret_path.unlink(missing_ok=True)  # never leave half a pair
            raise
    except OSError as exc:
        raise ConfigError(str(secret_path.parent),
                          f"cannot write the key files ({exc.strerror})") from None


def write_secret_file(path: Path, data: bytes, *, force: bool) -> None:
    """Write one secret file (a console token) atomically, mode 0600; never replace an
    existing file unless ``force``.

    Raises:
        ConfigError: the file exists (without ``force``) or the write failed.
    """
    if not force and (path.exists() or path.is_symlink()):
        raise ConfigError(str(path), "already exists; use --force to replace it")
    try:
        _write_new(path, data, 0o600, replace=force)
    except OSError as exc:
        raise ConfigError(str(path.parent), f"cannot write the token file ({exc.strerror})"
                          ) from None


def _write_new(path: Path, data: bytes, mode: int, *, replace: bool) -> None:
    """Write ``path`` atomically with ``mode``; never replace it unless ``replace``."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)  # atomic "create only if absent"
        except FileExistsError:
            raise ConfigError(str(path), "already exists; use --force to replace it") from None
        except OSError:
            # The file system has no hard links: a small race, but still no overwrite
            # of a file that was there before we started.
            if path.exists():
                raise ConfigError(str(path), "already exists; use --force to replace "
                                  "it") from None
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
