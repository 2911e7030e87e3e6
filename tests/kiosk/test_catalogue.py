"""What the kiosk offers from the show's bundles, and how each item is seen."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhibit_engine.config import load_show
from exhibit_engine.errors import BundleError
from exhibit_engine.kiosk.catalogue import build_catalogue

from .conftest import KIOSK_SHOW


@pytest.fixture
def show(tmp_path: Path):
    p = tmp_path / "show.toml"
    p.write_text(KIOSK_SHOW.format(idle_after=300), encoding="utf-8")
    return load_show(p)


def test_every_item_of_every_bundle_with_its_kind_fields_and_pictures(
        show, museum_bundles: Path) -> None:
    cat = build_catalogue(show, museum_bundles)
    try:
        assert [g.bundle for g in cat.groups] == ["heritage", "northern-prints",
                                                  "ice-festival"]
        kinds = {it.id: it.kind for it in cat}
        assert kinds == {"ding": "artifact", "vase": "artifact", "bowl": "artifact",
                         "birch-forest": "print", "wheat-fields": "print",
                         "winter-river": "print", "castle": "model", "lantern": "model",
                         "sculptures": "model"}
        vase = cat.item("vase")
        assert vase.scene == "gallery" and vase.model == "meshes/vase.glb"
        assert vase.title_in("ru").startswith("Селадоновая") and vase.date == "2026"
        assert vase.description_in("de") == vase.description["en"]        # falls back
        birch = cat.item("birch-forest")
        assert birch.picture == "prints/birch-forest/print.jpg"
        assert birch.thumbnail == "prints/birch-forest/thumbs/print.jpg"
        assert birch.iiif == "prints/birch-forest/iiif/info.json"
        assert [b.name["zh"] for b in birch.blocks][:2] == ["淡蓝", "土黄"]
        castle = cat.item("castle")
        assert castle.model == "meshes/castle.glb" and castle.scene == "castle-night"
        assert set(cat.fonts) == {"heritage", "northern-prints", "ice-festival"}
        for it in cat:            # every file the kiosk names is in its bundle
            for path in (it.thumbnail, it.picture, it.iiif, it.model):
                if path:
                    assert cat.read(it, path)
        with pytest.raises(KeyError):
            cat.item("nothing")
    finally:
        cat.close()


def test_a_damaged_bundle_is_refused_as_a_node_would_and_nothing_stays_open(
        show, museum_bundles: Path, tmp_path: Path) -> None:
    import os
    import zipfile

    folder = tmp_path / "b"
    folder.mkdir()
    for exb in museum_bundles.iterdir():
        os.symlink(exb.resolve(), folder / exb.name)
    bad = folder / "ice-festival.exb"
    bad.unlink()
    with zipfile.ZipFile((museum_bundles / "ice-festival.exb").resolve()) as src, \
            zipfile.ZipFile(bad, "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("lantern.glb"):
                data = data[:-10] + b"0123456789"        # its hash no longer matches
            out.writestr(info, data)
    with pytest.raises(BundleError, match="ice-festival"):
        build_catalogue(show, folder)
