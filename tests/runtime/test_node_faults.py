"""A cue that cannot be shown at show time never stops a node.

The start-up check (``exhibit show check``, run by every node) catches a misspelt scene.
What it cannot foresee, a scene whose build fails on the projector, used to end the node
with a traceback, and its projector went dark at that cue every day. Now the node logs
it once, reports it in its status (``extra.fault``), shows the standby scene meanwhile
and goes on.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ..e2e.conftest import wait_until
from .test_capture_failures import Wall, started  # noqa: F401, F811  (a fixture)

#: ``exhibit`` whose ice scene "castle-night" (the sample show's first cue) fails to build.
_BROKEN_CASTLE = """
import sys
from exhibit_engine.errors import SceneError
from exhibit_engine.scenes import ice
real_build = ice.IceScene.build
def build(self):
    if self.ctx.spec.id == "castle-night":
        raise SceneError("castle-night", "injected: its model cannot be built here")
    return real_build(self)
ice.IceScene.build = build
from exhibit_engine.cli import main
sys.argv = ['exhibit', *sys.argv[1:]]
main()
"""


def assert_standby_drawn(wall: Wall, node: dict[str, Any]) -> None:
    """The faulted node (its status was ``node``) keeps rendering, draws the standby scene
    (the lantern walk, not black) in a capture, and is still running."""
    wait_until(lambda: (n := wall.me()) and n["frames"] > node["frames"] + 5, 30.0,
               "the node to keep rendering")
    res = wall.ctl_capture("during-the-fault")
    assert res.exit_code == 0, res.output
    (png,) = wall.captures.iterdir()
    with Image.open(png) as im:
        pixels = np.asarray(im.convert("RGB"), dtype=np.float64)
    assert pixels.mean() > 3.0, "standby (the lantern walk) is drawn, not black"
    assert wall.node.poll() is None


@pytest.mark.render
@pytest.mark.sync
@pytest.mark.e2e
def test_a_cue_whose_scene_fails_to_build_is_reported_and_standby_shows(
        tmp_path: Path, ice_exb: Path, started: Callable[..., subprocess.Popen[bytes]]
        ) -> None:
    wall = Wall(tmp_path, ice_exb, started, ["-c", _BROKEN_CASTLE])
    try:
        node = wait_until(lambda: (n := wall.me()) and "fault" in n["extra"] and n, 30.0,
                     "the node to report the fault")
        assert node["extra"]["fault"].startswith("cue 'castle' cannot be shown: ")
        assert "injected" in node["extra"]["fault"]
        assert_standby_drawn(wall, node)
    finally:
        wall.op.close()
    log = (tmp_path / "node.log").read_text(errors="replace")
    assert "Traceback" not in log
    assert log.count("cue 'castle' cannot be shown") == 1      # logged once, not per frame
