"""scenes/labels.py: labels render from the bundle's own subset font, system fonts hidden.

The render runs in a child process that cannot see a system font: fontconfig gets a
configuration with no font directories, HOME and the XDG folders point into the test's
temporary folder, and where ``unshare`` works (root, or unprivileged user namespaces)
an empty folder is bind-mounted over the system font directories. Where ``strace``
works, every file the child opens is logged and no font file may be among them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.assets.font import EXTRA_CHARS, font_codepoints, required_chars
from exhibit_engine.assets.pack import pack
from exhibit_engine.errors import AssetError

ROOT = Path(__file__).resolve().parents[2]
LABEL_FONT = ROOT / "content" / "fonts" / "NotoSansSC-Labels.otf"
FONT = "fonts/NotoSansSC-Labels.otf"
CJK_SYSTEM_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SYSTEM_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc", ".pfa", ".pfb", ".pcf", ".pcf.gz",
                 ".woff", ".woff2")

LABELS = {"zh": "冰雪城堡", "en": "Ice Castle", "ru": "Ледяной замок"}

BUNDLE_TOML = """\
[bundle]
id = "labels"
version = "1.0.0"
title = { zh = "冰雪城堡", en = "Ice Castle", ru = "Ледяной замок" }

[[scenes]]
id = "wall"
kind = "ice"
title = { zh = "城堡", en = "Castle", ru = "Замок" }
assets = ["fonts/NotoSansSC-Labels.otf"]
"""

# The child: load the subset font from the packed bundle, draw each label alone on a
# 480 x 96 output that sees a 4.8 m x 0.96 m window 1 m ahead (100 px per metre).
CHILD = r"""
import json, os, sys
from pathlib import Path
from panda3d.core import NodePath, TextNode
from exhibit_engine.assets.bundle import Bundle
from exhibit_engine.errors import AssetError
from exhibit_engine.runtime.render import Renderer
from exhibit_engine.scenes.labels import load_font, make_label
from exhibit_engine.wall.frustum import Frustum

exb, out, font_name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
shots = json.loads(sys.argv[4])
report = {"cjk_font_visible": os.path.exists(sys.argv[5])}
with Bundle.open(exb) as bundle:
    font = load_font(bundle.read(font_name), font_name)
with Renderer((480, 96)) as r:
    r.set_frustum(Frustum(ul=(-2.4, 1.0, 0.48), ur=(2.4, 1.0, 0.48),
                          ll=(-2.4, 1.0, -0.48), lr=(2.4, 1.0, -0.48)))

    def shot(label, key):
        label.reparent_to(r.rig)
        label.set_pos(0.0, 1.0, -0.18)
        r.render(0.0)
        r.snapshot().save(out / f"{key}.png")
        label.remove_node()

    for key, text in shots.items():
        shot(make_label(text, font, height_m=0.5, color=(1.0, 1.0, 1.0, 1.0)), key)
        # The same number of characters the font lacks: what tofu looks like.
        tofu = TextNode("tofu")
        tofu.set_font(font)
        tofu.set_align(TextNode.A_center)
        tofu.set_text("".join(" " if c == " " else "\u9f98" for c in text))
        node = NodePath(tofu)
        node.set_scale(0.5)
        shot(node, f"{key}-tofu")
    try:
        make_label("\u9f98", font, height_m=0.5)
    except AssetError as exc:
        report["missing"] = str(exc)
(out / "report.json").write_text(json.dumps(report))
"""


def _hide_fonts_prefix(empty: Path) -> list[str]:
    """A command prefix that bind-mounts ``empty`` over the system font dirs, or []."""
    unshare = shutil.which("unshare")
    dirs = [d for d in SYSTEM_FONT_DIRS if os.path.isdir(d)]
    if not unshare or not dirs:
        return []
    mounts = " && ".join(f"mount --bind '{empty}' '{d}'" for d in dirs)
    for flags in (["--mount"], ["--user", "--map-root-user", "--mount"]):
        prefix = [unshare, *flags, "sh", "-c", f'{mounts} && exec "$@"', "sh"]
        probe = subprocess.run([*prefix, "test", "!", "-e", CJK_SYSTEM_FONT],
                               capture_output=True, timeout=20)
        if probe.returncode == 0:
            return prefix
    return []


def _strace_prefix(log: Path) -> list[str]:
    """A command prefix logging every file the command opens, or [] without strace."""
    strace = shutil.which("strace")
    if not strace:
        return []
    prefix = [strace, "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", str(log)]
    if subprocess.run([*prefix, "true"], capture_output=True, timeout=20).returncode != 0:
        return []
    return prefix


def _mask(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L")) > 96


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the inked pixels (of either mask) that only one mask has."""
    return float((a ^ b).sum()) / max(1, int((a | b).sum()))


@pytest.fixture(scope="module")
def label_exb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("labels-src")
    (src / "fonts").mkdir()
    (src / "bundle.toml").write_text(BUNDLE_TOML, encoding="utf-8")
    shutil.copyfile(LABEL_FONT, src / FONT)
    out = src.parent / "labels.exb"
    pack(src, out)
    return out


@pytest.mark.render
def test_labels_render_from_the_bundle_font_with_system_fonts_hidden(
        label_exb: Path, tmp_path: Path) -> None:
    # the bundle carries a subset: exactly its texts' characters, not the source font
    with zipfile.ZipFile(label_exb) as zf:
        subset = zf.read(FONT)
    texts = [*LABELS.values(), "城堡", "Castle", "Замок"]
    assert font_codepoints(subset, FONT) == {ord(c) for c in
                                             required_chars(texts) | EXTRA_CHARS}

    shots = {**LABELS, "bing": "冰", "cheng": "城"}
    home, empty, out = tmp_path / "home", tmp_path / "empty", tmp_path / "out"
    for d in (home, empty, out):
        d.mkdir()
    conf = tmp_path / "fonts.conf"
    conf.write_text('<?xml version="1.0"?>\n<fontconfig></fontconfig>\n', encoding="utf-8")
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "FONTCONFIG_PATH": str(tmp_path),
           "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}
    env.pop("DISPLAY", None)
    hide = _hide_fonts_prefix(empty)
    log = tmp_path / "opened.log"
    trace = _strace_prefix(log)
    cmd = [*trace, *hide, sys.executable, "-c", CHILD, str(label_exb), str(out), FONT,
           json.dumps(shots), CJK_SYSTEM_FONT]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    if hide:
        assert not report["cjk_font_visible"]
    assert "fonts/NotoSansSC-Labels.otf" in report["missing"]
    assert "'龘' U+9F98" in report["missing"]
    if trace:
        opened = [line for line in log.read_text(errors="replace").splitlines() if '"' in line]
        fonts = [line for line in opened
                 if line.split('"')[1].lower().endswith(FONT_SUFFIXES)]
        assert opened and not fonts, fonts[:5]

    masks = {key: _mask(Image.open(out / f"{key}.png")) for key in shots}
    tofu = {key: _mask(Image.open(out / f"{key}-tofu.png")) for key in shots}
    for key in LABELS:
        ink = masks[key]
        rows, cols = np.nonzero(ink)
        assert ink.sum() > 300, f"{key}: almost no glyph pixels"
        # the ink sits in the label's box: centred, within a line of the baseline
        assert 8 <= rows.min() and rows.max() <= 90, key
        assert abs((cols.min() + cols.max()) / 2 - 240) < 12, key
        assert tofu[key].sum() > 100, f"{key}: the tofu reference drew nothing"
        assert _difference(ink, tofu[key]) > 0.5, f"{key} looks like tofu"
    # two different hanzi ink differently; two tofu boxes would be the same
    assert _difference(masks["bing"], masks["cheng"]) > 0.4
    assert _difference(tofu["bing"], tofu["cheng"]) < 0.05


def test_load_font_refuses_bytes_that_are_not_a_font() -> None:
    from exhibit_engine.scenes.labels import load_font

    with pytest.raises(AssetError, match="fonts/x.otf: FreeType cannot read"):
        load_font(b"OTTO" + bytes(100), "fonts/x.otf")
    with pytest.raises(AssetError, match="empty font file"):
        load_font(b"", "fonts/x.otf")


def test_make_label_never_falls_back_to_another_font(label_exb: Path) -> None:
    from exhibit_engine.scenes.labels import load_font, make_label, missing_chars

    with zipfile.ZipFile(label_exb) as zf:
        font = load_font(zf.read(FONT), FONT)
    assert missing_chars("冰雪\nIce", font) == []
    assert missing_chars("冰龘Ω龘", font) == ["龘", "Ω"]
    with pytest.raises(AssetError) as info:
        make_label("冰 Ω", font, height_m=0.3)
    assert str(info.value).startswith(f"{FONT}: no glyph for 'Ω' U+03A9")
    label = make_label("冰雪\nCastle", font, height_m=0.3, color=(1, 0.5, 0), align="left",
                       wrap_m=2.0, billboard=True)
    node = label.node()
    assert node.get_font() == font and node.get_text() == "冰雪\nCastle"
    assert node.get_num_rows() == 2
    assert label.get_scale().z == pytest.approx(0.3)
    for bad in ({"height_m": 0.0}, {"height_m": 0.3, "wrap_m": -1.0},
                {"height_m": 0.3, "align": "middle"}, {"height_m": 0.3, "color": (2, 0, 0)}):
        with pytest.raises(ValueError):
            make_label("冰", font, **bad)
