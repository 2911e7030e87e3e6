"""`exhibit demo` with a display: node windows open side by side in wall order, and draw.

Runs on a virtual X server (Xvfb, which `.ci/run` installs) so the window path of the
renderer is exercised the way a projector PC uses it.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageGrab

from .conftest import CONTENT, xvfb

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]

EXHIBIT = Path(sys.executable).with_name("exhibit")


@pytest.fixture
def xdisplay() -> Iterator[str]:
    """A private Xvfb display, e.g. ':42', stopped after the test."""
    with xvfb((2040, 520)) as display:
        yield display


def _read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float) -> str:
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while marker.encode() not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise AssertionError(f"no {marker!r} within {timeout} s:\n{seen.decode()}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"demo exited ({proc.wait()}) before {marker!r}:\n"
                                     f"{seen.decode()}")
            seen += chunk
    return seen.decode()


def test_demo_windows_show_each_projector_in_wall_order(xdisplay: str, tmp_path: Path
                                                        ) -> None:
    env = {**os.environ, "DISPLAY": xdisplay, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([str(EXHIBIT), "demo", "--out", str(tmp_path / "demo"),
                             "--content", str(CONTENT)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _read_until(proc, "windows are open", 180)
        screen = np.asarray(ImageGrab.grab(xdisplay=xdisplay).convert("RGB")).astype(float)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=30)
        proc.stdout.close()
    assert rc == 0
    # three 640x400 windows from (40, 40), 8 pixels apart: left, centre, right
    left, centre, right = (screen[40:440, x:x + 640] for x in (40, 688, 1336))
    for window in (left, centre, right):
        assert window.std() > 8, "a window is blank"
    assert screen[460:, :].std() < 1 and screen[:, 1986:].std() < 1  # nothing outside
    # Each window is its projector's output: the blend ramp fades each overlap edge to
    # black, where the neighbour's light takes over on a real wall.
    assert left[:, -1].max() <= 3 and centre[:, 0].max() <= 3 and centre[:, -1].max() <= 3
    assert right[:, 0].max() <= 3 and left[:, 0].mean() > 10 and right[:, -1].mean() > 10
