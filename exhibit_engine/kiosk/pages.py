"""The kiosk's pages, drawn from the session onto the two canvases.

Each ``draw_*`` function clears nothing: the app clears both canvases, calls one page
and then the overlays, and keeps the ``animate(t)`` function a page may return, which
moves the few nodes that drift or pulse between redraws.

Sizes come from :class:`Metrics`: a design 1,080 pixels tall scaled to the output, with
every touch target at least the kiosk's :attr:`Metrics.target` (48 px or 9 mm at its
DPI, whichever is more) and body text no smaller than :attr:`Metrics.body`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from panda3d.core import TextureStage

from .iiif import Pyramid, tiles_for
from .strings import LANGUAGE_NAMES, LANGUAGES, text
from .ui import RGBA, Canvas, hex_colour

if TYPE_CHECKING:
    from panda3d.core import DynamicTextFont, Texture

    from .catalogue import Item
    from .session import Session

__all__ = ["ACCENT", "ALERT", "ATTRACT_PERIOD", "Animate", "BG", "GOOD", "MUTED", "Metrics", "ON_ACCENT",
           "PANEL", "RAISED", "TEXT", "View", "draw_attract", "draw_carousel", "draw_item",
           "draw_overlays", "draw_pin", "draw_print", "draw_staff"]

BG: RGBA = (0.075, 0.082, 0.094, 1.0)
PANEL: RGBA = (0.125, 0.135, 0.155, 1.0)
RAISED: RGBA = (0.19, 0.20, 0.23, 1.0)
TEXT: RGBA = (0.95, 0.93, 0.89, 1.0)
MUTED: RGBA = (0.66, 0.64, 0.60, 1.0)
ACCENT: RGBA = (0.85, 0.64, 0.26, 1.0)
ON_ACCENT: RGBA = (0.10, 0.08, 0.05, 1.0)
ALERT: RGBA = (0.80, 0.30, 0.24, 1.0)
GOOD: RGBA = (0.42, 0.70, 0.47, 1.0)

Animate = Callable[[float], None]

#: Seconds the attract page shows each item.
ATTRACT_PERIOD = 9.0


@dataclass(frozen=True)
class Metrics:
    """Sizes in output pixels: ``s`` scales the 1,080-pixel design; ``target`` is the
    smallest touch target; ``body`` the smallest text."""

    width: int
    height: int
    s: float
    target: float
    body: float

    @classmethod
    def of(cls, size: tuple[int, int], min_target_px: float, screen_height: int,
           body_px: float = 24.0) -> Metrics:
        """For an output of ``size`` showing a kiosk screen ``screen_height`` pixels tall
        (a smaller window scales the kiosk's minimum target and text with it)."""
        s = size[1] / 1080.0
        k = size[1] / screen_height
        target = max(min_target_px * k, 44.0 * s)
        return cls(size[0], size[1], s, target, max(body_px * k, 26.0 * s))

    def px(self, design: float) -> float:
        """A design length (1,080-pixel screen) in output pixels."""
        return design * self.s

    def button(self, design: float) -> float:
        """A control's height: the design's, or the minimum target if larger."""
        return max(self.px(design), self.target)


class View:
    """What pages draw with: canvases, metrics, fonts and textures (set by the app)."""

    back: Canvas
    front: Canvas
    m: Metrics
    ui_font: DynamicTextFont
    session: Session
    items: list[Item]
    show_title: dict[str, str]
    kiosk_id: str
    controller: str
    groups: list[tuple[str, dict[str, str], list[Item]]]

    def font(self, item: Item | None, text_: str) -> DynamicTextFont:
        """The item's bundle font where it has every character of ``text_``, else the
        kiosk's."""
        raise NotImplementedError

    def any_font(self, text_: str, fallback: str) -> tuple[str, DynamicTextFont]:
        """``text_`` with a font that has all its characters (the kiosk's, else a
        bundle's), or ``fallback`` (e.g. the English) with the kiosk's font."""
        raise NotImplementedError

    def thumb(self, item: Item) -> Texture | None:
        """The item's thumbnail, once there is one."""
        raise NotImplementedError

    def set_scene(self, item: Item | None, rect: tuple[float, float, float, float] | None
                  ) -> bool:
        """Show ``item`` live in ``rect`` (pixels), or no 3-D view; False when the item
        has no view that can be shown."""
        raise NotImplementedError

    def picture(self, item: Item) -> Texture | None:
        """A print's finished picture."""
        raise NotImplementedError

    def pyramid(self, item: Item) -> Pyramid | None:
        """A print's IIIF tile pyramid."""
        raise NotImplementedError

    def tile(self, item: Item, path: str) -> Texture | None:
        """One IIIF tile."""
        raise NotImplementedError

    def block(self, item: Item, k: int) -> Texture | None:
        """Block ``k`` of a print, its ink over clear."""
        raise NotImplementedError


def _title(items_title: dict[str, str], lang: str) -> str:
    return items_title.get(lang) or items_title.get("en") or next(iter(items_title.values()), "")


def _button(v: View, name: str, label: str, x: float, y: float, w: float, h: float, action: str,
            arg: str = "", *, primary: bool = False, active: bool = True,
            font: Any = None) -> None:
    c = v.front
    fill = ACCENT if primary and active else (RAISED if active else PANEL)
    c.box(x, y, w, h, fill)
    size = min(h * 0.42, v.m.px(34))
    tw, _ = v.front.measure(label, font or v.ui_font, size)
    while tw > w - size and size > v.m.body * 0.8:
        size *= 0.9
        tw, _ = v.front.measure(label, font or v.ui_font, size)
    c.text(label, font or v.ui_font, x + w / 2.0, y + (h - size) / 2.0, size,
           ON_ACCENT if primary and active else (TEXT if active else MUTED), align="center")
    c.control(name, (x, y, w, h), action, arg)


def _languages(v: View, right: float, y: float) -> None:
    m, cur = v.m, v.session.current
    h = m.button(64)
    w = max(m.px(170), m.target)
    gap = m.px(12)
    x = right - len(v.session.languages) * (w + gap) + gap
    for lang in v.session.languages:
        name = LANGUAGE_NAMES.get(lang, lang)
        if lang == cur:
            v.front.box(x, y, w, h, ACCENT)
            v.front.text(name, v.ui_font, x + w / 2, y + (h - m.px(30)) / 2, m.px(30),
                         ON_ACCENT, align="center")
            v.front.control(f"lang:{lang}", (x, y, w, h), "language", lang)
        else:
            _button(v, f"lang:{lang}", name, x, y, w, h, "language", lang)
        x += w + gap


# --------------------------------------------------------------------------- attract


def draw_attract(v: View, t0: float) -> Animate | None:
    """The slow loop: one item at a time, large, drifting, cross-fading to the next, its
    title in every language, and "touch to explore" in every language."""
    m, c = v.m, v.front
    v.back.box(0, 0, m.width, m.height, BG)
    v.set_scene(None, None)
    items = [it for it in v.items if v.thumb(it) is not None] or v.items
    c.control("explore", (0, 0, m.width, m.height), "explore")
    if not items:
        c.text(text("no_items", v.session.language), v.ui_font, m.width / 2, m.height / 2,
               m.px(40), MUTED, align="center")
        return None
    period = ATTRACT_PERIOD
    k = int(max(t0, 0.0) // period) % len(items)
    item = items[k]
    band_h = m.px(150)
    side = min(m.height - band_h - m.px(120), m.width * 0.5)
    x0, y0 = m.px(90), (m.height - band_h - side) / 2
    tex = v.thumb(item)
    frame = c.box(x0 - m.px(10), y0 - m.px(10), side + m.px(20), side + m.px(20), PANEL)
    img = c.image(tex, x0, y0, side, side) if tex is not None else None
    tx = x0 + side + m.px(80)
    wrap = m.width - tx - m.px(80)
    group = next((g for g in v.groups if item in g[2]), None)
    y = y0 + m.px(20)
    if group is not None:
        gt = _title(group[1], v.session.language)
        c.text(gt, v.font(item, gt), tx, y, m.px(30), ACCENT, wrap=wrap)
        y += m.px(70)
    first = v.session.language          # the kiosk's own language leads
    order = [first, *[lang for lang in LANGUAGES if lang != first]]
    for lang, size, colour in zip(order, (64, 40, 40), (TEXT, TEXT, MUTED)):
        title = item.title.get(lang)
        if title:
            c.text(title, v.font(item, title), tx, y, m.px(size), colour, wrap=wrap)
            y += v.front.measure(title, v.font(item, title), m.px(size), wrap)[1] + m.px(22)
    lines = [text("touch", lang) for lang in order]
    band = c.box(0, m.height - band_h, m.width, band_h, (0.0, 0.0, 0.0, 0.35))
    invite = c.text("   ·   ".join(lines), v.ui_font, m.width / 2, m.height - m.px(100),
                    m.px(38), TEXT, align="center")
    del band, frame
    def animate(t: float) -> None:
        local = (max(t, 0.0) % period) / period
        if img is not None:                      # a slow push-in, fading at the ends
            z = 1.0 + 0.10 * local
            half = 0.5 / z
            cx = 0.5 + 0.04 * math.sin(k + local)
            stage = TextureStage.get_default()
            img.set_tex_scale(stage, 2 * half, 2 * half)
            img.set_tex_offset(stage, cx - half, 0.5 - half)
            fade = min(1.0, local * period / 1.2, (1.0 - local) * period / 1.2)
            img.set_color(fade, fade, fade, 1.0)
        invite.set_color_scale(1.0, 1.0, 1.0, 0.75 + 0.25 * math.sin(t * 1.6))

    return animate


# --------------------------------------------------------------------------- carousel


def draw_carousel(v: View) -> None:
    """The items, one bundle at a time: a tab per bundle, then a row of large cards,
    paged when they overflow."""
    m, c, s = v.m, v.front, v.session
    v.back.box(0, 0, m.width, m.height, BG)
    v.set_scene(None, None)
    top = m.px(36)
    title, font = v.any_font(_title(v.show_title, s.current), _title(v.show_title, "en"))
    c.text(title, font, m.px(60), top + m.px(6), m.px(52), TEXT)
    _languages(v, m.width - m.px(60), top)
    groups = v.groups
    if not groups:
        c.text(text("no_items", s.current), v.ui_font, m.width / 2, m.height / 2, m.px(40),
               MUTED, align="center")
        return
    current = next((g for g in groups if g[0] == s.tab), groups[0])
    y = top + m.button(64) + m.px(44)
    x, tab_h = m.px(60), m.button(72)
    for bundle, gtitle, items in groups:
        name = _title(gtitle, s.current)
        tf = v.font(items[0], name)
        size = m.px(30)
        w = v.front.measure(name, tf, size)[0] + m.px(56)
        on = bundle == current[0]
        c.box(x, y, w, tab_h, ACCENT if on else RAISED)
        c.text(name, tf, x + w / 2, y + (tab_h - size) / 2, size, ON_ACCENT if on else TEXT,
               align="center")
        c.control(f"tab:{bundle}", (x, y, w, tab_h), "tab", bundle)
        x += w + m.px(14)
    bundle, gtitle, items = current
    y += tab_h + m.px(30)
    c.text(text("items", s.current, n=len(items)), v.ui_font, m.px(60), y, m.px(26), MUTED)
    _row(v, bundle, items, y + m.px(52), m.height - y - m.px(52) - m.px(50))


def _row(v: View, bundle: str, items: list[Item], card_top: float, row_h: float) -> None:
    m, c, s = v.m, v.front, v.session
    label_h = m.px(96)
    side = max(min(row_h - label_h, m.px(420)), m.target)
    gap = m.px(36)
    arrow = m.button(80)
    usable = m.width - 2 * m.px(60)
    per_page = max(1, int((usable + gap) // (side + gap)))
    paged = len(items) > per_page
    if paged:
        per_page = max(1, int((usable - 2 * (arrow + gap) + gap) // (side + gap)))
    start = min(s.offsets.get(bundle, 0), max(len(items) - per_page, 0))
    shown = items[start:start + per_page]
    span = len(shown) * side + (len(shown) - 1) * gap
    x = (m.width - span) / 2
    for it in shown:
        c.box(x, card_top, side, side + label_h, PANEL)
        tex = v.thumb(it)
        if tex is not None:
            c.image(tex, x, card_top, side, side)
        name = it.title_in(s.current)
        font = v.font(it, name)
        size = max(m.px(28) if len(name) < 24 else m.px(24), m.body * 0.9)
        c.text(name, font, x + m.px(16), card_top + side + m.px(14), size, TEXT,
               wrap=side - m.px(32))
        c.control(f"item:{it.id}", (x, card_top, side, side + label_h), "open", it.id)
        x += side + gap
    if paged:
        ay = card_top + (side - arrow) / 2
        _button(v, f"prev:{bundle}", "‹", m.px(60), ay, arrow, arrow, "page",
                f"{bundle}:-{per_page}", active=start > 0)
        _button(v, f"next:{bundle}", "›", m.width - m.px(60) - arrow, ay, arrow, arrow,
                "page", f"{bundle}:{per_page}", active=start + per_page < len(items))


# --------------------------------------------------------------------------- item


def draw_item(v: View, item: Item) -> None:
    """An item: its picture or live 3-D view, its Dublin Core fields, and the wall."""
    m, c, s = v.m, v.front, v.session
    lang = s.current
    v.back.box(0, 0, m.width, m.height, BG)
    top = m.px(36)
    bh = m.button(64)
    _button(v, "back", "‹  " + text("back", lang), m.px(60), top, max(m.px(220), m.target),
            bh, "back")
    _languages(v, m.width - m.px(60), top)
    y0 = top + bh + m.px(36)
    media = (m.px(60), y0, m.width * 0.54 - m.px(60), m.height - y0 - m.px(50))
    mx, my, mw, mh = media
    v.back.box(mx, my, mw, mh, PANEL)
    if item.kind in ("artifact", "model") and v.set_scene(item, media):
        c.text(text("turntable", lang), v.ui_font, mx + m.px(20), my + m.px(16), m.px(24), MUTED)
    else:
        v.set_scene(None, None)
        if item.kind == "print":
            draw_print(v, item, media)
        elif (tex := v.thumb(item)) is not None:      # no 3-D view: its picture
            side = min(mw, mh)
            c.image(tex, mx + (mw - side) / 2, my + (mh - side) / 2, side, side)
    _details(v, item, m.width * 0.54 + m.px(40), y0, m.width - m.px(60))


def draw_print(v: View, item: Item, rect: tuple[float, float, float, float]) -> None:
    """A print in ``rect``: the finished picture (IIIF tiles when zoomed; a tap on it looks
    there) with zoom buttons, or one block alone on the paper, and the blocks' inks below,
    each a control that shows its block."""
    m, c, s = v.m, v.front, v.session
    x, y, w, h = rect
    ch = max(m.px(60), m.target)                     # one ink chip's height
    lang = s.current
    widest = max((c.measure(b.name.get(lang) or b.name.get("en", ""), v.font(item, b.name.get(
        lang) or b.name.get("en", "")), m.px(22))[0] for b in item.blocks), default=0.0)
    cols = max(1, min(len(item.blocks), int((w - m.px(48)) // (widest + m.px(72)))))
    rows = -(-len(item.blocks) // cols) if item.blocks else 0
    chips_h = m.px(40) + rows * (ch + m.px(8)) if item.blocks else 0.0
    area = (x + m.px(24), y + m.px(24) + m.button(72), w - m.px(48),
            h - m.px(48) - m.button(72) - chips_h)
    tex, p = v.picture(item), v.pyramid(item)
    aspect = (p.width / p.height if p else
              tex.get_orig_file_x_size() / max(tex.get_orig_file_y_size(), 1) if tex
              else 1.0)
    aw, ah = area[2], area[3]
    pw, ph = (aw, aw / aspect) if aw / aspect <= ah else (ah * aspect, ah)
    px, py = area[0] + (aw - pw) / 2, area[1] + (ah - ph) / 2
    block = s.block if s.block is not None and s.block < len(item.blocks) else None
    if block is not None:
        btex = v.block(item, block)
        c.box(px, py, pw, ph, hex_colour(item.paper))
        if btex is not None:
            c.image(btex, px, py, pw, ph)
        blk = item.blocks[block]
        name = blk.name.get(lang) or blk.name.get("en", "")
        # the kiosk's words in its font, the ink's name in the bundle's
        label = text("block_n", lang, k=block + 1, n=len(item.blocks), name="").rstrip()
        c.text(label, v.ui_font, x + m.px(24), y + m.px(40), m.px(26), TEXT)
        lw = c.measure(label, v.ui_font, m.px(26))[0]
        c.text(name, v.font(item, name), x + m.px(24) + lw + m.px(10), y + m.px(40),
               m.px(26), ACCENT)
    else:
        z, cx, cy = s.zoom
        half = 0.5 / z
        region = (cx - half, cy - half, cx + half, cy + half)
        if z > 1.0 and p is not None:
            for t in tiles_for(p, region, (px, py, pw, ph)):
                ttex = v.tile(item, t.path)
                if ttex is not None:
                    c.image(ttex, *t.screen, uv=t.uv)
        elif tex is not None:
            c.image(tex, px, py, pw, ph, uv=(region[0], region[2], 1 - region[3],
                                             1 - region[1]))
        c.control("picture", (px, py, pw, ph), "zoom", "")
        bs = m.button(72)
        for k, (name, glyph) in enumerate((("zoom:out", "–"), ("zoom:in", "+"))):
            bx = x + w - m.px(24) - (2 - k) * (bs + m.px(12))
            _button(v, name, glyph, bx, y + m.px(24), bs, bs, "zoom", name[5:],
                    active=(z > 1.0) if k == 0 else (z < 8.0))
    if not item.blocks:
        return
    top = y + h - chips_h
    c.text(text("blocks", lang, n=len(item.blocks)), v.ui_font, x + m.px(24), top,
           m.px(22), MUTED)
    cw = (w - m.px(48)) / cols
    for k, blk in enumerate(item.blocks):
        bx = x + m.px(24) + (k % cols) * cw
        by = top + m.px(32) + (k // cols) * (ch + m.px(8))
        if k == block:
            c.box(bx - m.px(4), by - m.px(4), cw - m.px(4), ch + m.px(8), ACCENT)
            c.box(bx, by, cw - m.px(12), ch, PANEL)
        c.box(bx + m.px(6), by + (ch - m.px(34)) / 2, m.px(34), m.px(34), hex_colour(blk.ink))
        name = blk.name.get(lang) or blk.name.get("en", "")
        font, size = v.font(item, name), m.px(22)
        while c.measure(name, font, size)[0] > cw - m.px(60) and size > m.px(16):
            size *= 0.92                              # one line: smaller, never broken
        c.text(name, font, bx + m.px(48), by + (ch - size) / 2 - m.px(2), size, TEXT)
        c.control(f"block:{k + 1}", (bx, by, cw - m.px(8), ch), "block", str(k))


def _details(v: View, item: Item, x: float, y: float, right: float) -> None:
    m, c, s = v.m, v.front, v.session
    lang, wrap = s.current, right - x
    title = item.title_in(lang)
    font = v.font(item, title)
    c.text(title, font, x, y, m.px(50), TEXT, wrap=wrap)
    y += v.front.measure(title, font, m.px(50), wrap)[1] + m.px(28)
    for key, value in (("creator", item.creator), ("date", item.date),
                       ("rights", item.rights)):
        if not value:
            continue
        c.text(text(key, lang), v.ui_font, x, y, m.px(24), MUTED)
        vf = v.font(item, value)
        c.text(value, vf, x + m.px(150), y - m.px(2), m.px(27), TEXT, wrap=wrap - m.px(150))
        y += v.front.measure(value, vf, m.px(27), wrap - m.px(150))[1] + m.px(14)
    y += m.px(16)
    desc = item.description_in(lang)
    button_h = m.button(96)
    bottom = m.height - m.px(50) - button_h - m.px(70)
    if desc:
        df = v.font(item, desc)
        size = max(m.px(30), m.body)
        while size > m.body and v.front.measure(desc, df, size, wrap)[1] > bottom - y:
            size *= 0.92
        c.text(desc, df, x, y, size, TEXT, wrap=wrap)
    _wall(v, item, x, m.height - m.px(50) - button_h, wrap, button_h)


def _wall(v: View, item: Item, x: float, y: float, w: float, h: float) -> None:
    m, c, s = v.m, v.front, v.session
    lang, fb = s.current, s.feedback
    fb = fb if fb is not None and fb.item == item.id else None
    state = fb.state if fb is not None else ""
    busy = state in ("sending", "moving")
    label = text("sending", lang) if state == "sending" else text("show", lang)
    _button(v, "show", label, x, y, w, h, "show", primary=True,
            active=s.online and not busy)
    line, colour = "", MUTED
    if not s.online:
        line, colour = text("offline", lang), ALERT
    elif state == "moving":
        line, colour = text("moving", lang), ACCENT
    elif state == "on_wall":
        line, colour = text("on_wall", lang), GOOD
    elif state == "refused":
        line, colour = text("refused", lang, reason=fb.reason if fb else ""), ALERT
    elif state == "offline":
        line, colour = text("offline", lang), ALERT
    if line:
        c.text(line, v.font(None, line), x, y - m.px(56), m.px(28), colour, wrap=w)


# --------------------------------------------------------------------------- staff


def draw_pin(v: View) -> None:
    """The PIN pad that leads to the staff page."""
    m, c, s = v.m, v.front, v.session
    lang = s.current
    v.back.box(0, 0, m.width, m.height, BG)
    v.set_scene(None, None)
    key = m.button(110)
    gap = m.px(18)
    pad_w = 3 * key + 2 * gap
    x0, y0 = (m.width - pad_w) / 2, m.px(260)
    c.text(text("pin", lang), v.ui_font, m.width / 2, m.px(70), m.px(44), TEXT, align="center")
    c.text("*" * len(s.pin) if s.pin else "—", v.ui_font, m.width / 2, m.px(150), m.px(44),
           ACCENT, align="center")
    if s.pin_error:
        msg = {"wrong": text("pin_wrong", lang), "none": text("pin_none", lang),
               "locked": text("pin_wrong", lang) + " · 30 s"}[s.pin_error]
        c.text(msg, v.ui_font, m.width / 2, m.px(210), m.px(28), ALERT, align="center")
    keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "‹", "0", "OK"]
    for i, k in enumerate(keys):
        kx, ky = x0 + (i % 3) * (key + gap), y0 + (i // 3) * (key + gap)
        action, arg = (("delete", "") if k == "‹" else ("enter", "") if k == "OK"
                       else ("digit", k))
        _button(v, f"pin:{k}", k, kx, ky, key, key, action, arg, primary=k == "OK")
    _button(v, "cancel", text("cancel", lang), x0, y0 + 4 * (key + gap), pad_w, m.button(80),
            "cancel")


def draw_staff(v: View) -> None:
    """The staff page: what this kiosk is, and the way out of kiosk mode."""
    m, c, s = v.m, v.front, v.session
    lang = s.current
    v.back.box(0, 0, m.width, m.height, BG)
    v.set_scene(None, None)
    c.text(text("staff", lang), v.ui_font, m.px(80), m.px(70), m.px(48), TEXT)
    lines = [f"kiosk: {v.kiosk_id}", f"controller: {v.controller}",
             f"{text('online', lang) if s.online else text('offline_short', lang)}",
             f"{len(v.items)} items"]
    for i, line in enumerate(lines):
        c.text(line, v.ui_font, m.px(80), m.px(170) + i * m.px(50), m.px(30),
               TEXT if i != 2 or s.online else ALERT)
    w, h = m.px(560), m.button(100)
    _button(v, "resume", text("resume", lang), m.px(80), m.height - m.px(300), w, h, "resume",
            primary=True)
    _button(v, "exit", text("exit", lang), m.px(80), m.height - m.px(170), w, h, "exit")


# --------------------------------------------------------------------------- overlays


def draw_overlays(v: View, seconds_left: int) -> None:
    """The offline badge (every page), the idle warning, and the hidden staff corner."""
    m, c, s = v.m, v.front, v.session
    lang = s.current
    corner = max(m.target * 1.2, m.px(90))
    c.control("staff", (0, m.height - corner, corner, corner), "staff")
    if not s.online:
        msg = text("offline", lang)
        w = v.front.measure(msg, v.ui_font, m.px(28))[0] + m.px(70)
        x = (m.width - w) / 2
        c.box(x, m.px(12), w, m.px(56), ALERT)
        c.text(msg, v.ui_font, m.width / 2, m.px(24), m.px(28), TEXT, align="center")
    if s.idle_warning and s.screen != "attract":
        c.box(0, 0, m.width, m.height, (0.0, 0.0, 0.0, 0.62))
        bw, bh = m.px(980), m.px(300)
        bx, by = (m.width - bw) / 2, (m.height - bh) / 2
        c.box(bx, by, bw, bh, RAISED)
        c.text(text("idle", lang), v.ui_font, m.width / 2, by + m.px(70), m.px(40), TEXT,
               align="center", wrap=bw - m.px(60))
        c.text(text("idle_in", lang, s=max(seconds_left, 0)), v.ui_font, m.width / 2,
               by + m.px(190), m.px(30), MUTED, align="center")
        c.control("stay", (0, 0, m.width, m.height), "stay")
