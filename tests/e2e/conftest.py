"""End-to-end fixtures: the packed sample bundle and helpers to run real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"


@contextmanager
def xvfb(size: tuple[int, int]) -> Iterator[str]:
    """A private Xvfb display of ``size`` pixels, e.g. ``':42'``, stopped afterwards
    (the test is skipped where Xvfb is not installed; ``.ci/run`` installs it)."""
    import shutil

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (.ci/run installs it)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                             f"{size[0]}x{size[1]}x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as f:  # Xvfb writes the display number once it is ready
            number = f.readline().strip()
        assert number.isdigit(), "Xvfb did not report a display"
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wait_until(check: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(interval)  # poll cadence; the condition above is what we wait on


@pytest.fixture(scope="session")
def bundle_dir(sample_bundles: Path) -> Path:
    """A folder with the sample show's bundles (ice-festival, northern-prints, heritage)."""
    return sample_bundles


class Procs:
    """Starts ``exhibit`` subprocesses and makes sure none outlives the test."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        p = subprocess.Popen([sys.executable, "-m", "exhibit_engine.cli", *args],
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env={**os.environ, "PYTHONUNBUFFERED": "1",
                                  # each test's controllers resume from a state file of
                                  # their own, never one beside the repo's venue.toml
                                  "EXHIBIT_STATE_FILE": str(self.log_dir / "state.json")})
        log.close()
        self.procs[name] = p
        return p

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """A process starter whose processes are all stopped after the test."""
    p = Procs(tmp_path)
    try:
        yield p
    finally:
        p.stop_all()
