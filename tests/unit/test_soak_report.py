"""How ``exhibit soak`` reads its records: nodes out of step, events lost or played twice,
frame times and memory growth, on traces made by hand where the answer is known."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from exhibit_engine.bench._soak_report import (NodeTrace, desync_frames, event_faults,
                                               frame_times, memory_growth, memory_settled,
                                               read_node_trace, read_selections)

FRAME = 1 / 30


def trace(name: str, start: float, seconds: float, lead: float = 10.0, *,
          jump_at: float | None = None, jump: float = 0.0, phase: float = 0.0,
          events: list[tuple[int, str, float]] | None = None) -> NodeTrace:
    """A node drawing at 30 Hz from local time ``start``: show time = local + lead (plus
    ``jump`` from its first frame at or after ``jump_at``), controller time = local."""
    m = np.arange(start + phase, start + seconds, FRAME)
    show = m + lead + np.where(jump_at is not None and m >= (jump_at or 0), jump, 0.0)
    return NodeTrace(name, np.column_stack([m, show, m, np.ones_like(m)]), events or [])


def test_nodes_on_one_timeline_are_in_step_whatever_their_frame_phase() -> None:
    a = trace("a", 0.0, 10.0)
    b = trace("b", 0.0, 10.0, phase=0.013)
    out, compared, worst = desync_frames([a, b])
    assert out == 0 and compared > 400 and worst < 1e-9


def test_a_node_two_frames_behind_is_out_of_step_on_every_frame() -> None:
    a = trace("a", 0.0, 10.0)
    b = trace("b", 0.0, 10.0, lead=10.0 - 2 / 60)
    out, compared, worst = desync_frames([a, b])
    assert out == compared > 0
    assert worst == pytest.approx(2 / 60)


def test_a_jump_taken_on_each_nodes_next_frame_is_in_step_a_missed_one_is_not() -> None:
    # A GO at local time 5.0 moves show time on by 30 s; each node switches on its own
    # first frame after it, a few ms apart: in step.
    a = trace("a", 0.0, 10.0, jump_at=5.0, jump=30.0)
    b = trace("b", 0.0, 10.0, jump_at=5.0, jump=30.0, phase=0.02)
    assert desync_frames([a, b])[0] == 0
    # One node takes it 0.2 s late: its frames in between are out of step.
    late = trace("c", 0.0, 10.0, jump_at=5.2, jump=30.0, phase=0.02)
    out, _, worst = desync_frames([a, late])
    assert 10 <= out <= 14 and worst == pytest.approx(30.0, abs=0.1)


def test_a_stalled_or_late_starting_node_is_compared_only_while_it_draws() -> None:
    a = trace("a", 0.0, 10.0)
    late = trace("b", 6.0, 4.0, lead=5.0)     # started late, and 5 s behind
    out, compared, _ = desync_frames([a, late], skip_s=0.0)
    # a's frames before 6 s have nothing to compare with
    assert out == compared and compared == pytest.approx(2 * 4.0 / FRAME, abs=4)


def test_events_lost_and_played_twice_are_counted_per_process() -> None:
    ev = [(1, "cue", 2.0), (2, "select", 4.0), (3, "cue", 6.0)]
    a = trace("a", 0.0, 10.0, events=ev)
    b = trace("b", 0.0, 10.0, events=[ev[0], ev[2], ev[2]])       # lost 2, twice 3
    late = trace("c", 5.5, 4.5, events=[])      # joined after 2 and 3 were due: none owed
    f = event_faults([a, b, late])
    assert (f.lost, f.duplicated, f.events, f.gaps) == (1, 1, 3, 0)
    assert f.lost_seqs == ("b:2",)
    assert f.checked == 6


def test_an_event_nobody_played_is_lost_a_gap_in_the_sequence_too() -> None:
    a = trace("a", 0.0, 10.0, events=[(1, "cue", 2.0), (4, "cue", 6.0)])
    f = event_faults([a], {2: 3.0})             # a kiosk's accepted selection, seq 2
    assert f.gaps == 1                          # seq 3: seen by nobody
    assert f.lost == 2                          # seq 2 not played by a, and seq 3


def test_frame_times_and_memory_growth() -> None:
    a = trace("a", 0.0, 5.0)
    a.frames = np.delete(a.frames, [100, 101], axis=0)  # two frames skipped: a 100 ms gap
    worst, p99 = frame_times([a], skip_s=0.0)
    assert worst == pytest.approx(100.0, abs=0.5) and p99 == pytest.approx(33.3, abs=0.5)
    flat = [(float(t), 100_000 + (5000 if t < 30 else 0) + 3000 * (t % 24 == 0))
            for t in range(0, 100, 2)]      # a peak once a loop, as a scene is built
    assert memory_growth(flat, 0.0, 30.0, 30.0) == pytest.approx(0.0)
    leak = [(float(t), 100_000 + 100 * t) for t in range(0, 100, 2)]
    assert memory_growth(leak, 0.0, 30.0, 30.0) == pytest.approx(4400 / 105_400 * 100)
    assert memory_growth(leak[:20], 0.0, 30.0, 30.0) is None    # too short to tell


def _loops(minutes: float, floor_kb: Callable[[float], float]) -> list[tuple[float, int]]:
    """RSS every 3 s for ``minutes``: ``floor_kb(t)`` with a 20 MB peak once a 24 s loop."""
    return [(float(t), int(floor_kb(t)) + 20_000 * (t % 24 < 6))
            for t in range(0, int(minutes * 60), 3)]


def test_memory_settles_when_it_stops_rising_and_a_leak_never_does() -> None:
    # Flat after a start-up lower than the rest: settled once flat for 5 minutes.
    flat = _loops(30, lambda t: 200_000 if t < 60 else 260_000)
    assert memory_settled(flat, 0.0, 180.0) == pytest.approx(360.0 + 24.0, abs=24.0)
    # Caches that fill for 8 minutes (264 -> 276 MB), then flat: settled once the last 5
    # minutes rose by 1 % or less (here 3-4 minutes after the filling stops), and the
    # growth measured after it is none.
    fill = _loops(30, lambda t: 264_000 + 12_000 * min(t, 480.0) / 480.0)
    at = memory_settled(fill, 0.0, 180.0)
    assert 480.0 + 180.0 <= at <= 480.0 + 300.0
    assert memory_growth(fill, 0.0, at, 300.0) == pytest.approx(0.0, abs=0.1)
    # with the fixed 3-minute warm-up the filling shows as growth
    assert memory_growth(fill, 0.0, 180.0, 300.0) > 2.0
    # A leak (10 % in 30 minutes, 1.7 % every 5) never settles: half its life is warm-up,
    # and the second half still shows its growth.
    leak = _loops(30, lambda t: 264_000 * (1 + 0.1 * t / 1800.0))
    assert memory_settled(leak, 0.0, 180.0) == pytest.approx(1800.0 / 2, abs=3.0)
    assert memory_growth(leak, 0.0, 900.0, 300.0) > 4.0
    # No samples: the least warm-up.
    assert memory_settled([], 0.0, 180.0) == 180.0


def test_trace_files_survive_a_kill_mid_line(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("f 1.0 11.0 1.0 1.0\ne 7 cue 1.0\nf 1.1 11.1 1.1 1.0\nf 1.2 11", "utf-8")
    t = read_node_trace(path, "x")
    assert t.frames.shape == (2, 4) and t.events == [(7, "cue", 1.0)]
    assert read_node_trace(tmp_path / "absent.txt", "y").frames.shape == (0, 4)
    sel = tmp_path / "k.txt"
    sel.write_text("s 3 12.5 ding\nx 14.0 'timed out'\ns 5 13.0 bowl\ns 6", "utf-8")
    assert read_selections(sel) == ({3: 12.5, 5: 13.0}, 1)
