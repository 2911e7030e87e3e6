"""venue.toml's wall keys: blends, gamma, black level, warps, curved walls; mistakes named."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from exhibit_engine.config import CornerPin, MeshWarp, load_venue
from exhibit_engine.errors import ConfigError

VENUE = """
[wall]
width = 6.0
height = 2.0
eye = [3.0, 1.0, 3.0]
[[displays]]
id = "a"
pixels = [1400, 800]
rect = [0.0, 0.0, 3.5, 2.0]
blend = { right = 0.5 }
gamma = 2.4
blend_exponent = 1.5
black_level = 0.02
warp = { kind = "corner_pin", top_left = [10, 5], top_right = [1390, 0], bottom_right = [1400, 800], bottom_left = [0, 790] }
[[displays]]
id = "b"
pixels = [1400, 800]
rect = [2.5, 0.0, 3.5, 2.0]
[displays.warp]
kind = "mesh"
rows = 2
cols = 3
points = [[0, 0], [700, 3], [1400, 0], [0, 800], [700, 797], [1400, 800]]
"""


def _load(tmp_path: Path, text: str) -> object:
    p = tmp_path / "venue.toml"
    p.write_text(text, encoding="utf-8")
    return load_venue(p)


def test_every_wall_key_loads(tmp_path: Path) -> None:
    v = _load(tmp_path, VENUE)
    a, b = v.displays  # type: ignore[attr-defined]
    assert a.blend == (0.0, 0.5, 0.0, 0.0) and a.gamma == 2.4 and a.blend_exponent == 1.5
    assert a.black_level == 0.02
    assert a.warp == CornerPin((10, 5), (1390, 0), (1400, 800), (0, 790))
    assert b.blend == (0.0, 0.0, 0.0, 0.0) and b.gamma == 2.2 and b.blend_exponent == 2.0
    assert isinstance(b.warp, MeshWarp) and (b.warp.rows, b.warp.cols) == (2, 3)
    assert b.warp.points[4] == (700.0, 797.0)


@pytest.mark.parametrize("change, key", [
    (("blend = { right = 0.5 }", "blend = { right = -0.5 }"), "displays[0].blend.right"),
    (("blend = { right = 0.5 }", "blend = { middle = 0.5 }"), "displays[0].blend.middle"),
    (("blend = { right = 0.5 }", "blend = { right = 4.0 }"), "displays[0].blend.right"),
    (("blend = { right = 0.5 }", "blend = 0.5"), "displays[0].blend"),
    (("gamma = 2.4", "gamma = 0.2"), "displays[0].gamma"),
    (("blend_exponent = 1.5", 'blend_exponent = "s"'), "displays[0].blend_exponent"),
    (("black_level = 0.02", "black_level = 0.3"), "displays[0].black_level"),
    (('kind = "corner_pin"', 'kind = "bezier"'), "displays[0].warp.kind"),
    (("top_left = [10, 5], ", ""), "displays[0].warp.top_left"),
    (("top_left = [10, 5]", "top_left = [10]"), "displays[0].warp.top_left"),
    (("top_left = [10, 5]", "top_left = [10, 5], skew = 1"), "displays[0].warp.skew"),
    (("top_left = [10, 5]", "top_left = [99999, 5]"), "displays[0].warp.top_left"),
    (("rows = 2", "rows = 1"), "displays[1].warp.rows"),
    (("cols = 3", "cols = 4"), "displays[1].warp.points"),
    (("[700, 797]", '[700, "x"]'), "displays[1].warp.points[4]"),
])
def test_wall_key_mistakes_name_the_key(tmp_path: Path, change: tuple[str, str],
                                        key: str) -> None:
    assert change[0] in VENUE
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, VENUE.replace(*change))
    assert err.value.key == key


CYLINDER = """
[wall]
shape = "cylinder"
radius = 4.0
angle = 120
height = 2.0
eye = [4.18879, 1.0, 4.0]
[[displays]]
id = "a"
pixels = [800, 400]
rect = [0.0, 0.0, 4.0, 2.0]
"""


def test_a_cylinder_wall_is_unrolled(tmp_path: Path) -> None:
    v = _load(tmp_path, CYLINDER)
    wall = v.wall  # type: ignore[attr-defined]
    assert wall.shape == "cylinder" and wall.radius == 4.0
    assert wall.width == pytest.approx(4.0 * math.radians(120))
    assert wall.angle_deg == pytest.approx(120)
    v2 = _load(tmp_path, CYLINDER.replace("angle = 120", "width = 8.0"))
    assert v2.wall.angle_deg == pytest.approx(math.degrees(2.0))  # type: ignore[attr-defined]


@pytest.mark.parametrize("change, key", [
    (("angle = 120", "angle = 120\nwidth = 8.0"), "wall.angle"),
    (("angle = 120", ""), "wall.angle"),
    (("angle = 120", "angle = 200"), "wall.angle"),
    (("angle = 120", "width = 13.0"), "wall.width"),
    (("radius = 4.0", "radius = 0"), "wall.radius"),
    (('shape = "cylinder"', 'shape = "sphere"'), "wall.shape"),
    (("eye = [4.18879, 1.0, 4.0]", "eye = [4.18879, 1.0, 9.0]"), "wall.eye"),
])
def test_cylinder_mistakes_name_the_key(tmp_path: Path, change: tuple[str, str],
                                        key: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, CYLINDER.replace(*change))
    assert err.value.key == key


def test_a_flat_wall_refuses_cylinder_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, VENUE.replace("height = 2.0", "height = 2.0\nradius = 3.0"))
    assert err.value.key == "wall.radius"
