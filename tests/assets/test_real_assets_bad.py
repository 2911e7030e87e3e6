"""Every file in ../shared/real-assets/bad/ is refused at pack or validate, in one line.

Third-party test data (its README lists what each file breaks); skipped with the reason
where ../shared is absent, as in a user's clone. Each file is packed from a source
folder; what pack lets through must then fail ``exhibit validate``. A GLB or glTF is
also put into a bundle as it is (no pack), and validate must refuse it: nothing there
may pass validate and fail at show time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .zipkit import with_manifest, write_zip

EXHIBIT = Path(sys.executable).with_name("exhibit")
BAD = Path(__file__).resolve().parents[2].parent / "shared" / "real-assets" / "bad"
FILES = sorted(p.name for p in BAD.iterdir()) if BAD.is_dir() else []
TOML = ('[bundle]\nid = "bad"\nversion = "1.0.0"\ntitle = { en = "Bad" }\n'
        '[[scenes]]\nid = "s"\nkind = "ice"\nassets = []\n')

pytestmark = pytest.mark.skipif(not FILES, reason=f"{BAD} is absent (third-party test "
                                "data lives outside the repository, in ../shared)")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([str(EXHIBIT), *args], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "200"})
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    return res


def _one_line(res: subprocess.CompletedProcess[str], *names: str) -> str:
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    for name in names:
        assert name in lines[0], lines[0]
    for leak in ("object at 0x", "KeyError", "No module named", "Error:"):
        assert leak not in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("name", FILES)
def test_bad_file_is_refused_at_pack_or_validate(name: str, tmp_path: Path) -> None:
    # duck.dae (COLLADA): pack copies it as an opaque file today and validate refuses it
    # (assets/checks: model sources no scene loads); the "sources" helper's change may
    # refuse it at pack instead, which this test accepts as well. empty.ply is refused
    # at pack by mesh.py today.
    src = tmp_path / "src"
    (src / "meshes").mkdir(parents=True)
    (src / "bundle.toml").write_text(TOML, encoding="utf-8")
    (src / "meshes" / name).write_bytes((BAD / name).read_bytes())
    out = tmp_path / "bad.exb"
    packed = _run("pack", str(src), "-o", str(out))
    if packed.returncode != 0:
        _one_line(packed, name)
        assert not out.exists()
        return
    _one_line(_run("validate", str(out)), str(out), name)


@pytest.mark.parametrize("name", [n for n in FILES if n.endswith((".glb", ".gltf"))])
def test_bad_model_in_a_bundle_is_refused_by_validate(name: str, tmp_path: Path) -> None:
    path = write_zip(tmp_path / "bad.exb",
                     with_manifest({f"meshes/{name}": (BAD / name).read_bytes()}))
    _one_line(_run("validate", str(path)), str(path), f"meshes/{name}")
