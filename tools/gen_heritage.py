#!/usr/bin/env python3
"""Generate the sample heritage bundle source (``content/heritage``) from code.

Three artifacts, modelled in metres (Z-up, base at z = 0, axis through the origin) by
lathe and sweep (see ``tools/_lathe.py``) and written as glTF 2.0 binaries:

- ``meshes/ding.glb``: a bronze tripod cauldron (ding), 0.47 m high: a round belly with a
  cast band of raised bosses between two fillets, a folded lip, two upright loop handles
  (a rounded cross-section swept along an arch) and three column legs.
- ``meshes/vase.glb``: a celadon meiping vase, 0.36 m: small mouth, broad shoulder,
  carved lotus petals on the lower body, an unglazed foot ring.
- ``meshes/bowl.glb``: a Hongshan-style painted pottery bowl, 0.26 m across: red clay,
  a black rim band and rows of painted scales.

Patina and glaze are baked per vertex from the geometry: green-blue patina gathers in
recesses (low relief, profile concavities, near the ground), worn gold shows on raised
edges; glaze pools darker in carved lines. Each is an ordinary glTF metallic-roughness
material: COLOR_0 is the linear albedo, and a metalness and roughness per vertex reach
the metallic-roughness texture through TEXCOORD_1 (see ``tools/_lathe.py``: bronze is
metal where worn to gold, rough in its patina; glaze is glossy; clay is matte).
TEXCOORD_0 holds surface metres (around, along).

It writes ``bundle.toml`` (items with Dublin Core, the scene with its artifacts,
anchored annotations and tour, and every visitor-facing text in zh/en/ru) and copies
the label font and its licence from ``content/fonts``; every text is checked against
the font. Byte-for-byte reproducible on every CPU: seeded noise, trigonometry and powers
from :mod:`exhibit_engine.assets.portable_math`, rounded coordinates, fixed JSON.

Usage::

    python tools/gen_heritage.py [--out DIR]
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _content import LABEL_FONT, label_font_files, run, write_files
from _lathe import Mesh, lathe, resample, sweep, value_noise, write_glb

from exhibit_engine.assets import portable_math as pm

__all__ = ["build_bowl", "build_ding", "build_vase", "generate", "main"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "content" / "heritage"
GENERATOR = "exhibit-engine tools/gen_heritage.py"
COPYRIGHT = "2026 Exhibit Engine contributors, CC-BY-4.0"


def _srgb(*c: float) -> np.ndarray:
    return np.asarray(c, dtype=np.float64)


def _mix(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)[..., None]
    return a * (1.0 - w) + b * w


def _smooth(e0: float, e1: float, x) -> np.ndarray:
    u = np.clip((np.asarray(x, dtype=np.float64) - e0) / (e1 - e0), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _rgba(rgb: np.ndarray, a) -> np.ndarray:
    a = np.broadcast_to(np.asarray(a, dtype=np.float64), rgb.shape[:-1])
    return np.concatenate([np.clip(rgb, 0.0, 1.0), a[..., None]], axis=-1)


def _concat(*parts) -> np.ndarray:
    """Join profile pieces, dropping each piece's first point (the previous one's last)."""
    out = [np.asarray(parts[0], dtype=np.float64)]
    for p in parts[1:]:
        out.append(np.asarray(p, dtype=np.float64)[1:])
    return np.concatenate(out)


# --------------------------------------------------------------------------- bronze

BRONZE = _srgb(0.33, 0.24, 0.14)
GOLD = _srgb(0.80, 0.60, 0.31)
MALACHITE = _srgb(0.24, 0.47, 0.36)
CRUST = _srgb(0.52, 0.67, 0.58)
AZURITE = _srgb(0.22, 0.38, 0.47)
EARTH = _srgb(0.36, 0.30, 0.22)


def _bronze(recess, edge, u, v, seed: int, inside=None) -> np.ndarray:
    """Bronze colours: patina where ``recess``, worn gold where ``edge`` (both 0..1)."""
    n1 = value_noise(u, v, seed, (14, 10), 4)
    n2 = value_noise(u, v, seed + 1, (40, 28), 2)
    patina = np.clip(0.35 + 0.9 * recess + 0.9 * (n1 - 0.5) - 0.8 * edge, 0.0, 1.0)
    patina = _smooth(0.25, 0.75, patina)
    green = _mix(MALACHITE, CRUST, _smooth(0.45, 0.8, n2))
    green = _mix(green, AZURITE, _smooth(0.68, 0.85, n1) * 0.6)
    metal = _mix(BRONZE, GOLD, np.clip(edge * 1.2, 0.0, 1.0))
    rgb = _mix(metal, green, patina)
    if inside is not None:
        rgb = _mix(rgb, EARTH, inside * 0.6)
        patina = np.maximum(patina, inside * 0.8)
    metalness = np.clip((1.0 - patina) * (0.55 + 0.45 * edge), 0.0, 1.0)
    return _rgba(rgb, 0.5 + 0.5 * metalness)


def _boss_band(phi, s, z) -> np.ndarray:
    """Cast relief on the ding's belly: two fillets and a row of 24 bosses (metres)."""
    fillet = 0.0022 * (_smooth(0.004, 0.0, np.abs(z - 0.276)) + _smooth(0.004, 0.0, np.abs(z - 0.336)))
    band = 0.0010 * _smooth(0.270, 0.274, z) * _smooth(0.342, 0.338, z)
    k = np.round(phi / (2 * np.pi) * 24.0)
    dphi = (phi - k * 2 * np.pi / 24.0) * 0.2
    d = pm.hypot(dphi, z - 0.306) / 0.013
    boss = 0.0065 * pm.power(np.clip(1.0 - d * d, 0.0, 1.0), 0.75)
    # a fine square-spiral ground (leiwen) between the bosses, very low
    cell = (phi / (2 * np.pi) * 72.0) % 1.0 - 0.5
    row = ((z - 0.276) / 0.020) % 1.0 - 0.5
    ring = np.maximum(np.abs(cell), np.abs(row))
    lei = 0.0007 * (pm.cos(ring * 2 * np.pi * 2.0) > 0.0) * (d > 1.15)
    inband = _smooth(0.281, 0.284, z) * _smooth(0.331, 0.328, z)
    return fillet + band + boss + lei * inband


def build_ding() -> Mesh:
    """The bronze ding (0.47 m): belly with boss band, lip, two handles, three legs."""
    mesh = Mesh()
    below = resample([(0.001, 0.150), (0.07, 0.156), (0.14, 0.178), (0.185, 0.215),
                      (0.200, 0.250), (0.201, 0.270)], 34)
    band = resample([(0.201, 0.270), (0.200, 0.306), (0.197, 0.342)], 44)
    neck = resample([(0.197, 0.342), (0.193, 0.356), (0.200, 0.366), (0.214, 0.372),
                     (0.216, 0.378), (0.210, 0.381), (0.196, 0.379)], 16)
    inner = resample([(0.196, 0.379), (0.187, 0.360), (0.193, 0.300), (0.178, 0.220),
                      (0.10, 0.170), (0.001, 0.160)], 26)
    prof = _concat(below, band, neck, inner)
    grid, f = lathe(prof, 176, displace=_boss_band)
    u, v = f["phi"] / (2 * np.pi), f["s"] / f["s"].max()
    relief = f["disp"]
    in_band = (f["z"] > 0.27) & (f["z"] < 0.343) & (np.arange(len(prof))[:, None] < 95)
    recess = np.where(in_band, _smooth(0.0030, 0.0, relief), 0.0)
    recess = recess + _smooth(0.20, 0.15, f["z"]) * 0.5
    edge = np.where(in_band, _smooth(0.003, 0.0062, relief), 0.0)
    edge = np.maximum(edge, _smooth(40.0, 120.0, f["bend"]) * 0.9)
    inside = (np.arange(len(prof))[:, None] >= len(prof) - len(inner)).astype(float)
    inside = np.broadcast_to(inside, relief.shape)
    mesh.add_grid(grid, _bronze(recess, edge, u, v, 11, inside))

    # Legs: columns with a swelling below the belly and a flared foot.
    leg_prof = resample([(0.001, 0.0), (0.030, 0.0), (0.031, 0.006), (0.024, 0.030),
                         (0.022, 0.090), (0.027, 0.150), (0.034, 0.185), (0.030, 0.215),
                         (0.001, 0.218)], 28)
    leg, lf = lathe(leg_prof, 28)
    for k, ang in enumerate((np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3)):
        m = np.eye(4)
        m[:3, 3] = (0.125 * pm.cos(ang), 0.125 * pm.sin(ang), 0.0)
        recess = 0.5 * _smooth(0.06, 0.0, lf["z"]) + 0.3 * _smooth(0.16, 0.2, lf["z"])
        edge = _smooth(30.0, 150.0, lf["bend"]) * 0.8
        lu, lv = lf["phi"] / (2 * np.pi), lf["s"] / lf["s"].max()
        mesh.add_grid(leg, _bronze(recess, edge, lu, lv + 0.1 * k, 20 + k), transform=m)

    # Upright loop handles: a rounded section swept along a rounded arch on the rim.
    t = np.linspace(0.0, 2 * np.pi, 64, endpoint=False)
    half_w, half_h, zc = 0.052, 0.050, 0.420
    cx, cz = pm.cos(t), pm.sin(t)
    px = half_w * np.sign(cx) * pm.power(np.abs(cx), 0.45)
    pz = zc + half_h * np.sign(cz) * pm.power(np.abs(cz), 0.45)
    a = np.linspace(0.0, 2 * np.pi, 12, endpoint=False)
    section = np.stack([0.0085 * np.sign(pm.cos(a)) * pm.power(np.abs(pm.cos(a)), 0.6),
                        0.0065 * np.sign(pm.sin(a)) * pm.power(np.abs(pm.sin(a)), 0.6)], axis=1)
    for k, side in enumerate((1.0, -1.0)):
        path = np.stack([np.full_like(t, 0.203 * side), side * px, pz], axis=1)
        g = sweep(path, section)
        ring = np.concatenate([path, path[:1]])[None, :, :]
        out = float(np.sum(g.normals() * (g.pos - ring), axis=-1).mean()) < 0.0
        hu, hv = g.uv[..., 0] / g.uv[..., 0].max(), g.uv[..., 1] / g.uv[..., 1].max()
        top = _smooth(0.44, 0.47, g.pos[..., 2])
        outer_rim = _smooth(0.3, 0.9, np.abs(pm.sin(2 * np.pi * hv)))
        mesh.add_grid(g, _bronze(0.4 * (1 - top), 0.5 * top + 0.3 * outer_rim, hu, hv, 30 + k),
                      flip=out)
    return mesh


# --------------------------------------------------------------------------- ceramics

CELADON = _srgb(0.58, 0.69, 0.56)
CELADON_POOL = _srgb(0.33, 0.49, 0.40)
BISCUIT = _srgb(0.70, 0.45, 0.30)
CLAY = _srgb(0.66, 0.36, 0.23)
PAINT = _srgb(0.11, 0.085, 0.075)


def _petals(phi, s, z) -> np.ndarray:
    """Incised lotus petals on the vase's lower body: lines 1.2 mm deep (negative)."""
    k = 12.0
    x = (phi / (2 * np.pi) * k) % 1.0 - 0.5
    h = (z - 0.03) / 0.12                      # 0 at the petal base, 1 at the tip
    outline = 0.5 * np.sqrt(np.clip(1.0 - h, 0.0, 1.0)) * np.clip(h * 3.0, 0.0, 1.0)
    line = _smooth(0.035, 0.0, np.abs(np.abs(x) - outline * 0.9))
    inner = _smooth(0.03, 0.0, np.abs(np.abs(x) - outline * 0.55)) * (h < 0.8)
    zone = _smooth(0.03, 0.045, z) * _smooth(0.16, 0.14, z)
    top_line = _smooth(0.003, 0.0, np.abs(z - 0.155))
    return -0.0012 * np.clip(zone * (line + 0.6 * inner) + top_line, 0.0, 1.0)


def build_vase() -> Mesh:
    """A celadon meiping (0.36 m) with carved lotus petals and an unglazed foot."""
    outer = resample([(0.001, 0.004), (0.055, 0.004), (0.062, 0.000), (0.068, 0.003),
                      (0.070, 0.012), (0.078, 0.060), (0.098, 0.150), (0.118, 0.235),
                      (0.120, 0.262), (0.108, 0.293), (0.070, 0.318), (0.035, 0.330),
                      (0.030, 0.338), (0.036, 0.348), (0.040, 0.356), (0.034, 0.360),
                      (0.024, 0.357), (0.022, 0.335)], 150)
    grid, f = lathe(outer, 160, displace=_petals)
    u, v = f["phi"] / (2 * np.pi), f["s"] / f["s"].max()
    n = value_noise(u, v, 41, (10, 16), 3)
    pool = np.clip(_smooth(0.0, -0.0011, f["disp"]) + 0.35 * _smooth(0.10, 0.02, f["z"])
                   + 0.25 * _smooth(0.0, -60.0, f["bend"]) + 0.25 * (n - 0.5), 0.0, 1.0)
    rgb = _mix(CELADON, CELADON_POOL, pool)
    thin = _smooth(40.0, 160.0, f["bend"]) * 0.6          # glaze thins on the lip: paler
    rgb = _mix(rgb, _srgb(0.74, 0.80, 0.70), thin)
    foot = _smooth(0.016, 0.011, f["z"]) * (f["s"] > 0.03)
    rgb = _mix(rgb, BISCUIT, foot)
    alpha = 0.30 * (1.0 - foot) + 0.10 * foot
    mesh = Mesh()
    mesh.add_grid(grid, _rgba(rgb, alpha))
    return mesh


def build_bowl() -> Mesh:
    """A Hongshan-style painted pottery bowl (0.26 m across), red clay, black paint."""
    outer = resample([(0.001, 0.000), (0.045, 0.000), (0.070, 0.006), (0.105, 0.028),
                      (0.126, 0.058), (0.132, 0.082), (0.130, 0.094)], 60)
    lip = resample([(0.130, 0.094), (0.128, 0.098), (0.123, 0.097), (0.121, 0.093)], 8)
    inner = resample([(0.121, 0.093), (0.122, 0.080), (0.115, 0.055), (0.095, 0.030),
                      (0.060, 0.012), (0.001, 0.008)], 40)
    prof = _concat(outer, lip, inner)
    grid, f = lathe(prof, 192)
    u, v, z = f["phi"] / (2 * np.pi), f["s"] / f["s"].max(), f["z"]
    is_out = np.broadcast_to((np.arange(len(prof)) < len(outer) + 4)[:, None], z.shape)
    # rim band, then two rows of overlapping scales (arcs open downwards)
    paint = _smooth(0.074, 0.078, z)
    k = 18.0
    for row, (z0, shift) in enumerate(((0.060, 0.0), (0.044, 0.5))):
        x = (u * k + shift) % 1.0 - 0.5
        d = pm.hypot(x * 2.0 * np.pi * 0.13 / k, (z - z0))
        arc = _smooth(0.0028, 0.0012, np.abs(d - 0.0105)) * (z > z0 - 0.002)
        dot = _smooth(0.0034, 0.0024, d)
        paint = np.maximum(paint, (arc + dot) * _smooth(0.030, 0.036, z))
    paint = np.where(is_out, paint, _smooth(0.088, 0.091, z))
    wear = value_noise(u, v, 52, (24, 12), 3)
    paint = paint * _smooth(0.15, 0.45, wear + 0.25)
    clay = _mix(CLAY, CLAY * 0.78, _smooth(0.3, 0.8, value_noise(u, v, 53, (8, 6), 3)))
    clay = _mix(clay, _srgb(0.52, 0.42, 0.34), _smooth(0.012, 0.0, z) * is_out)
    rgb = _mix(clay, PAINT, paint)
    mesh = Mesh()
    mesh.add_grid(grid, _rgba(rgb, 0.10 + 0.06 * paint))
    return mesh


# --------------------------------------------------------------------------- bundle

def _bundle_toml() -> str:
    from _heritage_texts import BUNDLE_TOML
    return BUNDLE_TOML


def _check_font(text: str, font_bytes: bytes) -> None:
    """Every character of the bundle's texts must be in the label font."""
    import io

    from fontTools.ttLib import TTFont

    doc = tomllib.loads(text)
    cmap = TTFont(io.BytesIO(font_bytes)).getBestCmap()
    chars: set[str] = set()

    def walk(x) -> None:
        if isinstance(x, str):
            chars.update(x)
        elif isinstance(x, dict):
            for y in x.values():
                walk(y)
        elif isinstance(x, list):
            for y in x:
                walk(y)

    for key in ("items", "scenes"):
        for entry in doc.get(key, []):
            for name in ("title", "description", "labels"):
                walk(entry.get(name, {}))
    missing = sorted(c for c in chars if ord(c) not in cmap and c not in "\n")
    if missing:
        raise SystemExit(f"the label font lacks {''.join(missing)!r}")


def generate(out: Path) -> list[Path]:
    """Write the bundle source folder into ``out``; return the files written."""
    text = _bundle_toml()
    fonts = label_font_files(out)
    _check_font(text, fonts[out / "fonts" / LABEL_FONT])
    files = {out / "bundle.toml": text.encode("utf-8")}
    for name, build in (("ding", build_ding), ("vase", build_vase), ("bowl", build_bowl)):
        files[out / "meshes" / f"{name}.glb"] = write_glb([(name, build())], GENERATOR,
                                                          COPYRIGHT)
    files.update(fonts)
    return write_files(files)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``--out DIR`` (default ``content/heritage``)."""
    return run(generate, DEFAULT_OUT, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
