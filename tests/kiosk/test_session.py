"""The kiosk's rules, without a screen or a socket: requests per tap, idleness, the wall,
staff access (exhibit_engine.kiosk.session)."""

from __future__ import annotations

from exhibit_engine.kiosk.session import (DOUBLE_TAP_S, FOCUS_S, PIN_LOCK_S, STAFF_TAPS,
                                          Session)
from exhibit_engine.kiosk.ui import Control


def _c(name: str, action: str, arg: str = "") -> Control:
    return Control(name, (0.0, 0.0, 10.0, 10.0), action, arg)


EXPLORE = _c("explore", "explore")
SHOW = _c("show", "show")
RU = _c("lang:ru", "language", "ru")


def _session(**kw) -> Session:
    args = dict(languages=("zh", "en", "ru"), language="zh", idle_after=60.0,
                idle_warning_s=10.0, touch_every_s=5.0, now=0.0)
    args.update(kw)
    s = Session(**args)
    s.tick(0.0, online=True)
    return s


def _open(s: Session, item: str = "vase", t: float = 1.0) -> None:
    s.tap(EXPLORE, t, "t1")
    s.tap(_c(f"item:{item}", "open", item), t + 1.0, "t2")


def test_a_tap_on_the_attract_page_opens_the_carousel_and_wakes_the_wall() -> None:
    s = _session()
    reqs = s.tap(EXPLORE, 1.0, "tap-1")
    assert s.screen == "carousel"
    assert [(r.command, r.request_id, r.cause) for r in reqs] == [("touch", "tap-1", "tap-1")]


def test_touches_are_sent_at_most_every_touch_every_s() -> None:
    s = _session()
    sent = [r.command for t in (1.0, 2.0, 3.0, 6.5, 7.0)
            for r in s.tap(None, t, f"tap-{t}")]
    assert sent == ["touch", "touch"]           # at 1.0 and 6.5


def test_show_on_the_wall_sends_one_select_with_the_taps_id_and_a_double_tap_adds_none() -> None:
    s = _session()
    _open(s)
    first = s.tap(SHOW, 5.0, "tap-a")
    second = s.tap(SHOW, 5.0 + DOUBLE_TAP_S / 2, "tap-b")      # the double tap
    assert [(r.command, r.args, r.request_id) for r in first] == [
        ("select", {"item": "vase"}, "tap-a")]
    assert second == []
    assert s.feedback is not None and s.feedback.state == "sending"
    # a deliberate second tap later, while the first is still out: nothing either
    assert s.tap(SHOW, 6.0, "tap-c") == []


def test_the_wall_feedback_follows_the_answer_and_the_walls_time() -> None:
    s = _session()
    _open(s)
    s.tap(SHOW, 5.0, "tap-a")
    s.answered("select", "tap-a", "done", {"effective_at": 100.0})
    assert s.feedback.state == "moving"
    s.tick(5.5, online=True, wall_time=100.0 + FOCUS_S - 0.1)
    assert s.feedback.state == "moving"
    s.tick(6.0, online=True, wall_time=100.0 + FOCUS_S, wall_item="vase")
    assert s.feedback.state == "on_wall"
    s.tick(7.0, online=True, wall_time=110.0, wall_item="ding")     # another kiosk
    assert s.feedback is None


def test_a_refusal_and_offline_are_shown_and_a_late_answer_to_another_tap_is_ignored() -> None:
    s = _session()
    _open(s)
    s.tap(SHOW, 5.0, "tap-a")
    s.answered("select", "other", "done", {"effective_at": 1.0})
    assert s.feedback.state == "sending"
    s.answered("select", "tap-a", "refused", reason="select: no bundle has item 'vase'")
    assert (s.feedback.state, s.feedback.reason) == ("refused", "select: no bundle has item 'vase'")
    assert [r.command for r in s.tap(SHOW, 9.0, "tap-b")] == ["select"]   # may try again
    s.answered("select", "tap-b", "offline")
    assert s.feedback.state == "offline"


def test_the_language_switch_sets_the_kiosks_and_where_allowed_the_walls() -> None:
    s = _session()
    s.tap(EXPLORE, 1.0, "t1")
    reqs = s.tap(RU, 2.0, "t2")
    assert s.current == "ru" and [(r.command, r.args) for r in reqs] == [
        ("language", {"language": "ru"})]
    assert s.tap(_c("lang:ru2", "language", "ru"), 3.0, "t3") == []      # already ru: touch?
    only_here = _session(wall_language=False)
    only_here.tap(EXPLORE, 1.0, "t1")
    assert [r.command for r in only_here.tap(RU, 7.0, "t2")] == ["touch"]
    assert only_here.current == "ru"


def test_idle_warns_then_returns_to_attract_with_the_first_language() -> None:
    s = _session()
    s.tap(EXPLORE, 1.0, "t1")
    s.tap(RU, 2.0, "t2")
    assert s.tick(2.0 + 49.9, online=True) == [] and not s.idle_warning
    s.tick(2.0 + 50.0, online=True)
    assert s.idle_warning and s.screen == "carousel"
    reqs = s.tick(2.0 + 60.0, online=True)
    assert s.screen == "attract" and s.current == "zh" and not s.idle_warning
    # nothing is sent: a language command would wake the wall from its attract loop
    assert reqs == []


def test_a_tap_during_the_warning_keeps_the_visitor_where_they_are() -> None:
    s = _session()
    _open(s)
    s.tick(2.0 + 55.0, online=True)
    assert s.idle_warning
    s.tap(_c("stay", "stay"), 58.0, "t9")
    assert not s.idle_warning and s.screen == "item"
    s.tick(58.0 + 59.0, online=True)
    assert s.screen == "item"


def test_offline_is_a_change_the_pages_see() -> None:
    s = _session()
    v = s.version
    s.tick(1.0, online=False)
    assert not s.online and s.version > v


def test_five_taps_on_the_hidden_corner_open_the_pin_pad_and_the_right_pin_the_staff_page() -> None:
    s = _session(check_pin=lambda pin: pin == "2468")
    corner = _c("staff", "staff")
    for k in range(STAFF_TAPS - 1):
        s.tap(corner, 1.0 + k * (DOUBLE_TAP_S + 0.1), f"c{k}")
    assert s.screen == "attract"
    s.tap(corner, 1.0 + STAFF_TAPS * (DOUBLE_TAP_S + 0.1), "c9")
    assert s.screen == "pin"
    t = 10.0
    for d in "2468":
        s.tap(_c(f"pin:{d}", "digit", d), t, f"d{t}")
        t += 1.0
    s.tap(_c("pin:OK", "enter"), t, "ok")
    assert s.screen == "staff" and not s.exit_requested
    s.tap(_c("exit", "exit"), t + 1.0, "exit")
    assert s.exit_requested


def test_wrong_pins_lock_the_pad_and_no_pin_means_no_way_out() -> None:
    s = _session(check_pin=lambda pin: pin == "2468")
    s.screen = "pin"
    t = 1.0
    for _ in range(3):
        s.tap(_c("pin:1", "digit", "1"), t, f"a{t}")
        s.tap(_c("pin:OK", "enter"), t + 0.6, f"b{t}")
        t += 2.0
    assert s.pin_error == "wrong" and s.screen == "pin"
    s.tap(_c("pin:2", "digit", "2"), t, "locked")
    assert s.pin_error == "locked" and s.pin == ""
    s.tap(_c("pin:2", "digit", "2"), t + PIN_LOCK_S + 1.0, "later")
    assert s.pin == "2"
    none = _session()
    none.screen = "pin"
    none.tap(_c("pin:OK", "enter"), 1.0, "ok")
    assert none.pin_error == "none" and none.screen == "pin"
    none.tap(_c("exit", "exit"), 2.0, "exit")        # not from the pad
    assert not none.exit_requested


def test_no_control_sequence_sends_more_than_one_request_per_tap() -> None:
    import random

    rng = random.Random(3)
    controls = [EXPLORE, SHOW, RU, _c("lang:en", "language", "en"), _c("back", "back"),
                _c("item:vase", "open", "vase"), _c("item:ding", "open", "ding"),
                _c("zoom:in", "zoom", "in"), _c("staff", "staff"), None]
    s = _session()
    t = 0.0
    for k in range(5000):
        t += rng.uniform(0.0, 0.3)
        reqs = s.tap(rng.choice(controls), t, f"tap-{k}")
        assert len(reqs) <= 1 and all(r.request_id == f"tap-{k}" for r in reqs)
        if reqs and reqs[0].command == "select" and rng.random() < 0.7:
            s.answered("select", reqs[0].request_id, "done", {"effective_at": t})
        s.tick(t, online=rng.random() < 0.9, wall_time=t)


def test_a_prints_ink_shows_its_block_alone_and_again_the_whole_print() -> None:
    s = _session()
    _open(s, "birch-forest")
    s.tap(_c("block:3", "block", "2"), 5.0, "b1")
    assert s.block == 2
    s.tap(_c("block:3", "block", "2"), 5.1, "b2")          # repeatable: not a double tap
    assert s.block is None
    s.tap(_c("block:1", "block", "0"), 6.0, "b3")
    s.tap(_c("back", "back"), 7.0, "b4")
    _open(s, "wheat-fields", 8.0)
    assert s.block is None                                 # a new print starts whole
