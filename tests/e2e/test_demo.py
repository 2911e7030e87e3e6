"""`exhibit demo --headless`, run as a user runs it: the blended wall is seamless."""

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


def test_demo_blends_three_projectors_into_a_seamless_wall(tmp_path: Path) -> None:
    out = tmp_path / "out" / "demo"
    res = subprocess.run([str(EXHIBIT), "demo", "--headless", "--out", str(out),
                          "--content", str(CONTENT)],
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "nodes joined: 3/3" in res.stdout
    for display in ("left", "centre", "right"):
        assert re.search(rf"^\s+{display}\s+-?[\d.]+ us\s+[\d.]+ us\s+\d+$", res.stdout, re.M)
    at = float(re.search(r"captured show time t=([\d.]+) s", res.stdout).group(1))

    assert f"blended wall (slices composited in linear light) -> {out / 'wall.png'}" \
        in res.stdout
    assert f"layout of the projectors on the wall -> {out / 'layout.png'}" in res.stdout
    wall = np.asarray(Image.open(out / "wall.png").convert("RGB"))
    assert wall.shape == (400, 1664, 3)   # 10.4 m at a third of 480 px/m
    assert wall.std() > 8, "the wall is nearly one flat colour"
    with Image.open(out / "layout.png") as layout:
        assert layout.width > 600

    # The strip across the first cue change: the castle crossfades into the prints.
    assert f"the wall across the first cue change (6 frames) -> {out / 'cue-change.png'}" \
        in res.stdout
    strip = np.asarray(Image.open(out / "cue-change.png").convert("RGB")).astype(np.float64)
    tile_h = (strip.shape[0] - 4) // 2
    assert strip.shape[1] == 3 * 560 + 2 * 4 and tile_h > 100
    tiles = [strip[r * (tile_h + 4) + 22:r * (tile_h + 4) + tile_h, c * 564:c * 564 + 560]
             for r in range(2) for c in range(3)]
    first, mid, last = tiles[0], tiles[2], tiles[5]
    assert np.abs(first - last).mean() > 20.0, "the cue changed: another bundle's scene"
    # mid-crossfade is a blend: nearer to each end than the ends are to each other
    ends = np.abs(first - last).mean()
    assert np.abs(mid - first).mean() < ends and np.abs(mid - last).mean() < ends
    assert not list(out.glob("change-*.png")), "the strip's frames are not left behind"

    # Each node's capture is its projector's output: the blend ramp fades its overlap
    # edge to black (the neighbour's light fills it in).
    left = np.asarray(Image.open(out / "left-wall.png").convert("RGB")).astype(np.float64)
    centre = np.asarray(Image.open(out / "centre-wall.png").convert("RGB")).astype(np.float64)
    assert left.shape == centre.shape == (400, 640, 3)
    assert left[:, -1].max() <= 3.0 and centre[:, 0].max() <= 3.0
    assert left[:, 300].mean() > 10.0 and centre[:, 300].mean() > 10.0

    # The overlaps: three slices drawn by three processes, composited in linear light.
    # Render the whole wall in one go at the same show time; the wall must match it.
    whole = tmp_path / "whole.png"
    subprocess.run([str(EXHIBIT), "render", str(out.parent / "bundles" / "ice-festival.exb"),
                    "--scene", "castle-night", "--at", repr(at), "--size", "1664x400",
                    "--venue", str(CONTENT / "venue.toml"), "-o", str(whole)],
                   check=True, capture_output=True, timeout=120)
    ref = np.asarray(Image.open(whole).convert("RGB"))
    assert psnr(wall, ref) > 35.0
    for overlap in (slice(512, 640), slice(1024, 1152)):
        assert psnr(wall[:, overlap], ref[:, overlap]) > 35.0
