"""Shared fixtures: small bundle sources made by the tests themselves, and controllers
serving in a thread (for the sync tests and the command-line tests that talk to one)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.pack import pack
from exhibit_engine.config import (
    ControllerSettings,
    DisplayConfig,
    NetworkConfig,
    SecurityConfig,
    ShowConfig,
    VenueConfig,
    WallConfig,
)

if TYPE_CHECKING:  # the sync driver (and zmq) load only for tests that start a controller
    from exhibit_engine.sync.controller import ControllerServer

ROOT = Path(__file__).resolve().parents[1]
ICE_SOURCE = ROOT / "content" / "ice-festival"
HOST = "127.0.0.1"


def writes_anywhere() -> bool:
    """Whether this process ignores folder permissions (root with CAP_DAC_OVERRIDE)."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        ro = Path(d, "ro")
        ro.mkdir()
        ro.chmod(0o555)
        try:
            return os.access(ro, os.W_OK)
        finally:
            ro.chmod(0o755)

BUNDLE_TOML = """\
[bundle]
id = "tiny"
version = "1.2.3"
title = { zh = "小", en = "Tiny", ru = "Крошка" }
rights = "test"
license = "CC0-1.0"

[[items]]
id = "stone"
title = { zh = "石", en = "Stone", ru = "Камень" }
creator = "tests"
date = "2026"

[[scenes]]
id = "only"
kind = "ice"
title = { en = "Only" }
assets = ["meshes/a.bin"]
[scenes.params]
seed = 3
"""


@pytest.fixture
def tiny_source(tmp_path: Path) -> Path:
    """A minimal bundle source folder: bundle.toml, one 'mesh' and one text file."""
    src = tmp_path / "tiny-src"
    (src / "meshes").mkdir(parents=True)
    (src / "bundle.toml").write_text(BUNDLE_TOML, encoding="utf-8")
    (src / "meshes" / "a.bin").write_bytes(bytes(range(256)) * 64)
    (src / "notes.txt").write_text("hello\n", encoding="utf-8")
    return src


@pytest.fixture(autouse=True, scope="session")
def _private_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test, and every process a test starts, uses a private model cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXHIBIT_CACHE_DIR", str(tmp_path_factory.mktemp("model-cache")))
        yield


@pytest.fixture(autouse=True)
def _private_transfer_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test, and every controller and node it starts, uses a bundle transfer port of
    its own (``EXHIBIT_TRANSFER_PORT``), so that no node ever fetches from another test's
    controller and no controller finds the venue's default port taken."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("EXHIBIT_TRANSFER_PORT", str(s.getsockname()[1]))


@pytest.fixture(scope="session")
def sample_bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the sample show's bundles (content/show.toml plays all three):
    ice-festival.exb, northern-prints.exb and heritage.exb, packed once per session."""
    folder = tmp_path_factory.mktemp("bundles")
    for source, name in ((ICE_SOURCE, "ice-festival.exb"),
                         (ROOT / "content" / "northern-prints", "northern-prints.exb"),
                         (ROOT / "content" / "heritage", "heritage.exb")):
        pack(source, folder / name)
    return folder


@pytest.fixture(scope="session")
def heritage_exb(sample_bundles: Path) -> Path:
    """content/heritage packed, once per session."""
    return sample_bundles / "heritage.exb"


@pytest.fixture(scope="session")
def prints_exb(sample_bundles: Path) -> Path:
    """content/northern-prints packed, once per session."""
    return sample_bundles / "northern-prints.exb"


@pytest.fixture(scope="session")
def ice_exb(sample_bundles: Path) -> Path:
    """content/ice-festival packed into ``<tmp>/ice-festival.exb``, once per session; the
    folder holds the sample show's other bundles too, so ``ice_exb.parent`` is a bundle
    folder the sample show plays from."""
    return sample_bundles / "ice-festival.exb"


@pytest.fixture
def ice_bundle(ice_exb: Path) -> Iterator[Bundle]:
    """The packed ice-festival bundle, open."""
    with Bundle.open(ice_exb) as bundle:
        yield bundle


# --------------------------------------------------------------------------- controllers


def controller_settings(state_port: int = 0, publish_port: int = 0, heartbeat_s: float = 0.1,
                        *, venue: VenueConfig | None = None, show: ShowConfig | None = None,
                        security: SecurityConfig | None = None, state_file: str | None = None,
                        key_file: str | None = None) -> ControllerSettings:
    """A controller's settings on 127.0.0.1: a minimal one-display venue and an empty show,
    unless given (``security`` replaces the venue's ``[security]``)."""
    if venue is None:
        venue = VenueConfig("test", "Test", WallConfig(1.0, 1.0, (0.5, 0.5, 1.0)),
                            (DisplayConfig("a", (64, 64), (0.0, 0.0, 1.0, 1.0)),),
                            NetworkConfig())
    if security is not None:
        venue = replace(venue, security=security)
    return ControllerSettings(venue, show or ShowConfig("test", {}, (), ()), HOST, state_port,
                              publish_port, heartbeat_s=heartbeat_s, state_file=state_file,
                              key_file=key_file)


@pytest.fixture(name="controller_settings")
def controller_settings_fixture() -> Callable[..., ControllerSettings]:
    """:func:`controller_settings`, for tests that build a server of their own."""
    return controller_settings


@dataclass
class ThreadedController:
    """A ControllerServer serving in a thread; :meth:`stop` ends it and joins the thread."""

    server: ControllerServer
    thread: threading.Thread
    stop_event: threading.Event = field(default_factory=threading.Event)

    @property
    def state_port(self) -> int:
        return self.server.state_port

    @property
    def publish_port(self) -> int:
        return self.server.publish_port

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and join the thread (``serve`` closes the sockets, linger 0, on
        its way out); safe to call twice."""
        self.stop_event.set()
        self.thread.join(timeout=timeout)
        if self.thread.is_alive():
            raise RuntimeError(f"controller thread did not stop within {timeout} s")


@pytest.fixture
def start_controller() -> Iterator[Callable[..., ThreadedController]]:
    """Factory: bind a controller and serve it in a thread; all stopped at teardown.

    ``start_controller(state_port=0, publish_port=0, heartbeat_s=0.1, *, settings=None,
    clock=None, wall_clock=None, lost_after_s=None, **pieces)``: ports 0 are free ports;
    ``settings`` is a whole :class:`ControllerSettings`, else ``pieces`` (venue, show,
    security, state_file, key_file) go to :func:`controller_settings`. ``clock``,
    ``wall_clock`` and ``lost_after_s`` go to the server. It is bound before this returns,
    so its ports are known and a peer may connect at once.
    """
    from exhibit_engine.sync.controller import ControllerServer

    started: list[ThreadedController] = []

    def start(state_port: int = 0, publish_port: int = 0, heartbeat_s: float = 0.1, *,
              settings: ControllerSettings | None = None,
              clock: Callable[[], float] | None = None,
              wall_clock: Callable[[], datetime] | None = None,
              lost_after_s: float | None = None, **pieces: Any) -> ThreadedController:
        if settings is None:
            settings = controller_settings(state_port, publish_port, heartbeat_s, **pieces)
        elif pieces:
            raise TypeError(f"give settings or its pieces, not both: {sorted(pieces)}")
        server = ControllerServer(settings, clock or time.monotonic, lost_after_s=lost_after_s,
                                  wall_clock=wall_clock)
        server.bind()
        stop = threading.Event()
        thread = threading.Thread(target=server.serve, args=(stop,), daemon=True,
                                  name="test-controller")
        handle = ThreadedController(server, thread, stop)
        started.append(handle)
        thread.start()
        return handle

    yield start
    for handle in started:
        handle.stop()
        handle.server.close()   # in case serve never ran; closing twice is harmless
