"""The ``prints`` scene kind and its sample bundle (content/northern-prints).

Render tests draw 320 x 180 frames on p3headlessgl and compare them with the reference
images in tests/scenes/reference/prints-t<T>.png. Tolerance, per channel in 0..255:
mean absolute difference below 2 and 99th percentile below 24 (llvmpipe is
deterministic here; this allows small driver differences elsewhere). A blank frame or a
shader that stops compiling fails them. Regenerate the references with::

    EXHIBIT_UPDATE_REFERENCE=1 .venv/bin/python -m pytest tests/scenes/test_scenes_prints.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets.bundle import Bundle, validate
from exhibit_engine.assets.pack import pack
from exhibit_engine.errors import SceneError
from exhibit_engine.scenes.prints import PrintsParams, walk_pose
from exhibit_engine.scenes.registry import get_kind

from .reference import REFERENCE, assert_matches_reference, matches

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content" / "northern-prints"
SCENE = "gallery-walk"
SIZE = (320, 180)
TIMES = (0.0, 20.0, 50.0)
# Bundle params: walk 5 s, settle 1.2 s, 2.5 s per block, start 18 s: show time -10.55
# is half-way through the first block of print 1 (6 blocks), 5.2 is 2 s after its last.
EARLY_T, LATE_T = -10.55, 5.2

_CHILD = """
import hashlib, json, sys
from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.runtime.render import Renderer
with Bundle.open(sys.argv[1]) as b, Renderer((320, 180)) as r:
    r.load(b, "gallery-walk")
    r.render(float(sys.argv[2]))
    print(json.dumps(hashlib.sha256(r.snapshot().tobytes()).hexdigest()))
"""


_BROKEN = """
import sys
from pathlib import Path
from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.errors import RenderError
from exhibit_engine.runtime.render import Renderer
from exhibit_engine.scenes import base
base._SHADER_DIR = Path(sys.argv[2])
with Bundle.open(sys.argv[1]) as b, Renderer((320, 180)) as r:
    r.load(b, "gallery-walk")
    try:
        r.render(0.0)
        print("rendered")
    except RenderError as exc:
        print("RenderError", exc)
"""


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def prints_exb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prints") / "northern-prints.exb"
    pack(CONTENT, out)
    return out


@pytest.fixture(scope="module")
def renderer(prints_exb: Path):
    from exhibit_engine.runtime.render import Renderer

    with Bundle.open(prints_exb) as bundle, Renderer(SIZE) as r:
        r.load(bundle, SCENE)
        yield r


def frame(r, t: float, state: dict | None = None) -> np.ndarray:
    r.render(t, state or {})
    return np.asarray(r.snapshot(), dtype=np.float64)


# --------------------------------------------------------------------------- content


def test_generator_reproduces_the_committed_content(tmp_path: Path) -> None:
    out = tmp_path / "prints"
    subprocess.run([sys.executable, str(ROOT / "tools" / "gen_prints.py"), "--out", str(out)],
                   check=True, capture_output=True, timeout=180)
    made, committed = files(out), files(CONTENT)
    assert sorted(made) == sorted(committed)
    for name in made:
        assert made[name] == committed[name], f"{name} differs: run tools/gen_prints.py"


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
def test_a_print_shader_that_does_not_compile_fails_the_render(prints_exb: Path,
                                                               tmp_path: Path) -> None:
    # In a child process: a second renderer closed in this one would disturb the
    # module's renderer (its GL objects are released with the other engine's).
    from exhibit_engine.scenes import base

    shaders = tmp_path / "shaders"
    shutil.copytree(base._SHADER_DIR, shaders)
    src = (shaders / "print.frag.glsl").read_text()
    (shaders / "print.frag.glsl").write_text(src.replace("sheet *= mix", "sheet *= mux"))
    proc = subprocess.run([sys.executable, "-c", _BROKEN, str(prints_exb), str(shaders)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
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
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(prints_exb), "33.5"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    frame(renderer, 61.0)          # a different frame first: nothing may carry over
    here = hashlib.sha256(frame(renderer, 33.5).astype(np.uint8).tobytes()).hexdigest()
    hashes = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        hashes.append(json.loads(out.strip().splitlines()[-1]))
    assert hashes[0] == hashes[1] == here
