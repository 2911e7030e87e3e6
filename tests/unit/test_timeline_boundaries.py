"""A cue's start lies in that cue, whatever float rounding does to loop and cue sums."""

from __future__ import annotations

import pytest

from exhibit_engine.config.show import CueConfig
from exhibit_engine.show.timeline import CueFiring, Timeline


@pytest.mark.parametrize("duration", [0.7, 0.1, 1 / 3, 2.2, 45.0])
def test_every_cue_start_is_in_its_own_cue_across_many_loops(duration: float) -> None:
    tl = Timeline(tuple(CueConfig(f"c{i}", "b", "s", duration) for i in range(4)))
    for loop in range(400):
        for index in range(4):
            start = tl.cue_start(index, loop)
            state = tl.state_at(start.at)
            assert (state.loop, state.index) == (loop, index), (loop, index, start.at)
            assert state.local_t == 0.0
            assert tl.next_start(start.at) != start


def test_a_goto_onto_a_loop_start_reports_that_cue() -> None:
    tl = Timeline(tuple(CueConfig(f"c{i}", "b", "s", 0.7) for i in range(4)))
    target = tl.next_start(7.75)        # 8.4: the first cue of the fourth pass
    assert target is not None and (target.loop, target.index) == (3, 0)
    (entered,) = CueFiring(tl).reset(target.at)
    assert (entered.loop, entered.index) == (3, 0)
