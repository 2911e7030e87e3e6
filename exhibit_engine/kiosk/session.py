"""What the kiosk is doing, as a pure state machine: pages, language, idleness, the wall.

The app feeds it taps (the control under the finger, or none), the passing of time and
what the controller answered; it answers with the requests to send. It never draws,
reads a clock or touches a socket, so every rule below is tested in milliseconds:

- **one request per tap at most**, carrying the tap's id, so a retry acts once; a second
  tap on the same control within :data:`DOUBLE_TAP_S` is the same tap and does nothing
  (but for PIN keys, the hidden corner, zoom and paging, which are tapped repeatedly),
  and "show on the wall" does nothing while its request is out;
- **activity**: a tap that sends nothing else sends ``touch`` when none was sent for
  ``touch_every_s``, so the controller's idle timer (which returns the wall to its
  attract loop) follows the visitor's;
- **idleness**: ``idle_warning_s`` before ``idle_after`` without a tap, a warning;
  at ``idle_after``, the attract page and the kiosk's own language again (not the
  wall's: a ``language`` command would wake the wall from its attract loop);
- **the wall**: after ``select`` is answered, the page says the wall is turning to the
  item until the wall's show time passes the selection's ``effective_at`` plus
  :data:`FOCUS_S`, then that it is on the wall; a refusal shows the controller's reason;
  offline shows offline;
- **staff**: five taps on the hidden corner within :data:`STAFF_TAPS_S` open the PIN pad;
  the right PIN opens the staff page, which alone can leave kiosk mode. Three wrong PINs
  lock the pad for :data:`PIN_LOCK_S`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .ui import Control

__all__ = ["DOUBLE_TAP_S", "FOCUS_S", "Feedback", "PIN_LOCK_S", "PIN_MAX", "Request",
           "SCREENS", "STAFF_TAPS", "STAFF_TAPS_S", "Session"]

#: Pages (``screen``).
SCREENS = ("attract", "carousel", "item", "pin", "staff")
#: A second tap on the same control within this many seconds is the same tap.
DOUBLE_TAP_S = 0.5
#: Seconds the wall's camera takes to reach a selected item (a heritage scene's default
#: ``focus_seconds``).
FOCUS_S = 3.0
#: Taps on the hidden corner, and within how many seconds, that open the PIN pad.
STAFF_TAPS, STAFF_TAPS_S = 5, 4.0
#: Seconds the PIN pad stays locked after three wrong PINs.
PIN_LOCK_S = 30.0
#: Longest PIN the pad takes.
PIN_MAX = 12
#: Controls tapped again and again on purpose: each tap counts (PIN keys, the hidden
#: corner, zoom, paging); every other control ignores a double tap's second half.
_REPEATABLE = frozenset({"staff", "digit", "delete", "zoom", "page", "block"})


@dataclass(frozen=True)
class Request:
    """A command to send: ``cause`` is the tap's id, or ``"idle"``; ``request_id`` is
    what the controller dedupes on."""

    command: str
    args: dict[str, Any]
    request_id: str
    cause: str


@dataclass
class Feedback:
    """What the item page says about the wall: ``state`` is ``sending``, ``moving``,
    ``on_wall``, ``refused`` or ``offline``."""

    item: str
    state: str
    reason: str = ""
    effective_at: float | None = None
    request_id: str = ""


@dataclass
class Session:
    """The kiosk's state (see the module docstring).

    Args:
        languages: the languages the switch offers.
        language: the kiosk's own (first) language.
        idle_after: seconds without a tap before the attract page.
        idle_warning_s: how long before that the warning shows.
        wall_language: whether the switch also sets the wall's language.
        touch_every_s: the least time between two ``touch`` requests.
        check_pin: tells whether a PIN is right; ``None`` when the kiosk has no PIN.
        now: the clock at start.
    """

    languages: Sequence[str]
    language: str
    idle_after: float
    idle_warning_s: float
    wall_language: bool = True
    touch_every_s: float = 5.0
    check_pin: Callable[[str], bool] | None = None
    now: float = 0.0
    screen: str = "attract"
    item: str | None = None
    current: str = field(init=False)
    feedback: Feedback | None = None
    online: bool = False
    idle_warning: bool = False
    pin: str = ""
    pin_error: str = ""
    exit_requested: bool = False
    offsets: dict[str, int] = field(default_factory=dict)
    tab: str | None = None
    zoom: tuple[float, float, float] = (1.0, 0.5, 0.5)
    block: int | None = None
    version: int = 0

    def __post_init__(self) -> None:
        self.current = self.language
        self.last_tap = self.now
        self._last_sent = float("-inf")
        self._last_control: tuple[str, float] | None = None
        self._staff: list[float] = []
        self._wrong = 0
        self._locked_until = float("-inf")

    # -- input ----------------------------------------------------------------

    def tap(self, control: Control | None, now: float, tap_id: str) -> list[Request]:
        """A touch at ``now`` on ``control`` (``None``: on nothing). Returns at most one
        request."""
        self.now = now
        if control is not None and self._last_control is not None \
                and control.action not in _REPEATABLE:
            name, at = self._last_control
            if name == control.name and now - at < DOUBLE_TAP_S:
                return []                      # the second half of a double tap
        self._last_control = (control.name, now) if control is not None else None
        self.last_tap = now
        if self.idle_warning:
            self.idle_warning = False
            self._changed()
        out = self._act(control, tap_id) if control is not None else None
        if out is None and now - self._last_sent >= self.touch_every_s:
            out = Request("touch", {}, tap_id, tap_id)
        if out is not None:
            self._last_sent = now
        return [out] if out is not None else []

    def _act(self, c: Control, tap_id: str) -> Request | None:
        a, arg = c.action, c.arg
        if a == "staff":
            self._staff = [t for t in self._staff if self.now - t < STAFF_TAPS_S] + [self.now]
            if len(self._staff) >= STAFF_TAPS:
                self._staff = []
                self._go("pin")
                self.pin, self.pin_error = "", ""
            return None
        if a == "explore":
            self._go("carousel")
        elif a == "home":
            self._go("attract")
        elif a == "back":
            self._go("carousel" if self.screen == "item" else "attract")
        elif a == "open":
            self.item, self.zoom, self.block = arg, (1.0, 0.5, 0.5), None
            if self.feedback is not None and self.feedback.item != arg \
                    and self.feedback.state != "on_wall":
                self.feedback = None
            self._go("item")
        elif a == "tab":
            self.tab = arg
            self._changed()
        elif a == "page":
            bundle, step = arg.rsplit(":", 1)
            self.offsets[bundle] = max(0, self.offsets.get(bundle, 0) + int(step))
            self._changed()
        elif a == "zoom":
            self._zoom(arg)
        elif a == "block":                       # one block alone; again: the print
            k = int(arg)
            self.block = None if self.block == k else k
            self._changed()
        elif a == "language" and arg in self.languages and arg != self.current:
            self.current = arg
            self._changed()
            if self.wall_language:
                return Request("language", {"language": arg}, tap_id, tap_id)
        elif a == "show" and self.item is not None:
            return self._show(tap_id)
        elif a in ("digit", "delete", "enter", "cancel", "exit", "resume"):
            self._staff_pad(a, arg)
        return None

    def _show(self, tap_id: str) -> Request | None:
        fb = self.feedback
        if fb is not None and fb.item == self.item and fb.state in ("sending", "moving"):
            return None                        # already on its way
        self.feedback = Feedback(self.item, "sending", request_id=tap_id)  # type: ignore[arg-type]
        self._changed()
        return Request("select", {"item": self.item}, tap_id, tap_id)

    def _zoom(self, arg: str) -> None:
        z, cx, cy = self.zoom
        if arg == "in":
            z = min(z * 2.0, 8.0)
        elif arg == "out":
            z = max(z / 2.0, 1.0)
        elif arg.startswith("at:"):               # a tap on the picture: look there
            x, y = (float(v) for v in arg[3:].split(","))
            cx, cy = cx + (x - 0.5) / z, cy + (y - 0.5) / z
        half = 0.5 / z
        self.zoom = (z, min(max(cx, half), 1.0 - half), min(max(cy, half), 1.0 - half))
        self._changed()

    def _staff_pad(self, a: str, arg: str) -> None:
        if a == "cancel" or a == "resume":
            self._go("attract")
        elif a == "exit" and self.screen == "staff":
            self.exit_requested = True
        elif self.screen != "pin":
            return
        elif self.now < self._locked_until:
            self.pin_error = "locked"
        elif a == "digit" and len(self.pin) < PIN_MAX:
            self.pin += arg
            self.pin_error = ""
        elif a == "delete":
            self.pin = self.pin[:-1]
        elif a == "enter":
            if self.check_pin is None:
                self.pin_error = "none"
            elif self.check_pin(self.pin):
                self._wrong = 0
                self._go("staff")
            else:
                self._wrong += 1
                self.pin_error = "wrong"
                if self._wrong >= 3:
                    self._wrong = 0
                    self._locked_until = self.now + PIN_LOCK_S
            self.pin = ""
        self._changed()

    # -- time and answers -----------------------------------------------------------

    def tick(self, now: float, *, online: bool, wall_time: float | None = None,
             wall_item: str | None = None) -> list[Request]:
        """Time passes: the idle warning and return, the wall's progress, the link.

        Args:
            now: the clock.
            online: whether the controller answers.
            wall_time: the wall's show time now (estimated from the last status).
            wall_item: the item the wall has selected, from the last status.
        """
        self.now = now
        out: list[Request] = []
        if online != self.online:
            self.online = online
            self._changed()
        idle = now - self.last_tap
        if self.screen != "attract":
            if idle >= self.idle_after:
                out += self._to_attract(now)
            elif idle >= self.idle_after - self.idle_warning_s and not self.idle_warning:
                self.idle_warning = True
                self._changed()
        fb = self.feedback
        if fb is not None and fb.state == "moving" and wall_time is not None \
                and fb.effective_at is not None and wall_time >= fb.effective_at + FOCUS_S:
            fb.state = "on_wall"
            self._changed()
        if fb is not None and fb.state == "on_wall" and wall_item not in (None, fb.item):
            self.feedback = None                 # another kiosk took the wall
            self._changed()
        return out

    def _to_attract(self, now: float) -> list[Request]:
        self.idle_warning = False
        self.item, self.feedback, self.offsets, self.tab = None, None, {}, None
        self._go("attract")
        # The kiosk's own words go back to its first language; the wall's are left as
        # they are: a `language` command is visitor activity at the controller and would
        # wake the wall from the attract loop it has just entered.
        self.current = self.language
        return []

    def answered(self, command: str, request_id: str, state: str,
                 data: dict[str, Any] | None = None, reason: str = "") -> None:
        """A request ended: ``state`` is ``done``, ``refused`` or ``offline``."""
        fb = self.feedback
        if command != "select" or fb is None or fb.request_id != request_id:
            return
        if state == "done":
            fb.state = "moving"
            fb.effective_at = float((data or {}).get("effective_at", self.now))
        else:
            fb.state, fb.reason = ("refused", reason) if state == "refused" else ("offline", "")
        self._changed()

    # -- helpers -------------------------------------------------------------------

    def _go(self, screen: str) -> None:
        self.screen = screen
        self._changed()

    def _changed(self) -> None:
        self.version += 1
