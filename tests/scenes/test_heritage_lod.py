"""A 5-million-triangle scan in a heritage scene, on overlapping wall slices: every slice
draws the same level of detail, the seam stays clean, and the level follows the camera.

The scan is the one ``exhibit bench scan`` makes (a worn vase with an 8K-class texture,
here a small one), placed so that it stands in the overlap of the left and centre
projectors of ``exhibit bench wall``'s three-projector venue.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.pack import pack
from exhibit_engine.bench.scan import make_scan
from exhibit_engine.bench.wall import WallBenchOptions, bench_venue
from exhibit_engine.bench.wall import run as wall_run
from exhibit_engine.runtime.cache import ModelCache
from exhibit_engine.runtime.render import Renderer
from exhibit_engine.wall.frustum import display_frustum, venue_lod

SIZE = (320, 200)
OVERLAP = 0.2
# The rest camera looks along +y from 4.3 m; the bench venue's wall is a 90-degree
# window, so world x = (u - 0.5) * 8.6 at the vase's depth. The left|centre overlap of
# three 320-pixel slices overlapping by 64 is at u = 288 / 832.
AT_X = (288 / 832 - 0.5) * 8.6


@pytest.fixture(scope="module")
def scan_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("scan") / "src"
    tris = make_scan(src, 5_000_000, 512)
    assert tris >= 5_000_000
    toml = (src / "bundle.toml").read_text(encoding="utf-8")
    (src / "bundle.toml").write_text(toml.replace("at = [0.0, 0.0]", f"at = [{AT_X:.4f}, 0.0]"),
                                     encoding="utf-8")
    return src


@pytest.fixture(scope="module")
def scan_bundle(scan_source: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Bundle]:
    out = tmp_path_factory.mktemp("exb") / "scan.exb"
    pack(scan_source, out)
    with Bundle.open(out) as bundle:
        yield bundle


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> ModelCache:
    return ModelCache(tmp_path_factory.mktemp("cache"))


def test_overlapping_slices_choose_the_same_level_at_every_moment(
        scan_bundle: Bundle, cache: ModelCache) -> None:
    venue, _ = bench_venue(SIZE, OVERLAP)
    left, centre = venue.displays[:2]
    shown = {}
    for d in (left, centre):
        with Renderer(SIZE, cache=cache) as r:
            r.set_frustum(display_frustum(venue.wall, d))
            r.set_lod(venue_lod(venue.wall, venue.displays, d.rect, SIZE))
            r.load(scan_bundle, "gallery")
            scene = r.current_scene
            assert scene is not None
            # the scan and both of pack's LODs are loaded
            assert len(scene._lods["vase"][0]) == 3
            states = [{}, {"selected_item": "vase", "selected_at": 4.0}]
            shown[d.id] = [scene.level_shown("vase", t / 4, st) for st in states
                           for t in range(0, 48)]
    assert shown[left.id] == shown[centre.id]
    # at wall distance the coarsest level is enough; a close-up on a selection asks
    # for no coarser one
    assert shown[left.id][0] == (2, 2, 1.0)


def test_the_level_follows_the_camera_on_a_large_wall(scan_bundle: Bundle,
                                                      cache: ModelCache) -> None:
    venue, _ = bench_venue((1920, 1080), OVERLAP)
    with Renderer((192, 108), cache=cache) as r:     # a node's slice, drawn small
        d = venue.displays[0]
        r.set_lod(venue_lod(venue.wall, venue.displays, d.rect, (192, 108)))
        r.load(scan_bundle, "gallery")
        scene = r.current_scene
        state = {"selected_item": "vase", "selected_at": 2.0}
        levels = [scene.level_shown("vase", t / 4, state) for t in range(0, 80)]
    assert levels[0][1] > levels[-1][1], "the close-up draws a finer level"
    fades = [w for old, new, w in levels if old != new]
    assert fades and all(0.0 <= w < 1.0 for w in fades), "the change fades, never pops"


def test_the_seam_stays_clean_with_the_scan_in_the_overlap(
        scan_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXHIBIT_CACHE_DIR", str(tmp_path / "cache"))
    report = wall_run(WallBenchOptions(source=scan_source, scene="gallery", size=SIZE,
                                       overlap=OVERLAP, t=5.0, frames=0,
                                       save=tmp_path, workdir=tmp_path))
    seam = report.value("overlap_left_centre_psnr_db")
    assert seam is not None and seam >= 40.0, report.overlaps
    assert report.value("seam_psnr_db") >= 40.0
    # the vase is in that overlap: the composite there is not just the dark room
    from PIL import Image

    whole = np.asarray(Image.open(tmp_path / "wall-whole.png").convert("RGB"), np.float64)
    box = whole[:, 256:320]
    assert box.max() - np.median(whole) > 60, "the lit scan stands in the overlap"
