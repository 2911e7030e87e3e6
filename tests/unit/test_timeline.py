"""The show timeline is a pure function of show time."""

from __future__ import annotations

import pytest

from exhibit_engine.config import CueConfig
from exhibit_engine.show import CueFiring, Timeline

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


# --------------------------------------------------------------------------- programs


def test_from_show_builds_each_program(tmp_path) -> None:
    from exhibit_engine.config import load_show

    p = tmp_path / "show.toml"
    p.write_text(SHOW_TOML, encoding="utf-8")
    show = load_show(p)
    assert [c.id for c in Timeline.from_show(show).cues] == ["a", "b"]
    attract = Timeline.from_show(show, program="attract")
    assert [c.id for c in attract.cues] == ["x", "a"] and attract.duration == 15.0
    standby = Timeline.from_show(show, "standby")
    assert standby.state_at(1e6).cue.scene == "night" and standby.loop
    assert Timeline.has_program(show, "standby")
    bare = load_show(_write(tmp_path, SHOW_TOML.split("[attract]")[0]))
    assert not Timeline.has_program(bare, "attract") and not Timeline.has_program(bare, "standby")
    with pytest.raises(ValueError, match="no attract program"):
        Timeline.from_show(bare, "attract")
    with pytest.raises(ValueError, match="unknown program"):
        Timeline.from_show(show, "intermission")


SHOW_TOML = """
[show]
id = "s"
[[bundles]]
id = "b"
file = "b.exb"
[[cues]]
id = "a"
bundle = "b"
scene = "one"
duration = 10
[[cues]]
id = "b"
bundle = "b"
scene = "two"
duration = 20
wait = true
[attract]
idle_after = 60
cues = [{ bundle = "b", scene = "loop", duration = 5, id = "x" }, "a"]
[standby]
bundle = "b"
scene = "night"
"""


def _write(tmp_path, text: str):
    p = tmp_path / "bare.toml"
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- cue firing


def test_fired_between_is_pure_and_reports_each_start_once() -> None:
    tl = Timeline(CUES, loop=True)           # starts 0, 10, 30; a pass is 35 s
    assert [c.cue.id for c in tl.fired_between(5.0, 31.0)] == ["b", "c"]
    assert tl.fired_between(5.0, 31.0) == tl.fired_between(5.0, 31.0)
    assert [c.at for c in tl.fired_between(9.0, 10.0)] == [10.0]      # the start is inclusive
    assert tl.fired_between(10.0, 11.0) == ()                          # ...only once
    assert tl.fired_between(31.0, 5.0) == ()                           # backwards: nothing
    # a jump over more than a pass: each cue once, at its latest start, in show order
    jump = tl.fired_between(1.0, 35.0 * 4 + 12.0)
    assert [(c.cue.id, c.loop, c.at) for c in jump] == [
        ("c", 3, 135.0), ("a", 4, 140.0), ("b", 4, 150.0)]
    once = Timeline(CUES, loop=False)
    assert [c.cue.id for c in once.fired_between(-1.0, 1e6)] == ["a", "b", "c"]
    assert once.fired_between(40.0, 1e6) == ()


def test_every_cue_fires_exactly_once_across_jumps_forward_and_back() -> None:
    import random

    tl = Timeline(CUES, loop=True)
    rng = random.Random(6)
    firing = CueFiring(tl)
    fired: list[tuple[int, int]] = []
    t, furthest = 0.0, 0.0
    for _ in range(3000):
        # mostly frames; now and then a clock step back (up to 8 s) or forward (up to 50 s)
        r = rng.random()
        t += -rng.uniform(0.0, 8.0) if r < 0.05 else rng.uniform(0.0, 50.0) if r < 0.08 \
            else 1 / 60
        furthest = max(furthest, t)
        fired += [(c.index, c.loop) for c in firing.update(t)]
    assert len(fired) == len(set(fired)), "a cue start was reported twice"
    # every start up to the furthest time is reported, except those inside a jump longer
    # than a pass (where each cue is reported once, at its latest start)
    starts = [(i, k) for k in range(int(furthest // 35) + 1) for i in range(3)
              if k * 35 + tl.start_of(i) <= furthest]
    assert set(fired) <= set(starts)
    assert fired == sorted(fired, key=lambda f: f[1] * 35 + tl.start_of(f[0]))
    assert len(fired) > 0.9 * len(starts)


def test_small_jumps_fire_every_cue_once_and_a_step_back_refires_nothing() -> None:
    tl = Timeline(CUES, loop=True)
    firing = CueFiring(tl)
    seen = []
    for t in (0.0, 9.0, 31.0, 12.0, 4.0, 29.0, 33.0, 34.9, 36.0, 75.0, 120.0):
        seen += [(c.cue.id, c.loop) for c in firing.update(t)]
    # entering at 0 reports a; 9 -> 31 jumps over b and c; back to 12 and 4 fires nothing;
    # the next pass fires again; 36 -> 75 jumps over b, c and the third pass's a; 75 -> 120
    # is longer than a pass: each cue once, at its latest start (b at 80 gives way to 115)
    assert seen == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1), ("a", 2),
                    ("c", 2), ("a", 3), ("b", 3)]


def test_explicit_reset_re_enters_the_cue_at_the_new_position() -> None:
    tl = Timeline(CUES, loop=True)
    firing = CueFiring(tl)
    firing.update(0.0)
    firing.update(20.0)
    entered = firing.reset(12.0)              # a seek back into the middle of "b"
    assert [(c.cue.id, c.at) for c in entered] == [("b", 10.0)]
    assert firing.update(20.0) == ()          # b is not reported again
    assert [c.cue.id for c in firing.update(30.0)] == ["c"]
    assert CueFiring(Timeline(CUES, loop=False)).reset(99.0) == ()   # past a show's end
    restored = CueFiring(tl, reached=30.0)
    assert restored.update(30.0) == () and [c.cue.id for c in restored.update(35.0)] == ["a"]


def test_next_start() -> None:
    tl = Timeline(CUES, loop=True)
    assert tl.next_start(-1.0).at == 0.0
    assert (tl.next_start(3.0).cue.id, tl.next_start(3.0).at) == ("b", 10.0)
    assert (tl.next_start(33.0).cue.id, tl.next_start(33.0).at) == ("a", 35.0)
    assert Timeline(CUES, loop=False).next_start(33.0) is None


def test_next_hold_is_just_before_the_end_of_the_next_wait_cue() -> None:
    waits = (CUES[0], CueConfig("w", "b", "s2", 20.0, wait=True), CUES[2])
    tl = Timeline(waits, loop=True)
    assert tl.next_hold(0.0, 0.001) == pytest.approx(29.999)       # this pass's wait cue
    assert tl.next_hold(29.9995, 0.001) == pytest.approx(64.999)   # past it: the next pass
    assert tl.next_hold(40.0, 0.001) == pytest.approx(64.999)
    once = Timeline(waits, loop=False)
    assert once.next_hold(31.0, 0.001) is None                     # none ahead
    assert once.next_hold(100.0, 0.001) is None                    # ended
    assert Timeline(CUES).next_hold(3.0, 0.001) is None            # no wait cue at all
