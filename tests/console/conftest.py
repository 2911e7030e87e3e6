"""Fixtures for the console tests: a controller core behind the two calls the console
uses (``request`` and ``listen``), without sockets, and a console app over it.

:class:`CoreController` answers a request at once with a real
:class:`~exhibit_engine.sync.controller_core.ControllerCore` (the one command path, the
table of rights) and hands what it publishes to its listeners, as
:class:`~exhibit_engine.sync.controller.ControllerServer` does on its loop thread. Its
clock is a number the test moves; :meth:`CoreController.tick` runs the core's beat.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():     # starlette would rather have httpx2 (not installed)
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from exhibit_engine.config import ConsoleConfig, ConsoleToken, CueConfig, ShowConfig
from exhibit_engine.console.api import create_app
from exhibit_engine.console.hub import Hub
from exhibit_engine.keys import token_sha256
from exhibit_engine.sync.controller_core import Actions, ControllerCore
from exhibit_engine.sync.protocol import Message, NodeStatus, Reply

CUES = (CueConfig("intro", "b", "s1", 10.0), CueConfig("hall", "b", "s2", 20.0),
        CueConfig("end", "b", "s3", 30.0))
SHOW = ShowConfig("demo", {"en": "Show", "zh": "展"}, (), CUES)
WALL = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OPERATOR, KIOSK = "operator-token-0123456789", "kiosk-token-0123456789"
TOKENS = ConsoleConfig(tokens=(ConsoleToken("desk", "operator", token_sha256(OPERATOR)),
                               ConsoleToken("kiosk", "kiosk", token_sha256(KIOSK))))


class CoreController:
    """A controller core answering the console's requests at once (no sockets)."""

    def __init__(self, show: ShowConfig = SHOW) -> None:
        self.now = 100.0
        self.core = ControllerCore(self.now, "sess", heartbeat_s=0.2)
        self.core.attach_show(show, self.now, WALL)
        self.listeners: list[Callable[[Message], None]] = []
        self.lock = threading.Lock()
        self.silent = False            # True: requests are never answered
        self.requests: list[tuple[str, str, Message]] = []

    def request(self, peer: str, role: str, message: Message) -> Future[Message | None]:
        future: Future[Message | None] = Future()
        self.requests.append((peer, role, message))
        if self.silent:
            return future
        with self.lock:
            actions = self.core.handle(b"\x00local:" + peer.encode(), message, self.now, role,
                                       f"local:{peer}")
        self._publish(actions)
        future.set_result(actions.replies[0] if actions.replies else None)
        return future

    def listen(self, listener: Callable[[Message], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def tick(self, seconds: float = 0.0) -> None:
        """Move the clock on and run the core's beat (heartbeats, cue follow-ons)."""
        with self.lock:
            self.now += seconds
            actions = self.core.tick(self.now, WALL)
        self._publish(actions)

    def node(self, node_id: str) -> None:
        """A projector reports (so it is joined)."""
        with self.lock:
            self.core.handle(node_id.encode(), NodeStatus(node_id, 10, 1.0, 0.0, 100.0),
                             self.now)

    def _publish(self, actions: Actions) -> None:
        for message in actions.publish:
            for listener in tuple(self.listeners):
                listener(message)


@pytest.fixture
def controller() -> CoreController:
    return CoreController()


@pytest.fixture
def make_client(controller: CoreController) -> Iterator[Callable[..., TestClient]]:
    """``make_client(config=None, **create_app_kwargs)``: a TestClient (lifespan run) of a
    console over ``controller``; closed at teardown."""
    clients: list[TestClient] = []

    def make(config: ConsoleConfig | None = None, *, hub_kwargs: dict[str, Any] | None = None,
             **kwargs: Any) -> TestClient:
        hub = Hub(controller.request, controller.listen, show=SHOW, first_id=1000,
                  **(hub_kwargs or {}))
        client = TestClient(create_app(hub, config, **kwargs))
        client.__enter__()
        client.hub = hub  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def reply_ok(message: Message | None) -> bool:
    return isinstance(message, Reply) and message.ok
