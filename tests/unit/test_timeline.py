"""The show timeline is a pure function of show time."""

from __future__ import annotations

import pytest

from exhibit_engine.config import CueConfig
from exhibit_engine.show import Timeline

CUES = (
    CueConfig("a", "b", "s1", 10.0),
    CueConfig("b", "b", "s2", 20.0, "crossfade", 2.0),
    CueConfig("c", "b", "s3", 5.0, "fade", 1.0),
)


def test_cue_boundaries_and_local_time() -> None:
    tl = Timeline(CUES, loop=True)
    assert tl.duration == 35.0
    assert tl.state_at(0.0).cue.id == "a"
    assert tl.state_at(9.999).cue.id == "a"
    s = tl.state_at(10.0)
    assert s.cue.id == "b" and s.local_t == 0.0 and s.previous.id == "a" and s.weight == 0.0
    s = tl.state_at(11.0)
    assert s.weight == pytest.approx(0.5) and s.previous_local_t == pytest.approx(11.0)
    assert tl.state_at(12.0).previous is None and tl.state_at(12.0).weight == 1.0


def test_looping_wraps_and_counts_passes() -> None:
    tl = Timeline(CUES, loop=True)
    s = tl.state_at(35.0 * 3 + 31.0)
    assert s.loop == 3 and s.cue.id == "c" and s.local_t == pytest.approx(1.0)
    first = tl.state_at(35.0)
    assert first.cue.id == "a" and first.previous is None  # 'a' enters with a cut


def test_non_looping_show_holds_its_end_and_negative_time_holds_start() -> None:
    tl = Timeline(CUES, loop=False)
    end = tl.state_at(100.0)
    assert end.ended and end.cue.id == "c" and end.local_t == 5.0
    assert tl.state_at(-3.0).cue.id == "a" and tl.state_at(-3.0).local_t == 0.0
    with pytest.raises(ValueError):
        tl.state_at(float("nan"))


def test_same_time_same_state() -> None:
    tl = Timeline(CUES)
    assert tl.state_at(17.25) == tl.state_at(17.25)
