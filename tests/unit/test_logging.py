"""Structured logs: JSON lines that rotate at their size without losing one, never carry a
secret, follow the umask; ``exhibit logs`` reads a rotated set back (and follows it, in
tests/test_cli_logs.py); bad paths are one ``exhibit: error:`` line."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.cli import main
from exhibit_engine.cli._logging import LogSettings, redact, start_logging

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


@pytest.fixture
def root_logging() -> Iterator[list[logging.Handler]]:
    """The root logger as it was, after the test (its handlers closed)."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    added: list[logging.Handler] = []
    yield added
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def read_set(path: Path) -> list[str]:
    """Every line of PATH.K ... PATH.1, PATH, oldest first."""
    files = sorted(path.parent.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]))
    return [line for f in [*files, path] for line in f.read_text("utf-8").splitlines()]


def test_a_log_file_rotates_at_its_size_without_losing_a_line(
        tmp_path: Path, root_logging: list[logging.Handler]) -> None:
    path = tmp_path / "controller.log"
    max_mb = 4096 / (1024 * 1024)                   # 4 KiB files
    start_logging(LogSettings("controller", path, max_mb, backups=100))
    log = logging.getLogger("exhibit_engine.sync.controller")
    for i in range(1000):
        log.info("line %05d of the test", i)
    for handler in logging.getLogger().handlers:
        handler.flush()
    backups = sorted(tmp_path.glob("controller.log.*"))
    assert len(backups) >= 20                       # it did rotate, many times
    for f in [*backups, path]:
        assert f.stat().st_size <= 4096
    records = [json.loads(line) for line in read_set(path)]
    numbers = [int(re.search(r"line (\d+)", r["msg"]).group(1)) for r in records]
    assert numbers == list(range(1000))             # each exactly once, in order
    first = records[0]
    assert set(first) == {"ts", "level", "logger", "role", "host", "pid", "msg"}
    assert TS.match(first["ts"]), first["ts"]
    assert first["level"] == "info" and first["role"] == "controller"
    assert first["logger"] == "exhibit_engine.sync.controller"
    assert first["pid"] == os.getpid() and first["host"]


def test_json_lines_carry_an_exception_on_one_line_and_never_a_secret(
        tmp_path: Path, root_logging: list[logging.Handler],
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "node.log"
    start_logging(LogSettings("node", path))
    log = logging.getLogger("exhibit_engine.console.api")
    log.warning("GET /events?token=s3cr3t-abc&last=4 from %s", "10.0.0.5")
    log.info("headers %s", {"Authorization": "Bearer eyJhbGciOi.secret.part"})
    log.info("a token in JSON: %s", json.dumps({"token": "tok-value-1"}))
    try:
        raise ValueError("bad token=zz-hidden-zz\nsecond line")
    except ValueError:
        log.exception("request failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text("utf-8")
    err = capsys.readouterr().err
    for secret in ("s3cr3t-abc", "eyJhbGciOi", "secret.part", "tok-value-1", "zz-hidden-zz"):
        assert secret not in text and secret not in err, secret
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 4                          # one line each, the exception too
    assert lines[0]["level"] == "warning" and "token=<redacted>&last=4" in lines[0]["msg"]
    assert lines[3]["exc"] == "ValueError: bad token=<redacted> second line"
    assert "exc" not in lines[0]
    assert "Traceback" in err                       # stderr keeps the traceback


def test_redact_keeps_what_is_not_a_secret() -> None:
    assert redact("node 'left' joined, offset 12 us") == "node 'left' joined, offset 12 us"
    assert redact("Authorization: Basic dXNlcjpw") == "Authorization: <redacted>"
    assert redact("access_token=abc def") == "access_token=<redacted> def"


def test_the_log_file_follows_the_umask(tmp_path: Path,
                                        root_logging: list[logging.Handler]) -> None:
    old = os.umask(0o027)
    try:
        start_logging(LogSettings("controller", tmp_path / "c.log"))
    finally:
        os.umask(old)
    assert (tmp_path / "c.log").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("where", ["missing/dir/c.log", "folder", "link.log", "/dev/null"])
def test_a_bad_log_file_is_one_error_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "real.log").write_text("")
    (tmp_path / "link.log").symlink_to(tmp_path / "real.log")
    target = where if where.startswith("/") else str(tmp_path / where)
    result = CliRunner().invoke(main, ["controller", "--venue", "v.toml", "--show", "s.toml",
                                       "--log-file", target])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("exhibit: error: --log-file"), lines
    assert "Traceback" not in result.output


def write_set(path: Path) -> None:
    """A rotated set by hand: two backups and the live file, with a stranger line and a
    partial last line."""
    def rec(i: int, level: str = "info", msg: str | None = None) -> str:
        return json.dumps({"ts": f"2026-12-02T03:00:{i:02d}.000+00:00", "level": level,
                           "logger": "exhibit_engine.sync.controller", "role": "controller",
                           "host": "wall-1", "pid": 7, "msg": msg or f"record {i}"})

    path.with_name(path.name + ".2").write_text(rec(0) + "\n" + rec(1, "warning") + "\n")
    path.with_name(path.name + ".1").write_text(
        rec(2) + "\nnot json at all\n" + rec(3, "error", "node 'left' lost") + "\n")
    path.write_text(rec(4) + "\n" + rec(5, "warning", "dropped 3 frames") + "\n"
                    + rec(6)[:40])


def test_exhibit_logs_reads_a_rotated_set_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    write_set(path)
    runner = CliRunner()
    out = runner.invoke(main, ["logs", str(path)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert len(lines) == 8          # 7 records and the stranger; the partial one as it is
    assert re.search(r"record 0.*\n.*record 1.*\n.*record 2.*\nnot json at all\n.*node "
                     r"'left' lost.*\n.*record 4.*\n.*dropped 3 frames.*\n\{\"ts", out.output)
    assert "WARNING  controller@wall-1 exhibit_engine.sync.controller: record 1" in lines[1]
    warn = runner.invoke(main, ["logs", str(path), "--level", "warning"])
    assert [ln.split(": ", 1)[1] for ln in warn.output.splitlines()] == [
        "record 1", "node 'left' lost", "dropped 3 frames"]
    grep = runner.invoke(main, ["logs", str(path), "--grep", "LOST", "--json"])
    (line,) = grep.output.splitlines()
    assert json.loads(line)["msg"] == "node 'left' lost"


@pytest.mark.parametrize("where", ["missing.log", "folder"])
def test_exhibit_logs_on_a_bad_path_is_one_error_line(tmp_path: Path, where: str) -> None:
    (tmp_path / "folder").mkdir()
    result = CliRunner().invoke(main, ["logs", str(tmp_path / where)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("exhibit: error: ") and where in line
