"""Every ``exhibit`` subcommand fed bad values: one line, a non-zero exit, nothing written
(issue 12, "One line everywhere").

The table is built by walking the click group, so a new command or option is covered
as soon as it is registered. Each option (and each argument that is a number or an
output path) gets the bad values of its type:

- numbers: NaN, +inf, -inf, 1e308, -1 and a 41-digit integer (those its range refuses;
  every number option must have a bounded type, so NaN and the infinities always are);
- sizes (``WxH``): zero, huge, negative and NaN sides;
- output files: a path under a regular file, a folder, a symbolic link, a FIFO, a
  non-UTF-8 name in a missing folder, a read-only folder and ``/dev/full`` (the last
  two only when not root: root writes anywhere, and a missing check would replace the
  device);
- output folders: a regular file, a path under one, a non-UTF-8 name and (not as
  root) a folder in a read-only one;
- input files: a path under a regular file, a non-UTF-8 name.

Each run asserts exactly one ``exhibit: error:`` line (or click's usage error, exit 2),
a non-zero exit, no traceback and no file written. Commands run in-process with
click's ``CliRunner``; whatever would start a controller, node, demo or benchmark is
replaced by a stub that fails the test, so a bad value that slips through is a failure,
never a hang.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from exhibit_engine.cli import main
from exhibit_engine.cli._params import Count, Finite

from .conftest import writes_anywhere

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "content"
ROOT_USER = os.geteuid() == 0


#: True where read-only folders stop this process (not root, or root without
#: CAP_DAC_OVERRIDE).
READ_ONLY = not writes_anywhere()

#: Options that name a file the command writes.
OUTPUT_FLAGS = {"--output", "--png", "--json", "--status-file"}
#: Number options a plain ``float`` whose range the command checks itself (before any
#: work, in one ``exhibit: error:`` line).
CHECKED_IN_BODY = {"timeout_s"}
#: Options that name a folder the command writes into.
FOLDER_FLAGS = {"--capture-dir", "--out", "--save", "--workdir", "--dir"}
#: String options and arguments that carry a number of seconds.
SECONDS = {"delay", "fade", "rate", "seconds"}
#: String options that carry WIDTHxHEIGHT.
SIZES = {"size", "tile"}
NUMBERS = ["nan", "inf", "-inf", "1e308", "-1", "1" + "0" * 40]
#: Values a size option must refuse.
BAD_SIZES = ["0x0", "99999999x99999999", "-1x-1", "nanxnan", "1e308x10"]


def _leaves(group: click.Group, path: tuple[click.Command, ...] = ()
            ) -> Iterator[tuple[click.Command, ...]]:
    for name in sorted(group.commands):
        cmd = group.commands[name]
        if isinstance(cmd, click.Group):
            yield from _leaves(cmd, (*path, cmd))
        else:
            yield (*path, cmd)


def _base(cmd: click.Command, tmp: Path) -> dict[str, list[str]]:
    """Valid values for what ``cmd`` requires (and fast network settings)."""
    args: dict[str, list[str]] = {}
    for p in cmd.params:
        if isinstance(p, click.Option) and p.name == "timeout_s":
            args[p.name] = [p.opts[0], "0.2"]
        elif isinstance(p, click.Option) and p.name == "state_port" and cmd.name in (
                "ctl", "kiosk", "status"):
            args[p.name] = [p.opts[0], "9"]     # discard: nobody answers
        elif not p.required:
            continue
        else:
            value = {"venue": str(CONTENT / "venue.toml"), "show": str(CONTENT / "show.toml"),
                     "display_id": "left", "scene_id": "castle", "out": str(tmp / "out.png"),
                     "library_dir": str(tmp / "library"), "bundle": str(tmp / "b.exb"),
                     "src_dir": str(CONTENT / "ice-festival"), "name": "k", "tag": "t",
                     "cue": "castle", "seconds": "1", "state": "on", "item": "i",
                     "lang": "en"}.get(p.name or "", "x")
            args[p.name or ""] = ([value] if isinstance(p, click.Argument)
                                  else [p.opts[0], value])
    return args


def _bad_output_paths(tmp: Path) -> list[tuple[str, str]]:
    (tmp / "file").write_bytes(b"")
    (tmp / "folder").mkdir()
    (tmp / "target.png").write_bytes(b"kept")
    os.symlink(tmp / "target.png", tmp / "link.png")
    os.mkfifo(tmp / "fifo.png")
    cases = [("under a file", str(tmp / "file" / "out.png")),
             ("a folder", str(tmp / "folder")),
             ("a symbolic link", str(tmp / "link.png")),
             ("a FIFO", str(tmp / "fifo.png")),
             ("a missing folder, non-UTF-8", os.fsdecode(bytes(tmp / "nope") + b"/\xff.png"))]
    if READ_ONLY:
        ro = tmp / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        cases.append(("a read-only folder", str(ro / "out.png")))
    if not ROOT_USER:       # as root, a missing check would replace the device
        cases.append(("/dev/full", "/dev/full"))
    return cases


def _cases() -> list[Any]:
    """(command path, parameter name, what, value), one per bad value."""
    out = []
    for path in _leaves(main):
        names = " ".join(c.name or "" for c in path)
        for level, cmd in enumerate(path):
            for p in cmd.params:
                if p.name in ("help",) or getattr(p, "is_flag", False):
                    continue
                kind = None
                if isinstance(p.type, (Count, Finite, click.types._NumberParamTypeBase)):
                    kind = "number"
                elif p.name in SECONDS:
                    kind = "seconds"
                elif p.name in SIZES:
                    kind = "size"
                elif isinstance(p, click.Option) and set(p.opts) & OUTPUT_FLAGS:
                    kind = "output"
                elif isinstance(p, click.Option) and set(p.opts) & FOLDER_FLAGS:
                    kind = "folder"
                elif isinstance(p.type, click.Path) and p.name not in ("state_file",):
                    kind = "input"
                if kind is not None:
                    out.append(pytest.param(path, level, p.name, kind,
                                            id=f"{names}:{p.name}:{kind}"))
    return out


class Ran(AssertionError):
    """A stubbed runner was reached."""


@pytest.fixture(autouse=True)
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value that slips through must fail the test, not start a show."""
    import exhibit_engine.bench.bundle
    import exhibit_engine.bench.render
    import exhibit_engine.bench.scan
    import exhibit_engine.bench.sync
    import exhibit_engine.bench.wall
    import exhibit_engine.cli.demo
    import exhibit_engine.runtime.node_app
    import exhibit_engine.sync.controller

    def ran(*_a: Any, **_k: Any) -> Any:
        raise Ran("a bad value was accepted and the command ran")

    for mod, name in ((exhibit_engine.sync.controller, "run_controller"),
                      (exhibit_engine.runtime.node_app, "run_node"),
                      (exhibit_engine.cli.demo, "run_demo"),
                      (exhibit_engine.bench.bundle, "run"),
                      (exhibit_engine.bench.render, "run"),
                      (exhibit_engine.bench.scan, "run"),
                      (exhibit_engine.bench.sync, "run"),
                      (exhibit_engine.bench.wall, "run")):
        monkeypatch.setattr(mod, name, ran)


def _listing(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() and not p.is_symlink()
                                         and p.name != "fifo.png" else None)
            for p in sorted(folder.rglob("*"))}


def _values(p: click.Parameter, kind: str, tmp: Path) -> list[tuple[str, str]]:
    if kind == "number":
        return [(v, v) for v in NUMBERS]
    if kind == "seconds":
        return [(v, v) for v in NUMBERS if not (v == "-1" and p.name == "seconds")]
    if kind == "size":
        return [(v, v) for v in BAD_SIZES]
    if kind == "output":
        return _bad_output_paths(tmp)
    if kind == "folder":
        (tmp / "plain").write_bytes(b"")
        cases = [("a regular file", str(tmp / "plain")),
                 ("under a file", str(tmp / "plain" / "sub")),
                 ("non-UTF-8", os.fsdecode(bytes(tmp) + b"/\xff\xfe"))]
        if READ_ONLY:
            ro = tmp / "ro"
            ro.mkdir()
            ro.chmod(0o555)
            cases.append(("in a read-only folder", str(ro / "sub")))
        return cases
    (tmp / "plain").write_bytes(b"")
    return [("under a file", str(tmp / "plain" / "x.toml")),
            ("non-UTF-8", os.fsdecode(bytes(tmp) + b"/\xff\xfe.toml"))]


def _refuses(p: click.Parameter, value: str) -> bool:
    """Whether ``p``'s type refuses ``value`` (a number inside its range is not bad)."""
    try:
        p.type.convert(value, p, None)
    except click.BadParameter:
        return True
    return False


@pytest.mark.parametrize(("path", "level", "param", "kind"), _cases())
def test_a_bad_value_is_one_line_and_writes_nothing(path: tuple[click.Command, ...],
                                                    level: int, param: str, kind: str,
                                                    tmp_path: Path) -> None:
    cmd = path[level]
    p = next(x for x in cmd.params if x.name == param)
    if kind == "number" and param not in CHECKED_IN_BODY:
        assert isinstance(p.type, (Count, Finite, click.IntRange, click.FloatRange)), \
            f"{p.opts}: a number option needs a bounded type (cli._params)"
    work = tmp_path / "work"
    work.mkdir()
    values = _values(p, kind, work)
    before = _listing(work)
    runner = CliRunner()
    checked = 0
    for what, value in values:
        if kind == "number" and param not in CHECKED_IN_BODY and not _refuses(p, value):
            assert value in ("-1", "1" + "0" * 40), f"{p.opts} accepts {value}"
            continue
        argv: list[str] = []   # each level: its name, its options, its arguments
        for i, c in enumerate(path):
            base = _base(c, work)
            if i == level:
                base[param] = [value] if isinstance(p, click.Argument) else [p.opts[0], value]
            argv.append(c.name or "")
            for k, v in base.items():
                if not isinstance(next(q for q in c.params if q.name == k), click.Argument):
                    argv += v
            for k, v in base.items():
                if isinstance(next(q for q in c.params if q.name == k), click.Argument):
                    argv += v
        result = runner.invoke(main, argv, catch_exceptions=True)
        if kind == "input" and isinstance(result.exception, Ran):
            continue        # an input the runner itself opens (a benchmark's --bundle)
        shown = f"exhibit {' '.join(argv)} ({what}):\n{result.output}"
        assert result.exit_code != 0, shown
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            f"{shown}\n{result.exception!r}"
        assert "Traceback" not in result.output, shown
        err = [line for line in result.stderr.splitlines() if line.strip()]
        usage = result.exit_code == 2 and err and err[-1].startswith("Error: ")
        assert usage or (len(err) == 1 and err[0].startswith("exhibit: error: ")), shown
        assert _listing(work) == before, f"{shown}\nsomething was written"
        checked += 1
    if not checked and kind == "input":
        pytest.skip("the runner opens this input itself")
    assert checked, f"no bad value of {p.opts or p.name} to check"


def test_every_subcommand_is_covered() -> None:
    covered = {" ".join(c.name or "" for c in p.values[0]) for p in _cases()}
    every = {" ".join(c.name or "" for c in path) for path in _leaves(main)}
    # commands without a number, size, seconds or path parameter: `keys pin` has only
    # --pin-stdin (its bad PINs: tests/unit/test_config_kiosk.py)
    assert every - covered <= {"keys new", "keys pin"}, every - covered
