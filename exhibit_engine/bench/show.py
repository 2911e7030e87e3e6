"""``exhibit bench show``: the sample show played through every cue change on one node.

One node's render loop, in process and offscreen, at 1280x720 by default, through the
same code a projector node runs (:func:`~exhibit_engine.runtime.node_app.play_frame`:
the scene keeper, the fault path, the next cue's preload), with the final pass of the
venue's first display (its blend, black level and warp), on a real-time show clock:
each frame draws the show time that has passed since the run started, so a slow
frame shows as a jump, as it does on a wall.

To reach every cue change of the main cue list (and the loop's wrap back to the first
cue) without playing the whole show, the run jumps to ``before_s`` seconds ahead of
each change (as an operator's ``goto`` would; the jump builds the scene it lands on),
plays on in real time until ``after_s`` past the change, then jumps to the next one.
Every frame's time is the wall time between the ends of two frames.

Every change is played ``repeat`` times (3); each figure of a change is the median over
its plays, so one frame slowed by another process on the machine does not decide it.

Reported:

- ``steady_frame_ms_median``: the median frame away from any change (more than 1 s
  from it, past the first second after a jump, and not carrying a preload step);
- ``cue_change_frame_ms_max``: the longest frame within +-1 s of a change;
- ``cue_change_ratio_<n>`` for each change: the longest frame within +-1 s of it over
  the steady frame of the scenes either side (the slower of the two medians: the
  outgoing cue's frames before the window, the incoming cue's after its transition and
  the window), so a change
  into a heavier scene is not counted against the change itself; and
  ``cue_change_ratio_worst`` (target: at most 1.5). ``cue_change_ratio_vs_show_median``
  divides the longest frame by the whole show's steady median instead (no target);
- ``builds_at_cue_change``: scenes built within +-1 s of a change (target 0: every
  change only swaps preloaded scenes);
- ``preload_ms_<bundle>_<scene>``: each preloaded scene's build plus its prepare frame,
  and ``preload_frame_ms_max``, the longest frame that carried a preload step (mid-cue,
  away from the changes: where the cost moved);
- the baseline, in the same run: the same changes with preloading off and both sides
  of a transition drawn every frame (how a node played before preloading):
  ``baseline_cue_change_ratio_worst``, ``baseline_cue_change_frame_ms_max`` and
  ``baseline_builds_at_cue_change``.

Bundles are packed from the show's content folder into a temporary folder unless a
folder holding them is given.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..assets.pack import pack
from ..config import ShowConfig, VenueConfig, load_show, load_venue
from ..config.roles import NodeSettings
from ..errors import ConfigError, ExhibitError
from ..show import Timeline
from . import Progress, Report, Target

__all__ = ["CUE_CHANGE_RATIO_TARGET", "ShowBenchOptions", "WINDOW_S", "run"]

#: The longest frame near a cue change, over the steady median, may be at most this.
CUE_CHANGE_RATIO_TARGET = 1.5
#: Frames within this many seconds of a change count as the change's.
WINDOW_S = 1.0
_CONTENT = Path(__file__).resolve().parents[2] / "content"


@dataclass(frozen=True)
class ShowBenchOptions:
    """Settings of the show suite.

    Attributes:
        content: the folder holding ``venue.toml``, ``show.toml`` and each bundle's
            source folder (``<bundle id>/``).
        size: the node's output (width, height) in pixels.
        before_s: seconds of show played before each change (after the jump to it).
        after_s: seconds played after it.
        bundle_dir: a folder holding the show's packed bundles (default: pack them).
        baseline: also play the changes without preloading (the baseline).
        repeat: plays of each change (each figure is the median over them: one frame
            slowed by another process on the machine does not decide the result).
        workdir: where bundles are packed (deleted afterwards).
    """

    content: Path = _CONTENT
    size: tuple[int, int] = (1280, 720)
    before_s: float = 4.0
    after_s: float = 4.0
    bundle_dir: Path | None = None
    baseline: bool = True
    repeat: int = 3
    workdir: Path | None = None

    def check(self) -> None:
        """Raises ConfigError when a setting is out of range."""
        if not (16 <= self.size[0] <= 8192 and 16 <= self.size[1] <= 8192):
            raise ConfigError("<flags>", f"--size {self.size[0]}x{self.size[1]} is out of "
                              "range (16..8192 pixels a side)")
        if not 2.0 <= self.before_s <= 120.0:
            raise ConfigError("<flags>", "--before must be 2..120 s (the preload starts "
                              "after the jump, and needs a few frames)")
        if not 2.0 * WINDOW_S <= self.after_s <= 60.0:
            raise ConfigError("<flags>", f"--after must be {2 * WINDOW_S:g}..60 s (the "
                              "incoming cue's steady frames come after its transition)")
        if not 1 <= self.repeat <= 50:
            raise ConfigError("<flags>", "--repeat must be 1..50")
        for name in ("venue.toml", "show.toml"):
            if not (Path(self.content) / name).is_file():
                raise ConfigError(str(self.content), f"has no {name} (--content names "
                                  "the folder with the show's venue.toml and show.toml)")


@dataclass
class _Pass:
    """One play of one change: the frames near it and the steady frames either side."""

    peak_ms: float              # the longest frame within +-WINDOW_S of the change
    before_ms: float            # median steady frame of the outgoing cue, before it
    after_ms: float             # ... of the incoming cue, after the window

    @property
    def ratio(self) -> float:
        return self.peak_ms / max(self.before_ms, self.after_ms)


@dataclass
class _Change:
    at: float                   # show time of the change (the incoming cue's start)
    into: str                   # the incoming cue's id
    settle: float               # its transition's length (s): steady frames come after
    passes: list[_Pass] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """The median over the passes of longest / steady."""
        return statistics.median(p.ratio for p in self.passes)

    @property
    def peak_ms(self) -> float:
        return statistics.median(p.peak_ms for p in self.passes)


@dataclass
class _Played:
    """What one mode's plays of the changes measured."""

    changes: list[_Change]
    steady: list[float]
    builds_near: int
    preload_ms: dict[str, float]
    preload_frame_ms: list[float]
    faults: list[str]


def _noop(stage: str, done: float, total: float) -> None:
    pass


def _changes(timeline: Timeline, show: ShowConfig) -> list[_Change]:
    """Every cue change of one pass of the main list, and the loop's wrap to its first
    cue."""
    cues = show.cues
    at = [(timeline.start_of(i), cues[i]) for i in range(1, len(cues))]
    if show.loop:
        at.append((timeline.cue_start(0, 1).at, cues[0]))
    return [_Change(t, c.id, c.transition_time if c.transition != "cut" else 0.0)
            for t, c in at]


def _bundles(opts: ShowBenchOptions, show: ShowConfig, tmp: Path,
             prog: Progress) -> Path:
    """The folder holding every bundle of the show (packed into ``tmp`` unless given)."""
    if opts.bundle_dir is not None:
        folder = Path(opts.bundle_dir)
        missing = [r.file for r in show.bundles if not (folder / r.file).is_file()]
        if missing:
            raise ConfigError(str(folder), f"lacks the show's bundles {', '.join(missing)}")
        return folder
    folder = tmp / "bundles"
    folder.mkdir()
    for i, ref in enumerate(show.bundles):
        prog(f"packing {ref.id}", i, len(show.bundles))
        src = Path(opts.content) / ref.id
        if not src.is_dir():
            raise ConfigError(str(src), f"is not a folder: bundle {ref.id!r} of the show "
                              "has no source there (or give --bundle-dir)")
        pack(src, folder / ref.file)
    prog("packing bundles", len(show.bundles), len(show.bundles))
    return folder


def _play(venue: VenueConfig, show: ShowConfig, folder: Path, opts: ShowBenchOptions,
          preload: bool, prog: Progress, stage: str) -> _Played:
    from ..runtime.node_app import open_scenes, play_frame
    from ..runtime.output import OutputCorrection
    from ..runtime.playback import Frame
    from ..runtime.render import Renderer
    from ..wall.frustum import display_frustum, venue_lod, wall_raster

    disp = venue.displays[0]
    settings = NodeSettings(venue, disp, "127.0.0.1", 1, 2, str(folder))
    timeline = Timeline.from_show(show)
    frame = Frame("main", timeline, 1.0, {})
    changes = _changes(timeline, show)
    builds_near = 0
    scenes = open_scenes(settings, show)
    steady: list[float] = []
    preload_ms: dict[str, float] = {}
    preload_frames: list[float] = []
    extra: dict[str, Any] = {}
    faults: list[str] = []
    try:
        with Renderer(opts.size) as renderer:
            renderer.set_frustum(display_frustum(venue.wall, disp))
            renderer.set_lod(venue_lod(venue.wall, venue.displays, disp.rect, opts.size))
            renderer.set_wall_grid(wall_raster(venue.wall, venue.displays, disp, opts.size))
            renderer.set_output(OutputCorrection.for_display(venue, disp, opts.size))
            renderer.amortize = preload
            pre = renderer.preloader
            total, n = len(changes) * opts.repeat, 0
            for _rep in range(opts.repeat):
                for ch in changes:
                    prog(stage, n, total)
                    n += 1
                    before, near, after = [], [], []
                    t0 = ch.at - opts.before_s
                    start = last = time.perf_counter()
                    while True:
                        t = t0 + (time.perf_counter() - start)
                        if t > ch.at + opts.after_s:
                            break
                        state_before, key, builds = pre.state, pre.key, renderer.builds
                        play_frame(renderer, scenes, frame, t, extra, preload=preload)
                        end = time.perf_counter()
                        ms, last = (end - last) * 1000.0, end
                        if "fault" in extra and extra["fault"] not in faults:
                            faults.append(extra["fault"])
                        stepped = state_before in ("building", "built", "preparing")
                        if stepped:
                            preload_frames.append(ms)
                        if pre.state == "ready" and state_before == "preparing" and key:
                            name = f"{key[0].manifest.id}_{key[1]}"
                            preload_ms[name] = (pre.build_ms or 0.0) + (pre.prepare_ms or 0.0)
                        if abs(t - ch.at) <= WINDOW_S:
                            near.append(ms)
                            builds_near += renderer.builds - builds
                        elif t < ch.at and t > t0 + 1.0 and not stepped:
                            before.append(ms)   # past the jump's own build
                        elif t > ch.at + max(WINDOW_S, ch.settle) and not stepped:
                            after.append(ms)    # the incoming cue, its transition over
                    if not (near and before and after):
                        raise ExhibitError(
                            f"the change into cue {ch.into!r} drew too few frames to "
                            f"measure (--after must exceed its {ch.settle:g} s transition "
                            "by a second or more; or raise --before)")
                    steady += before + after
                    ch.passes.append(_Pass(max(near), statistics.median(before),
                                           statistics.median(after)))
            prog(stage, len(changes), len(changes))
    finally:
        scenes.close()
    return _Played(changes, steady, builds_near, preload_ms, preload_frames, faults)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def run(opts: ShowBenchOptions = ShowBenchOptions(),
        progress: Progress | None = None) -> Report:
    """Run the show suite.

    Raises:
        ConfigError: a setting is out of range, or the content folder is incomplete.
        ExhibitError: a bundle did not pack or open, or the renderer failed.
    """
    opts.check()
    prog = progress or _noop
    venue = load_venue(Path(opts.content) / "venue.toml")
    show = load_show(Path(opts.content) / "show.toml")
    if not show.cues or not venue.displays:
        raise ConfigError(str(opts.content), "the show has no cues or the venue no display")
    with tempfile.TemporaryDirectory(prefix="exhibit-bench-show-", dir=opts.workdir) as tmp:
        folder = _bundles(opts, show, Path(tmp), prog)
        played = _play(venue, show, folder, opts, True, prog, "playing the cue changes")
        base = (_play(venue, show, folder, opts, False, prog,
                      "baseline: the same changes without preloading")
                if opts.baseline else None)
    if not played.changes:
        raise ExhibitError("the show has one cue and no loop: it has no cue change to play")
    if not played.steady:
        raise ExhibitError("no steady frame was drawn (raise --before)")

    w, h = opts.size
    report = Report("show", params={
        "size": f"{w}x{h}", "display": venue.displays[0].id, "show": show.id,
        "cues": len(show.cues), "changes": len(played.changes),
        "before_s": opts.before_s, "after_s": opts.after_s, "window_s": WINDOW_S,
        "bundles": [r.id for r in show.bundles]})
    report.notes += [
        "one node's render loop in process, offscreen, through the venue's first display's "
        "final pass, on a real-time show clock; each change is reached by a jump to "
        "--before s ahead of it (the jump's own build is not part of the change)",
        "frame time: wall time between the ends of two frames",
        f"cue_change_ratio: the longest frame within +-{WINDOW_S:g} s of the change over "
        "steady_frame_ms_median",
        "baseline: the same changes, same run, with no preloading and both sides of a "
        "transition drawn every frame",
        *(f"fault while playing: {f}" for f in played.faults),
    ]
    median = statistics.median(played.steady)
    report.add("steady_frame_ms_median", median, "ms", "steady frame (median)")

    def worst(p: _Played) -> tuple[float, float, float]:
        med = statistics.median(p.steady)
        return (max(ch.peak_ms for ch in p.changes), max(ch.ratio for ch in p.changes),
                max(ch.peak_ms for ch in p.changes) / med)

    peak, ratio_worst, ratio_global = worst(played)
    report.add("cue_change_frame_ms_max", peak, "ms", "longest frame near a cue change")
    for i, ch in enumerate(played.changes, 1):
        report.add(f"cue_change_ratio_{i}_{_slug(ch.into)}", ch.ratio, "x",
                   f"change {i} (into {ch.into!r} at {ch.at:g} s): longest / steady")
    report.add("cue_change_ratio_worst", ratio_worst, "x", "worst change: longest / steady")
    report.targets.append(Target("cue_change_ratio_worst", "<=", CUE_CHANGE_RATIO_TARGET,
                                 True))
    report.add("cue_change_ratio_vs_show_median", ratio_global, "x",
               "longest frame near a change / the whole show's steady median")
    report.add("builds_at_cue_change", played.builds_near, "",
               f"scenes built within +-{WINDOW_S:g} s of a change")
    report.targets.append(Target("builds_at_cue_change", "<=", 0, True))
    for name, ms in sorted(played.preload_ms.items()):
        report.add(f"preload_ms_{_slug(name)}", ms, "ms", f"preload of {name} "
                   "(build + prepare frame)")
    report.add("preload_frame_ms_max", max(played.preload_frame_ms, default=None), "ms",
               "longest frame carrying a preload step (mid-cue)")
    if base is not None:
        b_peak, b_ratio, _ = worst(base)
        report.add("baseline_steady_frame_ms_median", statistics.median(base.steady)
                   if base.steady else None, "ms", "baseline: steady frame (median)")
        report.add("baseline_cue_change_frame_ms_max", b_peak, "ms",
                   "baseline: longest frame near a change")
        report.add("baseline_cue_change_ratio_worst", b_ratio, "x",
                   "baseline: worst change, longest / steady")
        report.add("baseline_builds_at_cue_change", base.builds_near, "",
                   "baseline: scenes built near a change")
    return report
