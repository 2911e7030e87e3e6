"""A projector node: follow the controller's show time and draw this display's slice.

The loop is deliberately plain: poll the sync link (never blocking), ask the show
timeline what plays at the node's estimate of show time, make sure that scene is
built, apply any events that fall due, draw, report. Because every frame is a pure
function of (bundle, show state, t), a node that joins late or restarts needs nothing
but the anchor and its clock to draw the same picture as its neighbours.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import NodeSettings, ShowConfig
from ..config.paths import (check_file_name, check_output_dir, check_output_path, shown,
                            write_atomic)
from ..errors import ConfigError, ExhibitError
from ..sync.protocol import NodeHealth
from ._scenes import PRELOAD_AFTER_S, _Scenes, open_scenes
from .health import FrameStats, GpuInfo
from .playback import Frame, Playback
from ..wall.frustum import display_frustum, venue_lod, wall_raster

__all__ = ["HEADLESS_FPS", "NodeRun", "PRELOAD_AFTER_S", "RESTART", "capture", "has_display",
           "open_scenes", "play_frame", "run_node"]

log = logging.getLogger(__name__)

#: Frame-rate cap for offscreen nodes, so a demo on a laptop leaves CPU for its peers.
HEADLESS_FPS = 30.0

def has_display() -> bool:
    """Whether a window can be opened here (an X11 or Wayland display is set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


#: :func:`run_node`'s exit code when the operator asked this node to restart (the
#: ``exhibit node`` command then re-executes itself).
RESTART = 75


@dataclass
class NodeRun:
    """What a node did, written to ``--status-file`` when it stops."""

    display: str
    frames: int = 0
    joined: bool = False
    offset_us: float | None = None
    rtt_us: float | None = None
    show_time: float | None = None
    captures: list[str] = field(default_factory=list)
    capture_errors: list[str] = field(default_factory=list)
    error: str | None = None
    controller: str | None = None       # the controller it talked to last (a pair: either)
    failovers: int = 0                  # moves to the other controller of the pair
    restarting: Any = field(default=None, repr=False)   # the load announced at a restart

    def to_json(self) -> str:
        """The run as JSON."""
        return json.dumps({k: v for k, v in self.__dict__.items() if k != "restarting"},
                          indent=2)


def capture(renderer: Any, folder: Path, display: str, tag: object) -> Path:
    """Save the frame just drawn as ``folder/DISPLAY-TAG.png``, atomically.

    The tag is checked as a file name (:func:`~exhibit_engine.config.paths.check_file_name`:
    no ``/``, ``..`` or control characters), the folder for being writable and having room
    for the image, before anything is written.

    Raises:
        ExhibitError: the capture was refused or failed (one line: the tag and the reason);
            nothing is left behind, and the node goes on rendering.
    """
    why = check_file_name(tag)
    if why is not None:
        raise ConfigError(f"capture {shown(repr(tag))}", f"the tag {why}")
    image = renderer.snapshot()
    try:
        check_output_dir(folder, "--capture-dir")
        return write_atomic(folder / f"{display}-{tag}.png",
                            lambda f: image.save(f, format="PNG"),
                            min_free=image.width * image.height * 4 + 65536)
    except ExhibitError as exc:
        raise ExhibitError(f"capture {tag!r}: {exc}") from None


class _Health:
    """The node's health for its status (:class:`~exhibit_engine.sync.protocol.NodeHealth`):
    frame statistics, and the GPU read again every :attr:`GPU_EVERY_S` (from the render
    thread, right after a frame, when the GL context is current).

    Args:
        renderer: the node's renderer.
        budget_s: the frame budget; ``None``: 1 / the display's refresh rate (60 Hz
            where the windowing system does not say).
    """

    GPU_EVERY_S = 2.0

    def __init__(self, renderer: Any, budget_s: float | None) -> None:
        self.renderer, self.budget_s = renderer, budget_s
        self.stats: FrameStats | None = None
        self.gpu, self.gpu_at = GpuInfo(), -float("inf")

    def gap(self) -> None:
        """Not drawing on purpose (not synced): see :meth:`FrameStats.gap`."""
        if self.stats is not None:
            self.stats.gap()

    def after_frame(self, now: float, scenes: _Scenes) -> NodeHealth:
        """Note a frame that ended at ``now``; return the health to report."""
        if now - self.gpu_at >= self.GPU_EVERY_S:
            self.gpu, self.gpu_at = self.renderer.gpu(), now
        if self.stats is None:
            self.stats = FrameStats(self.budget_s or 1.0 / (self.gpu.refresh_hz or 60.0))
        self.stats.frame(now)
        gpu, stats = self.gpu, self.stats
        return NodeHealth(round(stats.fps, 2), round(stats.worst_ms, 2), stats.dropped,
                          gpu.renderer, gpu.memory_mb, gpu.free_mb, scenes.cue_id or "",
                          scenes.states(), *scenes.drawn, ready=scenes.ready(),
                          transfer=scenes.fetcher.progress() if scenes.fetcher else {})


def play_frame(renderer: Any, scenes: _Scenes, frame: Frame, t: float,
               extra: dict[str, Any], *, preload: bool = True) -> None:
    """Draw show time ``t`` as a node does (a cue that cannot be shown is reported in
    ``extra``, never raised), then carry the next cue's preload on by a step
    (:meth:`_Scenes.preload`; ``preload=False``: the scene of each cue is built when it
    starts, as before preloading existed: the bench's baseline)."""
    _draw_or_report(renderer, scenes, frame, t, extra)
    if preload:
        scenes.preload(renderer, frame, t)


def run_node(settings: NodeSettings, show: ShowConfig,
             on_frame: Callable[[Any, float, float, list[Any]], None] | None = None) -> int:
    """Run a projector node until stopped (SIGINT/SIGTERM, window closed, ``--frames``).

    ``on_frame(link, show_t, controller_t, events)`` is called after every frame drawn,
    with the events that frame played (``exhibit soak`` records its nodes with it).

    Returns:
        The process exit code: 0 after a clean stop.

    Raises:
        ExhibitError: a bundle, scene or the renderer failed (the CLI prints one line).
    """
    from ..sync.auth import client_curve
    from ..sync.node import NodeLink
    from ..sync.distribution import FetcherProcess
    from .output import OutputCorrection
    from .render import Renderer

    # CURVE keys first (venue [security]): a bad key is one error before anything opens.
    curve = client_curve(settings.venue.security, settings.key_file, role="projector")

    capture_dir = Path(settings.capture_dir) if settings.capture_dir else None
    if capture_dir is not None:             # made at start; a bad one is one line now
        try:
            capture_dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
        check_output_dir(capture_dir, "--capture-dir")
    if settings.status_path:                # its folder is made, as it always was
        try:
            Path(settings.status_path).parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
        check_output_path(settings.status_path, "--status-file")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    disp = settings.display
    size = (max(16, round(disp.pixels[0] * settings.render_scale)),
            max(16, round(disp.pixels[1] * settings.render_scale)))
    windowed = not settings.headless and has_display()
    run = NodeRun(display=disp.id)
    playback = Playback(show)   # program, blackout and scene keys of the session state
    scenes = open_scenes(settings, show)
    if settings.fetch:                      # the show's bundles, kept up to date
        scenes.fetcher = FetcherProcess(
            show, settings.bundle_dir, settings.host, settings.transfer_port, curve=curve,
            trust_files=settings.venue.bundles.trusted_keys,
            require_signed=settings.venue.bundles.require_signed, who=disp.id).start()
    extra: dict[str, Any] = {}              # what the node adds to its status reports
    backup = settings.backup
    link = NodeLink(disp.id, settings.host, settings.state_port, settings.publish_port,
                    curve=curve, failover_after_s=settings.failover_after_s,
                    backup=None if backup is None else (backup.host, backup.state_port,
                                                        backup.publish_port))
    scenes.announce = link.loading
    renderer = Renderer(size, window=windowed, title=f"Exhibit Engine - {disp.id}",
                        origin=settings.window_origin)
    try:
        renderer.set_frustum(display_frustum(settings.venue.wall, disp))
        # levels of detail at the wall's scale: the nodes sharing an overlap agree
        renderer.set_lod(venue_lod(settings.venue.wall, settings.venue.displays, disp.rect,
                                   size))
        # scenes with screen effects drawn on the wall's one pixel grid: seams agree
        renderer.set_wall_grid(wall_raster(settings.venue.wall, settings.venue.displays,
                                           disp, size))
        # blend, black level and warp of this display, applied in the final pass
        renderer.set_output(OutputCorrection.for_display(settings.venue, disp, size))
        renderer.amortize = True            # transitions draw one side per frame
        frame_s = 0.0 if windowed else 1.0 / HEADLESS_FPS
        health = _Health(renderer, frame_s or None)
        next_frame = time.monotonic()
        while not stop.is_set() and not renderer.closed:
            link.poll()
            times = link.frame_time()
            if times is None:
                health.gap()
                stop.wait(0.02)  # not synced yet: nothing to draw in step with
                continue
            run.joined = True
            # The controller clock, as this node estimates it: program changes, blackout
            # fades and events are timed on it (show time stands still while paused and
            # goes back at a backward jump).
            t, controller_t = times
            frame = playback.frame(link.session_state(), controller_t)
            if scenes.fetcher is not None:
                for bundle_id in scenes.fetcher.take_installed():
                    scenes.arrived(bundle_id)
            events = link.take_events(t, controller_t)
            for event in events:
                if event.kind == "restart" and event.args.get("node") == disp.id:
                    # The operator restarts this node: say so, then leave; the command
                    # starts the process afresh (same arguments, same pid).
                    log.warning("restart asked by the operator; starting afresh")
                    # Announced as a load that outlives this process (listed "loading",
                    # not lost, until the new one beats): the announcement is never ended.
                    run.restarting = link.loading(30.0)
                    run.restarting.__enter__()
                    return RESTART
                if event.kind == "capture" and capture_dir is not None:
                    tag = event.args.get("tag", "capture")
                    renderer.amortize = False       # a capture draws both sides afresh
                    _draw_or_report(renderer, scenes, frame, event.effective_at, extra)
                    renderer.amortize = True
                    try:
                        capture(renderer, capture_dir, disp.id, tag)
                    except ExhibitError as exc:     # reported; the wall stays lit
                        log.warning("capture failed: %s", exc)
                        run.capture_errors = [*run.capture_errors[-7:], str(exc)]
                        extra["capture_error"] = str(exc)[:400]
                        extra["capture_failures"] = extra.get("capture_failures", 0) + 1
                    else:
                        run.captures.append(str(tag))
                        extra.pop("capture_error", None)
            play_frame(renderer, scenes, frame, t, extra)
            if on_frame is not None:
                on_frame(link, t, controller_t, events)
            if backup is not None:          # which controller of the pair it follows
                extra["controller"] = link.controller.removeprefix("tcp://")
                extra["failovers"] = link.failovers
            run.frames += 1
            run.show_time = t
            link.report(frames=run.frames, show_time=t, captures=list(run.captures),
                        extra=extra, health=health.after_frame(time.monotonic(), scenes))
            if settings.frames is not None and run.frames >= settings.frames:
                break
            if frame_s:
                next_frame = max(next_frame + frame_s, time.monotonic())
                while not stop.is_set():
                    link.poll()
                    left = next_frame - time.monotonic()
                    if left <= 0:
                        break
                    stop.wait(min(left, 0.005))
        return 0
    except ExhibitError as exc:
        run.error = str(exc)
        raise
    finally:
        run.offset_us, run.rtt_us = link.offset_us, link.rtt_us
        run.controller = link.controller.removeprefix("tcp://")
        run.failovers = link.failovers
        link.close()
        if scenes.fetcher is not None:
            scenes.fetcher.close()
        renderer.close()
        scenes.close()
        if settings.status_path:
            try:
                write_atomic(settings.status_path, run.to_json().encode(),
                             flag="--status-file")
            except ExhibitError as exc:
                log.error("%s", exc)


def _draw_or_report(renderer: Any, scenes: _Scenes, frame: Frame, t: float,
                    extra: dict[str, Any]) -> None:
    """:func:`_draw`, but a cue that cannot be shown never stops the node.

    What the start-up check could not foresee (a scene whose build fails at show time, a
    bundle that became unreadable or was swapped on disk for one that is unusable or
    lacks the scene) is logged once per cue and reported in the node's status as
    ``extra.fault`` (one line); the node then shows the show's standby scene (or black,
    if that fails too or there is none) until the timeline moves on to a cue that works,
    which clears the fault.
    """
    state = frame.timeline.state_at(t) if frame.timeline is not None else None
    if state is not None:
        scenes.note_cue((frame.program, state.index, state.loop), state.local_t,
                        state.cue.id)
    else:
        scenes.cue_id = None        # no cue plays (a standby without a scene): reported so
    # What the frame draws as selected and its captions' language (black: neither).
    scene_state = frame.scene_state if frame.timeline is not None else {}
    scenes.drawn = (str(scene_state.get("selected_item", "")),
                    str(scene_state.get("language", "")))
    try:
        _draw(renderer, scenes, frame, t)
    except ExhibitError as exc:
        cue = state.cue if state is not None else None
        if cue is not None:
            scenes.failed[(cue.bundle, cue.scene)] = exc
        fault = f"cue {cue.id if cue else '?'!r} cannot be shown: {exc}"[:400]
        if extra.get("fault") != fault:
            log.error("%s; showing standby meanwhile", fault)
        extra["fault"] = fault
        standby = scenes.show.standby
        if standby is not None and cue is not None and (standby.bundle, standby.scene) != (
                cue.bundle, cue.scene):
            key = (standby.bundle, standby.scene)
            try:
                scenes.ensure(renderer, key)
                renderer.render(t, {"show_time": t, **frame.scene_state}, None,
                                dim=frame.dim)
                return
            except ExhibitError as again:
                if key not in scenes.failed:     # tried once per cue, logged once
                    log.error("the standby scene cannot be shown either: %s", again)
                scenes.failed[key] = again
        renderer.unload()
        scenes.current = scenes.outgoing = None
        scenes.drawn = ("", "")
        renderer.render(0.0, {"show_time": t}, None, dim=0.0)
    else:
        extra.pop("fault", None)


def _draw(renderer: Any, scenes: _Scenes, frame: Frame, t: float) -> None:
    """Draw show time ``t``: the cue's scene, or the timeline's transition into it.

    Everything drawn (which scenes, their local times, the blend weight) comes from
    ``frame.timeline.state_at(t)``, so every node blends its slice identically; the
    final pass dims it by ``frame.dim`` (blackout). A program without a timeline (a
    standby without a scene) is black.
    """
    from .transitions import Transition

    if frame.timeline is None:
        renderer.render(0.0, {"show_time": t}, None, dim=0.0)
        return
    state = frame.timeline.state_at(t)
    cue, prev = state.cue, state.previous
    scenes.ensure(renderer, (cue.bundle, cue.scene),
                  None if prev is None else (prev.bundle, prev.scene))
    transition = None
    if prev is not None:
        lang = {k: v for k, v in frame.scene_state.items() if k == "language"}
        transition = Transition(cue.transition, state.weight, state.previous_local_t,
                                {"cue": prev.id, "show_time": t, **lang})
    scene_state = {"cue": cue.id, "show_time": t, **frame.scene_state}
    if "selected_at" in scene_state:    # show time -> the scene's own (cue-local) time
        scene_state["selected_at"] -= t - state.local_t
    renderer.render(state.local_t, scene_state, transition, dim=frame.dim)
