"""Scene kinds: what a bundle's scenes look like on the wall.

Each kind is a :class:`~exhibit_engine.scenes.base.Scene` subclass, built once from its
bundle's assets and posed for every frame as a pure function of show time. Built-in
kinds (:data:`~exhibit_engine.scenes.registry.KINDS`):

- ``ice`` (:mod:`.ice`): ice architecture lit from inside, snowfall, aurora;
- ``prints`` (:mod:`.prints`): a gallery of multi-block woodblock prints, revealed
  block by block, captioned in the visitor's language;
- ``heritage`` (:mod:`.heritage`, planned by the pure :mod:`._heritage_plan`):
  artifacts on turntables with anchored multilingual annotations and camera tours.

Third-party kinds register through the ``exhibit_engine.scenes`` entry-point group
(see :mod:`.registry` and ``docs/scenes.md``). :mod:`.labels` draws text from a
bundle's own fonts; :mod:`.base` holds what every kind shares.

Importing this package is cheap: Panda3D is loaded only when one of the names below is
first used (they are resolved lazily from :mod:`.base` and :mod:`.registry`).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["KINDS", "Scene", "SceneContext", "get_kind", "known_kinds", "load_glb",
           "make_shader"]

_HOME = {
    "Scene": "base", "SceneContext": "base", "load_glb": "base", "make_shader": "base",
    "KINDS": "registry", "get_kind": "registry", "known_kinds": "registry",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
