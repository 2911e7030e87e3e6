"""The bundles a node plays and the scenes built from them (:class:`_Scenes`), opened and
verified at boot or when they arrive, with the next cue's scene preloaded; split from
:mod:`.node_app`, which runs the node's loop around them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from ..assets.bundle import Bundle, open_verified
from ..assets.library import library_path
from ..assets.signing import load_public_keys
from ..config import NodeSettings, ShowConfig
from ..errors import BundleError, ExhibitError, SceneError
from .playback import Frame

__all__ = ["PRELOAD_AFTER_S", "open_scenes"]

log = logging.getLogger("exhibit_engine.runtime.node_app")

#: Seconds into a cue (its transition over) before the next cue's scene is preloaded.
PRELOAD_AFTER_S = 1.5


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
        # Bundles whose file is not here (yet): a fetching node fetches them (sync/transfer).
        self.absent: set[str] = set()
        # The node's bundle fetcher (sync.distribution.FetcherProcess; None: none).
        self.fetcher: Any = None

    def _path(self, bundle_id: str) -> Path:
        ref = self.show.bundle(bundle_id)
        return library_path(self.settings.bundle_dir, ref.id, ref.file)

    def arrived(self, bundle_id: str) -> None:
        """A bundle was just installed into the library (fetched from the controller):
        open and verify it now, as at boot (announced as a load).

        One this node could not use yet (not here, or unusable) plays from the next
        frame, so a node that started without it joins the show at once. A new version
        of one it plays only replaces the version that new builds use: the scene on
        screen stays as it is until its cue ends, and the next cue that uses the bundle
        (preloaded as usual) plays the new version; never in the middle of a cue.
        """
        if bundle_id not in self.bundles:
            self.absent.discard(bundle_id)
            self.seen.pop(bundle_id, None)
            self.broken.pop(bundle_id, None)
            self.failed = {k: e for k, e in self.failed.items() if k[0] != bundle_id}
        elif self.unchanged(bundle_id):
            return
        with self.announce():
            try:
                self.bundle(bundle_id)
            except BundleError as exc:
                log.error("bundle %r arrived but cannot be used: %s", bundle_id, exc)

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
        if now is None and self.settings.fetch and bundle_id not in self.bundles:
            self.absent.add(bundle_id)
            self.seen[bundle_id] = None
            self.broken[bundle_id] = BundleError(str(path), "not here yet: it is being "
                                                 "fetched from the controller")
            raise self.broken[bundle_id]
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
        # A jump back: more than a clock slew's worth (the show clock is slewed, never
        # stepped, so a frame may read a few ms less than the one before).
        changed = cue != self.cue or local_t < self.local_t - 0.5
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
                **{k: "fetching" if k in self.absent else "broken" for k in self.broken}}

    def ready(self) -> bool:
        """Whether every bundle of the show is open, verified and usable (reported after
        a frame is drawn: a show that starts "when-ready" waits for it)."""
        return all(r.id in self.bundles and r.id not in self.broken for r in self.show.bundles)

    def close(self) -> None:
        for b in [*self.bundles.values(), *(b for b, _ in self.retired)]:
            b.close()


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

    A node that fetches (``settings.fetch``) starts without the bundles it does not hold
    yet; each is opened when the fetcher has installed it (:meth:`_Scenes.arrived`).

    Raises:
        BundleError: a bundle is missing (without fetching) or breaks a rule (nothing
            stays open).
    """
    scenes = _Scenes(settings, show)
    try:
        for ref in show.bundles:
            try:
                scenes.bundle(ref.id)
            except BundleError:
                if ref.id not in scenes.absent:
                    raise           # here but unusable: one line now (a fetch is missing)
    except ExhibitError:
        scenes.close()
        raise
    return scenes
