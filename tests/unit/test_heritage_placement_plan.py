"""Fit-to-plinth placement, the heritage kind's pure half: scale, orientation, overrides
and the scene-parameter checks pack and validate run (no Panda3D, no rendering)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from exhibit_engine.errors import BundleError, SceneError
from exhibit_engine.scenes import _heritage_plan as plan

ROOT = Path(__file__).resolve().parents[2]
LABELS = {"t": {"zh": "t", "en": "t", "ru": "t"}}


def art(**extra) -> plan.Artifact:
    """One artifact on a 0.5 x 0.5 x 0.9 m plinth (display volume 0.4 x 0.4 x 0.7 m)."""
    a = {"item": "x", "model": "m.glb", "at": [1.0, 2.0], "plinth": [0.5, 0.5, 0.9],
         "title": "t", **extra}
    return plan.HeritageParams.parse("g", {"artifacts": [a]}, LABELS, ["m.glb"]).artifacts[0]


def refused(match: str, **extra) -> None:
    with pytest.raises(SceneError, match=match):
        art(**extra)


# --------------------------------------------------------------------------- the fit


def test_default_display_volume_is_the_plinth_top_less_a_margin() -> None:
    assert art().display_volume == pytest.approx((0.4, 0.4, plan.DISPLAY_HEIGHT))
    assert art(display=[0.3, 0.2, 1.2]).display_volume == (0.3, 0.2, 1.2)
    assert art().animation is None and art(animation="Walk").animation == "Walk"


def test_a_model_that_fits_at_its_file_size_keeps_it_and_stands_on_the_top() -> None:
    # the sample ding on its 0.62 m plinth: 0.43 m across, 0.48 m high, base 0.4 mm low
    fit = plan.fit_to_plinth(art(plinth=[0.62, 0.62, 0.9]), (-0.216, -0.216, -0.0004), (0.216, 0.216, 0.4785), 0.216)
    assert fit.scale == 1.0
    assert fit.offset == pytest.approx((0.0, 0.0, 0.0004))
    assert fit.size == pytest.approx((0.432, 0.432, 0.4789))


def test_a_cube_centred_on_its_origin_is_lifted_and_shrunk_to_turn_inside_the_footprint() -> None:
    r = math.sqrt(0.5)                       # a 1 m cube's corners, turning
    fit = plan.fit_to_plinth(art(), (-0.5, -0.5, -0.5), (0.5, 0.5, 0.5), r)
    assert fit.scale == pytest.approx(0.4 / (2 * r))
    assert fit.radius == pytest.approx(0.2)           # the inscribed circle of 0.4 x 0.4
    assert fit.offset[2] == pytest.approx(0.5 * fit.scale)   # base on the top
    assert fit.size[2] <= 0.7


def test_a_huge_tall_model_is_limited_by_the_display_height_and_centred() -> None:
    # 79 m tall, off-centre footprint (the fox in centimetres read as metres)
    lo, hi = (-12.6, -66.6, -0.12), (12.6, 88.1, 78.9)
    fit = plan.fit_to_plinth(art(display=[2.0, 2.0, 0.5]), lo, hi, 77.4)
    assert fit.size[2] == pytest.approx(0.5)
    cx, cy = (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2
    assert fit.offset[0] == pytest.approx(-fit.scale * cx)
    assert fit.offset[1] == pytest.approx(-fit.scale * cy)
    assert fit.scale * lo[2] + fit.offset[2] == pytest.approx(0.0)


def test_a_tiny_model_is_filled_but_a_small_real_one_is_kept() -> None:
    tiny = plan.fit_to_plinth(art(), (0, 0, 0), (0.002, 0.002, 0.004), 0.0014)
    assert tiny.scale > 10 and (tiny.size[2] == pytest.approx(0.7)
                                or 2 * tiny.radius == pytest.approx(0.4))
    small = plan.fit_to_plinth(art(), (0, 0, 0), (0.08, 0.08, 0.12), 0.05)
    assert small.scale == 1.0


@pytest.mark.parametrize(("extra", "scale"), [
    ({"height_m": 0.25}, 0.25 / 2.0),
    ({"scale": 0.01}, 0.01),
    ({"fit": "none"}, 1.0),
    ({"fit": "fill"}, 0.7 / 2.0),
])
def test_overrides_set_the_scale(extra: dict, scale: float) -> None:
    fit = plan.fit_to_plinth(art(**extra), (-0.05, -0.05, 0.0), (0.05, 0.05, 2.0), 0.07)
    assert fit.scale == pytest.approx(scale)
    assert fit.offset[2] == pytest.approx(0.0)


def test_height_m_gives_that_real_height_even_beyond_the_display_volume() -> None:
    fit = plan.fit_to_plinth(art(height_m=1.8), (0, 0, 10), (5, 5, 190), 3.5)
    assert fit.size[2] == pytest.approx(1.8)


# --------------------------------------------------------------------------- orientation


def apply(m, v):
    return tuple(sum(m[i][k] * v[k] for k in range(3)) for i in range(3))


@pytest.mark.parametrize(("up", "axis"), [
    ("y", (0, 0, 1)), ("-y", (0, 0, -1)), ("x", (1, 0, 0)), ("-x", (-1, 0, 0)),
    ("z", (0, -1, 0)), ("-z", (0, 1, 0))])
def test_up_turns_the_named_gltf_axis_upright(up: str, axis: tuple) -> None:
    # the loaded model is Panda3D's Z-up: glTF +y is +z, glTF +z is -y
    assert apply(plan.orientation(art(up=up)), axis) == pytest.approx((0, 0, 1))


def test_rotate_is_degrees_about_x_then_y_then_z_and_one_number_is_a_heading() -> None:
    assert apply(plan.orientation(art(rotate=90)), (1, 0, 0)) == pytest.approx((0, 1, 0))
    assert apply(plan.orientation(art(rotate=[90, 0, 0])), (0, 1, 0)) == pytest.approx((0, 0, 1))
    m = plan.orientation(art(rotate=[90, 0, 90]))
    assert apply(m, (0, 1, 0)) == pytest.approx((0, 0, 1))
    assert apply(m, (1, 0, 0)) == pytest.approx((0, 1, 0))
    assert plan.orientation(art()) == ((1, 0, 0), (0, 1, 0), (0, 0, 1))


# --------------------------------------------------------------------------- checks


@pytest.mark.parametrize(("extra", "match"), [
    ({"height_m": 0}, "height_m must be a number"),
    ({"height_m": "1.2 m"}, "height_m must be a number"),
    ({"scale": -1}, "scale must be a number"),
    ({"height_m": 1.0, "scale": 2.0}, "height_m or scale, not both"),
    ({"rotate": [0, 90]}, "rotate must be a list of 3"),
    ({"rotate": 720}, "rotate must be a number"),
    ({"up": "Y"}, "up must be one of"),
    ({"fit": "stretch"}, "fit must be one of"),
    ({"display": [0.4, 0.4]}, "display must be a list of 3"),
    ({"display": [0.4, 0.4, 0]}, "display must be a number"),
    ({"animation": ""}, "animation must name one of the model's animations"),
    ({"animation": 3}, "animation must name one of the model's animations"),
])
def test_bad_overrides_are_refused_naming_the_key(extra: dict, match: str) -> None:
    refused(r"artifacts\[0\]" + ".*" + match, **extra)


def test_model_must_name_a_packed_glb_and_the_error_says_so() -> None:
    with pytest.raises(SceneError) as exc:
        plan.HeritageParams.parse("g", {"artifacts": [{"item": "x", "model": "meshes/f.obj",
                                                       "at": [0, 0], "title": "t"}]},
                                  LABELS, ["meshes/f.glb", "fonts/a.otf"])
    msg = str(exc.value)
    assert "scene 'g'" in msg and "artifacts[0].model" in msg and "meshes/f.glb" in msg
    assert "packed name" in msg and "fonts/a.otf" not in msg and "\n" not in msg


def test_implausible_heights_are_noted_not_refused() -> None:
    arts = [{"item": k, "model": "m.glb", "at": [0, 0], "title": "t", "height_m": h}
            for k, h in (("a", 0.005), ("b", 0.3), ("c", 48.0))]
    p = plan.HeritageParams.parse("g", {"artifacts": arts}, LABELS, ["m.glb"])
    notes = plan.size_warnings(p)
    assert len(notes) == 2 and "(a)" in notes[0] and "(c)" in notes[1]
    assert all("implausible" in n and "under 1 cm or over 20 m" in n for n in notes)


def spec(kind: str, params: dict, assets=("m.glb",)) -> SimpleNamespace:
    return SimpleNamespace(id="g", kind=kind, params=params, labels=LABELS, assets=assets)


def test_registry_checks_params_without_panda3d() -> None:
    probe = ("import json, sys\nfrom exhibit_engine.scenes import registry\n"
             "print(json.dumps([registry.known_kinds(), 'panda3d' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={"PYTHONPATH": str(ROOT)}, check=False)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [["heritage", "ice", "prints"],
                                                               False]
    from exhibit_engine.scenes import registry

    good = {"artifacts": [{"item": "x", "model": "m.glb", "at": [0, 0], "title": "t",
                           "height_m": 30.0}]}
    assert registry.check_params(spec("ice", {"anything": 1})) == []     # no pure checker
    assert registry.check_bundle_params("b.exb", [spec("heritage", good)]) == {
        "scene g": plan.size_warnings(plan.HeritageParams.parse("g", good, LABELS, ["m.glb"]))}
    bad = {"artifacts": [{**good["artifacts"][0], "model": "n.glb"}]}
    with pytest.raises(BundleError, match=r"^b\.exb: scene 'g': heritage parameter "
                                          r"artifacts\[0\]\.model must name"):
        registry.check_bundle_params("b.exb", [spec("heritage", good), spec("heritage", bad)])
