"""The kiosk's pages in Chinese and in Russian, drawn with the system's fonts hidden, so
every character comes from the bundles' fonts or the kiosk's own: the README's pictures.

``EXHIBIT_WRITE_DOCS_IMAGES=1`` writes them to ``docs/images/kiosk-*.png``; otherwise
they go to the test's folder and are checked the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ..e2e.conftest import Procs
from .conftest import Museum, kiosk_argv, read_json, write_script

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "images"
FONT_DIRS = [p for p in ("/usr/share/fonts", "/usr/local/share/fonts") if Path(p).is_dir()]


def _fonts_hidden(argv: list[str], empty: Path) -> list[str]:
    """``argv`` run in a mount namespace where the system's font folders are empty."""
    mounts = " && ".join(f"mount --bind {empty} {d}" for d in FONT_DIRS) or "true"
    listing = " ".join(FONT_DIRS)
    script = f'{mounts} && test -z "$(find {listing} -mindepth 1 | head -1)" && exec "$@"'
    return ["unshare", "--mount", "--map-root-user", "sh", "-c", script, "kiosk", *argv]


def _can_hide_fonts(empty: Path) -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    res = subprocess.run(_fonts_hidden(["true"], empty), capture_output=True, text=True)
    return None if res.returncode == 0 else f"cannot make a mount namespace: {res.stderr[:200]}"


PAGES = {
    "zh": ("kiosk-zh", "northern-prints", "birch-forest"),   # a print: blocks, picture
    "ru": ("kiosk-ru", "heritage", "vase"),                  # an artifact, live in 3-D
}


@pytest.mark.parametrize("language", sorted(PAGES))
def test_attract_carousel_and_item_pages_in_each_language(
        language: str, procs: Procs, museum_bundles: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    why = _can_hide_fonts(empty)
    if why is not None:
        pytest.skip(f"the system fonts cannot be hidden here: {why}")
    m = Museum(tmp_path, museum_bundles, procs)
    m.controller()
    kiosk_id, bundle, item = PAGES[language]
    script = write_script(tmp_path / "pages.toml", [
        {"until": "online", "timeout": 60},
        {"wait": 4.0},
        {"screenshot": f"kiosk-attract-{language}"},
        {"tap": "explore"},
        {"tap": f"tab:{bundle}"},
        {"wait": 1.0},
        {"screenshot": f"kiosk-carousel-{language}"},
        {"tap": f"item:{item}"},
        {"wait": 2.0},
        {"screenshot": f"kiosk-item-{language}"},
    ], clock="virtual")
    argv = [sys.executable, "-m", "exhibit_engine.cli",
            *kiosk_argv(m, kiosk_id, script, "pages")]
    log = (tmp_path / "pages.log").open("wb")
    res = subprocess.run(_fonts_hidden(argv, empty), stdout=log, stderr=subprocess.STDOUT,
                         timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log.close()
    out = (tmp_path / "pages.log").read_text(errors="replace")
    assert res.returncode == 0, out
    assert "No definition in" not in out, out          # every glyph was there
    report = read_json(m.report("pages"))
    assert report is not None and report["faults"] == 0, report
    shots = tmp_path / "shots"
    for page in ("attract", "carousel", "item"):
        path = shots / f"kiosk-{page}-{language}.png"
        img = np.asarray(Image.open(path).convert("RGB")).astype(np.float64)
        assert img.shape == (800, 1280, 3)
        assert img.std() > 20, f"{path.name} is nearly flat"
        if os.environ.get("EXHIBIT_WRITE_DOCS_IMAGES") == "1":
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / path.name)
