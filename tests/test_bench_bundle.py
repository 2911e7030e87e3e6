"""``exhibit bench bundle`` at a tiny size: every field present and sane, temp data gone.

The full run (a 200 MB bundle, a 100k-triangle textured model) is for people and the
benchmark job: ``exhibit bench bundle --json bench.json --check``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.bench import Report, Target, get_suite
from exhibit_engine.bench.bundle import glb_triangles, make_textured_glb
from exhibit_engine.cli import main
from exhibit_engine.errors import ConfigError

FIELDS = ("validate_mb_s", "sha256_mb_s", "validate_ratio", "raw_gltf_load_ms",
          "cached_load_ms", "cache_speedup", "validate_peak_rss_mb")
TINY = ["--size-mb", "3", "--triangles", "5000", "--texture-px", "64", "--repeat", "1",
        "--loads", "2"]


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXHIBIT_CACHE_DIR", str(tmp_path / "default-cache"))


def test_tiny_synthetic_run_writes_every_field(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(main, ["bench", "bundle", *TINY, "--workdir", str(work),
                                    "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "validate / SHA-256" in res.output and "uncached / cached" in res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    for key in FIELDS:
        assert isinstance(doc[key], (int, float)) and doc[key] > 0, key
    assert doc["validate_ratio"] == pytest.approx(doc["validate_mb_s"] / doc["sha256_mb_s"],
                                                  rel=0.01)
    assert doc["cache_speedup"] == pytest.approx(doc["raw_gltf_load_ms"]
                                                 / doc["cached_load_ms"], rel=0.01)
    assert doc["cached_load_ms"] < doc["raw_gltf_load_ms"]
    assert 5 < doc["validate_peak_rss_mb"] < 500
    assert doc["validate_baseline_rss_mb"] <= doc["validate_peak_rss_mb"]
    p = doc["params"]
    assert p["synthetic"] is True and p["bundle_mb"] >= 3.0
    assert p["model_triangles"] >= 5000 and p["model_textured"] is True
    # A 3 MB bundle is too small for the targets: they neither pass nor fail.
    assert all(t["applies"] is False and t["passed"] is None for t in doc["targets"].values())
    assert doc["passed"] is True and doc["environment"]["cpu_count"]
    assert list(work.iterdir()) == [], "the temporary data is deleted"


def test_an_existing_bundle_is_measured_with_its_largest_glb(ice_exb: Path,
                                                             tmp_path: Path) -> None:
    report = get_suite("bundle").run(get_suite("bundle").BundleBenchOptions(
        bundle=ice_exb, repeat=1, loads=2, workdir=tmp_path))
    assert report.params["model"] == "meshes/castle.glb"
    assert report.params["synthetic"] is False
    assert all(report.value(k) is not None for k in FIELDS)
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_bundle_fails_cleanly_and_leaves_nothing(ice_exb: Path,
                                                          tmp_path: Path) -> None:
    bad = tmp_path / "bad.exb"
    data = bytearray(ice_exb.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    work = tmp_path / "work"
    work.mkdir()
    res = CliRunner().invoke(main, ["bench", "bundle", "--bundle", str(bad), "--repeat", "1",
                                    "--loads", "1", "--workdir", str(work)])
    assert res.exit_code == 1 and "exhibit: error:" in res.output
    assert list(work.iterdir()) == []
    res = CliRunner().invoke(main, ["bench", "bundle", "--bundle", str(tmp_path / "no.exb")])
    assert res.exit_code == 1 and "bundle file not found" in res.output


@pytest.mark.parametrize("flag, value", [("--size-mb", "0"), ("--triangles", "1"),
                                         ("--repeat", "0"), ("--texture-px", "9")])
def test_bad_settings_are_one_line_usage_errors(flag: str, value: str) -> None:
    res = CliRunner().invoke(main, ["bench", "bundle", flag, value])
    assert res.exit_code == 2 and flag in res.output


def test_targets_pass_fail_or_do_not_apply() -> None:
    r = Report("x")
    r.add("speed", 12.0, "x", "speed")
    r.add("rss", 250.0, "MB", "memory")
    r.add("none", None, "ms", "missing")
    r.targets = [Target("speed", ">=", 10, True), Target("rss", "<=", 200, True),
                 Target("none", ">=", 1, True)]
    assert r.target_results() == {"speed": True, "rss": False, "none": None}
    assert not r.passed
    r.targets[1] = Target("rss", "<=", 200, False, "small data")
    assert r.passed and "n/a (small data)" in r.rows()[1][3]
    with pytest.raises(ConfigError, match="no benchmark suite 'nope'"):
        get_suite("nope")


def test_the_synthetic_model_has_what_it_promises() -> None:
    glb = make_textured_glb(100_000, 32, seed=1)
    tris, textured = glb_triangles(glb)
    assert tris >= 100_000 and textured
    assert make_textured_glb(200, 16, seed=1) == make_textured_glb(200, 16, seed=1)
