"""Checking a venue's wall: everything that will look wrong, in plain sentences.

Pure numpy. :func:`check_venue` finds gaps no display covers, displays reaching outside
the wall, overlaps as wide as a display, blends that collide or have nothing to blend,
stretched pictures, folded warps and curved-wall chords behind the eye; each
:class:`Problem` names the displays involved. :func:`overlaps` lists every pair of
displays that share wall area (``exhibit wall check`` and the wall diagram use both).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ..config import CornerPin, DisplayConfig, VenueConfig
from ._geometry import auto_blend, covers, edges
from .blend import blend_widths
from .frustum import display_frustum

__all__ = ["Overlap", "Problem", "check_venue", "overlaps"]

_TOL = 1e-6  # metres: coordinates closer than this are the same edge
_SIDES = ("left", "right", "top", "bottom")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a venue's wall, in words.

    Attributes:
        severity: ``"error"`` (the wall will show it) or ``"warning"`` (worth a look).
        kind: ``"gap"``, ``"overlap"``, ``"outside"``, ``"aspect"``, ``"blend"``,
            ``"warp"`` or ``"eye"``.
        message: one plain sentence naming the displays.
        displays: the ids of the displays involved.
        area: the wall rectangle ``(x, y, width, height)`` (m) concerned, if any.
    """

    severity: str
    kind: str
    message: str
    displays: tuple[str, ...] = ()
    area: tuple[float, float, float, float] | None = None

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass(frozen=True)
class Overlap:
    """Two displays' common wall area.

    Attributes:
        a, b: the two display ids.
        rect: ``(x, y, width, height)`` of the common area (m).
        axis: ``"x"`` for side-by-side neighbours (the blend runs across x), ``"y"``
            for neighbours one above the other, ``""`` for a corner or a containment.
    """

    a: str
    b: str
    rect: tuple[float, float, float, float]
    axis: str


def overlaps(venue: VenueConfig) -> list[Overlap]:
    """Every pair of displays whose wall rectangles share an area (not just an edge)."""
    out = []
    ds = venue.displays
    for i, a in enumerate(ds):
        ax0, ax1, ay0, ay1 = edges(a.rect)
        for b in ds[i + 1:]:
            bx0, bx1, by0, by1 = edges(b.rect)
            x0, x1 = max(ax0, bx0), min(ax1, bx1)
            y0, y1 = max(ay0, by0), min(ay1, by1)
            if x1 - x0 <= _TOL or y1 - y0 <= _TOL:
                continue
            full_y = y1 - y0 >= min(a.rect[3], b.rect[3]) - _TOL
            full_x = x1 - x0 >= min(a.rect[2], b.rect[2]) - _TOL
            axis = "x" if full_y and not full_x else "y" if full_x and not full_y else ""
            out.append(Overlap(a.id, b.id, (x0, y0, x1 - x0, y1 - y0), axis))
    return out


def _m(a: float, b: float) -> str:
    return f"{a:.2f}-{b:.2f} m"


def _quoted(ids: list[str]) -> str:
    quoted = [f"'{i}'" for i in ids]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _names(ids: list[str]) -> str:
    return ("display " if len(ids) == 1 else "displays ") + _quoted(ids)


def _gaps(venue: VenueConfig) -> list[tuple[float, float, float, float]]:
    """Wall rectangles no display covers, merged into as few rectangles as is easy."""
    wall = venue.wall

    def cuts(values: list[float], hi: float) -> list[float]:
        out: list[float] = []
        for c in sorted(min(max(v, 0.0), hi) for v in [0.0, hi, *values]):
            if not out or c - out[-1] > _TOL:
                out.append(c)
        return out

    xs = cuts([e for d in venue.displays for e in edges(d.rect)[:2]], wall.width)
    ys = cuts([e for d in venue.displays for e in edges(d.rect)[2:]], wall.height)
    # per column band: runs of uncovered y cells
    bands: list[tuple[float, float, list[tuple[float, float]]]] = []
    for x0, x1 in pairwise(xs):
        cx = (x0 + x1) / 2
        runs: list[tuple[float, float]] = []
        for y0, y1 in pairwise(ys):
            cy = (y0 + y1) / 2
            if any(covers(d, np.float64(cx), np.float64(cy), 0.0) for d in venue.displays):
                continue
            if runs and abs(runs[-1][1] - y0) <= _TOL:
                runs[-1] = (runs[-1][0], y1)
            else:
                runs.append((y0, y1))
        bands.append((x0, x1, runs))
    rects: list[list[float]] = []  # x0, x1, y0, y1, merged across neighbouring bands
    open_: dict[tuple[float, float], list[float]] = {}
    for x0, x1, runs in bands:
        nxt: dict[tuple[float, float], list[float]] = {}
        for y0, y1 in runs:
            key = (round(y0, 6), round(y1, 6))
            r = open_.get(key)
            if r is not None and abs(r[1] - x0) <= _TOL:
                r[1] = x1
            else:
                r = [x0, x1, y0, y1]
                rects.append(r)
            nxt[key] = r
        open_ = nxt
    return [(r[0], r[2], r[1] - r[0], r[3] - r[2]) for r in rects]


def _touching(venue: VenueConfig, area: tuple[float, float, float, float]) -> list[str]:
    """Displays whose rectangles border a wall area along an edge (in wall order)."""
    x, y, w, h = area
    found = []
    for d in venue.displays:
        dx0, dx1, dy0, dy1 = edges(d.rect)
        share_y = min(dy1, y + h) - max(dy0, y) > _TOL
        share_x = min(dx1, x + w) - max(dx0, x) > _TOL
        if share_y and (abs(dx1 - x) <= _TOL or abs(dx0 - (x + w)) <= _TOL) or \
                share_x and (abs(dy1 - y) <= _TOL or abs(dy0 - (y + h)) <= _TOL):
            found.append(d)
    found.sort(key=lambda d: (d.rect[0], -d.rect[1]))
    return [d.id for d in found]


def _gap_problem(venue: VenueConfig, area: tuple[float, float, float, float]) -> Problem:
    x, y, w, h = area
    wall = venue.wall
    full_h = h >= wall.height - _TOL
    full_w = w >= wall.width - _TOL
    if full_h:
        where, size = f"x = {_m(x, x + w)}", f"{w:.2f} m"
    elif full_w:
        where, size = f"y = {_m(y, y + h)}", f"{h:.2f} m"
    else:
        where, size = f"x = {_m(x, x + w)}, y = {_m(y, y + h)}", f"{w:.2f} m x {h:.2f} m"
    ids = _touching(venue, area)
    if len(ids) >= 2:
        msg = f"{_names(ids)} leave a {size} gap at {where}"
    elif ids:
        msg = f"{_names(ids)} leaves a {size} strip of the wall uncovered at {where}"
    else:
        msg = f"no display covers a {size} part of the wall at {where}"
    return Problem("error", "gap", msg, tuple(ids), area)


def _convex_same_turn(quad: np.ndarray) -> bool:
    """A closed polygon is convex and turns the way the image does (clockwise, y down)."""
    n = len(quad)
    turns = []
    for i in range(n):
        a, b, c = quad[i], quad[(i + 1) % n], quad[(i + 2) % n]
        turns.append((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]))
    return all(t > 0 for t in turns)


def _warp_problems(d: DisplayConfig) -> list[Problem]:
    warp = d.warp
    if warp is None:
        return []
    if isinstance(warp, CornerPin):
        if not _convex_same_turn(np.asarray(warp.quad(), dtype=np.float64)):
            return [Problem("error", "warp", f"display '{d.id}': the corner pin's corners "
                            "do not form a convex quad in the order top-left, top-right, "
                            "bottom-right, bottom-left", (d.id,))]
        return []
    grid = np.asarray(warp.points, dtype=np.float64).reshape(warp.rows, warp.cols, 2)
    for r in range(warp.rows - 1):
        for c in range(warp.cols - 1):
            quad = np.array([grid[r, c], grid[r, c + 1], grid[r + 1, c + 1], grid[r + 1, c]])
            if not _convex_same_turn(quad):
                return [Problem("error", "warp", f"display '{d.id}': mesh cell at row {r}, "
                                f"column {c} is folded or not convex", (d.id,))]
    return []


def _warp_aspect(d: DisplayConfig) -> float:
    """Width over height (pixels) of the output area the image lands on."""
    w, h = d.pixels
    if d.warp is None:
        return w / h
    if isinstance(d.warp, CornerPin):
        q = np.asarray(d.warp.quad(), dtype=np.float64)
    else:
        g = np.asarray(d.warp.points, dtype=np.float64).reshape(d.warp.rows, d.warp.cols, 2)
        q = np.array([g[0, 0], g[0, -1], g[-1, -1], g[-1, 0]])
    top, bottom = np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[3])
    left, right = np.linalg.norm(q[3] - q[0]), np.linalg.norm(q[2] - q[1])
    return float((top + bottom) / max(left + right, 1e-12))


def check_venue(venue: VenueConfig) -> list[Problem]:
    """Everything about a venue's wall that will look wrong, in plain sentences.

    Errors: gaps no display covers, displays reaching outside the wall, an overlap as
    wide as a display, blends that collide inside a display, pixels whose aspect
    differs from the wall rectangle's by more than 1 %, folded warps, a curved
    wall's chord not in front of the eye. Warnings: blend widths that do not match
    the overlap they blend, black-level uplift on a display nothing overlaps.

    Returns:
        the problems, errors first, each naming the displays involved.
    """
    wall = venue.wall
    problems: list[Problem] = []
    for d in venue.displays:
        x0, x1, y0, y1 = edges(d.rect)
        if x0 < -_TOL or y0 < -_TOL or x1 > wall.width + _TOL or y1 > wall.height + _TOL:
            problems.append(Problem(
                "error", "outside", f"display '{d.id}' (x = {_m(x0, x1)}, y = {_m(y0, y1)}) "
                f"reaches outside the {wall.width:.2f} m x {wall.height:.2f} m wall", (d.id,),
                d.rect))
    for area in _gaps(venue):
        if area[2] > _TOL and area[3] > _TOL:
            problems.append(_gap_problem(venue, area))
    pairs = overlaps(venue)
    for o in pairs:
        a, b = venue.display(o.a), venue.display(o.b)
        x, y, w, h = o.rect
        full_x = [d for d in (a, b) if w >= d.rect[2] - _TOL]
        full_y = [d for d in (a, b) if h >= d.rect[3] - _TOL]
        if not (full_x and full_y):
            continue  # neighbours side by side, one above the other, or at a corner
        where = f"x = {_m(x, x + w)}, y = {_m(y, y + h)}"
        inside = [d for d in full_x if d in full_y]
        if inside:
            outer = b if inside[0] is a else a
            msg = (f"displays '{o.a}' and '{o.b}' overlap across the whole of display "
                   f"'{inside[0].id}' ({where}): it lies entirely inside '{outer.id}'")
        else:
            msg = (f"displays '{o.a}' and '{o.b}' overlap across the whole width of "
                   f"'{full_x[0].id}' and the whole height of '{full_y[0].id}' ({where})")
        problems.append(Problem("error", "overlap", msg, (o.a, o.b), o.rect))
    for d in venue.displays:
        widths = blend_widths(venue, d)
        auto, who = auto_blend(venue, d)
        for i, j, size, dim in ((0, 1, d.rect[2], "width"), (2, 3, d.rect[3], "height")):
            b1, b2 = widths[i], widths[j]
            if b1 > 0 and b2 > 0 and b1 + b2 > size + _TOL:
                n1, n2 = _SIDES[i], _SIDES[j]
                if d.blend[i] <= 0 and d.blend[j] <= 0:
                    msg = (f"display '{d.id}' is overlapped by {_quoted(who[i])} on the "
                           f"{n1} ({b1:.2f} m) and by {_quoted(who[j])} on the {n2} "
                           f"({b2:.2f} m), more than its {size:.2f} m {dim}")
                else:
                    msg = (f"display '{d.id}': its {n1} and {n2} blends ({b1:.2f} m + "
                           f"{b2:.2f} m) are more than its {dim} ({size:.2f} m)")
                problems.append(Problem("error", "overlap", msg,
                                        (d.id, *who[i], *who[j]), d.rect))
        given = dict(zip(_SIDES, d.blend))
        for (side, g), a_ in zip(given.items(), auto):
            if g <= 0:
                continue
            if a_ <= _TOL:
                problems.append(Problem(
                    "warning", "blend", f"display '{d.id}': a {g:.2f} m {side} blend, but "
                    f"no display overlaps its {side} edge, so it has no effect", (d.id,)))
            elif g > a_ + _TOL:
                problems.append(Problem(
                    "warning", "blend", f"display '{d.id}': its {side} blend ({g:.2f} m) is "
                    f"wider than the {a_:.2f} m overlap there; the ramp is cut short",
                    (d.id,)))
        warp_problems = _warp_problems(d)
        problems.extend(warp_problems)
        aspect_px = _warp_aspect(d)
        aspect_m = d.rect[2] / d.rect[3]
        off = aspect_px / aspect_m - 1.0
        if abs(off) > 0.01 and not warp_problems:
            what = "output" if d.warp is None else "warped output"
            problems.append(Problem(
                "error", "aspect", f"display '{d.id}': its {what} is {aspect_px:.3f}:1 but its "
                f"wall rectangle is {aspect_m:.3f}:1, so the picture is stretched "
                f"{abs(off) * 100:.1f} % {'wider' if off > 0 else 'taller'}", (d.id,), d.rect))
        if d.black_level > 0 and not any(d.id in (o.a, o.b) for o in pairs):
            problems.append(Problem(
                "warning", "blend", f"display '{d.id}': black_level {d.black_level:g} but no "
                "display overlaps it, so nothing needs matching", (d.id,)))
        if wall.shape == "cylinder":
            f = display_frustum(wall, d)
            if f.ul[1] <= 0.05:
                problems.append(Problem(
                    "error", "eye", f"display '{d.id}': its chord of the curved wall is not "
                    "in front of the eye; split it into narrower displays or move the eye",
                    (d.id,), d.rect))
    order = {"error": 0, "warning": 1}
    problems.sort(key=lambda p: order[p.severity])
    return problems
