"""The ice kind's pure parts: parameters, the light programme, the camera path."""

from __future__ import annotations

import math

import pytest

from exhibit_engine.errors import SceneError
from exhibit_engine.scenes.ice import (EYE_HEIGHT, PROGRAMME, IceParams, lantern_flicker,
                                       programme_colour, rig_pose)


def test_defaults_and_parsing() -> None:
    p = IceParams.parse("s", {"aurora": False, "snowflakes": 20000, "seed": 7,
                              "lantern_ring": 40})
    assert (p.aurora, p.snowflakes, p.seed, p.lantern_ring) == (False, 20000, 7, 40.0)


@pytest.mark.parametrize("params, match", [
    ({"snowflake": 3}, "unknown ice parameter 'snowflake'"),
    ({"aurora": "yes"}, "must be bool"),
    ({"snowflakes": 2.5}, "must be int"),
    ({"snowflakes": True}, "must be int"),
    ({"lanterns": 99}, "lanterns must be"),
    ({"orbit_period": float("nan")}, "must be float"),
    ({"orbit_period": 1.0}, "orbit_period"),
])
def test_bad_parameters_are_scene_errors(params: dict, match: str) -> None:
    with pytest.raises(SceneError, match=match):
        IceParams.parse("castle-night", params)


def test_programme_visits_every_colour_slowly_without_cuts() -> None:
    ts = [i * 0.05 for i in range(int(60 / 0.05) + 1)]
    cols = [programme_colour(t) for t in ts]
    for name, rgb in PROGRAMME:
        assert any(max(abs(a - b) for a, b in zip(c, rgb)) < 1e-9 for c in cols), name
    # Never a strobe: the colour moves by less than 2 % per 50 ms.
    steps = [max(abs(a - b) for a, b in zip(c0, c1)) for c0, c1 in zip(cols, cols[1:])]
    assert max(steps) < 0.02
    assert programme_colour(0.0) == programme_colour(60.0)


def test_rig_orbits_slowly_at_eye_height() -> None:
    prev = None
    for i in range(200):
        t = i * 0.5
        (x, y, z), (h, p, r) = rig_pose(t, 240.0, 62.0)
        assert z == EYE_HEIGHT and r == 0.0 and 0.0 <= p < 15.0
        # always facing the castle at the origin
        fx, fy = -math.sin(math.radians(h)), math.cos(math.radians(h))
        assert fx * -x + fy * -y > 0.99 * math.hypot(x, y)
        if prev is not None:
            assert math.dist(prev, (x, y)) < 2.0      # < 4 m/s: a slow dolly
        prev = (x, y)


def test_lantern_flicker_is_gentle() -> None:
    vals = [lantern_flicker(i * 0.01, 3) for i in range(3000)]
    assert 0.75 < min(vals) and max(vals) < 1.1
