"""The console on a real controller: a controller serving in a thread, the console's
uvicorn server on 127.0.0.1:0 and a projector's NodeLink. An HTTP GO is answered, its
state and event reach the event stream, and the node gets the cue."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from exhibit_engine.config import ShowConfig
from exhibit_engine.console.api import create_app
from exhibit_engine.console.hub import Hub
from exhibit_engine.console.server import ConsoleServer
from exhibit_engine.sync.node import NodeLink

from ..conftest import HOST
from .conftest import CUES, OPERATOR, TOKENS
from .sse import SseReader

pytestmark = pytest.mark.sync

OP = {"Authorization": f"Bearer {OPERATOR}"}
SHOW = ShowConfig("live", {"en": "Live"}, (), CUES)


@pytest.fixture
def node() -> Iterator[Callable[[str, int, int], NodeLink]]:
    links: list[NodeLink] = []

    def make(node_id: str, state_port: int, publish_port: int) -> NodeLink:
        link = NodeLink(node_id, HOST, state_port, publish_port)
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()


def until(condition: Callable[[], bool], link: NodeLink, timeout: float = 5.0) -> bool:
    """Poll the link (as a render loop would) until ``condition()``; False at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        link.poll(0.01)
        link.report(1, link.show_time() or 0.0)
    return True


def test_an_http_go_reaches_the_stream_and_the_node(start_controller, node) -> None:
    ctrl = start_controller(show=SHOW, heartbeat_s=0.1)
    link = node("left", ctrl.state_port, ctrl.publish_port)
    assert until(lambda: link.joined, link)
    hub = Hub(ctrl.server.request, ctrl.server.listen, show=SHOW, poll_s=0.05)
    console = ConsoleServer(create_app(hub, TOKENS), HOST, 0, hub=hub)
    console.start()
    stream = None
    try:
        stream = SseReader(console.url + "/api/events", OP)
        assert stream.next("clock", timeout=5.0).data["session"] == ctrl.server.core.session
        nodes = httpx.get(console.url + "/api/nodes", headers=OP).json()["nodes"]
        assert any(n["id"] == "left" and n["state"] == "joined" for n in nodes)
        t0 = time.monotonic()
        go = httpx.post(console.url + "/api/go", headers=OP, json={"delay": 0.1})
        assert go.status_code == 200, go.text
        assert go.json()["data"]["cue"] == "hall"
        assert time.monotonic() - t0 < 1.0
        cue = stream.next("state")
        while cue.data["key"] != "cue":
            cue = stream.next("state")
        assert cue.data["value"]["id"] == "hall"
        event = stream.next("event")
        assert event.data["kind"] == "cue" and event.data["args"]["id"] == "hall"
        assert event.data["seq"] == go.json()["data"]["events"][0]
        assert until(lambda: (link.session_state().get("cue") or {}).get("id") == "hall", link)
        shown: list[dict] = []
        assert until(lambda: shown.append(httpx.get(console.url + "/api/show", headers=OP
                                                    ).json()) or shown[-1]["cue"] == "hall",
                     link)
        show = shown[-1]
        assert (show["cue"], show["next_cue"], show["controller"]) == ("hall", "end", "ok")
    finally:
        if stream is not None:
            stream.close()
        console.stop()


def test_exhibit_controller_serves_the_console_and_stops_cleanly(tmp_path) -> None:
    """The installed command: `exhibit controller --http 127.0.0.1:0` prints the console's
    address in its banner, answers on it, and leaves on SIGINT with status 0."""
    import os
    import re
    import selectors
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import socket

    root = Path(__file__).resolve().parents[2]
    content = root / "content"
    socks = [socket.socket() for _ in range(2)]
    for sock in socks:
        sock.bind((HOST, 0))
    ports = [str(sock.getsockname()[1]) for sock in socks]
    for sock in socks:
        sock.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "exhibit_engine.cli", "controller", "--venue",
         str(content / "venue.toml"), "--show", str(content / "show.toml"), "--no-state",
         "--state-port", ports[0], "--publish-port", ports[1], "--http", "127.0.0.1:0"],
        cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, bufsize=0,
        env={**os.environ, "PYTHONPATH": str(root)})     # unbuffered: select sees every line
    try:
        assert proc.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stderr, selectors.EVENT_READ)
        deadline, banner = time.monotonic() + 30.0, ""
        while "Ctrl-C stops" not in banner:
            left = deadline - time.monotonic()
            assert left > 0 and selector.select(left), "no banner"
            line = proc.stderr.readline()
            assert line, "the controller ended before its banner"
            banner = line.decode("utf-8", "replace")
        url = re.search(r"console (http://127\.0\.0\.1:\d+) \(no tokens", banner)
        assert url, banner
        show = httpx.get(url.group(1) + "/api/show", timeout=5.0).json()
        assert show["auth"] == "none" and show["program"] == "main"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15.0) == 0
        rest = proc.stderr.read().decode("utf-8", "replace")
        assert "WARNING" not in rest and "Traceback" not in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
