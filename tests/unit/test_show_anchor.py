"""Show time as an anchor: a point of the controller clock and a rate."""

from __future__ import annotations

from exhibit_engine.show import ShowAnchor


def test_anchor_show_time_runs_at_rate() -> None:
    a = ShowAnchor(100.0, 5.0, 1.0)
    assert a.show_time(100.0) == 5.0
    assert a.show_time(102.5) == 7.5
    assert a.show_time(99.0) == 4.0
    assert ShowAnchor(10.0, 3.0, 0.0).show_time(50.0) == 3.0
    assert ShowAnchor(10.0, 0.0, 2.0).show_time(11.0) == 2.0
    assert ShowAnchor(10.0, 4.0, 2.0).controller_time_at(10.0) == 13.0   # and back
