"""Fixtures for the kiosk app's tests: the museum's three bundles, a venue with two
projectors and kiosks, a show of all three bundles, and a kiosk process to watch."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.cli.demo import free_ports

from ..e2e.conftest import Procs, procs, wait_until  # noqa: F401  (the e2e fixture)

__all__ = ["KIOSK_SHOW", "Museum", "kiosk_argv", "read_json", "write_script"]

#: The show: the heritage gallery plays; idle kiosks send the wall to the lantern walk.
KIOSK_SHOW = """
[show]
id = "museum"
title = {{ zh = "冰雪之夜", en = "Winter Nights at the Museum", ru = "Зимние ночи в музее" }}

[[bundles]]
id = "heritage"
file = "heritage.exb"

[[bundles]]
id = "northern-prints"
file = "northern-prints.exb"

[[bundles]]
id = "ice-festival"
file = "ice-festival.exb"

[[cues]]
id = "gallery"
bundle = "heritage"
scene = "gallery"
duration = 600.0

[attract]
idle_after = {idle_after}

[[attract.cues]]
id = "lanterns"
bundle = "ice-festival"
scene = "lantern-walk"
duration = 60.0
"""

VENUE = """
[venue]
id = "kiosk-test"
name = "Two projectors side by side, and kiosks"

[wall]
shape = "flat"
width = 8.0
height = 2.5
eye = [4.0, 1.25, 5.0]

[network]
host = "127.0.0.1"
state_port = {state}
publish_port = {pub}

[[kiosks]]
id = "kiosk-zh"
pixels = [1280, 800]
dpi = 96
language = "zh"
idle_warning_s = {warning}
pin = "{pin}"

[[kiosks]]
id = "kiosk-ru"
pixels = [1280, 800]
dpi = 96
language = "ru"
idle_warning_s = {warning}

[[displays]]
id = "left"
pixels = [640, 400]
rect = [0.0, 0.0, 4.0, 2.5]

[[displays]]
id = "right"
pixels = [640, 400]
rect = [4.0, 0.0, 4.0, 2.5]
"""

#: The staff PIN of kiosk-zh.
PIN = "2468"


class Museum:
    """A venue and show in a folder of their own, and the processes that play them."""

    def __init__(self, root: Path, bundles: Path, processes: Procs,
                 idle_after: float = 300.0, warning: float = 5.0) -> None:
        from exhibit_engine.keys.pin import hash_pin

        self.root, self.bundles, self.procs = root, bundles, processes
        self.state_port, self.publish_port = free_ports(2)
        self.venue = root / "venue.toml"
        self.venue.write_text(VENUE.format(state=self.state_port, pub=self.publish_port,
                                           warning=warning, pin=hash_pin(PIN)),
                              encoding="utf-8")
        self.show = root / "show.toml"
        self.show.write_text(KIOSK_SHOW.format(idle_after=idle_after), encoding="utf-8")
        self.captures = root / "captures"
        self.cache = root / "cache"

    def common(self) -> list[str]:
        return ["--venue", str(self.venue), "--show", str(self.show)]

    def controller(self) -> subprocess.Popen[bytes]:
        return self.procs.start("controller", "controller", *self.common(), "--no-state")

    def node(self, display: str) -> subprocess.Popen[bytes]:
        return self.procs.start(f"node-{display}", "node", *self.common(), "--display",
                                display, "--bundle-dir", str(self.bundles), "--headless",
                                "--render-scale", "0.25", "--capture-dir",
                                str(self.captures))

    def kiosk(self, name: str, kiosk_id: str, script: Path | None, *extra: str,
              headless: bool = True) -> subprocess.Popen[bytes]:
        return self.procs.start(name, *kiosk_argv(self, kiosk_id, script, name, headless),
                                *extra)

    def status_file(self, name: str) -> Path:
        return self.root / f"{name}-status.json"

    def report(self, name: str) -> Path:
        return self.root / f"{name}-report.json"


def kiosk_argv(m: Museum, kiosk_id: str, script: Path | None, name: str,
               headless: bool = True) -> list[str]:
    """``exhibit kiosk app`` arguments (after ``exhibit``) for a kiosk."""
    argv = ["kiosk", "app", *m.common(), "--kiosk", kiosk_id, "--bundle-dir",
            str(m.bundles), *(["--headless"] if headless else []), "--cache-dir",
            str(m.cache), "--status-file",
            str(m.status_file(name)), "--report", str(m.report(name)), "--out",
            str(m.root / "shots")]
    if script is not None:
        argv += ["--script", str(script)]
    return argv


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON file written atomically by the kiosk, or ``None`` before its first write."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_script(path: Path, steps: list[dict[str, Any]], clock: str = "real",
                 size: tuple[int, int] | None = None) -> Path:
    """A kiosk script file of these steps."""
    def value(v: Any) -> str:
        return json.dumps(v, ensure_ascii=False)

    lines = [f'clock = "{clock}"']
    if size is not None:
        lines.append(f"size = [{size[0]}, {size[1]}]")
    for st in steps:
        lines.append("[[steps]]")
        lines += [f"{k} = {value(v)}" for k, v in st.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def museum_bundles(tmp_path_factory: pytest.TempPathFactory, heritage_exb: Path,
                   prints_exb: Path, ice_exb: Path) -> Path:
    """A folder with the three sample bundles, packed once per session."""
    folder = tmp_path_factory.mktemp("museum-bundles")
    for exb in (heritage_exb, prints_exb, ice_exb):
        os.symlink(exb, folder / exb.name)
    return folder


def wait_status(path: Path, check: Any, timeout: float, what: str) -> dict[str, Any]:
    """Wait until the kiosk's status file satisfies ``check``; return it."""
    def ok() -> dict[str, Any] | None:
        st = read_json(path)
        return st if st is not None and check(st) else None

    return wait_until(ok, timeout, what, interval=0.02)

