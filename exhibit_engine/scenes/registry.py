"""Scene kinds by name: the built-in ones as plain data, third-party ones by entry point.

A package adds a kind by declaring an entry point in the ``exhibit_engine.scenes`` group
whose name is the kind and whose object is a :class:`~exhibit_engine.scenes.base.Scene`
subclass::

    [project.entry-points."exhibit_engine.scenes"]
    aquarium = "my_pack.aquarium:AquariumScene"

Built-in kinds win over entry points of the same name.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType

from ..errors import SceneError
from .base import Scene
from .heritage import HeritageScene
from .ice import IceScene
from .prints import PrintsScene

__all__ = ["ENTRY_POINT_GROUP", "KINDS", "get_kind", "known_kinds"]

#: The entry-point group third-party scene kinds register in.
ENTRY_POINT_GROUP = "exhibit_engine.scenes"

#: Built-in scene kinds: manifest ``kind`` -> Scene subclass.
KINDS: MappingProxyType[str, type[Scene]] = MappingProxyType({
    IceScene.kind: IceScene,
    HeritageScene.kind: HeritageScene,
    PrintsScene.kind: PrintsScene,
})


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_kinds() -> list[str]:
    """Every kind that :func:`get_kind` can resolve, sorted."""
    return sorted(set(KINDS) | set(_entry_points()))


def get_kind(kind: str) -> type[Scene]:
    """The Scene class for a manifest ``kind``.

    Raises:
        SceneError: no built-in kind or entry point has that name, or the entry point
            does not load a Scene subclass; the message lists the known kinds.
    """
    if kind in KINDS:
        return KINDS[kind]
    eps = _entry_points()
    ep = eps.get(kind)
    if ep is None:
        raise SceneError(kind, f"unknown scene kind (known: {', '.join(known_kinds())})")
    try:
        cls = ep.load()
    except (ImportError, AttributeError) as exc:
        raise SceneError(kind, f"entry point {ep.value!r} failed to load ({exc})") from None
    if not (isinstance(cls, type) and issubclass(cls, Scene)):
        raise SceneError(kind, f"entry point {ep.value!r} is not a Scene subclass")
    return cls
