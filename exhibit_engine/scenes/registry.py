"""Scene kinds by name: the built-in ones as plain data, third-party ones by entry point.

A package adds a kind by declaring an entry point in the ``exhibit_engine.scenes`` group
whose name is the kind and whose object is a :class:`~exhibit_engine.scenes.base.Scene`
subclass::

    [project.entry-points."exhibit_engine.scenes"]
    aquarium = "my_pack.aquarium:AquariumScene"

Built-in kinds win over entry points of the same name.

:func:`check_params` checks a scene's parameters without Panda3D, for ``exhibit pack``
and ``exhibit validate``: :data:`PARAM_CHECKS` maps a kind to its pure checker (kinds
without one are checked when the scene is built). Importing this module does not load
Panda3D; :data:`KINDS` (the scene classes) loads it on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..assets.gltf import split_glb
from ..errors import AssetError, BundleError, SceneError
from . import _heritage_plan

if TYPE_CHECKING:
    from ..assets.manifest import SceneSpec
    from .base import Scene

__all__ = ["ENTRY_POINT_GROUP", "KINDS", "PARAM_CHECKS", "check_bundle_params",
           "check_params", "get_kind",
           "known_kinds"]

#: The entry-point group third-party scene kinds register in.
ENTRY_POINT_GROUP = "exhibit_engine.scenes"

#: Built-in kinds: manifest ``kind`` -> (module, class) of its Scene subclass.
_BUILT_IN = {"ice": ("ice", "IceScene"), "heritage": ("heritage", "HeritageScene"),
             "prints": ("prints", "PrintsScene")}
_kinds: MappingProxyType[str, type[Scene]] | None = None


def _built_in() -> MappingProxyType[str, type[Scene]]:
    global _kinds
    if _kinds is None:
        _kinds = MappingProxyType({
            kind: getattr(importlib.import_module(f".{mod}", __package__), cls)
            for kind, (mod, cls) in _BUILT_IN.items()})
    return _kinds


#: Built-in scene kinds: manifest ``kind`` -> Scene subclass (read-only). Resolved on
#: first use (see ``_HOME``), since importing the classes loads Panda3D.
KINDS: MappingProxyType[str, type[Scene]]
#: Names resolved on first use -> the function that makes them.
_HOME = {"KINDS": "_built_in"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return globals()[_HOME[name]]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_Reader = Callable[[str], bytes]


def _check_heritage(spec: SceneSpec, read: _Reader | None) -> list[str]:
    p = _heritage_plan.HeritageParams.parse(spec.id, spec.params, spec.labels, spec.assets)
    for i, art in enumerate(p.artifacts):
        if art.animation is None or read is None:
            continue
        doc, _ = split_glb(read(art.model), art.model)
        anims = doc.get("animations") if isinstance(doc.get("animations"), list) else []
        names = [a.get("name", f"anim{k}") if isinstance(a, dict) else f"anim{k}"
                 for k, a in enumerate(anims)]
        if art.animation not in names:
            raise SceneError(spec.id, f"heritage parameter artifacts[{i}].animation: "
                                      f"{art.model} has no animation {art.animation!r} "
                                      f"(it has: {', '.join(map(str, names)) or 'none'})")
    return _heritage_plan.size_warnings(p)


#: Pure parameter checkers: kind -> f(scene spec, reader of bundle files or None)
#: returning notes for the curator (raising SceneError on a broken rule).
PARAM_CHECKS: Mapping[str, Callable[[SceneSpec, _Reader | None], list[str]]] = \
    MappingProxyType({"heritage": _check_heritage})


def check_params(spec: SceneSpec, read: _Reader | None = None) -> list[str]:
    """Check one scene's parameters as its kind will at build time, without Panda3D.

    Args:
        spec: the scene's manifest entry.
        read: the bundle's file reader; with it, what the parameters say of the
            scene's files is checked too (e.g. that a model has the named animation).

    Returns:
        Notes for the curator (e.g. an implausible declared size); empty if none, or
        if the kind has no pure checker.

    Raises:
        SceneError: a parameter breaks a rule (one line naming the scene and the rule).
    """
    check = PARAM_CHECKS.get(spec.kind)
    return check(spec, read) if check is not None else []


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def check_bundle_params(where: str, scenes: Iterable[SceneSpec], read: _Reader | None = None
                        ) -> dict[str, list[str]]:
    """:func:`check_params` for every scene of a bundle (``exhibit pack`` and ``validate``).

    Returns:
        The curator's notes per scene (``"scene <id>"`` -> notes), scenes without none left out.

    Raises:
        BundleError: naming ``where`` (the bundle), the scene and the rule.
    """
    notes: dict[str, list[str]] = {}
    for spec in scenes:
        try:
            found = check_params(spec, read)
        except (SceneError, AssetError) as exc:
            raise BundleError(where, exc.message) from None
        if found:
            notes[f"scene {spec.id}"] = found
    return notes


def known_kinds() -> list[str]:
    """Every kind that :func:`get_kind` can resolve, sorted."""
    return sorted(set(_BUILT_IN) | set(_entry_points()))


def get_kind(kind: str) -> type[Scene]:
    """The Scene class for a manifest ``kind``.

    Raises:
        SceneError: no built-in kind or entry point has that name, or the entry point
            does not load a Scene subclass; the message lists the known kinds.
    """
    if kind in _BUILT_IN:
        return _built_in()[kind]
    eps = _entry_points()
    ep = eps.get(kind)
    if ep is None:
        raise SceneError(kind, f"unknown scene kind (known: {', '.join(known_kinds())})")
    try:
        cls = ep.load()
    except (ImportError, AttributeError) as exc:
        raise SceneError(kind, f"entry point {ep.value!r} failed to load ({exc})") from None
    from .base import Scene

    if not (isinstance(cls, type) and issubclass(cls, Scene)):
        raise SceneError(kind, f"entry point {ep.value!r} is not a Scene subclass")
    return cls
