"""The ``prints`` scene kind and its sample bundle (content/northern-prints).

Render tests draw 320 x 180 frames on p3headlessgl and compare them with the reference
images in tests/scenes/reference/prints-t<T>.png. Tolerance, per channel in 0..255:
mean absolute difference below 2 and 99th percentile below 24 (llvmpipe is
deterministic here; this allows small driver differences elsewhere). A blank frame or a
shader that stops compiling fails them. Regenerate the references with::

    EXHIBIT_UPDATE_REFERENCE=1 .venv/bin/python -m pytest tests/scenes/test_scenes_prints.py
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets import image
from exhibit_engine.assets.bundle import Bundle, validate
from exhibit_engine.assets.woodblock_pack import print_images
from exhibit_engine.errors import SceneError
from exhibit_engine.scenes.prints import PrintsParams, walk_pose
from exhibit_engine.scenes.registry import get_kind

from ..frames import broken_shader_render, child_frame_hashes, frame, frame_hash, start_child_frames
from .reference import REFERENCE, assert_matches_reference, matches

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content" / "northern-prints"
EXB, SCENE, SIZE = "prints_exb", "gallery-walk", (320, 180)    # for the renderer fixture
TIMES = (0.0, 20.0, 50.0)
# Bundle params: walk 5 s, settle 1.2 s, 2.5 s per block, start 18 s: show time -10.55
# is half-way through the first block of print 1 (6 blocks), 5.2 is 2 s after its last.
EARLY_T, LATE_T = -10.55, 5.2


# --------------------------------------------------------------------------- content


def test_bundle_packs_validates_and_is_small(prints_exb: Path) -> None:
    assert prints_exb.stat().st_size < 8_000_000
    validate(prints_exb)
    with Bundle.open(prints_exb) as b:
        m = b.manifest
        assert m.id == "northern-prints" and len(m.items) >= 3
        assert all(set(i.title) == {"zh", "en", "ru"} for i in m.items)
        assert all(i.creator and i.date and i.rights for i in m.items)
        scene = b.scene(SCENE)
        assert scene.kind == "prints" and get_kind("prints").kind == "prints"
        docs = [json.loads(b.read(a)) for a in scene.assets if a.endswith("blocks.json")]
        assert len(docs) >= 3
        for doc in docs:
            assert 4 <= len(doc["blocks"]) <= 7
            assert doc["blocks"][-1]["ink"] == "#2a2421", "the key block prints last"
            for blk in doc["blocks"]:
                img = Image.open(__import__("io").BytesIO(b.read(blk["mask"])))
                assert max(img.size) == 1024
        for item in m.items:
            for key in (f"{item.id}.title", f"{item.id}.technique"):
                assert set(scene.labels[key]) == {"zh", "en", "ru"}



def test_every_sample_print_carries_its_finished_print(prints_exb: Path) -> None:
    """The kiosk's carousel thumbnail and zoomable picture, for each print on the wall."""
    with Bundle.open(prints_exb) as b:
        listed = {f.path for f in b.manifest.files}
        docs = [json.loads(b.read(a)) for a in b.scene(SCENE).assets
                if a.endswith("blocks.json")]
        for doc in docs:
            where = print_images(doc["item"])
            assert {where.picture, where.thumbnail, where.iiif_info} <= listed
            picture = Image.open(io.BytesIO(b.read(where.picture)))
            thumb = Image.open(io.BytesIO(b.read(where.thumbnail)))
            mask = Image.open(io.BytesIO(b.read(doc["blocks"][0]["mask"])))
            info = json.loads(b.read(where.iiif_info))
            assert picture.size == mask.size and max(thumb.size) == image.THUMB_SIDE
            assert (info["width"], info["height"]) == picture.size
            assert f"{where.iiif}/full/512,362/0/default.jpg" in listed
            px = np.asarray(picture, dtype=np.float64)
            assert px.std() > 20, "a print, not a blank sheet"


def test_params_are_checked() -> None:
    with pytest.raises(SceneError):
        PrintsParams.parse("s", {"bogus": 1})
    with pytest.raises(SceneError):
        PrintsParams.parse("s", {"block_s": "fast"})
    with pytest.raises(SceneError):
        PrintsParams.parse("s", {"spacing": 0.5})
    assert PrintsParams.parse("s", {"block_s": 3}).block_s == 3.0


def test_walk_is_pure_loops_and_prints_in_order() -> None:
    p = PrintsParams(start=18.0)
    counts = [6, 6, 5]
    assert walk_pose(33.3, counts, p) == walk_pose(33.3, counts, p)
    cycle = sum(p.walk_s + p.settle_s + n * p.block_s + p.pause_s for n in counts)
    a, b = walk_pose(12.0, counts, p), walk_pose(12.0 + cycle, counts, p)
    assert a.levels == b.levels and a.x == pytest.approx(b.x)
    early, late = walk_pose(EARLY_T, counts, p), walk_pose(LATE_T, counts, p)
    assert early.current == late.current == 0
    assert early.levels[0] == pytest.approx(0.5) and late.levels[0] == 6.0
    assert walk_pose(-18.0 + cycle - 0.01, counts, p).fade < 0.05, "the loop fades out"


# --------------------------------------------------------------------------- rendering


@pytest.mark.render
@pytest.mark.parametrize("t", TIMES)
def test_render_matches_reference(renderer, t: float) -> None:
    got = frame(renderer, t)
    assert_matches_reference(f"prints-t{int(t)}", got)
    assert got.std() > 15.0, "not a flat frame"


@pytest.mark.render
def test_the_tolerance_rejects_a_blank_frame() -> None:
    ref = np.asarray(Image.open(REFERENCE / "prints-t0.png").convert("RGB"), dtype=np.float64)
    for blank in (np.zeros_like(ref), np.full_like(ref, ref.mean())):
        assert not matches(blank, ref)


@pytest.mark.render
def test_a_print_shader_that_does_not_compile_fails_the_render(prints_exb: Path) -> None:
    # In a child process: a second renderer closed in this one would disturb the
    # module's renderer (its GL objects are released with the other engine's).
    from exhibit_engine.scenes import base

    assert "sheet *= mix" in base.shader_source("print.frag.glsl")
    proc = broken_shader_render(prints_exb, SCENE, 0.0, "print.frag.glsl", "sheet *= mix",
                                "sheet *= mux")
    assert proc.returncode == 0, proc.stderr
    assert "RenderError" in proc.stdout and "compile" in proc.stdout, proc.stdout


@pytest.mark.render
def test_the_reveal_prints_more_ink_later(renderer) -> None:
    early, late = frame(renderer, EARLY_T), frame(renderer, LATE_T)
    # the sheet, with the camera standing at print 1 (same pose at both times)
    box = (slice(62, 112), slice(75, 150))
    e, l_ = early[box], late[box]
    assert np.abs(early[:, 200:] - late[:, 200:]).mean() < 8.0, "same view of the wall"
    dark_e = (e.mean(axis=2) < 90).mean()
    dark_l = (l_.mean(axis=2) < 90).mean()
    assert dark_l > dark_e + 0.02, f"key block adds dark ink ({dark_e:.3f} -> {dark_l:.3f})"
    assert l_.std() > e.std() + 5.0, "the finished print has more contrast"


@pytest.mark.render
def test_captions_follow_the_visitor_language(renderer) -> None:
    zh = frame(renderer, 0.0, {"language": "zh"})
    en = frame(renderer, 0.0, {"language": "en"})
    ru = frame(renderer, 0.0, {"language": "ru"})
    caption = (slice(40, 90), slice(185, 300))
    assert np.abs(zh[caption] - en[caption]).mean() > 1.0
    assert np.abs(en[caption] - ru[caption]).mean() > 1.0
    assert np.abs(zh[:, :170] - en[:, :170]).mean() < 0.5, "only the caption changes"
    assert np.array_equal(frame(renderer, 0.0, {"language": "xx"}), zh)
    dim = frame(renderer, 0.0, {"fade": 0.25})
    assert dim.mean() < zh.mean() * 0.6


@pytest.mark.render
def test_same_time_gives_identical_pixels_in_separate_processes(prints_exb: Path,
                                                                renderer) -> None:
    procs = start_child_frames(prints_exb, SCENE, 33.5, size=SIZE)
    frame(renderer, 61.0)          # a different frame first: nothing may carry over
    here = frame_hash(renderer, 33.5)
    hashes = child_frame_hashes(procs)
    assert hashes[0] == hashes[1] == here
