"""OSC from show consoles against a real controller: a plain python-osc client fires GO,
goto and blackout through the one command path; replies come back in QLab's shape; the
allow list refuses other sources; 5,000 malformed packets leave everything serving."""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from exhibit_engine.config import CueConfig, ShowConfig
from exhibit_engine.console.osc import OscServer
from exhibit_engine.errors import SyncError
from exhibit_engine.sync import protocol as p

from ..e2e.conftest import wait_until as _wait_until

pytestmark = pytest.mark.sync

CUES = (CueConfig("intro", "b", "s1", 10.0), CueConfig("hall", "b", "s2", 20.0),
        CueConfig("end", "b", "s3", 30.0))
SHOW = ShowConfig("osc", {"en": "OSC"}, (), CUES)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """The e2e poll (an event wait between checks) at a short interval."""
    _wait_until(condition, timeout, "the condition", interval=0.005)


def status(server: Any) -> dict[str, Any]:
    ask = server.request("probe", "operator", p.Hello("probe", "operator"))
    assert isinstance(ask.result(timeout=5.0), p.Welcome)
    reply = server.request("probe", "operator", p.Command("status", {}, 1)).result(timeout=5.0)
    assert isinstance(reply, p.Reply) and reply.ok
    return dict(reply.data)


def cue(ctrl: Any) -> str:
    return status(ctrl.server)["show"]["cue"]


def blackout_on(ctrl: Any) -> bool:
    return ctrl.server.core.state["blackout"]["level"] == 1.0


@pytest.fixture
def osc(start_controller: Any) -> Iterator[tuple[Any, OscServer]]:
    ctrl = start_controller(show=SHOW)
    server = OscServer(ctrl.server.request, "127.0.0.1", 0)
    server.start()
    yield ctrl, server
    server.stop()


def listener(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(5.0)
    return sock


def message(address: str, *args: Any) -> bytes:
    builder = OscMessageBuilder(address=address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


def test_a_plain_python_osc_client_fires_go_goto_and_blackout(osc: Any) -> None:
    ctrl, server = osc
    assert server.port > 0
    with SimpleUDPClient("127.0.0.1", server.port) as client:
        fire_go_goto_and_blackout(ctrl, client)
    wait_until(lambda: server.stats["handled"] == 6)
    stats = server.stats
    assert stats["ignored"] == 1 and stats["malformed"] == 0 and stats["refused"] == 0
    # The console is a peer of the controller like any other, in role operator.
    assert {n["id"]: n["role"] for n in status(ctrl.server)["nodes"]}["osc"] == "operator"


def fire_go_goto_and_blackout(ctrl: Any, client: SimpleUDPClient) -> None:
    assert cue(ctrl) == "intro"
    client.send_message("/exhibit/go", [])
    wait_until(lambda: cue(ctrl) == "hall")
    client.send_message("/exhibit/goto", "end")
    wait_until(lambda: cue(ctrl) == "end")
    client.send_message("/exhibit/goto", 0)          # an index
    wait_until(lambda: cue(ctrl) == "intro")
    client.send_message("/exhibit/blackout", 1)
    wait_until(lambda: blackout_on(ctrl))
    client.send_message("/exhibit/blackout", 0)
    wait_until(lambda: not blackout_on(ctrl))
    # A button that sends its release (0.0) does nothing with it; its press (1.0) fires.
    client.send_message("/exhibit/next", 0.0)
    client.send_message("/exhibit/goto", 2.0)
    wait_until(lambda: cue(ctrl) == "end")


def test_replies_come_back_to_the_sender_in_qlab_shape(osc: Any) -> None:
    ctrl, server = osc
    sock = listener()
    try:
        sock.sendto(message("/exhibit/go"), ("127.0.0.1", server.port))
        data, source = sock.recvfrom(65535)
        assert source == ("127.0.0.1", server.port)       # from the listening port
        reply = OscMessage(data)
        assert reply.address == "/reply/exhibit/go"
        (text,) = reply.params
        body = json.loads(text)
        assert set(body) == {"workspace_id", "address", "status", "data"}
        assert body["address"] == "/exhibit/go" and body["status"] == "ok"
        assert body["data"]["cue"] == "hall"
        assert body["workspace_id"] == ctrl.server.core.session
        # A command the controller refuses is an error reply, its one line as data.
        sock.sendto(message("/exhibit/goto", "nowhere"), ("127.0.0.1", server.port))
        body = json.loads(OscMessage(sock.recvfrom(65535)[0]).params[0])
        assert body["status"] == "error" and "nowhere" in body["data"]
        # A malformed message gets no reply (and is counted).
        sock.sendto(message("/exhibit/blackout", "dim"), ("127.0.0.1", server.port))
        sock.sendto(message("/exhibit/pause"), ("127.0.0.1", server.port))
        body = json.loads(OscMessage(sock.recvfrom(65535)[0]).params[0])
        assert body["address"] == "/exhibit/pause"
        assert server.stats["malformed"] == 1
    finally:
        sock.close()


def test_no_replies_when_they_are_off(start_controller: Any) -> None:
    ctrl = start_controller(show=SHOW)
    with OscServer(ctrl.server.request, "127.0.0.1", 0, replies=False) as server:
        sock = listener()
        try:
            sock.sendto(message("/exhibit/go"), ("127.0.0.1", server.port))
            wait_until(lambda: server.stats["handled"] == 1)
            sock.settimeout(0.2)
            with pytest.raises(TimeoutError):
                sock.recvfrom(65535)
        finally:
            sock.close()
    assert cue(ctrl) == "hall"


def test_a_source_off_the_allow_list_is_refused_without_a_reply(start_controller: Any) -> None:
    ctrl = start_controller(show=SHOW)
    with OscServer(ctrl.server.request, "127.0.0.1", 0, allow=["127.0.0.1"]) as server:
        other = listener("127.0.0.2")       # all of 127/8 is loopback on Linux
        try:
            other.sendto(message("/exhibit/go"), ("127.0.0.1", server.port))
            wait_until(lambda: server.stats["refused"] == 1)
            other.settimeout(0.2)
            with pytest.raises(TimeoutError):
                other.recvfrom(65535)
        finally:
            other.close()
        assert server.stats["handled"] == 0 and "127.0.0.2" in server.stats["last_error"]
        assert cue(ctrl) == "intro"
    # A network on the list admits its addresses.
    with OscServer(ctrl.server.request, "127.0.0.1", 0, allow=["127.0.0.0/8"]) as server:
        other = listener("127.0.0.2")
        try:
            other.sendto(message("/exhibit/go"), ("127.0.0.1", server.port))
            body = json.loads(OscMessage(other.recvfrom(65535)[0]).params[0])
            assert body["status"] == "ok"
        finally:
            other.close()


def test_bad_settings_are_one_line_naming_the_address() -> None:
    def request(peer: str, role: str, message: p.Message) -> Future[p.Message | None]:
        raise AssertionError("never called")

    with pytest.raises(SyncError, match="allow list: 'nobody' is not an IP"):
        OscServer(request, "127.0.0.1", 0, allow=["nobody"])
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        with pytest.raises(SyncError, match=rf"OSC cannot listen on 127\.0\.0\.1:{port}: "):
            OscServer(request, "127.0.0.1", port).start()
    finally:
        taken.close()
    with pytest.raises(SyncError, match=r"OSC cannot listen on no\.such\.host\.invalid:0"):
        OscServer(request, "no.such.host.invalid", 0).start()
    # Stopping one that never started is harmless.
    OscServer(request, "127.0.0.1", 0).stop()


def hostile_packets(rng: random.Random) -> Iterator[bytes]:
    """Random bytes, truncated OSC, wrong type tags, unknown addresses, patterns, huge
    strings, bundles of bad messages and bundles that claim more than they hold."""
    good = message("/exhibit/goto", "hall")
    kinds = [
        lambda: rng.randbytes(rng.randint(0, 600)),
        lambda: good[:rng.randint(1, len(good) - 1)],
        lambda: b"/exhibit/go\x00,zzz\x00\x00\x00\x00" + rng.randbytes(8),
        lambda: b"/exhibit/blackout\x00\x00\x00,i\x00\x00",          # an int with no bytes
        lambda: message("/exhibit/blackout", 7),
        lambda: message("/exhibit/blackout", "on"),
        lambda: message("/exhibit/goto"),
        lambda: message("/exhibit/goto", 1.5),
        lambda: message("/exhibit/goto", "x" * rng.randint(129, 16000)),
        lambda: message("/exhibit/go", "now"),
        lambda: message("/exhibit/" + "x" * rng.randint(1, 16000)),
        lambda: message("/exhibit/*"),
        lambda: message("/exhibit/{go,panic}"),
        lambda: message("/nothing/here", 1, 2.0, "three"),
        lambda: b"#bundle\x00" + rng.randbytes(8) + struct.pack(">i", 1 << 30) + b"junk",
        lambda: _bundle(message("/exhibit/blackout", "x"), message("/unknown")),
        lambda: b"," + rng.randbytes(40),
        lambda: b"/\x00\x00\x00,s\x00\x00" + b"\xff\xfe" * 8 + b"\x00\x00\x00\x00",
    ]
    while True:
        yield rng.choice(kinds)()


def _bundle(*messages: bytes) -> bytes:
    builder = OscBundleBuilder(IMMEDIATELY)
    for raw in messages:
        builder.add_content(OscMessage(raw))
    return builder.build().dgram


def test_5000_malformed_packets_leave_the_controller_serving(
        osc: Any, caplog: pytest.LogCaptureFixture) -> None:
    ctrl, server = osc
    caplog.set_level("WARNING")
    rng = random.Random(13)
    sock = listener()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    sent = 0
    try:
        packets = hostile_packets(rng)
        while sent < 5000:
            packet = next(packets)
            try:
                sock.sendto(packet, ("127.0.0.1", server.port))
            except OSError:         # too long for one datagram: not a packet at all
                continue
            sent += 1
            if sent % 25 == 0:      # let the reader keep up, or the kernel drops them
                wait_until(lambda n=sent: server.stats["received"] >= n * 0.99)
        wait_until(lambda: server.stats["received"] >= 4950, timeout=20.0)
        # The controller answers a status at once, as it did before the flood.
        t0 = time.monotonic()
        assert status(ctrl.server)["show"]["cue"] == "intro"
        assert time.monotonic() - t0 < 1.0
        # Every hostile packet was counted, none handled, no thread died...
        stats = server.stats
        assert stats["malformed"] >= 4800 and stats["handled"] == 0
        assert stats["refused"] == 0 and stats["malformed"] >= stats["received"]
        assert all(t.is_alive() for t in server._threads)
        # python-osc's own warnings (one per odd type tag, on the root logger) never come:
        # those packets are refused before it reads them; ours are rate-limited.
        assert not [r for r in caplog.records if "pythonosc" in r.pathname]
        assert len(caplog.records) <= 2
        # ...and the next GO still works, with its reply.
        sock.sendto(message("/exhibit/go"), ("127.0.0.1", server.port))
        sock.settimeout(5.0)
        while True:
            reply = OscMessage(sock.recvfrom(65535)[0])
            if reply.address == "/reply/exhibit/go":
                break
        assert json.loads(reply.params[0])["status"] == "ok"
        assert cue(ctrl) == "hall"
    finally:
        sock.close()


def test_a_flood_logs_one_warning_not_thousands(osc: Any, caplog: pytest.LogCaptureFixture,
                                                ) -> None:
    _, server = osc
    sock = listener()
    try:
        with caplog.at_level("WARNING", logger="exhibit_engine.console.osc"):
            for i in range(300):
                sock.sendto(b"not osc %d" % i, ("127.0.0.1", server.port))
            wait_until(lambda: server.stats["malformed"] >= 290)
        warnings = [r for r in caplog.records if r.name == "exhibit_engine.console.osc"]
        assert 1 <= len(warnings) <= 2
    finally:
        sock.close()


def test_a_controller_that_restarted_gets_hello_again(start_controller: Any) -> None:
    """A reply asking for hello (the controller forgot the peer) makes the console say
    hello and resend the command once."""
    ctrl = start_controller(show=SHOW)
    forget = threading.Event()
    calls: list[str] = []

    def request(peer: str, role: str, msg: p.Message) -> Future[p.Message | None]:
        calls.append(type(msg).__name__)
        if isinstance(msg, p.Command) and forget.is_set():
            forget.clear()
            done: Future[p.Message | None] = Future()
            done.set_result(p.Reply(False, {"hello_first": True}, "say hello first", msg.req))
            return done
        return ctrl.server.request(peer, role, msg)

    with OscServer(request, "127.0.0.1", 0) as server, \
            SimpleUDPClient("127.0.0.1", server.port) as client:
        client.send_message("/exhibit/go", [])
        wait_until(lambda: server.stats["handled"] == 1)
        forget.set()
        client.send_message("/exhibit/goto", "end")
        wait_until(lambda: server.stats["handled"] == 2)
    assert calls == ["Hello", "Command", "Command", "Hello", "Command"]
    assert cue(ctrl) == "end"
