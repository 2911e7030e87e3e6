"""Every folder of ``../shared/real-assets/good/`` packs and validates; ``bad/`` files are refused.

The models are public third-party test data, read where they lie (never copied into
the project). Where ``../shared`` is absent (a user's clone) these tests skip.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.checks import CHECKS
from exhibit_engine.assets.gltf import split_glb
from exhibit_engine.assets.pack import pack
from exhibit_engine.errors import BundleError

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real-assets"
GOOD = sorted(p.name for p in (REAL / "good").iterdir() if p.is_dir()) if REAL.is_dir() else []
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real-assets is absent "
                                "(third-party test models; only on the maintainers' machines)")
TOML = ('[bundle]\nid = "real"\nversion = "1.0.0"\ntitle = { en = "Real" }\n'
        '[[scenes]]\nid = "s"\nkind = "ice"\ntitle = { en = "S" }\nassets = []\n')


def _source(tmp_path: Path, folder: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(folder, src / "models")
    (src / "bundle.toml").write_text(TOML, encoding="utf-8")
    return src


@pytest.mark.parametrize("name", GOOD or ["none"])
def test_real_asset_folder_packs_into_self_contained_glbs_that_validate(
        tmp_path: Path, name: str) -> None:
    folder = REAL / "good" / name
    notes: dict[str, list[str]] = {}
    manifest = pack(_source(tmp_path, folder), tmp_path / "real.exb", notes=notes)
    glbs = [f.path for f in manifest.files if f.path.endswith(".glb")]
    assert glbs, "every folder holds one model"
    assert all(f.path.endswith(".glb") for f in manifest.files), \
        "buffers, materials and textures are inside the GLBs, not files of their own"
    with Bundle.open(tmp_path / "real.exb") as b:
        assert len(list(b.iter_verified(CHECKS))) == len(manifest.files)
        for path in glbs:
            doc, _ = split_glb(b.read(path), path)
            assert "uri" not in str(doc.get("buffers", [])) + str(doc.get("images", []))
    for remarks in notes.values():
        for text in remarks:
            assert "0x" not in text and "Traceback" not in text


@pytest.mark.parametrize(("name", "rule"), [
    ("empty.ply", "empty file"),
    ("duck.dae", "COLLADA (.dae) is not supported"),
])
def test_real_bad_sources_are_refused_at_pack_in_one_line(tmp_path: Path, name: str,
                                                          rule: str) -> None:
    src = tmp_path / "src"
    (src / "models").mkdir(parents=True)
    shutil.copy(REAL / "bad" / name, src / "models" / name)
    (src / "bundle.toml").write_text(TOML, encoding="utf-8")
    with pytest.raises(BundleError) as err:
        pack(src, tmp_path / "real.exb")
    assert err.value.entry == f"models/{name}" and rule in err.value.rule
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("name", "glb", "textures"), [
    ("fuze-obj-mtl", "models/fuze.glb", 1),
    ("flight-helmet-gltf", "models/FlightHelmet.glb", 15),
])
def test_real_textured_sources_keep_their_textures(tmp_path: Path, name: str, glb: str,
                                                   textures: int) -> None:
    pack(_source(tmp_path, REAL / "good" / name), tmp_path / "real.exb")
    with Bundle.open(tmp_path / "real.exb") as b:
        doc, _ = split_glb(b.read(glb), glb)
    assert len(doc["images"]) == textures
    assert all("baseColorTexture" in m["pbrMetallicRoughness"] for m in doc["materials"])
    assert all("metallicFactor" in m["pbrMetallicRoughness"] or "metallicRoughnessTexture"
               in m["pbrMetallicRoughness"] for m in doc["materials"])
