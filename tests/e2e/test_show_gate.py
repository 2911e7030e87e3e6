"""The show gate with real processes: a "when-ready" show holds until every display's node
is ready; `exhibit ctl start` refuses while one is missing, `--force` starts it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.cli.demo import free_ports
from exhibit_engine.errors import SyncTimeout
from exhibit_engine.sync.operator import OperatorClient

from .conftest import CONTENT, Procs, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]

EXHIBIT = Path(sys.executable).with_name("exhibit")


def _status(op: OperatorClient) -> dict[str, Any]:
    try:
        return op.command("status")
    except SyncTimeout:             # the controller process is still starting
        return {}


def test_the_gate_holds_until_every_display_is_ready_and_force_starts_it(
        procs: Procs, bundle_dir: Path, tmp_path: Path) -> None:
    show = tmp_path / "show.toml"
    text = (CONTENT / "show.toml").read_text(encoding="utf-8")
    show.write_text(text.replace("[control]\n", '[control]\nstart = "when-ready"\n', 1),
                    encoding="utf-8")
    state, pub = free_ports(2)
    common = ["--venue", str(CONTENT / "venue.toml"), "--show", str(show),
              "--host", "127.0.0.1", "--state-port", str(state), "--publish-port", str(pub)]
    procs.start("controller", "controller", *common, "--no-state")

    def node(display: str) -> None:
        procs.start(f"node-{display}", "node", *common, "--display", display,
                    "--bundle-dir", str(bundle_dir), "--headless", "--render-scale", "0.05")

    node("left")
    node("centre")                  # "right" never comes: the show must wait for it
    op = OperatorClient("127.0.0.1", state, timeout_s=2.0)

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(EXHIBIT), "ctl", "--venue", str(CONTENT / "venue.toml"),
                               "--host", "127.0.0.1", "--state-port", str(state), *args],
                              capture_output=True, text=True, timeout=60)

    try:
        def two_ready() -> dict[str, Any] | None:
            st = _status(op)
            nodes = {n["id"]: n for n in st.get("nodes", [])}
            ok = all(nodes.get(d, {}).get("ready") and nodes[d]["frames"] >= 3
                     for d in ("left", "centre"))
            return st if ok else None

        st = wait_until(two_ready, 120, "left and centre to report ready")
        assert st["gate"]["holding"] is True
        assert st["gate"]["waiting_for"] == {"right": "not joined"}
        assert st["show_time"] == pytest.approx(0.0, abs=0.05), "held at the start"
        nodes = {n["id"]: n for n in st["nodes"]}
        assert nodes["left"]["show_time"] == pytest.approx(0.0, abs=0.05)

        looked = ctl("status")
        assert looked.returncode == 0, looked.stderr
        assert "WAITING TO START" in looked.stdout and "right (not joined)" in looked.stdout

        refused = ctl("start")
        assert refused.returncode != 0
        assert "not every display is ready (waiting for right (not joined))" in (
            refused.stdout + refused.stderr)
        assert "Traceback" not in refused.stderr
        go = ctl("go")
        assert go.returncode != 0 and "waits to start" in go.stdout + go.stderr
        assert _status(op)["gate"]["holding"] is True

        forced = ctl("start", "--force")
        assert forced.returncode == 0, forced.stdout + forced.stderr
        assert "the show starts without right (not joined)" in forced.stdout
        wait_until(lambda: all(n["show_time"] > 1.0 for n in _status(op).get("nodes", [])
                               if n["role"] == "projector"), 60, "the nodes to play on")
        st = _status(op)
        assert st["gate"]["holding"] is False and st["gate"]["released"] == "forced"
        assert st["gate"]["missing_at_release"] == {"right": "not joined"}
    finally:
        op.close()
