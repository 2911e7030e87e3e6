"""Injected network faults on the sync path, in process: delay, jitter, loss, duplication,
reordering.

The kernel's ``netem`` needs root and may be missing; these faults need neither, so every
test, ``exhibit bench sync --jitter-ms J --loss P`` and ``exhibit soak`` can use them. A
node link (:class:`~.node.NodeLink`) that is given a :class:`FaultPlan` (or finds one in
the environment, ``EXHIBIT_FAULTS``) passes every message it receives (heartbeats,
events, key updates, pongs, snapshot parts) and every message it sends (hellos, probes,
status beats) through a :class:`FaultQueue`. Faults are injected at each node, so each
one meets its own jitter and losses, as on a real network.

The model follows what ZeroMQ over TCP can meet:

- *delay* and *jitter*: each message waits ``delay_ms`` plus a uniform 0..``jitter_ms``;
  a stream stays in order (TCP does not reorder: a late message holds up the next);
- *reorder*: with this probability a message leaves its stream's order, waiting an extra
  0..``2 * jitter_ms + 1`` ms while later ones pass it (two sockets' messages, or a
  reconnection, do arrive out of order);
- *loss*: with this probability a message is dropped (a high-water mark, a reconnection);
- *duplicate*: with this probability a message arrives twice (a resend after a
  reconnection).

``EXHIBIT_FAULTS`` is a comma-separated list: ``delay=MS,jitter=MS,loss=P,dup=P,
reorder=P,seed=N``, e.g. ``jitter=2,loss=0.01``.

Pure: no sockets, no clock reads (times are arguments); the randomness is seeded.
"""

from __future__ import annotations

import heapq
import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..errors import ConfigError

__all__ = ["ENV", "FaultPlan", "FaultQueue", "FaultStats"]

#: The environment variable a process reads its fault plan from.
ENV = "EXHIBIT_FAULTS"
_KEYS = {"delay": "delay_ms", "jitter": "jitter_ms", "loss": "loss", "dup": "duplicate",
         "reorder": "reorder", "seed": "seed"}

_T = TypeVar("_T")


@dataclass(frozen=True)
class FaultPlan:
    """What to do to the messages of one link (see the module doc).

    Attributes:
        delay_ms: fixed delay of every message (ms, >= 0).
        jitter_ms: extra delay, uniform 0..this (ms, >= 0).
        loss: probability a message is dropped (0..1).
        duplicate: probability a message arrives twice (0..1).
        reorder: probability a message leaves its stream's order (0..1).
        seed: the random seed (``None``: a fresh one).
    """

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("delay_ms", "jitter_ms"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v <= 10_000.0):
                raise ValueError(f"{name} must be 0 to 10000 ms, not {v}")
        for name in ("loss", "duplicate", "reorder"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name} must be a probability 0 to 1, not {v}")

    @property
    def active(self) -> bool:
        """Whether the plan does anything at all."""
        return any((self.delay_ms, self.jitter_ms, self.loss, self.duplicate, self.reorder))

    def spec(self) -> str:
        """The plan as ``EXHIBIT_FAULTS`` writes it (what :meth:`parse` reads back)."""
        parts = [f"{short}={getattr(self, name):g}" for short, name in _KEYS.items()
                 if short != "seed" and getattr(self, name)]
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ",".join(parts)

    @classmethod
    def parse(cls, spec: str, where: str = ENV) -> FaultPlan:
        """Read ``delay=MS,jitter=MS,loss=P,dup=P,reorder=P,seed=N`` (any subset).

        Raises:
            ConfigError: an unknown key or a bad value, naming ``where``.
        """
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, raw = part.partition("=")
            if not sep or key.strip() not in _KEYS:
                raise ConfigError(where, f"{part!r}: expected one of "
                                  f"{', '.join(k + '=' for k in _KEYS)}")
            name = _KEYS[key.strip()]
            try:
                values[name] = int(raw) if name == "seed" else float(raw)
            except ValueError:
                raise ConfigError(where, f"{part!r}: {raw!r} is not a number") from None
        try:
            return cls(**values)
        except ValueError as exc:
            raise ConfigError(where, str(exc)) from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FaultPlan | None:
        """The plan in ``EXHIBIT_FAULTS`` (``None`` where it is unset or empty)."""
        spec = (os.environ if env is None else env).get(ENV, "")
        return cls.parse(spec) if spec.strip() else None


@dataclass
class FaultStats:
    """What a queue did: messages in, dropped, duplicated, reordered."""

    admitted: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0


class FaultQueue(Generic[_T]):
    """Messages held by a :class:`FaultPlan`, released when due, per stream in order.

    Args:
        plan: the faults.
        rand: the random source (default: seeded from ``plan.seed``).
    """

    def __init__(self, plan: FaultPlan, rand: random.Random | None = None) -> None:
        self.plan = plan
        self.stats = FaultStats()
        self._rand = rand or random.Random(plan.seed)
        self._heap: list[tuple[float, int, _T]] = []
        self._n = 0
        self._last: dict[Any, float] = {}       # stream -> its last in-order release

    def admit(self, item: _T, now: float, stream: Any = None) -> None:
        """Take ``item`` in at ``now`` on ``stream`` (messages of one stream keep their
        order, unless reordered)."""
        plan, rand = self.plan, self._rand
        self.stats.admitted += 1
        if plan.loss and rand.random() < plan.loss:
            self.stats.dropped += 1
            return
        copies = 2 if plan.duplicate and rand.random() < plan.duplicate else 1
        self.stats.duplicated += copies - 1
        for _ in range(copies):
            at = now + (plan.delay_ms + plan.jitter_ms * rand.random()) / 1000.0
            if plan.reorder and rand.random() < plan.reorder:
                self.stats.reordered += 1
                at += (2.0 * plan.jitter_ms + 1.0) * rand.random() / 1000.0
            else:
                at = max(at, self._last.get(stream, -math.inf))
                self._last[stream] = at
            self._n += 1
            heapq.heappush(self._heap, (at, self._n, item))

    def due(self, now: float) -> list[_T]:
        """The items whose time has come, in release order."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def wait_s(self, now: float) -> float | None:
        """Seconds until the next release (``None``: nothing held)."""
        return max(0.0, self._heap[0][0] - now) if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
