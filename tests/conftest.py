"""Shared fixtures: small bundle sources made by the tests themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.pack import pack

ROOT = Path(__file__).resolve().parents[1]
ICE_SOURCE = ROOT / "content" / "ice-festival"

BUNDLE_TOML = """\
[bundle]
id = "tiny"
version = "1.2.3"
title = { zh = "小", en = "Tiny", ru = "Крошка" }
rights = "test"
license = "CC0-1.0"

[[items]]
id = "stone"
title = { zh = "石", en = "Stone", ru = "Камень" }
creator = "tests"
date = "2026"

[[scenes]]
id = "only"
kind = "ice"
title = { en = "Only" }
assets = ["meshes/a.bin"]
[scenes.params]
seed = 3
"""


@pytest.fixture
def tiny_source(tmp_path: Path) -> Path:
    """A minimal bundle source folder: bundle.toml, one 'mesh' and one text file."""
    src = tmp_path / "tiny-src"
    (src / "meshes").mkdir(parents=True)
    (src / "bundle.toml").write_text(BUNDLE_TOML, encoding="utf-8")
    (src / "meshes" / "a.bin").write_bytes(bytes(range(256)) * 64)
    (src / "notes.txt").write_text("hello\n", encoding="utf-8")
    return src


@pytest.fixture(autouse=True, scope="session")
def _private_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test, and every process a test starts, uses a private model cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXHIBIT_CACHE_DIR", str(tmp_path_factory.mktemp("model-cache")))
        yield


@pytest.fixture(scope="session")
def ice_exb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """content/ice-festival packed into ``<tmp>/ice-festival.exb``, once per session."""
    out = tmp_path_factory.mktemp("ice") / "ice-festival.exb"
    pack(ICE_SOURCE, out)
    return out


@pytest.fixture
def ice_bundle(ice_exb: Path) -> Iterator[Bundle]:
    """The packed ice-festival bundle, open."""
    with Bundle.open(ice_exb) as bundle:
        yield bundle
