"""A real headless node reports how it draws (issue 13, "Nodes report what the page
shows"): its fps, worst frame time and dropped frames, its renderer, the cue it plays and
the bundles it holds reach the controller's ``status``, and ``exhibit status`` shows them.
After a kiosk's ``select`` and ``language`` (issue 14), its row says which item and
language it draws, and the status's ``show`` what the wall was asked to show.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ..e2e.conftest import wait_until
from .test_capture_failures import Wall, started  # noqa: F401, F811  (a fixture)


@pytest.mark.render
@pytest.mark.sync
@pytest.mark.e2e
def test_a_headless_node_reports_its_health_in_status(
        tmp_path: Path, ice_exb: Path, started: Callable[..., subprocess.Popen[bytes]]
        ) -> None:
    wall = Wall(tmp_path, ice_exb, started, ["-m", "exhibit_engine.cli"])
    try:
        node = wait_until(lambda: (n := wall.me()) and n["fps"] > 0 and n, 60.0,
                          "the node to report a frame rate")
        assert 0 < node["fps"] <= 1000
        assert node["frame_ms_worst"] > 0
        assert isinstance(node["frames_dropped"], int) and node["frames_dropped"] >= 0
        # The GL renderer, vendor and version, as the driver names them.
        assert "OpenGL" in node["renderer"] and len(node["renderer"]) <= 256
        # Memory only where the driver tells (llvmpipe does not): never a guess.
        for key in ("gpu_memory_mb", "gpu_free_mb"):
            assert node[key] is None or node[key] > 0
        assert node["cue"] == "castle"            # the sample show's first cue
        assert node["bundles"] and all(re.fullmatch(r"\d+\.\d+\.\d+.*|broken", v)
                                       for v in node["bundles"].values())
        assert "broken" not in node["bundles"].values()
        assert node["item"] == ""                 # nothing selected yet
        # A kiosk selects an item in Russian: the node's next frames draw them.
        wall.op.command("select", item="lantern")
        wall.op.command("language", language="ru")
        node = wait_until(lambda: (n := wall.me()) and n["item"] == "lantern"
                          and n["language"] == "ru" and n, 30.0,
                          "the node to report the selected item and language")
        assert node["cue"] == "castle"
        show = wall.op.command("status")["show"]
        assert (show["selected_item"], show["language"]) == ("lantern", "ru")
        # The operator's table has the projector's fps, worst frame and dropped frames.
        from click.testing import CliRunner

        from exhibit_engine.cli import main

        res = CliRunner().invoke(main, ["status", "--host", "127.0.0.1", "--state-port",
                                        str(wall.state_port)], env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        head = next(line for line in res.output.splitlines() if "fps" in line)
        assert "worst ms" in head and "dropped" in head
        row = next(line for line in res.output.splitlines() if wall.display in line)
        assert re.search(r"\d+\.\d", row), row
        # ... and what it draws: the cue, the selected item, the language
        assert "castle · lantern (ru)" in row, row
        assert "item 'lantern', language ru" in res.output.splitlines()[0]
    finally:
        wall.op.close()
    log = (tmp_path / "node.log").read_text(errors="replace")
    assert "Traceback" not in log
