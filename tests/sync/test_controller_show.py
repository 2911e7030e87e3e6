"""Show commands in ControllerCore: ShowControl's results become key updates, events and
replies; the show tick runs with the heartbeat; a restart resumes the show control."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from exhibit_engine.config import AttractConfig, CueConfig, ShowConfig
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.controller_core import ControllerCore

from .conftest import desk_command

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
    actions = desk_command(core, name, now, args, 3)
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
    # Controller time 101.5, after the GO took effect at 101.2: the frame there shows
    # the next cue, so that is the show time the capture names.
    assert capture.data["controller_at"] == pytest.approx(101.5)
    assert capture.data["effective_at"] == pytest.approx(core.show_time(101.5))
    assert capture.data["effective_at"] == pytest.approx(event.effective_at + 0.3)
    assert (cap_event.effective_at, cap_event.controller_at) == (
        capture.data["effective_at"], capture.data["controller_at"])
    assert event.controller_at == pytest.approx(go.data["controller_at"])


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


def test_status_says_which_item_and_language_the_wall_was_asked_to_show(
        core: ControllerCore) -> None:
    show = command(core, "status", 100.0)[0].data["show"]
    assert show["selected_item"] is None and show["language"] is None     # none asked yet
    assert command(core, "select", 100.0, item="vase")[0].ok
    assert command(core, "language", 100.1, language="ru")[0].ok
    show = command(core, "status", 100.2)[0].data["show"]
    assert (show["selected_item"], show["language"]) == ("vase", "ru")
    assert show["program"] == "main" and show["cue"] == "intro"
    # ShowSession.summary reads them from the state it is given (odd values: None).
    assert core.show.summary(100.2, {"selected_item": {"item": "bowl", "selected_at": 1.0},
                                     "language": "zh"})["selected_item"] == "bowl"
    odd = core.show.summary(100.2, {"selected_item": "bowl", "language": 7})
    assert (odd["selected_item"], odd["language"]) == (None, None)


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


def _jump_frame(event: p.Event, old: tuple[float, float, float],
                new: tuple[float, float, float], frames: list[float]) -> tuple[int, int]:
    """On a node that draws at controller times ``frames`` and holds anchor ``old`` until
    ``new`` takes effect: (the frame that applies ``event``, the first frame of ``new``)."""
    assert event.controller_at is not None
    applied = next(i for i, c in enumerate(frames) if c >= event.controller_at)
    switched = next(i for i, c in enumerate(frames) if c >= new[0])
    return applied, switched


@pytest.mark.parametrize("jump", ["back", "goto", "seek", "back-while-paused"])
def test_a_backward_jump_event_lands_on_the_frame_of_its_anchor(core: ControllerCore,
                                                               jump: str) -> None:
    """Issue 12: a ``cue`` event after a backward jump carried an ``effective_at`` already
    behind the show time of the anchor the nodes still held, so each node applied it as
    soon as it arrived, on a different frame. Now every event names the controller time
    it takes effect at, the moment its anchor does."""
    command(core, "go", 101.0)                        # hall (10 s) at 101.2
    command(core, "go", 103.0)                        # end (30 s) at 103.2
    if jump == "back-while-paused":
        command(core, "pause", 104.0)
    old = tuple(core.state["anchor"])
    name, args = {"back": ("back", {}), "goto": ("goto", {"cue": "intro"}),
                  "seek": ("seek", {"position": 2.0}),
                  "back-while-paused": ("back", {})}[jump]
    reply, published = command(core, name, 105.0, **args)
    assert reply.ok, reply.error
    new = tuple(updates(published)["anchor"])
    (event,) = [m for m in published if isinstance(m, p.Event)]
    assert event.kind == "cue"
    assert event.controller_at == pytest.approx(new[0]) == pytest.approx(
        reply.data["controller_at"])
    assert event.effective_at == pytest.approx(new[1])      # the show time it jumps to
    # The old anchor's show time is past the event's effective_at: judged by show time
    # alone, it would be due at once (on whichever frame it arrives), not at the jump.
    assert old[1] + (105.0 - old[0]) * old[2] > event.effective_at
    frames = [105.0 + i / 60 for i in range(60)]          # a 60 Hz node around the jump
    applied, switched = _jump_frame(event, old, new, frames)  # type: ignore[arg-type]
    assert applied == switched


def test_a_cue_start_is_announced_before_it_happens() -> None:
    """A cue that starts as the timeline plays used to be reported in the first heartbeat
    after its start, up to a beat late; now it goes out before it, for the moment it
    starts, so every node meets it on the same frame."""
    show = ShowConfig("plain", {}, (), CUES)
    core = ControllerCore(now=100.0, session="s", heartbeat_s=0.2)
    core.attach_show(show, 100.0, WALL)
    core.tick(100.0, WALL)
    published = core.tick(109.75, WALL + timedelta(seconds=9.75)).publish
    (event,) = [m for m in published if isinstance(m, p.Event)]
    assert event.args["id"] == "hall"
    assert event.controller_at == pytest.approx(110.0)      # hall starts at 10 s
    assert event.effective_at == pytest.approx(10.0)
    # ... and only once.
    later = core.tick(109.95, WALL + timedelta(seconds=9.95)).publish
    assert [m.seq for m in later if isinstance(m, p.Event)] == [event.seq]   # a repeat


def test_a_capture_while_paused_still_happens() -> None:
    """A capture's time was show time + delay, which a paused show never reaches."""
    core = ControllerCore(now=100.0, session="s", heartbeat_s=0.2)
    core.attach_show(ShowConfig("plain", {}, (), CUES), 100.0, WALL)
    command(core, "pause", 102.0, delay=0.0)
    reply, (event,) = command(core, "capture", 103.0, tag="still", delay=0.5)
    assert event.controller_at == pytest.approx(103.5)
    assert event.effective_at == pytest.approx(2.0)      # the paused frame it captures
