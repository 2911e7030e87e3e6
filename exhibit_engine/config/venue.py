"""``venue.toml`` -> :class:`VenueConfig`: the wall, its displays and their warps, the
network, the bundle policy, the operator's console and the visitor kiosks.

``venue.toml`` describes the hardware. :func:`load_venue` reads it with
:mod:`tomllib`, checks it field by field (each display against the wall, each warp
against its display's pixels) and turns every mistake into a
:class:`~exhibit_engine.errors.ConfigError` naming the file and the dotted key. Every
table is strict: an unknown key or table is refused with the nearest valid name. The
``[security]`` table is parsed by :mod:`.security`, ``[console]`` by :mod:`.console` and
``[[kiosks]]`` by :mod:`.kiosk`; no key file is read here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._toml import REQUIRED, Fields, nearest, read_toml
from .console import ConsoleConfig, parse_console
from .kiosk import KioskConfig, parse_kiosks
from .network import NetworkConfig, parse_network
from .security import SecurityConfig, parse_security

__all__ = [
    "BundlePolicy",
    "CornerPin",
    "DisplayConfig",
    "MeshWarp",
    "VenueConfig",
    "WALL_SHAPES",
    "WallConfig",
    "load_venue",
]

#: The wall shapes a venue may use.
WALL_SHAPES = ("flat", "cylinder")


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
    """A whole venue, as :func:`load_venue` reads it.

    Attributes:
        id: the venue's id (``[venue] id``).
        name: its name for people.
        wall: the projection wall.
        displays: every display, in file order.
        network: where the controller listens.
        path: the ``venue.toml`` it was read from (``""``: made in code).
        bundles: which bundles the nodes accept.
        security: who may talk to the controller (key file paths; see :mod:`.security`).
        console: the operator's HTTP API and OSC (see :mod:`.console`).
        kiosks: the visitor kiosks, in file order (see :mod:`.kiosk`).
    """

    id: str
    name: str
    wall: WallConfig
    displays: tuple[DisplayConfig, ...]
    network: NetworkConfig
    path: str = ""
    bundles: BundlePolicy = BundlePolicy()
    security: SecurityConfig = SecurityConfig()
    console: ConsoleConfig = ConsoleConfig()
    kiosks: tuple[KioskConfig, ...] = ()

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

    def kiosk(self, kiosk_id: str) -> KioskConfig:
        """Return the kiosk with this id.

        Raises:
            ConfigError: no ``[[kiosks]]`` table has that id (the message lists the
                known ids and the nearest one).
        """
        for k in self.kiosks:
            if k.id == kiosk_id:
                return k
        if not self.kiosks:
            raise ConfigError(self.path or "venue", f"no kiosk {kiosk_id[:64]!r}: the venue "
                              "has no [[kiosks]] table", key="kiosks")
        ids = [k.id for k in self.kiosks]
        near = nearest(kiosk_id, ids)
        hint = f", did you mean `{near}`?" if near else ""
        raise ConfigError(self.path or "venue", f"no kiosk {kiosk_id[:64]!r} (known: "
                          f"{', '.join(ids)}){hint}", key="kiosks")


def _wall(name: str, t: Fields) -> WallConfig:
    """The ``[wall]`` table: a flat wall, or a cylinder given by radius and angle or width."""
    t.only("shape", "width", "height", "eye", "radius", "angle")
    shape = t.str("shape", "flat")
    if shape not in WALL_SHAPES:
        raise ConfigError(name, f"unsupported wall shape {shape!r} (supported: "
                          f"{', '.join(WALL_SHAPES)})", key="wall.shape")
    radius = 0.0
    if shape == "cylinder":
        radius = t.num("radius", positive=True, maximum=_MAX_WALL_M, unit=" m")
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
            width = t.num("width", positive=True, maximum=_MAX_WALL_M, unit=" m")
            if width > math.pi * radius + 1e-9:
                raise ConfigError(name, "a cylinder wall spans at most 180 degrees "
                                  "(arc length at most pi x radius)", key="wall.width")
    else:
        for extra in ("radius", "angle"):
            if extra in t.table:
                raise ConfigError(name, "only a cylinder wall has this key",
                                  key=f"wall.{extra}")
        width = t.num("width", positive=True, maximum=_MAX_WALL_M, unit=" m")
    wall = WallConfig(width=width, height=t.num("height", positive=True, maximum=_MAX_WALL_M,
                                                unit=" m"),
                      eye=t.vec("eye", 3), shape=shape, radius=radius)
    if wall.eye[2] <= 0:
        raise ConfigError(name, "eye distance (third value) must be greater than 0",
                          key="wall.eye")
    if any(abs(c) > _MAX_WALL_M for c in wall.eye):
        raise ConfigError(name, f"eye coordinates must be within {_MAX_WALL_M:g} m",
                          key="wall.eye")
    if shape == "cylinder" and wall.eye[2] >= 2 * radius:
        raise ConfigError(name, "eye distance must be less than the cylinder's diameter",
                          key="wall.eye")
    return wall


#: The largest wall size, radius or eye coordinate a venue may give (m).
_MAX_WALL_M = 1000.0
_BLEND_SIDES = ("left", "right", "top", "bottom")
_DISPLAY_KEYS = ("id", "pixels", "rect", "blend", "gamma", "blend_exponent", "black_level",
                 "warp")
_PIN_CORNERS = ("top_left", "top_right", "bottom_right", "bottom_left")
_MESH_KEYS = ("rows", "cols", "points")


def _point(name: str, value: Any, key: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in value)
            or not all(math.isfinite(x) for x in value)):
        raise ConfigError(name, "must be a point [x, y] in output pixels", key=key)
    return float(value[0]), float(value[1])


def _warp(name: str, t: Fields, pixels: tuple[int, int]) -> CornerPin | MeshWarp:
    """A display's ``warp`` table: ``kind = "corner_pin"`` or ``kind = "mesh"``."""
    t.only("kind", *_PIN_CORNERS, *_MESH_KEYS)   # a misspelt `kind` is a typo, not missing
    kind = t.str("kind")
    w, h = pixels
    limit = 4 * max(w, h)  # a point far outside the output is a typo, not a warp
    if kind == "corner_pin":
        t.only("kind", *_PIN_CORNERS)
        pts = [_point(name, t.get(c, REQUIRED), t.key(c)) for c in _PIN_CORNERS]
        key = t.key("top_left")
        warp: CornerPin | MeshWarp = CornerPin(*pts)
    elif kind == "mesh":
        t.only("kind", *_MESH_KEYS)
        rows, cols = (t.get(k, REQUIRED) for k in ("rows", "cols"))
        for k, v in (("rows", rows), ("cols", cols)):
            if isinstance(v, bool) or not isinstance(v, int) or not 2 <= v <= 64:
                raise ConfigError(name, "must be a whole number 2-64", key=t.key(k))
        raw = t.get("points", REQUIRED)
        key = t.key("points")
        if not isinstance(raw, list) or len(raw) != rows * cols:
            raise ConfigError(name, f"must list rows x cols = {rows * cols} points [x, y], "
                              "row by row from the top-left", key=key)
        pts = [_point(name, v, f"{key}[{j}]") for j, v in enumerate(raw)]
        warp = MeshWarp(rows=rows, cols=cols, points=tuple(pts))
    else:
        raise ConfigError(name, f"unknown warp kind {kind!r} (corner_pin or mesh)",
                          key=t.key("kind"))
    if any(not -limit <= c <= limit for p in pts for c in p):
        raise ConfigError(name, f"a warp point lies more than {limit} pixels outside the "
                          "output", key=key)
    return warp


def _display(name: str, d: Fields, wall: WallConfig) -> DisplayConfig:
    """One ``[[displays]]`` table, checked against the wall."""
    d.only(*_DISPLAY_KEYS)
    did = d.str("id")
    px = d.vec("pixels", 2, integer=True)
    if not all(16 <= p <= 16384 for p in px):
        raise ConfigError(name, "pixel sizes must be 16-16384", key=d.key("pixels"))
    rect = d.vec("rect", 4)
    if rect[2] <= 0 or rect[3] <= 0:
        raise ConfigError(name, "rect width and height must be greater than 0",
                          key=d.key("rect"))
    eps = 1e-9
    if (rect[0] < -eps or rect[1] < -eps or rect[0] + rect[2] > wall.width + eps
            or rect[1] + rect[3] > wall.height + eps):
        raise ConfigError(name, f"display {did!r} reaches outside the "
                          f"{wall.width:g} x {wall.height:g} m wall", key=d.key("rect"))
    blend = [0.0, 0.0, 0.0, 0.0]
    if "blend" in d.table:
        b = Fields(name, d.table["blend"], d.key("blend")).only(*_BLEND_SIDES)
        for j, side in enumerate(_BLEND_SIDES):
            blend[j] = b.num(side, 0.0, minimum=0.0)
        for j, side in enumerate(_BLEND_SIDES):
            if blend[j] > rect[2 + j // 2] + eps:
                raise ConfigError(name, f"a {blend[j]:g} m blend is wider than the display "
                                  f"({rect[2 + j // 2]:g} m)", key=b.key(side))
    gamma = d.num("gamma", 2.2)
    if not 1.0 <= gamma <= 3.0:
        raise ConfigError(name, "must be between 1 and 3", key=d.key("gamma"))
    exponent = d.num("blend_exponent", 2.0)
    if not 0.5 <= exponent <= 8.0:
        raise ConfigError(name, "must be between 0.5 and 8", key=d.key("blend_exponent"))
    black = d.num("black_level", 0.0)
    if not 0.0 <= black <= 0.1:
        raise ConfigError(name, "must be between 0 and 0.1", key=d.key("black_level"))
    warp = None
    if "warp" in d.table:
        warp = _warp(name, Fields(name, d.table["warp"], d.key("warp")), px)
    return DisplayConfig(id=did, pixels=px, rect=rect, blend=tuple(blend),  # type: ignore[arg-type]
                         gamma=gamma, blend_exponent=exponent, black_level=black, warp=warp)


#: The top-level tables of ``venue.toml``.
_VENUE_TABLES = ("venue", "wall", "network", "displays", "bundles", "security", "console",
                 "kiosks")


def load_venue(path: str | os.PathLike[str]) -> VenueConfig:
    """Read and check a ``venue.toml``.

    Raises:
        ConfigError: the file is missing, is not TOML, or breaks a rule.
    """
    name, data = read_toml(path)
    top = Fields(name, data, "").only(*_VENUE_TABLES)
    venue = Fields(name, data.get("venue", {}), "venue").only("id", "name")
    wall = _wall(name, Fields(name, top.get("wall", REQUIRED), "wall"))
    network = parse_network(name, data.get("network", {}))

    displays = []
    seen: set[str] = set()
    for i, raw in enumerate(top.tables("displays")):
        display = _display(name, Fields(name, raw, f"displays[{i}]"), wall)
        if display.id in seen:
            raise ConfigError(name, f"duplicate display id {display.id!r}",
                              key=f"displays[{i}].id")
        seen.add(display.id)
        displays.append(display)
    policy_t = Fields(name, data.get("bundles", {}), "bundles").only(
        "trusted_keys", "require_signed")
    keys = policy_t.get("trusted_keys", [])
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
        security=parse_security(name, data.get("security", {}),
                                tuple(d.id for d in displays)),
        console=parse_console(name, data.get("console", {})),
        kiosks=parse_kiosks(name, data.get("kiosks", []), tuple(d.id for d in displays)),
    )
