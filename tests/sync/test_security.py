"""CURVE + ZAP + role rights, over real sockets on 127.0.0.1.

Every key is made fresh per test (``zmq.curve_keypair`` through ``exhibit``'s own key
files); the controller runs in a thread with a venue whose ``[security]`` lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import msgpack
import pytest
import zmq

from exhibit_engine.errors import SyncError, SyncTimeout
from exhibit_engine.keys import CurvePublicKey, load_curve_secret_key, z85_decode
from exhibit_engine.sync.auth import (
    ZAP_DOMAIN,
    ClientCurve,
    ZapHandler,
    apply_client,
    new_key_pair,
    public_key_of,
    split_user_id,
    user_id,
)
from exhibit_engine.sync.node import NodeLink
from exhibit_engine.sync.operator import OperatorClient
from exhibit_engine.sync.protocol import (
    PROTOCOL_VERSION,
    Command,
    Hello,
    NodeStatus,
    Reply,
    Welcome,
    decode,
)

from ..conftest import HOST, ThreadedController
from .conftest import CurveVenue

pytestmark = pytest.mark.sync

TIMEOUT_S = 5.0
REFUSED_WITHIN_S = 0.5   # how long an unknown peer is given to (fail to) get in


@pytest.fixture
def secure_controller(start_controller: Callable[..., ThreadedController],
                      curve_venue: CurveVenue) -> ThreadedController:
    """A controller serving the venue's [security] with its own secret key."""
    return start_controller(security=curve_venue.security, key_file=curve_venue.controller_key)


def _dealer(make_socket: Callable[[int], zmq.Socket[bytes]], port: int,
            curve: ClientCurve | None) -> zmq.Socket[bytes]:
    sock = make_socket(zmq.DEALER)
    sock.setsockopt(zmq.IMMEDIATE, 1)
    if curve is not None:
        apply_client(sock, curve)
    sock.connect(f"tcp://{HOST}:{port}")
    return sock


def _sub(make_socket: Callable[[int], zmq.Socket[bytes]], port: int,
         curve: ClientCurve | None) -> zmq.Socket[bytes]:
    sock = make_socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    if curve is not None:
        apply_client(sock, curve)
    sock.connect(f"tcp://{HOST}:{port}")
    return sock


def _ask(sock: zmq.Socket[bytes], message: object, timeout_s: float = TIMEOUT_S) -> object:
    assert sock.poll(int(timeout_s * 1000), zmq.POLLOUT), "no connection to the controller"
    sock.send_multipart(message.encode())  # type: ignore[attr-defined]
    assert sock.poll(int(timeout_s * 1000), zmq.POLLIN), "no answer"
    return decode(sock.recv_multipart())


def _stranger(venue: CurveVenue) -> ClientCurve:
    """The unknown peer's curve settings: its own valid keys, the right server key."""
    secret = load_curve_secret_key(venue.key("stranger")).secret
    return ClientCurve(secret, public_key_of(secret), venue.controller_public)


# --------------------------------------------------------------------------- sockets


def test_allow_listed_projector_joins_and_syncs(
        secure_controller: ThreadedController, curve_venue: CurveVenue,
        make_node: Callable[..., NodeLink], wait_for: Callable[..., bool]) -> None:
    link = make_node("proj-a", secure_controller.state_port, secure_controller.publish_port,
                     curve=curve_venue.client("proj"))
    assert wait_for(lambda: link.synced and "anchor" in link.session_state(),
                    [link], timeout=TIMEOUT_S)
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=curve_venue.client("op")) as op:
        status = op.command("status")
    assert {n["id"]: n["role"] for n in status["nodes"]}["proj-a"] == "projector"
    assert status["handshakes_refused"] == 0


def test_unknown_key_cannot_join_send_or_listen(
        secure_controller: ThreadedController, curve_venue: CurveVenue,
        make_node: Callable[..., NodeLink], make_socket: Callable[[int], zmq.Socket[bytes]],
        wait_for: Callable[..., bool]) -> None:
    stranger = _stranger(curve_venue)
    # Everyone connects at once, so the refused handshakes overlap the checks below.
    good = _sub(make_socket, secure_controller.publish_port, curve_venue.client("kiosk"))
    bad = _sub(make_socket, secure_controller.publish_port, stranger)
    plain_sub = _sub(make_socket, secure_controller.publish_port, None)
    intruder = make_node("intruder", secure_controller.state_port,
                         secure_controller.publish_port, curve=stranger)
    friend = make_node("friend", secure_controller.state_port,
                       secure_controller.publish_port, curve=curve_venue.client("proj"))
    assert wait_for(lambda: friend.joined, [friend], timeout=TIMEOUT_S)
    assert good.poll(int(TIMEOUT_S * 1000), zmq.POLLIN)
    assert good.recv_multipart()[0] == b"heartbeat"

    # The stranger cannot send a command: its handshake never completes, so nothing is
    # ever sent, and the client says why. Nor can a peer without CURVE at all.
    with OperatorClient(HOST, secure_controller.state_port, REFUSED_WITHIN_S,
                        curve=stranger) as op, \
            pytest.raises(SyncError, match=r"refused this client.s CURVE key \w+ "
                                           r"\(ZAP status 400\)"):
        op.command("seek", position=99.0)
    with OperatorClient(HOST, secure_controller.state_port, REFUSED_WITHIN_S) as plain, \
            pytest.raises(SyncTimeout):
        plain.command("status")

    # Meanwhile (over 2 x REFUSED_WITHIN_S, while the allowed peers got in at once) the
    # stranger's node never joined, and neither its SUB nor a plain one heard a beat.
    assert not intruder.joined and not intruder.synced
    assert not bad.poll(0, zmq.POLLIN)
    assert not plain_sub.poll(0, zmq.POLLIN)

    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=curve_venue.client("op")) as op:
        status = op.command("status")
    assert "intruder" not in {n["id"] for n in status["nodes"]}
    assert status["handshakes_refused"] >= 2
    assert status["show_time"] < 99.0      # the stranger's seek never arrived


def test_kiosk_key_may_select_but_not_seek(
        secure_controller: ThreadedController, curve_venue: CurveVenue) -> None:
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=curve_venue.client("kiosk")) as kiosk:
        assert kiosk.command("select", item="bell")["state_seq"] >= 1
        with pytest.raises(SyncError, match="kiosk may not send 'seek'"):
            kiosk.command("seek", position=30.0)
        with pytest.raises(SyncError, match="kiosk may not send 'capture'"):
            kiosk.command("capture", tag="x")
        assert "nodes" in kiosk.command("status")
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=curve_venue.client("op")) as op:
        assert op.command("seek", position=30.0)["anchor"][1] == 30.0
        status = op.command("status")
    assert status["refused"] == 2
    assert "kiosk may not send 'capture'" in status["last_refused"]


def test_projector_key_may_only_read_status(
        secure_controller: ThreadedController, curve_venue: CurveVenue) -> None:
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=curve_venue.client("proj")) as proj:
        assert "nodes" in proj.command("status")
        with pytest.raises(SyncError, match="projector may not send 'select'"):
            proj.command("select", item="bell")


def test_hello_claiming_another_role_than_the_key_is_refused(
        secure_controller: ThreadedController, curve_venue: CurveVenue,
        make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    dealer = _dealer(make_socket, secure_controller.state_port, curve_venue.client("kiosk"))
    answer = _ask(dealer, Hello("kiosk-1", "operator"))
    assert isinstance(answer, Reply) and not answer.ok
    assert "claims role 'operator' but its key is a kiosk key" in answer.error
    # The same peer, honest about its role, is welcomed.
    assert isinstance(_ask(dealer, Hello("kiosk-1", "kiosk")), Welcome)
    # And a claim cannot lift its rights either.
    refused = _ask(dealer, Command("seek", {"position": 1.0}, req=7))
    assert isinstance(refused, Reply) and refused.req == 7 and not refused.ok
    assert "kiosk may not send 'seek'" in refused.error


def test_development_mode_still_refuses_a_kiosk_seek(
        start_controller: Callable[..., object],
        make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    ctl = start_controller()
    kiosk = _dealer(make_socket, ctl.state_port, None)  # type: ignore[attr-defined]
    assert isinstance(_ask(kiosk, Hello("kiosk-1", "kiosk")), Welcome)
    refused = _ask(kiosk, Command("seek", {"position": 5.0}, req=1))
    assert isinstance(refused, Reply) and not refused.ok
    assert "kiosk may not send 'seek'" in refused.error
    ok = _ask(kiosk, Command("select", {"item": "bell"}, req=2))
    assert isinstance(ok, Reply) and ok.ok
    # A tool that says no hello (exhibit ctl) is an operator in development mode.
    with OperatorClient(HOST, ctl.state_port, TIMEOUT_S) as op:  # type: ignore[attr-defined]
        assert op.command("seek", position=5.0)["anchor"][1] == 5.0


def test_a_raw_curve_kiosk_speaks_the_documented_protocol(
        secure_controller: ThreadedController, curve_venue: CurveVenue,
        make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    """What docs/protocol.md tells a foreign kiosk: three socket options, then v1 frames."""
    kiosk = curve_venue.client("kiosk")
    sock = make_socket(zmq.DEALER)
    sock.curve_serverkey = kiosk.server_public.encode()
    sock.curve_publickey = kiosk.public.encode()
    sock.curve_secretkey = kiosk.secret.encode()
    sock.connect(f"tcp://{HOST}:{secure_controller.state_port}")
    sock.send_multipart([b"hello", msgpack.packb({"v": PROTOCOL_VERSION, "node_id": "k",
                                                 "role": "kiosk"})])
    frames = sock.recv_multipart()
    assert frames[0] == b"welcome"


def test_raw_tcp_junk_at_the_curve_sockets_changes_nothing(secure_controller: ThreadedController,
                                                            curve_venue: CurveVenue) -> None:
    """Bytes that are not a CURVE handshake (random, a truncated ZMTP greeting, a NULL
    greeting) are dropped by libzmq before any ZAP request or message."""
    import random
    import socket

    rng = random.Random(5)
    greeting = b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00"       # ZMTP 3.0 signature + version
    blobs = [rng.randbytes(rng.randrange(1, 400)) for _ in range(40)]
    blobs += [greeting, greeting + b"CURVE" + b"\x00" * 15 + b"\x00" * 32 + rng.randbytes(200),
              greeting + b"NULL" + b"\x00" * 16 + b"\x00" * 32 + b"\x04\x19\x05READY"]
    for port in (secure_controller.state_port, secure_controller.publish_port):
        for blob in blobs:
            with socket.create_connection((HOST, port), timeout=TIMEOUT_S) as raw:
                raw.sendall(blob)
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=curve_venue.client("op")) as op:
        status = op.command("status")
    # Only the desk that asked is listed: no peer came in through the junk.
    assert [n["role"] for n in status["nodes"]] == ["operator"] and status["malformed"] == 0
    assert secure_controller.thread.is_alive()


def test_kiosk_client_with_a_kiosk_key(
        secure_controller: ThreadedController, curve_venue: CurveVenue) -> None:
    from exhibit_engine.sync.kiosk import KioskClient

    with KioskClient(HOST, secure_controller.state_port, "kiosk-7", TIMEOUT_S,
                     curve=curve_venue.client("kiosk")) as kiosk:
        assert kiosk.select("bell")["state_seq"] >= 1
        with pytest.raises(SyncError, match="kiosk may not send 'capture'"):
            kiosk.command("capture", tag="t")
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=curve_venue.client("op")) as op:
        status = op.command("status")
    assert {n["id"]: n["role"] for n in status["nodes"]}["kiosk-7"] == "kiosk"


def test_kiosk_link_with_a_kiosk_key_and_with_an_unknown_one(
        secure_controller: ThreadedController, curve_venue: CurveVenue) -> None:
    from exhibit_engine.kiosk.link import KioskLink

    link = KioskLink(HOST, secure_controller.state_port, "kiosk-8", timeout_s=1.0,
                     curve=curve_venue.client("kiosk"))
    stranger = KioskLink(HOST, secure_controller.state_port, "kiosk-x", timeout_s=1.0,
                         curve=_stranger(curve_venue))
    try:
        link.start()
        stranger.start()
        ticket = link.send("select", {"item": "bell"}, "tap-1")
        assert link.wait_for(lambda: not ticket.pending, TIMEOUT_S)
        assert ticket.state == "done" and link.online
        assert link.wait_for(lambda: stranger.stats.polls >= 2, TIMEOUT_S)
        assert not stranger.online and stranger.status is None
        refused = stranger.send("touch", {}, "tap-2")
        assert stranger.wait_for(lambda: not refused.pending, TIMEOUT_S)
        assert refused.state != "done" and "CURVE key" in refused.reason
        assert not stranger.online
    finally:
        link.close()
        stranger.close()


def test_a_wrong_controller_key_is_reported_not_just_timed_out(
        secure_controller: ThreadedController, curve_venue: CurveVenue) -> None:
    good = curve_venue.client("op")
    wrong_server, _ = new_key_pair()
    with OperatorClient(HOST, secure_controller.state_port, REFUSED_WITHIN_S,
                        curve=replace(good, server_public=wrong_server)) as op, \
            pytest.raises(SyncError, match="is .security. controller_public_key this "
                                           "controller's key"):
        op.command("status")


def test_malformed_frames_from_an_allowed_key_are_counted_and_dropped(
        secure_controller: ThreadedController, curve_venue: CurveVenue,
        make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    import random

    rng = random.Random(11)
    dealer = _dealer(make_socket, secure_controller.state_port, curve_venue.client("kiosk"))
    assert dealer.poll(int(TIMEOUT_S * 1000), zmq.POLLOUT)
    junk = [[rng.randbytes(rng.randrange(0, 60)) for _ in range(rng.randrange(1, 4))]
            for _ in range(200)]
    for frames in junk:
        dealer.send_multipart(frames)
    # Messages from one peer arrive in order: once the hello is answered, all were read.
    assert isinstance(_ask(dealer, Hello("kiosk-j", "kiosk")), Welcome)
    status = _ask(dealer, Command("status", {}, req=1))
    assert isinstance(status, Reply) and status.ok
    assert status.data["malformed"] == len(junk)


def test_a_refused_node_says_why_in_its_log(
        secure_controller: ThreadedController, curve_venue: CurveVenue,
        make_node: Callable[..., NodeLink], wait_for: Callable[..., bool],
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="exhibit_engine.sync.node"):
        link = make_node("intruder", secure_controller.state_port,
                         secure_controller.publish_port, curve=_stranger(curve_venue))
        assert wait_for(lambda: "refused this client's CURVE key" in caplog.text, [link],
                        timeout=TIMEOUT_S)
    assert "intruder cannot join" in caplog.text and not link.joined


# --------------------------------------------------------------------------- ZAP handler


def test_zap_handler_answers_every_request_and_admits_only_listed_curve_keys() -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    public, _ = new_key_pair()
    zap = ZapHandler(ctx, {public: "kiosk"})
    try:
        def ask(*frames: bytes) -> list[bytes]:
            return zap.answer(list(frames))

        dom = ZAP_DOMAIN.encode()
        answer = ask(b"1.0", b"r1", dom, b"1.2.3.4", b"", b"CURVE", z85_decode(public))
        assert answer[:4] == [b"1.0", b"r1", b"200", b"OK"] and answer[5] == b""
        # The User-Id carries the role and the key's id: "kiosk:<16 hex digits>".
        assert split_user_id(answer[4].decode()) == ("kiosk", CurvePublicKey(public).key_id)
        assert answer[4] == user_id("kiosk", public).encode()
        other, _ = new_key_pair()
        assert ask(b"1.0", b"r2", dom, b"a", b"", b"CURVE", z85_decode(other))[2] == b"400"
        assert ask(b"1.0", b"r3", dom, b"a", b"", b"NULL")[2] == b"400"
        assert ask(b"1.0", b"r4", b"other", b"a", b"", b"CURVE", z85_decode(public))[2] \
            == b"400"
        assert ask(b"2.0", b"r5", dom, b"a", b"", b"CURVE", z85_decode(public))[2] == b"400"
        assert ask(b"1.0", b"r6", dom, b"a", b"", b"CURVE", b"short")[2] == b"400"
        assert ask(b"1.0")[2] == b"400"
        assert zap.accepted == 1 and zap.refused == 6
        ask(b"1.0", b"r7", dom, b"a", b"", b"CURVE", z85_decode(other))
        assert "is not in venue.toml [security]" in zap.last_refused
    finally:
        zap.stop()
        ctx.term()


# --------------------------------------------------------------------------- node ids and keys


def test_one_projector_key_cannot_report_as_another_projector(
        curve_venue: CurveVenue, start_controller: Callable[..., ThreadedController],
        make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    """Over real CURVE sockets: the key id reaches the controller in the User-Id."""
    server = start_controller(security=curve_venue.security,
                              key_file=curve_venue.controller_key, lost_after_s=30.0)
    owner = _dealer(make_socket, server.state_port, curve_venue.client("proj"))
    assert isinstance(_ask(owner, Hello("left", "projector")), Welcome)
    impostor = _dealer(make_socket, server.state_port, curve_venue.client("proj2"))
    refused = _ask(impostor, Hello("left", "projector"))
    assert isinstance(refused, Reply) and not refused.ok
    owner_id = CurvePublicKey(curve_venue.client("proj").public).key_id
    impostor_id = CurvePublicKey(curve_venue.client("proj2").public).key_id
    assert (f"node id 'left' refused for projector key {impostor_id}: it belongs to "
            f"key {owner_id}") in refused.error
    forged = _ask(impostor, NodeStatus("left", 999, 1.0, 0.0, 0.0))
    assert isinstance(forged, Reply) and not forged.ok
    # The impostor may still be a projector under an id of its own.
    assert isinstance(_ask(impostor, Hello("right", "projector")), Welcome)
    with OperatorClient(HOST, server.state_port, TIMEOUT_S,
                        curve=curve_venue.client("op")) as op:
        status = op.command("status")
    nodes = {n["id"]: n for n in status["nodes"] if n["role"] == "projector"}
    assert nodes["left"]["frames"] == 0 and set(nodes) == {"left", "right"}
    assert status["refused"] == 2 and "belongs to key" in status["last_refused"]


def test_venue_security_displays_reach_the_controller(
        curve_venue: CurveVenue, start_controller: Callable[..., ThreadedController],
        make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    proj = curve_venue.client("proj").public
    security = replace(curve_venue.security, displays=(("left", curve_venue.pub("proj")),))
    server = start_controller(security=security, key_file=curve_venue.controller_key)
    other = _dealer(make_socket, server.state_port, curve_venue.client("proj2"))
    refused = _ask(other, Hello("left", "projector"))     # 'left' is free, but not its
    assert isinstance(refused, Reply) and not refused.ok
    assert "[security.displays] binds it to key " + CurvePublicKey(proj).key_id \
        in refused.error
    owner = _dealer(make_socket, server.state_port, curve_venue.client("proj"))
    assert isinstance(_ask(owner, Hello("left", "projector")), Welcome)


def test_kiosk_join_refused_is_one_clear_error_not_a_timeout(secure_controller: ThreadedController,
                                                             curve_venue: CurveVenue) -> None:
    from exhibit_engine.sync.kiosk import KioskClient

    # A projector's key cannot say hello as a kiosk: the refusal is the error, at once.
    with KioskClient(HOST, secure_controller.state_port, "kiosk-9", TIMEOUT_S,
                     curve=curve_venue.client("proj")) as kiosk:
        with pytest.raises(SyncError, match=r"kiosk 'kiosk-9' cannot join: hello from "
                                            r"'kiosk-9' refused: it claims role 'kiosk' but "
                                            r"its key is a projector key") as info:
            kiosk.join()
        assert not isinstance(info.value, SyncTimeout) and kiosk.session is None
        with pytest.raises(SyncError, match="cannot join"):
            kiosk.select("bell")


def test_cli_takes_the_controller_key_from_server_key_without_a_venue(
        secure_controller: ThreadedController, curve_venue: CurveVenue) -> None:
    import json

    from click.testing import CliRunner

    from exhibit_engine.cli import main

    flags = ["--host", HOST, "--state-port", str(secure_controller.state_port),
             "--timeout", str(TIMEOUT_S),
             "--server-key", curve_venue.security.controller_public_key]
    res = CliRunner().invoke(main, ["kiosk", *flags, "--key", curve_venue.key("kiosk"),
                                    "--id", "kiosk-cli-9", "select", "bell"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("select: 'bell' at show time")
    res = CliRunner().invoke(main, ["status", *flags, "--key", curve_venue.key("op"), "--json"])
    assert res.exit_code == 0, res.output
    status = json.loads(res.output)
    assert {n["id"]: n["role"] for n in status["nodes"]}["kiosk-cli-9"] == "kiosk"
    # The same key without the controller's key is an error, not a plain connection.
    res = CliRunner().invoke(main, ["ctl", *flags[:-2], "--key", curve_venue.key("op"), "status"])
    assert res.exit_code == 2
    assert "--key: a CURVE key (--key or EXHIBIT_KEY) needs the controller's public key" \
        in res.output
