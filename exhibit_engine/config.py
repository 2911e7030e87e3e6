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
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "WallConfig",
    "DisplayConfig",
    "CornerPin",
    "MeshWarp",
    "WALL_SHAPES",
    "NetworkConfig",
    "VenueConfig",
    "BundlePolicy",
    "SecurityConfig",
    "SECURITY_ROLES",
    "BundleRef",
    "CueConfig",
    "AttractConfig",
    "ScheduleConfig",
    "ShowConfig",
    "WEEKDAYS",
    "ControllerSettings",
    "NodeSettings",
    "TRANSITIONS",
    "load_venue",
    "load_show",
    "resolve_controller",
    "resolve_peer",
    "resolve_node",
]

#: Transitions a cue may ask for.
TRANSITIONS = ("cut", "crossfade", "fade")

#: Weekday keys of ``[schedule]``, Monday first (``date.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WallConfig:
    """The projection wall, in metres.

    Attributes:
        width: wall width (m).
        height: wall height (m).
        eye: the design eye point ``(x, y, distance)``: x along the wall from its left
            edge, y height above its bottom edge, distance in front of the wall.
        shape: ``"flat"``, or ``"cylinder"``: a concave curved wall seen from inside,
            a vertical cylinder of ``radius``. On a cylinder, ``width`` and every x
            (display rects, the eye) are arc lengths along the wall, so wall
            coordinates are the wall unrolled; the eye's distance is measured along the
            wall's normal at the eye's x (``distance = radius``: the eye on the axis).
        radius: the cylinder's radius (m); 0 for a flat wall.
    """

    width: float
    height: float
    eye: tuple[float, float, float]
    shape: str = "flat"
    radius: float = 0.0

    @property
    def angle_deg(self) -> float:
        """The angle a cylindrical wall spans, in degrees (0 for a flat wall)."""
        return math.degrees(self.width / self.radius) if self.shape == "cylinder" else 0.0


#: The wall shapes a venue may use.
WALL_SHAPES = ("flat", "cylinder")


@dataclass(frozen=True)
class CornerPin:
    """A four-corner warp: where the image's corners land in the output, in pixels.

    Output pixel coordinates run from the output's top-left corner (x right, y down);
    the output's own corners are ``(0, 0)`` and ``(width, height)``. The image in
    between is mapped with a true perspective homography (straight lines stay straight).

    Attributes:
        top_left, top_right, bottom_right, bottom_left: ``(x, y)`` output pixel where
            that corner of the image lands.
    """

    top_left: tuple[float, float]
    top_right: tuple[float, float]
    bottom_right: tuple[float, float]
    bottom_left: tuple[float, float]

    def quad(self) -> tuple[tuple[float, float], ...]:
        """The four corners in the order top-left, top-right, bottom-right, bottom-left."""
        return (self.top_left, self.top_right, self.bottom_right, self.bottom_left)


@dataclass(frozen=True)
class MeshWarp:
    """A mesh warp: a ``rows`` x ``cols`` grid of output points.

    Grid node ``(r, c)`` is the image point ``(c / (cols - 1), r / (rows - 1))`` (from
    the image's top-left corner); ``points[r * cols + c]`` is the output pixel ``(x, y)``
    where it lands. Between nodes the mapping is bilinear.

    Attributes:
        rows, cols: grid size, each at least 2.
        points: ``rows * cols`` output points, row by row from the top-left.
    """

    rows: int
    cols: int
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class DisplayConfig:
    """One projector (or screen) and the wall rectangle it covers.

    Attributes:
        id: unique display id, used by ``exhibit node --display``.
        pixels: output size ``(width, height)`` in pixels.
        rect: wall rectangle ``(x, y, width, height)`` in metres from the wall's
            lower-left corner.
        blend: edge-blend widths ``(left, right, top, bottom)`` in metres; 0 means
            "automatic": the width of the overlap with the neighbours on that side
            (no overlap: no ramp).
        gamma: the display's transfer exponent (blend ramps are computed in linear
            light and encoded with ``1 / gamma``).
        blend_exponent: the ramp's shape ``p`` in ``x^p / (x^p + (1 - x)^p)``: 1 is a
            linear ramp, larger is flatter at both ends.
        black_level: uplift (0-0.1 of full output) added where this display's light
            is not overlapped, so its black matches the brighter black of overlaps.
        warp: where the image lands on the output (corner pin or mesh), or ``None``.
    """

    id: str
    pixels: tuple[int, int]
    rect: tuple[float, float, float, float]
    blend: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    gamma: float = 2.2
    blend_exponent: float = 2.0
    black_level: float = 0.0
    warp: CornerPin | MeshWarp | None = None


@dataclass(frozen=True)
class NetworkConfig:
    """Where the controller listens.

    Attributes:
        host: address the controller binds and peers connect to.
        state_port: the controller's ROUTER port (join, clock probes, commands, status).
        publish_port: the controller's PUB port (heartbeats, state updates, events).
        lost_after_s: a projector whose status beats (every 0.1 s) stop for this long is
            reported ``"lost"``.
        hung_after_s: a projector whose render loop has not run for this long (its
            beats still coming) is reported ``"hung"``, unless it announced a scene load.
    """

    host: str = "127.0.0.1"
    state_port: int = 5570
    publish_port: int = 5571
    lost_after_s: float = 0.35
    hung_after_s: float = 2.0


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


#: ``[security]`` allow-list keys and the role each grants (the ZAP User-Id is "ROLE:KEY_ID").
SECURITY_ROLES = {"projectors": "projector", "kiosks": "kiosk", "operators": "operator"}


@dataclass(frozen=True)
class SecurityConfig:
    """Who may talk to the controller: ``[security]`` in ``venue.toml``.

    With ``curve`` off (the default, development mode) nothing is encrypted and a peer's
    role is the one its hello claims. With ``curve`` on, every socket is CURVE-encrypted
    and the controller's ZAP handler admits only the listed public keys; a key's list
    is its role (see ``docs/protocol.md``, Security).

    Attributes:
        curve: encrypt and authenticate with CURVE.
        controller_key: the controller's secret key file (``NAME.curve.key``), absolute;
            only the controller's machine needs it, so it is not checked on load.
        controller_public_key: the controller's public key file, absolute; every peer
            needs it (required with ``curve``).
        controller_public: that key, 40 Z85 characters (``""`` without one).
        projectors, kiosks, operators: the allow-listed public key files, absolute.
        roles: every allow-listed key as ``(Z85 public key, role)``.
        displays: ``[security.displays]``, optional: ``(display id, Z85 public key)``
            pairs; the controller lets only that projector key use the display's id as
            its node id, and a key bound so uses no other id.
    """

    curve: bool = False
    controller_key: str = ""
    controller_public_key: str = ""
    controller_public: str = ""
    projectors: tuple[str, ...] = ()
    kiosks: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    roles: tuple[tuple[str, str], ...] = ()
    displays: tuple[tuple[str, str], ...] = ()

    def role_of(self, public_z85: str) -> str | None:
        """The role an allow-listed public key (Z85) grants, or ``None``."""
        for key, role in self.roles:
            if key == public_z85:
                return role
        return None


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
    security: SecurityConfig = SecurityConfig()

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
    #: Hold at the cue's end until the operator's GO (instead of following on).
    wait: bool = False


@dataclass(frozen=True)
class AttractConfig:
    """The attract loop: played while the kiosks have been idle.

    Attributes:
        idle_after: seconds without a kiosk touch (while open) before it starts.
        cues: its cue list.
        loop: whether it wraps around (it normally does).
    """

    idle_after: float
    cues: tuple[CueConfig, ...]
    loop: bool = True


@dataclass(frozen=True)
class ScheduleConfig:
    """Opening hours, read from ``[schedule]``.

    Attributes:
        timezone: IANA time zone name (``"Europe/Berlin"``) the hours are in.
        weekly: seven entries, Monday first: ``(open, close)`` in minutes after local
            midnight (``"10:00"`` is 600; ``close`` may be 1440, ``"24:00"``), or ``None``
            for a closed day. ``open < close``: a day's hours do not run past midnight.
        special: dates that override the weekday: ``(open, close)`` or ``None`` (closed).
    """

    timezone: str
    weekly: tuple[tuple[int, int] | None, ...]
    special: Mapping[date, tuple[int, int] | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ShowConfig:
    """A show: its bundles, cue lists, opening hours and control settings.

    Attributes:
        attract: the attract loop, or ``None`` (no attract mode).
        standby: the scene shown outside opening hours, or ``None`` (black).
        schedule: the opening hours, or ``None`` (always open).
        go_guard_s: a second GO within this many seconds is ignored.
        blackout_fade_s: default fade of a blackout (s).
        panic_fade_s: fade of the first panic (s); a second panic is instant.
    """

    id: str
    title: Mapping[str, str]
    bundles: tuple[BundleRef, ...]
    cues: tuple[CueConfig, ...]
    loop: bool = True
    path: str = ""
    attract: AttractConfig | None = None
    standby: CueConfig | None = None
    schedule: ScheduleConfig | None = None
    go_guard_s: float = 0.5
    blackout_fade_s: float = 2.0
    panic_fade_s: float = 1.0

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
    #: The file the controller saves its session to and resumes from (``None``: none).
    state_file: str | None = None
    #: The controller's CURVE secret key file, when ``venue.security.curve`` is on.
    key_file: str | None = None


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


def _wall(name: str, t: _Fields) -> WallConfig:
    """The ``[wall]`` table: a flat wall, or a cylinder given by radius and angle or width."""
    shape = t.str("shape", "flat")
    if shape not in WALL_SHAPES:
        raise ConfigError(name, f"unsupported wall shape {shape!r} (supported: "
                          f"{', '.join(WALL_SHAPES)})", key="wall.shape")
    radius = 0.0
    if shape == "cylinder":
        radius = t.num("radius", positive=True)
        if ("angle" in t.table) == ("width" in t.table):
            raise ConfigError(name, "a cylinder wall needs either angle (degrees) or width "
                              "(arc length, m), not both", key="wall.angle")
        if "angle" in t.table:
            angle = t.num("angle", positive=True)
            if angle > 180.0:
                raise ConfigError(name, "must be at most 180 degrees (each display renders "
                                  "its chord; the eye must see every chord)", key="wall.angle")
            width = math.radians(angle) * radius
        else:
            width = t.num("width", positive=True)
            if width > math.pi * radius + 1e-9:
                raise ConfigError(name, "a cylinder wall spans at most 180 degrees "
                                  "(arc length at most pi x radius)", key="wall.width")
    else:
        for extra in ("radius", "angle"):
            if extra in t.table:
                raise ConfigError(name, "only a cylinder wall has this key",
                                  key=f"wall.{extra}")
        width = t.num("width", positive=True)
    wall = WallConfig(width=width, height=t.num("height", positive=True),
                      eye=t.vec("eye", 3), shape=shape, radius=radius)
    if wall.eye[2] <= 0:
        raise ConfigError(name, "eye distance (third value) must be greater than 0",
                          key="wall.eye")
    if shape == "cylinder" and wall.eye[2] >= 2 * radius:
        raise ConfigError(name, "eye distance must be less than the cylinder's diameter",
                          key="wall.eye")
    return wall


_BLEND_SIDES = ("left", "right", "top", "bottom")
_PIN_CORNERS = ("top_left", "top_right", "bottom_right", "bottom_left")


def _point(name: str, value: Any, key: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in value)
            or not all(math.isfinite(x) for x in value)):
        raise ConfigError(name, "must be a point [x, y] in output pixels", key=key)
    return float(value[0]), float(value[1])


def _warp(name: str, t: _Fields, pixels: tuple[int, int]) -> CornerPin | MeshWarp:
    """A display's ``warp`` table: ``kind = "corner_pin"`` or ``kind = "mesh"``."""
    kind = t.str("kind")
    w, h = pixels
    limit = 4 * max(w, h)  # a point far outside the output is a typo, not a warp
    if kind == "corner_pin":
        for extra in set(t.table) - {"kind", *_PIN_CORNERS}:
            raise ConfigError(name, "not a corner-pin key (kind, top_left, top_right, "
                              "bottom_right, bottom_left)", key=t._key(extra))
        pts = [_point(name, t._get(c, _REQUIRED), t._key(c)) for c in _PIN_CORNERS]
        key = t._key("top_left")
        warp: CornerPin | MeshWarp = CornerPin(*pts)
    elif kind == "mesh":
        for extra in set(t.table) - {"kind", "rows", "cols", "points"}:
            raise ConfigError(name, "not a mesh key (kind, rows, cols, points)",
                              key=t._key(extra))
        rows, cols = (t._get(k, _REQUIRED) for k in ("rows", "cols"))
        for k, v in (("rows", rows), ("cols", cols)):
            if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= 64:
                raise ConfigError(name, "must be a whole number 2-64", key=t._key(k))
        raw = t._get("points", _REQUIRED)
        key = t._key("points")
        if not isinstance(raw, list) or len(raw) != rows * cols:
            raise ConfigError(name, f"must list rows x cols = {rows * cols} points [x, y], "
                              "row by row from the top-left", key=key)
        pts = [_point(name, v, f"{key}[{j}]") for j, v in enumerate(raw)]
        warp = MeshWarp(rows=rows, cols=cols, points=tuple(pts))
    else:
        raise ConfigError(name, f"unknown warp kind {kind!r} (corner_pin or mesh)",
                          key=t._key("kind"))
    if any(not -limit <= c <= limit for p in pts for c in p):
        raise ConfigError(name, f"a warp point lies more than {limit} pixels outside the "
                          "output", key=key)
    return warp


def _display(name: str, d: _Fields, wall: WallConfig) -> DisplayConfig:
    """One ``[[displays]]`` table, checked against the wall."""
    did = d.str("id")
    px = d.vec("pixels", 2, integer=True)
    if not all(16 <= p <= 16384 for p in px):
        raise ConfigError(name, "pixel sizes must be 16-16384", key=d._key("pixels"))
    rect = d.vec("rect", 4)
    if rect[2] <= 0 or rect[3] <= 0:
        raise ConfigError(name, "rect width and height must be greater than 0",
                          key=d._key("rect"))
    eps = 1e-9
    if (rect[0] < -eps or rect[1] < -eps or rect[0] + rect[2] > wall.width + eps
            or rect[1] + rect[3] > wall.height + eps):
        raise ConfigError(name, f"display {did!r} reaches outside the "
                          f"{wall.width:g} x {wall.height:g} m wall", key=d._key("rect"))
    blend = [0.0, 0.0, 0.0, 0.0]
    if "blend" in d.table:
        b = _Fields(name, d.table["blend"], d._key("blend"))
        for extra in set(b.table) - set(_BLEND_SIDES):
            raise ConfigError(name, "not a blend side (left, right, top, bottom)",
                              key=b._key(extra))
        for j, side in enumerate(_BLEND_SIDES):
            blend[j] = b.num(side, 0.0, minimum=0.0)
        for j, side in enumerate(_BLEND_SIDES):
            if blend[j] > rect[2 + j // 2] + eps:
                raise ConfigError(name, f"a {blend[j]:g} m blend is wider than the display "
                                  f"({rect[2 + j // 2]:g} m)", key=b._key(side))
    gamma = d.num("gamma", 2.2)
    if not 1.0 <= gamma <= 3.0:
        raise ConfigError(name, "must be between 1 and 3", key=d._key("gamma"))
    exponent = d.num("blend_exponent", 2.0)
    if not 0.5 <= exponent <= 8.0:
        raise ConfigError(name, "must be between 0.5 and 8", key=d._key("blend_exponent"))
    black = d.num("black_level", 0.0)
    if not 0.0 <= black <= 0.1:
        raise ConfigError(name, "must be between 0 and 0.1", key=d._key("black_level"))
    warp = None
    if "warp" in d.table:
        warp = _warp(name, _Fields(name, d.table["warp"], d._key("warp")), px)
    return DisplayConfig(id=did, pixels=px, rect=rect, blend=tuple(blend),  # type: ignore[arg-type]
                         gamma=gamma, blend_exponent=exponent, black_level=black, warp=warp)


def load_venue(path: str | os.PathLike[str]) -> VenueConfig:
    """Read and check a ``venue.toml``.

    Raises:
        ConfigError: the file is missing, is not TOML, or breaks a rule.
    """
    name, data = _read_toml(path)
    top = _Fields(name, data, "")
    venue = _Fields(name, data.get("venue", {}), "venue")
    wall = _wall(name, _Fields(name, top._get("wall", _REQUIRED), "wall"))
    net_t = _Fields(name, data.get("network", {}), "network")
    network = NetworkConfig(
        host=net_t.str("host", "127.0.0.1"),
        state_port=net_t.port("state_port", 5570),
        publish_port=net_t.port("publish_port", 5571),
        lost_after_s=net_t.num("lost_after_s", 0.35, minimum=0.15),
        hung_after_s=net_t.num("hung_after_s", 2.0, minimum=0.5),
    )
    if network.lost_after_s > 60.0 or network.hung_after_s > 600.0:
        raise ConfigError(name, "lost_after_s must be at most 60 and hung_after_s at most 600",
                          key="network")
    if network.state_port == network.publish_port:
        raise ConfigError(name, "state_port and publish_port must differ", key="network")
    displays = []
    seen: set[str] = set()
    for i, raw in enumerate(top.tables("displays")):
        display = _display(name, _Fields(name, raw, f"displays[{i}]"), wall)
        if display.id in seen:
            raise ConfigError(name, f"duplicate display id {display.id!r}",
                              key=f"displays[{i}].id")
        seen.add(display.id)
        displays.append(display)
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
        security=_security(name, _Fields(name, data.get("security", {}), "security"),
                           tuple(d.id for d in displays)),
    )


def _security(name: str, sec: _Fields, display_ids: tuple[str, ...] = ()) -> SecurityConfig:
    """``[security]``: every listed key file must exist and parse, and a key may hold
    one role only (it is how the controller tells a kiosk from an operator).
    ``[security.displays]`` binds a display id of ``display_ids`` to one listed
    projector key."""
    from .sync.curve_keys import load_curve_public_keys

    known = {"curve", "controller_key", "controller_public_key", "displays", *SECURITY_ROLES}
    for k in sec.table:
        if k not in known:
            raise ConfigError(name, f"unknown key (known: {', '.join(sorted(known))})",
                              key=sec._key(k))
    curve = sec.bool("curve", False)
    here = Path(name).parent

    def path_of(key: str) -> str:
        value = sec._get(key, "")
        if not isinstance(value, str):
            raise ConfigError(name, "must be a key file path", key=sec._key(key))
        return str((here / value).resolve()) if value else ""

    def keys_in(file: str, key: str) -> list[Any]:
        try:
            return load_curve_public_keys(file)
        except ConfigError as exc:     # name the venue and the list as well as the file
            raise ConfigError(name, str(exc), key=sec._key(key)) from None

    def a(role: str) -> str:
        return f"an {role}" if role[0] in "aeiou" else f"a {role}"

    controller_key = path_of("controller_key")
    controller_public_key = path_of("controller_public_key")
    controller_public = ""
    if controller_public_key:
        found = keys_in(controller_public_key, "controller_public_key")
        if len(found) != 1:
            raise ConfigError(name, f"{controller_public_key} must hold exactly one key",
                              key=sec._key("controller_public_key"))
        controller_public = found[0].z85
    elif curve:
        raise ConfigError(name, "curve = true needs the controller's public key file "
                          "(every peer checks the controller with it)",
                          key=sec._key("controller_public_key"))
    lists: dict[str, tuple[str, ...]] = {}
    roles: dict[str, tuple[str, str]] = {}      # key -> (role, file)
    for list_key, role in SECURITY_ROLES.items():
        files = sec._get(list_key, [])
        if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
            raise ConfigError(name, "must be a list of public key file paths "
                              "(NAME.curve.pub)", key=sec._key(list_key))
        lists[list_key] = tuple(str((here / f).resolve()) for f in files)
        for file in lists[list_key]:
            for key in keys_in(file, list_key):
                if key.z85 == controller_public:
                    raise ConfigError(name, f"{file} holds the controller's own key; a "
                                      "peer needs a key of its own", key=sec._key(list_key))
                if key.z85 in roles and roles[key.z85][0] != role:
                    other, other_file = roles[key.z85]
                    raise ConfigError(name, f"key {key.key_id} ({file}) is listed as "
                                      f"{a(role)} and, in {other_file}, as {a(other)}; a "
                                      "key has one role", key=sec._key(list_key))
                roles[key.z85] = (role, file)
    if curve and not roles:
        raise ConfigError(name, "curve = true needs at least one allowed key in "
                          "projectors, kiosks or operators", key="security")
    bound = sec._get("displays", {})
    if not isinstance(bound, dict):
        raise ConfigError(name, "must be a table: display id = \"its projector's "
                          "NAME.curve.pub\"", key=sec._key("displays"))
    displays: list[tuple[str, str]] = []
    for display_id, file in bound.items():
        where = f"displays.{display_id}"
        if display_id not in display_ids:
            raise ConfigError(name, f"no display {display_id!r} (known: "
                              f"{', '.join(display_ids)})", key=sec._key(where))
        if not isinstance(file, str) or not file:
            raise ConfigError(name, "must be a projector's public key file path",
                              key=sec._key(where))
        path = str((here / file).resolve())
        found = keys_in(path, where)
        if len(found) != 1 or roles.get(found[0].z85, ("",))[0] != "projector":
            raise ConfigError(name, f"{path} must hold one key, listed under projectors "
                              "(a display is bound to one projector's key)",
                              key=sec._key(where))
        displays.append((display_id, found[0].z85))
    return SecurityConfig(
        curve=curve, controller_key=controller_key,
        controller_public_key=controller_public_key, controller_public=controller_public,
        projectors=lists["projectors"], kiosks=lists["kiosks"], operators=lists["operators"],
        roles=tuple((key, role) for key, (role, _) in roles.items()),
        displays=tuple(displays),
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
    cues = _cue_list(name, top.tables("cues"), "cues", ids, {}, "cue")
    control = _Fields(name, data.get("control", {}), "control")
    return ShowConfig(
        id=show.str("id"),
        title=dict(title),
        bundles=tuple(bundles),
        cues=cues,
        loop=show.bool("loop", True),
        path=name,
        attract=_attract(name, data, ids, {c.id: c for c in cues}),
        standby=_standby(name, data, ids),
        schedule=_schedule(name, data),
        go_guard_s=control.num("go_guard_s", 0.5, minimum=0.0),
        blackout_fade_s=control.num("blackout_fade_s", 2.0, minimum=0.0),
        panic_fade_s=control.num("panic_fade_s", 1.0, minimum=0.0),
    )


def _cue(name: str, raw: Any, key: str, ids: set[str], default_id: str) -> CueConfig:
    """One cue table, checked."""
    c = _Fields(name, raw, key)
    cue = CueConfig(
        id=c.str("id", default_id),
        bundle=c.str("bundle"),
        scene=c.str("scene"),
        duration=c.num("duration", positive=True),
        transition=c.str("transition", "cut"),
        transition_time=c.num("transition_time", 0.0, minimum=0.0),
        wait=c.bool("wait", False),
    )
    if cue.bundle not in ids:
        raise ConfigError(name, f"names bundle {cue.bundle!r}, which [[bundles]] lacks",
                          key=f"{key}.bundle")
    if cue.transition not in TRANSITIONS:
        raise ConfigError(name, f"must be one of {', '.join(TRANSITIONS)}",
                          key=f"{key}.transition")
    if cue.transition_time > cue.duration:
        raise ConfigError(name, "must not be longer than the cue's duration",
                          key=f"{key}.transition_time")
    return cue


def _cue_list(name: str, raw: list[Any], key: str, ids: set[str],
              known: Mapping[str, CueConfig], prefix: str) -> tuple[CueConfig, ...]:
    """A cue list: tables, or (where ``known`` is given) references to cues of [[cues]]:
    an id string, or a table holding only ``id``.

    A cue table without an id is called ``<prefix>-<n>`` (n counts from 1).
    """
    cues: list[CueConfig] = []
    for i, item in enumerate(raw):
        k = id_key = f"{key}[{i}]"
        if known and isinstance(item, dict) and set(item) == {"id"}:
            item, id_key = item["id"], f"{k}.id"
        if isinstance(item, str) and known:
            if item not in known:
                raise ConfigError(name, f"names cue {item!r}, which [[cues]] lacks", key=id_key)
            cue = known[item]
        else:
            cue = _cue(name, item, k, ids, f"{prefix}-{i + 1}")
            id_key = f"{k}.id"
        if any(c.id == cue.id for c in cues):
            raise ConfigError(name, f"duplicate cue id {cue.id!r}", key=id_key)
        cues.append(cue)
    return tuple(cues)


def _attract(name: str, data: Mapping[str, Any], ids: set[str],
             known: Mapping[str, CueConfig]) -> AttractConfig | None:
    """``[attract]``: idle_after and a cue list (tables, or ids of main cues)."""
    if "attract" not in data:
        return None
    t = _Fields(name, data["attract"], "attract")
    return AttractConfig(
        idle_after=t.num("idle_after", positive=True),
        cues=_cue_list(name, t.tables("cues"), "attract.cues", ids, known, "attract"),
        loop=t.bool("loop", True),
    )


def _standby(name: str, data: Mapping[str, Any], ids: set[str]) -> CueConfig | None:
    """``[standby]``: the scene outside opening hours (absent: the wall goes black)."""
    if "standby" not in data:
        return None
    t = _Fields(name, data["standby"], "standby")
    cue = CueConfig(id=t.str("id", "standby"), bundle=t.str("bundle"), scene=t.str("scene"),
                    duration=t.num("duration", 600.0, positive=True))
    if cue.bundle not in ids:
        raise ConfigError(name, f"names bundle {cue.bundle!r}, which [[bundles]] lacks",
                          key="standby.bundle")
    return cue


def _clock_minutes(name: str, v: Any, key: str) -> int:
    """``"HH:MM"`` (00:00 to 24:00) -> minutes after midnight."""
    ok = isinstance(v, str) and len(v) == 5 and v[2] == ":" and (v[:2] + v[3:]).isdigit()
    if ok:
        h, m = int(v[:2]), int(v[3:])
        ok = (h < 24 and m < 60) or (h == 24 and m == 0)
    if not ok:
        raise ConfigError(name, f"must be a time \"HH:MM\" from 00:00 to 24:00, not {v!r}",
                          key=key)
    return h * 60 + m


def _hours(name: str, v: Any, key: str) -> tuple[int, int] | None:
    """``["10:00", "18:00"]`` -> (600, 1080); ``"closed"`` -> None."""
    if v == "closed":
        return None
    if not isinstance(v, list) or len(v) != 2:
        raise ConfigError(name, 'must be ["HH:MM", "HH:MM"] (opening, closing) or "closed"',
                          key=key)
    start, end = _clock_minutes(name, v[0], key), _clock_minutes(name, v[1], key)
    if start >= end:
        raise ConfigError(name, "closing must be later than opening on the same day "
                          "(hours may not run past midnight)", key=key)
    return start, end


def _schedule(name: str, data: Mapping[str, Any]) -> ScheduleConfig | None:
    """``[schedule]``: timezone, hours per weekday (missing: closed), special days."""
    if "schedule" not in data:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    t = _Fields(name, data["schedule"], "schedule")
    tz = t.str("timezone")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(name, f"unknown time zone {tz!r} (an IANA name such as "
                          f"\"Europe/Berlin\")", key="schedule.timezone") from None
    weekly = tuple(_hours(name, t.table[d], f"schedule.{d}") if d in t.table else None
                   for d in WEEKDAYS)
    # Special days: "YYYY-MM-DD" keys in [schedule.special], or directly in [schedule].
    sp = _Fields(name, t.table.get("special", {}), "schedule.special")
    days = [(f"schedule.special.{k}", k, v) for k, v in sp.table.items()]
    days += [(f"schedule.{k}", k, v) for k, v in t.table.items()
             if k not in ("timezone", "special", *WEEKDAYS)]
    special: dict[date, tuple[int, int] | None] = {}
    for key, k, v in days:
        try:
            day = date.fromisoformat(k) if len(k) == 10 and k[4] == "-" else None
        except ValueError:
            day = None
        if day is None:
            raise ConfigError(name, "unknown key: expected timezone, a weekday "
                              f"({', '.join(WEEKDAYS)}), special or a date YYYY-MM-DD", key=key)
        if day in special:
            raise ConfigError(name, "date given twice", key=key)
        special[day] = _hours(name, v, key)
    return ScheduleConfig(timezone=tz, weekly=weekly, special=special)


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
                       publish_port: int | None = None, state_file: str | None = None,
                       persist: bool = True, key: str | None = None) -> ControllerSettings:
    """Resolve the controller's settings: flags, then environment, then venue file.

    The state file is ``state_file``, else ``EXHIBIT_STATE_FILE``, else
    ``<venue dir>/.exhibit/controller-<show id>.json``; ``persist=False`` runs without one.
    The CURVE secret key file is ``key``, else ``EXHIBIT_KEY``, else ``[security]
    controller_key`` (used only when ``curve`` is on).
    """
    from .sync.persist import default_state_file

    return ControllerSettings(
        venue=venue,
        show=show,
        host=_pick(host, "HOST", venue.network.host),
        state_port=_pick(state_port, "STATE_PORT", venue.network.state_port, int),
        publish_port=_pick(publish_port, "PUBLISH_PORT", venue.network.publish_port, int),
        state_file=_pick(state_file, "STATE_FILE",
                         default_state_file(venue.path or "venue.toml", show.id))
        if persist else None,
        key_file=_pick(key, "KEY", venue.security.controller_key or None),
    )


def resolve_peer(venue: VenueConfig | None, *, host: str | None = None,
                 state_port: int | None = None,
                 key: str | None = None) -> tuple[str, int, str | None]:
    """Where an operator or kiosk finds the controller and which CURVE key it uses, as
    ``(host, state_port, key_file)``: flags, then environment (``EXHIBIT_HOST``,
    ``EXHIBIT_STATE_PORT``, ``EXHIBIT_KEY``), then the venue file (if given), then the
    defaults."""
    net = venue.network if venue is not None else NetworkConfig()
    return (_pick(host, "HOST", net.host),
            _pick(state_port, "STATE_PORT", net.state_port, int),
            _pick(key, "KEY", None))


def resolve_node(venue: VenueConfig, display_id: str, *, host: str | None = None,
                 state_port: int | None = None, publish_port: int | None = None,
                 bundle_dir: str | None = None, headless: bool = False,
                 render_scale: float | None = None, frames: int | None = None,
                 capture_dir: str | None = None, status_path: str | None = None,
                 window_origin: tuple[int, int] | None = None,
                 key: str | None = None) -> NodeSettings:
    """Resolve a projector node's settings: flags, then environment, then venue file
    (``key``, this node's CURVE secret key file, falls back to ``EXHIBIT_KEY``)."""
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
        key_file=_pick(key, "KEY", None),
    )
