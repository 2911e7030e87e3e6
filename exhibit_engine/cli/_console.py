"""``exhibit controller --http``: the operator's console beside the controller.

:class:`ControllerConsole` resolves where the console listens (``--http HOST:PORT``,
``--http off``, else ``[console] http`` of ``venue.toml``, else nowhere), refuses a
non-loopback address without tokens before the controller starts, and starts the HTTP
API (and OSC, with ``[console] osc``) once the controller is bound; leaving its ``with``
block stops them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..config import ShowConfig, VenueConfig
from ..config.console import parse_host_port

__all__ = ["ControllerConsole", "http_option"]


def http_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """The controller's ``--http`` option."""
    return click.option(
        "--http", metavar="HOST:PORT", help="Serve the operator's HTTP API (docs at /docs) "
        "on this address; `off`: none (default: venue.toml [console] http, else none). "
        "Any address but loopback needs [[console.tokens]].")(f)


def _extras() -> dict[str, Any]:
    """What the console holds beyond the API: the status page (``console/static``), the
    Prometheus exposition (``console.metrics``) and the tail of warnings
    (``console.logtail``, attached to the root logger)."""
    import logging
    from pathlib import Path

    from .. import console
    from ..console.logtail import LogTail
    from ..console.metrics import metrics_text

    tail = LogTail()
    logging.getLogger().addHandler(tail)
    return {"static": Path(console.__file__).parent / "static", "metrics": metrics_text,
            "log": tail}


class ControllerConsole:
    """The console of one ``exhibit controller`` run.

    Args:
        venue: the venue (its ``[console]`` table).
        show: the show (the console's cue list).
        http: the ``--http`` flag as given (``None``: not given).

    Raises:
        ConfigError: a bad ``--http``, or a non-loopback address without tokens.
    """

    def __init__(self, venue: VenueConfig, show: ShowConfig, http: str | None) -> None:
        from ..console.server import check_bind

        self.venue, self.show, self.config = venue, show, venue.console
        if http is not None and http.strip().lower() == "off":
            self.address = None
        elif http is not None:
            self.address = parse_host_port(http, "<flags>", "--http", allow_zero=True)
        else:
            self.address = self.config.http
        where = "<flags>" if http is not None else (venue.path or "venue.toml")
        if self.address is not None:
            check_bind(self.address[0], self.config, where)
        self._stops: list[Callable[[], None]] = []

    def start(self, server: Any) -> str:
        """Start the console for a bound ``ControllerServer``; the banner's addition
        (``""`` when there is no console)."""
        said = ""
        if self.address is not None:
            from ..console.api import create_app
            from ..console.hub import Hub
            from ..console.server import ConsoleServer

            hub = Hub(server.request, server.listen, show=self.show)
            app = create_app(hub, self.config, venue=self.venue, **_extras())
            http = ConsoleServer(app, *self.address, hub=hub)
            http.start()
            self._stops.append(http.stop)
            auth = "tokens" if self.config.tokens else "no tokens: development only"
            said += f"; console {http.url} ({auth})"
        if self.config.osc is not None:
            from ..console.osc import OscServer

            osc = OscServer(server.request, *self.config.osc, allow=self.config.osc_allow,
                            replies=self.config.osc_replies)
            osc.start()
            self._stops.append(osc.stop)
            said += f"; OSC udp {self.config.osc[0]}:{osc.port}"
        return said

    def __enter__(self) -> ControllerConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        while self._stops:
            self._stops.pop()()
