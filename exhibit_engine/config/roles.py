"""One frozen settings object per role, resolved once: flags, then environment, then file.

:func:`resolve_controller` and :func:`resolve_node` turn a venue (and show), the
command-line flags and the ``EXHIBIT_<NAME>`` environment variables into
:class:`ControllerSettings` and :class:`NodeSettings`; :func:`resolve_peer` does the same
for an operator tool or a kiosk. Precedence for every value: command-line flag, then
environment variable, then the file, then the default. Nothing is read here but the
environment: key files are named, not opened. Ports are checked wherever they come from
(1-65535), and so are the render scale (0.05-4) and a window origin, each in one line
naming the flag or the variable.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .show import ShowConfig
from .network import ControllerEndpoint, NetworkConfig
from .venue import DisplayConfig, VenueConfig

__all__ = ["ControllerSettings", "NodeSettings", "PairSettings", "default_state_file",
           "is_loopback", "resolve_backup", "resolve_controller", "resolve_node",
           "resolve_node_transfer_port", "resolve_peer"]


@dataclass(frozen=True)
class PairSettings:
    """A controller's place in a primary/backup pair (``[network.backup]``).

    Attributes:
        role: ``"primary"`` or ``"backup"``.
        peer_port: the port this controller's pair link listens on (its own host).
        partner: the other controller's endpoint (its ``peer_port`` is where this one
            connects).
        peer_lost_after_s: silence from the partner after which it counts as gone.
    """

    role: str
    peer_port: int
    partner: ControllerEndpoint
    peer_lost_after_s: float = 0.5


@dataclass(frozen=True)
class ControllerSettings:
    """Everything ``exhibit controller`` needs, resolved once."""

    venue: VenueConfig
    show: ShowConfig
    host: str
    state_port: int
    publish_port: int
    heartbeat_s: float = 0.2
    #: The file the controller saves its session to and resumes from (``None``: none).
    state_file: str | None = None
    #: The controller's CURVE secret key file, when ``venue.security.curve`` is on.
    key_file: str | None = None
    #: The folder whose show bundles it serves to the nodes (``None``: it serves none).
    bundle_dir: str | None = None
    #: The bundle transfer port (0: a free one) and rate limit (Mbit/s, 0: none).
    transfer_port: int = 5572
    transfer_rate_mbps: float = 400.0
    #: Its place in a primary/backup pair (``None``: a single controller).
    pair: PairSettings | None = None


@dataclass(frozen=True)
class NodeSettings:
    """Everything ``exhibit node`` needs, resolved once."""

    venue: VenueConfig
    display: DisplayConfig
    host: str
    state_port: int
    publish_port: int
    bundle_dir: str
    headless: bool = False
    render_scale: float = 1.0
    frames: int | None = None
    capture_dir: str | None = None
    status_path: str | None = None
    window_origin: tuple[int, int] | None = None
    #: This node's CURVE secret key file, when ``venue.security.curve`` is on.
    key_file: str | None = None
    #: Fetch the show's bundles from the controller into ``bundle_dir`` (``exhibit node``
    #: does unless ``--no-fetch``).
    fetch: bool = False
    #: The controller's bundle transfer port.
    transfer_port: int = 5572
    #: The backup controller, which the node fails over to (``None``: none).
    backup: ControllerEndpoint | None = None
    #: Silence from its controller after which the node tries the other one.
    failover_after_s: float = 1.0


def default_state_file(venue_path: str, show_id: str) -> str:
    """Where a controller keeps its state unless told otherwise:
    ``<venue dir>/.exhibit/controller-<show id>.json``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in show_id) or "show"
    return str(Path(venue_path).resolve().parent / ".exhibit" / f"controller-{safe}.json")


def _pick(flag: Any, env: str, file_value: Any, cast: Any = str) -> Any:
    """Flag, then ``EXHIBIT_<env>``, then the file's value."""
    if flag is not None:
        return flag
    raw = os.environ.get(f"EXHIBIT_{env}")
    if raw is not None and raw != "":
        try:
            return cast(raw)
        except ValueError:
            raise ConfigError(f"EXHIBIT_{env}", f"not a valid value: {raw!r}") from None
    return file_value


def _port(flag: int | None, env: str, file_value: int) -> int:
    """A port from the flag, ``EXHIBIT_<env>`` or the file, checked to be 1-65535."""
    value = _pick(flag, env, file_value, int)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        where = (("<flags>", f"--{env.lower().replace('_', '-')}") if flag is not None
                 else (f"EXHIBIT_{env}", None))
        raise ConfigError(where[0], f"must be a port number 1-65535, not {value}",
                          key=where[1])
    return value


def _distinct(state_port: int, publish_port: int) -> None:
    if state_port == publish_port:
        raise ConfigError("<flags>", f"state and publish ports must differ (both {state_port})",
                          key="--publish-port")


def resolve_controller(venue: VenueConfig, show: ShowConfig, *, host: str | None = None,
                       state_port: int | None = None,
                       publish_port: int | None = None, state_file: str | None = None,
                       persist: bool = True, key: str | None = None,
                       bundle_dir: str | None = None,
                       transfer_port: int | None = None,
                       backup: bool = False) -> ControllerSettings:
    """Resolve the controller's settings: flags, then environment, then venue file.

    The state file is ``state_file``, else ``EXHIBIT_STATE_FILE``, else
    ``<venue dir>/.exhibit/controller-<show id>.json``; ``persist=False`` runs without one.
    The CURVE secret key file is ``key``, else ``EXHIBIT_KEY``, else ``[security]
    controller_key`` (used only when ``curve`` is on). The bundles it serves are in
    ``bundle_dir`` (``None``: it serves none), on ``transfer_port``, else
    ``EXHIBIT_TRANSFER_PORT``, else ``[network] transfer_port``.

    Where the venue has a ``[network.backup]``, the controller is one of a pair:
    ``backup=True`` runs the backup (its addresses are the backup table's, and its
    default state file is ``controller-<show id>-backup.json``), else the primary.

    Raises:
        ConfigError: a flag or variable breaks a rule, or ``backup`` is asked for where
            the venue names no backup.
    """
    net = venue.network
    if backup and net.backup is None:
        raise ConfigError(venue.path or "venue.toml", "--backup needs a backup controller: "
                          "add a [network.backup] table with its host", key="network.backup")
    own = net.backup if backup and net.backup is not None else net.primary
    state = _port(state_port, "STATE_PORT", own.state_port)
    publish = _port(publish_port, "PUBLISH_PORT", own.publish_port)
    _distinct(state, publish)
    transfer = _port(transfer_port, "TRANSFER_PORT", own.transfer_port)
    _distinct_transfer(state, publish, transfer)
    pair = None
    if net.backup is not None:
        pair = PairSettings("backup" if backup else "primary", own.peer_port,
                            net.primary if backup else net.backup, net.peer_lost_after_s)
    show_id = f"{show.id}-backup" if backup else show.id
    return ControllerSettings(
        venue=venue,
        show=show,
        host=_pick(host, "HOST", own.host),
        state_port=state,
        publish_port=publish,
        state_file=_pick(state_file, "STATE_FILE",
                         default_state_file(venue.path or "venue.toml", show_id))
        if persist else None,
        key_file=_pick(key, "KEY", venue.security.controller_key or None),
        bundle_dir=bundle_dir,
        transfer_port=transfer,
        transfer_rate_mbps=venue.network.transfer_rate_mbps,
        pair=pair,
    )


def _distinct_transfer(state: int, publish: int, transfer: int) -> None:
    if transfer and transfer in (state, publish):
        raise ConfigError("<flags>", f"the transfer port must differ from the state and "
                          f"publish ports ({transfer})", key="--transfer-port")


def resolve_peer(venue: VenueConfig | None, *, host: str | None = None,
                 state_port: int | None = None,
                 key: str | None = None) -> tuple[str, int, str | None]:
    """Where an operator or kiosk finds the controller and which CURVE key it uses, as
    ``(host, state_port, key_file)``: flags, then environment (``EXHIBIT_HOST``,
    ``EXHIBIT_STATE_PORT``, ``EXHIBIT_KEY``), then the venue file (if given), then the
    defaults."""
    net = venue.network if venue is not None else NetworkConfig()
    return (_pick(host, "HOST", net.host),
            _port(state_port, "STATE_PORT", net.state_port),
            _pick(key, "KEY", None))


def resolve_backup(venue: VenueConfig | None, host: str | None = None,
                   state_port: int | None = None) -> tuple[str, int] | None:
    """The backup controller's ``(host, state_port)`` an operator or kiosk fails over to:
    the venue's ``[network.backup]``, unless the primary's address was given by flag (a
    peer told where to go goes there only)."""
    if venue is None or venue.network.backup is None or host is not None \
            or state_port is not None:
        return None
    return venue.network.backup.host, venue.network.backup.state_port


def resolve_node(venue: VenueConfig, display_id: str, *, host: str | None = None,
                 state_port: int | None = None, publish_port: int | None = None,
                 bundle_dir: str | None = None, headless: bool = False,
                 render_scale: float | None = None, frames: int | None = None,
                 capture_dir: str | None = None, status_path: str | None = None,
                 window_origin: tuple[int, int] | None = None,
                 key: str | None = None, fetch: bool = True,
                 transfer_port: int | None = None) -> NodeSettings:
    """Resolve a projector node's settings: flags, then environment, then venue file
    (``key``, this node's CURVE secret key file, falls back to ``EXHIBIT_KEY``)."""
    scale = _pick(render_scale, "RENDER_SCALE", 1.0, float)
    if not (math.isfinite(scale) and 0.05 <= scale <= 4.0):
        where = ("<flags>", "render_scale") if render_scale is not None else (
            "EXHIBIT_RENDER_SCALE", None)
        raise ConfigError(where[0], "render scale must be between 0.05 and 4", key=where[1])
    if window_origin is not None and any(abs(c) > 100_000 for c in window_origin):
        raise ConfigError("<flags>", "must be within 100000 pixels of the desktop's origin",
                          key="--window-origin")
    state = _port(state_port, "STATE_PORT", venue.network.state_port)
    publish = _port(publish_port, "PUBLISH_PORT", venue.network.publish_port)
    _distinct(state, publish)
    transfer = resolve_node_transfer_port(venue, transfer_port)
    _distinct_transfer(state, publish, transfer)
    return NodeSettings(
        venue=venue,
        display=venue.display(display_id),
        host=_pick(host, "HOST", venue.network.host),
        state_port=state,
        publish_port=publish,
        bundle_dir=_pick(bundle_dir, "BUNDLE_DIR", str(Path(venue.path).parent / "bundles")),
        headless=headless,
        render_scale=scale,
        frames=frames,
        capture_dir=capture_dir,
        status_path=status_path,
        window_origin=window_origin,
        key_file=_pick(key, "KEY", None),
        fetch=fetch,
        transfer_port=transfer,
        backup=venue.network.backup,
        failover_after_s=venue.network.failover_after_s,
    )


def resolve_node_transfer_port(venue: VenueConfig, transfer_port: int | None = None) -> int:
    """The controller's bundle transfer port for a node or kiosk: the flag, else
    ``EXHIBIT_TRANSFER_PORT``, else ``[network] transfer_port``."""
    return _port(transfer_port, "TRANSFER_PORT", venue.network.transfer_port)


def is_loopback(host: str) -> bool:
    """Whether an address to bind keeps a socket on this machine (``localhost``,
    127.0.0.0/8, ``::1``); a host name or a wildcard is reachable from elsewhere."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
