"""The command line of the console: ``exhibit keys new NAME --kind token`` and
``exhibit controller --http`` (its refusals, one line each; the running console is tested
in test_console_live.py)."""

from __future__ import annotations

import hashlib
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.cli import main
from exhibit_engine.config import ConsoleConfig, load_venue
from exhibit_engine.keys import match_token, token_sha256

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"


def test_a_token_is_written_0600_and_its_entry_printed(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["keys", "new", "desk", "--kind", "token", "--role",
                                    "kiosk", "--out", str(tmp_path / "keys")])
    assert res.exit_code == 0, res.output
    file = tmp_path / "keys" / "desk.token"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    token = file.read_text("ascii").strip()
    assert len(token) == 43 and token not in res.output       # the secret stays in its file
    entry = tomllib.loads(res.output.split("paste into venue.toml:", 1)[1])["console"][
        "tokens"][0]
    assert entry == {"name": "desk", "role": "kiosk",
                     "sha256": hashlib.sha256(token.encode()).hexdigest()}
    # The printed lines paste into a venue as they are.
    venue = tmp_path / "venue.toml"
    venue.write_text((CONTENT / "venue.toml").read_text("utf-8") + "\n"
                     + res.output.split("paste into venue.toml:", 1)[1], encoding="utf-8")
    tokens = load_venue(venue).console.tokens
    assert match_token(token, tokens) == tokens[0] and match_token(token + "x", tokens) is None
    again = CliRunner().invoke(main, ["keys", "new", "desk", "--kind", "token", "--dir",
                                      str(tmp_path / "keys")])
    assert again.exit_code != 0 and "already exists; use --force" in again.output
    assert file.read_text("ascii").strip() == token
    forced = CliRunner().invoke(main, ["keys", "new", "desk", "--kind", "token", "--force",
                                       "--dir", str(tmp_path / "keys")])
    assert forced.exit_code == 0 and file.read_text("ascii").strip() != token


def test_two_tokens_differ_and_hash_as_listed() -> None:
    from exhibit_engine.keys import new_token

    a, b = new_token(), new_token()
    assert a != b and token_sha256(a) == hashlib.sha256(a.encode()).hexdigest()


def _controller(*extra: str, venue: Path = CONTENT / "venue.toml") -> tuple[int, str]:
    res = CliRunner().invoke(main, ["controller", "--venue", str(venue), "--show",
                                    str(CONTENT / "show.toml"), "--no-state", *extra])
    return res.exit_code, res.output


@pytest.mark.parametrize("http", ["0.0.0.0:8080", "192.168.1.20:80"])
def test_a_console_on_the_network_without_tokens_refuses_in_one_line(http: str) -> None:
    code, output = _controller("--http", http)
    assert code == 2, output
    (line,) = output.strip().splitlines()
    assert line.startswith("exhibit: error: <flags>: console.tokens: ")
    assert "without tokens" in line and "exhibit keys new NAME --kind token" in line


def test_the_venue_console_address_is_checked_too(tmp_path: Path) -> None:
    venue = tmp_path / "venue.toml"
    venue.write_text((CONTENT / "venue.toml").read_text("utf-8")
                     + '\n[console]\nhttp = "0.0.0.0:8080"\n', encoding="utf-8")
    code, output = _controller(venue=venue)
    assert code == 2 and f"{venue}: console.tokens: " in output
    assert ConsoleConfig().http is None


@pytest.mark.parametrize(("http", "words"), [("8080", "--http: must be HOST:PORT"),
                                             ("127.0.0.1:70000", "--http: port must be")])
def test_a_bad_http_flag_is_one_line(http: str, words: str) -> None:
    code, output = _controller("--http", http)
    assert code == 2 and words in output and len(output.strip().splitlines()) == 1


def test_the_http_option_is_in_the_help() -> None:
    text = " ".join(CliRunner().invoke(main, ["controller", "--help"]).output.split())
    assert "--http HOST:PORT" in text and "[console] http" in text


def test_where_the_console_listens(tmp_path: Path) -> None:
    from dataclasses import replace

    from exhibit_engine.cli._console import ControllerConsole
    from exhibit_engine.config import ConsoleToken, load_show

    venue, show = load_venue(CONTENT / "venue.toml"), load_show(CONTENT / "show.toml")
    assert ControllerConsole(venue, show, None).address is None          # off by default
    assert ControllerConsole(venue, show, "127.0.0.1:0").address == ("127.0.0.1", 0)
    wide = replace(venue, console=ConsoleConfig(http=("0.0.0.0", 8080)))
    assert ControllerConsole(wide, show, "off").address is None          # --http off wins
    assert ControllerConsole(wide, show, "127.0.0.1:9").address == ("127.0.0.1", 9)
    guarded = replace(wide, console=replace(wide.console, tokens=(
        ConsoleToken("desk", "operator", "ab" * 32),)))
    assert ControllerConsole(guarded, show, None).address == ("0.0.0.0", 8080)
    with ControllerConsole(venue, show, None) as console:
        assert console.start(object()) == ""                              # nothing to start
