"""A capture that cannot be written never darkens the wall (issue 12, "Captures").

``exhibit ctl capture TAG`` makes every node started with ``--capture-dir`` write
``DISPLAY-TAG.png``. Before issue 12 a full or read-only disk, or a tag such as
``2026-12-01/opening``, crashed the node with a traceback. Now:

- the tag is checked as a file name by the CLI, by the controller (the command table)
  and again by the node;
- the node checks the folder (writable, room for the image), and a capture that fails
  anyway (``ENOSPC``) is reported in the node's status (``extra.capture_error``) while
  the node goes on rendering.

The first tests drive :func:`~exhibit_engine.runtime.node_app.capture` with a stand-in
renderer (no GL); the last runs a real controller and a real headless node whose disk
is "full" (``ENOSPC`` injected into its process) and asks it to capture.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from exhibit_engine.errors import CommandError, ConfigError, ExhibitError
from exhibit_engine.runtime.node_app import capture

from ..conftest import writes_anywhere
from ..e2e.conftest import wait_until
from exhibit_engine.sync.commands import check_command

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"
BAD_TAGS = ["2026-12-01/opening", "..", "../up", "a\\b", "line\nbreak", ".hidden",
            "x" * 129, "", "bell\x07"]


class Snap:
    """Stands in for the renderer: ``snapshot()`` is a small image."""

    def snapshot(self) -> Image.Image:
        return Image.new("RGB", (32, 20), (200, 40, 40))


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("tag", BAD_TAGS)
def test_an_unsafe_tag_is_refused_by_the_node_and_nothing_is_written(tmp_path: Path,
                                                                       tag: str) -> None:
    with pytest.raises(ConfigError) as err:
        capture(Snap(), tmp_path, "left", tag)
    assert "\n" not in str(err.value) and "the tag" in str(err.value)
    assert _files(tmp_path) == []


@pytest.mark.parametrize("tag", BAD_TAGS)
def test_an_unsafe_tag_is_refused_by_the_command_table(tag: str) -> None:
    with pytest.raises(CommandError) as err:
        check_command("operator", "capture", {"tag": tag})
    assert str(err.value).startswith("capture: 'tag' ")


def test_a_safe_tag_is_accepted_and_written_under_the_umask(tmp_path: Path) -> None:
    assert check_command("operator", "capture", {"tag": "2026-12-01_opening"})["tag"] \
        == "2026-12-01_opening"
    old = os.umask(0o027)
    try:
        out = capture(Snap(), tmp_path, "left", "2026-12-01_opening")
    finally:
        os.umask(old)
    assert out == tmp_path / "left-2026-12-01_opening.png"
    assert _files(tmp_path) == ["left-2026-12-01_opening.png"]
    assert out.stat().st_mode & 0o777 == 0o640
    with Image.open(out) as im:
        assert im.size == (32, 20)


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd: int) -> None:
            self.f = real_fdopen(fd, "wb")

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.f, name)

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.f.close()

    monkeypatch.setattr(os, "fdopen", lambda fd, mode="r", *a, **k: Full(fd))
    with pytest.raises(ExhibitError) as err:
        capture(Snap(), tmp_path, "left", "opening")
    text = str(err.value)
    assert text.startswith("capture 'opening': ") and "No space left on device" in text
    assert "\n" not in text and "Errno" not in text
    assert _files(tmp_path) == []          # no PNG, no temporary file


def test_a_folder_without_room_is_refused_before_writing(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    import shutil

    monkeypatch.setattr(shutil, "disk_usage",
                        lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 100, 100))
    with pytest.raises(ExhibitError, match="only 100 bytes free"):
        capture(Snap(), tmp_path, "left", "opening")
    assert _files(tmp_path) == []


@pytest.mark.skipif(writes_anywhere(), reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ExhibitError, match="not writable"):
            capture(Snap(), ro, "left", "opening")
    finally:
        ro.chmod(0o755)


def test_a_capture_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ExhibitError, match="is a file, not a folder"):
        capture(Snap(), tmp_path / "file", "left", "opening")


# ------------------------------------------------------------------ real processes

#: Runs ``exhibit`` with every write of a capture PNG failing with ENOSPC: the disk is
#: full for captures only, as a full disk would be for the node's one output.
_FULL_DISK = """
import errno, os, sys
real_open = os.open
def full_open(path, flags, mode=0o777, *a, **k):
    if str(path).endswith('.tmp') and '-' in os.path.basename(str(path)) \\
            and '.png.' in str(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return real_open(path, flags, mode, *a, **k)
os.open = full_open
from exhibit_engine.cli import main
sys.argv = ['exhibit', *sys.argv[1:]]
main()
"""


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT),
           "EXHIBIT_STATE_FILE": str(tmp_path / "state.json")}

    def start(name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("wb")
        p = subprocess.Popen([sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env)
        log.close()
        procs.append(p)
        return p

    try:
        yield start
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Wall:
    """A real controller and one real headless node with ``--capture-dir`` (the sample
    show and the packed ice festival, unless ``show`` and ``bundle_dir`` are given)."""

    def __init__(self, tmp_path: Path, ice_exb: Path,
                 started: Callable[..., subprocess.Popen[bytes]], node_argv: list[str],
                 *, show: Path = CONTENT / "show.toml", bundle_dir: Path | None = None
                 ) -> None:
        from exhibit_engine.cli.demo import free_ports
        from exhibit_engine.config import load_venue
        from exhibit_engine.sync.operator import OperatorClient

        self.display = load_venue(CONTENT / "venue.toml").displays[0].id
        self.state_port, publish_port = free_ports(2)
        common = ["--venue", str(CONTENT / "venue.toml"), "--show",
                  str(show), "--host", "127.0.0.1", "--state-port",
                  str(self.state_port), "--publish-port", str(publish_port)]
        self.captures = tmp_path / "captures"
        self.captures.mkdir()
        started("controller", "-m", "exhibit_engine.cli", "controller", *common,
                "--no-state")
        self.node = started("node", *node_argv, "node", *common, "--display", self.display,
                            "--bundle-dir", str(bundle_dir or ice_exb.parent), "--headless",
                            "--render-scale", "0.05", "--capture-dir", str(self.captures))
        self.op = OperatorClient("127.0.0.1", self.state_port, timeout_s=2.0)
        wait_until(self.me, 120.0, "the node to join and draw")

    def me(self) -> dict[str, Any] | None:
        """The node's status while it is joined and drawing."""
        from exhibit_engine.errors import SyncError

        try:
            st = self.op.command("status")
        except SyncError:
            return None
        return next((n for n in st["nodes"] if n["id"] == self.display
                     and n["state"] == "joined" and n["frames"] >= 2), None)

    def ctl_capture(self, tag: str) -> Any:
        """``exhibit ctl capture TAG``, in this process."""
        from click.testing import CliRunner

        from exhibit_engine.cli import main

        return CliRunner().invoke(main, ["ctl", "--host", "127.0.0.1", "--state-port",
                                         str(self.state_port), "capture", tag])


@pytest.mark.render
@pytest.mark.sync
@pytest.mark.e2e
def test_a_node_with_a_full_disk_reports_the_failed_capture_and_keeps_rendering(
        tmp_path: Path, ice_exb: Path, started: Callable[..., subprocess.Popen[bytes]]
        ) -> None:
    from exhibit_engine.errors import SyncError

    wall = Wall(tmp_path, ice_exb, started, ["-c", _FULL_DISK])
    display, op = wall.display, wall.op
    try:
        # A tag with '/' is refused at the controller, with the reason, in the reply.
        with pytest.raises(SyncError, match="must not contain '/'"):
            op.command("capture", tag="2026-12-01/opening", delay=0.2)
        # A full disk: the capture fails on the node, which reports it and draws on.
        op.command("capture", tag="opening", delay=0.3)
        failed = wait_until(lambda: (n := wall.me()) and "capture_error" in n["extra"] and n,
                       30.0, "the node to report the failed capture")
        reason = failed["extra"]["capture_error"]
        assert reason.startswith("capture 'opening': ") and "No space left" in reason
        assert "opening" not in failed["captures"]
        wait_until(lambda: (n := wall.me()) and n["frames"] > failed["frames"] + 5, 30.0,
              "the node to keep rendering")
        # The operator's `exhibit ctl capture` waits for the nodes and says why.
        res = wall.ctl_capture("second")
        assert res.exit_code == 1, res.output
        errors = [line for line in res.stderr.splitlines() if line.startswith("exhibit:")]
        assert len(errors) == 1 and errors[0].startswith(
            f"exhibit: error: {display}: capture 'second': "), res.stderr
        assert "No space left" in errors[0] and "Traceback" not in res.output
        assert wall.node.poll() is None
        assert sorted(p.name for p in wall.captures.iterdir()) == []
    finally:
        op.close()
    log = (tmp_path / "node.log").read_text(errors="replace")
    assert "Traceback" not in log and "capture failed: capture 'opening'" in log


@pytest.mark.render
@pytest.mark.sync
@pytest.mark.e2e
def test_ctl_capture_waits_for_the_png_and_it_follows_the_umask(
        tmp_path: Path, ice_exb: Path, started: Callable[..., subprocess.Popen[bytes]]
        ) -> None:
    old = os.umask(0o027)          # the node inherits it
    try:
        wall = Wall(tmp_path, ice_exb, started, ["-m", "exhibit_engine.cli"])
    finally:
        os.umask(old)
    try:
        res = wall.ctl_capture("opening")
        assert res.exit_code == 0, res.output
        assert res.stderr == "" and res.output.startswith("capture: 'opening' at show time")
        png = wall.captures / f"{wall.display}-opening.png"
        assert sorted(p.name for p in wall.captures.iterdir()) == [png.name]
        assert png.stat().st_mode & 0o777 == 0o640
        with Image.open(png) as im:
            assert im.size[0] >= 16 and im.getbbox() is not None   # drawn, not black
    finally:
        wall.op.close()
