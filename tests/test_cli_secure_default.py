"""Secure by default: a controller on a network address needs CURVE, or says --insecure."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.cli import main
from exhibit_engine.config.roles import is_loopback
from exhibit_engine.sync.controller_core import ControllerCore

CONTENT = Path(__file__).resolve().parents[1] / "content"


@pytest.mark.parametrize(("host", "local"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("localhost", True), ("::1", True),
    ("[::1]", True), ("0.0.0.0", False), ("*", False), ("192.168.1.20", False),
    ("controller.museum.lan", False), ("::", False)])
def test_loopback_addresses(host: str, local: bool) -> None:
    assert is_loopback(host) is local


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "controller.museum.lan"])
def test_a_controller_on_the_network_without_curve_refuses_in_one_line(host: str) -> None:
    res = CliRunner().invoke(main, ["controller", "--venue", str(CONTENT / "venue.toml"),
                                    "--show", str(CONTENT / "show.toml"), "--host", host,
                                    "--no-state"])
    assert res.exit_code == 2, res.output
    (line,) = res.output.strip().splitlines()
    assert line.startswith("exhibit: error: ") and "security.curve" in line
    assert f"would listen on {host!r} without CURVE" in line and "--insecure" in line


def test_an_insecure_controller_says_so_in_its_status() -> None:
    core = ControllerCore(now=0.0, session="s")
    assert "insecure" not in core.status(0.0)
    core.insecure = "listening on 0.0.0.0 without CURVE: any machine on that network ..."
    assert core.status(1.0)["insecure"].startswith("listening on 0.0.0.0 without CURVE")
