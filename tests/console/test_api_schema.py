"""Property-based test of the console's API against its own OpenAPI document
(schemathesis): generated requests, valid and invalid, to every endpoint of a console on a
real controller. No answer is a server error (5xx) and every answer matches the schema
(status codes, content types, bodies) the document declares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exhibit_engine.config import ShowConfig
from exhibit_engine.console.api import create_app
from exhibit_engine.console.hub import Hub
from exhibit_engine.console.server import ConsoleServer

from ..conftest import HOST
from .conftest import CUES, OPERATOR, TOKENS

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

pytestmark = pytest.mark.sync

OP = {"Authorization": f"Bearer {OPERATOR}"}
SHOW = ShowConfig("schema", {"en": "Schema", "zh": "模式"}, (), CUES)


@pytest.fixture(scope="module")
def console_url() -> Iterator[str]:
    import threading
    import time

    from exhibit_engine.sync.controller import ControllerServer

    from ..conftest import controller_settings

    server = ControllerServer(controller_settings(show=SHOW), time.monotonic)
    server.bind()
    stop = threading.Event()
    thread = threading.Thread(target=server.serve, args=(stop,), daemon=True,
                              name="test-controller")
    thread.start()
    hub = Hub(server.request, server.listen, show=SHOW, poll_s=0.05)
    # As `exhibit controller --http` builds it: the venue's wall, the warnings, metrics.
    from exhibit_engine.config import load_venue
    from exhibit_engine.console.logtail import LogTail
    from exhibit_engine.console.metrics import metrics_text

    from ..e2e.conftest import CONTENT

    app = create_app(hub, TOKENS, venue=load_venue(CONTENT / "venue.toml"), log=LogTail(),
                     metrics=metrics_text)
    console = ConsoleServer(app, HOST, 0, hub=hub)
    console.start()
    try:
        yield console.url
    finally:
        console.stop()
        stop.set()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def api_schema(console_url: str):  # type: ignore[no-untyped-def]
    """The console's own OpenAPI document, as it serves it (with an operator's token)."""
    loaded = schemathesis.openapi.from_url(f"{console_url}/openapi.json", headers=OP)
    # The event stream never ends by itself: tests/console/test_events.py covers it.
    return loaded.exclude(path="/api/events")


def test_every_endpoint_answers_by_its_schema_and_never_with_a_server_error(
        api_schema) -> None:  # type: ignore[no-untyped-def]
    # Driven by hand rather than through schemathesis's pytest plugin (which does not
    # work with this pytest): every operation, its own generated cases, valid and not.
    tried: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        tried.append(f"{operation.method.upper()} {operation.path}")

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(max_examples=20, deadline=None, derandomize=True,
                             suppress_health_check=list(hypothesis.HealthCheck),
                             database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=OP)

        check()
    assert "POST /api/go" in tried and "GET /api/nodes" in tried and len(tried) > 15
