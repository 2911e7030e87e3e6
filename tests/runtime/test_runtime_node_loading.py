"""A node announces its blocking scene builds to the controller (issue 5, liveness).

``_Scenes.ensure`` wraps every call that builds a scene in ``announce()`` (the node sets it
to ``NodeLink.loading``), so the controller reports the node "loading" rather than hung or
lost while a loader holds the render loop; frames that build nothing announce nothing.
No renderer or bundle is needed: a recording stand-in takes the calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from exhibit_engine.runtime.node_app import _Scenes


class Recorder:
    """Stands in for the renderer; notes each call and whether a load was announced."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.announcing = False

    def __getattr__(self, name: str) -> Any:
        if name not in ("load", "load_outgoing", "retire", "unload_outgoing"):
            raise AttributeError(name)
        return lambda *args: self.calls.append((name, self.announcing))


def scenes_with(recorder: Recorder) -> _Scenes:
    scenes = object.__new__(_Scenes)          # no settings or bundles needed for ensure
    scenes.bundle = lambda bundle_id: object()   # type: ignore[method-assign]
    scenes.current = scenes.outgoing = None
    scenes.failed = {}

    @contextmanager
    def announce() -> Iterator[None]:
        recorder.announcing = True
        try:
            yield
        finally:
            recorder.announcing = False

    scenes.announce = announce
    return scenes


def test_scene_builds_are_announced_and_plain_frames_are_not() -> None:
    r = Recorder()
    scenes = scenes_with(r)
    scenes.ensure(r, ("b", "one"))                       # first build: announced
    scenes.ensure(r, ("b", "one"))                       # same scene: nothing happens
    scenes.ensure(r, ("b", "two"), ("b", "one"))         # transition: retire, then build
    scenes.ensure(r, ("b", "two"), ("b", "one"))         # mid-transition: nothing
    scenes.ensure(r, ("b", "two"))                       # transition over: unload only
    assert r.calls == [("load", True), ("retire", True), ("load", True),
                       ("unload_outgoing", False)]
    # Joining mid-transition builds both scenes inside one announcement.
    r2 = Recorder()
    late = scenes_with(r2)
    late.ensure(r2, ("b", "two"), ("b", "one"))
    assert r2.calls == [("load_outgoing", True), ("load", True)]
