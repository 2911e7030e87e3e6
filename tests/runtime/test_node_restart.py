"""``restart`` (``POST /api/nodes/ID/restart``, or the command itself): the operator
restarts one projector's process from the console. The node leaves, is listed as loading
meanwhile, and comes back in the same process (it re-executes itself with the same
arguments) at the right show time."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from exhibit_engine.errors import SyncError

from ..e2e.conftest import wait_until
from .test_capture_failures import Wall, started  # noqa: F401, F811  (a fixture)


@pytest.mark.render
@pytest.mark.sync
@pytest.mark.e2e
def test_a_restarted_node_comes_back_in_the_same_process(
        tmp_path: Path, ice_exb: Path, started: Callable[..., subprocess.Popen[bytes]]
        ) -> None:
    wall = Wall(tmp_path, ice_exb, started, ["-m", "exhibit_engine.cli"])
    try:
        before = wall.me()
        assert before is not None
        with pytest.raises(SyncError, match=r"restart: no projector 'nobody' \(known: "):
            wall.op.command("restart", node="nobody")
        reply = wall.op.command("restart", node=wall.display, delay=0.2)
        assert reply["node"] == wall.display
        states: list[str] = []

        def seen(state: str) -> bool:
            st = wall.op.command("status")
            node = next(n for n in st["nodes"] if n["id"] == wall.display)
            states.append(node["state"])
            return node["state"] == state and (state != "joined" or node["frames"] < 50)

        wait_until(lambda: seen("loading"), 30.0, "the node listed as loading")
        wait_until(lambda: seen("joined") and wall.me(), 120.0, "the node back and drawing")
        assert "lost" not in states, states
        assert wall.node.poll() is None                    # the same process, re-executed
        after = wall.op.command("status")
        node = next(n for n in after["nodes"] if n["id"] == wall.display)
        assert abs(node["show_time"] - after["show_time"]) < 1.0
    finally:
        wall.op.close()
    log = (tmp_path / "node.log").read_text(errors="replace")
    assert "restart asked by the operator" in log and "Traceback" not in log
