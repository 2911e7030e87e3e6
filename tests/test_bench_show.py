"""``exhibit bench show``: cue changes on one node, with preloading and without (baseline).

A small run on a two-cue show of the ice bundle (a crossfade and the loop's cut back):
the figures exist and mean what they say. The full run (the sample show at 1280x720) is
for people and the benchmark job: ``exhibit bench show --json bench-show.json --check``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.bench.show import ShowBenchOptions
from exhibit_engine.cli import main
from exhibit_engine.errors import ConfigError

CONTENT = Path(__file__).resolve().parents[1] / "content"

SHOW = """
[show]
id = "bench"
title = { zh = "测试", en = "Bench", ru = "Тест" }
loop = true

[[bundles]]
id = "ice-festival"
file = "ice-festival.exb"

[[cues]]
id = "castle"
bundle = "ice-festival"
scene = "castle-night"
duration = 30.0

[[cues]]
id = "lanterns"
bundle = "ice-festival"
scene = "lantern-walk"
duration = 30.0
transition = "crossfade"
transition_time = 0.5
"""


@pytest.fixture
def two_cues(tmp_path: Path, ice_exb: Path) -> tuple[Path, Path]:
    content, bundles = tmp_path / "content", tmp_path / "bundles"
    content.mkdir()
    bundles.mkdir()
    shutil.copy(CONTENT / "venue.toml", content / "venue.toml")
    (content / "show.toml").write_text(SHOW, encoding="utf-8")
    shutil.copy(ice_exb, bundles / "ice-festival.exb")
    return content, bundles


@pytest.mark.render
def test_bench_show_swaps_preloaded_scenes_where_the_baseline_builds(
        two_cues: tuple[Path, Path], tmp_path: Path) -> None:
    content, bundles = two_cues
    out = tmp_path / "show.json"
    res = CliRunner().invoke(main, [
        "bench", "show", "--content", str(content), "--bundle-dir", str(bundles),
        "--size", "160x90", "--before", "4", "--after", "3", "--repeat", "1",
        "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["suite"] == "show" and doc["params"]["changes"] == 2
    assert doc["params"]["size"] == "160x90"
    ratios = [doc["cue_change_ratio_1_lanterns"], doc["cue_change_ratio_2_castle"]]
    assert all(r > 0.3 for r in ratios), ratios
    assert doc["cue_change_ratio_worst"] == max(ratios)
    assert doc["steady_frame_ms_median"] > 0.0
    assert doc["cue_change_frame_ms_max"] >= doc["steady_frame_ms_median"] * 0.3
    # With preloading a change builds nothing; the baseline builds the incoming scene at
    # each change (so the figure can fail).
    assert doc["builds_at_cue_change"] == 0
    assert doc["baseline_builds_at_cue_change"] == 2
    assert doc["targets"]["builds_at_cue_change"]["passed"] is True
    assert doc["targets"]["cue_change_ratio_worst"]["threshold"] == 1.5
    # both scenes were preloaded, ahead of their changes, and timed
    assert doc["preload_ms_ice_festival_lantern_walk"] > 0.0
    assert doc["preload_ms_ice_festival_castle_night"] > 0.0
    assert doc["preload_frame_ms_max"] > 0.0
    assert "longest / steady" in res.output


def test_bench_show_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--after"):
        ShowBenchOptions(after_s=1.0).check()
    with pytest.raises(ConfigError, match="--repeat"):
        ShowBenchOptions(repeat=0).check()
    with pytest.raises(ConfigError, match="has no venue.toml"):
        ShowBenchOptions(content=tmp_path).check()
    res = CliRunner().invoke(main, ["bench", "show", "--size", "wide"])
    assert res.exit_code == 2 and "WxH" in res.output
    res = CliRunner().invoke(main, ["bench", "show", "--content", str(tmp_path)])
    assert res.exit_code != 0 and "has no venue.toml" in res.output
    assert "Traceback" not in res.output
    res = CliRunner().invoke(main, ["bench", "show", "--help"])
    assert res.exit_code == 0 and "cue change" in res.output
