"""The public surface: every public module says what it exports, and says it all.

As httpx's ``test_exported_members.py`` pins its package's ``__all__``, this pins every
public module's: ``__all__`` must list exactly the public names the module defines (its
functions, classes and module-level constants; for a package ``__init__``, also what it
re-exports or resolves lazily), sorted; a public module may also present names it takes
from a private module of its own (``protocol`` presents ``_fields``' limits). A public function added without ``__all__``, or a name left in
``__all__`` after it moved, fails here. Read from the source, so nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "exhibit_engine"

def _is_logger(value: ast.expr | None) -> bool:
    """``logging.getLogger(...)``: a module's logger is plumbing, not API."""
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
        and value.func.attr == "getLogger"


def public_modules() -> list[Path]:
    """Every module whose dotted path has no private part."""
    return [p for p in sorted(PKG.rglob("*.py"))
            if not any(part.startswith("_") and part != "__init__.py"
                       for part in p.relative_to(PKG).parts)]


def private_imports(tree: ast.Module) -> set[str]:
    """Names a module imports from a private module (``from ._fields import X``): a public
    module may present them as its own."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and any(
                part.startswith("_") for part in node.module.split(".")):
            names.update(a.asname or a.name for a in node.names)
    return names


def lazy_names(tree: ast.Module) -> set[str]:
    """Names a package resolves on first use (a module ``__getattr__`` over a ``_HOME`` table)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_HOME"
                                                for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def defined_names(tree: ast.Module, *, with_imports: bool) -> set[str]:
    """Public names bound at the top level of a module (dunders such as ``__version__``
    count; ``__all__`` itself does not)."""
    names: set[str] = set()
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if not node.name.startswith("__"):      # module hooks: __getattr__, __dir__
                names.add(node.name)
        elif isinstance(node, ast.Assign) and not _is_logger(node.value):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
            targets = [node.target]
        elif with_imports and isinstance(node, ast.ImportFrom) and node.level == 1 \
                and node.module:        # a package re-exports ``from .module import Name``
            names.update(a.asname or a.name for a in node.names)
        for t in targets:
            for n in ast.walk(t):
                if isinstance(n, ast.Name):
                    names.add(n.id)
    dunder = {n for n in names if n.startswith("__") and n.endswith("__")}
    return {n for n in names if not n.startswith("_") and n != "annotations"} | (dunder - {"__all__", "__doc__"})


def declared_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and node.target.id == "__all__" and node.value is not None:
            return list(ast.literal_eval(node.value))
    return None


@pytest.mark.parametrize("path", public_modules(),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_all_lists_exactly_the_public_names_sorted(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    exported = declared_all(tree)
    assert exported is not None, "no __all__"
    assert exported == sorted(exported), f"__all__ is not sorted: {sorted(exported)}"
    assert len(exported) == len(set(exported)), "__all__ repeats a name"
    is_package = path.name == "__init__.py"
    defined = defined_names(tree, with_imports=is_package) | lazy_names(tree)
    presented = private_imports(tree)
    missing = defined - set(exported)
    foreign = set(exported) - defined - presented
    assert not missing and not foreign, (
        f"missing from __all__: {sorted(missing)}; "
        f"in __all__ but neither defined here nor taken from a private module: "
        f"{sorted(foreign)}")


@pytest.mark.parametrize("path", sorted(PKG.rglob("__init__.py")),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_package_says_what_it_holds(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert len(doc.split()) >= 12, f"placeholder docstring: {doc!r}"


def test_no_module_is_over_600_lines() -> None:
    big = {p.relative_to(ROOT).as_posix(): n for p in PKG.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert big == {}


def test_the_checker_sees_a_missing_name() -> None:
    tree = ast.parse("__all__ = ['b']\nX = 1\ndef b(): pass\ndef _c(): pass\n"
                     "log = logging.getLogger(__name__)\nimport os\n")
    assert defined_names(tree, with_imports=False) == {"X", "b"}
    assert declared_all(tree) == ["b"]
