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
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..assets.bundle import Bundle, open_verified
from ..assets.signing import load_public_keys
from ..config import NodeSettings, ShowConfig
from ..config.paths import (check_file_name, check_output_dir, check_output_path, shown,
                            write_atomic)
from ..errors import BundleError, ConfigError, ExhibitError, SceneError
from ..sync.protocol import NodeHealth
from .health import FrameStats, GpuInfo
from .playback import Frame, Playback
from ..wall.frustum import display_frustum

__all__ = ["HEADLESS_FPS", "NodeRun", "PRELOAD_AFTER_S", "RESTART", "capture", "has_display",
           "open_scenes", "play_frame", "run_node"]

log = logging.getLogger(__name__)

#: Frame-rate cap for offscreen nodes, so a demo on a laptop leaves CPU for its peers.
HEADLESS_FPS = 30.0

#: Seconds into a cue (its transition over) before the next cue's scene is preloaded.
PRELOAD_AFTER_S = 1.5


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


#: A bundle file's identity on disk: (device, inode, size, modification time in ns), or
#: ``None`` when it cannot be read (missing, no permission). A replaced or rewritten file
#: changes it; checking it is one ``stat``, never a hash.
_Identity = tuple[int, int, int, int] | None


def _identity(path: Path) -> _Identity:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class _Scenes:
    """The bundles a show uses, each opened and fully verified, and the scene on screen.

    Every bundle is opened and verified at boot (:meth:`bundle`). Whenever a scene is
    about to be built (a cue change; the scene on screen is never rebuilt because of a
    swap, and a cue that goes on showing it builds nothing), its bundle's file is checked
    for a change on disk (:data:`_Identity`: a ``stat``, no hashing); a changed file is
    opened and verified as at boot and used from then on. A changed file that cannot be
    used (missing, unreadable, half written, failing a check, or lacking the scene) makes
    that cue raise, and the node's fault path (:func:`_draw_or_report`) shows standby.
    Failures are remembered (:attr:`failed`) so that a cue is not rebuilt every frame;
    at the next cue change (:meth:`note_cue`) those of a bundle whose file changed since
    are forgotten, so a good file put in place is picked up then.
    """

    def __init__(self, settings: NodeSettings, show: ShowConfig) -> None:
        self.settings, self.show = settings, show
        self.bundles: dict[str, Bundle] = {}   # the version each new build uses
        self.seen: dict[str, _Identity] = {}   # each file as at the last open, good or bad
        self.broken: dict[str, BundleError] = {}  # bundles whose file, as seen, is unusable
        # Older versions a scene still held on screen may have been built from, each with
        # the (bundle, scene) keys held when it was replaced; closed once none is held.
        self.retired: list[tuple[Bundle, set[tuple[str, str]]]] = []
        self.current: tuple[str, str] | None = None     # (bundle, scene) built
        self.outgoing: tuple[str, str] | None = None    # ... held by a transition
        self.failed: dict[tuple[str, str], ExhibitError] = {}   # scenes that cannot be shown
        self.cue: tuple[object, ...] | None = None      # the cue the last frame played
        self.cue_id: str | None = None
        self.drawn = ("", "")       # (selected item, language) the last frame drew
        self.local_t = 0.0
        self.trust = [key for path in settings.venue.bundles.trusted_keys
                      for key in load_public_keys(path)]
        # Announces a blocking scene load to the controller (NodeLink.loading), so the
        # node is reported "loading", not hung or lost, while a load holds the loop.
        self.announce: Callable[[], AbstractContextManager[None]] = nullcontext

    def _path(self, bundle_id: str) -> Path:
        return Path(self.settings.bundle_dir) / self.show.bundle(bundle_id).file

    def bundle(self, bundle_id: str) -> Bundle:
        """The version of a bundle to build its scenes from, opened and fully verified.

        The first call (at boot) opens the file; later ones return the same version
        unless the file changed on disk since, in which case the new file is opened and
        verified the same way and used from then on. The version it replaces is closed
        once no scene built from it is held (:meth:`_release`).

        Raises:
            BundleError: the file is missing, unreadable or breaks a rule (the venue's
                signature policy, a hash, a file's content). A changed file that failed
                raises the same error again, without being read again, until it changes.
        """
        path = self._path(bundle_id)
        now = _identity(path)
        if bundle_id in self.seen and now == self.seen[bundle_id]:
            if bundle_id in self.broken:
                raise self.broken[bundle_id]
            return self.bundles[bundle_id]
        old = self.bundles.pop(bundle_id, None)
        if old is not None:         # a scene on screen may still come from it
            held = {k for k in (self.current, self.outgoing) if k and k[0] == bundle_id}
            self.retired.append((old, held))
        self.seen[bundle_id] = now
        try:
            new = self._open(path)
        except BundleError as exc:
            self.broken[bundle_id] = exc
            raise
        self.broken.pop(bundle_id, None)
        self.bundles[bundle_id] = new
        self.failed = {k: e for k, e in self.failed.items() if k[0] != bundle_id}
        if old is not None:
            log.info("bundle %r changed on disk; playing version %s (%s) from %s", bundle_id,
                     new.manifest.version, path,
                     f"cue {self.cue_id!r}" if self.cue_id is not None else "now on")
        self._release()
        return new

    def _open(self, path: Path) -> Bundle:
        """Open and fully verify one bundle file, as the venue's policy asks."""
        return open_verified(path, self.trust, self.settings.venue.bundles.require_signed)

    def note_cue(self, cue: tuple[object, ...], local_t: float, cue_id: str) -> None:
        """Note the cue a frame plays: ``cue`` names it (program, index, pass).

        At a cue change (another cue, the next pass of a loop, or a jump back in the same
        cue) the failures of bundles whose file changed since are forgotten, so the next
        build tries the new file, and versions no longer held are closed.
        """
        changed = cue != self.cue or local_t < self.local_t
        self.cue, self.local_t, self.cue_id = cue, local_t, cue_id
        if changed:
            moved = {b for b, _ in self.failed if b in self.seen
                     and _identity(self._path(b)) != self.seen[b]}
            self.failed = {k: e for k, e in self.failed.items() if k[0] not in moved}
            self._release()

    def _release(self) -> None:
        """Close the replaced versions from which no scene held now can come."""
        on = {self.current, self.outgoing}
        keep = []
        for b, held in self.retired:
            if held & on:
                keep.append((b, held))
            else:
                b.close()
        self.retired = keep

    def ensure(self, renderer: Any, cue: tuple[str, str],
               outgoing: tuple[str, str] | None = None) -> None:
        """Like :meth:`_ensure`, announced as a load (:attr:`announce`) when it builds a
        scene."""
        builds = self.current != cue or (outgoing is not None and self.outgoing != outgoing
                                         and (self.current != outgoing or outgoing == cue))
        with self.announce() if builds else nullcontext():
            self._ensure(renderer, cue, outgoing)

    def _ensure(self, renderer: Any, cue: tuple[str, str],
                outgoing: tuple[str, str] | None = None) -> None:
        """Make the renderer hold ``cue``'s scene and, during a transition, ``outgoing``'s.

        Scenes are pure in t, so a built scene serves every cue that shows it; a
        transition between two cues of the same scene holds two instances. When a
        transition begins, the scene on screen becomes the outgoing one as it is
        (:meth:`Renderer.retire`): nothing is rebuilt, nothing jumps.
        """
        if outgoing is not None and self.outgoing != outgoing:
            if self.current == outgoing:
                renderer.retire()
                self.outgoing, self.current = self.current, None
            else:                               # joined mid-transition
                _build(renderer.load_outgoing, self.bundle(outgoing[0]), outgoing[1])
                self.outgoing = outgoing
        elif outgoing is None and self.outgoing is not None:
            renderer.unload_outgoing()
            self.outgoing = None
        if self.current != cue:
            if cue in self.failed:              # tried once: not rebuilt every frame
                raise self.failed[cue]
            _build(renderer.load, self.bundle(cue[0]), cue[1])
            self.current = cue

    def preload(self, renderer: Any, frame: Frame, t: float) -> None:
        """Build the next cue's scene ahead of time (:meth:`Renderer.preload`), so that its
        cue change only swaps scenes that are built.

        Called after every frame. The preload starts once the cue playing is
        :data:`PRELOAD_AFTER_S` past its start and its transition is over, so that its
        build (in a thread, beside the render loop) stays clear of the change just made;
        with cues shorter than that it starts at once. Nothing is preloaded for a cue
        that cuts to the scene already on screen (it builds nothing), for a scene that
        failed, or for a bundle whose file changed on disk since it was opened or cannot
        be used: that file is opened at the cue change, as at boot (:meth:`bundle`), so a
        preload never picks up a new version, or forgets a failure, mid-cue. The renderer holds at most the current, the outgoing and this scene.
        """
        renderer.step_preload()
        tl = frame.timeline
        if tl is None:
            return
        state = tl.state_at(t)
        nxt = tl.next_start(t)
        if nxt is None or state.previous is not None:
            return
        if state.local_t < min(PRELOAD_AFTER_S, 0.25 * state.cue.duration):
            return
        key = (nxt.cue.bundle, nxt.cue.scene)
        cut = nxt.cue.transition == "cut" or nxt.cue.transition_time <= 0.0
        if key in self.failed or (key == self.current and cut):
            return
        bundle = self.bundles.get(key[0])
        if bundle is None or renderer.preloader.holds(bundle, key[1]):
            return      # asked for already: no stat of its file every frame
        if key[0] in self.broken or not self.unchanged(key[0]):
            return      # a changed file is opened at its cue change, as at boot
        renderer.preload(bundle, key[1])

    def unchanged(self, bundle_id: str) -> bool:
        """Whether a bundle's file is as it was when last opened (a ``stat``)."""
        return bundle_id in self.seen and _identity(self._path(bundle_id)) == self.seen[bundle_id]

    def states(self) -> dict[str, str]:
        """Bundle id -> the version new builds use, or ``"broken"`` (its file on disk
        cannot be used), as a node reports them."""
        return {**{k: b.manifest.version for k, b in self.bundles.items()},
                **{k: "broken" for k in self.broken}}

    def ready(self) -> bool:
        """Whether every bundle of the show is open, verified and usable (reported after
        a frame is drawn: a show that starts "when-ready" waits for it)."""
        return all(r.id in self.bundles and r.id not in self.broken for r in self.show.bundles)

    def close(self) -> None:
        for b in [*self.bundles.values(), *(b for b, _ in self.retired)]:
            b.close()


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
                          scenes.states(), *scenes.drawn, ready=scenes.ready())


def _build(load: Callable[[Any, str], None], bundle: Any, scene: str) -> None:
    """``load(bundle, scene)``; a scene the bundle lacks (a file swapped for one without
    it) is one line naming the bundle file."""
    try:
        load(bundle, scene)
    except SceneError:
        if isinstance(bundle, Bundle) and all(s.id != scene for s in bundle.manifest.scenes):
            has = ", ".join(repr(s.id) for s in bundle.manifest.scenes) or "none"
            raise BundleError(str(bundle.path), f"has no scene {scene!r} (its scenes: {has})"
                              ) from None
        raise


def open_scenes(settings: NodeSettings, show: ShowConfig) -> _Scenes:
    """The node's scene keeper, with every bundle of the show opened and verified (the
    boot check: a bad bundle is reported now, not when its cue comes up mid-show).

    Raises:
        BundleError: a bundle is missing or breaks a rule (nothing stays open).
    """
    scenes = _Scenes(settings, show)
    try:
        for ref in show.bundles:
            scenes.bundle(ref.id)
    except ExhibitError:
        scenes.close()
        raise
    return scenes


def play_frame(renderer: Any, scenes: _Scenes, frame: Frame, t: float,
               extra: dict[str, Any], *, preload: bool = True) -> None:
    """Draw show time ``t`` as a node does (a cue that cannot be shown is reported in
    ``extra``, never raised), then carry the next cue's preload on by a step
    (:meth:`_Scenes.preload`; ``preload=False``: the scene of each cue is built when it
    starts, as before preloading existed: the bench's baseline)."""
    _draw_or_report(renderer, scenes, frame, t, extra)
    if preload:
        scenes.preload(renderer, frame, t)


def run_node(settings: NodeSettings, show: ShowConfig) -> int:
    """Run a projector node until stopped (SIGINT/SIGTERM, window closed, ``--frames``).

    Returns:
        The process exit code: 0 after a clean stop.

    Raises:
        ExhibitError: a bundle, scene or the renderer failed (the CLI prints one line).
    """
    from ..sync.auth import client_curve
    from ..sync.node import NodeLink
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
    extra: dict[str, Any] = {}              # what the node adds to its status reports
    link = NodeLink(disp.id, settings.host, settings.state_port, settings.publish_port,
                    curve=curve)
    scenes.announce = link.loading
    renderer = Renderer(size, window=windowed, title=f"Exhibit Engine - {disp.id}",
                        origin=settings.window_origin)
    try:
        renderer.set_frustum(display_frustum(settings.venue.wall, disp))
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
            for event in link.take_events(t, controller_t):
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
        link.close()
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
