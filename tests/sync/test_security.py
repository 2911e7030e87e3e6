"""CURVE + ZAP + role rights, over real sockets on 127.0.0.1.

Every key is made fresh per test (``zmq.curve_keypair`` through ``exhibit``'s own key
files); the controller runs in a thread with a venue whose ``[security]`` lists them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import msgpack
import pytest
import zmq

from exhibit_engine.config import ControllerSettings, SecurityConfig
from exhibit_engine.errors import ConfigError, SyncError, SyncTimeout
from exhibit_engine.sync.auth import (
    ZAP_DOMAIN,
    ClientCurve,
    ZapHandler,
    apply_client,
    client_curve,
    new_key_pair,
    public_key_of,
    server_curve,
    split_user_id,
    user_id,
)
from exhibit_engine.sync.commands import ROLE_COMMANDS
from exhibit_engine.sync.controller import ControllerServer
from exhibit_engine.sync.controller_core import ControllerCore
from exhibit_engine.sync.curve_keys import CurvePublicKey, write_curve_key_files
from exhibit_engine.sync.node import NodeLink
from exhibit_engine.sync.node_core import NodeCore
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

from .conftest import HOST, controller_settings

pytestmark = pytest.mark.sync

TIMEOUT_S = 5.0
REFUSED_WITHIN_S = 0.5   # how long an unknown peer is given to (fail to) get in


@dataclass
class Venue:
    """Key files for the controller and one peer per role, plus an unknown peer."""

    dir: Path
    security: SecurityConfig
    controller_key: str

    def key(self, name: str) -> str:
        return str(self.dir / f"{name}.curve.key")

    def client(self, name: str) -> ClientCurve:
        curve = client_curve(self.security, self.key(name))
        assert curve is not None
        return curve


def _keys(directory: Path, name: str) -> tuple[str, str]:
    public, secret = new_key_pair()
    files = write_curve_key_files(name, directory, public, secret)
    return public, str(files.public_path)


@pytest.fixture
def venue(tmp_path: Path) -> Venue:
    controller_public, controller_pub = _keys(tmp_path, "controller")
    roles = {}
    files: dict[str, list[str]] = {"projector": [], "kiosk": [], "operator": []}
    for name, role in (("proj", "projector"), ("proj2", "projector"), ("kiosk", "kiosk"),
                       ("op", "operator")):
        public, pub = _keys(tmp_path, name)
        roles[public] = role
        files[role].append(pub)
    _keys(tmp_path, "stranger")      # a valid key pair the venue does not list
    security = SecurityConfig(
        curve=True, controller_key=str(tmp_path / "controller.curve.key"),
        controller_public_key=controller_pub, controller_public=controller_public,
        projectors=tuple(files["projector"]), kiosks=tuple(files["kiosk"]),
        operators=tuple(files["operator"]), roles=tuple(roles.items()))
    return Venue(tmp_path, security, str(tmp_path / "controller.curve.key"))


def _secure(settings: ControllerSettings, venue: Venue) -> ControllerSettings:
    return replace(settings, venue=replace(settings.venue, security=venue.security),
                   key_file=venue.controller_key)


@dataclass
class Running:
    server: ControllerServer
    thread: threading.Thread
    stop: threading.Event

    @property
    def state_port(self) -> int:
        return self.server.state_port

    @property
    def publish_port(self) -> int:
        return self.server.publish_port


@pytest.fixture
def secure_controller(venue: Venue) -> Iterator[Running]:
    server = ControllerServer(_secure(controller_settings(), venue))
    server.bind()
    stop = threading.Event()
    thread = threading.Thread(target=server.serve, args=(stop,), daemon=True,
                              name="test-controller")
    thread.start()
    yield Running(server, thread, stop)
    stop.set()
    thread.join(timeout=5.0)
    assert not thread.is_alive()


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


def _stranger(venue: Venue) -> ClientCurve:
    """The unknown peer's curve settings: its own valid keys, the right server key."""
    from exhibit_engine.sync.curve_keys import load_curve_secret_key

    secret = load_curve_secret_key(venue.key("stranger")).secret
    return ClientCurve(secret, public_key_of(secret), venue.security.controller_public)


# --------------------------------------------------------------------------- sockets


def test_allow_listed_projector_joins_and_syncs(secure_controller: Running, venue: Venue,
                                                make_node: Callable[..., NodeLink],
                                                wait_for: Callable[..., bool]) -> None:
    link = make_node("proj-a", secure_controller.state_port, secure_controller.publish_port,
                     curve=venue.client("proj"))
    assert wait_for(lambda: link.synced and "anchor" in link.session_state(),
                    [link], timeout=TIMEOUT_S)
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=venue.client("op")) as op:
        status = op.command("status")
    assert {n["id"]: n["role"] for n in status["nodes"]}["proj-a"] == "projector"
    assert status["handshakes_refused"] == 0


def test_unknown_key_cannot_join_send_or_listen(secure_controller: Running, venue: Venue,
                                                make_node: Callable[..., NodeLink],
                                                make_socket: Callable[[int], zmq.Socket[bytes]],
                                                wait_for: Callable[..., bool]) -> None:
    stranger = _stranger(venue)
    # Everyone connects at once, so the refused handshakes overlap the checks below.
    good = _sub(make_socket, secure_controller.publish_port, venue.client("kiosk"))
    bad = _sub(make_socket, secure_controller.publish_port, stranger)
    plain_sub = _sub(make_socket, secure_controller.publish_port, None)
    intruder = make_node("intruder", secure_controller.state_port,
                         secure_controller.publish_port, curve=stranger)
    friend = make_node("friend", secure_controller.state_port,
                       secure_controller.publish_port, curve=venue.client("proj"))
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
                        curve=venue.client("op")) as op:
        status = op.command("status")
    assert "intruder" not in {n["id"] for n in status["nodes"]}
    assert status["handshakes_refused"] >= 2
    assert status["show_time"] < 99.0      # the stranger's seek never arrived


def test_kiosk_key_may_select_but_not_seek(secure_controller: Running, venue: Venue) -> None:
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=venue.client("kiosk")) as kiosk:
        assert kiosk.command("select", item="bell")["state_seq"] >= 1
        with pytest.raises(SyncError, match="kiosk may not send 'seek'"):
            kiosk.command("seek", position=30.0)
        with pytest.raises(SyncError, match="kiosk may not send 'capture'"):
            kiosk.command("capture", tag="x")
        assert "nodes" in kiosk.command("status")
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=venue.client("op")) as op:
        assert op.command("seek", position=30.0)["anchor"][1] == 30.0
        status = op.command("status")
    assert status["refused"] == 2
    assert "kiosk may not send 'capture'" in status["last_refused"]


def test_projector_key_may_only_read_status(secure_controller: Running, venue: Venue) -> None:
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=venue.client("proj")) as proj:
        assert "nodes" in proj.command("status")
        with pytest.raises(SyncError, match="projector may not send 'select'"):
            proj.command("select", item="bell")


def test_hello_claiming_another_role_than_the_key_is_refused(
        secure_controller: Running, venue: Venue,
        make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    dealer = _dealer(make_socket, secure_controller.state_port, venue.client("kiosk"))
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
        secure_controller: Running, venue: Venue,
        make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    """What docs/protocol.md tells a foreign kiosk: three socket options, then v1 frames."""
    kiosk = venue.client("kiosk")
    sock = make_socket(zmq.DEALER)
    sock.curve_serverkey = kiosk.server_public.encode()
    sock.curve_publickey = kiosk.public.encode()
    sock.curve_secretkey = kiosk.secret.encode()
    sock.connect(f"tcp://{HOST}:{secure_controller.state_port}")
    sock.send_multipart([b"hello", msgpack.packb({"v": PROTOCOL_VERSION, "node_id": "k",
                                                 "role": "kiosk"})])
    frames = sock.recv_multipart()
    assert frames[0] == b"welcome"


# --------------------------------------------------------------------------- keys and setup


def test_controller_needs_its_matching_secret_key(venue: Venue) -> None:
    settings = _secure(controller_settings(), venue)
    with pytest.raises(ConfigError, match="--key"):
        ControllerServer(replace(settings, key_file=None)).bind()
    with pytest.raises(ConfigError, match="is not the key of .security. controller_public_key"):
        ControllerServer(replace(settings, key_file=venue.key("kiosk"))).bind()
    assert server_curve(SecurityConfig(), None) is None     # development mode


def test_client_keys_are_checked_against_the_allow_list(venue: Venue) -> None:
    with pytest.raises(ConfigError, match="not allowed by the venue"):
        client_curve(venue.security, venue.key("stranger"))
    with pytest.raises(ConfigError, match="is a kiosk key; a projector needs"):
        client_curve(venue.security, venue.key("kiosk"), role="projector")
    with pytest.raises(ConfigError, match="requires CURVE"):
        client_curve(venue.security, None)
    curve = client_curve(venue.security, venue.key("proj"), role="projector")
    assert curve is not None and curve.server_public == venue.security.controller_public
    assert curve.secret not in repr(curve)
    assert client_curve(SecurityConfig(), None) is None


def test_zap_handler_answers_every_request_and_admits_only_listed_curve_keys() -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    public, _ = new_key_pair()
    from exhibit_engine.sync.curve_keys import z85_decode

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


# --------------------------------------------------------------------------- rights as data


def test_rights_are_a_table_of_data() -> None:
    core = ControllerCore(0.0, "s")
    hello_kiosk = core.handle(b"k", Hello("k", "kiosk"), 0.0)
    assert isinstance(hello_kiosk.replies[0], Welcome)
    seek = Command("seek", {"position": 1.0}, req=3)
    reply = core.handle(b"k", seek, 0.1).replies[0]
    assert isinstance(reply, Reply) and not reply.ok and reply.req == 3
    assert reply.error.startswith("kiosk may not send 'seek' (kiosk commands: ")
    assert "select" in reply.error and "status" in reply.error
    # Granting is editing data, not code.
    core.role_commands = {**ROLE_COMMANDS, "kiosk": ROLE_COMMANDS["kiosk"] | {"seek"}}
    granted = core.handle(b"k", seek, 0.2).replies[0]
    assert isinstance(granted, Reply) and granted.ok
    # The authenticated role wins over any hello: a key's role is the role.
    as_projector = core.handle(b"k", seek, 0.3, role="projector").replies[0]
    assert isinstance(as_projector, Reply) and not as_projector.ok
    assert ROLE_COMMANDS["operator"] == frozenset({"*"})
    assert ROLE_COMMANDS["projector"] == frozenset({"status"})


def test_a_key_cannot_take_over_another_roles_node_id() -> None:
    core = ControllerCore(0.0, "s")
    assert isinstance(core.handle(b"p", Hello("proj-a", "projector"), 0.0,
                                  role="projector").replies[0], Welcome)
    reply = core.handle(b"k", Hello("proj-a", "kiosk"), 0.05, role="kiosk").replies[0]
    assert isinstance(reply, Reply) and not reply.ok
    assert "node id 'proj-a' refused for a kiosk key: a projector holds it" in reply.error
    assert core.nodes["proj-a"].role == "projector" and core.refused == 1
    # Development mode has no keys to go by: a claim is taken as it comes.
    assert isinstance(core.handle(b"k", Hello("proj-a", "kiosk"), 0.1).replies[0], Welcome)


def test_raw_tcp_junk_at_the_curve_sockets_changes_nothing(secure_controller: Running,
                                                            venue: Venue) -> None:
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
                        curve=venue.client("op")) as op:
        status = op.command("status")
    assert status["nodes"] == [] and status["malformed"] == 0
    assert secure_controller.thread.is_alive()


def test_kiosk_client_with_a_kiosk_key(secure_controller: Running, venue: Venue) -> None:
    from exhibit_engine.sync.kiosk import KioskClient

    with KioskClient(HOST, secure_controller.state_port, "kiosk-7", TIMEOUT_S,
                     curve=venue.client("kiosk")) as kiosk:
        assert kiosk.select("bell")["state_seq"] >= 1
        with pytest.raises(SyncError, match="kiosk may not send 'capture'"):
            kiosk.command("capture", tag="t")
    with OperatorClient(HOST, secure_controller.state_port, TIMEOUT_S,
                        curve=venue.client("op")) as op:
        status = op.command("status")
    assert {n["id"]: n["role"] for n in status["nodes"]}["kiosk-7"] == "kiosk"


def test_a_wrong_controller_key_is_reported_not_just_timed_out(secure_controller: Running,
                                                              venue: Venue) -> None:
    good = venue.client("op")
    wrong_server, _ = new_key_pair()
    with OperatorClient(HOST, secure_controller.state_port, REFUSED_WITHIN_S,
                        curve=replace(good, server_public=wrong_server)) as op, \
            pytest.raises(SyncError, match="is .security. controller_public_key this "
                                           "controller's key"):
        op.command("status")


def test_malformed_frames_from_an_allowed_key_are_counted_and_dropped(
        secure_controller: Running, venue: Venue,
        make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    import random

    rng = random.Random(11)
    dealer = _dealer(make_socket, secure_controller.state_port, venue.client("kiosk"))
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


def test_a_refused_node_says_why_in_its_log(secure_controller: Running, venue: Venue,
                                            make_node: Callable[..., NodeLink],
                                            wait_for: Callable[..., bool],
                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="exhibit_engine.sync.node"):
        link = make_node("intruder", secure_controller.state_port,
                         secure_controller.publish_port, curve=_stranger(venue))
        assert wait_for(lambda: "refused this client's CURVE key" in caplog.text, [link],
                        timeout=TIMEOUT_S)
    assert "intruder cannot join" in caplog.text and not link.joined


# --------------------------------------------------------------------------- node ids and keys


def test_a_node_id_is_bound_to_the_key_that_holds_it() -> None:
    core = ControllerCore(0.0, "s", lost_after_s=0.35)
    left = core.handle(b"p", Hello("left", "projector"), 0.0, role="projector", key="aaaa")
    assert isinstance(left.replies[0], Welcome)
    # Another projector key, same role: neither its hello nor its status may use 'left'.
    hello = core.handle(b"q", Hello("left", "projector"), 0.05, role="projector", key="bbbb")
    assert isinstance(hello.replies[0], Reply) and not hello.replies[0].ok
    assert ("node id 'left' refused for projector key bbbb: it belongs to key aaaa until "
            "that node is lost") in hello.replies[0].error
    forged = core.handle(b"q", NodeStatus("left", 999, 1.0, 0.0, 0.0), 0.1,
                         role="projector", key="bbbb")
    assert isinstance(forged.replies[0], Reply) and not forged.replies[0].ok
    assert core.nodes["left"].frames == 0 and core.nodes["left"].key == "aaaa"
    assert core.refused == 2 and "belongs to key aaaa" in core.last_refused
    # The holder's own key reports, and may rejoin from a new connection (a restart).
    assert core.handle(b"p", NodeStatus("left", 5, 0.1, 0.0, 0.0), 0.15, role="projector",
                       key="aaaa").replies == ()
    assert core.nodes["left"].frames == 5
    assert isinstance(core.handle(b"p2", Hello("left", "projector"), 0.2, role="projector",
                                  key="aaaa").replies[0], Welcome)
    # Once the holder is lost, the id passes to the next key that claims it.
    later = 0.2 + core.lost_after_s + 0.01
    assert core.node_state(core.nodes["left"], later) == "lost"
    assert isinstance(core.handle(b"q", Hello("left", "projector"), later, role="projector",
                                  key="bbbb").replies[0], Welcome)
    assert core.nodes["left"].key == "bbbb" and core.refused == 2


def test_one_projector_key_cannot_report_as_another_projector(
        venue: Venue, make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    """Over real CURVE sockets: the key id reaches the controller in the User-Id."""
    with _serving(_secure(controller_settings(), venue), lost_after_s=30.0) as server:
        owner = _dealer(make_socket, server.state_port, venue.client("proj"))
        assert isinstance(_ask(owner, Hello("left", "projector")), Welcome)
        impostor = _dealer(make_socket, server.state_port, venue.client("proj2"))
        refused = _ask(impostor, Hello("left", "projector"))
        assert isinstance(refused, Reply) and not refused.ok
        owner_id = CurvePublicKey(venue.client("proj").public).key_id
        impostor_id = CurvePublicKey(venue.client("proj2").public).key_id
        assert (f"node id 'left' refused for projector key {impostor_id}: it belongs to "
                f"key {owner_id}") in refused.error
        forged = _ask(impostor, NodeStatus("left", 999, 1.0, 0.0, 0.0))
        assert isinstance(forged, Reply) and not forged.ok
        # The impostor may still be a projector under an id of its own.
        assert isinstance(_ask(impostor, Hello("right", "projector")), Welcome)
        with OperatorClient(HOST, server.state_port, TIMEOUT_S,
                            curve=venue.client("op")) as op:
            status = op.command("status")
        nodes = {n["id"]: n for n in status["nodes"]}
        assert nodes["left"]["frames"] == 0 and set(nodes) == {"left", "right"}
        assert status["refused"] == 2 and "belongs to key" in status["last_refused"]


def test_venue_security_displays_reach_the_controller(
        venue: Venue, make_socket: Callable[[int], zmq.Socket[bytes]]) -> None:
    proj = venue.client("proj").public
    security = replace(venue.security, displays=(("left", proj),))
    settings = _secure(controller_settings(), venue)
    settings = replace(settings, venue=replace(settings.venue, security=security))
    with _serving(settings) as server:
        other = _dealer(make_socket, server.state_port, venue.client("proj2"))
        refused = _ask(other, Hello("left", "projector"))     # 'left' is free, but not its
        assert isinstance(refused, Reply) and not refused.ok
        assert "[security.displays] binds it to key " + CurvePublicKey(proj).key_id \
            in refused.error
        owner = _dealer(make_socket, server.state_port, venue.client("proj"))
        assert isinstance(_ask(owner, Hello("left", "projector")), Welcome)


@contextmanager
def _serving(settings: ControllerSettings,
             lost_after_s: float | None = None) -> Iterator[ControllerServer]:
    """A controller serving in a thread for the ``with`` block."""
    server = ControllerServer(settings, lost_after_s=lost_after_s)
    server.bind()
    stop = threading.Event()
    thread = threading.Thread(target=server.serve, args=(stop,), daemon=True,
                              name="test-controller")
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(timeout=5.0)
    assert not thread.is_alive()


def test_security_displays_bind_node_ids_to_keys() -> None:
    core = ControllerCore(0.0, "s")
    core.bound_ids = {"left": "aaaa"}
    # The bound key may be 'left' (and only 'left'); no other key may, even with 'left' free.
    free = core.handle(b"q", Hello("left", "projector"), 0.0, role="projector", key="bbbb")
    assert isinstance(free.replies[0], Reply) and not free.replies[0].ok
    assert ("node id 'left' refused for projector key bbbb: venue.toml [security.displays] "
            "binds it to key aaaa") in free.replies[0].error
    elsewhere = core.handle(b"p", Hello("right", "projector"), 0.0, role="projector",
                            key="aaaa")
    assert isinstance(elsewhere.replies[0], Reply) and not elsewhere.replies[0].ok
    assert "binds that key to left" in elsewhere.replies[0].error
    assert isinstance(core.handle(b"p", Hello("left", "projector"), 0.0, role="projector",
                                  key="aaaa").replies[0], Welcome)
    assert isinstance(core.handle(b"q", Hello("right", "projector"), 0.0, role="projector",
                                  key="bbbb").replies[0], Welcome)
    assert core.refused == 2
    # Development mode (no keys) is not bound.
    assert isinstance(core.handle(b"r", Hello("left-2", "projector"), 0.0).replies[0], Welcome)


def test_kiosk_join_refused_is_one_clear_error_not_a_timeout(secure_controller: Running,
                                                             venue: Venue) -> None:
    from exhibit_engine.sync.kiosk import KioskClient

    # A projector's key cannot say hello as a kiosk: the refusal is the error, at once.
    with KioskClient(HOST, secure_controller.state_port, "kiosk-9", TIMEOUT_S,
                     curve=venue.client("proj")) as kiosk:
        with pytest.raises(SyncError, match=r"kiosk 'kiosk-9' cannot join: hello from "
                                            r"'kiosk-9' refused: it claims role 'kiosk' but "
                                            r"its key is a projector key") as info:
            kiosk.join()
        assert not isinstance(info.value, SyncTimeout) and kiosk.session is None
        with pytest.raises(SyncError, match="cannot join"):
            kiosk.select("bell")


def test_cli_takes_the_controller_key_from_server_key_without_a_venue(
        secure_controller: Running, venue: Venue) -> None:
    import json

    from click.testing import CliRunner

    from exhibit_engine.cli import main

    flags = ["--host", HOST, "--state-port", str(secure_controller.state_port),
             "--timeout", str(TIMEOUT_S), "--server-key", venue.security.controller_public_key]
    res = CliRunner().invoke(main, ["kiosk", *flags, "--key", venue.key("kiosk"),
                                    "--id", "kiosk-cli-9", "select", "bell"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("select: 'bell' at show time")
    res = CliRunner().invoke(main, ["status", *flags, "--key", venue.key("op"), "--json"])
    assert res.exit_code == 0, res.output
    status = json.loads(res.output)
    assert {n["id"]: n["role"] for n in status["nodes"]}["kiosk-cli-9"] == "kiosk"
    # The same key without the controller's key is an error, not a plain connection.
    res = CliRunner().invoke(main, ["ctl", *flags[:-2], "--key", venue.key("op"), "status"])
    assert res.exit_code == 2
    assert "--key: a CURVE key (--key or EXHIBIT_KEY) needs the controller's public key" \
        in res.output


def test_a_node_whose_hello_is_refused_keeps_the_reason_and_backs_off() -> None:
    core = ControllerCore(0.0, "s", lost_after_s=0.35)
    core.handle(b"p", Hello("left", "projector"), 0.0, role="projector", key="aaaa")
    node = NodeCore("left")
    hello = [m for m in node.tick(0.05) if isinstance(m, Hello)]
    assert hello, "a fresh node says hello"
    answer = core.handle(b"q", hello[0], 0.05, role="projector", key="bbbb").replies[0]
    assert node.handle(answer, 0.06) == []
    assert "belongs to key aaaa" in node.refusal and not node.joined
    # No hello storm while refused: the next one waits a few seconds.
    assert not [m for t in (0.1, 1.0, 4.0) for m in node.tick(t) if isinstance(m, Hello)]
    later = [m for m in node.tick(5.1) if isinstance(m, Hello)]
    assert later
    # Once the holder is lost the id passes on; the welcome clears the refusal.
    welcome = core.handle(b"q", later[0], 5.1, role="projector", key="bbbb").replies[0]
    assert isinstance(welcome, Welcome)
    node.handle(welcome, 5.11)
    assert node.joined and node.refusal == ""
