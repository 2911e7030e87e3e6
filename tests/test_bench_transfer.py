"""``exhibit bench transfer`` with 2 nodes, a 12 MB bundle and 2 s windows: every field
present and sane, the bundle really moved (installs, bytes), memory within bounds.

The full run is for people and the benchmark job:
``exhibit bench transfer --nodes 8 --size-mb 100 --json bench-transfer.json --check``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.assets.bundle import open_verified
from exhibit_engine.bench import get_suite
from exhibit_engine.bench.transfer import TransferBenchOptions, make_bundle
from exhibit_engine.cli import main
from exhibit_engine.errors import ConfigError

FIELDS = ("throughput_mb_s", "raw_copy_mb_s", "throughput_ratio", "rss_growth_mb_max",
          "installs", "corrupt_chunks", "clock_skew_p99_us_alone", "clock_skew_p99_us",
          "clock_skew_ratio", "event_delivery_p99_ms_alone", "event_delivery_p99_ms",
          "event_delivery_ratio", "events_applied_same_show_time", "clock_skew_ratio_floor",
          "event_delivery_ratio_floor", "transfer_cpu_pct", "transfer_cpu_s_per_gb",
          "controller_cpu_pct")


@pytest.mark.parametrize("opts, match", [
    (TransferBenchOptions(nodes=0), "nodes"),
    (TransferBenchOptions(size_mb=0.5), "MB"),
    (TransferBenchOptions(seconds=1.0), "s"),
    (TransferBenchOptions(rate_mbps=-1.0), "100000"),
])
def test_bad_settings_are_config_errors(opts: TransferBenchOptions, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        opts.check()


def test_the_bench_bundle_is_a_valid_bundle_of_the_size_asked(tmp_path: Path) -> None:
    exb = make_bundle(tmp_path / "a.exb", "a", 3 * 1024 * 1024 + 17)
    with open_verified(exb) as b:
        assert b.manifest.id == "a"
        data = b.read("media/archive.bin")
    assert len(data) == 3 * 1024 * 1024 + 17
    chunks = {data[i:i + (1 << 20)] for i in range(0, 3 << 20, 1 << 20)}
    assert len(chunks) == 3, "every MiB differs (no chunk could stand in for another)"


@pytest.mark.sync
@pytest.mark.e2e
def test_two_nodes_report_every_field(tmp_path: Path) -> None:
    assert get_suite("transfer").__name__ == "exhibit_engine.bench.transfer"
    out = tmp_path / "transfer.json"
    res = CliRunner().invoke(main, ["bench", "transfer", "--nodes", "2", "--size-mb", "12",
                                    "--seconds", "2", "--workdir", str(tmp_path),
                                    "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["suite"] == "transfer"
    for key in FIELDS:
        assert key in doc and key in doc["units"], key
    assert doc["params"]["nodes"] == doc["params"]["nodes_reported"] == 2
    assert doc["installs"] >= 2 and doc["corrupt_chunks"] == 0
    assert doc["throughput_mb_s"] > 0 and doc["raw_copy_mb_s"] > 0
    assert doc["throughput_ratio"] == pytest.approx(
        doc["throughput_mb_s"] / doc["raw_copy_mb_s"], rel=0.01)
    assert 0 <= doc["rss_growth_mb_max"] < 64
    assert 0 < doc["event_delivery_p99_ms"] < 1_000
    assert 0 < doc["clock_skew_p99_us"] < 50_000
    assert doc["transfer_cpu_pct"] > 0
    assert doc["targets"]["rss_growth_mb_max"]["passed"] is True
