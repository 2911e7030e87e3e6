"""The ``heritage`` kind's pure half: parameters, the tour, camera poses, fades and layout.

Nothing here touches Panda3D: every function maps (parameters, show time, show state)
to numbers, so the choreography is tested without rendering and every node computes
the same frame from the same ``t``.

Screen layout is in *view units*: metres on a plane one metre in front of the eye (the
camera rig's frame: +x right, +y forward, +z up). A centred 60-degree, 16:9 view spans
x in [-0.577, 0.577] and z in [-0.325, 0.325] there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import SceneError

__all__ = ["Annotation", "Artifact", "CAPTION_AT", "DISPLAY_HEIGHT", "DISPLAY_MARGIN", "FITS",
           "Fit", "HeritageParams", "LANGUAGES", "MAX_ANNOTATIONS", "PLAUSIBLE_HEIGHT", "Placement", "Pose",
           "SLOTS", "TourStop", "UP_AXES", "camera_pose", "caption_weights", "fit_to_plinth",
           "focus_pose", "focus_weights", "orientation", "pick_language", "size_warnings",
           "smootherstep", "tour_pose", "turntable_deg"]

#: Languages a visitor may choose; Chinese is the default.
LANGUAGES = ("zh", "en", "ru")
#: Most annotations one artifact may carry (two columns of three slots).
MAX_ANNOTATIONS = 6
#: Annotation slots in view units: (side, x of the text edge nearest the object, z of
#: the title's baseline). Annotation i takes slot i: left and right alternate, top down.
SLOTS: tuple[tuple[int, float, float], ...] = (
    (-1, -0.215, 0.190), (1, 0.215, 0.190), (-1, -0.215, 0.055), (1, 0.215, 0.055),
    (-1, -0.215, -0.080), (1, 0.215, -0.080))
#: Where the caption's first baseline sits (view units, centred).
CAPTION_AT = (0.0, -0.262)
#: The default display volume's footprint is the plinth top's, less this share of each side.
DISPLAY_MARGIN = 0.10
#: The default display volume's height above the plinth top (m).
DISPLAY_HEIGHT = 0.70
#: How an artifact without ``height_m`` or ``scale`` is sized (see :func:`fit_to_plinth`).
FITS = ("auto", "fill", "none")
#: Axis names ``up`` accepts (the model's axis, in glTF's Y-up axes, that should point up).
UP_AXES = ("y", "-y", "x", "-x", "z", "-z")
#: Real heights (m) outside this range are probably a unit mistake: pack warns.
PLAUSIBLE_HEIGHT = (0.01, 20.0)
_FILL_BELOW = 0.1       # "auto" fills a model smaller than a tenth of its display volume
_MAX_EYE_M = 900.0      # framing distance cap: the runtime's far plane is 2000 m
_FADE_S = 1.0           # captions and annotations fade in/out over a second
_VIEW_HALF_H = 0.325    # tan of half the vertical field of view the framing assumes


def smootherstep(x: float) -> float:
    """Ken Perlin's C2 ease on [0, 1] (clamped): zero speed and acceleration at both ends."""
    x = min(max(x, 0.0), 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def _ramp(e0: float, e1: float, x: float) -> float:
    return smootherstep((x - e0) / (e1 - e0)) if e1 != e0 else float(x >= e1)


@dataclass(frozen=True)
class Annotation:
    """A note anchored to a point of an artifact.

    ``at`` is in the model's own frame as it loads (metres after pack's units/up, Z-up),
    before :func:`fit_to_plinth`: the anchor moves, turns and scales with the model.
    """

    title: str
    note: str
    at: tuple[float, float, float]


@dataclass(frozen=True)
class Artifact:
    """An artifact on its plinth, with how it is placed (see :func:`fit_to_plinth`)."""

    item: str
    model: str
    at: tuple[float, float]
    plinth: tuple[float, float, float]
    title: str
    phase: float
    annotations: tuple[Annotation, ...]
    display: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fit: str = "auto"
    height_m: float | None = None
    scale: float | None = None
    rotate: tuple[float, float, float] = (0.0, 0.0, 0.0)
    up: str = "y"
    animation: str | None = None

    @property
    def display_volume(self) -> tuple[float, float, float]:
        """Width, depth and height (m) the artifact must fit above its plinth top."""
        if self.display != (0.0, 0.0, 0.0):
            return self.display
        w, d, _ = self.plinth
        k = 1.0 - 2.0 * DISPLAY_MARGIN
        return (w * k, d * k, DISPLAY_HEIGHT)


@dataclass(frozen=True)
class TourStop:
    """A viewpoint of the tour: an artifact's framing or an explicit eye and look-at."""

    item: str | None
    eye: tuple[float, float, float] | None
    look: tuple[float, float, float] | None
    hold: float
    move: float
    caption: str | None


@dataclass(frozen=True)
class Pose:
    """Camera eye and look-at point, world metres."""

    eye: tuple[float, float, float]
    look: tuple[float, float, float]


@dataclass(frozen=True)
class HeritageParams:
    """The ``heritage`` kind's parameters, checked (see :mod:`.heritage`)."""

    artifacts: tuple[Artifact, ...]
    tour: tuple[TourStop, ...]
    turntable_period: float = 60.0
    focus_seconds: float = 3.0
    language: str = "zh"

    @property
    def tour_length(self) -> float:
        """One round of the tour, seconds."""
        return sum(s.hold + s.move for s in self.tour)

    def artifact(self, item: str) -> Artifact | None:
        """The artifact showing ``item``, or ``None``."""
        return next((a for a in self.artifacts if a.item == item), None)

    @classmethod
    def parse(cls, scene_id: str, params: Mapping[str, Any], labels: Mapping[str, Any],
              assets: Sequence[str]) -> HeritageParams:
        """Check a manifest's params (and that every label and model they name exists).

        Raises:
            SceneError: naming the scene and the offending key.
        """
        def fail(why: str) -> SceneError:
            return SceneError(scene_id, f"heritage parameter {why}")

        def num(v: Any, key: str, lo: float = -1e4, hi: float = 1e4) -> float:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not \
                    (math.isfinite(v) and lo <= v <= hi):
                raise fail(f"{key} must be a number in [{lo:g}, {hi:g}], not {v!r}")
            return float(v)

        def vec(v: Any, n: int, key: str, lo: float = -1e4, hi: float = 1e4
                ) -> tuple[float, ...]:
            if not isinstance(v, (list, tuple)) or len(v) != n:
                raise fail(f"{key} must be a list of {n} numbers, not {v!r}")
            return tuple(num(x, key, lo, hi) for x in v)

        def label(v: Any, key: str) -> str:
            if not isinstance(v, str) or v not in labels:
                raise fail(f"{key} must name a label of [scenes.labels], not {v!r}")
            return v

        def keys(d: Any, allowed: set[str], key: str) -> Mapping[str, Any]:
            if not isinstance(d, Mapping):
                raise fail(f"{key} must be a table")
            extra = sorted(set(d) - allowed)
            if extra:
                raise fail(f"{key}: unknown key {extra[0]!r} (known: {', '.join(sorted(allowed))})")
            return d

        def placement(a: Mapping[str, Any], where: str) -> dict[str, Any]:
            out: dict[str, Any] = {}
            if "display" in a:
                out["display"] = vec(a["display"], 3, f"{where}.display", 0.01, 10.0)
            if "height_m" in a and "scale" in a:
                raise fail(f"{where}: give height_m or scale, not both")
            if "height_m" in a:
                out["height_m"] = num(a["height_m"], f"{where}.height_m", 1e-4, 1000.0)
            if "scale" in a:
                out["scale"] = num(a["scale"], f"{where}.scale", 1e-6, 1e6)
            fit = a.get("fit", "auto")
            if fit not in FITS:
                raise fail(f"{where}.fit must be one of {', '.join(FITS)}, not {fit!r}")
            out["fit"] = fit
            rot = a.get("rotate", 0.0)
            out["rotate"] = ((0.0, 0.0, num(rot, f"{where}.rotate", -360.0, 360.0))
                             if not isinstance(rot, (list, tuple))
                             else vec(rot, 3, f"{where}.rotate", -360.0, 360.0))
            up = a.get("up", "y")
            if up not in UP_AXES:
                raise fail(f"{where}.up must be one of {', '.join(UP_AXES)}, not {up!r}")
            out["up"] = up
            anim = a.get("animation")
            if anim is not None and (not isinstance(anim, str) or not anim.strip()):
                raise fail(f"{where}.animation must name one of the model's animations, "
                           f"not {anim!r}")
            out["animation"] = anim
            return out

        models = [m for m in assets if isinstance(m, str) and m.lower().endswith(".glb")]
        top = keys(params, {"artifacts", "tour", "turntable_period", "focus_seconds",
                            "language"}, "params")
        arts: list[Artifact] = []
        raw_arts = top.get("artifacts", [])
        if not isinstance(raw_arts, list) or not raw_arts:
            raise fail("artifacts must be a non-empty list of tables")
        for i, a in enumerate(raw_arts):
            where = f"artifacts[{i}]"
            a = keys(a, {"item", "model", "at", "plinth", "title", "phase", "annotations",
                         "display", "fit", "height_m", "scale", "rotate", "up", "animation"}, where)
            model = a.get("model")
            if model not in models:
                raise fail(f"{where}.model must name one of the scene's .glb assets "
                           f"({', '.join(models) or 'none'}: the packed name, e.g. "
                           f"meshes/x.glb for a source meshes/x.obj), not {model!r}")
            item = a.get("item")
            if not isinstance(item, str) or not item or any(x.item == item for x in arts):
                raise fail(f"{where}.item must be a unique item id, not {item!r}")
            notes = a.get("annotations", [])
            if not isinstance(notes, list) or len(notes) > MAX_ANNOTATIONS:
                raise fail(f"{where}.annotations must be a list of at most {MAX_ANNOTATIONS}")
            anns = []
            for k, n in enumerate(notes):
                w = f"{where}.annotations[{k}]"
                n = keys(n, {"title", "note", "at"}, w)
                anns.append(Annotation(label(n.get("title"), f"{w}.title"),
                                       label(n.get("note"), f"{w}.note"),
                                       vec(n.get("at"), 3, f"{w}.at")))  # type: ignore[arg-type]
            arts.append(Artifact(item, model, vec(a.get("at"), 2, f"{where}.at"),  # type: ignore[arg-type]
                                 vec(a.get("plinth", [0.5, 0.5, 0.9]), 3, f"{where}.plinth",
                                     0.0, 3.0),  # type: ignore[arg-type]
                                 label(a.get("title"), f"{where}.title"),
                                 num(a.get("phase", 0.0), f"{where}.phase", -3600.0, 3600.0),
                                 tuple(anns), **placement(a, where)))
        stops: list[TourStop] = []
        raw_tour = top.get("tour", [])
        if not isinstance(raw_tour, list):
            raise fail("tour must be a list of tables")
        for i, s in enumerate(raw_tour):
            where = f"tour[{i}]"
            s = keys(s, {"item", "eye", "look", "hold", "move", "caption"}, where)
            item = s.get("item")
            if item is not None and not any(a.item == item for a in arts):
                raise fail(f"{where}.item {item!r} is not one of the artifacts")
            eye = vec(s["eye"], 3, f"{where}.eye") if "eye" in s else None
            look = vec(s["look"], 3, f"{where}.look") if "look" in s else None
            if item is None and (eye is None or look is None):
                raise fail(f"{where} needs an item or both eye and look")
            cap = label(s["caption"], f"{where}.caption") if "caption" in s else None
            stops.append(TourStop(item, eye, look, num(s.get("hold", 10.0), f"{where}.hold",
                                                        0.0, 3600.0),  # type: ignore[arg-type]
                                  num(s.get("move", 4.0), f"{where}.move", 2.0, 600.0), cap))
        lang = top.get("language", "zh")
        if lang not in LANGUAGES:
            raise fail(f"language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
        return cls(tuple(arts), tuple(stops),
                   num(top.get("turntable_period", 60.0), "turntable_period", 5.0, 3600.0),
                   num(top.get("focus_seconds", 3.0), "focus_seconds", 2.0, 30.0), lang)


# --------------------------------------------------------------------------- placement


@dataclass(frozen=True)
class Placement:
    """Where an artifact stands at one show time (world metres; see ``HeritageScene.placement``).

    Attributes:
        lo, hi: the model's world-space tight bounds (axis-aligned, at ``t``'s heading).
        plinth_top: the plinth top's height (z).
        display: the display volume (width, depth, height) above the plinth top.
        axis: the turntable axis (x, y).
        fit: the fit applied.
        turn_lo, turn_hi: the model's tight bounds in the turntable's own frame (origin
            on the axis at the plinth top; turns with the model, so the same at any ``t``).
    """

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    plinth_top: float
    display: tuple[float, float, float]
    axis: tuple[float, float]
    fit: Fit
    turn_lo: tuple[float, float, float]
    turn_hi: tuple[float, float, float]


@dataclass(frozen=True)
class Fit:
    """How a model stands on its turntable: ``p_turntable = scale * (R @ p_model) + offset``.

    ``R`` is :func:`orientation`; ``size`` (width, depth, height) and ``radius`` (largest
    horizontal distance from the turntable axis) are the fitted model's, in metres.
    """

    scale: float
    offset: tuple[float, float, float]
    size: tuple[float, float, float]
    radius: float


_UP_TURN = {"y": (0, 0.0), "-y": (0, 180.0), "x": (1, -90.0), "-x": (1, 90.0),
            "z": (0, -90.0), "-z": (0, 90.0)}


def _rot(axis: int, deg: float) -> tuple[tuple[float, float, float], ...]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    c, s = (float(round(c)) if abs(c - round(c)) < 1e-12 else c), \
        (float(round(s)) if abs(s - round(s)) < 1e-12 else s)
    if axis == 0:
        return ((1.0, 0.0, 0.0), (0.0, c, -s), (0.0, s, c))
    if axis == 1:
        return ((c, 0.0, s), (0.0, 1.0, 0.0), (-s, 0.0, c))
    return ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))


def _matmul(a, b) -> tuple[tuple[float, float, float], ...]:
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3))
                 for i in range(3))


def orientation(art: Artifact) -> tuple[tuple[float, float, float], ...]:
    """The rotation (3x3, rows; acts on column vectors) from the model's frame to the turntable's.

    The model's frame is Panda3D's as the GLB loads (Z-up: glTF's +y is +z, its +z is
    -y). ``up`` first turns the named glTF axis to +z by a quarter or half turn about
    x (for y/z axes) or y (for x axes); ``rotate = [x, y, z]`` then turns by x degrees
    about the x axis, y about y, z about z (z is the heading, counter-clockwise from
    above).
    """
    axis, deg = _UP_TURN[art.up]
    m = _rot(axis, deg)
    for k in range(3):
        if art.rotate[k]:
            m = _matmul(_rot(k, art.rotate[k]), m)
    return m


def fit_to_plinth(art: Artifact, lo: Sequence[float], hi: Sequence[float], radius: float
                  ) -> Fit:
    """Scale and offset that stand a model on its plinth top, centred, fitting its display volume.

    Args:
        art: the artifact (its display volume and overrides).
        lo, hi: the oriented model's tight bounds at scale 1 (turntable frame, metres).
        radius: the oriented model's largest horizontal distance from the vertical line
            through the bounds' x/y centre, at scale 1.

    The base (``lo`` z) lands on the plinth top and the bounds' x/y centre on the
    turntable axis. The scale: ``height_m`` makes the height that many metres;
    ``scale`` multiplies the file's size; otherwise ``fit``: ``"fill"`` scales the
    model to just fit the display volume (its height within the height, its turning
    footprint, a circle of ``radius``, within the footprint's inscribed circle),
    ``"none"`` keeps the file's size, and ``"auto"`` (default) keeps a model that
    already fits at the file's size (taken to be its real size), shrinks a larger one
    to fit, and fills with one smaller than a tenth of the volume (not at real size).
    """
    w, d, h = (max(float(hi[k]) - float(lo[k]), 0.0) for k in range(3))
    r = max(float(radius), 0.5 * max(w, d), 1e-9)
    vw, vd, vh = art.display_volume
    fill = min(min(vw, vd) / (2.0 * r), vh / max(h, 1e-9))
    if art.height_m is not None:
        s = art.height_m / max(h, 1e-9)
    elif art.scale is not None:
        s = art.scale
    elif art.fit == "fill":
        s = fill
    elif art.fit == "none":
        s = 1.0
    else:
        s = fill if fill < 1.0 or fill > 1.0 / _FILL_BELOW else 1.0
    cx, cy = (float(lo[0]) + float(hi[0])) / 2.0, (float(lo[1]) + float(hi[1])) / 2.0
    return Fit(s, (-s * cx, -s * cy, -s * float(lo[2])), (s * w, s * d, s * h), s * r)


def size_warnings(p: HeritageParams) -> list[str]:
    """Curator notes for declared real sizes that look like a unit mistake (pack prints them)."""
    lo, hi = PLAUSIBLE_HEIGHT
    return [f"artifacts[{i}] ({a.item}): height_m = {a.height_m:g} m is implausible (under "
            f"{lo * 100:g} cm or over {hi:g} m); is the unit right?"
            for i, a in enumerate(p.artifacts)
            if a.height_m is not None and not lo <= a.height_m <= hi]


# --------------------------------------------------------------------------- motion


def turntable_deg(art: Artifact, t: float, period: float) -> float:
    """The artifact's heading (degrees) at ``t``: one turn per ``period``, counter-clockwise."""
    return art.phase + 360.0 * ((t / period) % 1.0)


def focus_pose(art: Artifact, height: float, radius: float) -> Pose:
    """A framing of one artifact that leaves room for the annotation columns.

    Args:
        art: the artifact.
        height: its fitted model's height above the plinth top (m; :attr:`Fit.size`).
        radius: its fitted model's largest distance from the turntable axis (m).

    The look-at point, the distance (never beyond ``_MAX_EYE_M``, well inside the
    runtime's far plane) and the pitch all follow the fitted bounds.
    """
    x, y = art.at
    top = art.plinth[2]
    look = (x, y, top + 0.45 * height)
    # The object fills about 55 % of the view's height (and never its middle third's width).
    d = min(max(height / (1.1 * _VIEW_HALF_H), 2.0 * radius / 0.30, 0.3), _MAX_EYE_M)
    # low objects are seen a little more from above, as on a museum table
    pitch = math.radians(11.0 + 10.0 * min(max(1.0 - height / (2.0 * radius), 0.0), 1.0))
    return Pose((x, y - d * math.cos(pitch), look[2] + d * math.sin(pitch)), look)


def _lerp3(a: Sequence[float], b: Sequence[float], u: float) -> tuple[float, float, float]:
    return (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u)


def _blend(a: Pose, b: Pose, u: float) -> Pose:
    """Eased move from a to b that draws back a little mid-way, so the view breathes."""
    eye = _lerp3(a.eye, b.eye, u)
    look = _lerp3(a.look, b.look, u)
    dx, dy, dz = (eye[0] - look[0], eye[1] - look[1], eye[2] - look[2])
    span = math.dist(a.look, b.look)
    pull = 0.12 * span * math.sin(math.pi * u)
    n = math.sqrt(dx * dx + dy * dy + dz * dz) or 1.0
    eye = (eye[0] + dx / n * pull, eye[1] + dy / n * pull, eye[2] + dz / n * pull)
    return Pose(eye, look)


def _stop_pose(p: HeritageParams, stop: TourStop, frames: Mapping[str, Pose]) -> Pose:
    base = frames[stop.item] if stop.item is not None else None
    eye = stop.eye if stop.eye is not None else base.eye  # type: ignore[union-attr]
    look = stop.look if stop.look is not None else base.look  # type: ignore[union-attr]
    return Pose(tuple(eye), tuple(look))  # type: ignore[arg-type]


def _tour_phase(p: HeritageParams, t: float) -> tuple[int, float, bool]:
    """(stop index, seconds into its hold or move, whether moving) at ``t`` (looping)."""
    x = t % p.tour_length
    for i, s in enumerate(p.tour):
        if x < s.hold:
            return i, x, False
        x -= s.hold
        if x < s.move:
            return i, x, True
        x -= s.move
    return len(p.tour) - 1, p.tour[-1].move, True


def tour_pose(p: HeritageParams, t: float, frames: Mapping[str, Pose], rest: Pose) -> Pose:
    """Where the tour has the camera at ``t``: holds, then eased moves; ``rest`` if no tour."""
    if not p.tour or p.tour_length <= 0.0:
        return rest
    i, x, moving = _tour_phase(p, t)
    here = _stop_pose(p, p.tour[i], frames)
    if not moving:
        return here
    nxt = _stop_pose(p, p.tour[(i + 1) % len(p.tour)], frames)
    return _blend(here, nxt, smootherstep(x / p.tour[i].move))


def _selection(p: HeritageParams, state: Mapping[str, Any]) -> tuple[str | None, float | None]:
    item = state.get("selected_item")
    if not isinstance(item, str) or p.artifact(item) is None:
        return None, None
    at = state.get("selected_at")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
        at = None
    return item, (None if at is None else float(at))


def camera_pose(p: HeritageParams, t: float, state: Mapping[str, Any],
                frames: Mapping[str, Pose], rest: Pose) -> Pose:
    """The camera at ``t``: the tour, or an eased approach to the selected artifact.

    With ``selected_item`` and ``selected_at`` the camera leaves the tour's pose at
    ``selected_at`` and settles on the artifact ``focus_seconds`` later; without
    ``selected_at`` it is simply there.
    """
    item, at = _selection(p, state)
    if item is None or (at is not None and t < at):
        return tour_pose(p, t, frames, rest)
    target = frames[item]
    if at is None:
        return target
    return _blend(tour_pose(p, at, frames, rest), target, smootherstep((t - at) / p.focus_seconds))


def _tour_weights(p: HeritageParams, t: float) -> tuple[dict[str, float], dict[str, float]]:
    """Per-item and per-caption visibility from the tour alone at ``t``."""
    items: dict[str, float] = {}
    caps: dict[str, float] = {}
    if not p.tour or p.tour_length <= 0.0:
        return items, caps
    i, x, moving = _tour_phase(p, t)
    n = len(p.tour)
    pairs = []
    if not moving:
        pairs.append((p.tour[i], 1.0))
    else:
        m = p.tour[i].move
        pairs.append((p.tour[i], 1.0 - _ramp(0.0, _FADE_S, x)))
        pairs.append((p.tour[(i + 1) % n], _ramp(m - _FADE_S, m, x)))
    for stop, w in pairs:
        if stop.item is not None:
            items[stop.item] = max(items.get(stop.item, 0.0), w)
        if stop.caption is not None:
            caps[stop.caption] = max(caps.get(stop.caption, 0.0), w)
    return items, caps


def _weights(p: HeritageParams, t: float, state: Mapping[str, Any], caption_of_item: bool
             ) -> dict[str, float]:
    item, at = _selection(p, state)
    tour_items, tour_caps = _tour_weights(p, t)
    mine = tour_caps if caption_of_item else tour_items
    if item is None or (at is not None and t < at):
        return mine
    if at is None:
        away, arrive = 0.0, 1.0
    else:
        away = 1.0 - _ramp(0.0, _FADE_S, t - at)
        arrive = _ramp(p.focus_seconds - _FADE_S, p.focus_seconds, t - at)
    frozen_items, frozen_caps = _tour_weights(p, at if at is not None else t)
    frozen = frozen_caps if caption_of_item else frozen_items
    out = {k: w * away for k, w in frozen.items()}
    key = p.artifact(item).title if caption_of_item else item  # type: ignore[union-attr]
    out[key] = max(out.get(key, 0.0), arrive)
    return out


def _exclusive(w: Mapping[str, float]) -> tuple[str | None, float]:
    """The strongest entry, faded by how much the runner-up competes: never two at once."""
    ranked = sorted(w.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked or ranked[0][1] <= 0.0:
        return None, 0.0
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    return ranked[0][0], max(ranked[0][1] - second, 0.0)


def focus_weights(p: HeritageParams, t: float, state: Mapping[str, Any]
                  ) -> tuple[str | None, float]:
    """Which artifact's annotations show at ``t``, and how strongly (0..1)."""
    return _exclusive(_weights(p, t, state, False))


def caption_weights(p: HeritageParams, t: float, state: Mapping[str, Any]
                    ) -> tuple[str | None, float]:
    """Which caption label shows at ``t`` (a tour caption or the selection's title)."""
    return _exclusive(_weights(p, t, state, True))


def pick_language(state: Mapping[str, Any], default: str) -> str:
    """The visitor's language from the state (``language``), else the scene's default."""
    lang = state.get("language", default)
    return lang if lang in LANGUAGES else default
