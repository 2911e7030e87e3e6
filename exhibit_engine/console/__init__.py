"""The operator's console: the controller's HTTP API, its event stream, OSC and metrics.

It runs in the controller's process but never on its loop thread (a slow browser must
not delay a heartbeat). Every command takes the controller's one command path through
:meth:`~exhibit_engine.sync.controller.ControllerServer.request`, as a local peer with
the role its HTTP token (or OSC's allow list) gives it.

- :mod:`.hub`: the link to the controller: hello, commands, the status poller and the
  event log the stream replays from.
- :mod:`.api`: the FastAPI app (``create_app``): endpoints, tokens, the event stream.
- :mod:`.server`: uvicorn in a thread of its own (``ConsoleServer``).
- :mod:`.osc`: OSC from show consoles (QLab-style replies, an allow list).
- :mod:`.metrics`: a ``status`` reply as Prometheus text (``/metrics``).
- :mod:`.logtail`: the last warnings, for the status page.
- ``static/``: the status page (plain HTML, CSS and JavaScript; no build step).

``docs/console.md`` is the API's guide. Import from the modules; this package exports
nothing itself, so importing it loads neither FastAPI nor uvicorn.
"""

__all__: list[str] = []
