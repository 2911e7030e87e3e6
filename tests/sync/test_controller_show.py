"""Show commands in ControllerCore: ShowControl's results become key updates, events and
replies; the show tick runs with the heartbeat; a restart resumes the show control."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from exhibit_engine.config import AttractConfig, CueConfig, ShowConfig
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.controller_core import ControllerCore

WALL = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CUES = (CueConfig("intro", "b", "s1", 10.0), CueConfig("hall", "b", "s2", 20.0),
        CueConfig("end", "b", "s3", 30.0))
SHOW = ShowConfig("demo", {"zh": "展", "en": "Show", "ru": "Шоу"}, (), CUES,
                  attract=AttractConfig(5.0, (CueConfig("loop", "b", "s4", 8.0),)))


@pytest.fixture
def core() -> ControllerCore:
    c = ControllerCore(now=100.0, session="s", heartbeat_s=0.2)
    c.attach_show(SHOW, 100.0, WALL)
    return c


def command(core: ControllerCore, name: str, now: float, **args: Any,
            ) -> tuple[p.Reply, tuple[p.Message, ...]]:
    actions = core.handle(b"op", p.Command(name, args, 3), now)
    (reply,) = actions.replies
    assert isinstance(reply, p.Reply) and reply.req == 3
    return reply, actions.publish


def updates(published: tuple[p.Message, ...]) -> dict[str, Any]:
    return {m.key: m.value for m in published if isinstance(m, p.KeyUpdate)}


def test_attaching_a_show_publishes_its_state_under_one_sequence_number(
        core: ControllerCore) -> None:
    assert core.seq == 1
    assert core.state["program"]["name"] == "main"
    assert core.state["cue"]["id"] == "intro"
    assert core.state["blackout"]["level"] == 0.0
    assert core.state["anchor"] == [100.0, 0.0, 1.0]


def test_go_jumps_to_the_next_cue_as_key_updates_and_a_cue_event(core: ControllerCore) -> None:
    seq = core.seq
    reply, published = command(core, "go", 101.0)
    assert reply.ok, reply.error
    assert reply.data["cue"] == "hall" and reply.data["position"] == 10.0
    changed = updates(published)
    assert changed["anchor"] == [pytest.approx(101.2), 10.0, 1.0]
    # One sequence number per key, in order, no gap: nodes apply them without a snapshot.
    seqs = [m.seq for m in published if isinstance(m, p.KeyUpdate)]
    assert seqs == list(range(seq + 1, seq + 1 + len(seqs)))
    assert reply.data["seq"] == core.seq == seqs[-1]
    (event,) = [m for m in published if isinstance(m, p.Event)]
    assert event.kind == "cue" and event.args["id"] == "hall"
    assert event.effective_at == pytest.approx(10.0)        # show time of the jump
    assert reply.data["events"] == [event.seq]
    # Show time honours the announced anchor only once it is in effect.
    assert core.show_time(101.1) == pytest.approx(1.1)
    assert core.show_time(101.7) == pytest.approx(10.5)


def test_reply_times_keep_one_base_per_field_name(core: ControllerCore) -> None:
    """docs/protocol.md §7: ``effective_at`` is show seconds in every reply and event;
    show control replies say when they act in controller seconds, as ``controller_at``
    (they used to call that ``effective_at`` too, in the other time base)."""
    command(core, "seek", 100.0, position=100.0, delay=0.0)
    go, published = command(core, "go", 101.0)
    assert "effective_at" not in go.data
    assert go.data["controller_at"] == pytest.approx(101.2)
    (event,) = [m for m in published if isinstance(m, p.Event)]
    assert updates(published)["anchor"][0] == pytest.approx(go.data["controller_at"])
    capture, (cap_event,) = command(core, "capture", 101.0, tag="t", delay=0.5)
    assert capture.data["effective_at"] == pytest.approx(core.show_time(101.0) + 0.5)
    assert cap_event.effective_at == capture.data["effective_at"]


def test_a_second_go_inside_the_guard_is_ignored_and_says_why(core: ControllerCore) -> None:
    command(core, "go", 101.0)
    seq = core.seq
    reply, published = command(core, "go", 101.2)
    assert reply.ok and "double GO" in reply.data["ignored"]
    assert published == () and core.seq == seq


def test_pause_resume_goto_and_bad_arguments(core: ControllerCore) -> None:
    reply, published = command(core, "pause", 102.0, delay=0.0)
    assert reply.ok and updates(published)["anchor"][2] == 0.0
    assert core.show_time(110.0) == pytest.approx(2.0)
    reply, _ = command(core, "resume", 110.0, delay=0.0)
    assert reply.ok and core.show_time(111.0) == pytest.approx(3.0)
    reply, _ = command(core, "goto", 111.0, cue="end", delay=0.0)
    assert reply.ok and core.show_time(111.0) == pytest.approx(30.0)
    reply, published = command(core, "goto", 112.0, cue="nope")
    assert not reply.ok and "no cue 'nope'" in reply.error and reply.error.startswith("goto:")
    assert published == ()
    reply, _ = command(core, "pause", 112.0, speed=2)
    assert not reply.ok and "unknown argument 'speed'" in reply.error


def test_seek_goes_through_the_show_control(core: ControllerCore) -> None:
    reply, published = command(core, "seek", 100.0, position=25.0, delay=0.0)
    assert reply.ok and updates(published)["cue"]["id"] == "hall"
    assert core.show_time(101.0) == pytest.approx(26.0)
    reply, _ = command(core, "seek", 100.0, position=-1.0)
    assert not reply.ok


def test_blackout_and_panic_publish_the_blackout_key(core: ControllerCore) -> None:
    reply, published = command(core, "blackout", 100.0, on=True, fade=2.0, delay=0.0)
    assert reply.ok
    assert updates(published)["blackout"] == {"level": 1.0, "from": 0.0, "at": 100.0,
                                              "fade": 2.0}
    reply, _ = command(core, "blackout", 101.0, on=True)
    assert reply.data["ignored"] == "blackout already on"
    reply, _ = command(core, "blackout", 101.0, on="yes")
    assert not reply.ok
    command(core, "blackout", 102.0, on=False, fade=0.0, delay=0.0)
    command(core, "panic", 103.0, delay=0.0)
    reply, published = command(core, "panic", 103.5, delay=0.0)
    assert reply.ok and reply.data["stage"] == 2
    assert updates(published)["anchor"][2] == 0.0        # the second panic stops the show


def test_the_tick_starts_the_attract_loop_and_a_kiosk_select_leaves_it(
        core: ControllerCore) -> None:
    core.tick(100.0, WALL)
    beat = core.tick(106.0, WALL + timedelta(seconds=6))       # idle for 5 s and more
    changed = updates(beat.publish)
    assert changed["program"]["name"] == "attract"
    # Key updates come before the heartbeat that carries their sequence number.
    kinds = [type(m).__name__ for m in beat.publish]
    assert kinds.index("Heartbeat") > max(i for i, k in enumerate(kinds) if k == "KeyUpdate")
    (hb,) = [m for m in beat.publish if isinstance(m, p.Heartbeat)]
    assert hb.seq == core.seq
    reply, published = command(core, "select", 106.5, item="vase")
    assert reply.ok and updates(published)["program"]["name"] == "main"


def test_language_sets_the_state_key_from_the_shows_languages(core: ControllerCore) -> None:
    reply, published = command(core, "language", 100.0, language="ru")
    assert reply.ok and updates(published)["language"] == "ru"
    assert core.state["language"] == "ru"
    reply, _ = command(core, "language", 100.0, language="fr")
    assert not reply.ok and "zh, en, ru" in reply.error


def test_show_commands_without_a_cue_list_are_refused() -> None:
    bare = ControllerCore(now=0.0, session="s")
    bare.attach_show(ShowConfig("empty", {}, (), ()), 0.0, WALL)
    reply, _ = command(bare, "go", 0.0)
    assert not reply.ok and "no cue list" in reply.error
    reply, _ = command(bare, "seek", 0.0, position=5.0, delay=0.0)   # the plain seek
    assert reply.ok and bare.show_time(1.0) == pytest.approx(6.0)


def test_a_restarted_core_resumes_the_show_control_by_the_wall_clock(
        core: ControllerCore) -> None:
    command(core, "goto", 100.0, cue="hall", delay=0.0)
    command(core, "blackout", 101.0, on=True, fade=0.0, delay=0.0)
    core.tick(103.0, WALL + timedelta(seconds=3))
    saved = core.saved(103.0, (WALL + timedelta(seconds=3)).timestamp(), SHOW.id)
    assert saved.control is not None and saved.position == pytest.approx(13.0)

    later = WALL + timedelta(seconds=10)
    again = ControllerCore(now=5.0, session="t")
    again.restore(saved, 5.0, later.timestamp())
    again.attach_show(SHOW, 5.0, later, restored=saved.control)
    assert again.show_time(5.0) == pytest.approx(20.0)
    assert again.state["blackout"]["level"] == 1.0
    assert again.state["cue"]["id"] == "hall"
    assert again.seq > saved.seq


def test_a_malformed_saved_control_starts_the_show_fresh(
        caplog: pytest.LogCaptureFixture) -> None:
    c = ControllerCore(now=0.0, session="s")
    c.attach_show(SHOW, 0.0, WALL, restored={"version": 99})
    assert "saved show state not used" in caplog.text
    assert c.show_time(0.0) == 0.0 and c.show_control is not None
