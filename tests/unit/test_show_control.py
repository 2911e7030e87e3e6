"""ShowControl: GO guard, pause, panic, attract, opening hours, catch-up and persistence.

Pure: every call gets the controller time and a simulated wall time. Commands get
arguments as the controller's command path leaves them (checked); the argument and role
rules themselves are tested with that path, in tests/sync/test_commands.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from exhibit_engine.config import (
    AttractConfig,
    BundleRef,
    CueConfig,
    ScheduleConfig,
    ShowConfig,
)
from exhibit_engine.errors import ControlError
from exhibit_engine.show import ShowControl, Timeline, blackout_level

BERLIN = ZoneInfo("Europe/Berlin")
OPEN = (600, 1080)                                           # 10:00-18:00

CUES = (
    CueConfig("intro", "b", "one", 100.0),
    CueConfig("story", "b", "two", 1000.0, "crossfade", 2.0),
    CueConfig("finale", "b", "three", 700.0),
)                                                            # one pass: 1800 s
ATTRACT = AttractConfig(60.0, (CueConfig("teaser", "b", "loop", 20.0),))
SHOW = ShowConfig("s", {}, (BundleRef("b", "b.exb"),), CUES, attract=ATTRACT,
                  standby=CueConfig("standby", "b", "night", 600.0),
                  schedule=ScheduleConfig("Europe/Berlin", (OPEN,) * 7,
                                          {date(2026, 12, 25): None}),
                  blackout_fade_s=2.0, panic_fade_s=1.0)
ALWAYS = replace(SHOW, schedule=None)


def berlin(day: int, hour: int, minute: int = 0, second: float = 0.0,
           month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN) + timedelta(seconds=second)


class Sim:
    """A controller clock and a wall clock moving together."""

    def __init__(self, show: ShowConfig = ALWAYS, wall: datetime | None = None,
                 now: float = 1000.0, **kw) -> None:
        self.now, self.wall = now, wall or berlin(1, 12)
        self.ctl = ShowControl(show, self.now, self.wall, **kw)

    def at(self, dt: float):
        self.now += dt
        self.wall += timedelta(seconds=dt)
        return self

    def cmd(self, name: str, **args):
        return self.ctl.command(name, args, self.now, self.wall)

    def tick(self):
        return self.ctl.tick(self.now, self.wall)

    @property
    def pos(self) -> float:
        return self.ctl.position(self.now)


# --------------------------------------------------------------------------- GO


def test_go_jumps_to_the_next_cue_start_on_the_next_synchronised_frame() -> None:
    sim = Sim()
    assert sim.ctl.state()["anchor"] == [1000.0, 0.0, 1.0]
    res = sim.at(5.0).cmd("go")
    assert res.ignored == "" and res.data["cue"] == "story"
    assert res.changed["anchor"] == [1005.2, 100.0, 1.0]     # effective 0.2 s later
    assert sim.pos == pytest.approx(5.0)                     # until then the old anchor
    assert sim.ctl.position(1005.2) == 100.0
    assert res.events == (("cue", 1005.2, {"id": "story", "index": 1, "program": "main",
                                           "loop": 0, "position": 100.0}),)
    assert res.changed["cue"] == {"id": "story", "index": 1, "program": "main"}


def test_double_go_within_the_guard_is_ignored_and_accepted_after_it() -> None:
    sim = Sim()
    assert sim.at(1.0).cmd("go").data["cue"] == "story"
    second = sim.at(0.3).cmd("go")
    assert second.ignored == "double GO within 0.5 s"
    assert second.changed == {} and second.events == ()
    assert sim.at(0.1).cmd("next").ignored                  # 0.4 s after the accepted GO
    third = sim.at(0.2).cmd("go")                            # 0.6 s after it
    assert third.ignored == "" and third.data["cue"] == "finale"
    assert sim.ctl.anchor.position == 1100.0
    wide = Sim(go_guard_s=2.0)
    wide.at(1.0).cmd("go")
    assert wide.at(1.5).cmd("go").ignored == "double GO within 2 s"


def test_go_wraps_a_looping_show_and_stops_at_the_end_of_a_finite_one() -> None:
    sim = Sim()
    sim.cmd("goto", cue="finale")
    assert sim.at(1.0).cmd("go").data["position"] == 1800.0      # the next pass's intro
    once = Sim(replace(ALWAYS, loop=False))
    once.cmd("goto", cue=2)
    assert once.at(1.0).cmd("go").ignored == "the show has ended: no next cue"


def test_back_goto_and_seek() -> None:
    sim = Sim()
    sim.at(1.0).cmd("goto", cue="finale")
    assert sim.ctl.anchor.position == 1100.0
    assert sim.at(1.0).cmd("back").data["cue"] == "story"
    assert sim.at(1.0).cmd("back").data["cue"] == "intro"
    assert sim.at(1.0).cmd("back").data["position"] == 0.0      # stays at the first cue
    res = sim.at(1.0).cmd("seek", position=1850.0)
    assert res.events[0][2]["id"] == "intro" and res.events[0][2]["loop"] == 1
    assert sim.at(1.0).cmd("back").data["position"] == 1100.0   # previous pass's finale
    sim.at(1.0).cmd("seek", position=200.0, rate=0)
    assert sim.ctl.paused and sim.ctl.anchor.rate == 0.0
    sim.at(1.0).cmd("goto", cue="finale")                       # a paused show stays parked
    assert sim.ctl.anchor.rate == 0.0 and sim.ctl.anchor.position == 1100.0
    with pytest.raises(ControlError, match="no cue 'nope'"):
        sim.cmd("goto", cue="nope")


# --------------------------------------------------------------------------- pause


def test_pause_and_resume_change_the_rate_without_a_jump() -> None:
    sim = Sim()
    sim.at(10.0).cmd("pause")
    a = sim.ctl.anchor
    assert (a.controller_time, a.position, a.rate) == (1010.2, pytest.approx(10.2), 0.0)
    assert sim.ctl.position(1010.1) == pytest.approx(10.1)      # still playing until then
    assert sim.ctl.position(1010.3) == pytest.approx(10.2)
    assert sim.at(30.0).cmd("pause").ignored == "already paused"
    assert sim.pos == pytest.approx(10.2)
    sim.cmd("resume")
    for dt in (0.1, 0.2, 0.3, 5.0):                             # continuous through the switch
        assert sim.ctl.position(sim.now + dt) == pytest.approx(10.2 + max(0.0, dt - 0.2))
    assert sim.at(1.0).cmd("resume").ignored == "already playing"


# --------------------------------------------------------------------------- blackout


def test_blackout_fades_and_blackout_level_follows_controller_time() -> None:
    sim = Sim()
    res = sim.at(1.0).cmd("blackout", on=True, fade=4.0)
    value = res.changed["blackout"]
    assert value == {"level": 1.0, "from": 0.0, "at": 1001.2, "fade": 4.0}
    assert blackout_level(value, 1001.0) == 0.0
    assert blackout_level(value, 1003.2) == pytest.approx(0.5)
    assert blackout_level(value, 1010.0) == 1.0
    assert sim.at(0.5).cmd("blackout", on=True).ignored == "blackout already on"
    # lifted halfway through a fade: it comes back from where it was, not from full black
    sim.ctl.command("blackout", {"on": False, "fade": 2.0}, 1002.0, sim.wall)
    back = sim.ctl.state()["blackout"]
    assert back["from"] == pytest.approx(0.25) and back["level"] == 0.0
    assert blackout_level(back, 1003.2) == pytest.approx(0.125)
    assert blackout_level(None, 5.0) == 0.0 and blackout_level({"level": "x"}, 5.0) == 0.0


def test_panic_fades_then_a_second_panic_is_black_at_once_and_stops() -> None:
    sim = Sim()
    first = sim.at(10.0).cmd("panic")
    assert first.data["stage"] == 1
    fade = first.changed["blackout"]
    assert fade["fade"] == 1.0 and blackout_level(fade, sim.now + 0.7) == pytest.approx(0.5)
    assert sim.ctl.anchor.rate == 1.0 and "anchor" not in first.changed   # still playing
    second = sim.at(0.3).cmd("panic")                       # mid-fade
    black = second.changed["blackout"]
    eff = sim.now + 0.2
    assert blackout_level(black, eff) == 1.0                # no fade left
    assert black["fade"] == 0.0 and black["at"] == eff
    assert second.changed["anchor"] == [eff, pytest.approx(10.5), 0.0]   # stopped, no jump
    assert sim.at(5.0).pos == pytest.approx(10.5)
    assert sim.cmd("panic").ignored.startswith("already stopped by panic")
    sim.tick()
    assert sim.at(120.0).tick().changed.get("program") is None   # a panic holds off attract
    cleared = sim.cmd("blackout", on=False)
    assert cleared.changed["blackout"]["level"] == 0.0 and sim.ctl.panic == 0
    assert sim.ctl.anchor.rate == 0.0                        # stays stopped until resume
    sim.cmd("resume")
    assert sim.ctl.anchor.rate == 1.0


# --------------------------------------------------------------------------- attract


def test_attract_after_idle_and_a_touch_returns_to_main_where_it_was() -> None:
    sim = Sim()
    sim.at(30.0).cmd("touch")
    assert sim.at(59.0).tick().changed == {}                 # 59 s since the touch
    res = sim.at(1.0).tick()
    assert res.changed["program"] == {"name": "attract", "since": sim.now + 0.2}
    assert res.changed["anchor"] == [sim.now + 0.2, 0.0, 1.0]
    assert res.events[0][2] == {"id": "teaser", "index": 0, "program": "attract", "loop": 0,
                                "position": 0.0}
    held = 90.2
    assert sim.at(45.0).tick().events[0][2]["loop"] == 2     # the attract loop plays on
    back = sim.cmd("touch")
    assert back.changed["program"]["name"] == "main"
    assert back.changed["anchor"] == [sim.now + 0.2, pytest.approx(held), 1.0]
    assert "program" not in sim.at(59.0).tick().changed      # the idle timer restarted
    assert sim.at(1.0).tick().changed["program"]["name"] == "attract"


def test_an_operator_command_leaves_attract_and_a_paused_show_never_enters_it() -> None:
    sim = Sim()
    sim.at(60.0).tick()
    assert sim.ctl.program == "attract"
    res = sim.at(5.0).cmd("go")
    assert res.changed["program"]["name"] == "main" and res.data["cue"] == "story"
    sim.cmd("pause")
    assert sim.at(600.0).tick().changed == {} and sim.ctl.program == "main"


# --------------------------------------------------------------------------- schedule


def test_catch_up_after_a_reboot_at_1403_lands_on_the_right_cue_and_offset() -> None:
    # 14:03 is 4 h 3 min = 14580 s after the 10:00 opening; 14580 mod 1800 = 180, which is
    # 80 s into "story" (intro is 100 s long)
    for day, month in ((1, 12), (29, 3), (25, 10)):          # a plain day and both DST days
        ctl = ShowControl(SHOW, 50.0, berlin(day, 14, 3, month=month))
        assert ctl.program == "main"
        assert ctl.anchor.controller_time == 50.0 and ctl.position(50.0) == pytest.approx(180.0)
        state = Timeline.from_show(SHOW).state_at(ctl.position(50.0))
        assert (state.cue.id, state.local_t) == ("story", pytest.approx(80.0))
        assert ctl.state()["cue"] == {"id": "story", "index": 1, "program": "main"}
        assert ctl.state()["blackout"]["level"] == 0.0
    # the same instant in UTC gives the same position (summer: 14:03 CEST is 12:03 UTC)
    utc = ShowControl(SHOW, 0.0, datetime(2026, 3, 29, 12, 3, tzinfo=UTC))
    assert utc.position(0.0) == pytest.approx(180.0)
    # deterministic: two controllers booted at the same instant agree, at any later time
    a = ShowControl(SHOW, 7.0, berlin(2, 16, 59, 59.5))
    b = ShowControl(SHOW, 123.0, berlin(2, 16, 59, 59.5))
    assert a.position(17.0) == b.position(133.0) == pytest.approx(25199.5 % 1800 + 10.0)


def test_catch_up_counts_real_seconds_when_the_clocks_change_during_opening_hours() -> None:
    show = replace(SHOW, cues=(CueConfig("only", "b", "one", 700.0),),
                   schedule=ScheduleConfig("Europe/Berlin", ((0, 1440),) * 7))
    # midnight to 12:03 local is 11 h 3 min on the spring day and 13 h 3 min in autumn
    spring = ShowControl(show, 0.0, berlin(29, 12, 3, month=3))
    autumn = ShowControl(show, 0.0, berlin(25, 12, 3, month=10))
    assert spring.position(0.0) == pytest.approx((11 * 3600 + 180) % 700)     # 580
    assert autumn.position(0.0) == pytest.approx((13 * 3600 + 180) % 700)     # 80


def test_closing_plays_standby_and_opening_starts_the_show_from_zero() -> None:
    sim = Sim(SHOW, wall=berlin(1, 17, 59, 59.0))
    assert sim.ctl.program == "main"
    res = sim.at(1.1).tick()                                  # 18:00:00.1
    assert res.changed["program"]["name"] == "standby"
    assert res.changed["anchor"] == [sim.now + 0.2, 0.0, 1.0]
    assert res.changed["cue"] == {"id": "standby", "index": 0, "program": "standby"}
    assert "blackout" not in res.changed                      # a standby scene, not black
    assert sim.at(600.0).tick().changed.get("program") is None
    sim.wall = berlin(2, 10, 0, 0.05)                         # the next morning
    sim.now += 16 * 3600
    res = sim.tick()
    assert res.changed["program"]["name"] == "main"
    assert res.changed["anchor"] == [sim.now + 0.2, pytest.approx(0.25), 1.0]
    assert res.events[0][2]["id"] == "intro"
    assert sim.at(1.0).tick().changed == {}


def test_without_a_standby_scene_the_wall_fades_to_black_while_closed() -> None:
    show = replace(SHOW, standby=None)
    sim = Sim(show, wall=berlin(1, 17, 59, 59.5))
    res = sim.at(1.0).tick()
    assert res.changed["program"]["name"] == "standby"
    fade = res.changed["blackout"]
    assert (fade["level"], fade["from"], fade["fade"]) == (1.0, 0.0, 2.0)
    assert res.changed["cue"] == {"id": "", "index": -1, "program": "standby"}
    booted_closed = ShowControl(show, 0.0, berlin(25, 12))    # Christmas: closed
    assert booted_closed.program == "standby"
    assert blackout_level(booted_closed.state()["blackout"], 0.0) == 1.0   # black at once
    sim.wall, sim.now = berlin(2, 10), sim.now + 16 * 3600
    lit = sim.tick().changed["blackout"]
    assert (lit["level"], lit["from"]) == (0.0, 1.0)


def test_an_operator_may_start_the_show_while_closed_until_the_next_change() -> None:
    sim = Sim(SHOW, wall=berlin(1, 20))
    assert sim.ctl.program == "standby"
    assert sim.at(1.0).cmd("goto", cue="story").changed["program"]["name"] == "main"
    assert sim.at(3600.0).tick().changed.get("program") is None   # no attract while closed
    sim.wall, sim.now = berlin(2, 10), sim.now + 14 * 3600
    assert sim.tick().changed["anchor"][1] == pytest.approx(0.2)  # opening: schedule wins


# --------------------------------------------------------------------------- wait cues


def test_a_wait_cue_holds_its_last_frame_until_go() -> None:
    show = replace(ALWAYS, cues=(replace(CUES[0], wait=True), *CUES[1:]))
    sim = Sim(show)
    sim.at(60.0).cmd("touch")                                 # no attract before the hold
    assert sim.at(38.0).tick().changed == {}                  # 2 s before the end: not yet
    res = sim.at(1.5).tick()                                  # 0.5 s before
    hold = res.changed["anchor"]
    assert hold == [pytest.approx(1099.999), pytest.approx(99.999), 0.0]
    assert sim.ctl.waiting and sim.at(60.0).pos == pytest.approx(99.999)
    assert sim.tick().events == () and sim.ctl.state()["cue"]["id"] == "intro"
    assert sim.at(120.0).tick().changed == {}                # no attract while held
    res = sim.cmd("go")
    assert res.data["cue"] == "story" and res.changed["anchor"][1:] == [100.0, 1.0]
    assert not sim.ctl.waiting


# --------------------------------------------------------------------------- cue events


def test_ticks_report_each_cue_once_and_are_idempotent() -> None:
    sim = Sim(replace(ALWAYS, attract=None))
    fired = []
    for dt in [0.5] * 400 + [1300.0, 0.0, 0.5, 350.0]:        # 200 s of ticks, then jumps
        fired += [e[2]["id"] for e in sim.at(dt).tick().events]
    assert fired == ["story", "finale", "intro"]
    assert sim.tick() == sim.tick()                           # same inputs: nothing new
    assert sim.tick().changed == {}


# --------------------------------------------------------------------------- persistence


def test_persistence_round_trip_continues_by_elapsed_wall_time() -> None:
    sim = Sim(SHOW, wall=berlin(1, 11))
    sim.at(1.0).cmd("goto", cue="story")
    sim.at(10.0).cmd("blackout", on=True, fade=0.0)
    sim.at(5.0).tick()
    saved = json.loads(json.dumps(sim.ctl.to_dict()))         # JSON-able
    before = sim.pos
    # the controller restarts 30 s later; its monotonic clock starts somewhere else
    later = sim.wall + timedelta(seconds=30.0)
    ctl = ShowControl.from_dict(SHOW, saved, 7.0, later)
    assert ctl.position(7.0) == pytest.approx(before + 30.0)
    assert ctl.program == "main" and blackout_level(ctl.state()["blackout"], 7.0) == 1.0
    assert ctl.state()["cue"]["id"] == "story"
    assert ctl.tick(7.0, later).events == ()                 # story is not fired again


def test_a_restored_paused_show_stays_put_and_a_closing_in_between_lets_the_schedule_win(
        ) -> None:
    sim = Sim(SHOW, wall=berlin(1, 11))
    sim.at(20.0).cmd("pause")
    sim.at(1.0).cmd("panic")
    saved = sim.ctl.to_dict()
    ctl = ShowControl(SHOW, 0.0, sim.wall + timedelta(hours=1), restored=saved)
    assert ctl.position(0.0) == pytest.approx(sim.pos) and ctl.anchor.rate == 0.0
    overnight = ShowControl(SHOW, 0.0, berlin(2, 14, 3), restored=saved)
    assert overnight.position(0.0) == pytest.approx(180.0) and overnight.program == "main"
    assert overnight.panic == 1 and overnight.state()["blackout"]["level"] == 1.0


def test_a_malformed_snapshot_is_one_control_error() -> None:
    saved = Sim().ctl.to_dict()
    for bad in ({}, {**saved, "anchor": [1, 2]}, {**saved, "show": "other"},
                {**saved, "wall_time": "yesterday"}, {**saved, "panic": 7}):
        with pytest.raises(ControlError, match="saved show state is malformed"):
            ShowControl(ALWAYS, 0.0, berlin(1, 12), restored=bad)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("name, args, match", [
    ("dance", {}, "unknown show command 'dance'"),
    ("goto", {"cue": True}, "no cue True"),
    ("goto", {"cue": 3}, "no cue 3"),
])
def test_bad_commands_raise_control_error(name: str, args: dict, match: str) -> None:
    sim = Sim()
    before = sim.ctl.state()
    with pytest.raises(ControlError, match=match):
        sim.ctl.command(name, args, sim.now, sim.wall)
    assert sim.ctl.state() == before
    with pytest.raises(ControlError, match="aware datetime"):
        sim.ctl.tick(sim.now, datetime(2026, 1, 1))


def test_a_go_onto_a_cue_start_already_announced_does_not_announce_it_twice() -> None:
    sim = Sim(replace(ALWAYS, attract=None))
    sim.tick()
    sim.at(99.7)
    ahead = sim.ctl.tick(sim.now, sim.wall, lead=0.4)      # "story starts at 100 s"
    assert [e[2]["id"] for e in ahead.events] == ["story"]
    res = sim.cmd("go")        # effective at 99.9 s of show time: onto story, announced
    assert res.data["cue"] == "story" and res.events == ()
    assert sim.ctl.tick(sim.now + 1.0, sim.wall).events == ()
    later = sim.at(5.0).cmd("go")      # a GO well inside story: finale, announced once
    assert [e[2]["id"] for e in later.events] == ["finale"]
