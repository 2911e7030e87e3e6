"""``exhibit bench render`` at a tiny size: every field present and sane for every scene.

The full run (1280x720, every sample bundle) is for people and the benchmark job:
``exhibit bench render --json bench-render.json --check``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.bench import get_suite
from exhibit_engine.bench.render import OVERHEAD_TARGET, RenderBenchOptions, sample_sources
from exhibit_engine.cli import main
from exhibit_engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
ICE = ROOT / "content" / "ice-festival"
FIELDS = ("bundle", "scene", "engine_frame_ms", "bare_frame_ms", "overhead_ratio",
          "draw_calls", "triangles")


def test_every_content_folder_with_a_bundle_toml_is_a_sample(tmp_path: Path) -> None:
    assert ICE in sample_sources()
    for name in ("b-bundle", "a-bundle"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "bundle.toml").write_text("", encoding="utf-8")
    (tmp_path / "fonts").mkdir()
    assert sample_sources(tmp_path) == [tmp_path / "a-bundle", tmp_path / "b-bundle"]


@pytest.mark.parametrize("opts, match", [
    (RenderBenchOptions(size=(8, 720)), "size"),
    (RenderBenchOptions(frames=0), "frames"),
    (RenderBenchOptions(repeat=0), "repeat"),
    (RenderBenchOptions(sources=(Path("/no/such/folder"),)), "bundle.toml"),
])
def test_bad_settings_are_config_errors(opts: RenderBenchOptions, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        opts.check()


@pytest.mark.render
def test_tiny_run_reports_every_scene_of_the_sample(tmp_path: Path) -> None:
    assert get_suite("render").__name__ == "exhibit_engine.bench.render"
    out = tmp_path / "render.json"
    work = tmp_path / "work"
    work.mkdir()
    res = CliRunner().invoke(main, ["bench", "render", "--source", str(ICE), "--size",
                                    "64x36", "--frames", "2", "--repeat", "1",
                                    "--workdir", str(work), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "engine / bare" in res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["suite"] == "render" and doc["params"]["size"] == "64x36"
    rows = doc["scenes"]
    assert [(r["bundle"], r["scene"]) for r in rows] == [("ice-festival", "castle-night"),
                                                         ("ice-festival", "lantern-walk")]
    for row in rows:
        assert set(FIELDS) <= set(row)
        assert row["engine_frame_ms"] > 0 and row["bare_frame_ms"] > 0
        assert row["overhead_ratio"] == pytest.approx(
            row["engine_frame_ms"] / row["bare_frame_ms"], rel=1e-3)
        # sky, ground, castle, 20+ lanterns and halos: tens of draws, not thousands;
        # the snow is one of them however many flakes fall
        assert 10 < row["draw_calls"] < 500
        assert row["triangles"] > 10_000 and row["points"] >= 50_000
        key = f"{row['bundle']}/{row['scene']}:overhead_ratio"
        assert doc["targets"][key]["threshold"] == OVERHEAD_TARGET
    assert list(work.iterdir()) == [], "the packed bundles are gone"


def test_bad_size_flag_is_a_usage_error() -> None:
    res = CliRunner().invoke(main, ["bench", "render", "--size", "big"])
    assert res.exit_code == 2 and "WxH" in res.output
