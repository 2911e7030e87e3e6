"""Fixtures for renderer tests: small offscreen renderers, closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest


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
