"""A picture of a venue's wall: which projector lights which part, and what is wrong.

Drawn with Pillow from the venue alone (no renderer): the wall outline with a metre
scale, each display's rectangle in its own colour with its id and pixel size, the
overlaps hatched with their blend widths, gaps and other problems in red, and the
design eye point. A curved wall is drawn unrolled, with a small top view of the arc,
the chords the displays render and the eye.
"""

from __future__ import annotations

import math
import os
from itertools import pairwise
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ..config import VenueConfig
from ..config.paths import write_atomic
from .blend import blend_widths
from .check import Problem, check_venue, overlaps
from .frustum import wall_point

__all__ = ["PALETTE", "draw_wall", "save_wall_diagram"]

#: One colour per display, in venue order (repeats after ten).
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (23, 190, 207), (188, 189, 34), (127, 127, 127), (57, 59, 121))

_RED = (214, 39, 40)
_INK = (40, 40, 40)
_WARN = (196, 120, 0)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size)
    except (OSError, ImportError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: object) -> tuple[int, int]:
    box = draw.multiline_textbbox((0, 0), text, font=font)  # type: ignore[arg-type]
    return box[2] - box[0], box[3] - box[1]


def _hatch(img: Image.Image, box: tuple[int, int, int, int], colour: tuple[int, ...],
           step: int = 9) -> None:
    """Diagonal hatching inside ``box`` (left, top, right, bottom)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w <= 0 or h <= 0:
        return
    tile = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(tile)
    for k in range(-h, w, step):
        d.line([(k, h), (k + h, 0)], fill=colour, width=2)
    img.alpha_composite(tile, (x0, y0))


def _area(rect: tuple[float, float, float, float] | None) -> float:
    return 0.0 if rect is None else rect[2] * rect[3]


def _coverage_cells(venue: VenueConfig
                    ) -> list[tuple[tuple[float, float, float, float], int, list[str]]]:
    """The wall cut along every display edge: each cell and how many displays cover it."""
    xs = sorted({0.0, venue.wall.width, *(v for d in venue.displays
                                          for v in (d.rect[0], d.rect[0] + d.rect[2]))})
    ys = sorted({0.0, venue.wall.height, *(v for d in venue.displays
                                           for v in (d.rect[1], d.rect[1] + d.rect[3]))})
    cells = []
    for x0, x1 in pairwise(xs):
        for y0, y1 in pairwise(ys):
            if x1 - x0 < 1e-6 or y1 - y0 < 1e-6:
                continue
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            ids = [d.id for d in venue.displays
                   if d.rect[0] < cx < d.rect[0] + d.rect[2]
                   and d.rect[1] < cy < d.rect[1] + d.rect[3]]
            cells.append(((x0, y0, x1 - x0, y1 - y0), len(ids), ids))
    return cells


def draw_wall(venue: VenueConfig, problems: list[Problem] | None = None,
              width_px: int = 1400) -> Image.Image:
    """Draw the venue's wall as an RGB image about ``width_px`` wide.

    Args:
        venue: the venue.
        problems: the problems to mark (default: :func:`~exhibit_engine.wall.check.check_venue`).
        width_px: image width in pixels (400-4000).
    """
    if problems is None:
        problems = check_venue(venue)
    width_px = max(400, min(int(width_px), 4000))
    wall = venue.wall
    margin = 60
    scale = (width_px - 2 * margin) / wall.width          # pixels per metre
    scale = min(scale, 900 / wall.height)
    wall_w, wall_h = round(wall.width * scale), round(wall.height * scale)
    f_title, f_label, f_small = _font(22), _font(17), _font(14)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines = [(str(p), _RED if p.severity == "error" else _WARN) for p in problems] or \
        [("no problems found", (30, 130, 50))]
    line_h = _text_size(probe, "Ag", f_label)[1] + 8
    top_view_h = 320 if wall.shape == "cylinder" else 0
    top = 70
    height = top + wall_h + 60 + top_view_h + 20 + line_h * len(lines) + 30
    width = max(width_px, wall_w + 2 * margin)
    img = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    left = (width - wall_w) // 2

    def px(x: float, y: float) -> tuple[int, int]:
        return round(left + x * scale), round(top + (wall.height - y) * scale)

    shape = ("flat wall" if wall.shape != "cylinder" else
             f"curved wall (cylinder r = {wall.radius:.2f} m, {wall.angle_deg:.0f} deg), "
             "drawn unrolled")
    draw.text((margin, 18), f"{venue.name}: {wall.width:.2f} m x {wall.height:.2f} m "
              f"{shape}, {len(venue.displays)} displays", fill=_INK, font=f_title)
    draw.rectangle([px(0, wall.height), px(wall.width, 0)], fill=(246, 246, 246),
                   outline=_INK, width=2)
    # metre scale along the bottom
    step = 0.5 if wall.width <= 6 else 1.0 if wall.width <= 16 else 5.0
    n = math.floor(wall.width / step + 1e-9)
    for i in range(n + 1):
        x, y = px(i * step, 0)
        draw.line([(x, y), (x, y + 7)], fill=_INK, width=1)
        draw.text((x, y + 9), f"{i * step:g}", fill=_INK, font=f_small, anchor="mt")
    draw.text((left + wall_w, top + wall_h + 28), "metres", fill=_INK, font=f_small,
              anchor="rt")
    # display rectangles: translucent fill, solid outline
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    ldraw = ImageDraw.Draw(layer)
    for i, d in enumerate(venue.displays):
        c = PALETTE[i % len(PALETTE)]
        x, y, w, h = d.rect
        ldraw.rectangle([px(x, y + h), px(x + w, y)], fill=(*c, 55))
    img.alpha_composite(layer)
    # overlaps: hatched once where two displays overlap, cross-hatched where more do
    cells = _coverage_cells(venue)
    own: dict[str, tuple[float, float, float, float]] = {}  # each display's largest own cell
    for cell, count, ids in cells:
        if count == 1 and cell[2] * cell[3] > _area(own.get(ids[0])):
            own[ids[0]] = cell
    for (x, y, w, h), count, _ in cells:
        if count >= 2:
            (bx0, by0), (bx1, by1) = px(x, y + h), px(x + w, y)
            _hatch(img, (bx0, by0, bx1, by1), (*_INK, 110))
            if count >= 3:
                flipped = Image.new("RGBA", (bx1 - bx0, by1 - by0), (0, 0, 0, 0))
                _hatch(flipped, (0, 0, bx1 - bx0, by1 - by0), (*_INK, 110))
                img.alpha_composite(flipped.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                                    (bx0, by0))
    for i, d in enumerate(venue.displays):
        c = PALETTE[i % len(PALETTE)]
        x, y, w, h = d.rect
        draw.rectangle([px(x, y + h), px(x + w, y)], outline=c, width=3)
    # labels at each display's centre
    for i, d in enumerate(venue.displays):
        c = PALETTE[i % len(PALETTE)]
        x, y, w, h = d.rect
        ox, oy, ow, oh = own.get(d.id, d.rect)
        cx, cy = px(ox + ow / 2, oy + oh * 0.72)  # above the middle, where the eye often is
        warp = "" if d.warp is None else f"\n{type(d.warp).__name__.lower()} warp"
        text = f"{d.id}\n{d.pixels[0]} x {d.pixels[1]} px\n{w:.2f} x {h:.2f} m{warp}"
        tw, th = _text_size(draw, text, f_label)
        draw.rectangle([cx - tw // 2 - 6, cy - th // 2 - 6, cx + tw // 2 + 6,
                        cy + th // 2 + 8], fill=(255, 255, 255), outline=c, width=2)
        draw.multiline_text((cx, cy), text, fill=c, font=f_label, anchor="mm",
                            align="center")
    for o in overlaps(venue):
        x, y, w, h = o.rect
        a, b = venue.display(o.a), venue.display(o.b)
        if o.axis == "x":
            side = 1 if a.rect[0] < b.rect[0] else 0
            width_m = blend_widths(venue, a)[side]
            text = f"blend\n{width_m:.2f} m"
        elif o.axis == "y":
            side = 3 if a.rect[1] > b.rect[1] else 2
            width_m = blend_widths(venue, a)[side]
            text = f"blend {width_m:.2f} m"
        else:
            text = ""
        if text:
            cx, cy = px(x + w / 2, y + h / 2)
            tw, th = _text_size(draw, text, f_small)
            draw.rectangle([cx - tw // 2 - 4, cy - th // 2 - 4, cx + tw // 2 + 4,
                            cy + th // 2 + 6], fill=(255, 255, 255))
            draw.multiline_text((cx, cy), text, fill=_INK, font=f_small, anchor="mm",
                                align="center")
    # gaps and other problems with an area
    for p in problems:
        if p.kind == "gap" and p.area is not None:
            x, y, w, h = p.area
            box = [px(x, y + h), px(x + w, y)]
            tile = Image.new("RGBA", img.size, (0, 0, 0, 0))
            ImageDraw.Draw(tile).rectangle(box, fill=(*_RED, 150))
            img.alpha_composite(tile)
            draw.rectangle(box, outline=_RED, width=3)
            cx, _ = px(x + w / 2, y + h / 2)
            text = f"gap {w:.2f} m" if h >= wall.height - 1e-6 else f"gap {w:.2f} x {h:.2f} m"
            tw, th = _text_size(draw, text, f_label)
            ty = box[0][1] + 12
            draw.rectangle([cx - tw // 2 - 5, ty - 4, cx + tw // 2 + 5, ty + th + 8],
                           fill=(255, 255, 255), outline=_RED, width=2)
            draw.text((cx, ty), text, fill=_RED, font=f_label, anchor="mt")
    # the eye point, where it faces the wall
    ex, ey, dist = wall.eye
    cx, cy = px(ex, ey)
    draw.ellipse([cx - 9, cy - 9, cx + 9, cy + 9], outline=_INK, width=3)
    draw.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=_INK)
    text = f"eye ({ex:.2f}, {ey:.2f}) m,\n{dist:.2f} m from the wall"
    tw, th = _text_size(draw, text, f_small)
    draw.rectangle([cx - tw // 2 - 4, cy + 12, cx + tw // 2 + 4, cy + 20 + th],
                   fill=(255, 255, 255))
    draw.multiline_text((cx, cy + 14), text, fill=_INK, font=f_small, anchor="ma",
                        align="center")
    y_next = top + wall_h + 50
    if wall.shape == "cylinder":
        _draw_top_view(img, venue, (margin, y_next, width - margin, y_next + top_view_h - 20))
        y_next += top_view_h
    for text, colour in lines:
        draw.text((margin, y_next), text, fill=colour, font=f_label)
        y_next += line_h
    return img.convert("RGB")


def _draw_top_view(img: Image.Image, venue: VenueConfig,
                   box: tuple[int, int, int, int]) -> None:
    """Top view of a cylinder: the arc, each display's chord in its colour, the eye."""
    wall = venue.wall
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    n = 64
    arc = [wall_point(wall, wall.width * k / n, 0.0) for k in range(n + 1)]
    xs = [float(p[0]) for p in arc] + [0.0]
    ys = [float(p[1]) for p in arc] + [0.0]
    span_x = max(max(xs) - min(xs), 1e-6)
    span_y = max(max(ys) - min(ys), 1e-6)
    s = min((x1 - x0 - 40) / span_x, (y1 - y0 - 40) / span_y)
    mid_x = (max(xs) + min(xs)) / 2

    def tp(x: float, y: float) -> tuple[float, float]:
        return ((x0 + x1) / 2 + (x - mid_x) * s, y1 - 20 - (y - min(ys)) * s)

    draw.text((x0, y0), "top view", fill=_INK, font=_font(14))
    draw.line([tp(float(p[0]), float(p[1])) for p in arc], fill=(150, 150, 150), width=6)
    for i, d in enumerate(venue.displays):
        a = wall_point(wall, d.rect[0], 0.0)
        b = wall_point(wall, d.rect[0] + d.rect[2], 0.0)
        colour = PALETTE[i % len(PALETTE)]
        draw.line([tp(float(a[0]), float(a[1])), tp(float(b[0]), float(b[1]))],
                  fill=colour, width=3)
    ex, ey = tp(0.0, 0.0)
    draw.ellipse([ex - 6, ey - 6, ex + 6, ey + 6], fill=_INK)
    draw.text((ex + 10, ey), "eye", fill=_INK, font=_font(14), anchor="lm")


def save_wall_diagram(venue: VenueConfig, path: str | os.PathLike[str],
                      problems: list[Problem] | None = None) -> Path:
    """Draw the wall and write it as a PNG (atomically: a temporary file, then rename).

    Returns:
        the path written.
    """
    image = draw_wall(venue, problems)
    return write_atomic(path, lambda f: image.save(f, format="PNG"), parents=True)
