"""Transitions between cues: the pure gains, the blended frames, and the node's draw path.

Rendering tests draw two different ice scenes (castle-night, lantern-walk) at small
sizes; each says what it proves about the blend.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.config import CueConfig, DisplayConfig, WallConfig
from exhibit_engine.errors import RenderError
from exhibit_engine.runtime.playback import Frame
from exhibit_engine.show import Timeline
from exhibit_engine.wall.frustum import display_frustum, pixel_rect, wall_frustum

OUT, IN = "castle-night", "lantern-walk"
T_OUT, T_IN = 40.0, 1.0
NO_SNOW = {"snow": False}


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float64)


# --------------------------------------------------------------------------- pure


def test_gains_are_a_pure_function_of_kind_and_weight() -> None:
    from exhibit_engine.runtime.transitions import gains

    assert gains("cut", 0.0) == gains("cut", 0.7) == (0.0, 1.0)
    assert gains("crossfade", 0.0) == (1.0, 0.0)
    assert gains("crossfade", 0.25) == (0.75, 0.25)
    assert gains("crossfade", 1.0) == (0.0, 1.0)
    # through black: the outgoing scene dims out, then the incoming one rises
    assert gains("fade", 0.0) == (1.0, 0.0)
    assert gains("fade", 0.25) == (0.5, 0.0)
    assert gains("fade", 0.5) == (0.0, 0.0)
    assert gains("fade", 0.75) == (0.0, 0.5)
    assert gains("fade", 1.0) == (0.0, 1.0)
    assert gains("crossfade", -3.0) == (1.0, 0.0) and gains("crossfade", 9.0) == (0.0, 1.0)
    for w in np.linspace(0.0, 1.0, 41):
        a, b = gains("crossfade", float(w))
        assert a + b == pytest.approx(1.0)
        assert sum(gains("fade", float(w))) <= 1.0
    with pytest.raises(RenderError, match="unknown transition 'wipe'"):
        gains("wipe", 0.5)


def test_transition_checks_its_fields() -> None:
    from exhibit_engine.runtime.transitions import Transition

    assert Transition("fade", 0.25, 3.0).gains == (0.5, 0.0)
    with pytest.raises(RenderError, match="unknown transition"):
        Transition("dissolve", 0.5, 0.0)
    with pytest.raises(RenderError, match="finite"):
        Transition("crossfade", float("nan"), 0.0)
    with pytest.raises(RenderError, match="finite"):
        Transition("crossfade", 0.5, float("inf"))


# --------------------------------------------------------------------------- frames


@pytest.fixture
def pair(ice_bundle, make_renderer):
    """A renderer holding OUT as the outgoing scene and IN as the current one."""
    r = make_renderer((160, 100))
    r.load(ice_bundle, OUT)
    r.retire()
    assert r.scene_root is None and r.outgoing_root is not None
    r.load(ice_bundle, IN)
    return r


def frame(r, weight: float, kind: str = "crossfade", state: dict | None = None) -> np.ndarray:
    from exhibit_engine.runtime.transitions import Transition

    state = NO_SNOW if state is None else state
    r.render(T_IN, state, Transition(kind, weight, T_OUT, state))
    return pixels(r.snapshot())


@pytest.mark.render
def test_crossfade_blends_the_two_scenes_frames(pair, ice_bundle, make_renderer) -> None:
    alone = make_renderer((160, 100))
    alone.load(ice_bundle, OUT)
    alone.render(T_OUT, NO_SNOW)
    a = pixels(alone.snapshot())
    alone.load(ice_bundle, IN)
    alone.render(T_IN, NO_SNOW)
    b = pixels(alone.snapshot())
    assert np.abs(a - b).mean() > 5.0, "the two scenes look different"

    assert np.array_equal(frame(pair, 0.0), a), "weight 0: the outgoing scene, exactly"
    assert np.array_equal(frame(pair, 1.0), b), "weight 1: the incoming scene, exactly"
    # through the blend pass (render-to-texture) at almost-0: texel for pixel, no shift
    assert np.abs(frame(pair, 1e-6) - a).max() <= 1.0
    # per pixel blends, give or take the 8-bit rounding of each layer and of the sum
    for w in (0.5, 0.25):
        diff = np.abs(frame(pair, w) - ((1.0 - w) * a + w * b))
        assert diff.max() <= 1.5 and diff.mean() < 0.5, w
    mid = frame(pair, 0.5)
    assert np.array_equal(frame(pair, 0.5), mid), "the same weight, the same frame"


@pytest.mark.render
def test_fade_goes_through_black(pair) -> None:
    full_out = frame(pair, 0.0, "fade")
    assert full_out.mean() > 10.0
    half_out = frame(pair, 0.25, "fade")
    assert np.abs(half_out - full_out / 2.0).max() <= 1.0
    assert frame(pair, 0.5, "fade").max() == 0.0, "black at the midpoint"
    rising = frame(pair, 0.75, "fade")
    full_in = frame(pair, 1.0, "fade")
    assert np.abs(rising - full_in / 2.0).max() <= 1.0
    assert np.abs(full_in - full_out).mean() > 5.0


@pytest.mark.render
def test_cut_and_a_renderer_without_an_outgoing_scene_draw_the_current_scene(
        pair, ice_bundle, make_renderer) -> None:
    from exhibit_engine.runtime.transitions import Transition

    b = frame(pair, 1.0)
    assert np.array_equal(frame(pair, 0.3, "cut"), b)
    pair.unload_outgoing()
    assert pair.outgoing_root is None
    pair.render(T_IN, NO_SNOW, Transition("crossfade", 0.3, T_OUT))
    assert np.array_equal(pixels(pair.snapshot()), b)
    pair.unload()
    pair.render(0.0)
    assert pixels(pair.snapshot()).max() == 0.0


@pytest.mark.render
def test_a_crossfade_still_stitches_across_two_display_slices(ice_bundle, make_renderer
                                                              ) -> None:
    from exhibit_engine.runtime.transitions import Transition

    wall = WallConfig(width=8.0, height=2.5, eye=(3.2, 1.4, 6.0))
    left = DisplayConfig("left", (160, 100), (0.0, 0.0, 4.0, 2.5))
    right = DisplayConfig("right", (160, 100), (4.0, 0.0, 4.0, 2.5))

    def pair_of(size: tuple[int, int]) -> Any:
        r = make_renderer(size)
        r.load(ice_bundle, OUT)
        r.retire()
        r.load(ice_bundle, IN)
        return r

    # One renderer alive at a time: with two in one process llvmpipe's EGL can read one
    # back from the other (see Renderer.snapshot).
    full = pair_of((320, 100))
    full.set_frustum(wall_frustum(wall))
    tr = Transition("crossfade", 0.4, T_OUT, NO_SNOW)
    full.render(T_IN, NO_SNOW, tr)
    whole = pixels(full.snapshot())
    full.close()
    half = pair_of((160, 100))
    out = Image.new("RGB", (320, 100))
    for disp in (left, right):
        half.set_frustum(display_frustum(wall, disp))
        half.render(T_IN, NO_SNOW, tr)
        x, y, _, _ = pixel_rect(wall, disp, (320, 100))
        out.paste(half.snapshot(), (x, y))
    stitched = pixels(out)
    assert np.abs(whole - stitched).mean() < 0.5
    assert np.abs(whole[:, :160] - whole[:, 160:]).mean() > 5.0


@pytest.mark.render
def test_same_scene_can_cross_into_itself(ice_bundle, make_renderer) -> None:
    """A looping one-cue show crossfades its scene into a fresh instance of itself."""
    from exhibit_engine.runtime.transitions import Transition

    r = make_renderer((96, 60))
    r.load(ice_bundle, OUT)
    r.render(100.0, NO_SNOW)
    late = pixels(r.snapshot())
    r.retire()
    r.load(ice_bundle, OUT)
    r.render(0.0, NO_SNOW, Transition("crossfade", 0.0, 100.0, NO_SNOW))
    assert np.array_equal(pixels(r.snapshot()), late), "the held instance keeps its pose"
    r.render(0.0, NO_SNOW, Transition("crossfade", 1.0, 100.0, NO_SNOW))
    early = pixels(r.snapshot())
    assert np.abs(early - late).mean() > 3.0


# --------------------------------------------------------------------------- the node


@dataclass
class FakeRenderer:
    """Records what the node's draw path asks of the renderer."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def load(self, bundle: Any, scene_id: str) -> None:
        self.calls.append(("load", scene_id))

    def load_outgoing(self, bundle: Any, scene_id: str) -> None:
        self.calls.append(("load_outgoing", scene_id))

    def retire(self) -> None:
        self.calls.append(("retire",))

    def unload_outgoing(self) -> None:
        self.calls.append(("unload_outgoing",))

    def render(self, t: float, state: Any, transition: Any = None, dim: float = 1.0) -> None:
        self.calls.append(("render", round(t, 6), state["cue"],
                           None if transition is None else
                           (transition.kind, round(transition.weight, 6),
                            round(transition.t, 6), transition.state["cue"])))


class FakeScenes:
    def __init__(self) -> None:
        from exhibit_engine.runtime.node_app import _Scenes

        self.current = self.outgoing = None
        self.failed: dict = {}
        self.announce = nullcontext
        self.ensure = _Scenes.ensure.__get__(self)
        self._ensure = _Scenes._ensure.__get__(self)

    def bundle(self, bundle_id: str) -> str:
        return bundle_id


def main(timeline: Timeline) -> Frame:
    """What the node draws for the main program, without blackout."""
    return Frame("main", timeline, 1.0)


def cue(cid: str, scene: str, transition: str = "cut", time: float = 0.0) -> CueConfig:
    return CueConfig(id=cid, bundle="b", scene=scene, duration=10.0, transition=transition,
                     transition_time=time)


def test_node_draw_holds_both_scenes_through_a_transition_and_then_lets_go() -> None:
    from exhibit_engine.runtime.node_app import _draw

    timeline = Timeline((cue("a", "s1", "fade", 2.0), cue("b", "s2", "crossfade", 2.0),
                         cue("c", "s2", "cut")), loop=True)
    r, scenes = FakeRenderer(), FakeScenes()
    for t in (5.0, 10.0, 11.0, 12.5, 21.0, 30.5, 31.0):
        _draw(r, scenes, main(timeline), t)
    w = timeline.state_at(11.0).weight
    assert r.calls == [
        ("load", "s1"), ("render", 5.0, "a", None),
        ("retire",), ("load", "s2"), ("render", 0.0, "b", ("crossfade", 0.0, 10.0, "a")),
        ("render", 1.0, "b", ("crossfade", round(w, 6), 11.0, "a")),
        ("unload_outgoing",), ("render", 2.5, "b", None),
        ("render", 1.0, "c", None),          # a cut into the same scene: nothing to load
        # the loop wraps into cue "a" with a fade: s2 is held, s1 built again
        ("retire",), ("load", "s1"), ("render", 0.5, "a", ("fade", 0.15625, 10.5, "c")),
        ("render", 1.0, "a", ("fade", 0.5, 11.0, "c")),
    ]


def test_node_joining_mid_transition_builds_both_and_one_cue_crosses_into_itself() -> None:
    from exhibit_engine.runtime.node_app import _draw

    r, scenes = FakeRenderer(), FakeScenes()
    timeline = Timeline((cue("a", "s1"), cue("b", "s2", "crossfade", 4.0)), loop=False)
    _draw(r, scenes, main(timeline), 12.0)
    assert r.calls == [("load_outgoing", "s1"), ("load", "s2"),
                       ("render", 2.0, "b", ("crossfade", 0.5, 12.0, "a"))]

    r, scenes = FakeRenderer(), FakeScenes()
    timeline = Timeline((cue("only", "s1", "crossfade", 2.0),), loop=True)
    for t in (9.0, 11.0, 12.0):
        _draw(r, scenes, main(timeline), t)
    assert r.calls == [("load", "s1"), ("render", 9.0, "only", None),
                       ("retire",), ("load", "s1"),
                       ("render", 1.0, "only", ("crossfade", 0.5, 11.0, "only")),
                       ("unload_outgoing",), ("render", 2.0, "only", None)]
