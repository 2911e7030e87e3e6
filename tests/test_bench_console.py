"""``exhibit bench console`` at a small size: every field present and sane.

The full run is for people and the benchmark job:
``exhibit bench console --json bench-console.json --check`` (200 requests a second and
50 event streams for 20 s, after a 20 s baseline).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.bench import get_suite
from exhibit_engine.bench.console import ConsoleBenchOptions
from exhibit_engine.cli import main
from exhibit_engine.errors import ConfigError

FIELDS = ("heartbeat_interval_p99_ms", "heartbeat_interval_base_p99_ms",
          "heartbeat_interval_ratio", "http_go_to_nodes_p99_ms", "sse_lag_p99_ms",
          "events_applied_same_show_time", "http_rps", "http_p99_ms", "http_errors")


@pytest.mark.parametrize("opts, match", [
    (ConsoleBenchOptions(seconds=0.5), "seconds"),
    (ConsoleBenchOptions(rps=0), "rps"),
    (ConsoleBenchOptions(streams=1000), "streams"),
    (ConsoleBenchOptions(nodes=0), "nodes"),
])
def test_bad_settings_are_config_errors(opts: ConsoleBenchOptions, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        opts.check()


@pytest.mark.sync
@pytest.mark.e2e
def test_a_short_run_reports_every_field(tmp_path: Path) -> None:
    assert get_suite("console").__name__ == "exhibit_engine.bench.console"
    out = tmp_path / "console.json"
    res = CliRunner().invoke(main, ["bench", "console", "--seconds", "3", "--rps", "30",
                                    "--streams", "4", "--nodes", "2", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["suite"] == "console"
    for key in FIELDS:
        assert key in doc and key in doc["units"], key
    assert doc["params"]["nodes_reported"] == 2 and doc["params"]["gos"] >= 2
    # A heartbeat every 0.2 s: the p99 interval is about that, with or without load.
    assert 150 < doc["heartbeat_interval_base_p99_ms"] < 1_000
    assert 150 < doc["heartbeat_interval_p99_ms"] < 1_000
    assert doc["heartbeat_interval_ratio"] == pytest.approx(
        doc["heartbeat_interval_p99_ms"] / doc["heartbeat_interval_base_p99_ms"], rel=1e-2)
    assert -1_000 < doc["http_go_to_nodes_p99_ms"] < 1_000
    assert 0 < doc["sse_lag_p99_ms"] < 2_000 and doc["params"]["sse_events"] > 0
    assert doc["events_applied_same_show_time"] == 1.0
    assert doc["http_errors"] == 0 and doc["http_rps"] > 10
