"""Woodblock separation: a colour image -> the ordered blocks of a multi-block print.

A multi-block colour woodblock print is paper plus an ordered list of blocks, each one
ink colour and one carved mask. Printing multiplies each ink over what is already on
the sheet, lightest ink first and the key block (the darkest, usually warm black) last::

    sheet = paper
    for ink, mask in blocks:                 # light -> dark
        sheet *= 1 - mask * (1 - ink / paper)

so a pixel that only one block covers fully shows exactly that ink, and overlaps darken
as they do on paper. This module turns a painted image into such blocks (numpy only,
deterministic: every random choice comes from a generator seeded by the caller, and
powers, roots, trigonometry and matrix products come from
:mod:`~exhibit_engine.assets.portable_math`, so the same painting gives the same bytes
on every CPU):

- :func:`separate`: each pixel is matched to the nearest *paper -> ink* line in CIE
  Lab, so flat areas become one block and a gradation (bokashi) becomes one block with
  partial coverage. The inks are either given (palette quantisation) or found by
  k-means in Lab (seeded k-means++); the lightest cluster is the paper.
- :func:`block_masks`: coverage per block, with trapping (a lighter block runs a few
  pixels under the darker blocks around it, as printers cut them so that a slightly
  misregistered sheet shows no white gaps).
- :func:`carve`, :func:`dry_ink`, :func:`misregister`: the hand of the carver and the
  printer: chisel-jittered, anti-aliased edges; ink thinning where the block was dry;
  a sheet laid a pixel or two off the registration marks.
- :func:`paper_grain`: a paper texture (R fibre, G formation clouds, B fine mottle).
- :func:`composite`: the sheet as the printing model above says (floats), for checks.
- :func:`printed_sheet`: the finished print as the ``prints`` scene's shader draws it
  (paper grain, dry-ink mottle, linear-light inks), in integer arithmetic only, so the
  picture the packer writes has the same bytes on every CPU.

Images are ``uint8`` arrays ``(height, width, 3)`` in sRGB; masks are ``float32`` in
0..1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from . import portable_math as pm

__all__ = ["RGB", "Separation", "block_masks", "blur", "carve", "composite", "dry_ink",
           "hex_to_rgb", "misregister", "paper_grain", "printed_sheet", "rgb_to_hex", "separate",
           "srgb_to_lab", "to_u8"]

RGB = tuple[int, int, int]


# --------------------------------------------------------------------------- colour


def hex_to_rgb(text: str) -> RGB:
    """``"#2b3a67"`` -> ``(43, 58, 103)``.

    Raises:
        ValueError: not a ``#rrggbb`` colour.
    """
    s = text.strip()
    if len(s) != 7 or s[0] != "#":
        raise ValueError(f"not a #rrggbb colour: {text!r}")
    try:
        return (int(s[1:3], 16), int(s[3:5], 16), int(s[5:7], 16))
    except ValueError:
        raise ValueError(f"not a #rrggbb colour: {text!r}") from None


def rgb_to_hex(rgb: Sequence[int]) -> str:
    """``(43, 58, 103)`` -> ``"#2b3a67"``."""
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def _lab_of_float(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, pm.power((c + 0.055) / 1.055, 2.4))
    m = np.array([[0.4124564, 0.3575761, 0.1804375],
                  [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = pm.matmul(lin, m.T) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, pm.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (D65) of sRGB colours given as uint8 (or floats in 0..255), shape (..., 3).

    uint8 input is converted once per distinct colour (a painting has far fewer colours
    than pixels), the same numbers as converting every pixel.
    """
    a = np.asarray(rgb)
    if a.dtype != np.uint8 or a.ndim < 2:
        return _lab_of_float(a)
    flat = a.reshape(-1, 3)
    key = (flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2]
    colours, inverse = np.unique(key, return_inverse=True)
    unique_rgb = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1)
    return _lab_of_float(unique_rgb)[inverse.reshape(-1)].reshape(a.shape)


# --------------------------------------------------------------------------- separation


@dataclass(frozen=True)
class Separation:
    """An image separated into paper and inks.

    Attributes:
        paper: the paper colour (sRGB).
        inks: the ink colours, lightest first, the key block (darkest) last.
        index: per pixel, which ink prints there (-1: bare paper), shape (h, w).
        coverage: per pixel, how much of that ink (0..1; below 1 in gradations).
    """

    paper: RGB
    inks: tuple[RGB, ...]
    index: np.ndarray
    coverage: np.ndarray


def _kmeans_lab(lab: np.ndarray, k: int, rng: np.random.Generator,
                iterations: int) -> np.ndarray:
    """k centres (Lab) for the points ``lab`` (n, 3): k-means++ seeding, Lloyd steps."""
    centres = [lab[rng.integers(len(lab))]]
    for _ in range(1, k):
        d2 = np.min([((lab - c) ** 2).sum(axis=1) for c in centres], axis=0)
        total = d2.sum()
        pick = rng.integers(len(lab)) if total <= 0 else \
            int(np.searchsorted(np.cumsum(d2), rng.random() * total))
        centres.append(lab[min(pick, len(lab) - 1)])
    c = np.array(centres)
    for _ in range(iterations):
        near = np.argmin(((lab[:, None, :] - c[None]) ** 2).sum(axis=2), axis=1)
        for j in range(k):
            members = lab[near == j]
            if len(members):
                c[j] = members.mean(axis=0)
    return c


def _lab_to_rgb_u8(lab: np.ndarray) -> np.ndarray:
    """Inverse of :func:`srgb_to_lab`, for cluster centres (small arrays)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    f3 = f * f * f
    xyz = np.where(f3 > 216 / 24389, f3, (116 * f - 16) / (24389 / 27))
    xyz = xyz * np.array([0.95047, 1.0, 1.08883])
    m = np.array([[3.2404542, -1.5371385, -0.4985314],
                  [-0.9692660, 1.8760108, 0.0415560],
                  [0.0556434, -0.2040259, 1.0572252]])
    lin = np.clip(pm.matmul(xyz, m.T), 0.0, 1.0)
    c = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * pm.power(lin, 1 / 2.4) - 0.055)
    return np.round(c * 255).astype(np.uint8)


def separate(image: np.ndarray, *, palette: Sequence[Sequence[int]] | None = None,
             n_inks: int | None = None, paper: Sequence[int] | None = None,
             seed: int = 0, iterations: int = 10, sample: int = 20000) -> Separation:
    """Separate an sRGB image into paper and inks.

    Either ``palette`` (the inks, in any order) or ``n_inks`` (find them by k-means in
    Lab) must be given. Without ``paper``, the paper is the lightest k-means cluster
    (with a palette: the image's lightest 1 % of pixels, averaged).

    Args:
        image: uint8 array (h, w, 3).
        palette: the ink colours, sRGB.
        n_inks: how many inks to find (1..12) when there is no palette.
        paper: the paper colour, sRGB.
        seed: seeds the pixel sample and the k-means++ start.
        iterations: k-means steps.
        sample: pixels k-means looks at.

    Returns:
        The separation, inks ordered light -> dark (by L*).

    Raises:
        ValueError: neither or both of palette and n_inks, or a bad image.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError("image must be a uint8 array of shape (h, w, 3)")
    if (palette is None) == (n_inks is None):
        raise ValueError("give exactly one of palette and n_inks")
    lab = srgb_to_lab(img.reshape(-1, 3))
    if palette is None:
        if not 1 <= int(n_inks) <= 12:
            raise ValueError("n_inks must be 1..12")
        rng = np.random.default_rng([seed, 0xB10C])
        pick = rng.choice(len(lab), size=min(sample, len(lab)), replace=False)
        centres = _kmeans_lab(lab[np.sort(pick)], int(n_inks) + (paper is None), rng,
                              iterations)
        order = np.argsort(-centres[:, 0], kind="stable")
        rgbs = [tuple(int(v) for v in _lab_to_rgb_u8(centres[i])) for i in order]
        if paper is None:
            paper_rgb, inks = rgbs[0], rgbs[1:]
        else:
            paper_rgb, inks = tuple(int(v) for v in paper), rgbs
    else:
        inks = [tuple(int(v) for v in c) for c in palette]
        if paper is None:
            top = np.argsort(-lab[:, 0], kind="stable")[:max(1, len(lab) // 100)]
            paper_rgb = tuple(int(v) for v in np.round(img.reshape(-1, 3)[top].mean(axis=0)))
        else:
            paper_rgb = tuple(int(v) for v in paper)
    inks = sorted(set(inks), key=lambda c: -float(srgb_to_lab(np.array(c))[0]))
    p = srgb_to_lab(np.array(paper_rgb))
    best_d = ((lab - p) ** 2).sum(axis=1)
    index = np.full(len(lab), -1, dtype=np.int16)
    cover = np.zeros(len(lab), dtype=np.float32)
    for k, ink in enumerate(inks):
        seg = srgb_to_lab(np.array(ink)) - p
        t = np.clip(pm.dot(lab - p, seg) / max(float(pm.dot(seg, seg)), 1e-9), 0.0, 1.0)
        d = ((lab - p - t[:, None] * seg) ** 2).sum(axis=1)
        # nearer line wins; a tie goes to the darker ink (printed later, on top)
        win = d <= best_d
        best_d = np.where(win, d, best_d)
        index = np.where(win, k, index)
        cover = np.where(win, t, cover)
    h, w = img.shape[:2]
    index = np.where(cover > 1e-3, index, -1).reshape(h, w)
    cover = np.where(index >= 0, cover.reshape(h, w), 0.0).astype(np.float32)
    return Separation(paper=paper_rgb, inks=tuple(inks), index=index, coverage=cover)


# --------------------------------------------------------------------------- masks


def _box(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    if r <= 0:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float64)
    n = a.shape[axis]
    hi = np.take(c, np.arange(2 * r + 1, 2 * r + 1 + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return ((hi - lo) / (2 * r + 1)).astype(np.float32)


def blur(a: np.ndarray, radius: float) -> np.ndarray:
    """An approximately Gaussian blur (three box passes per axis) of a 2-D array."""
    out = np.asarray(a, dtype=np.float32)
    r = max(0, int(round(radius / 1.7)))
    for _ in range(3):
        out = _box(_box(out, r, 0), r, 1)
    return out


def _noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth value noise in 0..1 with features about ``cell`` pixels across."""
    h, w = shape
    gh, gw = int(h / cell) + 3, int(w / cell) + 3
    grid = rng.random((gh, gw))
    y = np.arange(h) / cell
    x = np.arange(w) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = y - y0, x - x0
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    a = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    b = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return (a * (1 - fy[:, None]) + b * fy[:, None]).astype(np.float32)


def block_masks(sep: Separation, *, trap_px: int = 2) -> list[np.ndarray]:
    """One coverage mask per ink (same order as ``sep.inks``), with trapping.

    Block k covers its own pixels with their coverage, and runs ``trap_px`` pixels
    under the pixels of darker inks next to it (full coverage there: the darker ink
    prints over it).
    """
    masks = []
    n = len(sep.inks)
    for k in range(n):
        own = np.where(sep.index == k, sep.coverage, 0.0).astype(np.float32)
        if trap_px > 0 and k < n - 1:
            darker = sep.index > k
            grown = _box(_box((sep.index == k).astype(np.float32), trap_px, 0), trap_px, 1)
            own = np.maximum(own, np.where(darker & (grown > 0.0), 1.0, 0.0)
                             .astype(np.float32) * np.minimum(1.0, grown * 3.0))
        masks.append(own)
    return masks


def carve(mask: np.ndarray, *, seed: int, softness: float = 1.2,
          chatter: float = 0.18) -> np.ndarray:
    """Carved edges: a chisel-jittered outline, rounded corners, one-pixel anti-aliasing.

    Gradations (coverage below 1 inside an area) are kept; only the edge is recut.
    """
    m = np.asarray(mask, dtype=np.float32)
    area = (m > 0.02).astype(np.float32)
    rng = np.random.default_rng([seed, 0xCA4F])
    soft = blur(area, softness)
    jitter = (_noise(m.shape, 3.0, rng) - 0.5) * chatter + \
        (_noise(m.shape, 11.0, rng) - 0.5) * chatter * 0.8
    edge = np.clip((soft - 0.5 + jitter) / 0.22 + 0.5, 0.0, 1.0)
    level = np.maximum(m, blur(m, 1.0)) if m.max() > 0 else m
    return (edge * np.clip(level, 0.0, 1.0)).astype(np.float32)


def dry_ink(mask: np.ndarray, *, seed: int, amount: float = 0.22,
            cell: float = 48.0) -> np.ndarray:
    """Ink thinning where the block was dry: soft, blotchy loss of coverage."""
    rng = np.random.default_rng([seed, 0xD4E7])
    n = 0.65 * _noise(mask.shape, cell, rng) + 0.35 * _noise(mask.shape, cell / 3.0, rng)
    thin = np.clip((n - 0.45) / 0.4, 0.0, 1.0) * amount
    return (np.asarray(mask, dtype=np.float32) * (1.0 - thin)).astype(np.float32)


def misregister(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The mask shifted by whole pixels (right, down), bare paper coming in at the edge."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = mask[ys, xs]
    return out


def paper_grain(size: int, *, seed: int) -> np.ndarray:
    """A tileable-enough paper texture, uint8 (size, size, 3).

    R: fibre (bright long fibres and dark flecks, mean about 0.8), G: formation (the
    cloudy thickness of handmade paper), B: fine mottle that ink takes unevenly.
    """
    rng = np.random.default_rng([seed, 0x9A9E])
    shape = (size, size)
    fibre = np.full(shape, 0.8, dtype=np.float32)
    count = size * size // 90
    x0 = rng.random(count) * size
    y0 = rng.random(count) * size
    ang = rng.normal(0.0, 0.5, count) + np.where(rng.random(count) < 0.5, 0.0, np.pi / 2)
    length = rng.gamma(2.0, size / 80.0, count)
    bright = rng.choice([-0.16, 0.12, 0.09], count, p=[0.15, 0.45, 0.40])
    for step in np.linspace(-0.5, 0.5, 9):
        xs = ((x0 + pm.cos(ang) * length * step) % size).astype(int)
        ys = ((y0 + pm.sin(ang) * length * step) % size).astype(int)
        np.add.at(fibre, (ys, xs), bright * 0.5)
    fibre = 0.55 * fibre + 0.45 * blur(fibre, 1.2)
    formation = 0.6 * _noise(shape, size / 10.0, rng) + 0.4 * _noise(shape, size / 28.0, rng)
    mottle = 0.5 * _noise(shape, 2.5, rng) + 0.5 * _noise(shape, 7.0, rng)
    out = np.stack([np.clip(fibre, 0, 1), formation, mottle], axis=-1)
    return to_u8(out)


def to_u8(a: np.ndarray) -> np.ndarray:
    """Floats in 0..1 -> uint8 (rounded)."""
    return np.round(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)


def composite(paper: Sequence[int], inks: Sequence[Sequence[int]],
              masks: Sequence[np.ndarray]) -> np.ndarray:
    """The printed sheet (uint8 (h, w, 3)): each ink multiplied over the paper in order."""
    p = np.asarray(paper, dtype=np.float32) / 255.0
    sheet = np.broadcast_to(p, masks[0].shape + (3,)).astype(np.float32).copy()
    for ink, m in zip(inks, masks, strict=True):
        trans = np.clip(np.asarray(ink, dtype=np.float32) / 255.0 / np.maximum(p, 1e-3),
                        0.0, 1.0)
        sheet *= 1.0 - m[..., None] * (1.0 - trans)
    return to_u8(sheet)


# --------------------------------------------------------------------------- finished print
# The ``prints`` scene's print.frag.glsl, without the gallery's light and tone curve:
#     sheet = paper * (0.9 + 0.14 fibre) * (0.97 + 0.05 formation)        (linear light)
#     per block k:  cov = clamp(mask * (1 - dry_k * (mottle - 0.35) * 0.6), 0, 1)
#                   sheet *= mix(1, min(1, ink / paper), cov)
# with linear = sRGB ** 2.2 (the scene's own conversion), dry_k = 0.5 for every block but
# the key block (0), and the grain tiled 2.5 times across the sheet's width, texel rows
# counted from the bottom as the texture's are. Fixed point throughout: light in 0..65535,
# coverage and transmittance in 0..65536 (Q16), the light a block leaves in Q15, every
# product rounded half up.

_ONE = 1 << 16
_KEEP = 1 << 15
_LIN_MAX = 65535
_NO_GRAIN = 200         # the scene's stand-in texel when a print names no grain
_GRAIN_REPEAT = (5, 2)  # 2.5 grain tiles across the sheet, as a fraction


@cache
def _lin_lut() -> np.ndarray:
    """sRGB byte -> linear light 0..65535 (int64, 256 entries)."""
    return np.rint(pm.power(np.arange(256) / 255.0, 2.2) * _LIN_MAX).astype(np.int64)


@cache
def _srgb_lut() -> np.ndarray:
    """Linear light 0..65535 -> sRGB byte (uint8, 65536 entries)."""
    return np.rint(pm.power(np.arange(_LIN_MAX + 1) / _LIN_MAX, 1 / 2.2) * 255.0
                   ).astype(np.uint8)


def _grain_index(n: int, size: int, width: int, flip: bool) -> np.ndarray:
    """Grain texel per sheet pixel along one axis: floor((i + 0.5) / width * 2.5 * size)."""
    num, den = _GRAIN_REPEAT
    i = np.arange(n, dtype=np.int64)
    if flip:  # v runs up the sheet; the texture's first row is the image's last
        i = n - 1 - i
    t = ((2 * i + 1) * num * size) // (2 * den * width) % size
    return size - 1 - t if flip else t


def printed_sheet(paper: Sequence[int], inks: Sequence[Sequence[int]],
                  masks: Sequence[np.ndarray], grain: np.ndarray | None = None, *,
                  rows: int = 64) -> np.ndarray:
    """The finished print as the scene shows it, in sRGB (uint8 (h, w, 3)).

    Integer arithmetic only (lookup tables from :mod:`.portable_math`), so the same
    masks give the same bytes on every CPU. The sheet is made ``rows`` rows at a time:
    besides the masks and the result, memory stays a few strips' worth.

    Args:
        paper: the paper colour, sRGB.
        inks: the ink colours in printing order (the last is the key block), sRGB.
        masks: one uint8 coverage mask (h, w) per ink, all the same size.
        grain: the paper texture (uint8 (gh, gw, 3): fibre, formation, mottle), or
            ``None`` for plain paper (what the scene draws without one).
        rows: strip height.

    Raises:
        ValueError: no masks, a count other than the inks', or masks of other sizes.
    """
    if not masks or len(masks) != len(inks):
        raise ValueError("give one mask per ink, at least one")
    h, w = masks[0].shape
    if any(m.shape != (h, w) or m.dtype != np.uint8 for m in masks):
        raise ValueError("masks must be uint8 arrays of one size")
    g = (np.full((1, 1, 3), _NO_GRAIN, np.uint8) if grain is None
         else np.asarray(grain, dtype=np.uint8))
    gh, gw = g.shape[:2]
    lin = _lin_lut()
    p = lin[np.asarray(paper, dtype=np.int64)]
    trans = [np.minimum(_ONE, (lin[np.asarray(c, dtype=np.int64)] * _ONE
                               + np.maximum(p, 66) // 2) // np.maximum(p, 66))
             for c in inks]
    # Tables by two bytes (hi << 8 | lo), so that a strip costs lookups, not arithmetic.
    hi, lo = np.divmod(np.arange(1 << 16, dtype=np.int64), 256)
    # The bare sheet by (fibre, formation): (0.9 + 0.14 r/255)(0.97 + 0.05 g/255)
    # = (22950 + 14 r)(24735 + 5 g) / 25500**2 times the paper
    f = (22950 + 14 * hi) * (24735 + 5 * lo)
    bare = ((p * f[:, None] + 25500 ** 2 // 2) // 25500 ** 2).astype(np.uint32)
    fibre_formation = (g[..., 0].astype(np.uint16) << 8) | g[..., 1]
    mottle = g[..., 2]
    # A block's coverage by (mask, mottle): 1 - 0.5 (b/255 - 0.35) 0.6 =
    # (281775 - 300 b) / 255000, times the mask's m/255; the key block's by mask alone
    dry_cov = np.minimum(_ONE, (hi * (281775 - 300 * lo) * _ONE + 65025000 // 2) // 65025000)
    key_cov = (np.arange(256, dtype=np.int64) * _ONE + 127) // 255
    last = len(inks) - 1
    # What each block leaves of the light, in Q15: sheet (< 2**17) times it fits uint32
    keeps = [(_KEEP - (((key_cov if k == last else dry_cov)[:, None] * (_ONE - tr) + _ONE)
                       >> 17)).astype(np.uint32) for k, tr in enumerate(trans)]
    cols = _grain_index(w, gw, w, flip=False)
    all_rows = _grain_index(h, gh, w, flip=True)
    out = np.empty((h, w, 3), np.uint8)
    srgb = _srgb_lut()
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        r = all_rows[y0:y1, None]
        sheet = np.take(bare, fibre_formation[r, cols], axis=0).reshape(-1, 3)  # uint32
        mottle_strip = mottle[r, cols].reshape(-1)
        for k, (keep, m) in enumerate(zip(keeps, masks, strict=True)):
            # where a block has no ink it leaves all the light (32768 / 32768 exactly), so
            # only its inked pixels are worked: most blocks ink a small part of the sheet
            inked = np.flatnonzero(m[y0:y1])
            if not inked.size:
                continue
            idx = m[y0:y1].reshape(-1)[inked].astype(np.intp)
            if k != last:
                idx = (idx << 8) | mottle_strip[inked]
            sheet[inked] = (sheet[inked] * np.take(keep, idx, axis=0) + _KEEP // 2) >> 15
        out[y0:y1] = srgb[np.minimum(sheet, _LIN_MAX)].reshape(y1 - y0, w, 3)
    return out
