"""``show.toml`` -> :class:`ShowConfig`: bundles, cue lists, the attract loop, standby and
opening hours.

``show.toml`` describes what plays. :func:`load_show` reads it with :mod:`tomllib`,
checks it field by field (every cue names a bundle of ``[[bundles]]``, a transition it
knows, a transition no longer than the cue) and turns every mistake into a
:class:`~exhibit_engine.errors.ConfigError` naming the file and the dotted key. Every
table is strict: an unknown key or table is refused with the nearest valid name. Times
are finite and bounded (a cue lasts at most :data:`MAX_DURATION_S`), so no time added
to a clock can overflow it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..errors import ConfigError
from ._toml import REQUIRED, Fields, nearest, read_toml

__all__ = [
    "AttractConfig",
    "BundleRef",
    "CueConfig",
    "MAX_DURATION_S",
    "START_MODES",
    "ScheduleConfig",
    "ShowConfig",
    "TRANSITIONS",
    "WEEKDAYS",
    "load_show",
]

#: The longest a cue (or standby, or the attract loop's idle wait) may last, in seconds
#: (about 11.6 days): a longer one is a typo, and 1e308 s would overflow a clock.
MAX_DURATION_S = 1e6

#: How a fresh show starts (``[control] start``): at once, or when every display is ready.
START_MODES = ("at-once", "when-ready")
#: The longest fade or GO guard ``[control]`` may ask for, in seconds.
_MAX_CONTROL_S = 600.0

#: The top-level tables of ``show.toml``.
_SHOW_TABLES = ("show", "bundles", "cues", "attract", "standby", "schedule", "control")
_CUE_KEYS = ("id", "bundle", "scene", "duration", "transition", "transition_time", "wait")

#: Transitions a cue may ask for.
TRANSITIONS = ("cut", "crossfade", "fade")

#: Weekday keys of ``[schedule]``, Monday first (``date.weekday()`` order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
        start: ``"at-once"`` (the show starts when the controller does) or
            ``"when-ready"`` (a fresh show holds at its start until every display of the
            venue reports ready, or an operator sends ``start --force``).
        ready_timeout_s: with ``"when-ready"``, start anyway after this many seconds
            (``0``: wait for every display, or the operator, however long).
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
    start: str = "at-once"
    ready_timeout_s: float = 0.0

    def bundle(self, bundle_id: str) -> BundleRef:
        """Return the bundle reference with this id.

        Raises:
            ConfigError: the show names no such bundle.
        """
        for b in self.bundles:
            if b.id == bundle_id:
                return b
        raise ConfigError(self.path or "show", f"no bundle {bundle_id!r}", key="bundles")


def load_show(path: str | os.PathLike[str]) -> ShowConfig:
    """Read and check a ``show.toml``.

    Raises:
        ConfigError: the file is missing, is not TOML, or breaks a rule.
    """
    name, data = read_toml(path)
    top = Fields(name, data, "").only(*_SHOW_TABLES)
    show = Fields(name, top.get("show", REQUIRED), "show").only("id", "title", "loop")
    title = show.get("title", {})
    if not isinstance(title, dict) or not all(isinstance(v, str) for v in title.values()):
        raise ConfigError(name, "must be a table of language = text", key="show.title")
    bundles = []
    for i, raw in enumerate(top.tables("bundles")):
        b = Fields(name, raw, f"bundles[{i}]").only("id", "file")
        bundles.append(BundleRef(id=b.str("id"), file=b.str("file")))
    ids = {b.id for b in bundles}
    if len(ids) != len(bundles):
        raise ConfigError(name, "bundle ids must be unique", key="bundles")
    cues = _cue_list(name, top.tables("cues"), "cues", ids, {}, "cue")
    control = Fields(name, data.get("control", {}), "control").only(
        "go_guard_s", "blackout_fade_s", "panic_fade_s", "start", "ready_timeout_s")
    ctl = {"minimum": 0.0, "maximum": _MAX_CONTROL_S, "unit": " s"}
    start = control.str("start", "at-once")
    if start not in START_MODES:
        near = nearest(start, START_MODES)
        raise ConfigError(name, f"start must be one of {', '.join(map(repr, START_MODES))}, "
                          f"not {start!r}" + (f" (did you mean {near!r}?)" if near else ""),
                          key="control.start")
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
        go_guard_s=control.num("go_guard_s", 0.5, **ctl),
        blackout_fade_s=control.num("blackout_fade_s", 2.0, **ctl),
        panic_fade_s=control.num("panic_fade_s", 1.0, **ctl),
        start=start,
        ready_timeout_s=control.num("ready_timeout_s", 0.0, minimum=0.0, maximum=86400.0,
                                    unit=" s"),
    )


def _cue(name: str, raw: Any, key: str, ids: set[str], default_id: str) -> CueConfig:
    """One cue table, checked."""
    c = Fields(name, raw, key).only(*_CUE_KEYS)
    cue = CueConfig(
        id=c.str("id", default_id),
        bundle=c.str("bundle"),
        scene=c.str("scene"),
        duration=c.num("duration", positive=True, maximum=MAX_DURATION_S, unit=" s"),
        transition=c.str("transition", "cut"),
        transition_time=c.num("transition_time", 0.0, minimum=0.0, maximum=MAX_DURATION_S,
                              unit=" s"),
        wait=c.bool("wait", False),
    )
    if cue.bundle not in ids:
        raise ConfigError(name, f"names bundle {cue.bundle!r}, which [[bundles]] lacks",
                          key=f"{key}.bundle")
    if cue.transition not in TRANSITIONS:
        near = nearest(cue.transition, TRANSITIONS)
        hint = f", did you mean `{near}`?" if near else ""
        raise ConfigError(name, f"must be one of {', '.join(TRANSITIONS)}{hint}",
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
    t = Fields(name, data["attract"], "attract").only("idle_after", "cues", "loop")
    return AttractConfig(
        idle_after=t.num("idle_after", positive=True, maximum=MAX_DURATION_S, unit=" s"),
        cues=_cue_list(name, t.tables("cues"), "attract.cues", ids, known, "attract"),
        loop=t.bool("loop", True),
    )


def _standby(name: str, data: Mapping[str, Any], ids: set[str]) -> CueConfig | None:
    """``[standby]``: the scene outside opening hours (absent: the wall goes black)."""
    if "standby" not in data:
        return None
    t = Fields(name, data["standby"], "standby").only("id", "bundle", "scene", "duration")
    cue = CueConfig(id=t.str("id", "standby"), bundle=t.str("bundle"), scene=t.str("scene"),
                    duration=t.num("duration", 600.0, positive=True, maximum=MAX_DURATION_S,
                                   unit=" s"))
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

    t = Fields(name, data["schedule"], "schedule")
    # Special days: "YYYY-MM-DD" keys in [schedule.special], or directly in [schedule].
    # Every other key is checked before the required timezone, so `timezon` is a typo.
    sp = Fields(name, t.table.get("special", {}), "schedule.special")
    days = [(f"schedule.special.{k}", k, v) for k, v in sp.table.items()]
    days += [(f"schedule.{k}", k, v) for k, v in t.table.items()
             if k not in ("timezone", "special", *WEEKDAYS)]
    special_days: list[tuple[str, date, Any]] = []
    for key, k, v in days:
        try:
            day = date.fromisoformat(k) if len(k) == 10 and k[4] == "-" else None
        except ValueError:
            day = None
        if day is None:
            near = nearest(k, ("timezone", "special", *WEEKDAYS))
            if near:
                raise ConfigError(name, f"unknown key, did you mean `{near}`?", key=key)
            raise ConfigError(name, "unknown key: expected timezone, a weekday "
                              f"({', '.join(WEEKDAYS)}), special or a date YYYY-MM-DD", key=key)
        special_days.append((key, day, v))
    tz = t.str("timezone")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(name, f"unknown time zone {tz!r} (an IANA name such as "
                          f"\"Europe/Berlin\")", key="schedule.timezone") from None
    weekly = tuple(_hours(name, t.table[d], f"schedule.{d}") if d in t.table else None
                   for d in WEEKDAYS)
    special: dict[date, tuple[int, int] | None] = {}
    for key, day, v in special_days:
        if day in special:
            raise ConfigError(name, "date given twice", key=key)
        special[day] = _hours(name, v, key)
    return ScheduleConfig(timezone=tz, weekly=weekly, special=special)
