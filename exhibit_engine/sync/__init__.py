"""The sync layer: one controller keeps every projector node (and kiosk) in step.

Submodules (import the one you need; importing this package loads nothing):

- :mod:`~exhibit_engine.sync.protocol`: the wire format, every message as a frozen
  dataclass, and ``decode`` (core: stdlib + msgpack only).
- :mod:`~exhibit_engine.sync.clock`: ``ShowAnchor``, NTP offset/delay maths and the
  slewing ``ClockEstimator`` (core: stdlib only).
- :mod:`~exhibit_engine.sync.controller`: ``ControllerCore`` (pure state machine),
  ``ControllerServer`` (ZeroMQ ROUTER + PUB) and ``run_controller``.
- :mod:`~exhibit_engine.sync.node`: ``NodeCore`` and ``NodeLink``, polled once per frame.
- :mod:`~exhibit_engine.sync.operator`: ``OperatorClient`` for operator commands.
- :mod:`~exhibit_engine.sync.kiosk`: ``KioskClient``, a kiosk peer (select, touch, language).
- :mod:`~exhibit_engine.sync.persist`: the controller's state file, to resume a show
  after a restart (core: stdlib only).
- :mod:`~exhibit_engine.sync.auth`: CURVE settings for every socket and the ZAP handler
  that admits only allow-listed keys and names their role (key files:
  :mod:`exhibit_engine.keys`).

Only ``controller``, ``node``, ``operator``, ``kiosk`` and ``auth`` import ZeroMQ. The wire format
is written out in ``docs/protocol.md``.
"""

__all__ = ["protocol", "clock", "controller", "node", "operator", "kiosk", "persist", "auth"]
