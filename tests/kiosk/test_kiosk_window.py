"""The kiosk in a real window on a (virtual) screen: a touch there is a tap, and nothing a
visitor can press on a keyboard ends it; the staff page behind the PIN does."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..e2e.conftest import Procs, xvfb
from .conftest import PIN, Museum, wait_status

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]


def _xdotool(display: str, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, check=True,
                   timeout=20, capture_output=True)


#: kiosk-zh's screen: 96 dpi, so 9 mm is less than the 48 px floor.
MIN_TARGET_PX = 48


def _targets(st: dict) -> list[str]:
    """Controls of the page drawn smaller than a finger (at the kiosk's DPI)."""
    return [f"{n} {w:.0f}x{h:.0f}" for n, (x, y, w, h) in st["controls"].items()
            if min(w, h) < MIN_TARGET_PX]


def _centre(st: dict, name: str) -> tuple[int, int]:
    x, y, w, h = st["controls"][name]
    return int(x + w / 2), int(y + h / 2)


def test_touches_in_the_window_browse_keys_never_quit_and_the_pin_does(
        procs: Procs, museum_bundles: Path, tmp_path: Path) -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (.ci/run installs it)")
    m = Museum(tmp_path, museum_bundles, procs)
    m.controller()
    with xvfb((1280, 800)) as display:
        os.environ["DISPLAY"] = display
        try:
            kiosk = m.kiosk("kiosk", "kiosk-zh", None, "--window", "1280x800",
                            headless=False)
        finally:
            del os.environ["DISPLAY"]
        status = m.status_file("kiosk")
        st = wait_status(status, lambda s: s["online"] and s["screen"] == "attract", 120,
                         "the kiosk's attract page in its window")

        def click(name: str, screen: str | None = None, dx: int = 0) -> None:
            """Touch the control in the window; wait until the kiosk took the tap."""
            nonlocal st
            x, y = _centre(st, name)
            taps = st["taps"]
            _xdotool(display, "mousemove", str(x + dx), str(y), "click", "1")
            st = wait_status(status, lambda s: s["taps"] > taps
                             and (screen is None or s["screen"] == screen), 20,
                             f"a touch on {name!r}" + (f" to show the {screen} page"
                                                        if screen else ""))

        pages = {st["screen"]: _targets(st)}
        click("explore", "carousel")
        pages[st["screen"]] = _targets(st)
        click("tab:northern-prints", "carousel")
        click("item:birch-forest", "item")
        pages["item (print)"] = _targets(st)
        click("zoom:in", "item")
        click("back", "carousel")
        click("tab:heritage", "carousel")
        click("item:vase", "item")
        pages["item (3-D)"] = _targets(st)
        for keys in ("Escape", "alt+F4", "ctrl+q", "ctrl+c", "ctrl+w", "super"):
            _xdotool(display, "key", keys)
        frames = st["frames"]
        st = wait_status(status, lambda s: s["frames"] > frames + 10, 20, "the kiosk to go on")
        assert kiosk.poll() is None and st["screen"] == "item", procs.log("kiosk")
        # staff: five touches on the hidden corner, the PIN, "leave kiosk mode"
        for k in range(5):
            click("staff", dx=k)
        assert st["screen"] == "pin", st["screen"]
        pages["pin"] = _targets(st)
        for digit in PIN:
            click(f"pin:{digit}")
        click("pin:OK", "staff")
        pages["staff"] = _targets(st)
        assert all(not small for small in pages.values()), pages
        x, y = _centre(st, "exit")
        _xdotool(display, "mousemove", str(x), str(y), "click", "1")
        assert kiosk.wait(timeout=30) == 0, procs.log("kiosk")
