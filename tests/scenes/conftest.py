"""Fixtures for the scene tests: the sample bundles packed once, and one offscreen
renderer per test module.

A module that uses ``renderer`` names what it draws in module constants: ``EXB``, the
name of the fixture that gives its packed bundle (``"ice_exb"``, ``"heritage_exb"`` or
``"prints_exb"``), ``SIZE`` (width, height) and, optionally, ``SCENE``, which is loaded
before the first test. ``bundle`` is that bundle, open for the module's tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from exhibit_engine.assets.bundle import Bundle


@pytest.fixture(scope="module")
def bundle(request: pytest.FixtureRequest) -> Iterator[Bundle]:
    """The module's bundle (its ``EXB`` fixture), open for all its tests."""
    with Bundle.open(request.getfixturevalue(request.module.EXB)) as b:
        yield b


@pytest.fixture(scope="module")
def renderer(request: pytest.FixtureRequest, bundle: Bundle) -> Iterator[Any]:
    """One offscreen renderer of the module's ``SIZE``, its ``SCENE`` loaded if it has one."""
    from exhibit_engine.runtime.render import Renderer

    with Renderer(request.module.SIZE) as r:
        scene = getattr(request.module, "SCENE", None)
        if scene is not None:
            r.load(bundle, scene)
        yield r
