"""Clock maths: NTP offset/delay, best-of-N, slewing versus stepping."""

from __future__ import annotations

import math
import random

import pytest

from exhibit_engine.errors import SyncError
from exhibit_engine.sync.clock import ClockEstimator, offset_delay


def probe(offset: float, t0: float, up: float, down: float, work: float = 0.0001,
          ) -> tuple[float, float, float, float]:
    """The four times of a probe sent at local ``t0`` to a clock ``offset`` ahead."""
    t1 = t0 + up + offset
    t2 = t1 + work
    t3 = t2 - offset + down
    return t0, t1, t2, t3


def test_offset_delay_symmetric_path_is_exact() -> None:
    offset, delay = offset_delay(*probe(5.0, 10.0, 0.002, 0.002, work=0.001))
    assert offset == pytest.approx(5.0, abs=1e-12)
    assert delay == pytest.approx(0.004, abs=1e-12)


def test_offset_delay_asymmetric_error_is_half_the_difference() -> None:
    offset, delay = offset_delay(*probe(-3.0, 10.0, 0.010, 0.002))
    assert delay == pytest.approx(0.012)
    assert offset == pytest.approx(-3.0 + (0.010 - 0.002) / 2)


def test_offset_delay_textbook_values() -> None:
    # t0=0, t1=6, t2=7, t3=3: offset ((6-0)+(7-3))/2 = 5, delay (3-0)-(7-6) = 2
    assert offset_delay(0.0, 6.0, 7.0, 3.0) == (5.0, 2.0)


def test_estimator_not_ready_until_a_sample() -> None:
    est = ClockEstimator()
    assert not est.ready
    assert est.delay_s == 0.0
    with pytest.raises(SyncError):
        est.to_controller(1.0)


def test_first_sample_steps_straight_to_it() -> None:
    est = ClockEstimator()
    assert est.add(*probe(5.0, 10.0, 0.001, 0.001))
    assert est.ready and est.steps == 1
    assert est.to_controller(11.0) == pytest.approx(16.0)


def test_best_of_n_picks_smallest_round_trip() -> None:
    est = ClockEstimator(window=8)
    # Slow, lopsided probes carry large offset errors; one quick probe is nearly exact.
    est.add(*probe(2.0, 10.0, 0.050, 0.001))
    est.add(*probe(2.0, 11.0, 0.001, 0.040))
    est.add(*probe(2.0, 12.0, 0.0002, 0.0002))
    est.add(*probe(2.0, 13.0, 0.030, 0.002))
    assert est.best is not None
    assert est.delay_s == pytest.approx(0.0004)
    assert est.target_offset_s == pytest.approx(2.0, abs=1e-9)


def test_rare_quick_probe_outlasts_many_slow_ones() -> None:
    # A busy machine: most probes queue somewhere (lopsided, +-1 ms), one in a while is
    # quick. The default window keeps that one for 24 more probes (6 s at 4 probes a s).
    est = ClockEstimator()
    est.add(*probe(0.5, 10.0, 0.0001, 0.0001))
    for i in range(24):
        up, down = (0.003, 0.001) if i % 2 else (0.001, 0.003)
        est.add(*probe(0.5, 10.25 + 0.25 * i, up, down))
    assert est.delay_s == pytest.approx(0.0002)
    assert est.target_offset_s == pytest.approx(0.5, abs=1e-9)


def test_sync_distance_grows_with_age() -> None:
    est = ClockEstimator(drift=1e-5)
    est.add(*probe(0.0, 10.0, 0.0001, 0.0001))
    best = est.best
    assert best is not None
    assert est.distance(best, best.at) == pytest.approx(0.0001)
    assert est.distance(best, best.at + 10.0) == pytest.approx(0.0002)
    assert est.distance(best, best.at - 1.0) == pytest.approx(0.0001)    # never negative age


def test_old_quick_sample_gives_way_to_a_fresh_one() -> None:
    # Clocks may drift 10 us/s apart: a 0.2 ms probe 30 s old (distance 0.1 + 0.3 ms)
    # is worse than a fresh 0.6 ms one (distance 0.3 ms)... (combine=1: the best alone)
    est = ClockEstimator(drift=1e-5, combine=1.0)
    est.add(*probe(1.0, 10.0, 0.0001, 0.0001))
    est.add(*probe(1.0003, 40.0, 0.0003, 0.0003))
    assert est.delay_s == pytest.approx(0.0006)
    assert est.target_offset_s == pytest.approx(1.0003, abs=1e-9)
    # ...but 5 s old (0.15 ms) it still beats the fresh one.
    est = ClockEstimator(drift=1e-5, combine=1.0)
    est.add(*probe(1.0, 10.0, 0.0001, 0.0001))
    est.add(*probe(1.0003, 15.0, 0.0003, 0.0003))
    assert est.delay_s == pytest.approx(0.0002)
    assert est.target_offset_s == pytest.approx(1.0, abs=1e-9)


def test_zero_drift_keeps_the_smallest_round_trip_however_old() -> None:
    est = ClockEstimator(drift=0.0)
    est.add(*probe(1.0, 10.0, 0.0001, 0.0001))
    est.add(*probe(1.0003, 1000.0, 0.0003, 0.0003))
    assert est.target_offset_s == pytest.approx(1.0, abs=1e-9)


def test_window_forgets_old_best() -> None:
    est = ClockEstimator(window=3)
    est.add(*probe(1.0, 10.0, 0.0001, 0.0001))
    for i in range(3):
        est.add(*probe(1.0, 11.0 + i, 0.002, 0.002))
    assert est.sample_count == 3
    assert est.delay_s == pytest.approx(0.004)


def test_small_change_is_slewed_not_jumped() -> None:
    est = ClockEstimator(max_slew=0.005, step_threshold_s=0.05, acquire=1, acquire_s=0.0)
    est.add(*probe(1.000, 10.0, 0.001, 0.001))
    # The controller clock now reads 10 ms further ahead, and with a quicker probe.
    est.add(*probe(1.010, 20.0, 0.0005, 0.0005))
    assert est.steps == 1
    t3 = 20.0 + 0.001 + 0.0001
    assert est.offset_at(t3) == pytest.approx(1.000, abs=1e-9)
    # After 1 s of local time at most 5 ms of the 10 ms is made up...
    assert est.offset_at(t3 + 1.0) == pytest.approx(1.005, abs=1e-9)
    # ...and after 2 s the estimate is reached and held.
    assert est.offset_at(t3 + 2.0) == pytest.approx(1.010, abs=1e-9)
    assert est.offset_at(t3 + 10.0) == pytest.approx(1.010, abs=1e-9)


def test_slewed_controller_time_is_monotonic_and_rate_bounded() -> None:
    est = ClockEstimator(max_slew=0.005, acquire=1, acquire_s=0.0)
    est.add(*probe(1.0, 0.0, 0.001, 0.001))
    est.add(*probe(0.97, 0.5, 0.0001, 0.0001))     # 30 ms behind: slew backwards
    times = [0.6 + i * 0.1 for i in range(100)]
    ct = [est.to_controller(t) for t in times]
    rates = [(b - a) / 0.1 for a, b in zip(ct, ct[1:])]
    assert all(0.995 - 1e-9 <= r <= 1.005 + 1e-9 for r in rates)
    assert ct[-1] - times[-1] == pytest.approx(0.97, abs=1e-9)


def test_large_error_steps_at_once() -> None:
    est = ClockEstimator(step_threshold_s=0.05, acquire=1, acquire_s=0.0)
    est.add(*probe(1.0, 10.0, 0.001, 0.001))
    est.add(*probe(1.2, 11.0, 0.0005, 0.0005))     # 200 ms: step
    assert est.steps == 2
    assert est.offset_at(11.01) == pytest.approx(1.2, abs=1e-9)


def test_step_threshold_boundary() -> None:
    est = ClockEstimator(step_threshold_s=0.05, acquire=1, acquire_s=0.0)
    est.add(*probe(0.0, 10.0, 0.001, 0.001))
    est.add(*probe(0.049, 11.0, 0.0005, 0.0005))
    assert est.steps == 1
    est.add(*probe(0.2, 12.0, 0.0001, 0.0001))
    assert est.steps == 2


@pytest.mark.parametrize("times", [
    (10.0, 15.0, 15.0, 9.0),                 # answer arrived before it was sent
    (10.0, 15.0, 14.0, 10.1),                # controller sent before it received
    (10.0, math.nan, 15.0, 10.1),
    (10.0, math.inf, math.inf, 10.1),
    (10.0, 15.0, 15.0, 12.0),                # 2 s round trip: useless
    (10.0, 15.0, 15.5, 10.1),                # controller "worked" longer than the trip
])
def test_impossible_samples_are_rejected(times: tuple[float, float, float, float]) -> None:
    est = ClockEstimator()
    assert not est.add(*times)
    assert not est.ready


def test_forget_samples_keeps_time_continuous() -> None:
    est = ClockEstimator(acquire=1, acquire_s=0.0)
    est.add(*probe(1.0, 10.0, 0.0001, 0.0001))
    before = est.to_controller(20.0)
    est.forget_samples()
    assert est.sample_count == 0 and est.ready
    assert est.to_controller(20.0) == pytest.approx(before)
    # The new controller's clock is 1 ms off: slewed, not stepped, despite a worse probe.
    est.add(*probe(1.001, 21.0, 0.002, 0.002))
    assert est.steps == 1
    assert est.target_offset_s == pytest.approx(1.001)


def test_initial_burst_steps_to_each_better_sample() -> None:
    est = ClockEstimator(acquire=3, acquire_s=0.0)
    est.add(*probe(0.0, 10.0, 0.004, 0.0))          # poor first probe: 2 ms off
    assert est.offset_at(10.01) == pytest.approx(0.002)
    est.add(*probe(0.0, 10.1, 0.0001, 0.0001))      # good one, still acquiring: step
    assert est.offset_at(10.11) == pytest.approx(0.0, abs=1e-9)
    est.add(*probe(0.0, 10.2, 0.0002, 0.0002))
    est.add(*probe(0.003, 10.3, 0.00005, 0.00005))  # acquired: 3 ms is slewed
    assert est.offset_at(10.31) == pytest.approx(0.0, abs=1e-4)


def test_near_best_samples_are_averaged_and_a_lone_quick_one_decides_alone() -> None:
    # Two equally quick probes with opposite errors: their mean is exact.
    est = ClockEstimator()
    est.add(*probe(1.0, 10.0, 0.0006, 0.0002))     # offset error +0.2 ms
    est.add(*probe(1.0, 10.25, 0.0002, 0.0006))    # -0.2 ms
    assert est.target_offset_s == pytest.approx(1.0, abs=5e-6)   # (drift ages the first)
    # A slower one (distance 1.5 ms, above twice the best's 0.4 ms) is left out.
    est.add(*probe(1.0, 10.5, 0.0028, 0.0002))
    assert est.target_offset_s == pytest.approx(1.0, abs=5e-6)
    # With 2 ms of uniform jitter each way the weighted mean beats the best alone.
    rng = random.Random(3)
    errors = {1.0: [], 2.0: []}
    for combine in errors:
        for trial in range(400):
            e = ClockEstimator(combine=combine)
            for i in range(32):
                e.add(*probe(0.0, 10.0 + 0.25 * i, rng.uniform(0, 0.002),
                             rng.uniform(0, 0.002)))
            errors[combine].append(abs(e.target_offset_s))
    p99 = {c: sorted(v)[int(0.99 * len(v))] for c, v in errors.items()}
    assert p99[2.0] < 0.8 * p99[1.0], p99


def test_samples_in_the_first_seconds_are_stepped_to() -> None:
    # A node that started with many others on a busy machine: the burst's probes are all
    # slow (30 ms off), a quick one comes 2 s later and is stepped to, not slewed for 6 s.
    est = ClockEstimator(acquire=2, acquire_s=5.0, step_threshold_s=0.05)
    est.add(*probe(0.0, 10.0, 0.060, 0.0))
    est.add(*probe(0.0, 10.1, 0.061, 0.0))
    assert est.offset_at(10.2) == pytest.approx(0.030, abs=0.0005)   # the two, averaged
    est.add(*probe(0.0, 12.0, 0.0001, 0.0001))
    assert est.offset_at(12.01) == pytest.approx(0.0, abs=1e-9)
    # After acquire_s, a 3 ms change is slewed again.
    est.add(*probe(0.003, 15.5, 0.00005, 0.00005))
    assert est.offset_at(15.6) == pytest.approx(0.0, abs=0.0006)


def test_forget_samples_ends_the_acquisition() -> None:
    est = ClockEstimator(acquire=1, acquire_s=60.0)
    est.add(*probe(1.0, 10.0, 0.0001, 0.0001))
    est.forget_samples()
    est.add(*probe(1.003, 11.0, 0.0001, 0.0001))     # the show runs: slew, do not jump
    assert est.steps == 1
    assert est.offset_at(11.1) == pytest.approx(1.0005, abs=1e-4)


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"acquire": 0}, {"max_slew": 0.0},
                                    {"max_slew": 1.5}, {"step_threshold_s": -1.0},
                                    {"max_delay_s": 0.0}, {"drift": -1e-6},
                                    {"drift": 0.5}, {"acquire_s": -1.0}])
def test_estimator_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ClockEstimator(**kwargs)  # type: ignore[arg-type]
