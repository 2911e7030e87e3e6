"""State that is never lost: one controller per state file, an unreadable file is never
overwritten, save failures show in ``status``, crashed saves' temp files go, and the
resume log tells the truth."""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from exhibit_engine.cli import main
from exhibit_engine.config import CueConfig, ShowConfig
from exhibit_engine.errors import SyncError
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.controller import ControllerServer

from .conftest import free_ports
from exhibit_engine.sync.operator import OperatorClient
from exhibit_engine.sync.persist import (
    SavedSession,
    StateLock,
    load_session,
    remove_stale_temps,
    save_session,
)

from .conftest import desk_command

pytestmark = pytest.mark.sync

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"
SHOW = "test"
CUES = ShowConfig("cued", {"en": "Cued"}, (),
                  (CueConfig("intro", "b", "s1", 10.0), CueConfig("hall", "b", "s2", 20.0),
                   CueConfig("end", "b", "s3", 30.0)))
BAD_FILES = {
    "not json": b"{not json",
    "unknown version": json.dumps({"format": "exhibit-controller-state",
                                   "version": 99}).encode(),
    "not utf-8": b"\xff\xfe\x00garbage",
}


# --------------------------------------------------------------------------- helpers


def _free_port_flags() -> list[str]:
    """--state-port and --publish-port on ports free a moment ago (the CLI takes 1-65535)."""
    state, publish = free_ports(2)
    return ["--state-port", str(state), "--publish-port", str(publish)]


class ControllerProcess:
    """``exhibit controller`` in a child process on free ports; its stderr is read by a
    thread so the test waits on lines, never on sleeps."""

    def __init__(self, state_file: Path, *extra: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("EXHIBIT_STATE_FILE", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exhibit_engine.cli", "controller",
             "--venue", str(CONTENT / "venue.toml"), "--show", str(CONTENT / "show.toml"),
             "--host", "127.0.0.1", *_free_port_flags(),
             "--state-file", str(state_file), *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """The first stderr line containing ``text`` (fails at the end of output)."""
        seen = []
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"no line with {text!r}; stderr was: {seen}")
            seen.append(line)
            if text in line:
                return line

    def rest(self, timeout: float = 60.0) -> list[str]:
        """Every stderr line until the process closes it."""
        out = []
        while (line := self.lines.get(timeout=timeout)) is not None:
            out.append(line)
        return out

    def stop(self) -> int:
        """Stop it (SIGTERM: a clean stop) if it runs; its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
        code = self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return code


# --------------------------------------------------------------------------- the lock


def test_a_second_controller_process_on_the_same_state_file_refuses_naming_the_first(
        tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = ControllerProcess(state)
    try:
        first.wait_for("Ctrl-C stops")
        second = ControllerProcess(state)
        lines = second.rest()
        assert second.stop() == 1
        (line,) = [ln for ln in lines if ln.startswith("exhibit: error:")]
        assert lines == [line]
        assert "in use by another controller" in line and str(state) in line
        assert f"pid {first.proc.pid} on " in line and " since 20" in line
        assert first.proc.poll() is None          # the first one never noticed
    finally:
        first.stop()
    # Stopped, it lets go: a third starts (and resumes the first one's session).
    third = ControllerProcess(state)
    try:
        assert "resumed the saved show" in third.wait_for("resumed")
    finally:
        third.stop()


def test_the_lock_is_held_for_the_servers_life_and_released_on_close(
        controller_settings: Any, tmp_path: Path) -> None:
    settings = replace(controller_settings(), state_file=str(tmp_path / "s" / "state.json"))
    server = ControllerServer(settings)
    server.bind()
    try:
        with pytest.raises(SyncError, match=rf"in use by another controller \(held by pid "
                                            rf"{os.getpid()} on "):
            ControllerServer(settings).bind()
        holder = json.loads((tmp_path / "s" / "state.json.lock").read_text())
        assert holder["pid"] == os.getpid() and holder["host"] and holder["started"]
    finally:
        server.close()
    again = ControllerServer(settings)
    again.bind()
    again.close()


def test_a_lock_file_of_garbage_still_gives_one_line(tmp_path: Path) -> None:
    lock = StateLock(tmp_path / "state.json")
    lock.acquire("2026-12-01T10:00:00+00:00")
    try:
        os.pwrite(lock._fd or -1, b"\x00junk" + b" " * 80, 0)   # a holder that wrote rubbish
        with pytest.raises(BlockingIOError, match="another process"):
            StateLock(tmp_path / "state.json").acquire("now")
    finally:
        lock.release()
    assert not lock.held


# --------------------------------------------------------------------------- unreadable files


@pytest.mark.parametrize("what", sorted(BAD_FILES))
def test_an_unreadable_state_file_is_refused_and_left_byte_for_byte(
        controller_settings: Any, tmp_path: Path, what: str) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(BAD_FILES[what])
    settings = replace(controller_settings(), state_file=str(state))
    server = ControllerServer(settings)
    with pytest.raises(SyncError) as err:
        server.bind()
    message = str(err.value)
    assert "\n" not in message and str(state) in message and "--fresh" in message
    server.close()
    assert state.read_bytes() == BAD_FILES[what]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["state.json", "state.json.lock"]
    # ... and the lock went with the refusal: nothing holds the file now.
    StateLock(state).acquire("now")


def test_a_directory_where_the_state_file_should_be_is_refused(controller_settings: Any,
                                                               tmp_path: Path) -> None:
    # Unreadable even for root (chmod 000 would not stop root from reading).
    state = tmp_path / "state.json"
    state.mkdir()
    (state / "keep").write_text("mine")
    server = ControllerServer(replace(controller_settings(), state_file=str(state)))
    with pytest.raises(SyncError, match="cannot be read"):
        server.bind()
    server.close()
    assert (state / "keep").read_text() == "mine"


def test_fresh_moves_the_unreadable_file_aside_and_starts_a_fresh_show(
        controller_settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(BAD_FILES["not json"])
    server = ControllerServer(replace(controller_settings(), state_file=str(state)),
                              fresh=True)
    with caplog.at_level(logging.WARNING):
        server.bind()
    try:
        (aside,) = tmp_path.glob("state.json.unreadable-*")
        assert aside.read_bytes() == BAD_FILES["not json"]
        assert f"moved it to {aside}" in caplog.text
        assert not state.exists()
        assert server.save(force=True)
        assert load_session(state, SHOW) is not None
        assert aside.read_bytes() == BAD_FILES["not json"]
    finally:
        server.close()


def test_the_cli_refuses_an_unreadable_file_from_the_environment_and_the_default_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venue, show = tmp_path / "venue.toml", tmp_path / "show.toml"
    shutil.copy(CONTENT / "venue.toml", venue)
    shutil.copy(CONTENT / "show.toml", show)
    ports = ["--host", "127.0.0.1", *_free_port_flags()]
    from_env = tmp_path / "env-state.json"
    from_env.write_bytes(b"{half a fi")
    monkeypatch.setenv("EXHIBIT_STATE_FILE", str(from_env))
    res = CliRunner().invoke(main, ["controller", "--venue", str(venue), "--show", str(show),
                                    *ports])
    assert res.exit_code != 0
    (line,) = res.output.strip().splitlines()
    assert line.startswith("exhibit: error:") and str(from_env) in line
    assert "--fresh" in line
    assert from_env.read_bytes() == b"{half a fi"

    monkeypatch.delenv("EXHIBIT_STATE_FILE")
    default = tmp_path / ".exhibit"
    default.mkdir()
    show_id = "winter-nights"
    bad = default / f"controller-{show_id}.json"
    bad.write_bytes(b"\x00\x01")
    res = CliRunner().invoke(main, ["controller", "--venue", str(venue), "--show", str(show),
                                    *ports])
    assert res.exit_code != 0 and str(bad) in res.output and "cannot be read" in res.output
    assert bad.read_bytes() == b"\x00\x01"


# --------------------------------------------------------------------------- save failures


def test_a_failed_save_shows_in_status_until_the_next_save_succeeds(
        start_controller: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "state"
    ctl = start_controller(state_file=str(folder / "state.json"))
    server = ctl.server
    assert server.wait_saved(timeout=10.0)
    with OperatorClient("127.0.0.1", ctl.state_port) as op:
        assert op.command("status")["state_save"]["ok"] is True
        # The folder goes (a disk unmounted, say) and a file stands in its place.
        folder.rename(tmp_path / "away")
        folder.write_text("not a folder")
        with caplog.at_level(logging.WARNING):
            op.command("select", item="vase")
            for _ in range(200):       # each round is a real request and reply
                saving = op.command("status")["state_save"]
                if not saving["ok"]:
                    break
        assert saving["ok"] is False and saving["path"] == str(folder / "state.json")
        assert saving["error"] and saving["since"].startswith("20")
        assert "cannot save the controller state" in caplog.text

        res = CliRunner().invoke(main, ["status", "--host", "127.0.0.1",
                                        "--state-port", str(ctl.state_port)])
        assert res.exit_code == 0, res.output
        assert f"STATE NOT SAVED since {saving['since']}" in res.output

        folder.unlink()
        (tmp_path / "away").rename(folder)
        op.command("select", item="bowl")
        assert server.wait_saved(timeout=10.0)
        saving = op.command("status")["state_save"]
        assert saving["ok"] is True and "error" not in saving
    saved = load_session(folder / "state.json", SHOW)
    assert saved is not None and saved.state["selected_item"]["item"] == "bowl"


def test_status_has_no_state_save_without_a_state_file(start_controller: Any) -> None:
    ctl = start_controller()
    with OperatorClient("127.0.0.1", ctl.state_port) as op:
        assert "state_save" not in op.command("status")


# --------------------------------------------------------------------------- temp files


def test_stale_temp_files_of_crashed_saves_are_removed_at_start_and_no_others(
        controller_settings: Any, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    save_session(state, SavedSession(SHOW, 1000.0, 5.0))
    ours = [tmp_path / ".state.json.a1b2c3d4.tmp", tmp_path / ".state.json.zz_9x8y7.tmp"]
    theirs = [tmp_path / ".state.json.a1b2c3d4.tmp.keep", tmp_path / "notes.tmp",
              tmp_path / ".other.json.a1b2c3d4.tmp", tmp_path / ".state.json.toolong99.tmp.x",
              tmp_path / ".state.json.short.tmp"]
    for f in ours + theirs:
        f.write_text("x")
    server = ControllerServer(replace(controller_settings(), state_file=str(state)))
    server.bind()
    server.close()
    assert [f for f in ours if f.exists()] == []
    assert [f for f in theirs if f.exists()] == theirs
    assert load_session(state, SHOW) is not None


def test_remove_stale_temps_leaves_folders_and_a_missing_folder_alone(tmp_path: Path) -> None:
    (tmp_path / ".state.json.abcdefgh.tmp").mkdir()
    assert remove_stale_temps(tmp_path / "state.json") == []
    assert remove_stale_temps(tmp_path / "nowhere" / "state.json") == []


# --------------------------------------------------------------------------- the resume log


def test_the_resume_log_gives_the_show_time_after_a_pending_seek_took_effect(
        controller_settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    wall = [datetime(2026, 11, 25, 12, 0, tzinfo=UTC)]
    mono = [100.0]
    settings = replace(controller_settings(show=CUES), state_file=str(tmp_path / "s.json"))
    first = ControllerServer(settings, clock=lambda: mono[0], wall_clock=lambda: wall[0])
    first.bind()
    try:
        assert first.core is not None
        (reply,) = desk_command(first.core, "seek", 100.0,
                                {"position": 25.0, "delay": 5.0}).replies
        assert isinstance(reply, p.Reply) and reply.ok
        mono[0], wall[0] = 101.0, wall[0] + timedelta(seconds=1)
        assert first.save(force=True)
    finally:
        first.close()

    # Back 9 s later: the seek (due 4 s after the save) has taken effect meanwhile.
    wall[0] += timedelta(seconds=9)
    again = ControllerServer(settings, clock=lambda: 7.0, wall_clock=lambda: wall[0])
    with caplog.at_level(logging.INFO, logger="exhibit_engine.sync"):
        again.bind()
    try:
        assert again.core is not None
        assert again.core.show_time(7.0) == pytest.approx(30.0)
        (line,) = [r.getMessage() for r in caplog.records if "resumed" in r.getMessage()]
        assert line.startswith("resumed the saved show at 30.000 s (rate 1)")
    finally:
        again.close()


def test_without_flock_the_controller_refuses_in_one_line_naming_no_state(
        controller_settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fcntl", None)      # as on Windows: no fcntl module
    server = ControllerServer(replace(controller_settings(),
                                      state_file=str(tmp_path / "state.json")))
    with pytest.raises(SyncError, match=r"needs fcntl\.flock .*--no-state"):
        server.bind()
    server.close()
