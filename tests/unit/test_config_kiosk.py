"""``[[kiosks]]`` of venue.toml and the operator PIN: the defaults, each key's range, the
sizes that follow from the dpi, ``venue.kiosk(id)``, PIN hashes made by ``exhibit keys
pin`` and checked in constant time, and a broken hash refused when the venue loads."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.cli import main
from exhibit_engine.config import KioskConfig, load_venue
from exhibit_engine.config.kiosk import PIN_ITERATIONS, split_pin_hash
from exhibit_engine.errors import ConfigError
from exhibit_engine.keys import check_pin, check_pin_rule, hash_pin

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
#: The hash of PIN 2468 (content/venue.toml's example).
HASH = ("pbkdf2-sha256$200000$2ZMwOVlZ/zfPhWfZwSZOuA==$"
        "WAjZLPmBDyQ2A9e9fIAguOw6JQ6eLTyIEafHIsPUO0o=")


def venue(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "venue.toml"
    path.write_text(VENUE + extra, encoding="utf-8")
    return path


def kiosk_error(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as err:
        load_venue(venue(tmp_path, f'[[kiosks]]\nid = "k1"\n{body}\n'))
    return str(err.value)


def test_a_venue_without_kiosks_has_none(tmp_path: Path) -> None:
    v = load_venue(venue(tmp_path, ""))
    assert v.kiosks == ()
    with pytest.raises(ConfigError) as err:
        v.kiosk("kiosk-1")
    assert str(err.value) == (f"{tmp_path / 'venue.toml'}: kiosks: no kiosk 'kiosk-1': the "
                              "venue has no [[kiosks]] table")


def test_a_kiosk_with_only_an_id_takes_every_default(tmp_path: Path) -> None:
    k = load_venue(venue(tmp_path, '[[kiosks]]\nid = "kiosk-1"\n')).kiosk("kiosk-1")
    assert k == KioskConfig("kiosk-1")
    assert (k.pixels, k.dpi, k.language, k.wall_language, k.idle_warning_s, k.pin) == (
        (1920, 1080), 96.0, "zh", True, 15.0, None)


def test_a_kiosk_with_every_key(tmp_path: Path) -> None:
    v = load_venue(venue(tmp_path, f"""
[[kiosks]]
id = "lobby"
pixels = [3840, 2160]
dpi = 163
language = "pt-BR"
wall_language = false
idle_warning_s = 20.5
pin = "{HASH}"
[[kiosks]]
id = "hall.2"
"""))
    assert [k.id for k in v.kiosks] == ["lobby", "hall.2"]
    assert v.kiosk("lobby") == KioskConfig("lobby", (3840, 2160), 163.0, "pt-BR", False,
                                           20.5, HASH)
    assert HASH not in repr(v.kiosk("lobby"))   # logs that print the config skip the hash


def test_the_sample_venue_has_kiosk_1() -> None:
    root = Path(__file__).resolve().parents[2]
    assert load_venue(root / "content" / "venue.toml").kiosk("kiosk-1") == KioskConfig(
        "kiosk-1")


def test_lookup_of_an_unknown_kiosk_names_the_file_the_id_and_the_known_ones(
        tmp_path: Path) -> None:
    v = load_venue(venue(tmp_path, '[[kiosks]]\nid = "kiosk-1"\n[[kiosks]]\nid = "desk"\n'))
    with pytest.raises(ConfigError) as err:
        v.kiosk("kiosk-2")
    assert str(err.value) == (f"{tmp_path / 'venue.toml'}: kiosks: no kiosk 'kiosk-2' "
                              "(known: kiosk-1, desk), did you mean `kiosk-1`?")
    with pytest.raises(ConfigError, match=r"no kiosk 'zzz' \(known: kiosk-1, desk\)$"):
        v.kiosk("zzz")


def test_a_misspelt_key_names_the_nearest_one(tmp_path: Path) -> None:
    assert kiosk_error(tmp_path, "dip = 120").endswith(
        "kiosks[0].dip: unknown key, did you mean `dpi`?")
    assert kiosk_error(tmp_path, "idle_warning = 5").endswith(
        "kiosks[0].idle_warning: unknown key, did you mean `idle_warning_s`?")
    assert kiosk_error(tmp_path, "wall-language = true").endswith(
        "did you mean `wall_language`?")


@pytest.mark.parametrize("body, message", [
    ("pixels = [1920]", "kiosks[0].pixels: must be a list of 2 whole numbers"),
    ("pixels = [1920.5, 1080]", "kiosks[0].pixels: must be a list of 2 whole numbers"),
    ("pixels = [8, 1080]", "kiosks[0].pixels: pixel sizes must be 16-16384"),
    ("dpi = 59", "kiosks[0].dpi: must be at least 60 dpi"),
    ("dpi = 601", "kiosks[0].dpi: must be at most 600 dpi"),
    ("dpi = nan", "kiosks[0].dpi: must be a finite number"),
    ("dpi = true", "kiosks[0].dpi: must be a finite number"),
    ("idle_warning_s = 0", "kiosks[0].idle_warning_s: must be greater than 0"),
    ("idle_warning_s = -3", "kiosks[0].idle_warning_s: must be greater than 0"),
    ("idle_warning_s = 601", "kiosks[0].idle_warning_s: must be at most 600 s"),
    ("wall_language = 1", "kiosks[0].wall_language: must be true or false"),
    ("language = \"\"", "kiosks[0].language: must be a non-empty string"),
    ("language = 7", "kiosks[0].language: must be a non-empty string"),
    ("language = \"Chinese\"", "kiosks[0].language: 'Chinese' is not a language tag"),
    ("language = \"EN\"", "did you mean `en`?"),
    ("language = \"zh_CN\"", "kiosks[0].language: 'zh_CN' is not a language tag"),
])
def test_each_key_is_range_checked(tmp_path: Path, body: str, message: str) -> None:
    assert message in kiosk_error(tmp_path, body)


@pytest.mark.parametrize("tag", ["zh", "en", "ru", "yue", "zh-Hans", "pt-BR", "sr-Latn-RS"])
def test_a_plausible_language_tag_is_taken(tmp_path: Path, tag: str) -> None:
    v = load_venue(venue(tmp_path, f'[[kiosks]]\nid = "k"\nlanguage = "{tag}"\n'))
    assert v.kiosk("k").language == tag


@pytest.mark.parametrize("kid", ["", " ", "-k", "a b", "k/1", "k" * 65, "киоск"])
def test_a_bad_id_is_refused(tmp_path: Path, kid: str) -> None:
    with pytest.raises(ConfigError, match=r"kiosks\[0\]\.id: must be"):
        load_venue(venue(tmp_path, f'[[kiosks]]\nid = "{kid}"\n'))


def test_an_id_is_required_unique_and_no_display_id(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"kiosks\[0\]\.id: is required$"):
        load_venue(venue(tmp_path, "[[kiosks]]\ndpi = 96\n"))
    with pytest.raises(ConfigError) as err:
        load_venue(venue(tmp_path, '[[kiosks]]\nid = "k"\n[[kiosks]]\nid = "k"\n'))
    assert str(err.value).endswith("kiosks[1].id: duplicate kiosk id 'k'")
    with pytest.raises(ConfigError, match=r"kiosks\[0\]\.id: kiosk id 'a' is also a "
                                          r"display's id"):
        load_venue(venue(tmp_path, '[[kiosks]]\nid = "a"\n'))
    assert load_venue(venue(tmp_path, '[[kiosks]]\nid = "k" \n')).kiosk("k").id == "k"


def test_kiosks_must_be_an_array_of_tables(tmp_path: Path) -> None:
    for text in ('kiosks = ["k"]\n', '[kiosks]\nid = "k"\n'):
        with pytest.raises(ConfigError, match=r"venue.toml: kiosks: must be an array of "
                                              r"tables \(\[\[kiosks\]\]\)$"):
            load_venue(venue(tmp_path, text) if text.startswith("[") else
                       _top(tmp_path, text))


def _top(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "venue.toml"
    path.write_text(line + VENUE, encoding="utf-8")
    return path


def test_min_target_px_is_9_mm_and_at_least_48() -> None:
    assert KioskConfig("k", dpi=96).min_target_px == 48      # 9 mm is 34 px: the floor
    assert KioskConfig("k", dpi=160).min_target_px == 57     # 56.7
    assert KioskConfig("k", dpi=320).min_target_px == 113    # 113.4
    assert KioskConfig("k", dpi=60).min_target_px == 48


def test_text_px_is_points_at_the_dpi_with_a_readable_floor() -> None:
    assert KioskConfig("k", dpi=96).text_px() == 24          # 18 pt body text
    assert KioskConfig("k", dpi=96).text_px(36) == 48
    assert KioskConfig("k", dpi=160).text_px(18) == 40
    assert KioskConfig("k", dpi=96).text_px(8) == KioskConfig("k", dpi=96).text_px(14) == 19


def test_warning_at_is_the_idle_return_less_the_warning() -> None:
    assert KioskConfig("k").warning_at(90) == 75.0
    assert KioskConfig("k", idle_warning_s=30).warning_at(20) == 0.0


def test_a_pin_hash_round_trips_and_a_wrong_pin_fails() -> None:
    stored = hash_pin("2468")
    assert check_pin(stored, "2468")
    assert not check_pin(stored, "2469")
    assert not check_pin(stored, "02468")
    assert not check_pin(stored, "")
    assert check_pin(HASH, "2468") and not check_pin(HASH, "8642")
    assert hash_pin("2468") != stored                          # a fresh salt each time
    scheme, iterations, salt, digest = stored.split("$")
    assert (scheme, int(iterations)) == ("pbkdf2-sha256", PIN_ITERATIONS)
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    assert check_pin(hash_pin("123456789012"), "123456789012")


@pytest.mark.parametrize("pin", ["123", "1234567890123", "12a4", "12 34", "١٢٣٤", "", "-1234"])
def test_a_pin_that_breaks_the_rule_is_refused(pin: str) -> None:
    with pytest.raises(ConfigError, match=r"^<input>: PIN: a PIN is 4 to 12 digits"):
        hash_pin(pin)
    with pytest.raises(ConfigError):
        check_pin_rule(pin)
    assert not check_pin(HASH, pin)


BROKEN = [
    "2468",                                                   # the PIN itself
    HASH.replace("pbkdf2-sha256", "pbkdf2-sha1"),
    HASH.replace("$200000$", "$1000$"),                       # too few iterations
    HASH.replace("$200000$", "$600000$"),                     # a slow unlock
    HASH.replace("$200000$", "$99999999$"),                   # a minutes-long check
    HASH.replace("$200000$", "$²00000$"),
    HASH.rsplit("$", 1)[0],
    HASH + "$x",
    HASH[:-2],                                                # hash not 32 bytes
    HASH.replace("2ZMwOVlZ/zfPhWfZwSZOuA==", "AAAA"),         # salt under 16 bytes
    HASH.replace("==", "!!"),
    "",
]


@pytest.mark.parametrize("stored", BROKEN)
def test_a_broken_pin_hash_is_refused_at_load_and_never_matches(tmp_path: Path,
                                                                 stored: str) -> None:
    assert split_pin_hash(stored) is None
    assert not check_pin(stored, "2468")
    message = kiosk_error(tmp_path, f'pin = "{stored}"')
    assert message == (f"{tmp_path / 'venue.toml'}: kiosks[0].pin: must be the PIN's hash, "
                       "\"pbkdf2-sha256$ITERATIONS$SALT$HASH\" (as `exhibit keys pin` prints "
                       "it), never the PIN itself")


def test_a_pin_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    assert "kiosks[0].pin: must be the PIN's hash" in kiosk_error(tmp_path, "pin = 2468")


def test_keys_pin_reads_stdin_and_prints_the_line_to_paste(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["keys", "pin", "--pin-stdin"], input="97531\n")
    assert res.exit_code == 0, res.output
    line = res.stdout.strip().splitlines()[-1]
    assert line.startswith('pin = "pbkdf2-sha256$') and "97531" not in res.output
    stored = line.split('"')[1]
    assert check_pin(stored, "97531") and not check_pin(stored, "97532")
    # The printed line, pasted into a kiosk's table, loads.
    v = load_venue(venue(tmp_path, f'[[kiosks]]\nid = "k"\n{line}\n'))
    assert v.kiosk("k").pin == stored


@pytest.mark.parametrize("stdin, message", [
    ("123\n", "<stdin>: a PIN is 4 to 12 digits, this one has 3"),
    ("12a45\n", "<stdin>: a PIN is 4 to 12 digits 0-9, nothing else"),
    ("", "<stdin>: no PIN on standard input (one line of 4 to 12 digits)"),
])
def test_keys_pin_refuses_a_bad_pin_in_one_line(stdin: str, message: str) -> None:
    res = CliRunner().invoke(main, ["keys", "pin", "--pin-stdin"], input=stdin)
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"exhibit: error: {message}"]
    assert "pin =" not in res.stdout


def test_keys_pin_asks_twice_without_echo() -> None:
    res = CliRunner().invoke(main, ["keys", "pin"], input="2468\n2468\n")
    assert res.exit_code == 0, res.output
    assert "2468" not in res.output
    assert check_pin(res.stdout.strip().splitlines()[-1].split('"')[1], "2468")
    differ = CliRunner().invoke(main, ["keys", "pin"], input="2468\n2469\n")
    assert differ.exit_code == 2 and "pin =" not in differ.stdout
    assert differ.stderr.splitlines()[-1] == (
        "exhibit: error: <input>: the two PINs differ; nothing was printed")


def test_keys_help_names_the_pin_command() -> None:
    res = CliRunner().invoke(main, ["keys", "--help"])
    assert "pin" in res.output and "[[kiosks]]" in res.output
