"""The wall package is pure numpy: only ``wall.diagram`` draws with Pillow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules}
                        & {'PIL', 'panda3d', 'direct', 'zmq'})))
"""


def _loaded(*modules: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, *modules], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_pure_wall_modules_import_neither_pillow_nor_panda3d_nor_zmq() -> None:
    pure = sorted(p.stem for p in (ROOT / "exhibit_engine" / "wall").glob("*.py")
                  if p.stem not in ("__init__", "diagram"))
    assert {"blend", "check", "composite", "frustum", "output", "warp"} <= set(pure)
    assert _loaded("exhibit_engine.wall", *(f"exhibit_engine.wall.{m}" for m in pure)) == []


def test_only_the_diagram_brings_in_pillow() -> None:
    assert _loaded("exhibit_engine.wall.diagram") == ["PIL"]
