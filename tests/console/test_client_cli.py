"""``exhibit status``, ``exhibit ctl`` and ``exhibit kiosk`` through the console's HTTP API
(``--http URL --token FILE``), against a real controller thread and console server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.cli import main
from exhibit_engine.config import ShowConfig
from exhibit_engine.console.api import create_app
from exhibit_engine.console.client import ConsoleClient, read_token
from exhibit_engine.console.hub import Hub
from exhibit_engine.console.server import ConsoleServer
from exhibit_engine.errors import ConfigError, SyncError

from ..conftest import HOST
from .conftest import CUES, KIOSK, OPERATOR, TOKENS

pytestmark = pytest.mark.sync

SHOW = ShowConfig("cli", {"en": "CLI"}, (), CUES)


@pytest.fixture
def console(start_controller) -> Iterator[ConsoleServer]:
    ctrl = start_controller(show=SHOW, heartbeat_s=0.1)
    hub = Hub(ctrl.server.request, ctrl.server.listen, show=SHOW, poll_s=0.05)
    server = ConsoleServer(create_app(hub, TOKENS), HOST, 0, hub=hub)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _token(tmp_path: Path, name: str, value: str) -> Path:
    path = tmp_path / f"{name}.token"
    path.write_text(value + "\n", encoding="utf-8")
    return path


def test_ctl_and_status_go_through_the_console(console: ConsoleServer, tmp_path: Path) -> None:
    desk = _token(tmp_path, "desk", OPERATOR)
    run = CliRunner()
    go = run.invoke(main, ["ctl", "--http", console.url, "--token", str(desk), "go"])
    assert go.exit_code == 0, go.output
    assert "go:" in go.output and "hall" in go.output
    res = run.invoke(main, ["status", "--http", console.url, "--token", str(desk), "--json"])
    assert res.exit_code == 0, res.output
    status = json.loads(res.output)
    assert status["show"]["program"] == "main" and "nodes" in status
    table = run.invoke(main, ["status", "--http", console.url, "--token", str(desk)])
    assert table.exit_code == 0 and "show time" in table.output, table.output


def test_the_token_sets_the_rights_and_a_bad_one_is_one_line(console: ConsoleServer,
                                                            tmp_path: Path) -> None:
    run = CliRunner()
    kiosk = _token(tmp_path, "kiosk", KIOSK)
    refused = run.invoke(main, ["ctl", "--http", console.url, "--token", str(kiosk), "go"])
    assert refused.exit_code != 0
    assert refused.output.startswith("exhibit: error: ") and refused.output.count("\n") == 1
    wrong = _token(tmp_path, "wrong", "not-a-token-at-all")
    res = run.invoke(main, ["ctl", "--http", console.url, "--token", str(wrong), "pause"])
    assert res.exit_code != 0 and "refused the token" in res.output
    assert res.output.count("\n") == 1
    sel = run.invoke(main, ["kiosk", "--http", console.url, "--token", str(kiosk),
                            "language", "en"])
    assert sel.exit_code == 0, sel.output


def test_bad_flags_are_one_line(tmp_path: Path) -> None:
    run = CliRunner()
    for args in (["ctl", "--http", "ftp://x", "go"],
                 ["ctl", "--token", str(tmp_path / "none.token"), "go"],
                 ["ctl", "--http", "http://127.0.0.1:1", "--host", "127.0.0.1", "go"],
                 ["status", "--http", "http://127.0.0.1:1", "--token",
                  str(tmp_path / "missing.token")],
                 ["status", "--http", "http://127.0.0.1:1"]):
        res = run.invoke(main, args)
        assert res.exit_code != 0, args
        assert res.output.startswith("exhibit: error: ") and res.output.count("\n") == 1, (
            args, res.output)


def test_read_token_wants_one_token(tmp_path: Path) -> None:
    good = _token(tmp_path, "ok", "abc")
    assert read_token(str(good)) == "abc"
    two = tmp_path / "two.token"
    two.write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="one token on one line"):
        read_token(str(two))
    with pytest.raises(ConfigError, match="cannot read"):
        read_token(str(tmp_path / "absent.token"))
    with pytest.raises(SyncError, match="takes no touch"):
        ConsoleClient("http://127.0.0.1:1").touch()
