"""A controller and projector nodes as real processes on 127.0.0.1."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.cli.demo import free_ports
from exhibit_engine.errors import SyncTimeout
from exhibit_engine.sync.operator import OperatorClient

from .conftest import CONTENT, Procs, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]


def _nodes(op: OperatorClient) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in op.command("status").get("nodes", [])}


def _nodes_once_up(op: OperatorClient) -> dict[str, dict[str, Any]]:
    """The nodes, or none while the controller process is still starting (on a loaded
    machine its imports alone can take longer than the client's 2 s timeout)."""
    try:
        return _nodes(op)
    except SyncTimeout:
        return {}


def test_nodes_join_before_and_after_controller_and_survive_a_killed_peer(
        procs: Procs, bundle_dir: Path, tmp_path: Path) -> None:
    state, pub = free_ports(2)
    common = ["--venue", str(CONTENT / "venue.toml"), "--show", str(CONTENT / "show.toml"),
              "--host", "127.0.0.1", "--state-port", str(state), "--publish-port", str(pub)]

    def node(display: str) -> None:
        procs.start(f"node-{display}", "node", *common, "--display", display,
                    "--bundle-dir", str(bundle_dir), "--headless", "--render-scale", "0.05")

    node("left")                       # before the controller exists
    procs.start("controller", "controller", *common)
    node("right")                      # after it
    op = OperatorClient("127.0.0.1", state, timeout_s=2.0)
    try:
        def both_drawing() -> bool:
            n = _nodes_once_up(op)
            return all(n.get(d, {}).get("state") == "joined" and n[d]["frames"] >= 2
                       for d in ("left", "right"))

        wait_until(both_drawing, 120, "both nodes to join and draw")
        n = _nodes(op)
        assert abs(n["left"]["offset_us"]) < 1000 and abs(n["right"]["offset_us"]) < 1000

        os.kill(procs.procs["node-left"].pid, signal.SIGKILL)
        procs.procs["node-left"].wait()
        before = _nodes(op)["right"]["frames"]
        wait_until(lambda: _nodes(op)["right"]["frames"] >= before + 5, 60,
                   "the surviving node to keep drawing")
        wait_until(lambda: _nodes(op)["left"]["state"] == "lost", 30,
                   "the controller to mark the killed node lost")
        assert procs.procs["node-right"].poll() is None, procs.log("node-right")
    finally:
        op.close()


def test_a_venue_that_requires_signatures_refuses_an_unsigned_bundle(
        bundle_dir: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from exhibit_engine.assets.signing import write_key_pair

    keys = write_key_pair("curator", tmp_path / "keys")
    venue = tmp_path / "venue.toml"
    venue.write_text((CONTENT / "venue.toml").read_text(encoding="utf-8") + (
        f'\n[bundles]\ntrusted_keys = ["{keys.public_path}"]\nrequire_signed = true\n'),
        encoding="utf-8")
    state, pub = free_ports(2)
    res = subprocess.run(
        [sys.executable, "-m", "exhibit_engine.cli", "node", "--venue", str(venue),
         "--show", str(CONTENT / "show.toml"), "--display", "left", "--headless",
         "--bundle-dir", str(bundle_dir), "--state-port", str(state),
         "--publish-port", str(pub)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("exhibit:")]
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "ice-festival.exb: manifest.sig: bundle is not signed" in lines[0]
