"""The controller's registry of peers: node ids, their roles and keys, routing ids.

:class:`Peers` is held by :class:`~exhibit_engine.sync.controller_core.ControllerCore`. It
remembers every peer that said hello or reported status (:class:`NodeInfo`), which routing
id speaks for which node id, and, with CURVE, which key holds which node id (the rules of
:meth:`Peers.taken`). Whether a peer is lost is the core's judgment (its liveness
thresholds); the registry asks it through the ``is_lost`` function it is given.

Memory stays bounded whatever peers send: at most ``max_nodes`` nodes (the longest-silent
one is forgotten first), routing ids forgotten in a flood of fake peers, and a status
report's ``captures``, ``extra`` and ``bundles`` kept only up to what ``status`` shows.

Pure: no sockets, no clocks (times are arguments).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ._status import packed_size
from .protocol import NodeHealth, NodeStatus

__all__ = ["NodeInfo", "Peers", "a_role"]

# The controller's log, whichever of its modules writes the line.
log = logging.getLogger("exhibit_engine.sync.controller")

_MAX_CAPTURES = 16       # per node, as reported by status
_MAX_EXTRA_BYTES = 1024  # a node's ``extra`` kept only up to this size (packed)


@dataclass
class NodeInfo:
    """What the controller knows about one peer that said hello or reported status.

    Attributes:
        node_id: the id the peer gave.
        role: its role (``"projector"``, ``"kiosk"``...).
        last_seen: controller time of its last sign of life: for a projector its last
            hello or NodeStatus (clock probes do not count), for other roles any message.
        frames, show_time, offset_us, rtt_us, captures, extra: from its last NodeStatus.
        status_at: controller time of its last NodeStatus (``None``: none yet).
        render_age_s, loading_s: from its last NodeStatus (see the protocol).
        health: from its last NodeStatus: fps, frame times, GPU, cue, bundles (its
            ``bundles`` kept up to 1,024 packed bytes).
        key: the id of the CURVE key that holds this node id (``""`` without CURVE).
    """

    node_id: str
    role: str
    last_seen: float
    frames: int = 0
    show_time: float = 0.0
    offset_us: float = 0.0
    rtt_us: float = 0.0
    captures: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    status_at: float | None = None
    render_age_s: float = 0.0
    loading_s: float = 0.0
    health: NodeHealth = field(default_factory=NodeHealth)
    key: str = ""

    def render_age(self, now: float) -> float:
        """Seconds since the peer's render loop last ran, as of ``now`` (0 before its
        first status)."""
        if self.status_at is None:
            return 0.0
        return self.render_age_s + max(0.0, now - self.status_at)

    def row(self, now: float, state: str) -> dict[str, Any]:
        """Its entry in the ``status`` reply at ``now``, in ``state`` (the core's
        judgment)."""
        return {"id": self.node_id, "role": self.role, "state": state,
                "frames": self.frames, "show_time": self.show_time,
                "offset_us": self.offset_us, "rtt_us": self.rtt_us,
                "captures": list(self.captures[-_MAX_CAPTURES:]), "extra": dict(self.extra),
                "last_seen_s": round(now - self.last_seen, 6),
                "render_age_s": round(self.render_age(now), 6), **self.health.row()}


def _first_bundles(bundles: Mapping[str, str]) -> dict[str, str]:
    """The first bundles by id whose map stays within 1,024 packed bytes."""
    kept: dict[str, str] = {}
    for bundle_id in sorted(bundles):
        kept[bundle_id] = bundles[bundle_id]
        if packed_size(kept) > _MAX_EXTRA_BYTES:
            del kept[bundle_id]
            break
    return kept


def a_role(role: str) -> str:
    """``"a kiosk"``, ``"an operator"``."""
    return f"an {role}" if role[:1] in ("a", "e", "i", "o", "u") else f"a {role}"


class Peers:
    """Every peer the controller knows, by node id and by routing id.

    Args:
        max_nodes: most peers tracked; the longest-silent one is forgotten first.
        is_lost: whether a peer counts as lost at a controller time (the core's rule).

    Attributes:
        nodes: node id -> what is known about it.
        bound_ids: with CURVE: node id -> the only key id that may use it
            (``[security.displays]``); a key named here may use no other node id.
    """

    def __init__(self, max_nodes: int, is_lost: Callable[[NodeInfo, float], bool]) -> None:
        self.max_nodes = max_nodes
        self._is_lost = is_lost
        self.nodes: dict[str, NodeInfo] = {}
        self.bound_ids: dict[str, str] = {}
        self._routes: dict[Any, str] = {}          # routing id -> node id

    def touch(self, peer: Any, now: float) -> None:
        """Any message from ``peer`` is a sign of life, unless it is a projector."""
        # A projector's liveness is its status beat alone: its clock probes come from the
        # same agent thread but say nothing about whether it is still drawing.
        node_id = self._routes.get(peer)
        info = self.nodes.get(node_id) if node_id is not None else None
        if info is not None and info.role != "projector":
            info.last_seen = now

    def seen(self, peer: Any, node_id: str, role: str | None, now: float,
             key: str = "") -> NodeInfo:
        """Note a hello or status from ``peer`` as ``node_id`` (of ``role`` when known,
        held by ``key`` with CURVE); return its record."""
        info = self.nodes.get(node_id)
        if info is None:
            if len(self.nodes) >= self.max_nodes:
                oldest = min(self.nodes.values(), key=lambda n: n.last_seen)
                del self.nodes[oldest.node_id]
            info = self.nodes[node_id] = NodeInfo(node_id, role or "projector", now)
            log.info("node %s joined", node_id)
        elif self._is_lost(info, now):
            log.info("node %s is back", node_id)
        if role is not None:
            info.role = role
        if key:
            info.key = key      # a lost node's id passes to the key that claims it next
        info.last_seen = now
        if peer not in self._routes and len(self._routes) >= 4 * self.max_nodes:
            self._routes.clear()    # a flood of fake peers: forget routing, keep nodes
        self._routes[peer] = node_id
        return info

    def report(self, peer: Any, status: NodeStatus, role: str | None, now: float,
               key: str = "") -> None:
        """Take a node's status report (its liveness beat)."""
        info = self.seen(peer, status.node_id, role, now, key)
        info.frames, info.show_time = status.frames, status.show_time
        info.offset_us, info.rtt_us = status.offset_us, status.rtt_us
        info.status_at = now
        info.render_age_s, info.loading_s = status.render_age_s, status.loading_s
        # Keep only what status shows, so hostile reports cannot grow memory.
        info.captures = status.captures[-_MAX_CAPTURES:]
        info.extra = status.extra if packed_size(status.extra) <= _MAX_EXTRA_BYTES \
            else {"dropped": f"extra over {_MAX_EXTRA_BYTES} bytes"}
        info.health = status.health
        if packed_size(status.health.bundles) > _MAX_EXTRA_BYTES:
            info.health = replace(status.health, bundles=_first_bundles(status.health.bundles))

    def taken(self, node_id: str, role: str | None, now: float, key: str = "") -> str:
        """With CURVE: why ``node_id`` may not be used by a peer of ``role`` with key
        ``key`` (:attr:`bound_ids` binds it, or this key, elsewhere; or another role's
        peer, or another key, holds it and is not lost), else ``""``. A kiosk key cannot
        pose as a projector in ``status``, nor one projector's key as another projector."""
        if role is None:
            return ""
        owner = self.bound_ids.get(node_id)
        if key and owner is not None and owner != key:
            return (f"node id {node_id[:64]!r} refused for {role} key {key[:16]}: venue.toml "
                    f"[security.displays] binds it to key {owner}")
        if key and owner is None and key in self.bound_ids.values():
            mine = sorted(n for n, k in self.bound_ids.items() if k == key)
            return (f"node id {node_id[:64]!r} refused for {role} key {key[:16]}: venue.toml "
                    f"[security.displays] binds that key to {', '.join(mine)}")
        info = self.nodes.get(node_id)
        if info is None or self._is_lost(info, now):
            return ""
        if info.role != role:
            return (f"node id {node_id[:64]!r} refused for {a_role(role)} key: "
                    f"{a_role(info.role)} holds it")
        if key and info.key and info.key != key:
            return (f"node id {node_id[:64]!r} refused for {role} key {key[:16]}: it belongs "
                    f"to key {info.key} until that node is lost (a node id is bound to "
                    "the key that holds it)")
        return ""

    def welcomed(self, peer: Any) -> NodeInfo | None:
        """The record of the node this routing id said hello (or reported status) as, if
        the registry still holds both (``None``: it must say hello, again)."""
        node_id = self._routes.get(peer)
        return self.nodes.get(node_id) if node_id is not None else None
