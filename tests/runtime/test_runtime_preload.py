"""Preloading: the next scene built ahead of time, so that a cue change only swaps slots.

Rendering tests at small sizes with the ice bundle's two scenes; the node's preload
decision (``_Scenes.preload``) is driven with a recording renderer.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exhibit_engine.errors import SceneError

OUT, IN = "castle-night", "lantern-walk"
NO_SNOW = {"snow": False}


def pixels(r: Any) -> np.ndarray:
    return np.asarray(r.snapshot(), dtype=np.float64)


def render_read(r: Any, t: float, state: dict, transition: Any = None) -> np.ndarray:
    """Draw one frame and read it back at once (before any other renderer draws)."""
    r.render(t, state, transition)
    return pixels(r)


def until_ready(r: Any, t: float = 1.0, frames: int = 2000) -> int:
    """Render frames, stepping the preload after each, until it is ready; the count."""
    for n in range(frames):
        r.render(t, NO_SNOW)
        r.step_preload()
        if r.preloader.state in ("ready", "failed"):
            return n + 1
    raise AssertionError(f"preload still {r.preloader.state} after {frames} frames")


@pytest.mark.render
def test_a_preloaded_scene_is_swapped_in_without_a_build_and_draws_the_same_frame(
        ice_bundle, make_renderer, monkeypatch) -> None:
    r = make_renderer((160, 100))
    r.load(ice_bundle, OUT)
    r.preload(ice_bundle, IN)
    assert r.preloader.holds(ice_bundle, IN)
    frames = until_ready(r)
    assert frames == 3, "build, prepare (drawn by the next frame), ready: a stage a frame"
    assert r.preloader.state == "ready" and r.preloader.build_ms is not None
    assert r.preloader.prepare_ms is not None
    # the outgoing scene goes on drawing while the next one is built beside it
    drawn = render_read(r, 40.0, NO_SNOW)
    alone = make_renderer((160, 100))
    alone.load(ice_bundle, OUT)
    assert np.array_equal(drawn, render_read(alone, 40.0, NO_SNOW)), \
        "the preload draws nothing on screen"

    built: list[str] = []
    real = r._build_into

    def counting(layer: Any, bundle: Any, scene_id: str) -> None:
        built.append(scene_id)
        real(layer, bundle, scene_id)

    monkeypatch.setattr(r, "_build_into", counting)
    r.load(ice_bundle, IN)
    assert built == [], "the cue change built nothing"
    assert r.preloader.state == "idle" and not r.preloader.holds(ice_bundle, IN)
    drawn = render_read(r, 3.0, NO_SNOW)
    alone.load(ice_bundle, IN)
    assert np.array_equal(drawn, render_read(alone, 3.0, NO_SNOW)), \
        "a preloaded scene is the same scene"
    # a scene not preloaded is still built at its load
    r.load(ice_bundle, OUT)
    assert built == [OUT]


@pytest.mark.render
def test_a_preload_that_fails_raises_at_the_load_as_a_build_would(ice_bundle, make_renderer
                                                                  ) -> None:
    r = make_renderer((96, 60))
    r.load(ice_bundle, OUT)
    r.preload(ice_bundle, "no-such-scene")
    until_ready(r)
    assert r.preloader.state == "failed"
    r.render(1.0, NO_SNOW)                      # the wall goes on drawing meanwhile
    assert pixels(r).mean() > 5.0
    with pytest.raises(SceneError, match="no-such-scene"):
        r.load(ice_bundle, "no-such-scene")
    assert r.preloader.state == "idle"


@pytest.mark.render
def test_memory_stays_bounded_to_current_outgoing_and_next(ice_bundle, make_renderer) -> None:
    r = make_renderer((96, 60))
    r.load(ice_bundle, OUT)
    r.retire()
    r.load(ice_bundle, IN)                       # a transition: outgoing + current
    for scene in (OUT, IN, OUT):                 # asking again replaces the one slot
        r.preload(ice_bundle, scene)
        until_ready(r)
    held = [layer for layer in (r._current, r._outgoing, r.preloader.spare)
            if layer.scene is not None]
    assert len(held) == 3
    assert r.preloader.holds(ice_bundle, OUT) and not r.preloader.holds(ice_bundle, IN)
    r.unload()
    assert r.preloader.state == "idle" and r.preloader.spare.scene is None


@pytest.mark.render
def test_an_amortised_crossfade_stays_close_to_the_exact_blend(ice_bundle, make_renderer
                                                               ) -> None:
    """With ``amortize`` a transition redraws one side per frame: each frame is within a
    frame's motion of the exact blend (both sides drawn afresh)."""
    from exhibit_engine.runtime.transitions import Transition

    exact, cheap = make_renderer((160, 100)), make_renderer((160, 100))
    for r in (exact, cheap):
        r.load(ice_bundle, OUT)
        r.retire()
        r.load(ice_bundle, IN)
    cheap.amortize = True
    dt = 1.0 / 30.0
    last = None
    for i in range(8):
        w = 0.3 + 0.02 * i
        tr = Transition("crossfade", w, 40.0 + i * dt, NO_SNOW)
        # each read right after its own frame: with two renderers alive in one process
        # (after an earlier one was closed), llvmpipe's EGL can hand one renderer's
        # read-back the other's later frame
        want, got = (render_read(r, 1.0 + i * dt, NO_SNOW, tr) for r in (exact, cheap))
        off = float(np.abs(want - got).mean())
        if i == 0:
            assert off < 0.5, "the first frame of a transition draws both sides"
        else:
            motion = float(np.abs(want - last).mean())     # one frame of the show
            assert 0.0 < off <= motion + 0.5, (i, off, motion)
        last = want
    cheap.amortize = False
    tr = Transition("crossfade", 0.5, 41.0, NO_SNOW)
    assert np.array_equal(*(render_read(r, 2.0, NO_SNOW, tr) for r in (exact, cheap))), \
        "amortize off: exact again"


# --------------------------------------------------------------------------- the node


@dataclass
class Recorder:
    """Records what the node's preload decision asks of the renderer."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)

    class preloader:            # holds nothing: every ask reaches preload()
        @staticmethod
        def holds(bundle: Any, scene_id: str) -> bool:
            return False

    def step_preload(self) -> None:
        self.calls.append(("step",))

    def preload(self, bundle: Any, scene_id: str) -> None:
        self.calls.append(("preload", bundle, scene_id))


def _node_scenes(tmp_path: Path, ice_exb: Path) -> Any:
    from exhibit_engine.config import load_show, load_venue
    from exhibit_engine.config.roles import NodeSettings
    from exhibit_engine.runtime.node_app import _Scenes

    folder = tmp_path / "bundles"
    folder.mkdir()
    shutil.copy(ice_exb, folder / "ice-festival.exb")
    (tmp_path / "show.toml").write_text(SHOW, encoding="utf-8")
    show = load_show(tmp_path / "show.toml")
    venue = load_venue(CONTENT / "venue.toml")
    scenes = _Scenes(NodeSettings(venue, venue.displays[0], "127.0.0.1", 1, 2, str(folder)),
                     show)
    scenes.bundle("ice-festival")               # the boot check
    return scenes, folder / "ice-festival.exb"


def test_the_node_preloads_the_next_cue_once_its_cue_is_under_way(tmp_path: Path,
                                                                  ice_exb: Path) -> None:
    from exhibit_engine.runtime.node_app import PRELOAD_AFTER_S
    from exhibit_engine.runtime.playback import Frame
    from exhibit_engine.show import Timeline

    scenes, live = _node_scenes(tmp_path, ice_exb)
    frame = Frame("main", Timeline(tuple(scenes.show.cues), loop=True), 1.0)
    bundle = scenes.bundles["ice-festival"]

    def asks(t: float) -> list[tuple[Any, ...]]:
        r = Recorder()
        scenes.preload(r, frame, t)
        assert r.calls[0] == ("step",), "the preload is carried on every frame"
        return r.calls[1:]

    assert asks(PRELOAD_AFTER_S / 2) == [], "just after the cue's start: nothing yet"
    assert asks(PRELOAD_AFTER_S + 0.1) == [("preload", bundle, "lantern-walk")]
    assert asks(19.0) == [("preload", bundle, "lantern-walk")]
    assert asks(20.0 + PRELOAD_AFTER_S + 0.1) == [], "during cue b's crossfade in"
    assert asks(30.0) == [("preload", bundle, "castle-night")], "the loop wraps to a"
    scenes.failed[("ice-festival", "castle-night")] = SceneError("castle-night", "broken")
    assert asks(30.0) == [], "a scene that failed is not built again"
    scenes.failed.clear()
    # A file changed on disk is opened at its cue change, never by a preload mid-cue.
    os.utime(live, ns=(1, 1))
    assert asks(30.0) == []
    assert scenes.bundles["ice-festival"] is bundle


CONTENT = Path(__file__).resolve().parents[2] / "content"

SHOW = """
[show]
id = "preload"
title = { zh = "预载", en = "Preload", ru = "Предзагрузка" }
loop = true

[[bundles]]
id = "ice-festival"
file = "ice-festival.exb"

[[cues]]
id = "a"
bundle = "ice-festival"
scene = "castle-night"
duration = 20.0
transition = "crossfade"
transition_time = 2.0

[[cues]]
id = "b"
bundle = "ice-festival"
scene = "lantern-walk"
duration = 20.0
transition = "crossfade"
transition_time = 2.0
"""


def test_a_preload_asked_for_already_costs_no_stat_per_frame(tmp_path: Path, ice_exb: Path,
                                                            monkeypatch) -> None:
    from exhibit_engine.runtime.playback import Frame
    from exhibit_engine.show import Timeline

    scenes, _live = _node_scenes(tmp_path, ice_exb)
    frame = Frame("main", Timeline(tuple(scenes.show.cues), loop=True), 1.0)
    held: set[tuple[Any, str]] = set()

    class Holding(Recorder):
        class preloader:
            @staticmethod
            def holds(bundle: Any, scene_id: str) -> bool:
                return (bundle, scene_id) in held

        def preload(self, bundle: Any, scene_id: str) -> None:
            held.add((bundle, scene_id))
            super().preload(bundle, scene_id)

    stats = []
    from exhibit_engine.runtime import _scenes

    real = _scenes._identity
    monkeypatch.setattr(_scenes, "_identity", lambda p: stats.append(p) or real(p))
    r = Holding()
    for i in range(20):
        scenes.preload(r, frame, 5.0 + i / 30)
    assert [c[0] for c in r.calls].count("preload") == 1
    assert len(stats) == 1, "the file is looked at once, when the preload is asked for"


def test_a_fetched_bundle_is_opened_when_it_arrives_and_an_update_waits_for_its_cue(
        tmp_path: Path, ice_exb: Path) -> None:
    """sync/transfer installs a bundle: one the node lacked is opened at once (the node
    joins the show); a new version of one on screen replaces only what new builds use,
    so the next cue (preloaded as usual) plays it and the scene on screen stays."""
    from dataclasses import replace

    import pytest

    from exhibit_engine.assets.library import install
    from exhibit_engine.errors import BundleError
    from exhibit_engine.runtime.playback import Frame
    from exhibit_engine.show import Timeline

    scenes, live = _node_scenes(tmp_path, ice_exb)
    folder = live.parent
    live.unlink()
    fetching = type(scenes)(replace(scenes.settings, fetch=True), scenes.show)
    with pytest.raises(BundleError, match="being fetched"):
        fetching.bundle("ice-festival")
    assert fetching.states() == {"ice-festival": "fetching"} and not fetching.ready()
    install(ice_exb, folder)                     # what the fetcher does, then tells the node
    fetching.arrived("ice-festival")
    assert fetching.ready() and fetching.states() == {"ice-festival": "1.0.0"}
    first = fetching.bundles["ice-festival"]
    fetching.current = ("ice-festival", "castle-night")        # on screen
    # A new version arrives mid-cue: installed over the old file, then announced.
    newer = tmp_path / "newer.exb"
    newer.write_bytes(ice_exb.read_bytes())
    import zipfile

    with zipfile.ZipFile(newer) as zf:
        doc = zf.read("manifest.json").decode().replace('"version": "1.0.0"',
                                                         '"version": "1.1.0"', 1)
        items = [(i, zf.read(i.filename)) for i in zf.infolist()]
    with zipfile.ZipFile(newer, "w") as zf:
        for info, data in items:
            zf.writestr(info, doc.encode() if info.filename == "manifest.json" else data)
    install(newer, folder)
    fetching.arrived("ice-festival")
    assert fetching.states() == {"ice-festival": "1.1.0"}
    assert fetching.current == ("ice-festival", "castle-night"), "the scene on screen stays"
    assert any(b is first for b, _ in fetching.retired), "its version stays open meanwhile"
    frame = Frame("main", Timeline(tuple(fetching.show.cues), loop=True), 1.0)
    r = Recorder()
    fetching.preload(r, frame, 5.0)
    assert r.calls[1:] == [("preload", fetching.bundles["ice-festival"], "lantern-walk")]
    assert fetching.bundles["ice-festival"].manifest.version == "1.1.0"
    fetching.close()
