"""``exhibit bench scan`` at a tiny size: every field present and sane, temp data gone,
and the synthetic scan is a real binary PLY scan with its texture.

The full run (a 5-million-triangle scan with an 8K texture, about a minute and 4 GB for
the trimesh baseline) is for people and the benchmark job: ``exhibit bench scan --json
scan.json --check``.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from exhibit_engine.assets._scan_read import read_ply
from exhibit_engine.bench.scan import ScanBenchOptions, make_scan
from exhibit_engine.cli import main
from exhibit_engine.errors import ConfigError

FIELDS = ("pack_s", "baseline_s", "pack_ratio", "pack_peak_rss_mb", "baseline_peak_rss_mb",
          "rss_mb_per_mtri", "frame_ms_full", "frame_ms_lod", "frame_ms_lowest", "lod_ratio")


def test_tiny_run_writes_every_field_and_leaves_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "scan.json"
    res = CliRunner().invoke(main, ["bench", "scan", "--triangles", "3000", "--texture-px",
                                    "64", "--size", "160x90", "--frames", "1",
                                    "--workdir", str(work), "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    for key in FIELDS:
        assert isinstance(doc[key], (int, float)) and doc[key] > 0, key
    assert doc["pack_ratio"] == round(doc["pack_s"] / doc["baseline_s"], 4) or \
        abs(doc["pack_ratio"] - doc["pack_s"] / doc["baseline_s"]) < 0.01
    # a fresh interpreter with numpy and trimesh: tens of MB at least
    assert doc["pack_peak_rss_mb"] > 30 and doc["baseline_peak_rss_mb"] > 30
    assert doc["params"]["triangles"] >= 3000 and len(doc["params"]["lod_triangles"]) == 0
    # under a million triangles the targets do not apply
    assert set(doc["targets"]) == {"rss_mb_per_mtri", "pack_ratio", "lod_ratio"}
    assert all(t["applies"] is False and t["passed"] is None for t in doc["targets"].values())
    assert list(work.iterdir()) == []


def test_the_synthetic_scan_is_a_textured_binary_ply(tmp_path: Path) -> None:
    tris = make_scan(tmp_path, 20_000, 128, seed=3)
    data = (tmp_path / "meshes" / "scan.ply").read_bytes()
    scan = read_ply(data, "scan.ply")
    assert scan is not None and scan.triangles == tris >= 20_000
    assert scan.texture == "scan.jpg" and scan.uv is not None
    assert (tmp_path / "meshes" / "scan.jpg").is_file()
    # a vase 42 cm tall, Z-up (bundle.toml says up = "z")
    assert abs(float(scan.positions[:, 2].max()) - 0.42) < 1e-6
    assert 'up = "z"' in (tmp_path / "bundle.toml").read_text(encoding="utf-8")
    again = tmp_path / "again"
    make_scan(again, 20_000, 128, seed=3)
    assert (again / "meshes" / "scan.ply").read_bytes() == data


def test_settings_out_of_range_name_their_flag() -> None:
    for opts, flag in ((ScanBenchOptions(triangles=10), "--triangles"),
                       (ScanBenchOptions(texture_px=10_000), "--texture-px"),
                       (ScanBenchOptions(frames=0), "--frames")):
        try:
            opts.check()
        except ConfigError as exc:
            assert exc.key == flag
        else:
            raise AssertionError(f"{flag} out of range was accepted")
