"""The console's way in: in-process requests on the controller's own loop (``sync._local``).

The console runs in the controller's process but off its loop thread. Its requests take
the one command path (hello first, the table of rights) and wake the loop at once; what
the controller publishes reaches its listeners in order.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future

import pytest

from exhibit_engine.config import CueConfig, ShowConfig
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync._local import LocalPort

pytestmark = pytest.mark.sync

CUES = (CueConfig("intro", "b", "s1", 10.0), CueConfig("hall", "b", "s2", 20.0))


def ask(future: Future[p.Message | None]) -> p.Message | None:
    return future.result(timeout=5.0)


def test_a_local_peer_says_hello_then_commands_through_the_one_path(start_controller) -> None:
    ctrl = start_controller(show=ShowConfig("two", {}, (), CUES), heartbeat_s=0.5)
    server = ctrl.server
    seen: queue.SimpleQueue[p.Message] = queue.SimpleQueue()
    stop = server.listen(seen.put)
    refused = ask(server.request("console", "operator", p.Command("go", {}, 1)))
    assert isinstance(refused, p.Reply) and not refused.ok
    assert refused.data == {"hello_first": True}
    assert isinstance(ask(server.request("console", "operator", p.Hello("console",
                                                                         "operator"))),
                      p.Welcome)
    # The loop wakes for a request at once, not at its next beat (0.5 s here).
    t0 = time.monotonic()
    go = ask(server.request("console", "operator", p.Command("go", {}, 2)))
    assert time.monotonic() - t0 < 0.25
    assert isinstance(go, p.Reply) and go.ok and go.data["cue"] == "hall"
    # What GO published reached the listener, in order: key updates, then the cue event.
    published = []
    while not any(isinstance(m, p.Event) for m in published):
        published.append(seen.get(timeout=5.0))
    assert any(isinstance(m, p.KeyUpdate) and m.key == "anchor" for m in published)
    # Rights are the role's: a kiosk peer may not GO.
    ask(server.request("kiosk-desk", "kiosk", p.Hello("kiosk-desk", "kiosk")))
    kiosk = ask(server.request("kiosk-desk", "kiosk", p.Command("go", {}, 3)))
    assert isinstance(kiosk, p.Reply) and "kiosk may not send 'go'" in kiosk.error
    status = ask(server.request("console", "operator", p.Command("status", {}, 4)))
    assert isinstance(status, p.Reply)
    assert {n["id"]: n["role"] for n in status.data["nodes"]} == {
        "console": "operator", "kiosk-desk": "kiosk"}
    stop()
    # Heartbeats reach listeners too (the console's show-clock beat).
    beats: queue.SimpleQueue[p.Message] = queue.SimpleQueue()
    server.listen(beats.put)
    assert isinstance(beats.get(timeout=5.0), (p.Heartbeat, p.KeyUpdate, p.Event))


def test_requests_from_many_threads_are_each_answered_once(start_controller) -> None:
    ctrl = start_controller()
    server = ctrl.server
    ask(server.request("console", "operator", p.Hello("console", "operator")))
    replies: list[p.Message | None] = []
    lock = threading.Lock()

    def worker(base: int) -> None:
        for i in range(20):
            reply = ask(server.request("console", "operator",
                                       p.Command("status", {}, base + i)))
            with lock:
                replies.append(reply)

    threads = [threading.Thread(target=worker, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10.0)
    assert len(replies) == 80
    assert sorted(r.req for r in replies if isinstance(r, p.Reply)) == sorted(
        k * 100 + i for k in range(4) for i in range(20))


def test_a_stopped_controller_fails_what_waits_and_refuses_more() -> None:
    port = LocalPort()
    waiting = port.request("console", "operator", p.Command("status", {}, 1))
    port.close()
    with pytest.raises(RuntimeError, match="stopped"):
        waiting.result(timeout=1.0)
    with pytest.raises(RuntimeError, match="not taking requests"):
        port.request("console", "operator", p.Command("status", {}, 2)).result(timeout=1.0)


def test_a_failing_listener_does_not_stop_the_others() -> None:
    port = LocalPort()
    got: list[p.Message] = []

    def broken(message: p.Message) -> None:
        raise ValueError("a bug")

    port.listen(broken)
    port.listen(got.append)
    beat = p.Heartbeat(1.0, p.decode_anchor([1.0, 0.0, 1.0]), 0, "s")
    port.published(beat)
    assert got == [beat]
    port.close()
