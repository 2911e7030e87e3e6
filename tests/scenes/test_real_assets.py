"""Real third-party models (``../shared/real-assets/good``) pack, validate and render right.

Runs the maintainer script ``tools/real_assets.py`` (what a curator does: pack the models
as they come, validate, render on plinths) and checks its measurements of every artifact:
standing on the plinth top (within 1 cm), inside the plinth's display volume, centred,
and coloured like its own material (not chrome, white or black). Skips where ``../shared``
is absent (a user's clone has no test models).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT.parent / "shared" / "real-assets" / "good"

pytestmark = pytest.mark.skipif(not GOOD.is_dir(),
                                reason=f"{GOOD} is absent: the real test models live in "
                                       "../shared/real-assets (not part of the project)")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("real-assets")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "real_assets.py"),
                           "--out", str(out), "--sheet", str(out / "sheet.png"),
                           "--json", str(out / "report.json")],
                          capture_output=True, text=True, timeout=1200)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    doc = json.loads((out / "report.json").read_text())
    doc["returncode"], doc["output"], doc["out"] = proc.returncode, proc.stdout, out
    return doc


def test_every_real_model_packs_validates_and_renders(report):
    assert report["stage"] == "render", report.get("output")
    folders = {c["folder"] for c in report["checks"]}
    assert {p.name for p in GOOD.iterdir() if p.is_dir()} <= folders
    assert (report["out"] / "sheet.png").stat().st_size > 10_000


@pytest.mark.parametrize("folder", sorted(p.name for p in GOOD.iterdir() if p.is_dir())
                         if GOOD.is_dir() else [])
def test_artifact_stands_on_its_plinth_and_fits(report, folder):
    check = next(c for c in report["checks"] if c["folder"] == folder)
    assert abs(check["base_gap_m"]) <= 0.01, check
    w, d, h = check["display"]
    assert 0.0 < check["height_m"] <= h + 1e-3, check
    assert check["width_m"] <= max(w, d) * 1.5, check
    assert check["coverage"] >= 0.02, check   # at its widest heading


@pytest.mark.parametrize("folder", sorted(p.name for p in GOOD.iterdir() if p.is_dir())
                         if GOOD.is_dir() else [])
def test_artifact_shows_its_own_colours(report, folder):
    """Mean rendered colour of the artifact's region is near its material's, in
    rg-chromaticity, with the gallery light measured on a white card (see the script)."""
    check = next(c for c in report["checks"] if c["folder"] == folder)
    assert check["colour_distance"] <= 0.06, check
    assert sum(check["rendered_rgb"]) > 0.01, f"{folder} renders black: {check}"


def test_script_exit_status_matches_its_checks(report):
    assert report["returncode"] == (0 if all(c["ok"] for c in report["checks"]) else 1)
    assert report["ok"] == all(c["ok"] for c in report["checks"])


def test_every_glb_of_the_real_assets_bundle_passes_the_khronos_validator(report, tmp_path):
    """What pack wrote from the curator's files (GLB, .gltf+.bin, OBJ+MTL, PLY, STL, LODs)."""
    import zipfile

    from tests.gltf_validator import require_validator, validate_glbs

    require_validator()
    with zipfile.ZipFile(report["out"] / "real-assets.exb") as zf:
        names = [n for n in zf.namelist() if n.endswith(".glb")]
        paths = []
        for i, name in enumerate(names):
            path = tmp_path / f"{i:02d}-{Path(name).name}"
            path.write_bytes(zf.read(name))
            paths.append(path)
    assert len(paths) >= 12
    errors = {p.name: e for p, e in validate_glbs(paths).items() if e}
    assert not errors, errors
