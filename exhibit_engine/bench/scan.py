"""``exhibit bench scan``: packing a heavy photogrammetry-like scan, against trimesh.

The suite makes a synthetic scan in a temporary folder that is always deleted: a vase
turned on a wheel and then worn, a surface of revolution displaced by several octaves
of relief and a fine random grain (``triangles`` triangles, 5 million by default), with
UVs and a ``texture_px`` JPEG texture (8192 by default, as scanning rigs write them),
saved as a binary PLY with a ``TextureFile`` comment in a bundle source folder with a
heritage scene. It then measures, each in a fresh child process so that nothing of the
suite's own data counts:

- ``pack_s``: :func:`~exhibit_engine.assets.pack.pack` of that folder (what ``exhibit
  pack`` runs): repair, metres, normals, the texture brought to its useful size, the GLB
  and its two LODs (25 % and 6.25 %), the manifest and the zip, written to disk;
  ``pack_peak_rss_mb``: that child's peak resident memory (its VmHWM), and ``rss_mb_per_mtri`` the same per million source triangles;
- ``baseline_s``: the plain way with the field's tools, on the same PLY: ``trimesh.load``,
  ``simplify_quadric_decimation`` (fast-simplification) to the same two targets from the
  full mesh, and a GLB export of the three meshes (geometry and UVs, the texture left
  out, so the baseline does less than pack does); ``baseline_peak_rss_mb`` its memory;
- ``pack_ratio`` = pack_s / baseline_s.

- ``frame_ms_lod``: the heritage scene's frame offscreen (``size``, the tour's start: the
  camera at wall distance) with the levels chosen as a node chooses them
  (:mod:`~exhibit_engine.scenes._lod`), ``frame_ms_full`` with the full scan forced and
  ``frame_ms_lowest`` with the coarsest level forced; ``lod_ratio`` = lod / lowest (what
  choosing costs over the cheapest picture).

Targets (from 1 million triangles on): ``rss_mb_per_mtri`` <= 300, ``pack_ratio`` <= 2
and ``lod_ratio`` <= 1.2.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from . import MB, Progress, Report, Target

__all__ = ["ScanBenchOptions", "make_scan", "run"]

#: Targets apply from this many triangles (a smaller scan's fixed costs dominate).
_BIG_SCAN = 1_000_000
#: LOD fractions pack makes by default (mesh.LOD_RATIOS), for the baseline's targets.
_LOD_RATIOS = (0.25, 0.0625)


@dataclass(frozen=True)
class ScanBenchOptions:
    """Settings of the scan suite.

    Attributes:
        triangles: triangles of the synthetic scan.
        texture_px: side of its texture, in pixels.
        seed: seed of its relief and grain.
        size: the frames' size in pixels.
        frames: timed frames per mode (medians).
        workdir: where the temporary folder goes (default: the system's).
    """

    triangles: int = 5_000_000
    texture_px: int = 8192
    seed: int = 0
    size: tuple[int, int] = (1280, 720)
    frames: int = 5
    workdir: Path | None = None

    def check(self) -> None:
        """Raises ConfigError naming the first setting out of range."""
        checks = ((1_000 <= self.triangles <= 40_000_000, "--triangles",
                   "must be 1000..40000000"),
                  (64 <= self.texture_px <= 8192, "--texture-px", "must be 64..8192"),
                  (1 <= self.frames <= 100, "--frames", "must be 1..100"))
        for ok, key, why in checks:
            if not ok:
                raise ConfigError("<flags>", why, key=key)


# --------------------------------------------------------------------------- synthetic scan


def make_scan(folder: Path, triangles: int, texture_px: int, seed: int = 0) -> int:
    """Write a synthetic scan bundle source into ``folder`` (see the module docstring);
    returns the PLY's triangle count (at least ``triangles``)."""
    rings = max(4, math.ceil(math.sqrt(triangles / 4.0)))   # 2 x rings columns
    cols = 2 * rings
    rng = np.random.default_rng(seed)
    z = np.linspace(0.0, 1.0, rings + 1)
    theta = np.linspace(0.0, 2.0 * math.pi, cols + 1)          # a UV seam at 0 = 2 pi
    zz, tt = np.meshgrid(z, theta, indexing="ij")
    # A meiping-like profile, then relief: bands, lobes, chips and a fine grain.
    profile = 0.075 + 0.06 * np.sin(math.pi * (0.15 + 0.85 * zz)) ** 2 + 0.02 * zz ** 3
    phases = rng.uniform(0, 2 * math.pi, 6)
    relief = (0.004 * np.sin(40.0 * zz * math.pi + phases[0])
              + 0.003 * np.sin(8 * tt + 12.0 * zz + phases[1])
              + 0.0015 * np.sin(37 * tt - 53.0 * zz + phases[2])
              + 0.0008 * np.sin(131 * tt + 177.0 * zz + phases[3]))
    grain = rng.standard_normal(zz.shape).astype(np.float32) * 0.0003
    grain[:, -1] = grain[:, 0]                                   # the seam closes
    radius = (profile * (1.0 + relief * 8.0) + grain).astype(np.float32)
    del relief, grain
    verts = np.empty(((rings + 1) * (cols + 1), 5), np.float32)
    verts[:, 0] = (radius * np.cos(tt)).ravel()
    verts[:, 1] = (radius * np.sin(tt)).ravel()
    verts[:, 2] = (0.42 * zz).ravel()
    verts[:, 3] = (tt / (2.0 * math.pi)).ravel()
    verts[:, 4] = zz.ravel()
    del zz, tt, radius
    idx = np.arange((rings + 1) * (cols + 1), dtype=np.int32).reshape(rings + 1, cols + 1)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    faces = np.empty(2 * len(a), dtype=[("n", "u1"), ("i", "<i4", 3)])
    faces["n"] = 3
    faces["i"][0::2] = np.stack([a, b, d], axis=1)
    faces["i"][1::2] = np.stack([a, d, c], axis=1)
    del a, b, c, d, idx
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meshes").mkdir(exist_ok=True)
    header = ("ply\nformat binary_little_endian 1.0\ncomment TextureFile scan.jpg\n"
              f"element vertex {len(verts)}\nproperty float x\nproperty float y\n"
              "property float z\nproperty float s\nproperty float t\n"
              f"element face {len(faces)}\nproperty list uchar int vertex_indices\n"
              "end_header\n").encode("ascii")
    with open(folder / "meshes" / "scan.ply", "wb") as f:
        f.write(header)
        f.write(verts.tobytes())
        f.write(faces.tobytes())
    _texture(folder / "meshes" / "scan.jpg", texture_px, rng)
    (folder / "fonts").mkdir(exist_ok=True)
    (folder / "fonts" / "boxes.ttf").write_bytes(_label_font())
    (folder / "bundle.toml").write_text(_BUNDLE, encoding="utf-8")
    return len(faces)


def _texture(path: Path, px: int, rng: np.random.Generator) -> None:
    """A glazed-ceramic colour field: celadon with darker bands and a mottled glaze."""
    from PIL import Image

    t = np.linspace(0.0, 1.0, px, dtype=np.float32)
    bands = 0.5 + 0.5 * np.sin(t * 60.0 * math.pi) ** 8            # along v (rows)
    mottle = np.sin(t * 23.0 * math.pi + 1.0)                        # along u (columns)
    shade = (0.82 + 0.1 * bands[:, None] + 0.05 * mottle[None, :]).astype(np.float32)
    tile = rng.integers(-12, 13, (256, 256), dtype=np.int16)
    noise = np.tile(tile, (px // 256 + 1, px // 256 + 1))[:px, :px]
    rgb = np.empty((px, px, 3), np.uint8)
    for k, base in enumerate((150, 185, 160)):
        rgb[..., k] = np.clip(base * shade + noise, 0, 255).astype(np.uint8)
    Image.fromarray(rgb, "RGB").save(path, "JPEG", quality=90)


def _label_font() -> bytes:
    """A label font of plain boxes for the scene's one plaque (the suite needs no real
    lettering, and a checkout's fonts may not be installed with the package)."""
    import io

    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    chars = " " + "".join(chr(c) for c in range(ord("A"), ord("Z") + 1)) + \
        "".join(chr(c) for c in range(ord("a"), ord("z") + 1))
    names = [".notdef"] + [f"g{ord(c)}" for c in chars]
    glyphs = {}
    for name in names:
        pen = TTGlyphPen(None)
        if name not in (".notdef", "g32"):
            for x, y in ((100, 0), (100, 700), (500, 700), (500, 0)):
                (pen.moveTo if (x, y) == (100, 0) else pen.lineTo)((x, y))
            pen.closePath()
        glyphs[name] = pen.glyph()
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({ord(c): f"g{ord(c)}" for c in chars})
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics({n: (600, 100) for n in names})
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Bench Boxes", "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=800, sTypoDescender=-200, usWinAscent=800, usWinDescent=200)
    fb.setupPost()
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


_BUNDLE = """\
[bundle]
id = "scan-bench"
version = "1.0.0"
title = { en = "Scan benchmark" }
rights = "generated by exhibit bench scan"
license = "CC0-1.0"

[[items]]
id = "vase"
title = { en = "A synthetic scan" }

[[scenes]]
id = "gallery"
kind = "heritage"
title = { en = "Scan" }
assets = ["meshes/scan.ply", "fonts/boxes.ttf"]

[[scenes.params.artifacts]]
item = "vase"
model = "meshes/scan.ply"
at = [0.0, 0.0]
plinth = [0.5, 0.5, 0.9]
title = "vase"

[scenes.labels]
vase = { en = "A synthetic scan" }

[assets."meshes/scan.ply"]
up = "z"
"""


# --------------------------------------------------------------------------- measuring


def _child(args: list[str], work: Path) -> tuple[dict[str, Any], float]:
    """Run ``_scan_proc`` with ``args``; its JSON result and peak RSS (MB)."""
    log = work / f"{args[0]}.log"
    with open(log, "w", encoding="utf-8") as err:
        proc = subprocess.run([sys.executable, "-m", "exhibit_engine.bench._scan_proc", *args],
                              stdout=subprocess.PIPE, stderr=err, text=True, check=False)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        raise ConfigError("<bench>", f"the {args[0]} step failed (exit {proc.returncode})"
                          + (f": {tail[0][:200]}" if tail else ""))
    result = json.loads(proc.stdout)
    return result, result["peak_bytes"] / MB


def _noop(stage: str, done: float, total: float) -> None:
    pass


def run(opts: ScanBenchOptions = ScanBenchOptions(), progress: Progress | None = None
        ) -> Report:
    """Run the scan suite (see the module docstring).

    Raises:
        ConfigError: a setting is out of range, or a step failed.
    """
    opts.check()
    prog = progress or _noop
    report = Report("scan", params={"triangles_requested": opts.triangles,
                                    "texture_px": opts.texture_px, "seed": opts.seed,
                                    "cpu_count": os.cpu_count()})
    report.notes += ["each step runs in a fresh child process; its peak RSS is its own "
                     "VmHWM, its time is measured inside it (imports excluded)",
                     "the baseline exports geometry and UVs only; pack also brings the "
                     "texture to its useful size and writes the zip"]
    with tempfile.TemporaryDirectory(prefix="exhibit-bench-scan-", dir=opts.workdir) as tmp:
        work = Path(tmp)
        src = work / "src"
        prog("making the synthetic scan", 0, 0)
        tris = make_scan(src, opts.triangles, opts.texture_px, opts.seed)
        ply = src / "meshes" / "scan.ply"
        report.params.update(triangles=tris, ply_mb=round(ply.stat().st_size / MB, 1))
        targets = [str(round(tris * r)) for r in _LOD_RATIOS]
        prog("packing (exhibit pack)", 0, 0)
        packed, pack_rss = _child(["pack", str(src), str(work / "scan.exb")], work)
        report.params["bundle_mb"] = round((work / "scan.exb").stat().st_size / MB, 1)
        prog("frames: levels chosen, full model, coarsest level", 0, 0)
        frames, _ = _child(["frames", str(work / "scan.exb"), str(opts.size[0]),
                            str(opts.size[1]), str(opts.frames), str(work / "cache")], work)
        (work / "scan.exb").unlink()
        prog("baseline (trimesh + fast-simplification + GLB export)", 0, 0)
        base, base_rss = _child(["baseline", str(ply), str(work / "base"), *targets], work)
    big = tris >= _BIG_SCAN
    mtri = tris / 1e6
    report.add("pack_s", packed["seconds"], "s", "exhibit pack of the scan")
    report.add("baseline_s", base["seconds"], "s", "trimesh load + simplify x2 + GLB export")
    report.add("pack_ratio", packed["seconds"] / base["seconds"], "x", "pack / baseline")
    report.add("pack_peak_rss_mb", pack_rss, "MB", "peak RSS of pack")
    report.add("baseline_peak_rss_mb", base_rss, "MB", "peak RSS of the baseline")
    report.add("rss_mb_per_mtri", pack_rss / mtri, "MB", "pack's peak RSS per million tris")
    report.params["lod_triangles"] = packed.get("lods")
    lod, full, lowest = (frames[k] for k in ("lod", "full", "lowest"))
    report.add("frame_ms_full", full["frame_ms"], "ms", "frame, the full scan forced")
    report.add("frame_ms_lod", lod["frame_ms"], "ms", "frame, levels chosen as a node does")
    report.add("frame_ms_lowest", lowest["frame_ms"], "ms", "frame, the coarsest level forced")
    report.add("lod_ratio", lod["frame_ms"] / lowest["frame_ms"], "x",
               "levels chosen / coarsest forced")
    report.params.update(level_chosen=lod["level"], frame_size=f"{opts.size[0]}x{opts.size[1]}",
                         load_s={k: round(frames[k]["load_s"], 1) for k in ("lod", "full", "lowest")})
    why = "a scan under 1 million triangles"
    report.targets += [Target("rss_mb_per_mtri", "<=", 300.0, big, why),
                       Target("pack_ratio", "<=", 2.0, big, why),
                       Target("lod_ratio", "<=", 1.2, big, why)]
    return report

