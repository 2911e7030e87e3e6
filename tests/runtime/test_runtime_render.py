"""The offscreen renderer: real frames of the ice festival on p3headlessgl (llvmpipe).

Small sizes keep these fast on a CPU; each test says what it proves about the pictures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from panda3d.core import Camera
from PIL import Image

from exhibit_engine.config import DisplayConfig, WallConfig
from exhibit_engine.errors import RenderError, SceneError
from exhibit_engine.wall.frustum import display_frustum, pixel_rect, wall_frustum

from ..frames import child_frame_hashes, frame_hash, start_child_frames

pytestmark = pytest.mark.render

SCENE = "castle-night"

def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def test_frame_is_a_night_scene_not_a_flat_colour(ice_bundle, make_renderer) -> None:
    r = make_renderer((160, 100))
    r.load(ice_bundle, SCENE)
    r.render(20.0)
    img = r.snapshot()
    assert img.mode == "RGB" and img.size == (160, 100)
    a = pixels(img)
    colours = len(np.unique(a.reshape(-1, 3), axis=0))
    assert colours > 500, f"only {colours} distinct colours"
    assert a.std() > 20.0
    top, middle = a[:10].mean(), a[40:70].mean()
    assert top < 60.0, "the sky at the top is dark"
    assert middle > top + 20.0, "the lit castle is brighter than the sky"
    # saturated light somewhere: a pixel whose channels differ a lot
    assert (a.max(axis=2) - a.min(axis=2)).max() > 120.0


def test_same_time_gives_identical_pixels_in_separate_processes(ice_exb, ice_bundle,
                                                                make_renderer) -> None:
    procs = start_child_frames(ice_exb, SCENE, 33.5, size=(160, 100))
    r = make_renderer((160, 100))
    r.load(ice_bundle, SCENE)
    r.render(80.0)          # a different frame first: nothing may carry over
    here = frame_hash(r, 33.5)
    hashes = child_frame_hashes(procs)
    assert hashes[0] == hashes[1] == here


def test_different_times_give_different_pixels(ice_bundle, make_renderer) -> None:
    r = make_renderer((160, 100))
    r.load(ice_bundle, SCENE)
    frames = []
    for t in (10.0, 10.5, 70.0):
        r.render(t)
        frames.append(pixels(r.snapshot()))
    assert np.abs(frames[0] - frames[1]).mean() > 0.2, "snow and light move within 0.5 s"
    assert np.abs(frames[0] - frames[2]).mean() > 3.0, "a minute later the view has changed"


def test_two_display_slices_stitch_into_the_full_wall(ice_bundle, make_renderer) -> None:
    wall = WallConfig(width=8.0, height=2.5, eye=(3.2, 1.4, 6.0))
    left = DisplayConfig("left", (160, 100), (0.0, 0.0, 4.0, 2.5))
    right = DisplayConfig("right", (160, 100), (4.0, 0.0, 4.0, 2.5))
    t = 27.0
    # Both renderers live at once: each must keep its own lens and shaders.
    full = make_renderer((320, 100))
    full.set_frustum(wall_frustum(wall))
    full.load(ice_bundle, SCENE)
    half = make_renderer((160, 100))
    half.load(ice_bundle, SCENE)

    def stitch(state: dict) -> np.ndarray:
        out = Image.new("RGB", (320, 100))
        for disp in (left, right):
            half.set_frustum(display_frustum(wall, disp))
            half.render(t, state)
            x, y, w, h = pixel_rect(wall, disp, (320, 100))
            assert (w, h) == (160, 100)
            out.paste(half.snapshot(), (x, y))
        return pixels(out)

    def whole(state: dict) -> np.ndarray:
        full.render(t, state)
        return pixels(full.snapshot())

    no_snow = {"snow": False}
    a, b = whole(no_snow), stitch(no_snow)
    assert np.abs(a - b).mean() < 0.5
    assert psnr(a, b) >= 35.0
    assert np.array_equal(whole(no_snow), a), "rendering the slices did not disturb the wall"
    # the slices really are different halves, not the same picture twice
    assert np.abs(a[:, :160] - a[:, 160:]).mean() > 5.0
    # with snow, flakes whose centre falls just across the seam are the only difference
    assert psnr(whole({}), stitch({})) >= 35.0


@pytest.mark.parametrize("scene_id", ["castle-night", "lantern-walk"])
def test_snowfall_is_one_point_draw_of_at_least_50000_flakes(ice_bundle, make_renderer,
                                                              scene_id: str) -> None:
    from panda3d.core import GeomPoints

    from exhibit_engine.runtime.health import count_geometry

    r = make_renderer((64, 40))
    r.load(ice_bundle, scene_id)
    points = []
    for gnp in r.scene_root.find_all_matches("**/+GeomNode"):
        for geom in gnp.node().get_geoms():
            for prim in geom.get_primitives():
                if isinstance(prim, GeomPoints):
                    points.append((gnp.get_name(), geom, prim))
    assert len(points) == 1, "one emitter, one GeomPoints draw"
    name, geom, prim = points[0]
    assert name == "snowfall" and geom.get_num_primitives() == 1
    assert prim.get_num_vertices() >= 50_000
    assert geom.get_vertex_data().get_num_rows() == prim.get_num_vertices()
    # the snow is one draw call of the whole scene's count, not one per flake
    count = count_geometry(r.scene_root)
    assert count.points == prim.get_num_vertices() and count.draw_calls < 200
    r.render(3.0)       # and it draws


def test_a_shader_that_does_not_compile_is_an_error_not_a_blank_wall(
        ice_bundle, make_renderer, monkeypatch: pytest.MonkeyPatch) -> None:
    from panda3d.core import CardMaker, Shader

    from exhibit_engine.runtime import render as render_mod
    from exhibit_engine.scenes.base import Scene

    class BrokenScene(Scene):
        kind = "broken"

        def build(self) -> None:
            cm = CardMaker("card")
            cm.set_frame(-1, 1, -1, 1)
            card = self.ctx.root.attach_new_node(cm.generate())
            card.set_pos(0, 5, 0)
            card.set_shader(Shader.make(Shader.SL_GLSL,
                                        "#version 330\nin vec4 p3d_Vertex;\n"
                                        "void main() { gl_Position = p3d_Vertex; }\n",
                                        "#version 330\nout vec4 c;\n"
                                        "void main() { c = vec4(no_such_thing); }\n"))

        def apply(self, t, state) -> None:
            pass

    r = make_renderer((64, 40))
    real_get_kind = render_mod.get_kind
    monkeypatch.setattr(render_mod, "get_kind", lambda kind: BrokenScene)
    r.load(ice_bundle, SCENE)
    with pytest.raises(RenderError, match=r"card.*failed to compile.*no_such_thing"):
        r.render(0.0)          # the first frame after a load checks every shader
    r.render(0.0)              # the broken scene is gone: black, no error
    assert pixels(r.snapshot()).max() == 0
    monkeypatch.setattr(render_mod, "get_kind", real_get_kind)
    r.load(ice_bundle, SCENE)
    r.render(1.0)
    assert pixels(r.snapshot()).std() > 10.0


def test_unknown_scene_and_closed_renderer(ice_bundle, make_renderer) -> None:
    r = make_renderer((32, 20))
    with pytest.raises(RenderError, match="no frame"):
        r.snapshot()
    with pytest.raises(SceneError, match="no-such-scene"):
        r.load(ice_bundle, "no-such-scene")
    r.render(0.0)                                  # no scene: a black frame
    assert pixels(r.snapshot()).max() == 0
    with pytest.raises(RenderError, match="finite"):
        r.render(float("nan"))
    r.close()
    assert r.closed
    with pytest.raises(RenderError, match="closed"):
        r.render(0.0)
    r.close()                                      # idempotent


@pytest.mark.parametrize("size", [(0, 10), (10, -1), (10.5, 10), (1, 2, 3)])
def test_invalid_sizes_are_render_errors(size) -> None:
    from exhibit_engine.runtime.render import Renderer

    with pytest.raises(RenderError, match="invalid output size"):
        Renderer(size)


def test_render_to_png_writes_atomically(ice_exb: Path, tmp_path: Path) -> None:
    from exhibit_engine.runtime.render import render_to_png

    out = render_to_png(ice_exb, SCENE, 12.0, (96, 60), tmp_path / "frames" / "f.png")
    assert out == tmp_path / "frames" / "f.png"
    with Image.open(out) as img:
        assert img.size == (96, 60) and img.mode == "RGB"
    assert [p.name for p in out.parent.iterdir()] == ["f.png"]
    with pytest.raises(SceneError):
        render_to_png(ice_exb, "nope", 0.0, (32, 20), tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def test_the_renderer_names_its_gpu_and_never_guesses_its_memory(make_renderer) -> None:
    r = make_renderer((32, 20))
    r.render(0.0)
    info = r.gpu()
    assert "; OpenGL " in info.renderer and len(info.renderer) <= 256
    assert info.memory_mb is None or info.memory_mb > 0     # only where the driver tells
    assert info.free_mb is None or info.free_mb >= 0
    assert info.refresh_hz is None                          # offscreen: no display mode
    r.close()
    with pytest.raises(RenderError, match="closed"):
        r.gpu()


def test_a_scene_replaced_takes_what_it_hung_on_the_rig_with_it(heritage_exb: Path,
                                                                 ice_bundle, make_renderer
                                                                 ) -> None:
    """The heritage scene's captions and annotations live on the camera rig; once the
    next scene is loaded none of them may still be drawn over it."""
    from exhibit_engine.assets.bundle import Bundle

    r = make_renderer((64, 40))
    with Bundle.open(heritage_exb) as heritage:
        r.load(heritage, "gallery")
        r.render(20.0, {"selected_item": "ding", "selected_at": 0.0})
        assert len(r.rig.get_children()) > 1          # the overlay is there
        r.load(ice_bundle, "castle-night")
    kids = r.rig.get_children()
    assert len(kids) == 1 and kids[0].node().is_of_type(Camera.get_class_type())


def test_a_slice_off_the_wall_grid_again_sees_and_culls_through_its_own_lens(
        ice_bundle, make_renderer) -> None:
    """On the wall grid a slice draws through the whole wall's lens and culls by its own
    grown frustum; taken off the grid and aimed at another slice, it draws that slice as
    a renderer that was never on the grid does (no stale lens, cull bounds or scissor)."""
    from exhibit_engine.bench.wall import bench_venue
    from exhibit_engine.wall.frustum import venue_lod, wall_raster

    venue, _ = bench_venue((160, 100), 0.2)
    left, _, right = venue.displays
    r = make_renderer((160, 100))
    r.set_frustum(display_frustum(venue.wall, right))
    r.set_lod(venue_lod(venue.wall, venue.displays, right.rect, (160, 100)))
    r.set_wall_grid(wall_raster(venue.wall, venue.displays, right))
    r.load(ice_bundle, SCENE)
    r.render(27.0, {"snow": False})
    on_grid = pixels(r.snapshot())
    r.set_wall_grid(None)
    r.set_frustum(display_frustum(venue.wall, left))
    r.set_lod(venue_lod(venue.wall, venue.displays, left.rect, (160, 100)))
    r.render(27.0, {"snow": False})
    moved = pixels(r.snapshot())
    fresh = make_renderer((160, 100))
    fresh.set_frustum(display_frustum(venue.wall, left))
    fresh.set_lod(venue_lod(venue.wall, venue.displays, left.rect, (160, 100)))
    fresh.load(ice_bundle, SCENE)
    fresh.render(27.0, {"snow": False})
    assert np.array_equal(moved, pixels(fresh.snapshot()))
    assert not np.array_equal(moved, on_grid) and on_grid.std() > 10.0
