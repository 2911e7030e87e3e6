"""The show gate: a fresh show holds at its start until every display's node is ready.

WATCHOUT gates playback on every node holding its assets; so does a show whose
``[control] start`` is ``"when-ready"``. The controller starts it paused at show time 0
and keeps it there until each display of the venue has a node that is joined (drawing,
not lost, hung or loading) and reports ``ready`` (it holds every bundle of the show,
verified, and has drawn a frame: :class:`~._health.NodeHealth`). Then it starts by
itself. An operator may start it before that with ``start`` and ``force: true``
(``exhibit ctl start --force``); ``start`` without it starts only a show whose nodes are
all ready, and otherwise answers with who is missing and why. With ``ready_timeout_s``
the show starts anyway once that long has passed, and says so.

The gate holds only a fresh show: a controller that restores a session from its state
file (a restart mid-show) plays on at once, as the nodes already do.

Pure: the caller passes the nodes and their states; nothing here reads a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import CommandError
from ._peers import NodeInfo

if TYPE_CHECKING:
    from ._show import ShowSession
    from .protocol import Message

__all__ = ["GATE_OFF", "HELD", "StartGate", "describe"]

log = logging.getLogger("exhibit_engine.sync.controller")

#: Show commands that would start a show its gate holds (``start`` does, on purpose).
HELD = frozenset({"go", "next", "back", "resume", "goto", "seek"})
#: The ``start`` reply of a show without a gate (it started with the controller).
GATE_OFF: tuple[dict[str, Any], list[Any]] = (
    {"ignored": "the show has started (at-once)", "started": "at-once"}, [])

State = Callable[[NodeInfo], str]
Resume = Callable[[], "list[Message]"]


@dataclass
class StartGate:
    """The start gate of one show.

    Args:
        displays: the ids of the venue's displays, each of which needs a ready node.
        since: controller time at which the gate started holding.
        timeout_s: start anyway after this long (``0``: never by itself).

    Attributes:
        holding: the show is held at its start.
        released: how it started: ``""`` (not yet), ``"ready"`` (every node was ready),
            ``"forced"`` (an operator's ``start --force``), ``"timeout"``.
        released_at: controller time it started (``None``: not yet).
    """

    displays: tuple[str, ...]
    since: float
    timeout_s: float = 0.0
    holding: bool = True
    released: str = ""
    released_at: float | None = None
    missing_at_release: dict[str, str] = field(default_factory=dict)

    @classmethod
    def holding_show(cls, show: ShowSession, displays: Iterable[str], now: float,
                     timeout_s: float) -> StartGate:
        """A gate holding ``show`` (paused at its start, now) for ``displays``."""
        gate = cls(tuple(dict.fromkeys(displays)), now, timeout_s)
        show.command("pause", {"delay": 0.0}, now)
        log.info("the show waits for every display to be ready: %s", ", ".join(gate.displays))
        return gate

    def waiting_for(self, nodes: Mapping[str, NodeInfo],
                    state: Callable[[NodeInfo], str]) -> dict[str, str]:
        """Display id -> why its node is not ready (empty: every node is)."""
        out = {}
        for d in self.displays:
            info = nodes.get(d)
            if info is None or info.role != "projector":
                out[d] = "not joined"
                continue
            st = state(info)
            if st != "joined":
                out[d] = st
            elif not info.health.ready:
                out[d] = _why_not_ready(info)
        return out

    def due(self, now: float, nodes: Mapping[str, NodeInfo],
            state: Callable[[NodeInfo], str]) -> str:
        """Whether the show starts now by itself: ``"ready"``, ``"timeout"`` or ``""``."""
        if not self.holding:
            return ""
        missing = self.waiting_for(nodes, state)
        if not missing:
            return "ready"
        if self.timeout_s > 0 and now - self.since >= self.timeout_s:
            self.missing_at_release = missing
            return "timeout"
        return ""

    def summary(self, now: float, nodes: Mapping[str, NodeInfo],
                state: Callable[[NodeInfo], str]) -> dict[str, Any]:
        """The ``gate`` of the ``status`` reply."""
        out: dict[str, Any] = {"holding": self.holding, "displays": list(self.displays),
                               "released": self.released}
        if self.holding:
            out["waiting_for"] = self.waiting_for(nodes, state)
            out["held_s"] = round(max(0.0, now - self.since), 3)
            if self.timeout_s > 0:
                out["starts_in_s"] = round(max(0.0, self.since + self.timeout_s - now), 3)
        else:
            out["released_at"] = self.released_at
            if self.missing_at_release:
                out["missing_at_release"] = dict(self.missing_at_release)
        return out


    def tick(self, now: float, nodes: Mapping[str, NodeInfo], state: State,
             resume: Resume) -> list[Message]:
        """Start the show when it is due (every display ready, or the timeout)."""
        how = self.due(now, nodes, state)
        return self._start(how, now, resume) if how else []

    def command(self, force: bool, now: float, nodes: Mapping[str, NodeInfo], state: State,
                resume: Resume) -> tuple[dict[str, Any], list[Message]]:
        """The operator's ``start``: at once with ``force``, else only when every display
        is ready (otherwise one line naming who is missing and why)."""
        if not self.holding:
            return {"ignored": f"the show has started ({self.released})",
                    "started": self.released}, []
        missing = self.waiting_for(nodes, state)
        if missing and not force:
            raise CommandError("start", f"start: not every display is ready (waiting for "
                               f"{describe(missing)}); `exhibit ctl start --force` starts "
                               "the show without them")
        self.missing_at_release = missing
        updates = self._start("forced" if missing else "ready", now, resume)
        return {"started": self.released, "missing": missing}, updates

    def check_held(self, name: str, nodes: Mapping[str, NodeInfo], state: State) -> None:
        """Refuse a show command that would start the show while the gate holds it."""
        if self.holding and name in HELD:
            raise CommandError(name, f"{name}: the show waits to start until every display "
                               f"is ready (waiting for "
                               f"{describe(self.waiting_for(nodes, state)) or 'none'}); "
                               "`exhibit ctl start --force` starts it now")

    def _start(self, how: str, now: float, resume: Resume) -> list[Message]:
        self.holding, self.released, self.released_at = False, how, now
        left = self.missing_at_release
        log.log(logging.INFO if how == "ready" else logging.WARNING, "the show starts (%s)%s",
                how, f" without {describe(left)}" if left else ": every display is ready")
        return resume()


def _why_not_ready(info: NodeInfo) -> str:
    """A not-ready node's reason in a few words, from what it reports."""
    bundles = info.health.bundles
    transfer = info.health.transfer
    refused = sorted(b for b, t in transfer.items() if t.get("state") in ("refused", "failed"))
    if refused:
        return f"bundle {', '.join(refused)} refused or failed"
    moving = sorted(b for b, t in transfer.items() if t.get("state") != "installed")
    if moving:
        done = sum(int(transfer[b].get("done", 0)) for b in moving)
        size = sum(int(transfer[b].get("size", 0)) for b in moving)
        part = f" {done / size:.0%}" if size else ""
        return f"fetching {', '.join(moving)}{part}"
    broken = sorted(b for b, v in bundles.items() if v == "broken")
    if broken:
        return f"bundle {', '.join(broken)} unusable"
    return "not ready (bundles or first frame)"


def describe(missing: Mapping[str, str]) -> str:
    """``"left (not joined), right (lost)"``."""
    return ", ".join(f"{d} ({why})" for d, why in sorted(missing.items()))

