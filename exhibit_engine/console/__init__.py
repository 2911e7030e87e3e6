"""The operator's console: the controller's HTTP API, its event stream and (later) OSC.

It runs in the controller's process but never on its loop thread (a slow browser must
not delay a heartbeat). Every command takes the controller's one command path through
:meth:`~exhibit_engine.sync.controller.ControllerServer.request`, as a local peer with
the role its HTTP token gives it.

- :mod:`.hub`: the link to the controller: hello, commands, the status poller and the
  event log the stream replays from.
- :mod:`.api`: the FastAPI app (``create_app``): endpoints, tokens, the event stream.
- :mod:`.server`: uvicorn in a thread of its own (``ConsoleServer``).

``docs/console.md`` is the API's guide. Import from the modules; this package exports
nothing itself, so importing it loads neither FastAPI nor uvicorn.
"""

__all__: list[str] = []
