"""KioskLink against real controllers on 127.0.0.1 (in a thread; a scripted one where the
test needs to see the wire). Waiting is on the link's own changes, with deadlines, never
on sleep."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from exhibit_engine.kiosk.link import GRACE_S, KioskLink, Ticket
from exhibit_engine.sync import protocol as p

from ..conftest import HOST, ThreadedController
from ..sync.scripted_controller import ScriptedController

pytestmark = pytest.mark.sync

ITEMS = frozenset({"stone", "vase"})
clock = time.monotonic          # the links' clock (their default, named for the tests)


def link_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("exhibit-kiosk-link")]


@pytest.fixture
def make_link() -> Iterator[Callable[..., KioskLink]]:
    """Factory: a started KioskLink to a port on 127.0.0.1; all closed at teardown, and
    no worker thread may be left."""
    links: list[KioskLink] = []

    def make(port: int, kiosk_id: str = "lobby", **kwargs: object) -> KioskLink:
        link = KioskLink(HOST, port, kiosk_id, clock=clock, **kwargs)  # type: ignore[arg-type]
        links.append(link)
        link.start()
        return link

    yield make
    for link in links:
        link.close()
    assert not link_threads()


@pytest.fixture
def controller(start_controller: Callable[..., ThreadedController]) -> ThreadedController:
    """A controller whose show's bundles hold the items :data:`ITEMS`."""
    ctl = start_controller()
    assert ctl.server.core is not None
    ctl.server.core.items = ITEMS
    return ctl


def answered(link: KioskLink, *tickets: Ticket, timeout: float = 5.0) -> bool:
    return link.wait_for(lambda: not any(t.pending for t in tickets), timeout)


def online(link: KioskLink, timeout: float = 5.0) -> bool:
    return link.wait_for(lambda: link.online, timeout)


def test_select_acts_and_its_ticket_is_done(controller, make_link) -> None:
    link = make_link(controller.state_port)
    assert online(link)
    assert link.offline_since is None
    status, status_at = link.status, link.status_at
    assert status is not None and status_at is not None
    assert status["session"] == controller.server.core.session
    assert "show_time" in status
    ticket = link.send("select", {"item": "stone"}, "tap-1")
    assert answered(link, ticket)
    assert ticket.state == "done", ticket.reason
    assert ticket.data is not None and isinstance(ticket.data["effective_at"], float)
    assert ticket.reason == "" and ticket.sent == 1
    assert ticket.finished is not None and ticket.created <= ticket.finished
    assert link.finished() == [ticket]
    assert link.finished() == []
    assert controller.server.core.state["selected_item"]["item"] == "stone"
    stats = link.stats
    assert (stats.sent, stats.by_request_id) == (1, {"tap-1": 1})
    assert stats.polls >= 1 and stats.reconnects == stats.offline_periods == 0
    # Polls go on: a later status arrives by itself.
    assert link.wait_for(lambda: (link.status_at or 0.0) > status_at, 5.0)


def test_an_unknown_item_is_refused_with_the_controllers_reason(controller,
                                                                make_link) -> None:
    link = make_link(controller.state_port)
    ticket = link.send("select", {"item": "dragon"}, "tap-9")
    assert answered(link, ticket)
    assert ticket.state == "refused"
    assert ticket.reason == "select: no bundle of the show has item 'dragon'"
    assert ticket.data is None
    assert link.online                  # a refusal is an answer
    assert "selected_item" not in controller.server.core.state
    # A kiosk may not send everything an operator may.
    go = link.send("go", {}, "tap-10")
    assert answered(link, go)
    assert go.state == "refused" and go.reason.startswith("kiosk may not send 'go'")


def test_one_request_id_sent_twice_acts_once(controller, make_link) -> None:
    link = make_link(controller.state_port)
    first = link.send("select", {"item": "vase"}, "tap-7")
    double = link.send("select", {"item": "vase"}, "tap-7")       # a double tap
    assert answered(link, first, double)
    assert first.state == double.state == "done"
    assert first.data is not None and double.data is not None
    assert "repeated" not in first.data and double.data == {**first.data, "repeated": True}
    later = link.send("select", {"item": "stone"}, "tap-8")
    assert answered(link, later)
    assert later.data is not None and later.data["seq"] == first.data["seq"] + 1
    assert later.data["state_seq"] > first.data["state_seq"]
    assert link.finished() == [first, double, later]            # in the order sent
    stats = link.stats
    assert stats.sent == 3 and stats.by_request_id == {"tap-7": 2, "tap-8": 1}


def test_offline_within_two_seconds_of_a_stop_and_back_without_a_send(
        start_controller, make_link) -> None:
    first = start_controller()
    ports = first.state_port, first.publish_port
    link = make_link(first.state_port)           # poll_s 0.5, timeout_s 1.0
    assert online(link)
    old_session = link.status["session"] if link.status else None
    first.stop()
    stopped = clock()
    assert link.wait_for(lambda: not link.online, 5.0)
    went = link.offline_since
    assert went is not None and went - stopped < 2.0
    assert clock() - stopped < 2.0
    assert link.stats.offline_periods == 1
    second = start_controller(*ports)            # a new process's session, the same port
    assert second.server.core is not None
    assert online(link, 10.0)
    assert link.offline_since is None
    assert link.wait_for(lambda: (link.status or {}).get("session") ==
                         second.server.core.session, 5.0)
    assert second.server.core.session != old_session
    stats = link.stats
    assert stats.reconnects == 1 and stats.sent == 0      # no tap was needed


def test_a_send_while_offline_fails_fast_as_offline(start_controller, make_link) -> None:
    ctl = start_controller()
    timeout_s = 1.0
    link = make_link(ctl.state_port, timeout_s=timeout_s)
    assert online(link)
    ctl.stop()
    assert link.wait_for(lambda: not link.online, 5.0)
    # Just offline (a blip, maybe): sent once, it fails within a poll and a request.
    sent = clock()
    blip = link.send("select", {"item": "stone"}, "tap-1")
    assert answered(link, blip)
    assert blip.state == "offline" and "no controller answered" in blip.reason
    assert blip.finished is not None and blip.finished - sent < timeout_s * 2 + 0.5
    # Offline for a while: the tap fails at once, and never goes on the wire.
    since = link.offline_since
    assert since is not None
    assert link.wait_for(lambda: clock() - since > GRACE_S, 5.0)
    sent = clock()
    late = link.send("touch", {}, "tap-2")
    assert late.state == "offline" and late.reason.startswith("offline: no answer")
    assert late.finished is not None and late.finished - sent < 0.1
    assert link.finished() == [blip, late]
    assert link.stats.sent == 0 and blip.sent == late.sent == 0    # nobody was there


def test_a_timed_out_command_is_sent_again_with_its_id(make_link) -> None:
    """A controller that misses the first select: the second, with the same id, is
    answered; both went on the wire."""
    def answer(message: p.Message) -> p.Message | None:
        if isinstance(message, p.Hello):
            return p.Welcome("s1", 0)
        assert isinstance(message, p.Command)
        if message.name == "select" and len(selects()) == 1:
            return None                             # lost on the way
        return p.Reply(True, {"show_time": 1.0, "id": message.id}, req=message.req)

    with ScriptedController(answer) as ctl:
        def selects() -> list[p.Command]:
            return ctl.commands("select")

        link = make_link(ctl.port, timeout_s=0.5)
        assert online(link)
        ticket = link.send("select", {"item": "stone"}, "tap-3")
        assert answered(link, ticket)
        assert ticket.state == "done" and ticket.data == {"show_time": 1.0, "id": "tap-3"}
        assert [c.id for c in selects()] == ["tap-3", "tap-3"]
        assert all(c.id == "" for c in ctl.commands("status"))      # polls carry no id
        assert ticket.sent == 2 and link.stats.by_request_id == {"tap-3": 2}
        assert link.online
        link.close()


def test_close_is_prompt_idempotent_and_fails_what_is_queued(controller, free_port,
                                                             make_link) -> None:
    link = make_link(controller.state_port)
    assert online(link)
    started = clock()
    link.close()
    assert clock() - started < 0.5
    assert not link_threads()
    link.close()                                      # twice: nothing happens
    after = link.send("touch", {}, "tap-1")
    assert after.state == "offline" and after.reason == "the kiosk link is closed"
    # Closed while its poll waits on a controller that is not there.
    lonely = make_link(free_port, timeout_s=1.0)
    started = clock()
    lonely.close()
    assert clock() - started < 1.0 + 0.5
    assert not link_threads()
    # Never started: tickets queued fail on close.
    idle = KioskLink(HOST, free_port, "idle")
    queued = idle.send("touch", {}, "tap-2")
    assert queued.pending
    idle.close()
    assert queued.state == "offline" and idle.finished() == [queued]
    idle.start()                                      # after close: nothing starts
    assert not link_threads()


def test_bad_settings_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="kiosk_id"):
        KioskLink(HOST, 1, "")
    with pytest.raises(ValueError, match="poll_s"):
        KioskLink(HOST, 1, "k", poll_s=0)


def test_sends_the_app_cannot_make_never_raise(controller, make_link) -> None:
    link = make_link(controller.state_port)
    bad = link.send("select", None, "tap-1")          # type: ignore[arg-type]
    assert bad.state == "refused" and "mapping" in bad.reason
    long_id = link.send("touch", {}, "x" * 300)
    assert answered(link, long_id)
    assert long_id.state == "refused" and "256" in long_id.reason
    assert link.stats.sent == 0


@pytest.fixture
def free_port() -> int:
    """A port of 127.0.0.1 where nothing listens (free a moment ago)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def test_an_unexpected_error_in_the_worker_is_logged_and_it_goes_on(
        controller, make_link, monkeypatch, caplog) -> None:
    calls: list[int] = []
    make_client = KioskLink._connect

    def flaky(self: KioskLink):         # the first client cannot be made
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return make_client(self)

    monkeypatch.setattr(KioskLink, "_connect", flaky)
    with caplog.at_level(logging.ERROR, logger="exhibit_engine.kiosk"):
        link = make_link(controller.state_port, poll_s=0.05)
        assert online(link)
    logged = [r.getMessage() for r in caplog.records if r.name == "exhibit_engine.kiosk"]
    assert logged == ["kiosk link lobby: unexpected error (going on)"]
    ticket = link.send("select", {"item": "stone"}, "tap-1")
    assert answered(link, ticket) and ticket.state == "done"


def test_an_address_that_cannot_be_used_is_offline_with_its_reason(caplog) -> None:
    link = KioskLink("bad host", 5555, "k", poll_s=0.05)
    with caplog.at_level(logging.ERROR, logger="exhibit_engine.kiosk"):
        link.start()
        try:
            ticket = link.send("touch", {}, "tap-1")
            assert link.wait_for(lambda: not ticket.pending, 5.0)
        finally:
            link.close()
    assert ticket.state == "offline"
    assert "cannot connect to tcp://bad host:5555" in ticket.reason
    assert not link.online and link.stats.sent == 0
    logged = {r.getMessage() for r in caplog.records if r.name == "exhibit_engine.kiosk"}
    assert len(logged) == 1 and "cannot connect" in logged.pop()
    assert not link_threads()
