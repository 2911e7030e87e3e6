"""The ``heritage`` scene kind: sample content, choreography and real offscreen frames.

Render tests draw 320 x 180 frames of the packed sample bundle on p3headlessgl
(llvmpipe) and compare them with committed references in ``reference/heritage-*.png``.
Tolerance: mean absolute difference below 2/255 and 99th percentile below 24/255 per
channel value (room for a different llvmpipe or Mesa build, none for a missing
object, label or shader). A blank frame or one where a shader failed cannot pass.
To refresh the references after a deliberate change, run this file with
``EXHIBIT_UPDATE_REFERENCE=1`` and look at every image before committing it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.errors import SceneError
from exhibit_engine.scenes import _heritage_plan as plan

from ..frames import broken_shader_render, child_frame_hashes, frame, frame_hash, start_child_frames
from .reference import REFERENCE, assert_matches_reference, matches

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content" / "heritage"
EXB, SCENE, SIZE = "heritage_exb", "gallery", (320, 180)      # for the renderer fixture

#: (reference name, show time, state)
SHOTS = (
    ("overview-t0", 0.0, {}),
    ("ding-t20", 20.0, {}),
    ("bowl-t50-en", 50.0, {"language": "en"}),
    ("vase-selected-ru", 38.0, {"selected_item": "vase", "language": "ru"}),
)


# --------------------------------------------------------------------------- content


def test_sample_bundle_packs_small_with_three_languages(heritage_exb: Path) -> None:
    assert heritage_exb.stat().st_size < 8_000_000
    with Bundle.open(heritage_exb) as bundle:
        m = bundle.manifest
        assert {i.id for i in m.items} >= {"ding", "vase", "bowl"}
        scene = next(s for s in m.scenes if s.id == SCENE)
        assert scene.kind == "heritage"
        assert all(set(v) == {"zh", "en", "ru"} for v in scene.labels.values())
        p = plan.HeritageParams.parse(scene.id, scene.params, scene.labels, scene.assets)
        assert all(a.annotations for a in p.artifacts) and len(p.tour) >= 3
        # clean GLBs under the LOD threshold pass through: no LODs
        assert not any(".lod" in f.path for f in m.files)


# --------------------------------------------------------------------------- pure half


def params() -> plan.HeritageParams:
    import tomllib

    doc = tomllib.loads((CONTENT / "bundle.toml").read_text(encoding="utf-8"))
    s = doc["scenes"][0]
    return plan.HeritageParams.parse(s["id"], s["params"], s["labels"], s["assets"])


def test_tour_eases_and_holds() -> None:
    p = params()
    frames = {a.item: plan.focus_pose(a, 0.4, 0.2) for a in p.artifacts}
    rest = plan.Pose((0, -4, 1.6), (0, 0, 1))
    first = p.tour[0]
    a = plan.tour_pose(p, 0.0, frames, rest)
    assert plan.tour_pose(p, first.hold - 0.01, frames, rest) == a          # a hold is still
    start = first.hold
    eyes = [plan.tour_pose(p, start + k * 0.01, frames, rest).eye for k in range(3)]
    assert np.linalg.norm(np.subtract(eyes[1], eyes[0])) < 1e-4            # eased start
    assert plan.tour_pose(p, p.tour_length, frames, rest) == a              # loops
    assert plan.caption_weights(p, 0.0, {}) == (first.caption, 1.0)


def test_bad_parameters_are_refused_naming_the_key() -> None:
    p = params()
    with pytest.raises(SceneError, match="tour"):
        plan.HeritageParams.parse("g", {"artifacts": [{"item": "x", "model": "m.glb",
                                                       "at": [0, 0], "title": "t"}],
                                        "tour": [{"hold": 3}]}, {"t": {}}, ["m.glb"])
    with pytest.raises(SceneError, match="model"):
        plan.HeritageParams.parse("g", {"artifacts": [{"item": "x", "model": "n.glb",
                                                       "at": [0, 0], "title": "t"}]},
                                  {"t": {}}, ["m.glb"])
    assert p.artifact("ding") is not None


# --------------------------------------------------------------------------- renders



@pytest.mark.render
@pytest.mark.parametrize(("name", "t", "state"), SHOTS, ids=[s[0] for s in SHOTS])
def test_frames_match_the_references(renderer, name: str, t: float, state: dict) -> None:
    img = frame(renderer, t, state)
    assert img.std() > 10.0, "not a blank frame"
    assert_matches_reference(f"heritage-{name}", img)


@pytest.mark.render
def test_a_blank_frame_fails_the_reference_check() -> None:
    ref = np.asarray(Image.open(REFERENCE / "heritage-ding-t20.png").convert("RGB"), float)
    for fake in (np.zeros_like(ref), np.full_like(ref, ref.mean())):
        assert not matches(fake, ref)


@pytest.mark.render
def test_a_broken_shader_stops_the_render(heritage_exb: Path) -> None:
    # In a child process: a failed shader must not disturb this process's renderer.
    p = broken_shader_render(heritage_exb, SCENE, 20.0, "heritage_artifact.frag.glsl",
                             "void main() {", "void main() { undefined_symbol;")
    assert p.returncode == 0, p.stderr
    assert "refused:" in p.stdout and "compile" in p.stdout
    assert "heritage" in p.stdout or "gallery" in p.stdout


@pytest.mark.render
def test_selection_frames_the_artifact(renderer) -> None:
    tour = frame(renderer, 2.0)
    chosen = frame(renderer, 2.0, {"selected_item": "bowl"})
    # the bowl's red clay fills far more of the frame when it is selected
    def red(a: np.ndarray) -> float:
        return float(np.mean((a[..., 0] > a[..., 1] + 30) & (a[..., 0] > 90)))
    assert red(chosen) > 10 * red(tour) and red(chosen) > 0.01
    # an eased approach: half-way differs from both ends, and it settles
    st = {"selected_item": "bowl", "selected_at": 2.0}
    mid, end = frame(renderer, 3.5, st), frame(renderer, 9.0, st)
    assert np.abs(frame(renderer, 2.0, st) - tour).mean() < 0.5
    assert np.abs(mid - end).mean() > 3.0
    assert np.abs(end - frame(renderer, 9.0, {"selected_item": "bowl"})).mean() < 3.0


@pytest.mark.render
def test_annotations_follow_the_language(renderer) -> None:
    zh, en, ru = (frame(renderer, 20.0, {"language": k}) for k in ("zh", "en", "ru"))
    # text lives in the columns left and right of the object
    cols = np.r_[0:110, 210:320]
    for a, b in ((zh, en), (en, ru), (zh, ru)):
        assert np.abs(a[:, cols] - b[:, cols]).mean() > 0.5
    assert np.abs(zh[:, 130:190] - en[:, 130:190])[:120].mean() < 1.0, "the object is the same"


@pytest.mark.render
def test_same_time_gives_identical_pixels_in_two_processes(heritage_exb: Path, renderer) -> None:
    state = {"language": "ru"}
    procs = start_child_frames(heritage_exb, SCENE, 21.5, state, SIZE)
    frame(renderer, 50.0)                   # a different frame first: nothing carries over
    here = frame_hash(renderer, 21.5, state)
    out = child_frame_hashes(procs)
    assert out[0] == out[1] == here
