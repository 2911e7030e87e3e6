"""tools/gen_ice_festival.py: the committed sample content is exactly what the generator makes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from exhibit_engine.assets.pack import pack

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content" / "ice-festival"


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_generator_reproduces_the_committed_content(tmp_path: Path) -> None:
    out = tmp_path / "ice"
    subprocess.run([sys.executable, str(ROOT / "tools" / "gen_ice_festival.py"),
                    "--out", str(out)], check=True, capture_output=True, timeout=120)
    made, committed = files(out), files(CONTENT)
    assert sorted(made) == sorted(committed)
    for name in made:
        assert made[name] == committed[name], f"{name} differs: run tools/gen_ice_festival.py"


def test_sample_content_is_small_and_packs(tmp_path: Path) -> None:
    glbs = sum(p.stat().st_size for p in (CONTENT / "meshes").glob("*.glb"))
    assert glbs < 2_000_000
    manifest = pack(CONTENT, tmp_path / "ice.exb")
    assert manifest.id == "ice-festival"
    scene = next(s for s in manifest.scenes if s.id == "castle-night")
    assert scene.kind == "ice" and scene.params["snowflakes"] >= 20000
    assert set(scene.assets) == {"meshes/castle.glb", "meshes/lantern.glb"}
    assert all(set(i.title) == {"zh", "en", "ru"} for i in manifest.items)
