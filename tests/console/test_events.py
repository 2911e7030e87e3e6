"""The event stream: the ring of events and its ids, then ``GET /api/events`` over the
real uvicorn server (on 127.0.0.1, port 0): live events, a resume with Last-Event-ID, a
reset when the ring no longer holds what was missed, the show-clock beat, keep-alives."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from exhibit_engine.console.api import create_app
from exhibit_engine.console.hub import EventLog, Hub
from exhibit_engine.console.server import ConsoleServer
from exhibit_engine.errors import SyncError

from .conftest import OPERATOR, SHOW, TOKENS, CoreController
from .sse import SseReader, parse

OP = {"Authorization": f"Bearer {OPERATOR}"}


def test_the_ring_replays_what_it_holds_and_knows_what_it_lost() -> None:
    ring = EventLog(size=3, first_id=100)
    assert ring.since(100) == []
    events = [ring.append("state", {"n": n}) for n in range(5)]
    assert [e.id for e in events] == [101, 102, 103, 104, 105]
    assert [e.id for e in ring.since(102) or []] == [103, 104, 105]
    assert ring.since(105) == []
    assert ring.since(101) is None          # 102 is gone
    assert ring.since(106) is None          # not one of ours (another run)
    assert ring.since(50) is None
    assert len(ring) == 3


def test_the_sse_parser() -> None:
    event = parse(["id: 7", "event: state", 'data: {"key": "cue"}'])
    assert (event.id, event.kind, event.data) == (7, "state", {"key": "cue"})
    assert parse([": keep-alive"]).kind == "comment"
    assert parse(["retry: 1000"]) is None


@pytest.fixture
def open_stream() -> Iterator[Callable[..., SseReader]]:
    """``open_stream(url, headers)``: an :class:`SseReader`, closed at teardown."""
    readers: list[SseReader] = []

    def open_(url: str, headers: dict[str, str] | None = None) -> SseReader:
        reader = SseReader(url, headers)
        readers.append(reader)
        return reader

    yield open_
    for reader in readers:
        reader.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., tuple[ConsoleServer, Hub]]]:
    """``serve(controller, **create_app_kwargs)``: a console on 127.0.0.1:0."""
    servers: list[ConsoleServer] = []

    def start(controller: CoreController, *, hub_kwargs: dict[str, Any] | None = None,
              **kwargs: Any) -> tuple[ConsoleServer, Hub]:
        hub = Hub(controller.request, controller.listen, show=SHOW, **(hub_kwargs or {}))
        server = ConsoleServer(create_app(hub, TOKENS, **kwargs), "127.0.0.1", 0, hub=hub)
        server.start()
        servers.append(server)
        return server, hub

    yield start
    for server in servers:
        server.stop()


def test_go_arrives_as_state_and_event_then_a_resume_replays(serve, open_stream) -> None:
    controller = CoreController()
    server, hub = serve(controller)
    assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
    stream = open_stream(server.url + "/api/events", OP)
    assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
    go = httpx.post(server.url + "/api/go", headers=OP)
    assert go.status_code == 200 and go.json()["data"]["cue"] == "hall"
    seen = []
    while not any(e.kind == "event" for e in seen):
        seen.append(stream.next())
    cue = next(e for e in seen if e.kind == "state" and e.data["key"] == "cue")
    assert cue.data["value"]["id"] == "hall"
    event = next(e for e in seen if e.kind == "event")
    assert event.data["kind"] == "cue" and event.data["args"]["id"] == "hall"
    ids = [e.id for e in seen if e.id is not None]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stream.close()
    # Missed meanwhile: a pause, then a blackout. A resume from the GO's cue key replays
    # everything after it, in order, and then goes on live.
    httpx.post(server.url + "/api/pause", headers=OP)
    httpx.post(server.url + "/api/blackout", headers=OP, json={"on": True})
    again = open_stream(server.url + "/api/events", {**OP, "Last-Event-ID": str(cue.id)})
    replay = [again.next()]
    while not (replay[-1].kind == "state" and replay[-1].data["key"] == "blackout"):
        replay.append(again.next())
    logged = [e for e in replay if e.id is not None]
    assert logged[0].id == cue.id + 1
    assert [e.id for e in logged] == list(range(cue.id + 1, cue.id + 1 + len(logged)))
    assert {"program", "anchor"} & {e.data.get("key") for e in logged if e.kind == "state"}
    httpx.post(server.url + "/api/resume", headers=OP)     # and then live
    assert again.next("state").id > logged[-1].id


def test_a_resume_from_too_long_ago_starts_with_a_reset(serve, open_stream) -> None:
    controller = CoreController()
    server, hub = serve(controller, hub_kwargs={"log_size": 4})
    first = hub.log.last_id
    for cue in ("end", "intro", "hall", "end"):     # 3 events each, 12 in a ring of 4
        assert httpx.post(server.url + "/api/goto", headers=OP, json={"cue": cue}
                          ).status_code == 200
    assert hub.log.last_id >= first + 12
    stream = open_stream(server.url + "/api/events", {**OP, "Last-Event-ID": str(first)})
    reset = stream.next()
    assert reset.kind == "reset" and reset.id is None
    assert reset.data["last_id"] == hub.log.last_id
    stream.close()
    junk = open_stream(server.url + "/api/events", {**OP, "Last-Event-ID": "yesterday"})
    assert junk.next().kind == "reset"
    junk.close()


def test_the_clock_beat_and_keep_alive_comments(serve, open_stream) -> None:
    controller = CoreController()
    server, hub = serve(controller, keepalive_s=0.2)
    stream = open_stream(server.url + "/api/events", OP)
    assert stream.next("comment").data == "keep-alive"
    controller.tick(0.5)          # a heartbeat: the first clock
    clock = stream.next("clock")
    assert clock.id is None
    assert clock.data["session"] == "sess"
    assert clock.data["controller_time"] == pytest.approx(controller.now)
    assert clock.data["show_time"] == pytest.approx(0.5, abs=1e-6)
    controller.tick(0.3)          # under a second later: no new clock
    controller.tick(0.8)
    later = stream.next("clock")
    assert later.data["controller_time"] == pytest.approx(controller.now)
    stream.close()


def test_the_status_event_follows_the_nodes(serve, open_stream) -> None:
    controller = CoreController()
    server, hub = serve(controller, hub_kwargs={"poll_s": 0.05, "timeout_s": 0.3})
    stream = open_stream(server.url + "/api/events", OP)
    controller.node("left")
    status = stream.next("status")
    while not any(n["id"] == "left" for n in status.data["nodes"]):
        status = stream.next("status")
    assert status.id is not None and status.data["controller"] == "ok"
    left = next(n for n in status.data["nodes"] if n["id"] == "left")
    assert (left["role"], left["state"], left["frames"]) == ("projector", "joined", 10)
    assert status.data["show"]["cue"] == "intro" and status.data["session"] == "sess"
    # Nothing changes, yet a status comes again within a second or so (fresh figures).
    again = stream.next("status", timeout=3.0)
    assert again.id > status.id and again.data["nodes"] == status.data["nodes"]
    controller.silent = True        # the controller stops answering: "lost"
    while stream.next("status").data["controller"] != "lost":
        pass
    stream.close()


def test_stopping_the_server_ends_open_streams(serve, open_stream) -> None:
    controller = CoreController()
    server, _ = serve(controller)
    stream = open_stream(server.url + "/api/events", OP)
    server.stop()
    with pytest.raises(AssertionError, match="the stream ended"):
        stream.next(timeout=10.0)
    stream.close()


def test_a_port_in_use_is_one_line() -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        controller = CoreController()
        hub = Hub(controller.request, controller.listen)
        server = ConsoleServer(create_app(hub), "127.0.0.1", busy.getsockname()[1])
        with pytest.raises(SyncError, match="cannot listen on 127.0.0.1:.*in use"):
            server.start()
    finally:
        busy.close()


def test_the_event_stream_needs_a_token(serve, open_stream) -> None:
    server, _ = serve(CoreController())
    assert httpx.get(server.url + "/api/events").status_code == 401


def test_too_many_streams_are_503_and_a_closed_one_frees_its_place(serve, open_stream,
                                                                   monkeypatch) -> None:
    import exhibit_engine.console.api as api

    monkeypatch.setattr(api, "MAX_STREAMS", 1)
    controller = CoreController()
    server, hub = serve(controller, keepalive_s=0.1)
    first = open_stream(server.url + "/api/events", OP)
    first.next("comment")                       # it is open and counted
    refused = httpx.get(server.url + "/api/events", headers=OP)
    assert refused.status_code == 503 and "1 event streams are open" in refused.json()["error"]
    first.close()
    deadline = time.monotonic() + 5.0
    while True:                                 # the server notices the close at its next write
        again = open_stream(server.url + "/api/events", OP)
        if again.status == 200:
            break
        again.close()
        assert time.monotonic() < deadline, "the closed stream kept its place"
        controller.tick(1.0)                    # a clock beat: something to write
    assert again.next("comment").data == "keep-alive"
