"""Venue and show files -> frozen dataclasses, and one :func:`resolve` per role.

``venue.toml`` describes the hardware (the wall, its displays, the network);
``show.toml`` describes what plays (bundles and a cue list). Both are read with
:mod:`tomllib`, checked field by field, and every mistake is a :class:`ConfigError`
naming the file and the dotted key.

Precedence for a role's settings (controller, node): command-line flag, then
environment variable (``EXHIBIT_<NAME>``), then the file, then the default.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "WallConfig",
    "DisplayConfig",
    "NetworkConfig",
    "VenueConfig",
    "BundlePolicy",
    "BundleRef",
    "CueConfig",
    "ShowConfig",
    "ControllerSettings",
    "NodeSettings",
    "TRANSITIONS",
    "load_venue",
    "load_show",
    "resolve_controller",
    "resolve_node",
]

#: Transitions a cue may ask for.
TRANSITIONS = ("cut", "crossfade", "fade")


@dataclass(frozen=True)
class WallConfig:
    """The projection wall, in metres.

    Attributes:
        width: wall width (m).
        height: wall height (m).
        eye: the design eye point ``(x, y, distance)``: x along the wall from its left
            edge, y height above its bottom edge, distance in front of the wall.
        shape: ``"flat"`` (curved walls come later).
    """

    width: float
    height: float
    eye: tuple[float, float, float]
    shape: str = "flat"


@dataclass(frozen=True)
class DisplayConfig:
    """One projector (or screen) and the wall rectangle it covers.

    Attributes:
        id: unique display id, used by ``exhibit node --display``.
        pixels: output size ``(width, height)`` in pixels.
        rect: wall rectangle ``(x, y, width, height)`` in metres from the wall's
            lower-left corner.
    """

    id: str
    pixels: tuple[int, int]
    rect: tuple[float, float, float, float]


@dataclass(frozen=True)
class NetworkConfig:
    """Where the controller listens.

    Attributes:
        host: address the controller binds and peers connect to.
        state_port: the controller's ROUTER port (join, clock probes, commands, status).
        publish_port: the controller's PUB port (heartbeats, state updates, events).
    """

    host: str = "127.0.0.1"
    state_port: int = 5570
    publish_port: int = 5571


@dataclass(frozen=True)
class BundlePolicy:
    """Which bundles a venue's nodes accept.

    Attributes:
        trusted_keys: public key files (``NAME.ed25519.pub``) of the curators whose
            signatures the venue trusts, as absolute paths.
        require_signed: refuse any bundle that is not signed by one of them.
    """

    trusted_keys: tuple[str, ...] = ()
    require_signed: bool = False


@dataclass(frozen=True)
class VenueConfig:
    """A whole venue: wall, displays, network and the bundle policy."""

    id: str
    name: str
    wall: WallConfig
    displays: tuple[DisplayConfig, ...]
    network: NetworkConfig
    path: str = ""
    bundles: BundlePolicy = BundlePolicy()

    def display(self, display_id: str) -> DisplayConfig:
        """Return the display with this id.

        Raises:
            ConfigError: no display has that id.
        """
        for d in self.displays:
            if d.id == display_id:
                return d
        known = ", ".join(d.id for d in self.displays)
        raise ConfigError(self.path or "venue", f"no display {display_id!r} (known: {known})",
                          key="displays")


@dataclass(frozen=True)
class BundleRef:
    """A bundle a show plays: its id and the ``.exb`` file name."""

    id: str
    file: str


@dataclass(frozen=True)
class CueConfig:
    """One cue: which scene of which bundle plays for how long, entered how."""

    id: str
    bundle: str
    scene: str
    duration: float
    transition: str = "cut"
    transition_time: float = 0.0


@dataclass(frozen=True)
class ShowConfig:
    """A show: its bundles and cue list."""

    id: str
    title: Mapping[str, str]
    bundles: tuple[BundleRef, ...]
    cues: tuple[CueConfig, ...]
    loop: bool = True
    path: str = ""

    def bundle(self, bundle_id: str) -> BundleRef:
        """Return the bundle reference with this id.

        Raises:
            ConfigError: the show names no such bundle.
        """
        for b in self.bundles:
            if b.id == bundle_id:
                return b
        raise ConfigError(self.path or "show", f"no bundle {bundle_id!r}", key="bundles")


@dataclass(frozen=True)
class ControllerSettings:
    """Everything ``exhibit controller`` needs, resolved once."""

    venue: VenueConfig
    show: ShowConfig
    host: str
    state_port: int
    publish_port: int
    heartbeat_s: float = 0.2


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


# --------------------------------------------------------------------------- reading


def _read_toml(path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    p = Path(path)
    name = str(p)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(name, "file not found") from None
    except OSError as exc:
        raise ConfigError(name, f"cannot read file ({exc.strerror})") from None
    if len(raw) > 1_000_000:
        raise ConfigError(name, "file is larger than 1 MB")
    try:
        return name, tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(name, "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, f"not valid TOML ({exc})") from None


class _Fields:
    """Typed access to one TOML table, with errors that name file and dotted key."""

    def __init__(self, path: str, table: Any, prefix: str) -> None:
        if not isinstance(table, dict):
            raise ConfigError(path, "must be a table", key=prefix or None)
        self.path, self.table, self.prefix = path, table, prefix

    def _key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def _get(self, name: str, default: Any) -> Any:
        if name in self.table:
            return self.table[name]
        if default is _REQUIRED:
            raise ConfigError(self.path, "is required", key=self._key(name))
        return default

    def str(self, name: str, default: Any = None) -> str:
        v = self._get(name, _REQUIRED if default is None else default)
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(self.path, "must be a non-empty string", key=self._key(name))
        return v

    def num(self, name: str, default: Any = None, *, positive: bool = False,
            minimum: float | None = None) -> float:
        v = self._get(name, _REQUIRED if default is None else default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(self.path, "must be a finite number", key=self._key(name))
        if positive and v <= 0:
            raise ConfigError(self.path, "must be greater than 0", key=self._key(name))
        if minimum is not None and v < minimum:
            raise ConfigError(self.path, f"must be at least {minimum}", key=self._key(name))
        return float(v)

    def port(self, name: str, default: int) -> int:
        v = self._get(name, default)
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
            raise ConfigError(self.path, "must be a port number 1-65535", key=self._key(name))
        return v

    def bool(self, name: str, default: bool) -> bool:
        v = self._get(name, default)
        if not isinstance(v, bool):
            raise ConfigError(self.path, "must be true or false", key=self._key(name))
        return v

    def vec(self, name: str, n: int, *, integer: bool = False) -> tuple[Any, ...]:
        v = self._get(name, _REQUIRED)
        kind = "whole numbers" if integer else "numbers"
        if (not isinstance(v, list) or len(v) != n
                or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v)
                or any(not math.isfinite(x) for x in v)
                or (integer and any(not isinstance(x, int) for x in v))):
            raise ConfigError(self.path, f"must be a list of {n} {kind}", key=self._key(name))
        return tuple(int(x) for x in v) if integer else tuple(float(x) for x in v)

    def tables(self, name: str) -> list[Any]:
        v = self._get(name, [])
        if not isinstance(v, list) or not v:
            raise ConfigError(self.path, "must be a non-empty array of tables",
                              key=self._key(name))
        return v


_REQUIRED = object()


def load_venue(path: str | os.PathLike[str]) -> VenueConfig:
    """Read and check a ``venue.toml``.

    Raises:
        ConfigError: the file is missing, is not TOML, or breaks a rule.
    """
    name, data = _read_toml(path)
    top = _Fields(name, data, "")
    venue = _Fields(name, data.get("venue", {}), "venue")
    wall_t = _Fields(name, top._get("wall", _REQUIRED), "wall")
    shape = wall_t.str("shape", "flat")
    if shape != "flat":
        raise ConfigError(name, f"unsupported wall shape {shape!r} (supported: flat)",
                          key="wall.shape")
    wall = WallConfig(
        width=wall_t.num("width", positive=True),
        height=wall_t.num("height", positive=True),
        eye=wall_t.vec("eye", 3),
        shape=shape,
    )
    if wall.eye[2] <= 0:
        raise ConfigError(name, "eye distance (third value) must be greater than 0",
                          key="wall.eye")
    net_t = _Fields(name, data.get("network", {}), "network")
    network = NetworkConfig(
        host=net_t.str("host", "127.0.0.1"),
        state_port=net_t.port("state_port", 5570),
        publish_port=net_t.port("publish_port", 5571),
    )
    if network.state_port == network.publish_port:
        raise ConfigError(name, "state_port and publish_port must differ", key="network")
    displays = []
    seen: set[str] = set()
    for i, raw in enumerate(top.tables("displays")):
        d = _Fields(name, raw, f"displays[{i}]")
        did = d.str("id")
        if did in seen:
            raise ConfigError(name, f"duplicate display id {did!r}", key=f"displays[{i}].id")
        seen.add(did)
        px = d.vec("pixels", 2, integer=True)
        if not all(16 <= p <= 16384 for p in px):
            raise ConfigError(name, "pixel sizes must be 16-16384", key=f"displays[{i}].pixels")
        rect = d.vec("rect", 4)
        if rect[2] <= 0 or rect[3] <= 0:
            raise ConfigError(name, "rect width and height must be greater than 0",
                              key=f"displays[{i}].rect")
        eps = 1e-9
        if (rect[0] < -eps or rect[1] < -eps or rect[0] + rect[2] > wall.width + eps
                or rect[1] + rect[3] > wall.height + eps):
            raise ConfigError(name, f"display {did!r} reaches outside the "
                              f"{wall.width:g} x {wall.height:g} m wall", key=f"displays[{i}].rect")
        displays.append(DisplayConfig(id=did, pixels=px, rect=rect))
    policy_t = _Fields(name, data.get("bundles", {}), "bundles")
    keys = policy_t._get("trusted_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise ConfigError(name, "must be a list of public key file paths",
                          key="bundles.trusted_keys")
    policy = BundlePolicy(
        trusted_keys=tuple(str((Path(name).parent / k).resolve()) for k in keys),
        require_signed=policy_t.bool("require_signed", False),
    )
    if policy.require_signed and not policy.trusted_keys:
        raise ConfigError(name, "require_signed needs at least one trusted key",
                          key="bundles.trusted_keys")
    return VenueConfig(
        id=venue.str("id", "venue"),
        name=venue.str("name", "Venue"),
        wall=wall,
        displays=tuple(displays),
        network=network,
        path=name,
        bundles=policy,
    )


def load_show(path: str | os.PathLike[str]) -> ShowConfig:
    """Read and check a ``show.toml``.

    Raises:
        ConfigError: the file is missing, is not TOML, or breaks a rule.
    """
    name, data = _read_toml(path)
    top = _Fields(name, data, "")
    show = _Fields(name, top._get("show", _REQUIRED), "show")
    title = show._get("title", {})
    if not isinstance(title, dict) or not all(isinstance(v, str) for v in title.values()):
        raise ConfigError(name, "must be a table of language = text", key="show.title")
    bundles = []
    for i, raw in enumerate(top.tables("bundles")):
        b = _Fields(name, raw, f"bundles[{i}]")
        bundles.append(BundleRef(id=b.str("id"), file=b.str("file")))
    ids = {b.id for b in bundles}
    if len(ids) != len(bundles):
        raise ConfigError(name, "bundle ids must be unique", key="bundles")
    cues = []
    for i, raw in enumerate(top.tables("cues")):
        c = _Fields(name, raw, f"cues[{i}]")
        cue = CueConfig(
            id=c.str("id", f"cue-{i + 1}"),
            bundle=c.str("bundle"),
            scene=c.str("scene"),
            duration=c.num("duration", positive=True),
            transition=c.str("transition", "cut"),
            transition_time=c.num("transition_time", 0.0, minimum=0.0),
        )
        if cue.bundle not in ids:
            raise ConfigError(name, f"names bundle {cue.bundle!r}, which [[bundles]] lacks",
                              key=f"cues[{i}].bundle")
        if cue.transition not in TRANSITIONS:
            raise ConfigError(name, f"must be one of {', '.join(TRANSITIONS)}",
                              key=f"cues[{i}].transition")
        if cue.transition_time > cue.duration:
            raise ConfigError(name, "must not be longer than the cue's duration",
                              key=f"cues[{i}].transition_time")
        cues.append(cue)
    return ShowConfig(
        id=show.str("id"),
        title=dict(title),
        bundles=tuple(bundles),
        cues=tuple(cues),
        loop=show.bool("loop", True),
        path=name,
    )


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


def resolve_controller(venue: VenueConfig, show: ShowConfig, *, host: str | None = None,
                       state_port: int | None = None,
                       publish_port: int | None = None) -> ControllerSettings:
    """Resolve the controller's settings: flags, then environment, then venue file."""
    return ControllerSettings(
        venue=venue,
        show=show,
        host=_pick(host, "HOST", venue.network.host),
        state_port=_pick(state_port, "STATE_PORT", venue.network.state_port, int),
        publish_port=_pick(publish_port, "PUBLISH_PORT", venue.network.publish_port, int),
    )


def resolve_node(venue: VenueConfig, display_id: str, *, host: str | None = None,
                 state_port: int | None = None, publish_port: int | None = None,
                 bundle_dir: str | None = None, headless: bool = False,
                 render_scale: float | None = None, frames: int | None = None,
                 capture_dir: str | None = None, status_path: str | None = None,
                 window_origin: tuple[int, int] | None = None) -> NodeSettings:
    """Resolve a projector node's settings: flags, then environment, then venue file."""
    scale = _pick(render_scale, "RENDER_SCALE", 1.0, float)
    if not 0.05 <= scale <= 4.0:
        raise ConfigError("<flags>", "render scale must be between 0.05 and 4",
                          key="render_scale")
    return NodeSettings(
        venue=venue,
        display=venue.display(display_id),
        host=_pick(host, "HOST", venue.network.host),
        state_port=_pick(state_port, "STATE_PORT", venue.network.state_port, int),
        publish_port=_pick(publish_port, "PUBLISH_PORT", venue.network.publish_port, int),
        bundle_dir=_pick(bundle_dir, "BUNDLE_DIR", str(Path(venue.path).parent / "bundles")),
        headless=headless,
        render_scale=scale,
        frames=frames,
        capture_dir=capture_dir,
        status_path=status_path,
        window_origin=window_origin,
    )
