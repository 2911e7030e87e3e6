"""`exhibit kiosk app` checks everything before a window opens: one line, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ..e2e.conftest import Procs
from .conftest import KIOSK_SHOW, Museum, kiosk_argv, read_json, write_script

pytestmark = [pytest.mark.e2e]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exhibit_engine.cli", "kiosk", "app", *args],
                          capture_output=True, text=True, timeout=120)


def _one_line(res: subprocess.CompletedProcess[str], *words: str) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("exhibit:")]
    assert res.returncode != 0 and len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def museum(tmp_path: Path, museum_bundles: Path) -> Museum:
    return Museum(tmp_path, museum_bundles, processes=None)  # type: ignore[arg-type]


def test_an_unknown_kiosk_names_the_known_ones(museum: Museum) -> None:
    res = _run(*museum.common(), "--kiosk", "kiosk-z", "--headless",
               "--bundle-dir", str(museum.bundles))
    _one_line(res, "kiosk-z", "kiosk-zh")


def test_a_missing_bundle_is_named(museum: Museum, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = _run(*museum.common(), "--kiosk", "kiosk-zh", "--headless", "--bundle-dir",
               str(empty), "--no-fetch")
    _one_line(res, "heritage.exb")


def test_the_kiosks_language_must_be_one_of_the_shows(museum: Museum) -> None:
    museum.show.write_text(KIOSK_SHOW.format(idle_after=300).replace(
        'title = { zh = "冰雪之夜", en = "Winter Nights at the Museum", ru = "Зимние ночи в музее" }',
        'title = { en = "Winter Nights at the Museum" }'), encoding="utf-8")
    res = _run(*museum.common(), "--kiosk", "kiosk-zh", "--headless", "--bundle-dir",
               str(museum.bundles))
    _one_line(res, "language", "'zh'")


def test_the_idle_warning_must_come_before_the_idle_return(museum: Museum) -> None:
    museum.show.write_text(KIOSK_SHOW.format(idle_after=4), encoding="utf-8")
    res = _run(*museum.common(), "--kiosk", "kiosk-zh", "--headless", "--bundle-dir",
               str(museum.bundles))
    _one_line(res, "idle_warning_s", "4 s")


def test_full_screen_is_not_headless_and_a_bad_script_is_named(museum: Museum,
                                                                tmp_path: Path) -> None:
    res = _run(*museum.common(), "--kiosk", "kiosk-zh", "--headless", "--fullscreen")
    _one_line(res, "--fullscreen")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[steps]]\ntap = 3\n', encoding="utf-8")
    res = _run(*museum.common(), "--kiosk", "kiosk-zh", "--headless", "--script", str(bad),
               "--bundle-dir", str(museum.bundles))
    _one_line(res, "bad.toml", "steps[0].tap")


def _secure(museum: Museum, tmp_path: Path) -> Path:
    """Turn CURVE on in the museum's venue, with a controller and a kiosk-zh key."""
    keys = tmp_path / "keys"
    for name in ("controller", "kiosk-zh"):
        subprocess.run([sys.executable, "-m", "exhibit_engine.cli", "keys", "new", name,
                        "--kind", "curve", "--dir", str(keys)], check=True,
                       capture_output=True, timeout=60)
    text = museum.venue.read_text(encoding="utf-8")
    museum.venue.write_text(text.replace("[[kiosks]]", (
        '[security]\ncurve = true\ncontroller_key = "keys/controller.curve.key"\n'
        'controller_public_key = "keys/controller.curve.pub"\n'
        'kiosks = ["keys/kiosk-zh.curve.pub"]\n\n[[kiosks]]'), 1), encoding="utf-8")
    return keys


def test_a_secure_venue_takes_the_kiosks_curve_key_and_refuses_to_start_without_it(
        museum: Museum, procs: Procs, tmp_path: Path) -> None:
    keys = _secure(museum, tmp_path)
    res = _run(*museum.common(), "--kiosk", "kiosk-zh", "--headless", "--bundle-dir",
               str(museum.bundles))
    _one_line(res, "key")
    museum.procs = procs
    museum.controller()
    script = write_script(tmp_path / "join.toml", [{"until": "online", "timeout": 60}])
    kiosk = museum.kiosk("kiosk", "kiosk-zh", script, "--key",
                         str(keys / "kiosk-zh.curve.key"))
    assert kiosk.wait(timeout=120) == 0, procs.log("kiosk")
    report = read_json(museum.report("kiosk"))
    assert report is not None and report["final"]["online"]


def test_a_kiosk_with_an_empty_folder_fetches_the_show_over_curve_and_opens(
        museum: Museum, procs: Procs, tmp_path: Path) -> None:
    """The controller serves the show's bundles to a kiosk key (CURVE, ZAP) as to a node."""
    from exhibit_engine.assets.library import installed

    keys = _secure(museum, tmp_path)
    procs.start("controller", "controller", *museum.common(), "--no-state", "--bundle-dir",
                str(museum.bundles))
    empty = tmp_path / "kiosk-library"
    script = write_script(tmp_path / "join.toml", [{"until": "online", "timeout": 60}])
    argv = kiosk_argv(museum, "kiosk-zh", script, "kiosk")
    argv[argv.index("--bundle-dir") + 1] = str(empty)
    kiosk = procs.start("kiosk", *argv, "--key", str(keys / "kiosk-zh.curve.key"))
    assert kiosk.wait(timeout=180) == 0, procs.log("kiosk")
    assert "fetched" in procs.log("kiosk")
    for exb in museum.bundles.glob("*.exb"):
        rec = installed(empty, exb.stem)
        assert rec is not None and rec.path.read_bytes() == exb.read_bytes()
    report = read_json(museum.report("kiosk"))
    assert report is not None and report["final"]["online"]
