"""A CURVE venue end to end: `exhibit keys new --kind curve`, then a controller and
projector nodes as real processes that find each other only with allow-listed keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.cli.demo import free_ports
from exhibit_engine.config import load_venue
from exhibit_engine.errors import SyncTimeout
from exhibit_engine.sync.auth import client_curve
from exhibit_engine.sync.operator import OperatorClient

from .conftest import CONTENT, Procs, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]

SECURITY = """
[security]
curve = true
controller_key = "keys/controller.curve.key"
controller_public_key = "keys/controller.curve.pub"
projectors = ["keys/left.curve.pub"]
kiosks = ["keys/kiosk.curve.pub"]
operators = ["keys/desk.curve.pub"]
"""


def _exhibit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exhibit_engine.cli", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_only_allow_listed_nodes_join_a_curve_venue(procs: Procs, bundle_dir: Path,
                                                    tmp_path: Path) -> None:
    for name in ("controller", "left", "kiosk", "desk", "stranger"):
        made = _exhibit("keys", "new", name, "--kind", "curve", "--dir", str(tmp_path / "keys"))
        assert made.returncode == 0, made.stderr
    venue = tmp_path / "venue.toml"
    venue.write_text((CONTENT / "venue.toml").read_text(encoding="utf-8") + SECURITY,
                     encoding="utf-8")
    state, pub = free_ports(2)

    def args(venue_file: Path) -> list[str]:
        return ["--venue", str(venue_file), "--show", str(CONTENT / "show.toml"),
                "--host", "127.0.0.1", "--state-port", str(state), "--publish-port", str(pub)]

    def node(venue_file: Path) -> list[str]:
        return [*args(venue_file), "--bundle-dir", str(bundle_dir), "--headless",
                "--render-scale", "0.05"]

    # A node whose key is not a projector key is one clear error before it starts.
    wrong = _exhibit("node", *node(venue), "--display", "centre",
                     "--key", str(tmp_path / "keys" / "kiosk.curve.key"))
    assert wrong.returncode == 2 and "is a kiosk key; a projector needs" in wrong.stderr
    assert "Traceback" not in wrong.stderr

    procs.start("controller", "controller", *args(venue))  # controller_key from the venue
    procs.start("node-left", "node", *node(venue), "--display", "left",
                "--key", str(tmp_path / "keys" / "left.curve.key"))
    # The stranger's node is started as a peer that knows the controller but is not
    # listed: it gets past its own checks only through a venue file of its own.
    rogue_venue = tmp_path / "rogue.toml"
    rogue_venue.write_text(venue.read_text(encoding="utf-8").replace(
        "keys/left.curve.pub", "keys/stranger.curve.pub"), encoding="utf-8")
    procs.start("node-rogue", "node", *node(rogue_venue), "--display", "right",
                "--key", str(tmp_path / "keys" / "stranger.curve.key"))

    curve = client_curve(load_venue(venue).security, str(tmp_path / "keys" / "desk.curve.key"),
                         role="operator")
    op = OperatorClient("127.0.0.1", state, timeout_s=2.0, curve=curve)
    try:
        def status() -> dict[str, Any]:
            try:
                return op.command("status")
            except SyncTimeout:      # the controller process is still starting
                return {}

        def nodes() -> dict[str, dict[str, Any]]:
            return {n["id"]: n for n in status().get("nodes", [])}

        wait_until(lambda: nodes().get("left", {}).get("frames", 0) >= 2, 120,
                   "the allow-listed node to join and draw")
        wait_until(lambda: status().get("handshakes_refused", 0) >= 2, 30,
                   "the controller to refuse the stranger's node")
        assert "right" not in nodes()
        assert procs.procs["node-rogue"].poll() is None     # it keeps trying, harmlessly
    finally:
        op.close()
    # Without a key, an operator tool does not get an answer at all.
    with OperatorClient("127.0.0.1", state, timeout_s=0.5) as plain, \
            pytest.raises(SyncTimeout):
        plain.command("status")
