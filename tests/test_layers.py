"""The layering rules of DESIGN.md, three ways.

1. ``lint-imports`` checks the contracts in ``pyproject.toml`` (``make test`` runs it): the
   core imports neither panda3d, direct nor zmq; the layers point one way; no package's
   modules import each other in a cycle. These tests prove the contracts bite: an
   ``import zmq`` or a new cycle added to a copy of the package fails them.
2. A graph check: no import cycle at all, between any two modules, counting the imports
   inside function bodies (``grimp`` reads every import statement).
3. A fresh-interpreter probe: every module of the package tree is imported in a new
   interpreter, which reports which heavy packages entered ``sys.modules``. It catches
   what a static reading cannot (an import done while a module runs); its list is the
   package tree itself, so a new module is probed without anyone listing it.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "exhibit_engine"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
    "tool"]["importlinter"]["contracts"]

FORBIDDEN = ("panda3d", "direct", "gltf", "zmq")
PANDA = ("panda3d", "direct", "gltf")


@functools.cache
def package_modules() -> list[str]:
    """Every module of the package tree, by dotted name."""
    names = []
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@functools.cache
def core_modules() -> list[str]:
    """The modules the "core" contract covers, expanded to every module under them."""
    sources = next(c for c in CONTRACTS if c["id"] == "core")["source_modules"]
    return [m for m in package_modules()
            if any(m == s or m.startswith(s + ".") for s in sources)]


def allowed_heavy(module: str) -> frozenset[str]:
    """What importing ``module`` may pull in: panda3d only in the rendering layers, zmq only
    in the sync drivers and the layers above them that need a live link; nothing in the
    core, the command line (``exhibit --help`` stays fast), bench or the asset pipeline."""
    if module in core_modules():
        return frozenset()
    layer = module.split(".")[1] if "." in module else ""
    if layer in ("scenes",):
        return frozenset(PANDA)
    if layer in ("runtime", "kiosk"):
        return frozenset(FORBIDDEN)
    if layer in ("sync", "console"):
        return frozenset({"zmq"})
    return frozenset()


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


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the package found under ``root`` with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "200"}
    return subprocess.run([str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=root, capture_output=True, text=True,
                          timeout=300, env=env)


# --------------------------------------------------------------------------- probe


PROBED = [m for m in package_modules() if allowed_heavy(m) != frozenset(FORBIDDEN)]


@pytest.mark.parametrize("module", core_modules())
def test_core_module_imports_neither_panda3d_nor_zmq(module: str) -> None:
    assert heavy_imports(module) == []


@pytest.mark.parametrize("module", [m for m in PROBED if m not in core_modules()])
def test_importing_a_module_pulls_in_only_what_its_layer_allows(module: str) -> None:
    assert set(heavy_imports(module)) <= allowed_heavy(module)


def test_the_probe_covers_the_whole_core_and_the_command_line() -> None:
    core = core_modules()
    assert "exhibit_engine.errors" in core and "exhibit_engine.sync.protocol" in core
    assert len(core) >= 30, core
    assert set(core) <= set(PROBED)
    assert {"exhibit_engine.cli", "exhibit_engine.bench", "exhibit_engine.assets.pack"} <= \
        set(PROBED)


def test_only_scenes_runtime_and_kiosk_import_panda3d_only_sync_imports_zmq() -> None:
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        used = static_imports(path.read_text(encoding="utf-8"))
        if used & {"panda3d", "direct", "gltf"} and not rel.startswith(("scenes/", "runtime/",
                                                                           "kiosk/")):
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


# --------------------------------------------------------------------------- cycles


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, anywhere in its source (grimp)."""
    import grimp

    graph = grimp.build_graph("exhibit_engine", cache_dir=None)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_anywhere_not_even_inside_a_function() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


# --------------------------------------------------------------------------- contracts


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package (sources only) for contract tests that break it on purpose."""
    root = tmp_path_factory.mktemp("copy")
    shutil.copytree(PKG, root / "exhibit_engine",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def _broken_copy(package_copy: Path, tmp_path: Path, module: str, line: str) -> Path:
    root = tmp_path / "broken"
    shutil.copytree(package_copy, root)
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    if not path.exists():
        path = root.joinpath(*module.split("."), "__init__.py")
    path.write_text(path.read_text(encoding="utf-8") + f"\n\ndef _added():\n    {line}\n",
                    encoding="utf-8")
    return root


def test_the_package_keeps_its_contracts(package_copy: Path) -> None:
    res = lint_imports(package_copy)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "broken" not in res.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize("module", ["exhibit_engine.sync.protocol", "exhibit_engine.show.control",
                                    "exhibit_engine.config"])
def test_an_import_of_zmq_in_the_core_breaks_the_contracts(package_copy: Path, tmp_path: Path,
                                                           module: str) -> None:
    res = lint_imports(_broken_copy(package_copy, tmp_path, module, "import zmq"))
    assert res.returncode != 0
    assert "The core imports neither panda3d, direct nor zmq BROKEN" in res.stdout
    assert f"{module} -> zmq" in res.stdout


def test_a_new_import_cycle_breaks_the_contracts(package_copy: Path, tmp_path: Path) -> None:
    # sync.snapshot imports sync.protocol; protocol importing snapshot back closes a cycle
    # that breaks no layer (both are sync): only the cycle contract can see it.
    assert "exhibit_engine.sync.protocol" in import_graph()["exhibit_engine.sync.snapshot"]
    res = lint_imports(_broken_copy(package_copy, tmp_path, "exhibit_engine.sync.protocol",
                                    "from . import snapshot"))
    assert res.returncode != 0
    assert "No import cycles between the modules of any package BROKEN" in res.stdout
    assert "Layers" in res.stdout and "Layers: cli" in res.stdout
    assert "Layers: cli > bench > kiosk > runtime | console > sync > scenes > assets | show " \
           "| wall > keys > config > errors KEPT" in res.stdout


def test_an_upward_import_breaks_the_layers(package_copy: Path, tmp_path: Path) -> None:
    res = lint_imports(_broken_copy(package_copy, tmp_path, "exhibit_engine.wall.frustum",
                                    "from ..assets import bundle"))
    assert res.returncode != 0
    assert "BROKEN" in res.stdout and "exhibit_engine.wall.frustum -> " \
        "exhibit_engine.assets.bundle" in res.stdout
