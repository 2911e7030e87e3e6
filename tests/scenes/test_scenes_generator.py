"""tools/gen_*.py: the committed sample content is exactly what the generators make, on
every CPU.

numpy picks its kernels by CPU (AVX-512, AVX2 or baseline SIMD) and OpenBLAS its own,
and they differ in the last bit; the generators avoid them (see
``exhibit_engine/assets/portable_math.py``). Each generator runs three times, in
parallel: as the machine is, with numpy's AVX-512 kernels disabled, and with only
numpy's baseline kernels and another OpenBLAS kernel set; every run must write the
committed bytes.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from exhibit_engine.assets.pack import pack

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content" / "ice-festival"

#: generator script -> the content folder it writes
GENERATORS = {
    "gen_ice_festival.py": "ice-festival",
    "gen_heritage.py": "heritage",
    "gen_prints.py": "northern-prints",
}
_AVX512 = "AVX512_SPR AVX512_ICL X86_V4"
#: name -> environment overrides
VARIANTS: dict[str, dict[str, str]] = {
    "as-is": {},
    "no-avx512": {"NPY_DISABLE_CPU_FEATURES": _AVX512},
    "baseline-simd": {"NPY_DISABLE_CPU_FEATURES": f"X86_V3 {_AVX512}",
                      **({"OPENBLAS_CORETYPE": "Nehalem"}
                         if platform.machine() in ("x86_64", "AMD64") else {})},
}


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("script", sorted(GENERATORS), ids=lambda s: s.removesuffix(".py"))
def test_generator_reproduces_the_committed_content(tmp_path: Path, script: str) -> None:
    committed = files(ROOT / "content" / GENERATORS[script])
    procs = {}
    for name, extra in VARIANTS.items():
        env = {k: v for k, v in os.environ.items()
               if k not in ("NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES",
                            "OPENBLAS_CORETYPE")}
        procs[name] = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / script), "--out", str(tmp_path / name)],
            env={**env, **extra}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{script} ({name}) failed:\n{err}"
    for name in VARIANTS:
        made = files(tmp_path / name)
        assert sorted(made) == sorted(committed), name
        for path in made:
            assert made[path] == committed[path], \
                f"{path} differs ({name} kernels): run tools/{script} and see portable_math"


_FEATURES = """
import json
from numpy._core._multiarray_umath import __cpu_features__
print(json.dumps({k: bool(v) for k, v in __cpu_features__.items()}))
"""


def test_the_variants_really_switch_numpys_kernels() -> None:
    """NPY_DISABLE_CPU_FEATURES works with this numpy: each variant turns off what it names."""
    seen = {}
    for name, extra in VARIANTS.items():
        out = subprocess.run([sys.executable, "-c", _FEATURES], env={**os.environ, **extra},
                             capture_output=True, text=True, check=True, timeout=60).stdout
        seen[name] = json.loads(out)
    assert not seen["no-avx512"].get("X86_V4") and not seen["no-avx512"].get("AVX512_ICL")
    assert not seen["baseline-simd"].get("X86_V3") and not seen["baseline-simd"].get("X86_V4")
    if platform.machine() in ("x86_64", "AMD64"):
        assert seen["as-is"]["X86_V2"], "an x86-64 numpy has its baseline kernels"


def test_sample_content_is_small_and_packs(tmp_path: Path) -> None:
    glbs = sum(p.stat().st_size for p in (CONTENT / "meshes").glob("*.glb"))
    assert glbs < 2_000_000
    manifest = pack(CONTENT, tmp_path / "ice.exb")
    assert manifest.id == "ice-festival"
    scene = next(s for s in manifest.scenes if s.id == "castle-night")
    assert scene.kind == "ice" and scene.params["snowflakes"] >= 20000
    assert set(scene.assets) == {"meshes/castle.glb", "meshes/sculptures.glb",
                                 "meshes/lantern.glb"}
    assert all(set(i.title) == {"zh", "en", "ru"} for i in manifest.items)
