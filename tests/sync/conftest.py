"""Fixtures for the sync tests: sockets, controller processes and nodes (the controller
thread, ``start_controller``, and ``controller_settings`` are in ``tests/conftest.py``, for
the command-line tests too).

Everything a fixture opens it closes: sockets with linger 0, contexts terminated, threads
joined, processes killed and reaped. Waiting is always on a socket poll with a deadline,
never on ``time.sleep``.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq

from exhibit_engine.config import SecurityConfig
from exhibit_engine.keys import write_curve_key_files
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.auth import ClientCurve, client_curve, new_key_pair
from exhibit_engine.sync.controller_core import Actions, ControllerCore
from exhibit_engine.sync.node import NodeLink

from ..conftest import HOST

REPO = Path(__file__).resolve().parents[2]

# Run in a child interpreter: a controller on the given ports that says "ready" once bound.
CONTROLLER_MAIN = """
import sys
from exhibit_engine.config import (ControllerSettings, DisplayConfig, NetworkConfig,
                                   ShowConfig, VenueConfig, WallConfig)
from exhibit_engine.sync.controller import run_controller
host, state_port, publish_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
venue = VenueConfig("test", "Test", WallConfig(1.0, 1.0, (0.5, 0.5, 1.0)),
                    (DisplayConfig("a", (64, 64), (0.0, 0.0, 1.0, 1.0)),), NetworkConfig())
show = ShowConfig("test", {}, (), ())
settings = ControllerSettings(venue, show, host, state_port, publish_port, heartbeat_s=0.1)
def ready(server):
    print("ready", server.state_port, server.publish_port, flush=True)
sys.exit(run_controller(settings, on_ready=ready))
"""


def free_ports(n: int) -> list[int]:
    """Ports that were free a moment ago (bound to 0 together, then released)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _wait_for(condition: Callable[[], bool], links: Iterable[NodeLink],
              timeout: float = 5.0, step: float = 0.01) -> bool:
    links = list(links)
    if not links:
        raise ValueError("wait_for needs at least one link to poll")
    deadline = time.monotonic() + timeout
    while True:
        for link in links:
            link.poll(step / len(links))
        if condition():
            return True
        if time.monotonic() > deadline:
            return False


def _run_for(seconds: float, links: Iterable[NodeLink], step: float = 0.01) -> None:
    end = time.monotonic() + seconds
    _wait_for(lambda: time.monotonic() >= end, links, timeout=seconds + 1.0, step=step)


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Every sync test must leave no agent or controller thread running."""
    before = set(threading.enumerate())
    yield
    left = [t.name for t in threading.enumerate()
            if t not in before and t.name.startswith(("exhibit-sync-", "test-controller"))]
    assert not left, f"threads left running: {left}"


@pytest.fixture
def wait_for() -> Callable[..., bool]:
    """``wait_for(condition, links, timeout=5.0)``: poll the links (waiting on their
    sockets) until ``condition()`` holds; False at the deadline."""
    return _wait_for


@pytest.fixture
def run_for() -> Callable[..., None]:
    """``run_for(seconds, links)``: keep polling the links, like a render loop would."""
    return _run_for


@pytest.fixture(name="free_ports")
def free_ports_fixture() -> Callable[[int], list[int]]:
    """``free_ports(n)``: n ports on 127.0.0.1 that were free a moment ago."""
    return free_ports


@dataclass
class CurveVenue:
    """Key files for the controller and one peer per role (two projectors), plus an
    unknown peer's, and the ``[security]`` that lists all but the unknown one.

    Attributes:
        dir: the folder of the key files (and of the venue file messages name).
        security: curve on; proj and proj2 projectors, kiosk a kiosk, op an operator.
        controller_key: the controller's secret key file.
        controller_public: the controller's public key (Z85).
    """

    dir: Path
    security: SecurityConfig
    controller_key: str
    controller_public: str

    def key(self, name: str) -> str:
        """The secret key file of ``name``."""
        return str(self.dir / f"{name}.curve.key")

    def pub(self, name: str) -> str:
        """The public key file of ``name``."""
        return str(self.dir / f"{name}.curve.pub")

    def client(self, name: str) -> ClientCurve:
        """The CURVE settings of peer ``name``, checked against the venue."""
        curve = client_curve(self.security, self.key(name))
        assert curve is not None
        return curve


@pytest.fixture
def curve_venue(tmp_path: Path) -> CurveVenue:
    """Fresh key pairs (made by libsodium, written by ``exhibit``'s own key writer) and a
    ``[security]`` that lists them."""
    def keys(name: str) -> tuple[str, str]:
        public, secret = new_key_pair()
        files = write_curve_key_files(name, tmp_path, public, secret)
        return public, str(files.public_path)

    controller_public, controller_pub = keys("controller")
    files: dict[str, list[str]] = {"projector": [], "kiosk": [], "operator": []}
    for name, role in (("proj", "projector"), ("proj2", "projector"), ("kiosk", "kiosk"),
                       ("op", "operator")):
        files[role].append(keys(name)[1])
    keys("stranger")      # a valid key pair the venue does not list
    security = SecurityConfig(
        curve=True, controller_key=str(tmp_path / "controller.curve.key"),
        controller_public_key=controller_pub, projectors=tuple(files["projector"]),
        kiosks=tuple(files["kiosk"]), operators=tuple(files["operator"]),
        path=str(tmp_path / "venue.toml"))
    return CurveVenue(tmp_path, security, security.controller_key, controller_public)


@pytest.fixture
def make_node() -> Iterator[Callable[..., NodeLink]]:
    """Factory: a NodeLink to 127.0.0.1; every link is closed at teardown."""
    links: list[NodeLink] = []

    def make(node_id: str, state_port: int, publish_port: int, **kwargs: object) -> NodeLink:
        link = NodeLink(node_id, HOST, state_port, publish_port, **kwargs)  # type: ignore[arg-type]
        links.append(link)
        return link

    yield make
    for link in links:
        link.close()


@pytest.fixture
def zmq_context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    """A context of its own, terminated at teardown (after the sockets fixture closes)."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield ctx
    ctx.term()


@pytest.fixture
def make_socket(zmq_context: zmq.Context[zmq.Socket[bytes]],
                ) -> Iterator[Callable[[int], zmq.Socket[bytes]]]:
    """Factory (pyzmq's own test style): sockets with linger 0 and receive/send timeouts,
    all closed at teardown, so a missing message fails instead of hanging."""
    socks: list[zmq.Socket[bytes]] = []

    def make(kind: int) -> zmq.Socket[bytes]:
        sock = zmq_context.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 5000)
        sock.setsockopt(zmq.SNDTIMEO, 5000)
        socks.append(sock)
        return sock

    yield make
    for sock in socks:
        sock.close(linger=0)


@dataclass
class ControllerProcess:
    """A controller in a child interpreter."""

    proc: subprocess.Popen[str]
    state_port: int
    publish_port: int

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout=timeout)


@pytest.fixture
def spawn_controller() -> Iterator[Callable[[int, int], ControllerProcess]]:
    """Factory: start ``run_controller`` in a real process and wait until it has bound."""
    procs: list[ControllerProcess] = []

    def spawn(state_port: int, publish_port: int) -> ControllerProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-c", CONTROLLER_MAIN, HOST, str(state_port), str(publish_port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
        handle = ControllerProcess(proc, state_port, publish_port)
        procs.append(handle)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=20.0):
                raise RuntimeError("controller process did not start in 20 s")
        line = proc.stdout.readline()
        if not line.startswith("ready"):
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"controller process failed: {line!r} {err}")
        return handle

    yield spawn
    for handle in procs:
        if handle.proc.poll() is None:
            handle.proc.send_signal(signal.SIGKILL)
        handle.proc.communicate(timeout=10)


def desk_command(core: ControllerCore, name: str, now: float, args: dict[str, Any] | None = None,
                 req: int = 1, peer: bytes = b"op") -> Actions:
    """Send ``core`` an operator command from ``peer``, which says hello first (as the
    protocol asks) if the core does not know it yet; return the command's actions."""
    if core.peers.welcomed(peer) is None:
        core.handle(peer, p.Hello(f"desk-{peer.hex()}", "operator"), now)
    return core.handle(peer, p.Command(name, dict(args or {}), req), now)
