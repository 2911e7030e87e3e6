"""A model's own cameras and lights: valid glTF the gallery never uses, and must not trip on.

panda3d-gltf raises ``KeyError`` on a perspective camera without ``zfar`` (which glTF
2.0 allows) and would light the whole gallery with a model's lights. load_glb converts
the model without them (:func:`exhibit_engine.assets.gltf.converter_document`), so a
heritage vase carrying a camera without zfar, an orthographic camera and a point light
packs, validates and renders exactly as the plain vase does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.assets.gltf import split_glb
from exhibit_engine.assets.pack import pack

from ..assets.zipkit import glb
from ..frames import frame

CONTENT = Path(__file__).resolve().parents[2] / "content" / "heritage"
EXHIBIT = Path(sys.executable).with_name("exhibit")
SHOT = (38.0, {"selected_item": "vase", "language": "en"})   # the vase, close up


def _with_cameras_and_a_light(src: Path) -> None:
    path = src / "meshes" / "vase.glb"
    doc, binary = split_glb(path.read_bytes(), "vase.glb")
    doc["cameras"] = [
        {"type": "perspective", "perspective": {"yfov": 0.7, "znear": 0.05}},
        {"type": "orthographic", "orthographic": {"xmag": 1, "ymag": 1, "znear": 0,
                                                   "zfar": 10}}]
    doc.setdefault("extensionsUsed", []).append("KHR_lights_punctual")
    doc.setdefault("extensions", {})["KHR_lights_punctual"] = {
        "lights": [{"type": "point", "color": [1, 0, 0], "intensity": 500}]}
    first = len(doc["nodes"])
    doc["nodes"] += [{"camera": 0, "translation": [0, 0.3, 2]},
                     {"camera": 1, "translation": [0, 2, 0]},
                     {"extensions": {"KHR_lights_punctual": {"light": 0}},
                      "translation": [0.3, 0.3, 0.3]}]
    doc["scenes"][doc.get("scene", 0)]["nodes"] += [first, first + 1, first + 2]
    path.write_bytes(glb(doc, binary))


def test_a_model_with_a_camera_without_zfar_renders_as_without_it(tmp_path: Path) -> None:
    from exhibit_engine.runtime.render import Renderer

    exbs = {}
    for kind in ("plain", "odd"):
        src = tmp_path / kind
        shutil.copytree(CONTENT, src)
        if kind == "odd":
            _with_cameras_and_a_light(src)
        exbs[kind] = tmp_path / f"{kind}.exb"
        pack(src, exbs[kind])
    res = subprocess.run([str(EXHIBIT), "validate", str(exbs["odd"])], capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    frames = {}
    for kind, exb in exbs.items():  # a fresh renderer each: a second load may differ
        with Renderer((320, 180)) as r, Bundle.open(exb) as b:
            r.load(b, "gallery")
            frames[kind] = frame(r, *SHOT)
    assert frames["plain"].std() > 5, "a blank frame proves nothing"
    assert np.abs(frames["odd"] - frames["plain"]).max() == 0
