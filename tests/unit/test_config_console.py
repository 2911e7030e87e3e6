"""``[console]`` of venue.toml: strict like every table (a typo names the nearest key),
addresses as HOST:PORT, tokens listed by their SHA-256, and the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhibit_engine.config import ConsoleConfig, ConsoleToken, load_venue
from exhibit_engine.config.console import parse_host_port
from exhibit_engine.errors import ConfigError

VENUE = """\
[wall]
width = 2.0
height = 1.0
eye = [1.0, 0.5, 2.0]
[[displays]]
id = "a"
pixels = [64, 64]
rect = [0.0, 0.0, 2.0, 1.0]
"""
SHA = "ab" * 32

CONSOLE = f"""
[console]
http = "127.0.0.1:8080"
osc = "127.0.0.1:53000"
osc_allow = ["127.0.0.1", "10.0.0.0/24"]
osc_replies = false
languages = ["zh", "en"]
[[console.tokens]]
name = "desk"
role = "operator"
sha256 = "{SHA}"
[[console.tokens]]
name = "kiosk-1"
role = "kiosk"
sha256 = "{'cd' * 32}"
"""


def venue(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "venue.toml"
    path.write_text(VENUE + extra, encoding="utf-8")
    return path


def test_without_console_table_the_console_is_off(tmp_path: Path) -> None:
    assert load_venue(venue(tmp_path, "")).console == ConsoleConfig()
    assert ConsoleConfig().http is None and ConsoleConfig().languages == ("en", "zh")


def test_a_whole_console_table(tmp_path: Path) -> None:
    console = load_venue(venue(tmp_path, CONSOLE)).console
    assert console.http == ("127.0.0.1", 8080)
    assert console.osc == ("127.0.0.1", 53000)
    assert console.osc_allow == ("127.0.0.1", "10.0.0.0/24")
    assert console.osc_replies is False
    assert console.languages == ("zh", "en")
    assert console.tokens == (ConsoleToken("desk", "operator", SHA),
                              ConsoleToken("kiosk-1", "kiosk", "cd" * 32))


@pytest.mark.parametrize(("change", "message"), [
    (("http =", "htp ="), "console.htp: unknown key, did you mean `http`?"),
    (("osc_allow", "osc_alow"), "console.osc_alow: unknown key, did you mean `osc_allow`?"),
    (("[[console.tokens]]\nname", "[[console.token]]\nname"),
     "console.token: unknown table, did you mean `tokens`?"),
    (('role = "operator"', 'role = "operater"'),
     "console.tokens[0].role: unknown role 'operater' (known: operator, kiosk), did you mean "
     "`operator`?"),
    (('role = "operator"', 'rol = "operator"'),
     "console.tokens[0].rol: unknown key, did you mean `role`?"),
    (('"127.0.0.1:8080"', '"127.0.0.1"'), "console.http: must be HOST:PORT"),
    (('"127.0.0.1:8080"', '"127.0.0.1:99999"'), "console.http: port must be 1-65535"),
    (('"127.0.0.1:8080"', '"127.0.0.1:0"'), "console.http: port must be 1-65535"),
    (('"127.0.0.1:8080"', "8080"), "console.http: must be HOST:PORT"),
    ((f'sha256 = "{SHA}"', 'sha256 = "my-secret-token"'),
     "console.tokens[0].sha256: must be the token's SHA-256"),
    ((f'sha256 = "{SHA}"', f'sha256 = "{SHA.upper()}"'),
     "console.tokens[0].sha256: must be the token's SHA-256"),
    ((f'sha256 = "{"cd" * 32}"', f'sha256 = "{SHA}"'),
     "console.tokens[1].sha256: repeats the sha256 of token 'desk'"),
    (('name = "kiosk-1"', 'name = "desk"'),
     "console.tokens[1].name: repeats the name of token 'desk'"),
    (('name = "desk"', 'name = "../desk"'), "console.tokens[0].name: must be 1-64 letters"),
    (('"10.0.0.0/24"', '"10.0.0.300"'),
     "console.osc_allow[1]: '10.0.0.300' is not an IP address or network"),
    (('["zh", "en"]', '["zh", "de"]'), "console.languages[1]: the status page has no "
                                       "language 'de' (it has: en, zh)"),
    (('["zh", "en"]', '["ZH"]'), "did you mean `zh`?"),
    (('["zh", "en"]', "[]"), "console.languages: must name at least one language"),
    (("osc_replies = false", 'osc_replies = "no"'), "console.osc_replies: must be true or "
                                                     "false"),
])
def test_mistakes_name_the_file_and_key(tmp_path: Path, change: tuple[str, str],
                                        message: str) -> None:
    assert change[0] in CONSOLE
    path = venue(tmp_path, CONSOLE.replace(*change, 1))
    with pytest.raises(ConfigError) as err:
        load_venue(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)


def test_console_must_be_a_table(tmp_path: Path) -> None:
    path = tmp_path / "venue.toml"
    path.write_text('console = "on"\n' + VENUE, encoding="utf-8")
    with pytest.raises(ConfigError, match="console: must be a table"):
        load_venue(path)


def test_a_typo_of_the_table_itself(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown table, did you mean `console`"):
        load_venue(venue(tmp_path, "[consol]\nhttp = \"127.0.0.1:1\"\n"))


@pytest.mark.parametrize(("text", "address"), [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:80", ("::1", 80)),
    ("localhost:1", ("localhost", 1)), (" 0.0.0.0:65535 ", ("0.0.0.0", 65535))])
def test_host_port(text: str, address: tuple[str, int]) -> None:
    assert parse_host_port(text, "f", "k") == address


def test_port_zero_only_where_allowed() -> None:
    assert parse_host_port("127.0.0.1:0", "<flags>", "--http", allow_zero=True) == (
        "127.0.0.1", 0)
    with pytest.raises(ConfigError, match="--http: port must be 1-65535"):
        parse_host_port("127.0.0.1:0", "<flags>", "--http")
    for bad in (":80", "host:", "a b:80", "host:8o"):
        with pytest.raises(ConfigError, match="must be HOST:PORT"):
            parse_host_port(bad, "<flags>", "--http")
