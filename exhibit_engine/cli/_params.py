"""Option types shared by every ``exhibit`` command: ports, finite numbers, output paths.

A value out of range is click's usage error (one line, exit 2) before any work starts:

- :data:`PORT`: a TCP port, 1 to 65535 (``--state-port 70000`` would bind 4464);
- :class:`Finite`: a float from ``lo`` to ``hi`` that is never NaN or infinite
  (click's own ``FloatRange`` lets NaN through);
- :class:`Count`: an int from ``lo`` to ``hi``;
- :func:`parse_size`: ``WIDTHxHEIGHT``, each side bounded;
- :func:`output_folder`: a folder files are written into, existing or made in one;
- :func:`output_path`: an option's output file checked with
  :func:`~exhibit_engine.config.paths.check_output_path` (parent an existing writable
  folder, destination a regular file or absent).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import click

from ..config.paths import check_output_dir, check_output_path, shown
from ..errors import ConfigError

__all__ = ["PORT", "Count", "Finite", "output_folder", "output_path", "parse_size"]


class Finite(click.ParamType):
    """A finite float from ``lo`` to ``hi`` (NaN, infinities and 1e308 refused)."""

    name = "number"

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            x = float(value)
        except (TypeError, ValueError):
            x = math.nan
        if not (math.isfinite(x) and self.lo <= x <= self.hi):
            self.fail(f"{shown(str(value))} is not a number from {self.lo:g} to "
                      f"{self.hi:g}", param, ctx)
        return x


class Count(click.ParamType):
    """An int from ``lo`` to ``hi``."""

    name = "integer"

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        try:
            n = int(value)
        except (TypeError, ValueError, OverflowError):
            n = None
        if n is None or not self.lo <= n <= self.hi:
            self.fail(f"{shown(str(value))} is not a whole number from {self.lo} to "
                      f"{self.hi}", param, ctx)
        return n


#: A TCP port flag.
PORT = Count(1, 65535)


def parse_size(value: str, lo: int = 16, hi: int = 8192, flag: str | None = None
               ) -> tuple[int, int]:
    """A WIDTHxHEIGHT option, ``lo``-``hi`` pixels each; anything else is a usage error."""
    try:
        w, h = (int(x) for x in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{shown(repr(value))} is not WxH (WIDTHxHEIGHT), e.g. 1280x720",
                                 param_hint=flag) from None
    if not (lo <= w <= hi and lo <= h <= hi):
        raise click.BadParameter(f"width and height must be {lo}-{hi} pixels",
                                 param_hint=flag)
    return w, h


def output_folder(path: str | os.PathLike[str] | None, flag: str) -> Path | None:
    """``path`` checked as a folder to write into: an existing writable folder, or
    printable UTF-8 names under one (the command makes them); ``None`` passes through."""
    if path is None:
        return None
    p = Path(path)
    probe = p
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    check_output_dir(probe, flag)
    for part in p.relative_to(probe).parts:
        try:
            part.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(flag, f"{shown(p)} is not a UTF-8 name") from None
        if not part.isprintable():
            raise ConfigError(flag, f"{shown(p)} has control characters in its name")
    return p


def output_path(path: str | os.PathLike[str] | None, flag: str) -> Path | None:
    """``path`` checked as an output file (``None`` passes through); a broken rule is
    one ``exhibit: error:`` line naming ``flag``.

    Missing parent folders are allowed when :func:`output_folder` accepts them (the
    writers make them, as they always have); the file name itself must be UTF-8."""
    if path is None:
        return None
    p = Path(path)
    if not p.parent.exists():
        output_folder(p.parent, flag)
        try:
            p.name.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(flag, f"{shown(p)} is not a UTF-8 name") from None
        return p
    return check_output_path(p, flag)
