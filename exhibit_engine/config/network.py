"""``[network]`` -> :class:`NetworkConfig`: where the controller, and its backup, listen.

A venue runs one controller, or a pair: a primary and a backup on another PC, on the
ZeroMQ guide's Binary Star pattern (``sync/pair.py``). The backup's addresses are the
``[network.backup]`` table; every peer (node, kiosk, ``exhibit ctl``) reads both from
``venue.toml`` and fails over by itself::

    [network]
    host = "10.0.0.5"              the primary
    state_port = 5570
    publish_port = 5571
    transfer_port = 5572
    peer_port = 5573               the primary's link to its backup (pair only)
    failover_after_s = 1.0         a peer tries the other controller after this silence
    peer_lost_after_s = 0.5        a controller takes its pair partner as gone after this

    [network.backup]               optional: a backup controller
    host = "10.0.0.6"              every port defaults to the primary's
    state_port = 5570
    publish_port = 5571
    transfer_port = 5572
    peer_port = 5573

Nothing here opens a socket; the ports are checked to be distinct on each controller (and
across the two where they share a host, as in a rehearsal on one PC).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ._toml import Fields

__all__ = ["ControllerEndpoint", "NetworkConfig", "free_ports", "parse_network"]


@dataclass(frozen=True)
class ControllerEndpoint:
    """Where one controller of the venue listens.

    Attributes:
        host: the address it binds and peers connect to.
        state_port: its ROUTER port (join, clock probes, commands, status).
        publish_port: its PUB port (heartbeats, state updates, events).
        transfer_port: its bundle transfer port.
        peer_port: its link to the other controller of a pair.
    """

    host: str = "127.0.0.1"
    state_port: int = 5570
    publish_port: int = 5571
    transfer_port: int = 5572
    peer_port: int = 5573

    def __str__(self) -> str:
        return f"{self.host}:{self.state_port}"


@dataclass(frozen=True)
class NetworkConfig:
    """Where the controller (and its backup, if any) listens, and the liveness timings.

    Attributes:
        host: address the (primary) controller binds and peers connect to.
        state_port: the controller's ROUTER port (join, clock probes, commands, status).
        publish_port: the controller's PUB port (heartbeats, state updates, events).
        lost_after_s: a projector whose status beats (every 0.1 s) stop for this long is
            reported ``"lost"``.
        hung_after_s: a projector whose render loop has not run for this long (its
            beats still coming) is reported ``"hung"``, unless it announced a scene load.
        transfer_port: the controller's bundle transfer port (nodes fetch the show's
            bundles there; ``sync/transfer.py``).
        transfer_rate_mbps: the most the controller sends to all fetching nodes together,
            in megabits per second (0: no limit), so that a room of nodes fetching at once
            leaves the network to the sync traffic.
        peer_port: the primary's port for its link to the backup.
        backup: the backup controller, or ``None`` (a single controller).
        failover_after_s: a node, kiosk or operator tool that hears nothing from its
            controller for this long tries the other one of the pair.
        peer_lost_after_s: a controller that hears nothing from its partner for this
            long takes it as gone (the backup then takes over when a peer asks it).
    """

    host: str = "127.0.0.1"
    state_port: int = 5570
    publish_port: int = 5571
    lost_after_s: float = 0.35
    hung_after_s: float = 2.0
    transfer_port: int = 5572
    transfer_rate_mbps: float = 400.0
    peer_port: int = 5573
    backup: ControllerEndpoint | None = None
    failover_after_s: float = 1.0
    peer_lost_after_s: float = 0.5

    @property
    def primary(self) -> ControllerEndpoint:
        """The (primary) controller's endpoint."""
        return ControllerEndpoint(self.host, self.state_port, self.publish_port,
                                  self.transfer_port, self.peer_port)

    @property
    def controllers(self) -> tuple[ControllerEndpoint, ...]:
        """Every controller of the venue, the primary first."""
        return (self.primary,) if self.backup is None else (self.primary, self.backup)


def parse_network(path: str, table: Any) -> NetworkConfig:
    """Read and check ``[network]`` (and ``[network.backup]``) of ``venue.toml``.

    Raises:
        ConfigError: a value breaks a rule (named by its dotted key).
    """
    t = Fields(path, table, "network").only(
        "host", "state_port", "publish_port", "lost_after_s", "hung_after_s",
        "transfer_port", "transfer_rate_mbps", "peer_port", "failover_after_s",
        "peer_lost_after_s", "backup")
    network = NetworkConfig(
        host=t.str("host", "127.0.0.1"),
        state_port=t.port("state_port", 5570),
        publish_port=t.port("publish_port", 5571),
        lost_after_s=t.num("lost_after_s", 0.35, minimum=0.15, maximum=60.0, unit=" s"),
        hung_after_s=t.num("hung_after_s", 2.0, minimum=0.5, maximum=600.0, unit=" s"),
        transfer_port=t.port("transfer_port", 5572),
        transfer_rate_mbps=t.num("transfer_rate_mbps", 400.0, minimum=0.0,
                                 maximum=100_000.0),
        peer_port=t.port("peer_port", 5573),
        failover_after_s=t.num("failover_after_s", 1.0, minimum=0.3, maximum=30.0,
                               unit=" s"),
        peer_lost_after_s=t.num("peer_lost_after_s", 0.5, minimum=0.2, maximum=30.0,
                                unit=" s"),
    )
    _distinct_ports(path, "network", network.primary, network.backup is not None)
    if "backup" not in t.table:
        return network
    b = Fields(path, t.table["backup"], "network.backup").only(
        "host", "state_port", "publish_port", "transfer_port", "peer_port")
    backup = ControllerEndpoint(
        host=b.str("host", network.host),
        state_port=b.port("state_port", network.state_port),
        publish_port=b.port("publish_port", network.publish_port),
        transfer_port=b.port("transfer_port", network.transfer_port),
        peer_port=b.port("peer_port", network.peer_port))
    _distinct_ports(path, "network.backup", backup, True)
    if backup.host == network.host:
        mine = {backup.state_port, backup.publish_port, backup.transfer_port,
                backup.peer_port}
        theirs = {network.state_port, network.publish_port, network.transfer_port,
                  network.peer_port}
        if mine & theirs:
            raise ConfigError(path, f"the backup shares host {backup.host!r} with the "
                              f"primary, so its ports must differ from the primary's (both "
                              f"use {', '.join(map(str, sorted(mine & theirs)))})",
                              key="network.backup")
    if network.peer_lost_after_s >= network.failover_after_s:
        raise ConfigError(path, f"peer_lost_after_s ({network.peer_lost_after_s:g} s) must be "
                          f"shorter than failover_after_s ({network.failover_after_s:g} s): "
                          "a backup must have lost the primary by the time a peer asks it "
                          "to take over", key="network.peer_lost_after_s")
    return NetworkConfig(**{**network.__dict__, "backup": backup})


def _distinct_ports(path: str, key: str, end: ControllerEndpoint, pair: bool) -> None:
    if end.state_port == end.publish_port:
        raise ConfigError(path, "state_port and publish_port must differ", key=key)
    if end.transfer_port in (end.state_port, end.publish_port):
        raise ConfigError(path, "transfer_port must differ from state_port and publish_port",
                          key=key)
    if pair and end.peer_port in (end.state_port, end.publish_port, end.transfer_port):
        raise ConfigError(path, "peer_port must differ from the state, publish and transfer "
                          "ports", key=key)


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct TCP ports that are free on ``host`` right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
