"""Fixtures for renderer tests: the packed ice-festival bundle and small offscreen renderers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from exhibit_engine.assets.bundle import Bundle, pack

ROOT = Path(__file__).resolve().parents[2]
ICE_SOURCE = ROOT / "content" / "ice-festival"


@pytest.fixture(scope="session")
def ice_exb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """content/ice-festival packed into a .exb."""
    out = tmp_path_factory.mktemp("ice") / "ice-festival.exb"
    pack(ICE_SOURCE, out)
    return out


@pytest.fixture
def ice_bundle(ice_exb: Path) -> Iterator[Bundle]:
    """The packed ice-festival bundle, open."""
    with Bundle.open(ice_exb) as bundle:
        yield bundle


@pytest.fixture
def make_renderer() -> Iterator[Callable[..., object]]:
    """Factory for offscreen renderers; every one is closed after the test."""
    from exhibit_engine.runtime.render import Renderer

    made: list[Renderer] = []

    def make(size: tuple[int, int] = (160, 100)) -> Renderer:
        r = Renderer(size)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()
