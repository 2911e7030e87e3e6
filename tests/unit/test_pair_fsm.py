"""The Binary Star state machine of a controller pair (``sync/_pair.py``): pure calls."""

from __future__ import annotations

import pytest

from exhibit_engine.sync._pair import ACTIVE, PASSIVE, BinaryStar


def test_a_primary_that_hears_the_backup_serves_and_the_backup_follows() -> None:
    p, b = BinaryStar("primary", 0.0), BinaryStar("backup", 0.0)
    assert b.peer("primary", 0, 0.05) is None           # the backup waits for an active
    change = p.peer("backup", 0, 0.05)
    assert change is not None and change.new == ACTIVE and p.term == 1
    assert b.peer(p.state, p.term, 0.1).new == PASSIVE
    assert b.peer_alive(0.2) and not b.peer_alive(0.7)


def test_a_passive_takes_over_only_when_the_partner_is_lost_and_a_client_asks() -> None:
    b = BinaryStar("backup", 0.0, peer_lost_after_s=0.5)
    b.peer(ACTIVE, 1, 0.1)
    assert b.state == PASSIVE
    # The partner lives: a client that reached the backup is refused (a partition of
    # that client from the primary, not of the primary): no split-brain.
    assert b.client_request(0.3) == (False, None)
    assert "passive" in b.refusal("10.0.0.5:5570")
    # The partner is lost, but no client asks (only the pair link failed): it waits.
    assert b.state == PASSIVE
    serve, change = b.client_request(0.7, "node a")
    assert serve and change is not None and change.new == ACTIVE
    assert b.term == 2 and "node a asked" in change.reason and "0.60 s" in change.reason


def test_no_automatic_flip_back_when_the_primary_returns() -> None:
    b = BinaryStar("backup", 0.0)
    b.peer(ACTIVE, 1, 0.1)
    b.client_request(1.0)
    assert b.state == ACTIVE
    p = BinaryStar("primary", 5.0)              # restarted
    assert p.peer(b.state, b.term, 5.1).new == PASSIVE
    assert b.peer(p.state, p.term, 5.1) is None and b.state == ACTIVE


def test_two_actives_settle_on_the_newer_term() -> None:
    p, b = BinaryStar("primary", 0.0), BinaryStar("backup", 0.0)
    p.peer("backup", 0, 0.0)                    # p active, term 1
    b.peer(ACTIVE, 1, 0.0)                      # b passive
    b.client_request(1.0)                       # a partition: b took over, term 2
    assert (p.state, b.state, b.term) == (ACTIVE, ACTIVE, 2)
    assert p.peer(ACTIVE, 2, 1.5).new == PASSIVE      # healed: the older one steps down
    assert b.peer(PASSIVE, 1, 1.5) is None and b.state == ACTIVE


def test_a_passive_whose_active_restarted_takes_over() -> None:
    b = BinaryStar("backup", 0.0)
    b.peer(ACTIVE, 1, 0.1)
    assert b.peer("primary", 0, 2.0).new == ACTIVE       # it holds the newest replica
    p = BinaryStar("primary", 2.0)
    assert p.peer(PASSIVE, 0, 2.0) is None and p.state == "primary"   # waits for it


def test_a_lone_primary_serves_once_it_has_waited_for_its_backup() -> None:
    p = BinaryStar("primary", 0.0, peer_lost_after_s=0.5)
    # Just started: the backup may be there (active, even) and not heard yet.
    assert p.client_request(0.2) == (False, None) and p.state == "primary"
    serve, change = p.client_request(0.6, "kiosk-1")
    assert serve and change is not None and "never heard" in change.reason
    assert p.state == ACTIVE


def test_bad_input_is_ignored_or_refused() -> None:
    b = BinaryStar("backup", 0.0)
    assert b.peer("bogus", 1, 0.1) is None and b.peer(ACTIVE, True, 0.1) is None  # type: ignore[arg-type]
    assert b.peer_state is None
    with pytest.raises(ValueError):
        BinaryStar("tertiary", 0.0)
    summary = b.summary(0.7)
    assert summary["role"] == "backup" and summary["peer"]["alive"] is False
