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

from ..assets.bundle import Bundle
from ..assets.checks import CHECKS
from ..assets.signing import load_public_keys
from ..config import NodeSettings, ShowConfig
from ..config.paths import (check_file_name, check_output_dir, check_output_path, shown,
                            write_atomic)
from ..errors import BundleError, ConfigError, ExhibitError
from .playback import Frame, Playback
from ..wall.frustum import display_frustum

__all__ = ["HEADLESS_FPS", "NodeRun", "capture", "has_display", "run_node"]

log = logging.getLogger(__name__)

#: Frame-rate cap for offscreen nodes, so a demo on a laptop leaves CPU for its peers.
HEADLESS_FPS = 30.0


def has_display() -> bool:
    """Whether a window can be opened here (an X11 or Wayland display is set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


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

    def to_json(self) -> str:
        """The run as JSON."""
        return json.dumps(self.__dict__, indent=2)


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


class _Scenes:
    """The bundles a show uses, opened and fully verified once, and the scene on screen."""

    def __init__(self, settings: NodeSettings, show: ShowConfig) -> None:
        self.settings, self.show = settings, show
        self.bundles: dict[str, Bundle] = {}
        self.current: tuple[str, str] | None = None     # (bundle, scene) built
        self.outgoing: tuple[str, str] | None = None    # ... held by a transition
        self.failed: dict[tuple[str, str], ExhibitError] = {}   # scenes that cannot be shown
        self.trust = [key for path in settings.venue.bundles.trusted_keys
                      for key in load_public_keys(path)]
        # Announces a blocking scene load to the controller (NodeLink.loading), so the
        # node is reported "loading", not hung or lost, while a load holds the loop.
        self.announce: Callable[[], AbstractContextManager[None]] = nullcontext

    def bundle(self, bundle_id: str) -> Bundle:
        if bundle_id not in self.bundles:
            ref = self.show.bundle(bundle_id)
            path = Path(self.settings.bundle_dir) / ref.file
            b = Bundle.open(path)
            try:
                policy = self.settings.venue.bundles
                b.check_signature(self.trust, policy.require_signed)  # the venue's policy
                for _ in b.iter_verified(CHECKS):  # every hash and every model's and
                    pass                           # image's content, before the renderer
            except BundleError:
                b.close()
                raise
            self.bundles[bundle_id] = b
        return self.bundles[bundle_id]

    def ensure(self, renderer: Any, cue: tuple[str, str],
               outgoing: tuple[str, str] | None = None) -> None:
        """Like :meth:`_ensure`, announced as a load (:attr:`announce`) when it builds a
        scene."""
        builds = self.current != cue or (outgoing is not None and self.outgoing != outgoing
                                         and self.current != outgoing)
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
                renderer.load_outgoing(self.bundle(outgoing[0]), outgoing[1])
                self.outgoing = outgoing
        elif outgoing is None and self.outgoing is not None:
            renderer.unload_outgoing()
            self.outgoing = None
        if self.current != cue:
            if cue in self.failed:              # tried once: not rebuilt every frame
                raise self.failed[cue]
            renderer.load(self.bundle(cue[0]), cue[1])
            self.current = cue

    def close(self) -> None:
        for b in self.bundles.values():
            b.close()


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
    scenes = _Scenes(settings, show)
    try:
        for ref in show.bundles:  # check every bundle at boot: a bad one is reported now,
            scenes.bundle(ref.id)  # not when its cue comes up mid-show
    except ExhibitError:
        scenes.close()
        raise
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
        frame_s = 0.0 if windowed else 1.0 / HEADLESS_FPS
        next_frame = time.monotonic()
        while not stop.is_set() and not renderer.closed:
            link.poll()
            times = link.frame_time()
            if times is None:
                stop.wait(0.02)  # not synced yet: nothing to draw in step with
                continue
            run.joined = True
            # The controller clock, as this node estimates it: program changes, blackout
            # fades and events are timed on it (show time stands still while paused and
            # goes back at a backward jump).
            t, controller_t = times
            frame = playback.frame(link.session_state(), controller_t)
            for event in link.take_events(t, controller_t):
                if event.kind == "capture" and capture_dir is not None:
                    tag = event.args.get("tag", "capture")
                    _draw_or_report(renderer, scenes, frame, event.effective_at, extra)
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
            _draw_or_report(renderer, scenes, frame, t, extra)
            run.frames += 1
            run.show_time = t
            link.report(frames=run.frames, show_time=t, captures=list(run.captures),
                        extra=extra)
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
    bundle that became unreadable) is logged once per cue and reported in the node's
    status as ``extra.fault`` (one line); the node then shows the show's standby scene
    (or black, if that fails too or there is none) until the timeline moves on to a cue
    that works, which clears the fault.
    """
    try:
        _draw(renderer, scenes, frame, t)
    except ExhibitError as exc:
        cue = frame.timeline.state_at(t).cue if frame.timeline is not None else None
        if cue is not None:
            scenes.failed[(cue.bundle, cue.scene)] = exc
        fault = f"cue {cue.id if cue else '?'!r} cannot be shown: {exc}"[:400]
        if extra.get("fault") != fault:
            log.error("%s; showing standby meanwhile", fault)
        extra["fault"] = fault
        standby = scenes.show.standby
        if standby is not None and cue is not None and (standby.bundle, standby.scene) != (
                cue.bundle, cue.scene):
            try:
                scenes.ensure(renderer, (standby.bundle, standby.scene))
                renderer.render(t, {"show_time": t, **frame.scene_state}, None,
                                dim=frame.dim)
                return
            except ExhibitError as again:
                log.error("the standby scene cannot be shown either: %s", again)
        renderer.unload()
        scenes.current = scenes.outgoing = None
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
