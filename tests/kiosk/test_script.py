"""Kiosk scripts are checked before the app starts: one error naming the file and step."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhibit_engine.errors import ConfigError
from exhibit_engine.kiosk.script import load_script


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_script_of_every_step_kind(tmp_path: Path) -> None:
    s = load_script(_write(tmp_path, """
clock = "virtual"
size = [640, 400]
[[steps]]
tap = "lang:ru"
[[steps]]
tap = [10, 20.5]
[[steps]]
wait = 1.5
[[steps]]
screenshot = "item-ru"
[[steps]]
until = "screen:item"
timeout = 3
[[steps]]
random_taps = 100
over = 6.0
seed = 4
"""))
    assert s.clock == "virtual" and s.size == (640, 400)
    assert [(st.kind, st.value, st.seconds) for st in s.steps] == [
        ("tap", "lang:ru", 0.0), ("tap", (10.0, 20.5), 0.0), ("wait", None, 1.5),
        ("screenshot", "item-ru", 0.0), ("until", "screen:item", 3.0),
        ("random_taps", 100, 6.0)]
    assert s.steps[-1].seed == 4


@pytest.mark.parametrize(("text", "key"), [
    ('clock = "fast"', "clock"),
    ("[[steps]]\ntap = 3", "steps[0].tap"),
    ("[[steps]]\ntap = [1]", "steps[0].tap"),
    ("[[steps]]\nwait = -1", "steps[0].wait"),
    ("[[steps]]\nwait = 1\ntap = 'x'", "steps[0]"),
    ("[[steps]]\nscreenshot = '../x'", "steps[0].screenshot"),
    ("[[steps]]\nuntil = 'sky:blue'", "steps[0].until"),
    ("[[steps]]\nrandom_taps = 0", "steps[0].random_taps"),
    ("[[steps]]\ntapp = 'x'", "steps[0].tapp"),
    ("steps = 3", "steps"),
    ("size = [10, 10]", "size"),
    ("colour = 1", "colour"),
])
def test_a_bad_script_is_one_error_naming_the_step(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_script(_write(tmp_path, text))
    assert err.value.key == key and str(tmp_path / "s.toml") in str(err.value)


def test_unreadable_and_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_script(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_script(_write(tmp_path, "[[steps]\n"))
