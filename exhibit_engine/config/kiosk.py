"""``[[kiosks]]`` of ``venue.toml`` -> :class:`KioskConfig`: each visitor kiosk's screen,
first language, idle warning and operator PIN.

Parsing only, like :mod:`.console`: the operator PIN is listed by its PBKDF2 hash (made
by ``exhibit keys pin``, checked by :func:`exhibit_engine.keys.check_pin`), never the PIN
itself, so ``venue.toml`` can be shared without giving kiosk mode away::

    [[kiosks]]
    id = "kiosk-1"                 # the kiosk's id: exhibit kiosk app --kiosk kiosk-1
    pixels = [1920, 1080]          # its screen
    dpi = 96                       # the screen's pixel density (60-600)
    language = "zh"                # the language a visitor first sees
    wall_language = true           # its language switch also switches the wall's captions
    idle_warning_s = 15            # "still there?" this long before the idle return
    pin = "pbkdf2-sha256$200000$<salt>$<hash>"   # operator PIN's hash (exhibit keys pin)

Sizes follow from ``dpi``: :attr:`KioskConfig.min_target_px` is the smallest touch
target (9 mm, at least 48 px), :meth:`KioskConfig.text_px` a text size in points (1/72
inch on the glass) with a floor that stays readable at arm's length. What needs the show
(that ``language`` is one of its languages, that ``idle_warning_s`` is shorter than its
``attract.idle_after``) is checked by the kiosk app, which reads both files.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ._toml import Fields, nearest

__all__ = [
    "BODY_TEXT_PT",
    "KIOSK_LANGUAGES",
    "KioskConfig",
    "MIN_TARGET_MM",
    "MIN_TARGET_PX",
    "MIN_TEXT_PT",
    "PIN_ITERATIONS",
    "PIN_SCHEME",
    "parse_kiosks",
    "split_pin_hash",
]

#: The languages the kiosk app is written in; a show may add its own.
KIOSK_LANGUAGES = ("zh", "en", "ru")
#: The smallest touch target, in millimetres on the glass (Material Design's 48 dp and
#: Apple's 44 pt both come to about 9 mm).
MIN_TARGET_MM = 9.0
#: The smallest touch target in pixels, whatever the density.
MIN_TARGET_PX = 48
#: Body text, in points (1/72 inch on the glass): 18 pt is 6.4 mm, read at arm's
#: length (about 60 cm) without leaning in.
BODY_TEXT_PT = 18.0
#: The smallest text a kiosk shows (captions, credits), in points; smaller requests are
#: raised to it.
MIN_TEXT_PT = 14.0
#: The hash scheme of an operator PIN, and the iterations :func:`exhibit_engine.keys.hash_pin`
#: uses (one check takes about 0.1 s on one core of a 2-core venue PC).
PIN_SCHEME = "pbkdf2-sha256"
PIN_ITERATIONS = 200_000

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
_DIGITS = re.compile(r"[0-9]{1,8}")
_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_PIN_ITERATION_RANGE = (100_000, 500_000)   # below: weak; above: an unlock over 0.3 s
_KIOSK_KEYS = ("id", "pixels", "dpi", "language", "wall_language", "idle_warning_s", "pin")


@dataclass(frozen=True)
class KioskConfig:
    """One visitor kiosk: a ``[[kiosks]]`` table of ``venue.toml``.

    Attributes:
        id: the kiosk's id (``exhibit kiosk app --kiosk ID``); 1-64 letters, digits,
            ``.``, ``_`` or ``-``, and no display's id (both are ids on the show network).
        pixels: the screen's ``(width, height)`` in pixels.
        dpi: the screen's pixel density, in pixels per inch (60-600).
        language: the language a visitor first sees (a short tag: ``"zh"``, ``"en"``,
            ``"ru"``, ``"pt-BR"``).
        wall_language: the kiosk's language switch also switches the wall's captions
            (``False``: only the kiosk's own).
        idle_warning_s: how long before the idle return (the show's
            ``attract.idle_after``) a "still there?" warning shows.
        pin: the operator PIN's hash (``pbkdf2-sha256$...``, see :func:`split_pin_hash`),
            or ``None``: no PIN, kiosk mode cannot be left from the screen.
    """

    id: str
    pixels: tuple[int, int] = (1920, 1080)
    dpi: float = 96.0
    language: str = "zh"
    wall_language: bool = True
    idle_warning_s: float = 15.0
    pin: str | None = field(default=None, repr=False)

    @property
    def min_target_px(self) -> int:
        """The smallest touch target, in pixels: 9 mm at :attr:`dpi`, at least 48."""
        return max(MIN_TARGET_PX, round(MIN_TARGET_MM / 25.4 * self.dpi))

    def text_px(self, points: float = BODY_TEXT_PT) -> int:
        """A text size (the font's em) in pixels for ``points`` at :attr:`dpi`.

        A point is 1/72 inch on the glass. The rule: body text is :data:`BODY_TEXT_PT`
        (18 pt, 6.4 mm: readable at arm's length), nothing is smaller than
        :data:`MIN_TEXT_PT` (14 pt), so a request below it gets 14 pt.
        """
        return max(1, round(max(points, MIN_TEXT_PT) * self.dpi / 72.0))

    def warning_at(self, idle_after: float) -> float:
        """Seconds of idleness after which the warning shows, for the show's
        ``attract.idle_after`` (0: at once, when the warning is longer than that)."""
        return max(0.0, idle_after - self.idle_warning_s)


def split_pin_hash(text: str) -> tuple[int, bytes, bytes] | None:
    """``"pbkdf2-sha256$ITERATIONS$SALT$HASH"`` -> ``(iterations, salt, hash)``.

    SALT and HASH are standard base64; the salt is at least 16 bytes, the hash 32 (a
    SHA-256), the iterations 100,000-500,000.

    Returns:
        The three parts, or ``None`` when ``text`` is not such a hash.
    """
    parts = text.split("$") if isinstance(text, str) else []
    if (len(parts) != 4 or parts[0] != PIN_SCHEME or not _DIGITS.fullmatch(parts[1])
            or not all(_B64.fullmatch(p) for p in parts[2:])):
        return None
    iterations = int(parts[1])
    try:
        salt, digest = (base64.b64decode(p, validate=True) for p in parts[2:])
    except (binascii.Error, ValueError):
        return None
    lo, hi = _PIN_ITERATION_RANGE
    if not lo <= iterations <= hi or len(salt) < 16 or len(salt) > 64 or len(digest) != 32:
        return None
    return iterations, salt, digest


def _kiosk(name: str, t: Fields, display_ids: tuple[str, ...]) -> KioskConfig:
    t.only(*_KIOSK_KEYS)
    kid = t.str("id")
    if not _ID.fullmatch(kid):
        raise ConfigError(name, "must be 1-64 letters, digits, '.', '_' or '-', starting "
                          "with a letter or digit", key=t.key("id"))
    if kid in display_ids:
        raise ConfigError(name, f"kiosk id {kid!r} is also a display's id (each peer on "
                          "the show network needs its own id)", key=t.key("id"))
    pixels: tuple[int, int] = (1920, 1080)
    if "pixels" in t.table:
        pixels = t.vec("pixels", 2, integer=True)  # type: ignore[assignment]
        if not all(16 <= p <= 16384 for p in pixels):
            raise ConfigError(name, "pixel sizes must be 16-16384", key=t.key("pixels"))
    dpi = t.num("dpi", 96, minimum=60, maximum=600, unit=" dpi")
    language = t.str("language", "zh")
    if not _LANGUAGE.fullmatch(language):
        near = nearest(language, KIOSK_LANGUAGES)
        hint = f", did you mean `{near}`?" if near else ""
        raise ConfigError(name, f"{language[:16]!r} is not a language tag (a lower-case "
                          "language, then optional -Region: \"zh\", \"en\", \"ru\", "
                          f"\"pt-BR\"){hint}", key=t.key("language"))
    warning = t.num("idle_warning_s", 15, positive=True, maximum=600, unit=" s")
    pin = None
    if "pin" in t.table:
        pin = t.get("pin", None)
        if not isinstance(pin, str) or split_pin_hash(pin) is None:
            raise ConfigError(name, f"must be the PIN's hash, \"{PIN_SCHEME}$ITERATIONS$SALT"
                              "$HASH\" (as `exhibit keys pin` prints it), never the PIN "
                              "itself", key=t.key("pin"))
    return KioskConfig(id=kid, pixels=pixels, dpi=dpi, language=language,
                       wall_language=t.bool("wall_language", True),
                       idle_warning_s=warning, pin=pin)


def parse_kiosks(name: str, value: Any, display_ids: tuple[str, ...] = ()
                 ) -> tuple[KioskConfig, ...]:
    """Parse the ``[[kiosks]]`` tables.

    Args:
        name: the venue file, as messages name it.
        value: the ``kiosks`` value (``[]`` when the file has none).
        display_ids: the venue's display ids, which no kiosk may take.

    Raises:
        ConfigError: not an array of tables, an unknown key (with the nearest known one),
            a value out of its range, a repeated id, or a ``pin`` that is not a PIN hash.
    """
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(name, "must be an array of tables ([[kiosks]])", key="kiosks")
    kiosks: list[KioskConfig] = []
    for i, raw in enumerate(value):
        kiosk = _kiosk(name, Fields(name, raw, f"kiosks[{i}]"), display_ids)
        if any(k.id == kiosk.id for k in kiosks):
            raise ConfigError(name, f"duplicate kiosk id {kiosk.id!r}", key=f"kiosks[{i}].id")
        kiosks.append(kiosk)
    return tuple(kiosks)
