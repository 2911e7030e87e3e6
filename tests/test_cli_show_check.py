"""``exhibit show check``: every cue that could not play is found before the show runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.cli import main
from exhibit_engine.config import load_show
from exhibit_engine.sync.show_check import check_show

CONTENT = Path(__file__).resolve().parents[1] / "content"


@pytest.fixture
def venue_dir(tmp_path: Path, ice_exb: Path) -> Path:
    """The sample venue and show, with its three packed bundles in bundles/."""
    shutil.copy(CONTENT / "venue.toml", tmp_path / "venue.toml")
    shutil.copy(CONTENT / "show.toml", tmp_path / "show.toml")
    (tmp_path / "bundles").mkdir()
    for name in ("ice-festival.exb", "northern-prints.exb", "heritage.exb"):
        shutil.copy(ice_exb.parent / name, tmp_path / "bundles" / name)
    return tmp_path


def _check(folder: Path, *extra: str):
    return CliRunner().invoke(main, ["show", "check", str(folder / "venue.toml"),
                                     str(folder / "show.toml"), *extra])


def _edit(folder: Path, old: str, new: str, count: int = 1) -> None:
    path = folder / "show.toml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_the_sample_show_can_play(venue_dir: Path) -> None:
    res = _check(venue_dir)
    assert res.exit_code == 0, res.output
    assert "ok: winter-nights: 7 cues can play" in res.output


def test_misspelt_scenes_in_a_cue_the_attract_loop_and_standby_are_each_named(
        venue_dir: Path) -> None:
    _edit(venue_dir, 'scene = "castle-night"', 'scene = "castle-nigth"')
    _edit(venue_dir, 'id = "attract-lanterns"\nbundle = "ice-festival"\nscene = "lantern-walk"',
          'id = "attract-lanterns"\nbundle = "ice-festival"\nscene = "lantern-wlak"')
    _edit(venue_dir, '[standby]\nbundle = "ice-festival"\nscene = "lantern-walk"',
          '[standby]\nbundle = "ice-festival"\nscene = "standbye"')
    res = _check(venue_dir)
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.startswith("exhibit: error:")]
    assert len(lines) == 3, res.output
    assert "cue 'castle': bundle 'ice-festival' has no scene 'castle-nigth' (did you mean " \
           "'castle-night'?)" in lines[0]
    assert "attract cue 'attract-lanterns'" in lines[1] and "'lantern-walk'?" in lines[1]
    assert "standby: bundle 'ice-festival' has no scene 'standbye'" in lines[2]
    assert "Traceback" not in res.output


def test_a_missing_bundle_file_is_named_once_per_cue(venue_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = _check(venue_dir, "--bundle-dir", str(empty))
    assert res.exit_code == 1
    assert "ice-festival.exb' not found" in res.output
    # the four main cues, the attract loop's own two (its third is a main cue's), standby
    assert res.output.count("exhibit: error:") == 7
    for name in ("ice-festival", "northern-prints", "heritage"):
        assert f"{name}.exb' not found" in res.output


def test_a_damaged_bundle_is_unusable_not_a_crash(venue_dir: Path) -> None:
    (venue_dir / "bundles" / "ice-festival.exb").write_bytes(b"PK\x03\x04 not a zip")
    problems = check_show(load_show(venue_dir / "show.toml"), venue_dir / "bundles")
    assert problems and all("is unusable" in p.rule for p in problems)


@pytest.mark.parametrize("role", ["controller", "node"])
def test_the_controller_and_a_node_refuse_a_show_whose_cue_cannot_play(
        venue_dir: Path, role: str) -> None:
    """Checked at start, not at closing time when the standby cue comes up."""
    _edit(venue_dir, '[standby]\nbundle = "ice-festival"\nscene = "lantern-walk"',
          '[standby]\nbundle = "ice-festival"\nscene = "standbye"')
    args = [role, "--venue", str(venue_dir / "venue.toml"), "--show",
            str(venue_dir / "show.toml"), "--bundle-dir", str(venue_dir / "bundles")]
    if role == "node":
        args += ["--display", "left", "--headless", "--frames", "1"]
    else:
        args += ["--no-state"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert "show.toml: standby: bundle 'ice-festival' has no scene 'standbye'" in lines[0]
    assert lines[0].startswith("exhibit: error:") and len(lines) == 2
    assert "Traceback" not in res.output
