"""The command line: help texts, exit codes, one-line errors, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.cli import main

EXHIBIT = Path(sys.executable).with_name("exhibit")
COMMANDS = ["pack", "validate", "inspect", "render", "controller", "node", "demo", "keys",
            "install", "preview", "bench", "wall", "ctl", "kiosk", "status"]


def run_exhibit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``exhibit`` script, as a user would."""
    return subprocess.run([str(EXHIBIT), *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**os.environ, "COLUMNS": "100"})


def test_top_level_help_lists_every_command() -> None:
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    for cmd in COMMANDS:
        assert cmd in res.output


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_command_explains_itself(cmd: str) -> None:
    res = CliRunner().invoke(main, [cmd, "--help"])
    assert res.exit_code == 0
    body = res.output.split("Options:")[0]
    assert len(body.split()) > 15, f"`exhibit {cmd} --help` says too little"
    assert "Options:" in res.output


def test_installed_script_packs_validates_and_inspects(tiny_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.exb"
    res = run_exhibit("pack", str(tiny_source), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert "packed tiny 1.2.3" in res.stdout
    res = run_exhibit("validate", str(out))
    assert res.returncode == 0 and res.stdout.startswith("valid: tiny 1.2.3")
    res = run_exhibit("inspect", str(out))
    assert res.returncode == 0 and "meshes/a.bin" in res.stdout and "Stone" in res.stdout
    res = run_exhibit("inspect", "--json", str(out))
    assert res.returncode == 0 and '"kind": "ice"' in res.stdout


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change.get(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)
    return dst


@pytest.mark.parametrize("case", ["changed-byte", "missing-file"])
def test_validate_names_the_bad_file_in_one_line(tiny_source: Path, tmp_path: Path,
                                                 case: str) -> None:
    good = tmp_path / "good.exb"
    assert run_exhibit("pack", str(tiny_source), "-o", str(good)).returncode == 0
    with zipfile.ZipFile(good) as zf:
        data = bytearray(zf.read("meshes/a.bin"))
    data[1000] ^= 0x20
    change = {"meshes/a.bin": bytes(data) if case == "changed-byte" else None}
    bad = _rewrite(good, tmp_path / "bad.exb", change)
    res = run_exhibit("validate", str(bad))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "meshes/a.bin" in lines[0] and str(bad) in lines[0]
    assert "Traceback" not in res.stderr + res.stdout


def test_usage_errors_exit_2_and_bad_config_is_one_line(tmp_path: Path) -> None:
    res = run_exhibit("validate")
    assert res.returncode == 2
    venue = tmp_path / "venue.toml"
    venue.write_text("[wall]\nwidth = -1\n")
    res = run_exhibit("controller", "--venue", str(venue), "--show", str(venue))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"exhibit: error: {venue}: wall.width: must be greater than 0"]


@pytest.mark.parametrize("args, flag, rule", [
    (["ctl", "--key", "op.curve.key", "status"], "--key", "needs the controller's public key"),
    (["kiosk", "--key", "k.curve.key", "touch"], "--key", "needs the controller's public key"),
    (["status", "--key", "op.curve.key"], "--key", "needs the controller's public key"),
    (["status", "--server-key", "c.curve.pub"], "--server-key", "needs --key PATH"),
    (["ctl", "--venue", "venue.toml", "--server-key", "c.curve.pub", "status"],
     "--server-key", "give --venue or --server-key, not both"),
])
def test_a_curve_key_is_never_silently_unused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              args: list[str], flag: str, rule: str) -> None:
    """`--key` without a way to know the controller's key (no --venue, no --server-key) is
    one line and exit 2, before anything connects."""
    (tmp_path / "venue.toml").write_text(
        "[wall]\nwidth = 2.0\nheight = 1.0\neye = [1.0, 0.5, 2.0]\n[[displays]]\nid = \"a\"\n"
        "pixels = [64, 32]\nrect = [0.0, 0.0, 2.0, 1.0]\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EXHIBIT_KEY", raising=False)
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"exhibit: error: <flags>: {flag}: ")
    assert rule in lines[0] and "Traceback" not in res.output
