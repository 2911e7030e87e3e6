"""``exhibit bench bundle``: validation against hashing, and the model cache against conversion.

What is measured, each against a baseline from the same run:

- ``sha256_mb_s``: plain ``hashlib.sha256`` over the bundle file, read in the same 1 MiB
  chunks validation uses (the fastest any validation could go);
  ``validate_mb_s``: :func:`~exhibit_engine.assets.bundle.validate`, what `exhibit
  validate` runs (structure, every file's size and SHA-256, every model's and image's
  content check), wall time over the files' bytes;
  ``validate_ratio`` = validate / sha256 (medians of ``repeat`` interleaved runs, after
  one untimed read so both start from a warm page cache).
- ``validate_peak_rss_mb``: the peak resident memory (VmHWM, else ru_maxrss) of a fresh
  child process that only opens and validates the bundle, so the benchmark's own data
  never counts; ``validate_baseline_rss_mb`` is that child's RSS before validating.
- ``raw_gltf_load_ms``: :func:`~exhibit_engine.scenes.base.load_glb` on the GLB bytes
  (checks and panda3d-gltf conversion), the median of ``loads`` runs after a warm-up;
  ``cache_fill_ms``: the first load through an empty
  :class:`~exhibit_engine.runtime.cache.ModelCache` (convert, encode, write, decode);
  ``cached_load_ms``: a cache hit by the asset's SHA-256, as the runtime loads
  (read the entry, check size and SHA-256, decode), median of ``loads``;
  ``cache_speedup`` = raw / cached.

Without ``bundle`` the suite makes its own data in a temporary folder that is always
deleted: incompressible random files (``size_mb`` in all) and a textured relief model of
at least ``triangles`` triangles (a height field with normals, UVs and an embedded PNG),
packed by the real :func:`~exhibit_engine.assets.pack.pack`. The model measured is the
bundle's largest GLB, so a packing step that rewrites models is measured as shipped.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..assets.bundle import Bundle, validate
from ..assets.gltf import split_glb
from ..assets.pack import pack
from ..errors import ConfigError
from . import MB, Progress, Report, Target, median_ms

__all__ = ["BundleBenchOptions", "GLB_MEDIA_TYPE", "glb_triangles", "make_textured_glb", "run"]

GLB_MEDIA_TYPE = "model/gltf-binary"
_CHUNK = 1 << 20            # the chunk size Bundle's streaming reads use
_NOISE_FILE = 16 * MB       # one random file of the synthetic bundle
_BIG_BUNDLE = 200 * MB      # targets on validation apply from this size
_BIG_MODEL = 100_000        # ... and on the cache from this many (textured) triangles

_RSS_CHILD = r"""
import json, os, resource, sys
from exhibit_engine.assets.bundle import validate

def status(field):
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None

before = status("VmRSS")
validate(sys.argv[1])
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
maxrss = maxrss if sys.platform == "darwin" else maxrss * 1024
print(json.dumps({"hwm": status("VmHWM"), "maxrss": maxrss, "before": before}))
"""


@dataclass(frozen=True)
class BundleBenchOptions:
    """Settings of the bundle suite.

    Attributes:
        bundle: measure this bundle instead of making one.
        size_mb: size of the synthetic random files, in MB (10**6 bytes).
        triangles: least triangle count of the synthetic model.
        texture_px: side of the synthetic model's texture, in pixels.
        repeat: timed runs of hashing and of validation (medians are reported).
        loads: timed model loads, uncached and cached (medians are reported).
        seed: seed of the synthetic data.
        workdir: where the temporary folder goes (default: the system's).
    """

    bundle: Path | None = None
    size_mb: float = 200.0
    triangles: int = 100_000
    texture_px: int = 1024
    repeat: int = 3
    loads: int = 5
    seed: int = 0
    workdir: Path | None = None

    def check(self) -> None:
        """Raises ConfigError naming the first setting out of range."""
        checks = (
            (self.size_mb > 0 and math.isfinite(self.size_mb), "--size-mb", "must be > 0"),
            (2 <= self.triangles <= 20_000_000, "--triangles", "must be 2..20000000"),
            (16 <= self.texture_px <= 8192, "--texture-px", "must be 16..8192"),
            (1 <= self.repeat <= 100, "--repeat", "must be 1..100"),
            (1 <= self.loads <= 1000, "--loads", "must be 1..1000"),
        )
        for ok, key, why in checks:
            if not ok:
                raise ConfigError("<flags>", why, key=key)


# --------------------------------------------------------------------------- synthetic data


def _height(u: np.ndarray, v: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """A rolling relief in metres over the unit square (smooth, so normals are clean)."""
    tau = 2.0 * math.pi
    return (2.2 * np.sin(tau * (1.3 * u + 0.4 * v) + phases[0])
            + 1.4 * np.cos(tau * (0.7 * u - 1.9 * v) + phases[1])
            + 0.5 * np.sin(tau * (5.1 * u + 3.3 * v) + phases[2])
            + 0.25 * np.cos(tau * (9.7 * u - 7.4 * v) + phases[3]))


def _texture_png(px: int, phases: np.ndarray) -> bytes:
    """A topographic map of the relief: colour by height, contour lines, a survey grid."""
    t = (np.arange(px, dtype=np.float64) + 0.5) / px
    u, v = np.meshgrid(t, t, indexing="xy")
    h = _height(u, v, phases)
    k = np.clip((h + 4.4) / 8.8, 0.0, 1.0)[..., None]
    low, mid, high = (np.array(c, dtype=np.float64) for c in
                      ((38, 92, 120), (120, 160, 90), (235, 232, 220)))
    rgb = np.where(k < 0.5, low + (mid - low) * (k / 0.5), mid + (high - mid) * ((k - 0.5) / 0.5))
    contour = np.abs(((h * 2.0) % 1.0) - 0.5) > 0.46
    rgb[contour] *= 0.55
    grid = ((u * 16.0) % 1.0 < 0.004) | ((v * 16.0) % 1.0 < 0.004)
    rgb[grid] = 250.0
    buf = io.BytesIO()
    Image.fromarray(rgb.astype(np.uint8), "RGB").save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _pad4(data: bytes, fill: bytes = b"\0") -> bytes:
    return data + fill * (-len(data) % 4)


def make_textured_glb(triangles: int = 100_000, texture_px: int = 1024, seed: int = 0) -> bytes:
    """A self-contained GLB: a relief of at least ``triangles`` triangles with a PNG texture.

    A square height field 40 m across (glTF's Y up), with per-vertex normals, UVs
    0..1 and 32-bit indices, one material whose base colour is an embedded PNG of
    ``texture_px`` squared pixels. Deterministic for a given seed.
    """
    n = max(1, math.ceil(math.sqrt(triangles / 2.0)))
    phases = np.random.default_rng(seed).uniform(0.0, 2.0 * math.pi, 4)
    t = np.linspace(0.0, 1.0, n + 1)
    u, v = np.meshgrid(t, t, indexing="xy")
    h = _height(u, v, phases)
    side = 40.0
    pos = np.stack([(u - 0.5) * side, h, (v - 0.5) * side], axis=-1).reshape(-1, 3)
    dh_dv, dh_du = np.gradient(h, t, t)
    nrm = np.stack([-dh_du / side, np.ones_like(h), -dh_dv / side], axis=-1).reshape(-1, 3)
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    uv = np.stack([u, v], axis=-1).reshape(-1, 2)
    a = (np.arange(n)[:, None] * (n + 1) + np.arange(n)[None, :]).reshape(-1)
    b, c = a + 1, a + (n + 1)
    d = c + 1
    idx = np.stack([a, c, b, b, c, d], axis=-1).astype(np.uint32).reshape(-1)

    pos32, nrm32, uv32 = (x.astype(np.float32) for x in (pos, nrm, uv))
    blobs = [pos32.tobytes(), nrm32.tobytes(), uv32.tobytes(), idx.tobytes(),
             _texture_png(texture_px, phases)]
    views, binary = [], b""
    for i, blob in enumerate(blobs):
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(binary), "byteLength": len(blob)}
        if i < 3:
            view["target"] = 34962
        elif i == 3:
            view["target"] = 34963
        views.append(view)
        binary += _pad4(blob)
    count = len(pos32)
    doc = {
        "asset": {"version": "2.0", "generator": "exhibit-engine bench"},
        "scene": 0, "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": "relief"}],
        "meshes": [{"name": "relief", "primitives": [{
            "attributes": {"POSITION": 0, "NORMAL": 1, "TEXCOORD_0": 2},
            "indices": 3, "material": 0, "mode": 4}]}],
        "materials": [{"name": "topographic", "pbrMetallicRoughness": {
            "baseColorTexture": {"index": 0}, "metallicFactor": 0.0,
            "roughnessFactor": 0.85}}],
        "textures": [{"sampler": 0, "source": 0}],
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}],
        "images": [{"bufferView": 4, "mimeType": "image/png", "name": "topographic"}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": count, "type": "VEC3",
             "min": pos32.min(axis=0).tolist(), "max": pos32.max(axis=0).tolist()},
            {"bufferView": 1, "componentType": 5126, "count": count, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5126, "count": count, "type": "VEC2"},
            {"bufferView": 3, "componentType": 5125, "count": int(idx.size), "type": "SCALAR"},
        ],
        "bufferViews": views,
        "buffers": [{"byteLength": len(binary)}],
    }
    js = _pad4(json.dumps(doc, separators=(",", ":")).encode(), b" ")
    body = (struct.pack("<I4s", len(js), b"JSON") + js
            + struct.pack("<I4s", len(binary), b"BIN\0") + binary)
    return b"glTF" + struct.pack("<II", 2, 12 + len(body)) + body


def glb_triangles(data: bytes, name: str = "model.glb") -> tuple[int, bool]:
    """(triangles in the GLB's meshes, whether it embeds an image), from its JSON only.

    Raises:
        AssetError: not a GLB.
    """
    doc, _ = split_glb(data, name)
    accessors = doc.get("accessors", [])
    total = 0
    for mesh in doc.get("meshes", []):
        for prim in mesh.get("primitives", []) if isinstance(mesh, dict) else []:
            if not isinstance(prim, dict) or prim.get("mode", 4) != 4:
                continue
            acc = prim.get("indices", prim.get("attributes", {}).get("POSITION"))
            if isinstance(acc, int) and 0 <= acc < len(accessors):
                total += int(accessors[acc].get("count", 0)) // 3
    return total, bool(doc.get("images"))


_BUNDLE_TOML = """\
[bundle]
id = "bench-bundle"
version = "1.0.0"
title = {{ zh = "基准测试", en = "Benchmark bundle", ru = "Тестовый пакет" }}
rights = "generated by exhibit bench bundle"
license = "CC0-1.0"

[[scenes]]
id = "relief"
kind = "ice"
title = {{ zh = "地形", en = "Relief", ru = "Рельеф" }}
assets = ["meshes/relief.glb"]
[scenes.params]
snowflakes = 2000
seed = {seed}
"""


def _make_source(folder: Path, opts: BundleBenchOptions, progress: Progress) -> int:
    """Write the synthetic source folder; returns its byte count."""
    (folder / "data").mkdir(parents=True)
    (folder / "meshes").mkdir()
    (folder / "bundle.toml").write_text(_BUNDLE_TOML.format(seed=opts.seed), encoding="utf-8")
    total = int(opts.size_mb * MB)
    rng = np.random.default_rng(opts.seed)
    done = 0
    for i in range(math.ceil(total / _NOISE_FILE)):
        n = min(_NOISE_FILE, total - done)
        (folder / "data" / f"noise-{i:03d}.bin").write_bytes(rng.bytes(n))
        done += n
        progress("making random data", done, total)
    progress("making the textured model", 0, 0)
    glb = make_textured_glb(opts.triangles, opts.texture_px, opts.seed)
    (folder / "meshes" / "relief.glb").write_bytes(glb)
    return total + len(glb)


# --------------------------------------------------------------------------- measuring


def _hash_file(path: Path) -> int:
    h = hashlib.sha256()
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            n += len(chunk)
    h.hexdigest()
    return n


def _validate(path: Path) -> int:
    """What `exhibit validate` does: structure, every hash, then every content check."""
    return sum(entry.size for entry in validate(path).files)


def _timed(fn: Any, path: Path) -> tuple[int, float]:
    t0 = time.perf_counter()
    n = fn(path)
    return n, time.perf_counter() - t0


def _throughput(path: Path, repeat: int, progress: Progress) -> dict[str, float]:
    """Median MB/s of hashing and of validating the same file, interleaved."""
    _hash_file(path)     # warm the page cache for both
    sha, val = [], []
    for i in range(repeat):
        progress("hashing and validating", 2 * i, 2 * repeat)
        n, s = _timed(_hash_file, path)
        sha.append(n / s / MB)
        progress("hashing and validating", 2 * i + 1, 2 * repeat)
        n, s = _timed(_validate, path)
        val.append(n / s / MB)
    progress("hashing and validating", 2 * repeat, 2 * repeat)
    sha_mb_s, val_mb_s = statistics.median(sha), statistics.median(val)
    return {"sha256_mb_s": sha_mb_s, "validate_mb_s": val_mb_s,
            "validate_ratio": val_mb_s / sha_mb_s}


def _validation_rss(path: Path) -> dict[str, float | None]:
    """Peak and starting RSS (MB) of a fresh process that validates the bundle."""
    res = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(path)], check=False,
                         capture_output=True, text=True, timeout=1800)
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConfigError(str(path), f"validation failed in the measuring process: {tail}")
    info = json.loads(res.stdout.strip().splitlines()[-1])
    peak = info["hwm"] or info["maxrss"]
    return {"validate_peak_rss_mb": peak / MB if peak else None,
            "validate_baseline_rss_mb": info["before"] / MB if info["before"] else None}


def _model_timings(glb: bytes, name: str, cache_dir: Path, loads: int) -> dict[str, float]:
    """Uncached conversion against cache hits for one GLB (Panda3D from here on)."""
    from ..runtime.cache import ModelCache
    from ..scenes.base import load_glb

    load_glb(glb, name)                     # warm-up: imports, first-use allocations
    raw = median_ms(lambda: load_glb(glb, name), loads)
    sha = hashlib.sha256(glb).hexdigest()
    cache = ModelCache(cache_dir, max_bytes=None)
    t0 = time.perf_counter()
    cache.fetch(sha, name, lambda: glb)
    fill = (time.perf_counter() - t0) * 1e3
    cached = median_ms(lambda: cache.fetch(sha, name, lambda: glb), loads)
    if cache.stats.hits != loads or cache.stats.misses != 1:
        raise ConfigError(str(cache_dir), f"the cache did not serve the loads ({cache.stats})")
    return {"raw_gltf_load_ms": raw, "cache_fill_ms": fill, "cached_load_ms": cached,
            "cache_speedup": raw / cached,
            "bam_mb": cache.entry_path(sha).stat().st_size / MB}


def _largest_glb(path: Path) -> tuple[str, bytes] | None:
    with Bundle.open(path) as bundle:
        glbs = [f for f in bundle.manifest.files if f.media_type == GLB_MEDIA_TYPE]
        if not glbs:
            return None
        best = max(glbs, key=lambda f: (f.size, f.path))
        return best.path, bundle.read(best.path)


def _noop(stage: str, done: float, total: float) -> None:
    """A progress callback that shows nothing."""


def _measure(r: Report, path: Path, work: Path, opts: BundleBenchOptions,
             progress: Progress) -> None:
    """Fill the report with everything measured on one bundle file."""
    with Bundle.open(path) as bundle:       # a missing or broken bundle fails here, clearly
        files = len(bundle.manifest.files)
    size = path.stat().st_size
    r.params.update({"bundle_mb": round(size / MB, 3), "bundle_files": files})
    speeds = _throughput(path, opts.repeat, progress)
    progress("peak memory of validation (child process)", 0, 0)
    rss = _validation_rss(path)
    r.add("sha256_mb_s", speeds["sha256_mb_s"], "MB/s", "SHA-256 of the file (baseline)")
    r.add("validate_mb_s", speeds["validate_mb_s"], "MB/s", "validate (as exhibit validate)")
    r.add("validate_ratio", speeds["validate_ratio"], "x", "validate / SHA-256")
    r.add("validate_peak_rss_mb", rss["validate_peak_rss_mb"], "MB",
          "peak RSS of validation")
    r.add("validate_baseline_rss_mb", rss["validate_baseline_rss_mb"], "MB",
          "... of which interpreter + imports")
    big = size >= _BIG_BUNDLE
    why = "bundle under 200 MB"
    r.targets += [Target("validate_ratio", ">=", 0.8, big, why),
                  Target("validate_peak_rss_mb", "<=", 200.0, big, why)]

    progress("loading the model, uncached and cached", 0, 0)
    found = _largest_glb(path)
    keys = ("raw_gltf_load_ms", "cache_fill_ms", "cached_load_ms", "cache_speedup")
    if found is None:
        r.notes.append("the bundle holds no GLB: model timings skipped")
        timings: dict[str, float | None] = dict.fromkeys(keys)
        tris, textured = 0, False
    else:
        name, glb = found
        tris, textured = glb_triangles(glb, name)
        r.params.update({"model": name, "model_mb": round(len(glb) / MB, 3),
                         "model_triangles": tris, "model_textured": textured})
        timings = dict(_model_timings(glb, name, work / "cache", opts.loads))
        r.params["bam_mb"] = round(float(timings.pop("bam_mb") or 0.0), 3)
    r.add("raw_gltf_load_ms", timings["raw_gltf_load_ms"], "ms", "GLB -> Panda3D, uncached")
    r.add("cache_fill_ms", timings["cache_fill_ms"], "ms", "first load, filling the cache")
    r.add("cached_load_ms", timings["cached_load_ms"], "ms", "cache hit (checked BAM)")
    r.add("cache_speedup", timings["cache_speedup"], "x", "uncached / cached")
    r.targets.append(Target("cache_speedup", ">=", 10.0,
                            tris >= _BIG_MODEL and textured,
                            "model under 100k textured triangles"))


def run(opts: BundleBenchOptions = BundleBenchOptions(),
        progress: Progress | None = None) -> Report:
    """Run the bundle suite.

    Args:
        opts: the settings.
        progress: called as stages advance (for a progress bar).

    Returns:
        The report (see the module docstring for each metric).

    Raises:
        ConfigError: a setting is out of range, or a measurement failed.
        BundleError: the given (or synthetic) bundle is not valid.
    """
    opts.check()
    prog = progress or _noop
    report = Report("bundle", params={"repeat": opts.repeat, "loads": opts.loads,
                                      "synthetic": opts.bundle is None})
    report.notes += [
        "MB = 10**6 bytes; throughputs are medians of interleaved runs on a warm page cache",
        "peak RSS is measured in a fresh child process that only validates",
        "cached_load_ms is a hit by the asset's SHA-256: read, check and decode the BAM",
    ]
    with tempfile.TemporaryDirectory(prefix="exhibit-bench-", dir=opts.workdir) as tmp:
        work = Path(tmp)
        if opts.bundle is not None:
            report.params["bundle"] = str(opts.bundle)
            _measure(report, Path(opts.bundle), work, opts, prog)
        else:
            report.params.update({"size_mb": opts.size_mb, "triangles": opts.triangles,
                                  "texture_px": opts.texture_px, "seed": opts.seed})
            src = work / "src"
            source_bytes = _make_source(src, opts, prog)
            out = work / "bench.exb"
            done = [0]

            def packed(name: str, n: int) -> None:
                done[0] += n
                prog("packing", done[0], source_bytes)

            pack(src, out, progress=packed)
            shutil.rmtree(src)      # free the disk before measuring
            _measure(report, out, work, opts, prog)
    return report
