"""``exhibit bench wall``: the stitch test. Three blended slices against one whole-wall render.

A flat wall lit by three projectors side by side, each ``size`` pixels (640x400 by
default), neighbours overlapping by ``overlap`` of a projector's width (20 %). The
wall is laid out on one pixel grid: every display's rectangle starts on a whole
wall pixel and has exactly its projector's pixel count, so overlap pixels of two
slices are the same wall points. Then, in one run, on one scene (the ice festival's
first scene by default) at one show time:

- each display's slice is rendered through the node's final pass
  (:class:`~exhibit_engine.runtime.output.OutputCorrection.for_display`: the blend
  ramp as ``weight ** (1/gamma)`` on the encoded output);
- the slices are composited in linear light
  (:func:`~exhibit_engine.wall.composite.composite_linear`: decode, add at their wall
  pixel positions, re-encode);
- the baseline: the whole wall rendered once, unblended, at the wall's pixel size.

Each slice is drawn as a node draws it: on the wall's one pixel grid
(:func:`~exhibit_engine.wall.frustum.wall_raster`) with its guard band, the ice's snow
and bloom on.

Reported: ``seam_psnr_db``, the PSNR of the worst overlap (target: at least 50 dB),
``seam_max_error``, its worst pixel (target: at most 24 of 255), the PSNR and largest
error of each overlap, ``raw_slice_max_error`` (each slice's own picture, before its
final pass, against the whole render over the slice's rectangle) and
``no_guard_raw_slice_max_error`` (the same without a guard band: a control),
``wall_psnr_db`` over the whole image,
``naive_seam_psnr_db`` (the same slices added gamma-encoded: how wrong an overlap
looks without linear light; no target, it shows the test can fail),
``weight_sum_error`` (the largest distance from 1 of the displays' weights summed at
any wall pixel), the final pass's cost on a slice (``slice_frame_ms`` against
``plain_frame_ms``, the same slice without the pass) and the guard band's
(``guard_cost_ratio``: ``slice_frame_ms`` over ``no_guard_frame_ms``, target at most
1.15), on the middle slice; medians of alternating blocks.

With ``save``, the composite, the whole render and their difference (x8) are written
as PNGs. The JSON (``--json``) is the suites' flat document plus ``overlaps``: a list
of ``{"a", "b", "box", "psnr_db", "max_error", "mean_error"}``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..assets.bundle import Bundle
from ..assets.pack import pack
from ..config import DisplayConfig, NetworkConfig, VenueConfig, WallConfig
from ..errors import ConfigError
from ..wall.blend import blend_weights
from ..wall.composite import composite_encoded, composite_linear, psnr, slice_overlaps
from ..wall.frustum import display_frustum, pixel_rect, venue_lod, wall_frustum, wall_raster
from . import Progress, Report, Target

__all__ = ["GUARD_COST_TARGET", "SEAM_MAX_ERROR", "SEAM_PSNR_TARGET", "WallBenchOptions", "WallReport", "bench_venue", "run"]

#: The worst overlap of the composited slices must match the whole render this well...
SEAM_PSNR_TARGET = 50.0
#: ... with no pixel of an overlap off by more than this (of 255).
SEAM_MAX_ERROR = 24
#: The most a guard band may add to a slice's frame time.
GUARD_COST_TARGET = 1.15
_ICE = Path(__file__).resolve().parents[2] / "content" / "ice-festival"
_DISPLAYS = 3
_WALL_HEIGHT_M = 2.5


@dataclass(frozen=True)
class WallBenchOptions:
    """Settings of the wall suite.

    Attributes:
        source: the bundle source folder to pack and render.
        scene: the scene to draw; ``None``: the bundle's first scene.
        size: one projector's output (width, height) in pixels.
        overlap: the overlap of neighbouring projectors, as a fraction of a
            projector's width.
        t: the show time drawn.
        frames: frames per timed block of the final-pass timing.
        repeat: timed blocks of each loop (alternating; medians).
        save: a folder for the composite, whole and difference PNGs (``None``: none).
        workdir: where the temporary bundle goes (deleted afterwards).
    """

    source: Path = _ICE
    scene: str | None = None
    size: tuple[int, int] = (640, 400)
    overlap: float = 0.2
    t: float = 27.0
    frames: int = 8
    repeat: int = 5
    save: Path | None = None
    workdir: Path | None = None

    def check(self) -> None:
        """Raises ConfigError for a setting out of range."""
        w, h = self.size
        if not (16 <= w <= 4096 and 16 <= h <= 4096):
            raise ConfigError("<flags>", f"size must be 16..4096 pixels a side, not {w}x{h}")
        if not 0.05 <= self.overlap <= 0.45:
            raise ConfigError("<flags>", f"overlap must be 0.05..0.45 of a projector's "
                              f"width, not {self.overlap:g}")
        if round(self.overlap * w) < 2:
            raise ConfigError("<flags>", "the overlap must be at least 2 pixels wide")
        if not 0 <= self.frames <= 1000 or not 1 <= self.repeat <= 100:
            raise ConfigError("<flags>", "frames must be 0..1000 and repeat 1..100")
        if not (Path(self.source) / "bundle.toml").is_file():
            raise ConfigError(str(self.source), "not a bundle source folder (no bundle.toml)")


@dataclass
class WallReport(Report):
    """A :class:`~exhibit_engine.bench.Report` with one row per overlap.

    Attributes:
        overlaps: per overlap: the two displays, its wall-pixel box and its errors.
    """

    overlaps: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The flat document plus ``overlaps`` (see the module docstring)."""
        doc = super().to_json()
        doc["overlaps"] = self.overlaps
        return doc


def bench_venue(size: tuple[int, int], overlap: float) -> tuple[VenueConfig, tuple[int, int]]:
    """Three displays side by side on one pixel grid, and the whole wall's pixel size.

    Pixels are square: a projector of ``w x h`` pixels covers ``2.5 * w / h`` by 2.5 m;
    the eye is centred, half the wall's width in front of it.
    """
    w, h = size
    per_m = h / _WALL_HEIGHT_M
    over_px = round(overlap * w)
    step = w - over_px
    wall_px = (_DISPLAYS * w - (_DISPLAYS - 1) * over_px, h)
    width_m = wall_px[0] / per_m
    wall = WallConfig(width=width_m, height=_WALL_HEIGHT_M,
                      eye=(width_m / 2.0, _WALL_HEIGHT_M / 2.0, width_m / 2.0))
    names = ("left", "centre", "right")
    displays = tuple(DisplayConfig(names[i], (w, h), (i * step / per_m, 0.0, w / per_m,
                                                      _WALL_HEIGHT_M))
                     for i in range(_DISPLAYS))
    venue = VenueConfig(id="bench-wall", name="bench: three-projector wall", wall=wall,
                        displays=displays, network=NetworkConfig())
    return venue, wall_px


def _noop(stage: str, done: float, total: float) -> None:
    """A progress callback that shows nothing."""


def _weight_sum_error(venue: VenueConfig, wall_px: tuple[int, int]) -> float:
    """The largest |sum of weights - 1| over wall pixels, with weights from each slice."""
    total = np.zeros((wall_px[1], wall_px[0]))
    for d in venue.displays:
        x, y, w, h = pixel_rect(venue.wall, d, wall_px)
        total[y:y + h, x:x + w] += blend_weights(venue, d, d.pixels)
    return float(np.abs(total - 1.0).max())


def _block_ms(fn: Any, frames: int) -> float:
    t0 = time.perf_counter()
    for _ in range(frames):
        fn()
    return (time.perf_counter() - t0) * 1e3 / frames


def _render(bundle: Bundle, scene: str, opts: WallBenchOptions, venue: VenueConfig,
            wall_px: tuple[int, int], prog: Progress
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray,
                       dict[str, float]]:
    """The blended slices; each slice's own picture (no final pass) without and with its
    guard band; the whole wall; and timings."""
    from ..runtime.output import OutputCorrection
    from ..runtime.render import Renderer

    slices: dict[str, np.ndarray] = {}
    raw: dict[bool, dict[str, np.ndarray]] = {False: {}, True: {}}  # by guard band
    timing: dict[str, float] = {}
    n = len(venue.displays)
    # one renderer at a time: the slices' (reused for every display), then the wall's
    with Renderer(opts.size) as r:
        whole_rect = (0.0, 0.0, venue.wall.width, venue.wall.height)
        r.set_lod(venue_lod(venue.wall, venue.displays, whole_rect, opts.size))
        r.load(bundle, scene)
        for i, d in enumerate(venue.displays):
            prog("rendering the blended slices", i, n)
            r.set_frustum(display_frustum(venue.wall, d))
            r.set_lod(venue_lod(venue.wall, venue.displays, d.rect, opts.size))
            r.set_output(OutputCorrection.for_display(venue, d, opts.size))
            raster = wall_raster(venue.wall, venue.displays, d)
            for guard in (False, True):
                r.set_wall_grid(raster, guard=guard)
                r.set_output(None)
                r.render(opts.t)
                raw[guard][d.id] = np.asarray(r.snapshot())
            r.set_output(OutputCorrection.for_display(venue, d, opts.size))
            r.render(opts.t)
            slices[d.id] = np.asarray(r.snapshot())
        prog("rendering the blended slices", n, n)
        if opts.frames:
            # the middle display (two neighbours), through its final pass
            d = venue.displays[n // 2]
            r.set_frustum(display_frustum(venue.wall, d))
            r.set_lod(venue_lod(venue.wall, venue.displays, d.rect, opts.size))
            corr = OutputCorrection.for_display(venue, d, opts.size)
            raster = wall_raster(venue.wall, venue.displays, d)

            def frame() -> None:
                r.render(opts.t)

            loops: dict[str, list[float]] = {"slice": [], "plain": [], "no_guard": []}
            for k in range(opts.repeat):
                prog("timing the final pass and the guard band", k, opts.repeat)
                for name, output, guard in (("slice", corr, True), ("plain", None, True),
                                            ("no_guard", corr, False)):
                    r.set_output(output)
                    r.set_wall_grid(raster, guard=guard)
                    frame()                 # buffers open and maps upload outside the block
                    loops[name].append(_block_ms(frame, opts.frames))
            timing = {name: statistics.median(v) for name, v in loops.items()}
    prog("rendering the whole wall", 0, 1)
    with Renderer(wall_px) as r:
        r.set_frustum(wall_frustum(venue.wall))
        r.set_lod(venue_lod(venue.wall, venue.displays, whole_rect, wall_px))
        r.set_wall_grid(wall_raster(venue.wall, venue.displays, None))
        r.load(bundle, scene)
        r.render(opts.t)
        whole = np.asarray(r.snapshot())
    prog("rendering the whole wall", 1, 1)
    return slices, raw, whole, timing


def _save(folder: Path, composite: np.ndarray, whole: np.ndarray) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    diff = np.abs(composite.astype(np.int16) - whole.astype(np.int16)).max(axis=2)
    Image.fromarray(composite).save(folder / "wall-composite.png")
    Image.fromarray(whole).save(folder / "wall-whole.png")
    Image.fromarray(np.clip(diff * 8, 0, 255).astype(np.uint8)).save(folder / "wall-diff.png")


def run(opts: WallBenchOptions = WallBenchOptions(),
        progress: Progress | None = None) -> WallReport:
    """Run the wall suite.

    Args:
        opts: the settings.
        progress: called as the stages run (for a progress bar).

    Returns:
        The report: per-overlap errors and the ``seam_psnr_db`` target.

    Raises:
        ConfigError: a setting is out of range.
        ExhibitError: the bundle did not pack, or the scene did not build or draw.
    """
    opts.check()
    prog = progress or _noop
    venue, wall_px = bench_venue(opts.size, opts.overlap)
    w, h = opts.size
    with tempfile.TemporaryDirectory(prefix="exhibit-bench-wall-", dir=opts.workdir) as tmp:
        prog("packing the bundle", 0, 1)
        path = Path(tmp) / f"{Path(opts.source).name}.exb"
        pack(opts.source, path)
        with Bundle.open(path) as bundle:
            scene = opts.scene or bundle.manifest.scenes[0].id
            bundle.scene(scene)                 # an unknown scene fails here, by name
            slices, raw, whole, timing = _render(bundle, scene, opts, venue, wall_px, prog)
            bundle_id = bundle.manifest.id
    composite = composite_linear(venue, slices, wall_px)
    naive = composite_encoded(venue, slices, wall_px)
    if opts.save is not None:
        _save(Path(opts.save), composite, whole)

    report = WallReport("wall", params={
        "size": f"{w}x{h}", "displays": len(venue.displays), "overlap": opts.overlap,
        "overlap_px": round(opts.overlap * w), "wall_px": f"{wall_px[0]}x{wall_px[1]}",
        "bundle": bundle_id, "scene": scene, "t": opts.t,
        "frames": opts.frames, "repeat": opts.repeat})
    report.notes += [
        "slices: each display's render through the final pass (blend = weight ** (1/gamma) "
        "on the encoded output); composite: slices decoded to linear light, added at their "
        "wall pixels, re-encoded",
        "baseline: the whole wall rendered once, unblended, in the same run",
        "naive: the same slices added gamma-encoded (a control: no target)",
        "raw slices: each display's own picture before its final pass, against the whole "
        "render over the display's rectangle, with and without its guard band (without "
        "one, bloom near a slice's edge misses what lies beyond it; the blend ramp hides "
        "most of that in the composite); guard-band cost: the middle slice's frame with "
        "its band over without",
    ]
    seams, naive_seams = [], []
    for ov in slice_overlaps(venue, wall_px):
        a, b = ov.crop(composite), ov.crop(whole)
        err = np.abs(a.astype(np.float64) - b.astype(np.float64))
        row = {"a": ov.a, "b": ov.b, "box": list(ov.box), "psnr_db": round(psnr(a, b), 3),
               "max_error": int(err.max()), "mean_error": round(float(err.mean()), 4)}
        report.overlaps.append(row)
        seams.append(row["psnr_db"])
        naive_seams.append(psnr(ov.crop(naive), b))
        key = f"overlap_{ov.a}_{ov.b}"
        report.add(f"{key}_psnr_db", row["psnr_db"], "dB", f"overlap {ov.name}: PSNR")
        report.add(f"{key}_max_error", row["max_error"], "levels",
                   f"overlap {ov.name}: largest error")
    report.add("seam_psnr_db", min(seams) if seams else None, "dB",
               "worst overlap: PSNR vs whole render")
    report.targets.append(Target("seam_psnr_db", ">=", SEAM_PSNR_TARGET, bool(seams)))
    worst = max((row["max_error"] for row in report.overlaps), default=None)
    report.add("seam_max_error", worst, "levels", "worst pixel of any overlap vs whole render")
    report.targets.append(Target("seam_max_error", "<=", SEAM_MAX_ERROR, worst is not None))
    for guard, key, what in ((True, "raw_slice_max_error", "a slice's own picture vs the "
                              "whole render: worst pixel"),
                             (False, "no_guard_raw_slice_max_error", "the same without a "
                              "guard band (control)")):
        errs = []
        for d in venue.displays:
            x, y, dw, dh = pixel_rect(venue.wall, d, wall_px)
            errs.append(int(np.abs(raw[guard][d.id].astype(np.int16)
                                   - whole[y:y + dh, x:x + dw].astype(np.int16)).max()))
        report.add(key, max(errs), "levels", what)
    report.add("wall_psnr_db", psnr(composite, whole), "dB", "whole image: PSNR")
    report.add("naive_seam_psnr_db", min(naive_seams) if naive_seams else None, "dB",
               "worst overlap if added gamma-encoded (control)")
    report.add("weight_sum_error", _weight_sum_error(venue, wall_px), "",
               "largest |sum of weights - 1|")
    report.targets.append(Target("weight_sum_error", "<=", 1e-6, True))
    if timing:
        report.add("slice_frame_ms", timing["slice"], "ms", "slice frame with the final pass")
        report.add("plain_frame_ms", timing["plain"], "ms", "slice frame without it")
        report.add("final_pass_ms", timing["slice"] - timing["plain"], "ms",
                   "cost of the final pass")
        report.add("no_guard_frame_ms", timing["no_guard"], "ms",
                   "slice frame without a guard band")
        report.add("guard_cost_ratio", timing["slice"] / timing["no_guard"], "x",
                   "guard band: frame with / without")
        report.targets.append(Target("guard_cost_ratio", "<=", GUARD_COST_TARGET, True))
    return report
