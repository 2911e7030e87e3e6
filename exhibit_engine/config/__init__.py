"""Venue and show files -> frozen dataclasses, and one settings object per role.

``venue.toml`` describes the hardware (the wall, its displays, the network, who may
talk to the controller); ``show.toml`` describes what plays (bundles and cue lists).
Both are read with :mod:`tomllib`, checked field by field, and every mistake is a
:class:`~exhibit_engine.errors.ConfigError` naming the file and the dotted key.

This package parses, and that is all: it reads no key file (``[security]`` names them;
:mod:`exhibit_engine.keys` loads them) and imports nothing above it.

- :mod:`._toml`: the TOML reader and the field-by-field table reader.
- :mod:`.venue`: wall, displays, warps, bundle policy -> :class:`VenueConfig`.
- :mod:`.network`: ``[network]``, a backup controller's ``[network.backup]`` ->
  :class:`NetworkConfig`.
- :mod:`.security`: ``[security]`` -> :class:`SecurityConfig` (key file paths).
- :mod:`.console`: ``[console]`` -> :class:`ConsoleConfig` (HTTP, OSC, token hashes).
- :mod:`.kiosk`: ``[[kiosks]]`` -> :class:`KioskConfig` (screen, language, idle warning,
  the operator PIN's hash).
- :mod:`.show`: cues, attract loop, standby, opening hours -> :class:`ShowConfig`.
- :mod:`.roles`: :class:`ControllerSettings` and :class:`NodeSettings`, resolved from
  flags, then environment (``EXHIBIT_<NAME>``), then the file, then the default.

The names below are the package's API: import them from ``exhibit_engine.config``.
"""

from .console import ConsoleConfig, ConsoleToken
from .kiosk import KioskConfig
from .network import ControllerEndpoint, NetworkConfig
from .roles import (
    ControllerSettings,
    NodeSettings,
    default_state_file,
    resolve_controller,
    resolve_node,
    resolve_peer,
)
from .security import SECURITY_ROLES, SecurityConfig
from .show import (
    MAX_DURATION_S,
    TRANSITIONS,
    WEEKDAYS,
    AttractConfig,
    BundleRef,
    CueConfig,
    ScheduleConfig,
    ShowConfig,
    load_show,
)
from .venue import (
    WALL_SHAPES,
    BundlePolicy,
    CornerPin,
    DisplayConfig,
    MeshWarp,
    VenueConfig,
    WallConfig,
    load_venue,
)

__all__ = [
    "AttractConfig",
    "BundlePolicy",
    "BundleRef",
    "ConsoleConfig",
    "ConsoleToken",
    "ControllerEndpoint",
    "ControllerSettings",
    "CornerPin",
    "CueConfig",
    "DisplayConfig",
    "KioskConfig",
    "MAX_DURATION_S",
    "MeshWarp",
    "NetworkConfig",
    "NodeSettings",
    "SECURITY_ROLES",
    "ScheduleConfig",
    "SecurityConfig",
    "ShowConfig",
    "TRANSITIONS",
    "VenueConfig",
    "WALL_SHAPES",
    "WEEKDAYS",
    "WallConfig",
    "default_state_file",
    "load_show",
    "load_venue",
    "resolve_controller",
    "resolve_node",
    "resolve_peer",
]
