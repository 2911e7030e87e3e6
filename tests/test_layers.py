"""The layering rule of DESIGN.md: the core imports neither panda3d nor zmq.

Each core module is imported in a fresh interpreter, which then reports whether
``panda3d`` or ``zmq`` entered ``sys.modules``. A second, static check reads every
module's imports, so the rule also holds for code paths an import does not run.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "exhibit_engine"

CORE_MODULES = [
    "exhibit_engine",
    "exhibit_engine.errors",
    "exhibit_engine.config",
    "exhibit_engine.wall",
    "exhibit_engine.wall._geometry",
    "exhibit_engine.wall.blend",
    "exhibit_engine.wall.check",
    "exhibit_engine.wall.composite",
    "exhibit_engine.wall.frustum",
    "exhibit_engine.wall.output",
    "exhibit_engine.wall.warp",
    "exhibit_engine.show",
    "exhibit_engine.show.timeline",
    "exhibit_engine.show.schedule",
    "exhibit_engine.show.control",
    "exhibit_engine.assets",
    "exhibit_engine.assets.manifest",
    "exhibit_engine.assets.bundle",
    "exhibit_engine.assets.pack",
    "exhibit_engine.assets.gltf",
    "exhibit_engine.assets.font",
    "exhibit_engine.assets.signing",
    "exhibit_engine.assets.library",
    "exhibit_engine.assets.schema",
    "exhibit_engine.assets.woodblock",
    "exhibit_engine.assets.woodblock_pack",
    "exhibit_engine.bench",
    "exhibit_engine.bench.bundle",
    "exhibit_engine.sync",
    "exhibit_engine.sync.protocol",
    "exhibit_engine.sync.clock",
    "exhibit_engine.keys",
    "exhibit_engine.sync.persist",
    "exhibit_engine.runtime.playback",
    "exhibit_engine.cli",
]

FORBIDDEN = ("panda3d", "direct", "gltf", "zmq")

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
bad = sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[2].split(',')))
print(json.dumps(bad))
"""


def heavy_imports(module: str, path: Path = ROOT) -> list[str]:
    """Import ``module`` in a fresh interpreter; return the forbidden packages it pulled in."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, module, ",".join(FORBIDDEN)],
        cwd=path, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(path), "PATH": "/usr/bin:/bin"},
    )
    if out.returncode != 0:
        raise AssertionError(f"importing {module} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def static_imports(source: str) -> set[str]:
    """Top-level package names a module's source imports (anywhere in the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_neither_panda3d_nor_zmq(module: str) -> None:
    assert heavy_imports(module) == []


def test_only_scenes_and_runtime_import_panda3d_only_sync_imports_zmq() -> None:
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        used = static_imports(path.read_text(encoding="utf-8"))
        if used & {"panda3d", "direct", "gltf"} and not rel.startswith(("scenes/", "runtime/")):
            offenders.append(f"{rel} imports panda3d")
        if "zmq" in used and not rel.startswith("sync/"):
            offenders.append(f"{rel} imports zmq")
    assert offenders == []


def test_checks_catch_a_core_module_that_imports_zmq_or_panda3d(tmp_path: Path) -> None:
    """The probe is not vacuous: a module importing zmq or panda3d is reported."""
    pkg = tmp_path / "fakecore"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "uses_zmq.py").write_text("import zmq\n")
    (pkg / "uses_panda.py").write_text("def f():\n    from panda3d.core import NodePath\n"
                                      "import panda3d.core\n")
    assert heavy_imports("fakecore.uses_zmq", tmp_path) == ["zmq"]
    assert heavy_imports("fakecore.uses_panda", tmp_path) == ["panda3d"]
    assert static_imports((pkg / "uses_panda.py").read_text()) == {"panda3d"}
