"""`exhibit demo --headless`, run as a user runs it: the stitched wall is seamless."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import CONTENT

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]

EXHIBIT = Path(sys.executable).with_name("exhibit")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def test_demo_stitches_a_seamless_wall(tmp_path: Path) -> None:
    out = tmp_path / "out" / "demo"
    res = subprocess.run([str(EXHIBIT), "demo", "--headless", "--out", str(out),
                          "--content", str(CONTENT)],
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "nodes joined: 2/2" in res.stdout
    for display in ("left", "right"):
        assert re.search(rf"^\s+{display}\s+-?[\d.]+ us\s+[\d.]+ us\s+\d+$", res.stdout, re.M)
    at = float(re.search(r"captured show time t=([\d.]+) s", res.stdout).group(1))

    wall = np.asarray(Image.open(out / "wall.png").convert("RGB"))
    assert wall.shape == (400, 1280, 3)
    assert wall.std() > 8, "the wall is nearly one flat colour"

    # The seam: two slices drawn by two processes, side by side. Render the whole wall in
    # one go at the same show time; the stitched picture must match it.
    whole = tmp_path / "whole.png"
    subprocess.run([str(EXHIBIT), "render", str(out.parent / "bundles" / "ice-festival.exb"),
                    "--scene", "castle-night", "--at", repr(at), "--size", "1280x400",
                    "--venue", str(CONTENT / "venue.toml"), "-o", str(whole)],
                   check=True, capture_output=True, timeout=120)
    ref = np.asarray(Image.open(whole).convert("RGB"))
    assert psnr(wall, ref) > 30.0
    seam = slice(630, 650)
    assert psnr(wall[:, seam], ref[:, seam]) > 28.0
