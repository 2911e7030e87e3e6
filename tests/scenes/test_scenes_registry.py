"""Scene kinds: the built-in registry, entry-point discovery, and a light package import."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from exhibit_engine.errors import SceneError

ROOT = Path(__file__).resolve().parents[2]


def test_ice_is_built_in() -> None:
    from exhibit_engine.scenes.ice import IceScene
    from exhibit_engine.scenes.registry import KINDS, get_kind

    assert KINDS["ice"] is IceScene
    assert get_kind("ice") is IceScene


def test_unknown_kind_lists_the_known_ones() -> None:
    from exhibit_engine.scenes.registry import get_kind

    with pytest.raises(SceneError, match=r"unknown scene kind \(known: .*ice"):
        get_kind("volcano")


def test_third_party_kinds_come_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    from exhibit_engine.scenes import registry
    from exhibit_engine.scenes.ice import IceScene

    eps = [EntryPoint("glacier", "exhibit_engine.scenes.ice:IceScene", registry.ENTRY_POINT_GROUP),
           EntryPoint("broken", "exhibit_engine.scenes.ice:PROGRAMME", registry.ENTRY_POINT_GROUP),
           EntryPoint("missing", "no_such_module_here:Scene", registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry, "entry_points", lambda group: [e for e in eps
                                                                 if e.group == group])
    assert registry.get_kind("glacier") is IceScene
    assert "glacier" in registry.known_kinds()
    with pytest.raises(SceneError, match="not a Scene subclass"):
        registry.get_kind("broken")
    with pytest.raises(SceneError, match="failed to load"):
        registry.get_kind("missing")


def test_scenes_package_import_does_not_load_panda3d() -> None:
    probe = ("import json, sys, exhibit_engine.scenes as s; "
             "print(json.dumps([sorted(s.__all__), 'panda3d' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, check=True)
    names, loaded = json.loads(out.stdout)
    assert "get_kind" in names and not loaded
