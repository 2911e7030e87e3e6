"""The sync layer: one controller keeps every projector node (and kiosk) in step.

Import the module you need; importing this package loads nothing. Each peer is a pure
core (a state machine: messages and times in, messages out) and a small ZeroMQ driver
around it, as pyzmq's ``auth/base.py`` and ``auth/thread.py``.

The core (standard library and ``msgpack``; never ZeroMQ, not even lazily):

- :mod:`~exhibit_engine.sync.protocol`: the wire format, every message as a frozen
  dataclass, and ``decode`` (``_fields``: its bounded body reader; ``_health``: a
  projector's ``NodeHealth`` in its ``node-status``).
- :mod:`~exhibit_engine.sync.snapshot`: the session state in parts for the wire, and the
  ``SnapshotAssembly`` that checks them.
- :mod:`~exhibit_engine.sync.clock`: NTP offset/delay maths and the slewing
  ``ClockEstimator`` (show time itself is :class:`~exhibit_engine.show.anchor.ShowAnchor`).
- :mod:`~exhibit_engine.sync.commands`: the one command path: every command's arguments,
  who may send it (``ROLE_COMMANDS``) and ``check_command``.
- :mod:`~exhibit_engine.sync.controller_core`: ``ControllerCore``, the controller's state
  machine; its parts ``_peers`` (node ids, roles, keys), ``_show`` (``ShowSession``, the
  show control) and ``_status`` (the status reply, trimmed to one frame).
- :mod:`~exhibit_engine.sync.node_core`: ``NodeCore``, a node's state machine, and
  ``LinkSchedule``, when its driver runs it.
- :mod:`~exhibit_engine.sync.persist`: the controller's state file, to resume a show
  after a restart.

The drivers (ZeroMQ):

- :mod:`~exhibit_engine.sync.controller`: ``ControllerServer`` (ROUTER + PUB) and
  ``run_controller``.
- :mod:`~exhibit_engine.sync.node`: ``NodeLink``, a node's agent thread, polled once per
  frame.
- :mod:`~exhibit_engine.sync.operator`: ``OperatorClient`` for operator commands.
- :mod:`~exhibit_engine.sync.kiosk`: ``KioskClient``, a kiosk peer (select, touch,
  language).
- :mod:`~exhibit_engine.sync.auth`: CURVE settings for every socket and the ZAP handler
  that admits only allow-listed keys and names their role (key files:
  :mod:`exhibit_engine.keys`).

The wire format is written out in ``docs/protocol.md``.
"""

__all__: list[str] = []
