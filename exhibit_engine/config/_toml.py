"""The TOML side of the config files: read a file, then read its tables field by field.

Every mistake is a :class:`~exhibit_engine.errors.ConfigError` that names the file and
the dotted key (``venue.toml: displays[1].rect: must be a list of 4 numbers``), so the
parsers of :mod:`.venue`, :mod:`.security` and :mod:`.show` only state their rules.

Config files are strict: :meth:`Fields.only` refuses any key a table does not know, with
the nearest known name (``displays[1].gama: unknown key, did you mean `gamma`?``), so a
typo never falls back silently to a default.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["Fields", "REQUIRED", "nearest", "read_toml", "unknown_key"]

#: The default of a field that must be given.
REQUIRED: Any = object()
_MAX_FILE_BYTES = 1_000_000   # a config file larger than this is refused unread


def read_toml(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    """Read a TOML file.

    Returns:
        ``(name, data)``: the file's name as messages show it, and its tables.

    Raises:
        ConfigError: the file is missing, unreadable, over 1 MB, not UTF-8 or not TOML.
    """
    p = Path(path)
    name = str(p)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(name, "file not found") from None
    except OSError as exc:
        raise ConfigError(name, f"cannot read file ({exc.strerror})") from None
    if len(raw) > _MAX_FILE_BYTES:
        raise ConfigError(name, "file is larger than 1 MB")
    try:
        return name, tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(name, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, f"not valid TOML ({exc})") from None


def nearest(name: str, known: Iterable[str]) -> str | None:
    """The known name nearest to ``name`` (a typo of it), or ``None`` when none is near.

    Close spellings come from :func:`difflib.get_close_matches`; a dash for an underscore
    or another case (``state-port``, ``Gamma``) also counts as near.
    """
    names = sorted(set(known))
    near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if near:
        return near[0]
    folded = {n.replace("-", "_").lower(): n for n in names}
    return folded.get(name.replace("-", "_").lower())


def unknown_key(path: str, key: str, value: Any, known: Iterable[str]) -> ConfigError:
    """The error for an unknown key ``key`` (dotted) holding ``value``.

    The message names the nearest known name (:func:`difflib.get_close_matches`), or
    lists them all when none is near; a table (or an array of tables) is called a table.
    """
    names = sorted(set(known))
    leaf = key.rsplit(".", 1)[-1]
    is_table = isinstance(value, dict) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value))
    what = "unknown table" if is_table else "unknown key"
    near = nearest(leaf, names)
    if near:
        return ConfigError(path, f"{what}, did you mean `{near}`?", key=key)
    listing = ", ".join(names) if names else "none"
    return ConfigError(path, f"{what} (known here: {listing})", key=key)


class Fields:
    """Typed access to one TOML table, with errors that name file and dotted key.

    Args:
        path: the file, as messages name it.
        table: the table's value (anything else than a table is an error).
        prefix: the table's dotted key (``""`` for the top level).

    Raises:
        ConfigError: ``table`` is not a table.
    """

    def __init__(self, path: str, table: Any, prefix: str) -> None:
        if not isinstance(table, dict):
            raise ConfigError(path, "must be a table", key=prefix or None)
        self.path, self.table, self.prefix = path, table, prefix

    def key(self, name: str) -> str:
        """The dotted key of field ``name`` of this table."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def only(self, *known: str) -> Fields:
        """Refuse every key of this table that is not in ``known``; returns ``self``.

        Raises:
            ConfigError: the first unknown key, in file order, with the nearest known name.
        """
        for k, v in self.table.items():
            if k not in known:
                raise unknown_key(self.path, self.key(k), v, known)
        return self

    def get(self, name: str, default: Any) -> Any:
        """The raw value of ``name``, or ``default`` (:data:`REQUIRED`: an error)."""
        if name in self.table:
            return self.table[name]
        if default is REQUIRED:
            raise ConfigError(self.path, "is required", key=self.key(name))
        return default

    def str(self, name: str, default: Any = None) -> str:
        """A non-empty string (required unless ``default`` is given)."""
        v = self.get(name, REQUIRED if default is None else default)
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(self.path, "must be a non-empty string", key=self.key(name))
        return v

    def num(self, name: str, default: Any = None, *, positive: bool = False,
            minimum: float | None = None, maximum: float | None = None,
            unit: str = "") -> float:
        """A finite number, optionally above 0, at least ``minimum``, at most ``maximum``
        (``unit``, such as ``" s"``, follows the bounds in messages)."""
        v = self.get(name, REQUIRED if default is None else default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(self.path, "must be a finite number", key=self.key(name))
        if positive and v <= 0:
            raise ConfigError(self.path, "must be greater than 0", key=self.key(name))
        if minimum is not None and v < minimum:
            raise ConfigError(self.path, f"must be at least {minimum:g}{unit}",
                              key=self.key(name))
        if maximum is not None and v > maximum:
            raise ConfigError(self.path, f"must be at most {maximum:g}{unit}",
                              key=self.key(name))
        return float(v)

    def port(self, name: str, default: int) -> int:
        """A TCP port number, 1-65535."""
        v = self.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
            raise ConfigError(self.path, "must be a port number 1-65535", key=self.key(name))
        return v

    def bool(self, name: str, default: bool) -> bool:
        """``true`` or ``false``."""
        v = self.get(name, default)
        if not isinstance(v, bool):
            raise ConfigError(self.path, "must be true or false", key=self.key(name))
        return v

    def vec(self, name: str, n: int, *, integer: bool = False) -> tuple[Any, ...]:
        """A required list of ``n`` finite numbers (whole numbers with ``integer``)."""
        v = self.get(name, REQUIRED)
        kind = "whole numbers" if integer else "numbers"
        if (not isinstance(v, list) or len(v) != n
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v)
                or any(not math.isfinite(x) for x in v)
                or (integer and any(not isinstance(x, int) for x in v))):
            raise ConfigError(self.path, f"must be a list of {n} {kind}", key=self.key(name))
        return tuple(int(x) for x in v) if integer else tuple(float(x) for x in v)

    def tables(self, name: str) -> list[Any]:
        """A non-empty array of tables (``[[name]]``); the items are not checked yet."""
        v = self.get(name, [])
        if not isinstance(v, list) or not v:
            raise ConfigError(self.path, "must be a non-empty array of tables",
                              key=self.key(name))
        return v
