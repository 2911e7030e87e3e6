"""Ice scenes against reference images (tolerance and refresh: see reference.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.wall.frustum import centered_frustum

from .reference import REFERENCE, assert_matches_reference, matches

pytestmark = pytest.mark.render

SIZE = (320, 180)
SHOTS = [("castle-night", 0.0), ("castle-night", 30.0), ("lantern-walk", 45.0)]


@pytest.fixture(scope="module")
def renderer(ice_exb: Path) -> Iterator[tuple[object, Bundle]]:
    from exhibit_engine.runtime.render import Renderer

    with Bundle.open(ice_exb) as bundle, Renderer(SIZE) as r:
        r.set_frustum(centered_frustum(SIZE[0] / SIZE[1]))
        yield r, bundle


@pytest.mark.parametrize(("scene", "t"), SHOTS, ids=[f"{s}-t{int(t)}" for s, t in SHOTS])
def test_ice_frames_match_the_references(renderer, scene: str, t: float) -> None:
    r, bundle = renderer
    r.load(bundle, scene)
    r.render(t, {})
    img = np.asarray(r.snapshot(), dtype=np.float64)
    assert img.std() > 10.0, "not a blank frame"
    assert_matches_reference(f"ice-{scene}-t{int(t)}", img)


def test_a_blank_or_shifted_frame_fails_the_reference_check() -> None:
    ref = np.asarray(Image.open(REFERENCE / "ice-castle-night-t30.png").convert("RGB"), float)
    for fake in (np.zeros_like(ref), np.full_like(ref, ref.mean()), np.roll(ref, 12, axis=1)):
        assert not matches(fake, ref)
