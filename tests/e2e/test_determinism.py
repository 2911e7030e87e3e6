"""Every sample scene, at several show times, draws the same pixels in any process.

This is the sync strategy (DESIGN.md, "Determinism is the sync strategy"): two nodes
that agree on t draw the same frame. Each frame here is rendered by two separate
`exhibit render` processes and compared byte for byte.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets.pack import pack

pytestmark = [pytest.mark.e2e, pytest.mark.render]

ROOT = Path(__file__).resolve().parents[2]
EXHIBIT = Path(sys.executable).with_name("exhibit")
SCENES = [("ice-festival", "castle-night"), ("ice-festival", "lantern-walk"),
          ("northern-prints", "gallery-walk"), ("heritage", "gallery")]
TIMES = (7.25, 41.5)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundles")
    for source in sorted({s for s, _ in SCENES}):
        pack(ROOT / "content" / source, out / f"{source}.exb")
    return out


def _render(bundle: Path, scene: str, t: float, out: Path) -> str:
    res = subprocess.run([str(EXHIBIT), "render", str(bundle), "--scene", scene, "--at",
                          repr(t), "--size", "240x135", "-o", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    with Image.open(out) as img:
        return hashlib.sha256(img.convert("RGB").tobytes()).hexdigest()


@pytest.mark.parametrize(("source", "scene"), SCENES, ids=[s for _, s in SCENES])
def test_two_processes_draw_identical_pixels(bundles: Path, tmp_path: Path, source: str,
                                             scene: str) -> None:
    bundle = bundles / f"{source}.exb"
    hashes = {t: [_render(bundle, scene, t, tmp_path / f"{t}-{i}.png") for i in range(2)]
              for t in TIMES}
    for t, (a, b) in hashes.items():
        assert a == b, f"{scene} at t={t}: two processes drew different pixels"
    assert hashes[TIMES[0]][0] != hashes[TIMES[1]][0], "different times, different frames"


def test_a_display_render_is_the_slice_its_projector_sends(ice_exb: Path,
                                                           tmp_path: Path) -> None:
    """`exhibit render --venue --display` applies the display's edge blend: the sample
    venue's left projector fades out towards its right edge (0.8 m of its 4 m overlap
    'centre'), while its left edge, which nothing overlaps, keeps the picture."""
    png = tmp_path / "left.png"
    res = subprocess.run([str(EXHIBIT), "render", str(ice_exb), "--scene", "castle-night",
                          "--at", "10", "--size", "240x150", "--venue",
                          str(ROOT / "content" / "venue.toml"), "--display", "left",
                          "-o", str(png)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    with Image.open(png) as img:
        left = np.asarray(img.convert("RGB"), dtype=np.float64)
    edge, inside, far_left = left[:, -2:].mean(), left[:, -60:-50].mean(), left[:, :10].mean()
    assert far_left > 20 and inside > 20     # the picture itself is there
    assert edge < 0.1 * inside               # ... and ramps out over the overlap
