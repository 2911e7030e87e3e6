"""Playback: the session state's program, blackout and scene keys, as a node reads them."""

from __future__ import annotations

import pytest

from exhibit_engine.config import AttractConfig, CueConfig, ShowConfig
from exhibit_engine.runtime.playback import Playback

MAIN = (CueConfig("a", "b", "s1", 10.0), CueConfig("c", "b", "s2", 10.0))
ATTRACT = AttractConfig(30.0, (CueConfig("loop", "b", "s3", 5.0),))
SHOW = ShowConfig("show", {}, (), MAIN, attract=ATTRACT)


def test_no_state_plays_main_undimmed() -> None:
    f = Playback(SHOW).frame({}, 0.0)
    assert f.program == "main" and f.timeline is not None
    assert f.timeline.state_at(12.0).cue.id == "c"
    assert f.dim == 1.0 and f.scene_state == {}


def test_program_switches_when_the_controller_clock_reaches_since() -> None:
    pb = Playback(SHOW)
    state = {"anchor": [0.0, 0.0, 1.0], "program": {"name": "attract", "since": 100.0}}
    assert pb.frame(state, 99.9).program == "main"       # announced, not yet in effect
    f = pb.frame(state, 100.0)
    assert f.program == "attract" and f.timeline is not None
    assert f.timeline.state_at(1.0).cue.id == "loop"
    # A later malformed value keeps what plays.
    assert pb.frame({"anchor": [], "program": {"name": "nope"}}, 101.0).program == "attract"
    assert pb.frame({"anchor": [], "program": "main"}, 101.0).program == "attract"


def test_a_program_the_show_lacks_is_black() -> None:
    f = Playback(SHOW).frame({"anchor": [], "program": {"name": "standby", "since": 0.0}}, 1.0)
    assert f.program == "standby" and f.timeline is None and f.dim == 0.0


def test_blackout_fades_on_the_controller_clock() -> None:
    pb = Playback(SHOW)
    state = {"anchor": [], "blackout": {"level": 1.0, "from": 0.0, "at": 10.0, "fade": 2.0}}
    assert pb.frame(state, 9.0).dim == 1.0
    assert pb.frame(state, 11.0).dim == pytest.approx(0.5)
    assert pb.frame(state, 12.5).dim == 0.0
    assert pb.frame({"anchor": [], "blackout": {"level": "dark"}}, 12.5).dim == 1.0  # none


def test_scene_state_carries_language_and_selection() -> None:
    state = {"language": "ru", "selected_item": {"item": "vase", "selected_at": 42.5},
             "anchor": [0.0, 0.0, 1.0]}
    assert Playback(SHOW).frame(state, 0.0).scene_state == {
        "language": "ru", "selected_item": "vase", "selected_at": 42.5}
    odd = {"anchor": [], "language": 3,
           "selected_item": {"item": "vase", "selected_at": True}}
    assert Playback(SHOW).frame(odd, 0.0).scene_state == {"selected_item": "vase"}


def test_a_session_not_received_yet_keeps_the_last_one() -> None:
    pb = Playback(SHOW)
    dark = {"anchor": [0.0, 0.0, 1.0], "language": "en",
            "blackout": {"level": 1.0, "from": 1.0, "at": 0.0, "fade": 0.0}}
    assert pb.frame(dark, 5.0).dim == 0.0
    # The controller restarted: the node's copy is empty until the new snapshot.
    held = pb.frame({}, 5.1)
    assert held.dim == 0.0 and held.scene_state == {"language": "en"}
    assert pb.frame({"anchor": [0.0, 0.0, 1.0]}, 5.2).dim == 1.0
