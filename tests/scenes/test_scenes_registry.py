"""Scene kinds: the built-in registry, entry-point discovery, and a light package import."""

from __future__ import annotations

import json
import os
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


# --------------------------------------------------------------------------- third party

_PLUGIN = '''\
"""A museum's own scene kind: one card of a colour, brightening with time."""
from panda3d.core import CardMaker

from exhibit_engine.scenes.base import Scene


class MyScene(Scene):
    kind = "mykind"

    def build(self):
        cm = CardMaker("card")
        cm.set_frame(-50, 50, -50, 50)
        self.card = self.ctx.root.attach_new_node(cm.generate())
        self.card.set_pos(0, 10, 0)
        self.colour = tuple(self.ctx.spec.params.get("colour", [1.0, 0.5, 0.0]))

    def apply(self, t, state):
        k = min(1.0, 0.5 + t / 20.0)
        self.card.set_color(*(c * k for c in self.colour), 1.0)
'''

_BUNDLE = '''\
[bundle]
id = "plugin-test"
version = "1.0.0"
title = { en = "Plugin" }
rights = "test"
license = "CC0-1.0"

[[scenes]]
id = "card"
kind = "mykind"
title = { en = "Card" }
assets = []
[scenes.params]
colour = [0.0, 1.0, 0.5]
'''

_RENDER = '''
import json, sys
from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.pack import pack
from exhibit_engine.runtime.render import Renderer
from exhibit_engine.scenes.registry import get_kind, known_kinds
pack(sys.argv[1], sys.argv[2])
with Bundle.open(sys.argv[2]) as b, Renderer((32, 20)) as r:
    r.load(b, "card")
    r.render(10.0)
    img = r.snapshot()
print(json.dumps({"kinds": known_kinds(), "cls": get_kind("mykind").__module__,
                  "pixel": img.getpixel((16, 10))}))
'''


@pytest.mark.render
def test_a_kind_installed_through_the_entry_point_is_found_and_rendered(tmp_path: Path
                                                                        ) -> None:
    """A package that only declares ``exhibit_engine.scenes = mykind = mypkg:MyScene``."""
    site = tmp_path / "site"                  # stands in for a site-packages folder
    (site / "mypkg").mkdir(parents=True)
    (site / "mypkg" / "__init__.py").write_text(_PLUGIN, encoding="utf-8")
    dist = site / "mypkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1\n",
                                   encoding="utf-8")
    (dist / "entry_points.txt").write_text("[exhibit_engine.scenes]\nmykind = mypkg:MyScene\n",
                                           encoding="utf-8")
    src = tmp_path / "src"
    src.mkdir()
    (src / "bundle.toml").write_text(_BUNDLE, encoding="utf-8")
    out = subprocess.run([sys.executable, "-c", _RENDER, str(src), str(tmp_path / "p.exb")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"})
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    assert "mykind" in doc["kinds"] and "ice" in doc["kinds"]
    assert doc["cls"] == "mypkg"
    r, g, b = doc["pixel"]
    assert r < 8 and g > 240 and 115 < b < 140, doc["pixel"]   # (0, 1, 0.5) at t = 10


def test_without_the_package_the_kind_is_unknown() -> None:
    from exhibit_engine.scenes.registry import get_kind

    with pytest.raises(SceneError, match="mykind"):
        get_kind("mykind")
