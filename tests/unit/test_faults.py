"""Injected network faults (``sync/faults.py``): the queue's model, and the plan's spec."""

from __future__ import annotations

import random

import pytest

from exhibit_engine.errors import ConfigError
from exhibit_engine.sync.faults import FaultPlan, FaultQueue


def drain(q: FaultQueue[int], until: float) -> list[tuple[float, int]]:
    out, t = [], 0.0
    while t <= until:
        out += [(t, x) for x in q.due(t)]
        t += 0.0001
    return out


def test_delay_and_jitter_keep_a_stream_in_order() -> None:
    q: FaultQueue[int] = FaultQueue(FaultPlan(delay_ms=1.0, jitter_ms=2.0, seed=1))
    for i in range(200):
        q.admit(i, i * 0.0005)
    got = drain(q, 1.0)
    assert [x for _, x in got] == list(range(200))          # TCP keeps order
    waits = [t - x * 0.0005 for t, x in got]
    assert min(waits) >= 0.001 - 1e-9 and max(waits) <= 0.0035
    assert max(waits) > 0.002                                # the jitter is there


def test_loss_duplicates_and_reordering_happen_at_their_rates() -> None:
    plan = FaultPlan(jitter_ms=1.0, loss=0.1, duplicate=0.05, reorder=0.1, seed=7)
    q: FaultQueue[int] = FaultQueue(plan)
    n = 5000
    for i in range(n):
        q.admit(i, i * 0.001)
    got = [x for _, x in drain(q, n * 0.001 + 0.1)]
    assert q.stats.admitted == n
    assert 0.08 < q.stats.dropped / n < 0.12
    assert len(got) == n - q.stats.dropped + q.stats.duplicated
    assert len(got) - len(set(got)) == q.stats.duplicated > 0
    inversions = sum(1 for a, b in zip(got, got[1:]) if b < a)
    assert inversions > 0 and q.stats.reordered > 0
    assert len(q) == 0 and q.wait_s(0.0) is None


def test_streams_are_independent_and_the_seed_repeats() -> None:
    runs = []
    for _ in range(2):
        q: FaultQueue[str] = FaultQueue(FaultPlan(jitter_ms=5.0), random.Random(3))
        q.admit("a1", 0.0, "a")
        q.admit("b1", 0.0, "b")
        q.admit("a2", 0.0001, "a")
        runs.append([x for _, x in drain(q, 0.1)])
    assert runs[0] == runs[1]
    assert runs[0].index("a1") < runs[0].index("a2")


def test_the_spec_round_trips_and_bad_specs_name_the_rule() -> None:
    plan = FaultPlan.parse("jitter=2, loss=0.01,seed=4")
    assert (plan.jitter_ms, plan.loss, plan.seed) == (2.0, 0.01, 4) and plan.active
    assert FaultPlan.parse(plan.spec()) == plan
    assert FaultPlan.from_env({}) is None and FaultPlan.from_env({"EXHIBIT_FAULTS": " "}) is None
    assert not FaultPlan().active
    for spec, why in (("lost=0.1", "expected one of"), ("loss=much", "not a number"),
                      ("loss=2", "probability"), ("jitter=-1", "0 to 10000 ms"),
                      ("jitter", "expected one of")):
        with pytest.raises(ConfigError, match=why) as err:
            FaultPlan.parse(spec)
        assert "EXHIBIT_FAULTS" in str(err.value)
