"""docs/architecture.md matches the tree: every package and module is listed, none that
is not there, and the layer picture names the layers of the contract."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "exhibit_engine"
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def listed() -> dict[str, set[str]]:
    """package (or "" for top-level modules) -> module names, from the packages block."""
    block = DOC.split("## The packages", 1)[1].split("```", 2)[1]
    out: dict[str, set[str]] = {}
    for line in block.splitlines():
        m = re.match(r"  (\w+)(/|\.py)\s+(.*)", line)
        if not m:
            continue
        name, kind, rest = m.groups()
        if kind == ".py":
            out.setdefault("", set()).add(name)
            continue
        out[name] = {item.strip().split(" ")[0] for item in rest.split(" · ")}
    return out


def on_disk() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"": {p.stem for p in PKG.glob("*.py") if p.stem != "__init__"}}
    for init in sorted(PKG.glob("*/__init__.py")):
        pkg = init.parent
        mods = {p.stem for p in pkg.glob("*.py") if p.stem != "__init__"}
        mods |= {f"{d.name}/*.glsl" for d in pkg.iterdir() if d.is_dir() and
                 any(d.glob("*.glsl"))}
        out[pkg.name] = mods
    return out


def test_the_packages_block_lists_exactly_the_tree() -> None:
    assert listed() == on_disk()


def test_the_layer_picture_names_every_layer_of_the_contract() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["id"] == "layers")["layers"]
    picture = DOC.split("## The layers", 1)[1].split("```", 2)[1]
    rows = [re.findall(r"\b([a-z]+)\b", line) for line in picture.splitlines()]
    for layer in layers:
        names = [n.strip("() ") for n in layer.split("|")]
        assert any(all(n in row for n in names) for row in rows), layer
