"""``exhibit kiosk app --script FILE``: a timed list of touches, played like a visitor.

A script is TOML::

    clock = "real"            # or "virtual": script time advances 1/30 s per frame,
                              # so a long script plays as fast as frames draw
    size = [1280, 800]        # optional: the window, as --window gives it

    [[steps]]
    tap = "lang:ru"           # a control by name (what the page declares; see below)
    [[steps]]
    tap = [640, 400]          # or a point, pixels from the top-left
    [[steps]]
    wait = 1.5                # seconds of script time
    [[steps]]
    screenshot = "item-ru"    # writes <out>/item-ru.png
    [[steps]]
    until = "screen:item"     # wait for a condition (timeout s, default 10), else fail:
    timeout = 5               #   screen:NAME, online, offline, wall:ITEM (the wall's
                              #   selection), program:NAME (main, attract, standby),
                              #   feedback:STATE (sending, moving, on_wall, refused, offline)
    [[steps]]
    random_taps = 1000        # taps at random points, spread evenly over `over` s
    over = 60.0
    seed = 1

Control names: ``explore`` (the attract page), ``lang:zh``/``lang:en``/``lang:ru``,
``item:ID`` (a card), ``back``, ``show``, ``zoom:in``/``zoom:out``, ``prev:BUNDLE``/
``next:BUNDLE``, ``staff`` (the hidden corner), ``pin:0``..``pin:9``, ``pin:OK``,
``cancel``, ``resume``, ``exit``. Tapping a name the page does not show fails the script.

:func:`load_script` checks everything before the app starts: one error naming the file,
the step and the rule.
"""

from __future__ import annotations

import json
import logging
import math
import random
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.paths import write_atomic
from ..errors import ConfigError

log = logging.getLogger("exhibit_engine.kiosk")

__all__ = ["CLOCKS", "CONDITIONS", "MAX_STEPS", "Player", "Script", "Step", "load_script"]

#: How script time runs.
CLOCKS = ("real", "virtual")
#: What ``until`` may wait for (a prefix, then a value where it takes one).
CONDITIONS = ("screen:", "online", "offline", "wall:", "program:", "feedback:")
#: The most steps a script may have (random taps count one each).
MAX_STEPS = 100_000
_KEYS = {"tap", "wait", "screenshot", "until", "timeout", "random_taps", "over", "seed"}


@dataclass(frozen=True)
class Step:
    """One step: ``kind`` is ``tap``, ``wait``, ``screenshot``, ``until`` or
    ``random_taps``; ``value`` what it names; ``seconds`` a wait, timeout or span."""

    kind: str
    value: Any
    seconds: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class Script:
    """A checked script."""

    path: str
    clock: str
    steps: tuple[Step, ...]
    size: tuple[int, int] | None = None


def _num(name: str, where: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not lo <= value <= hi:
        raise ConfigError(name, f"must be a number from {lo:g} to {hi:g}, not {value!r}",
                          key=where)
    return float(value)


def load_script(path: str | Path) -> Script:
    """Read and check a script file.

    Raises:
        ConfigError: the file is unreadable, not TOML, or a step breaks a rule.
    """
    name = str(path)
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(name, f"cannot be read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(name, f"is not valid TOML ({exc})") from None
    unknown = set(doc) - {"clock", "steps", "size"}
    if unknown:
        raise ConfigError(name, "unknown key (a script has clock, size and [[steps]])",
                          key=sorted(unknown)[0])
    clock = doc.get("clock", "real")
    if clock not in CLOCKS:
        raise ConfigError(name, f"must be one of {', '.join(CLOCKS)}, not {clock!r}",
                          key="clock")
    size = doc.get("size")
    if size is not None:
        if not (isinstance(size, list) and len(size) == 2
                and all(isinstance(v, int) and 64 <= v <= 8192 for v in size)):
            raise ConfigError(name, "must be [width, height], 64 to 8192 pixels", key="size")
        size = (size[0], size[1])
    raw = doc.get("steps", [])
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise ConfigError(name, "must be an array of tables ([[steps]])", key="steps")
    steps, count = [], 0
    for i, s in enumerate(raw):
        steps.append(_step(name, f"steps[{i}]", s))
        count += int(steps[-1].value) if steps[-1].kind == "random_taps" else 1
    if count > MAX_STEPS:
        raise ConfigError(name, f"has {count} steps, more than {MAX_STEPS}", key="steps")
    return Script(name, clock, tuple(steps), size)


def _step(name: str, where: str, s: dict[str, Any]) -> Step:
    bad = set(s) - _KEYS
    if bad:
        raise ConfigError(name, f"unknown key (one of {', '.join(sorted(_KEYS))})",
                          key=f"{where}.{sorted(bad)[0]}")
    kinds = [k for k in ("tap", "wait", "screenshot", "until", "random_taps") if k in s]
    if len(kinds) != 1:
        raise ConfigError(name, "needs exactly one of tap, wait, screenshot, until, "
                          "random_taps", key=where)
    kind, value = kinds[0], s[kinds[0]]
    if kind == "tap":
        if isinstance(value, list):
            if not (len(value) == 2 and all(isinstance(v, (int, float))
                                            and not isinstance(v, bool) and math.isfinite(v)
                                            and 0 <= v <= 8192 for v in value)):
                raise ConfigError(name, "a point is [x, y] in pixels", key=f"{where}.tap")
            return Step("tap", (float(value[0]), float(value[1])))
        if not isinstance(value, str) or not 0 < len(value) <= 200:
            raise ConfigError(name, "must name a control or give [x, y]", key=f"{where}.tap")
        return Step("tap", value)
    if kind == "wait":
        return Step("wait", None, _num(name, f"{where}.wait", value, 0.0, 3600.0))
    if kind == "screenshot":
        from ..config.paths import check_file_name

        why = check_file_name(value) if isinstance(value, str) else "must be a string"
        if why is not None:
            raise ConfigError(name, f"the file name {why}", key=f"{where}.screenshot")
        return Step("screenshot", value)
    if kind == "until":
        if not isinstance(value, str) or not any(
                value == c or (c.endswith(":") and value.startswith(c) and len(value) > len(c))
                for c in CONDITIONS):
            raise ConfigError(name, "must be screen:NAME, online, offline, wall:ITEM, "
                              "program:NAME or feedback:STATE", key=f"{where}.until")
        return Step("until", value, _num(name, f"{where}.timeout", s.get("timeout", 10.0),
                                          0.0, 3600.0))
    n = s["random_taps"]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_STEPS:
        raise ConfigError(name, f"must be a count from 1 to {MAX_STEPS}",
                          key=f"{where}.random_taps")
    seed = s.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(name, "must be an integer", key=f"{where}.seed")
    return Step("random_taps", n, _num(name, f"{where}.over", s.get("over", n / 10.0),
                                        0.0, 36000.0), seed)


class Player:
    """Plays a script's steps against a running :class:`~.app.KioskApp`, one frame at a
    time: :meth:`step` once per frame, before the frame is drawn."""

    def __init__(self, app: Any, script: Script) -> None:
        self.app, self.steps = app, list(script.steps)
        self.i, self.since = 0, None
        self.rng: random.Random | None = None
        self.done_taps = 0

    def step(self) -> bool:
        """Play what is due now; True once the script is over (or failed)."""
        app = self.app
        while self.i < len(self.steps):
            st = self.steps[self.i]
            if self.since is None:
                self.since = app.t
            if not self._play(st):
                return False
            self.i, self.since, self.rng, self.done_taps = self.i + 1, None, None, 0
            if st.kind in ("tap", "random_taps"):
                return False              # let the page redraw before the next step
        return True

    def _fail(self, why: str) -> None:
        self.app.failed_step = f"steps[{self.i}]: {why}"
        log.error("kiosk script: %s", self.app.failed_step)
        self.app.stop.set()

    def _play(self, st: Step) -> bool:
        app, elapsed = self.app, self.app.t - (self.since or self.app.t)
        if st.kind == "tap":
            if isinstance(st.value, tuple):
                app.tap(*st.value)
            else:
                c = app.front.named(st.value)
                if c is None:
                    self._fail(f"no control {st.value!r} on the {app.session.screen} page "
                               f"(it has {', '.join(x.name for x in app.front.controls)})")
                    return False
                app.tap(*c.centre)
            return True
        if st.kind == "wait":
            return elapsed >= st.seconds
        if st.kind == "screenshot":
            path = app.setup.out_dir / f"{st.value}.png"
            img = app.renderer.snapshot()
            from io import BytesIO
            buf = BytesIO()
            img.save(buf, format="PNG")
            write_atomic(path, buf.getvalue(), parents=True)
            app.screenshots.append(str(path))
            return True
        if st.kind == "until":
            if self._holds(st.value):
                return True
            if elapsed > st.seconds:
                self._fail(f"{st.value} did not hold within {st.seconds:g} s "
                           f"(state: {json.dumps(app.state())[:300]})")
            return False
        # random taps, spread evenly over `over` seconds
        if self.rng is None:
            self.rng = random.Random(st.seed)
        w, h = app.setup.size
        due = st.value if st.seconds <= 0 else min(st.value, int(elapsed / st.seconds
                                                                 * st.value) + 1)
        while self.done_taps < due:
            app.tap(self.rng.uniform(0, w), self.rng.uniform(0, h))
            self.done_taps += 1
        return self.done_taps >= st.value and elapsed >= st.seconds

    def _holds(self, cond: str) -> bool:
        app, s = self.app, self.app.session
        if cond in ("online", "offline"):       # as the page drawn last shows it
            return s.online == (cond == "online")
        kind, _, value = cond.partition(":")
        if kind == "screen":
            return s.screen == value
        if kind == "feedback":
            return s.feedback is not None and s.feedback.state == value
        show = (app.setup.link.status or {}).get("show") or {}
        if kind == "program":
            return show.get("program") == value
        return show.get("selected_item") == value
