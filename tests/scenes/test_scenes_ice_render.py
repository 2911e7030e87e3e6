"""Ice scenes against reference images (tolerance and refresh: see reference.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ..frames import frame
from .reference import REFERENCE, assert_matches_reference, matches

pytestmark = pytest.mark.render

EXB, SIZE = "ice_exb", (320, 180)          # for the renderer fixture (scenes/conftest.py)
SHOTS = [("castle-night", 0.0), ("castle-night", 30.0), ("lantern-walk", 45.0)]


@pytest.mark.parametrize(("scene", "t"), SHOTS, ids=[f"{s}-t{int(t)}" for s, t in SHOTS])
def test_ice_frames_match_the_references(renderer, bundle, scene: str, t: float) -> None:
    renderer.load(bundle, scene)
    img = frame(renderer, t)
    assert img.std() > 10.0, "not a blank frame"
    assert_matches_reference(f"ice-{scene}-t{int(t)}", img)


def test_a_blank_or_shifted_frame_fails_the_reference_check() -> None:
    ref = np.asarray(Image.open(REFERENCE / "ice-castle-night-t30.png").convert("RGB"), float)
    for fake in (np.zeros_like(ref), np.full_like(ref, ref.mean()), np.roll(ref, 12, axis=1)):
        assert not matches(fake, ref)
