"""``exhibit bench wall`` (the stitch test) and the linear-light composite it rests on.

The full run (640x400 projectors) is for people and the benchmark job:
``exhibit bench wall --json bench-wall.json --check``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from exhibit_engine.bench import get_suite
from exhibit_engine.bench.wall import (SEAM_MAX_ERROR, SEAM_PSNR_TARGET, WallBenchOptions,
                                       bench_venue)
from exhibit_engine.cli import main
from exhibit_engine.errors import ConfigError
from exhibit_engine.wall.blend import blend_weights, blend_widths, encode_blend
from exhibit_engine.wall.composite import (composite_encoded, composite_linear, psnr,
                                           slice_overlaps, wall_pixels)
from exhibit_engine.wall.frustum import pixel_rect


def test_bench_venue_puts_every_slice_on_the_wall_pixel_grid() -> None:
    venue, wall_px = bench_venue((160, 100), 0.2)
    assert wall_px == (3 * 160 - 2 * 32, 100) == wall_pixels(venue)
    assert [pixel_rect(venue.wall, d, wall_px) for d in venue.displays] == [
        (0, 0, 160, 100), (128, 0, 160, 100), (256, 0, 160, 100)]
    assert [(o.a, o.b, o.box) for o in slice_overlaps(venue, wall_px)] == [
        ("left", "centre", (128, 0, 32, 100)), ("centre", "right", (256, 0, 32, 100))]
    left, centre, right = venue.displays
    assert blend_widths(venue, centre)[:2] == pytest.approx((32 / 40, 32 / 40))
    assert blend_widths(venue, left)[0] == 0.0 and blend_widths(venue, right)[1] == 0.0


def _slices(venue, wall_px, picture: np.ndarray) -> dict[str, np.ndarray]:
    """What each display would emit for a wall picture: its crop times weight ** (1/g)."""
    out = {}
    for d in venue.displays:
        x, y, w, h = pixel_rect(venue.wall, d, wall_px)
        k = encode_blend(blend_weights(venue, d, (w, h)), d.gamma)
        out[d.id] = np.round(picture[y:y + h, x:x + w] * k[..., None]).astype(np.uint8)
    return out


def test_linear_composite_gives_back_the_picture_and_encoded_sums_do_not() -> None:
    venue, wall_px = bench_venue((160, 100), 0.2)
    rng = np.random.default_rng(7)
    picture = rng.integers(0, 256, (wall_px[1], wall_px[0], 3)).astype(np.float64)
    slices = _slices(venue, wall_px, picture)
    back = composite_linear(venue, slices, wall_px)
    assert back.shape == (100, 416, 3) and back.dtype == np.uint8
    for ov in slice_overlaps(venue, wall_px):
        assert psnr(ov.crop(back), ov.crop(picture)) > 40.0
        # adding encoded values: the overlap glows (w**(1/g) + (1-w)**(1/g) > 1)
        naive = ov.crop(composite_encoded(venue, slices, wall_px)).astype(np.float64)
        assert naive.mean() > ov.crop(picture).mean() + 20.0
    alone = (slice(None), slice(0, 128))
    assert np.array_equal(back[alone], picture[alone].astype(np.uint8))


def test_a_slice_off_the_wall_grid_is_resized_into_place() -> None:
    venue, wall_px = bench_venue((160, 100), 0.2)
    grey = np.full((wall_px[1], wall_px[0], 3), 128.0)
    slices = _slices(venue, wall_px, grey)
    big = {k: np.repeat(np.repeat(v, 2, axis=0), 2, axis=1) for k, v in slices.items()}
    back = composite_linear(venue, big, wall_px).astype(np.float64)
    assert np.abs(back - 128.0).max() <= 3.0


@pytest.mark.parametrize("opts, match", [
    (WallBenchOptions(size=(8, 100)), "size"),
    (WallBenchOptions(overlap=0.6), "overlap"),
    (WallBenchOptions(size=(16, 16), overlap=0.05), "2 pixels"),
    (WallBenchOptions(frames=-1), "frames"),
    (WallBenchOptions(source=Path("/no/such/folder")), "bundle.toml"),
])
def test_bad_settings_are_config_errors(opts: WallBenchOptions, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        opts.check()


@pytest.mark.render
def test_tiny_stitch_test_passes_and_reports_every_overlap(tmp_path: Path) -> None:
    assert get_suite("wall").__name__ == "exhibit_engine.bench.wall"
    out, save, work = tmp_path / "wall.json", tmp_path / "pictures", tmp_path / "work"
    work.mkdir()
    # no timed blocks: a timing target in a unit test would fail on a busy machine
    res = CliRunner().invoke(main, ["bench", "wall", "--size", "96x60", "--frames", "0",
                                    "--save", str(save), "--workdir",
                                    str(work), "--json", str(out), "--check"])
    assert res.exit_code == 0, res.output
    assert "worst overlap" in res.output and "overlap left|centre" in res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["suite"] == "wall" and doc["params"]["wall_px"] == "250x60"
    assert doc["seam_psnr_db"] >= SEAM_PSNR_TARGET and doc["passed"]
    assert doc["targets"]["seam_psnr_db"]["passed"] is True
    rows = doc["overlaps"]
    assert [(r["a"], r["b"]) for r in rows] == [("left", "centre"), ("centre", "right")]
    assert doc["seam_psnr_db"] == pytest.approx(min(r["psnr_db"] for r in rows), abs=0.01)
    assert doc["wall_psnr_db"] >= SEAM_PSNR_TARGET
    # the control: the same slices added gamma-encoded are visibly wrong
    assert doc["naive_seam_psnr_db"] < doc["seam_psnr_db"] - 10.0
    assert doc["weight_sum_error"] <= 1e-9
    # on the wall grid every slice's own picture is the whole render's, bit for bit
    assert doc["seam_max_error"] <= SEAM_MAX_ERROR and doc["raw_slice_max_error"] == 0
    assert doc["targets"]["seam_max_error"]["passed"] is True
    assert doc["no_guard_raw_slice_max_error"] >= 0
    composite = np.asarray(Image.open(save / "wall-composite.png"))
    whole = np.asarray(Image.open(save / "wall-whole.png"))
    assert composite.shape == whole.shape == (60, 250, 3) and whole.std() > 10.0
    assert (save / "wall-diff.png").is_file()
    assert list(work.iterdir()) == [], "the packed bundle is gone"


@pytest.mark.render
def test_the_timed_run_reports_the_final_pass_and_the_guard_band_cost() -> None:
    from exhibit_engine.bench import wall as bench_wall

    report = bench_wall.run(WallBenchOptions(size=(96, 60), frames=1, repeat=1))
    for key in ("slice_frame_ms", "plain_frame_ms", "no_guard_frame_ms"):
        assert report.value(key) > 0, key
    ratio = report.value("guard_cost_ratio")
    assert ratio == pytest.approx(report.value("slice_frame_ms")
                                  / report.value("no_guard_frame_ms"), rel=1e-3)
    target = next(t for t in report.targets if t.key == "guard_cost_ratio")
    assert (target.op, target.threshold) == ("<=", bench_wall.GUARD_COST_TARGET)


@pytest.mark.render
def test_slices_without_the_final_pass_fail_the_stitch_test(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from exhibit_engine.bench import wall as bench_wall
    from exhibit_engine.runtime.output import OutputCorrection

    # nodes that forget the blend: each overlap gets both projectors' full light
    monkeypatch.setattr(OutputCorrection, "for_display",
                        classmethod(lambda cls, venue, display, size: None))
    report = bench_wall.run(WallBenchOptions(size=(96, 60), frames=0))
    assert report.value("seam_psnr_db") < SEAM_PSNR_TARGET and not report.passed


def test_bad_size_flag_is_a_usage_error() -> None:
    res = CliRunner().invoke(main, ["bench", "wall", "--size", "wide"])
    assert res.exit_code == 2 and "WxH" in res.output
