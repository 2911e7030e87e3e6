"""``exhibit kiosk app``: the visitor's touch app, a Panda3D peer with the role ``kiosk``.

One process: the renderer's window (or offscreen buffer, ``--headless``) with two pixel
canvases around its 3-D view (:mod:`.ui`), the catalogue of the show's bundles
(:mod:`.catalogue`), the pictures (:mod:`.media`), the session's rules (:mod:`.session`),
the pages (:mod:`.pages`) and the controller link, whose thread alone touches the
network (:mod:`.link`). Each frame: play the script's due steps (``--script``), take the
window's touches, advance the session, send what it asks (each tap's id with it), redraw
the page if it changed, animate, draw.

A kiosk never stops for a visitor: the window's close button and keys do nothing, an
error inside a frame is logged and the kiosk starts again from its attract page, and only
the staff page (behind the venue's PIN) or a signal ends it. ``--status-file`` is
rewritten ten times a second (page, language, online, the wall's selection) and
``--report`` is written at the end of a script (frame times, taps, requests per tap).
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.paths import write_atomic
from ..errors import ExhibitError
from . import pages
from .catalogue import Catalogue, Item
from .iiif import Pyramid, parse_info
from .media import THUMB_PX, THUMB_T, Media, item_view
from .script import Player, Script
from .session import Session
from .strings import ui_font_bytes
from .ui import Canvas

__all__ = ["KioskApp", "KioskSetup", "VIRTUAL_DT"]

log = logging.getLogger("exhibit_engine.kiosk")

#: Script time per frame with a script's `clock = "virtual"`.
VIRTUAL_DT = 1.0 / 30.0
_FRAME_S = 1.0 / 30.0
_STATUS_EVERY_S = 0.1


@dataclass
class KioskSetup:
    """Everything the app needs, resolved by the CLI.

    Attributes:
        kiosk_id: this kiosk's id (its hello's node id).
        catalogue: the show's items (bundles open).
        show_title: the show's title by language.
        languages: what the language switch offers (the show's, in the kiosk's order).
        language: the kiosk's first language.
        idle_after: seconds before the attract page.
        idle_warning_s: how long before that the warning shows.
        wall_language: whether the switch also sets the wall's language.
        check_pin: tells a right PIN, or ``None`` (no PIN set).
        min_target_px: the smallest touch target on the kiosk's screen.
        body_px: the smallest body text on it (18 pt at its dpi).
        screen: the kiosk's screen size in pixels.
        size: the output size (the window, or the screen in full screen).
        link: a started-or-not :class:`~.link.KioskLink` (or anything with its API).
        controller: the controller's address, as the staff page shows it.
    """

    kiosk_id: str
    catalogue: Catalogue
    show_title: dict[str, str]
    languages: tuple[str, ...]
    language: str
    idle_after: float
    idle_warning_s: float
    wall_language: bool
    check_pin: Any
    min_target_px: float
    screen: tuple[int, int]
    size: tuple[int, int]
    link: Any
    controller: str = ""
    body_px: float = 24.0
    window: bool = False
    fullscreen: bool = False
    cache_dir: Path | None = None
    script: Script | None = None
    out_dir: Path = Path(".")
    report: Path | None = None
    status_file: Path | None = None
    started: float = field(default_factory=time.monotonic)


class _View(pages.View):
    """The pages' view of the app (fonts, textures, the 3-D view)."""

    def __init__(self, app: KioskApp) -> None:
        self.app = app
        self._fonts: dict[str, Any] = {}
        self._covers: dict[tuple[str, str], bool] = {}

    def font(self, item: Item | None, text_: str) -> Any:
        from ..scenes.labels import missing_chars

        if item is None:
            return self.ui_font
        key = (item.bundle, text_)
        font = self._fonts.get(item.bundle)
        if font is None:
            return self.ui_font
        if key not in self._covers:
            self._covers[key] = not missing_chars(text_, font)
        return font if self._covers[key] else self.ui_font

    def any_font(self, text_: str, fallback: str) -> tuple[str, Any]:
        from ..scenes.labels import missing_chars

        for font in (self.ui_font, *self._fonts.values()):
            if not missing_chars(text_, font):
                return text_, font
        return fallback, self.ui_font

    def thumb(self, item: Item) -> Any:
        return self.app.media.thumb(item)

    def set_scene(self, item: Item | None, rect: tuple[float, float, float, float] | None
                  ) -> bool:
        return self.app.want_scene(item, rect)

    def picture(self, item: Item) -> Any:
        return self.app.media.picture(item)

    def pyramid(self, item: Item) -> Pyramid | None:
        return self.app.pyramid(item)

    def tile(self, item: Item, path: str) -> Any:
        return self.app.media.tile(item, path)

    def block(self, item: Item, k: int) -> Any:
        return self.app.media.block(item, k)


class KioskApp:
    """The kiosk (see the module docstring)."""

    def __init__(self, setup: KioskSetup) -> None:
        from ..runtime.render import Renderer
        from ..scenes.labels import load_font

        self.setup = s = setup
        self.script = s.script
        self.virtual = s.script is not None and s.script.clock == "virtual"
        self.t = 0.0 if self.virtual else time.monotonic()
        self.t0 = self.t
        self.renderer = Renderer(s.size, window=s.window, title=f"Exhibit Engine kiosk "
                                 f"{s.kiosk_id}", cache_dir=s.cache_dir)
        self._input: Any = None
        if s.window:
            self._window_setup(s.fullscreen)
        out = self.renderer.output
        self.back = Canvas(out, s.size, -10, "back")
        self.front = Canvas(out, s.size, 10, "front")
        v = self.view = _View(self)
        v.back, v.front = self.back, self.front
        v.m = pages.Metrics.of(s.size, s.min_target_px, s.screen[1], s.body_px)
        self.front.min_text = v.m.body * 14.0 / 18.0     # 14 pt: the smallest text
        v.ui_font = load_font(ui_font_bytes(), "kiosk UI font", pixels_per_em=96)
        for bundle, path in s.catalogue.fonts.items():
            try:
                v._fonts[bundle] = load_font(s.catalogue.bundles[bundle].read(path), path,
                                             pixels_per_em=96)
            except ExhibitError as exc:
                log.warning("kiosk: %s's font: %s", bundle, exc)
        v.items = list(s.catalogue)
        v.groups = [(g.bundle, dict(g.title), list(g.items)) for g in s.catalogue.groups]
        v.show_title, v.kiosk_id, v.controller = s.show_title, s.kiosk_id, s.controller
        self.media = Media(s.catalogue, s.cache_dir or Path(".exhibit-cache"))
        self.session = Session(s.languages, s.language, s.idle_after, s.idle_warning_s,
                               s.wall_language, touch_every_s=min(5.0, s.idle_after / 8.0),
                               check_pin=s.check_pin, now=self.t)
        v.session = self.session
        self._scene: tuple[str, str] | None = None     # (bundle, item) built
        self._scene_rect: tuple[float, float, float, float] | None = None
        self._no_view: set[tuple[str, str]] = set()     # items whose view failed to build
        self._opened = 0.0
        self._drawn: tuple[Any, ...] | None = None
        self._animate: pages.Animate | None = None
        self._pyramids: dict[tuple[str, str], Pyramid | None] = {}
        self.frames = 0
        self.screens: dict[str, int] = {}          # frames drawn of each page
        self.frame_ms: list[float] = []
        self.taps = 0
        self.requests: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.faults = 0
        self.failed_step: str | None = None
        self.first_attract_s: float | None = None
        self.screenshots: list[str] = []
        self.stop = threading.Event()
        self._status_at = -1.0

    # -- window -------------------------------------------------------------------------

    def _window_setup(self, fullscreen: bool) -> None:
        from panda3d.core import (ButtonThrower, DataGraphTraverser, MouseAndKeyboard,
                                  MouseWatcher, NodePath, WindowProperties)

        win = self.renderer.output
        win.set_close_request_event("kiosk-close-request")    # the close button: ignored
        props = WindowProperties()
        props.set_cursor_hidden(fullscreen)
        if fullscreen:
            props.set_fullscreen(True)
            props.set_undecorated(True)
        win.request_properties(props)
        root = NodePath("kiosk-data")
        mk = root.attach_new_node(MouseAndKeyboard(win, 0, "mouse"))
        mw = mk.attach_new_node(MouseWatcher("kiosk-watcher"))
        mw.attach_new_node(ButtonThrower("kiosk-buttons"))
        self._input = (root, DataGraphTraverser(), win)

    def _window_taps(self) -> list[tuple[float, float]]:
        from panda3d.core import EventQueue

        if self._input is None:
            return []
        root, trav, win = self._input
        trav.traverse(root.node())
        queue, taps = EventQueue.get_global_event_queue(), []
        while not queue.is_queue_empty():
            ev = queue.dequeue_event()
            if ev.name == "mouse1":          # a touch screen's tap arrives as this
                p = win.get_pointer(0)
                if p.get_in_window():
                    taps.append((float(p.get_x()), float(p.get_y())))
        return taps

    # -- pictures and the 3-D view -------------------------------------------------------

    def want_scene(self, item: Item | None, rect: tuple[float, float, float, float] | None
                   ) -> bool:
        """Show ``item``'s live view in ``rect`` (pixels), or none; False when the item
        has none that can be built (it is tried once)."""
        if item is None or rect is None:
            self._scene_rect = None
            return False
        key = (item.bundle, item.id)
        if key in self._no_view:
            self._scene_rect = None
            return False
        if self._scene != key:
            view = item_view(self.setup.catalogue, item)
            if view is None:
                self._scene_rect = None
                return False
            try:
                self.renderer.load(*view)
            except ExhibitError as exc:
                log.warning("kiosk: no 3-D view of %s: %s", item.id, exc)
                self._no_view.add(key)
                self._scene, self._scene_rect = None, None
                return False
            self._scene, self._opened = key, self.t
        self._scene_rect = rect
        w, h = self.setup.size
        x, y, rw, rh = rect
        self.renderer.set_viewport(x / w, (x + rw) / w, 1.0 - (y + rh) / h, 1.0 - y / h)
        return True

    def _scene_state(self, item: str) -> tuple[float, dict[str, Any]]:
        # the camera has just reached the item when the page opens, then it turns
        return (100.0 + self.t - self._opened,
                {"selected_item": item, "selected_at": 100.0 - 3.5,
                 "language": self.session.current})

    def pyramid(self, item: Item) -> Pyramid | None:
        """A print's IIIF pyramid (its ``info.json`` read once), or ``None``."""
        key = (item.bundle, item.id)
        if key not in self._pyramids:
            p = None
            if item.iiif is not None:
                try:
                    p = parse_info(self.setup.catalogue.read(item, item.iiif), item.iiif)
                except ExhibitError as exc:
                    log.warning("kiosk: %s", exc)
            self._pyramids[key] = p
        return self._pyramids[key]

    # -- thumbnails ----------------------------------------------------------------------

    def _render_thumb(self, item: Item) -> Any:
        view = item_view(self.setup.catalogue, item)
        if view is None:
            return None
        w, h = self.setup.size
        side = min(2 * THUMB_PX, w, h)
        self.renderer.load(*view)
        self._scene = None
        self.renderer.set_viewport(0.0, side / w, 0.0, side / h)
        cam = self.renderer.rig.find("+Camera")
        for child in self.renderer.rig.get_children():
            if child != cam:
                child.hide()              # captions and notes: a thumbnail has no language
        leaders = getattr(self.renderer.current_scene, "leaders", None)
        if leaders is not None:           # ... nor the notes' leader lines
            leaders.hide()
        self.back.region.set_active(False)
        self.front.region.set_active(False)
        try:
            self.renderer.render(THUMB_T, {"selected_item": item.id, "selected_at": 0.0})
            img = self.renderer.snapshot().crop((0, h - side, side, h))
            inset = int(side * 0.18)          # the camera leaves room for notes: close in
            return img.crop((inset, int(inset * 0.8), side - inset, side - int(inset * 1.2)))
        finally:
            self.back.region.set_active(True)
            self.front.region.set_active(True)

    def _prepare(self) -> None:
        missing = self.media.missing()
        if not missing:
            return
        from .strings import text

        def progress(i: int, n: int) -> None:
            self.back.clear()
            self.front.clear()
            m = self.view.m
            self.back.box(0, 0, m.width, m.height, pages.BG)
            self.front.text(f"{text('welcome', self.session.language)} · {i + 1}/{n}",
                            self.view.ui_font, m.width / 2, m.height / 2, m.px(36),
                            pages.MUTED, align="center")
            self.renderer.render(0.0, dim=0.0)

        self.media.render_thumbs(missing, self._render_thumb, progress)
        self.renderer.unload()
        self._drawn = None

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> int:
        """Run until the staff page leaves kiosk mode, a signal, or the script's end.

        Returns:
            The exit status: 0, or 1 when a script step failed.
        """
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(sig, lambda *_: self.stop.set())
            except ValueError:          # not the main thread (tests drive it so)
                pass
        self.setup.link.start()
        try:
            self._prepare()
            player = Player(self, self.script) if self.script is not None else None
            while not self.stop.is_set() and not self.session.exit_requested:
                began = time.perf_counter()
                if self.virtual:
                    self.t += VIRTUAL_DT
                else:
                    self.t = time.monotonic()
                try:
                    self._frame()
                    if player is not None and player.step():   # sees the frame drawn
                        break
                except ExhibitError as exc:
                    self._fault(str(exc))
                except Exception as exc:              # a kiosk never shows a traceback
                    if self.faults < 10 or self.faults % 100 == 0:    # a bounded log
                        log.exception("kiosk: a frame failed (%d so far)", self.faults + 1)
                    self._fault(f"{type(exc).__name__}: {exc}")
                if self.renderer.closed:
                    break
                spent = time.perf_counter() - began
                self.frame_ms.append(spent * 1000.0)
                if not self.virtual and not self.setup.window and spent < _FRAME_S:
                    self.stop.wait(_FRAME_S - spent)       # frame pacing offscreen
            return 1 if self.failed_step else 0
        finally:
            self._write_status(force=True)
            self._write_report()
            self.setup.link.close()
            self.renderer.close()

    def _fault(self, why: str) -> None:
        """A frame failed: note it and start again from the attract page."""
        self.faults += 1
        if len(self.errors) < 50:
            self.errors.append(why)
        for req in self.session.tick(self.t + self.session.idle_after + 1.0,
                                     online=self.session.online):
            self._send(req, req.cause)        # the wall's language back to the first
        self.session.last_tap = self.t
        self._drawn = None

    def tap(self, x: float, y: float) -> None:
        """A touch at (x, y) pixels from the top-left."""
        self.taps += 1
        tap_id = secrets.token_hex(8)
        control = self.front.hit(x, y)
        if control is not None and control.action == "zoom" and control.arg == "":
            r = control.rect                  # a tap on the picture: look there
            control = type(control)(control.name, r, "zoom",
                                    f"at:{(x - r[0]) / r[2]:.4f},{(y - r[1]) / r[3]:.4f}")
        for req in self.session.tap(control, self.t, tap_id):
            self._send(req, tap_id)

    def _send(self, req: Any, tap: str) -> None:
        self.requests.append({"tap": tap, "command": req.command, "request_id": req.request_id,
                              "cause": req.cause, "t": round(self.t - self.t0, 3)})
        self.setup.link.send(req.command, req.args, req.request_id)

    def _frame(self) -> None:
        link, s = self.setup.link, self.session
        for x, y in self._window_taps():
            self.tap(x, y)
        for ticket in link.finished():
            s.answered(ticket.command, ticket.request_id, ticket.state, ticket.data,
                       ticket.reason)
        status = link.status if link.online else None
        wall_time = wall_item = None
        if status is not None and link.status_at is not None:
            st = status.get("show_time")
            if isinstance(st, (int, float)):
                wall_time = float(st) + (time.monotonic() - link.status_at)
            wall_item = (status.get("show") or {}).get("selected_item")
        for req in s.tick(self.t, online=link.online, wall_time=wall_time,
                          wall_item=wall_item if isinstance(wall_item, str) else None):
            self._send(req, req.cause)
        self._redraw()
        if self._animate is not None:
            self._animate(self.t - self.t0)
        if self._scene_rect is not None and self._scene is not None:
            t, state = self._scene_state(self._scene[1])
            try:
                self.renderer.render(t, state)
            except ExhibitError as exc:          # e.g. a shader the driver refused
                log.warning("kiosk: the 3-D view of %s failed: %s", self._scene[1], exc)
                self._no_view.add(self._scene)
                self._scene = self._scene_rect = self._drawn = None
                self.renderer.render(0.0, dim=0.0)    # the page, with its picture next
        else:
            self.renderer.render(0.0, dim=0.0)
        self.frames += 1
        self.screens[s.screen] = self.screens.get(s.screen, 0) + 1
        if s.screen == "attract" and self.first_attract_s is None:
            self.first_attract_s = time.monotonic() - self.setup.started
        self._write_status()

    def _redraw(self) -> None:
        s = self.session
        left = s.idle_after - (self.t - s.last_tap)
        attract = (int((self.t - self.t0) // pages.ATTRACT_PERIOD) if s.screen == "attract"
                   else None)                  # the attract page turns to its next item
        key = (s.version, s.screen, s.online, int(left) if s.idle_warning else None,
               self.media.thumbnails, attract)
        if key == self._drawn:
            return
        self._drawn = key
        self.back.clear()
        self.front.clear()
        self._animate = None
        v = self.view
        if s.screen == "attract":
            self._animate = pages.draw_attract(v, self.t - self.t0)
        elif s.screen == "carousel":
            pages.draw_carousel(v)
        elif s.screen == "item" and s.item is not None:
            try:
                item = self.setup.catalogue.item(s.item)
            except KeyError:
                item = None
            if item is None:
                pages.draw_carousel(v)
            else:
                pages.draw_item(v, item)
        elif s.screen == "pin":
            pages.draw_pin(v)
        elif s.screen == "staff":
            pages.draw_staff(v)
        pages.draw_overlays(v, math.ceil(left))

    # -- what it tells ------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The kiosk's state, as ``--status-file`` has it."""
        s, link = self.session, self.setup.link
        fb = s.feedback
        return {"kiosk": self.setup.kiosk_id, "screen": s.screen, "language": s.current,
                "item": s.item, "online": bool(link.online),
                "offline_since": link.offline_since, "idle_warning": s.idle_warning,
                "feedback": None if fb is None else {"item": fb.item, "state": fb.state,
                                                     "reason": fb.reason,
                                                     "effective_at": fb.effective_at},
                "frames": self.frames, "taps": self.taps, "requests": len(self.requests),
                "faults": self.faults, "t": round(self.t - self.t0, 3),
                "clock": time.monotonic(),
                "controls": {c.name: [round(v, 1) for v in c.rect]
                             for c in self.front.controls}}

    def _write_status(self, force: bool = False) -> None:
        path = self.setup.status_file
        now = time.monotonic()
        if path is None or (not force and now - self._status_at < _STATUS_EVERY_S):
            return
        self._status_at = now
        try:
            write_atomic(path, (json.dumps(self.state()) + "\n").encode())
        except (OSError, ExhibitError) as exc:
            log.warning("kiosk: cannot write the status file: %s", exc)

    def _write_report(self) -> None:
        path = self.setup.report
        if path is None:
            return
        ms = sorted(self.frame_ms[1:]) or [0.0]
        per_tap: dict[str, int] = {}
        for r in self.requests:
            if r["cause"] != "idle":
                per_tap[r["tap"]] = per_tap.get(r["tap"], 0) + 1
        stats = getattr(self.setup.link, "stats", None)
        report = {
            "kiosk": self.setup.kiosk_id, "first_attract_s": self.first_attract_s,
            "frames": self.frames, "screens": self.screens, "taps": self.taps,
            "requests": self.requests,
            "requests_per_tap_max": max(per_tap.values(), default=0),
            "frame_ms": {"max": round(ms[-1], 2), "p99": round(ms[int(0.99 * (len(ms) - 1))], 2),
                         "mean": round(sum(ms) / len(ms), 2),
                         "by_tenth": _tenths(self.frame_ms[1:])},
            "thumbnails_rendered": self.media.rendered, "faults": self.faults,
            "errors": self.errors, "failed_step": self.failed_step,
            "screenshots": self.screenshots,
            "link": None if stats is None else {k: v for k, v in vars(stats).items()
                                                 if isinstance(v, (int, float))},
            "final": self.state()}
        try:
            write_atomic(path, (json.dumps(report, indent=1) + "\n").encode())
        except (OSError, ExhibitError) as exc:
            log.warning("kiosk: cannot write the report: %s", exc)


def _tenths(ms: list[float]) -> list[float]:
    """The mean frame time of each tenth of the run, in order (a slowdown shows)."""
    n = len(ms)
    if n < 10:
        return []
    return [round(sum(ms[k * n // 10:(k + 1) * n // 10]) / max(1, (k + 1) * n // 10
                                                                - k * n // 10), 2)
            for k in range(10)]
