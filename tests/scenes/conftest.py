"""Fixtures for scene tests: the sample ice-festival bundle, packed once per session."""

from __future__ import annotations

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
def ice_bundle(ice_exb: Path):
    """The packed ice-festival bundle, open."""
    with Bundle.open(ice_exb) as bundle:
        yield bundle
