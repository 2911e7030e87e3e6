#!/usr/bin/env python3
"""Generate the sample woodblock-prints bundle source (``content/northern-prints``) from code.

Three multi-block colour woodblock prints of the northern wilderness, each painted
procedurally with numpy in bold flat colour (a birch forest in snow, wheat fields to
the horizon with a tractor and grain cart, a frozen river with ice fishers and a
farmhouse whose chimney smokes), then separated into its inks with
:mod:`exhibit_engine.assets.woodblock` (palette quantisation in Lab, lightest ink
first, the warm-black key block last), with trapping, chisel-cut edges, dry-ink
thinning and a pixel or two of misregistration per block. Writes::

    bundle.toml
    prints/paper.png                 paper texture (R fibre, G formation, B mottle)
    prints/<id>/blocks.json          paper colour and the ordered blocks (ink, mask, name)
    prints/<id>/block-<n>.png        8-bit grayscale carved mask of block n
    fonts/NotoSansSC-Labels.otf      label font + OFL.txt, copied from content/fonts

Byte-for-byte reproducible on every CPU: seeded generators only, trigonometry and powers
from :mod:`exhibit_engine.assets.portable_math` (numpy's own kernels differ from CPU to
CPU in the last bit), PNGs written by Pillow with fixed options and no metadata, JSON
with fixed key order. Run it twice and ``cmp``.

Usage::

    python tools/gen_prints.py [--out DIR]
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exhibit_engine.assets import portable_math as pm  # noqa: E402
from exhibit_engine.assets import woodblock as wb  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _content import LABEL_FONT, label_font_files, run, write_files  # noqa: E402

__all__ = ["PRINTS", "INKS", "paint", "make_print", "generate", "main"]

DEFAULT_OUT = ROOT / "content" / "northern-prints"
SIZE = (1024, 724)          # mask width, height (A-series landscape)
SEED = 20260204
PAPER = "#f2ebda"

#: The school's inks: sRGB and names in every language.
INKS: dict[str, tuple[str, dict[str, str]]] = {
    "pale-blue": ("#a9bed6", {"zh": "淡蓝", "en": "pale blue", "ru": "бледно-голубой"}),
    "straw": ("#e8cf86", {"zh": "浅黄", "en": "straw yellow", "ru": "соломенный"}),
    "ochre": ("#c9953b", {"zh": "土黄", "en": "ochre", "ru": "охра"}),
    "vermilion": ("#c8432b", {"zh": "朱红", "en": "vermilion", "ru": "киноварь"}),
    "pine": ("#2f5b47", {"zh": "松绿", "en": "pine green", "ru": "сосновый зелёный"}),
    "indigo": ("#2c3b68", {"zh": "靛蓝", "en": "indigo", "ru": "индиго"}),
    "key": ("#2a2421", {"zh": "暖黑", "en": "warm black", "ru": "тёплый чёрный"}),
}

#: id -> (inks used, titles).
PRINTS: dict[str, tuple[tuple[str, ...], dict[str, str], dict[str, str]]] = {
    "birch-forest": (("pale-blue", "ochre", "vermilion", "pine", "indigo", "key"),
                     {"zh": "雪中白桦林", "en": "Birch Forest in Snow",
                      "ru": "Берёзовая роща в снегу"},
                     {"zh": "冬日低垂的夕阳下，白色的树干在雪地上投下淡蓝色的长影，远山上是墨绿的松林。",
                      "en": "Under a low winter sun, birch trunks cast long pale-blue shadows "
                            "across the snow; pine forest darkens the far hills.",
                      "ru": "Под низким зимним солнцем стволы берёз отбрасывают на снег "
                            "длинные голубые тени; на дальних холмах темнеет сосновый лес."}),
    "wheat-fields": (("straw", "pale-blue", "ochre", "vermilion", "pine", "key"),
                     {"zh": "麦浪到天边", "en": "Wheat Fields to the Horizon",
                      "ru": "Пшеничные поля до горизонта"},
                     {"zh": "麦垄一直延伸到天边，一台红色拖拉机拉着运粮车穿过收割后的田野。",
                      "en": "Rows of wheat run to the skyline; a red tractor pulls a grain "
                            "cart across the harvested field.",
                      "ru": "Ряды пшеницы уходят к самому горизонту; красный трактор тянет "
                            "зерновой прицеп по убранному полю."}),
    "winter-river": (("pale-blue", "ochre", "vermilion", "indigo", "key"),
                     {"zh": "冬日江上", "en": "A River in Winter", "ru": "Зимняя река"},
                     {"zh": "封冻的江面上，冬捕的人们守着冰窟窿；岸边农舍的烟囱升起炊烟。",
                      "en": "Ice fishers keep watch over their holes on the frozen river; "
                            "smoke rises from the chimney of a farmhouse on the bank.",
                      "ru": "На замёрзшей реке рыбаки сидят у лунок; над трубой "
                            "крестьянского дома на берегу поднимается дым."}),
}
TECHNIQUE = {"zh": "多版套色木刻，{n} 版", "en": "Multi-block colour woodcut, {n} blocks",
             "ru": "Многоцветная ксилография, {n} досок"}
ARTIST = {"zh": "Exhibit Engine 贡献者", "en": "Exhibit Engine contributors",
          "ru": "Участники Exhibit Engine"}
YEAR = "2026"


# --------------------------------------------------------------------------- painting


class Canvas:
    """An sRGB float canvas with coordinate grids: x 0..1 left->right, y 0..1 top->bottom."""

    def __init__(self, inks: dict[str, np.ndarray]) -> None:
        w, h = SIZE
        self.aspect = w / h
        self.y, self.x = np.mgrid[0:h, 0:w].astype(np.float32)
        self.x /= w
        self.y /= h
        self.px = 1.0 / w
        self.paper = np.array(wb.hex_to_rgb(PAPER), dtype=np.float32)
        self.img = np.broadcast_to(self.paper, (h, w, 3)).copy()
        self.inks = inks

    def fill(self, where: np.ndarray, ink: str | None, amount: float | np.ndarray = 1.0
             ) -> None:
        """Paint ``ink`` (None: paper) over ``where`` (bool or 0..1), ``amount`` of it."""
        colour = self.paper if ink is None else self.inks[ink]
        mask = np.asarray(where) > 0.5
        amt = np.broadcast_to(np.asarray(amount, dtype=np.float32), mask.shape)[..., None]
        self.img = np.where(mask[..., None], self.paper + (colour - self.paper) * amt,
                            self.img)

    def ridge(self, base: float, waves: list[tuple[float, float, float]]) -> np.ndarray:
        """A skyline y(x): base + sum of amp * sin(freq * x + phase)."""
        y = np.full_like(self.x[0], base)
        for amp, freq, phase in waves:
            y = y + amp * pm.sin(freq * self.x[0] * 2 * np.pi + phase)
        return y[None, :]

    def outline(self, where: np.ndarray, ink: str, width_px: int = 2) -> None:
        """A key-block line along the edge of ``where``."""
        m = where.astype(np.float32)
        edge = np.abs(wb.blur(m, width_px) - m) > 0.22
        self.fill(edge, ink)

    def disc(self, cx: float, cy: float, r: float) -> np.ndarray:
        return ((self.x - cx) * self.aspect) ** 2 + (self.y - cy) ** 2 < r * r

    def rect(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        return (self.x >= x0) & (self.x < x1) & (self.y >= y0) & (self.y < y1)

    def u8(self) -> np.ndarray:
        return np.round(np.clip(self.img, 0, 255)).astype(np.uint8)


def _birch(c: Canvas, rng: np.random.Generator) -> None:
    c.fill(c.y < 0.55, "pale-blue", pm.power(np.clip(1.0 - c.y / 0.5, 0, 1), 1.3))
    c.fill(c.disc(0.70, 0.36, 0.055), "vermilion")
    far = c.y > c.ridge(0.40, [(0.025, 1.3, 0.4), (0.012, 3.7, 1.9)])
    c.fill(far, "pale-blue")
    near_ridge = c.ridge(0.47, [(0.03, 0.9, 2.2), (0.01, 4.1, 0.3)])
    trees = np.zeros_like(far)
    for cx in np.sort(rng.random(45)):
        base = float(near_ridge[0, int(cx * (SIZE[0] - 1))])
        hgt = 0.05 + 0.05 * rng.random()
        trees |= (c.y > base - hgt) & (c.y < base + 0.01) & \
            (np.abs(c.x - cx) * c.aspect < 0.018 * (c.y - base + hgt) / hgt)
    hill = (c.y > near_ridge) | trees
    c.fill(hill, "pine")
    c.fill(hill & (c.y > near_ridge + 0.05), "indigo")
    snow = c.y > c.ridge(0.58, [(0.02, 0.6, 1.0), (0.006, 3.0, 0.2)])
    c.fill(snow, None)
    c.outline(snow, "key", 2)
    trunks = sorted(zip(rng.random(11), rng.random(11)), key=lambda p: p[1])
    for tx, depth in trunks:
        w = 0.008 + 0.02 * depth
        foot = 0.66 + 0.3 * depth
        lean = (rng.random() - 0.5) * 0.02
        xc = tx + lean * (foot - c.y)
        trunk = (np.abs(c.x - xc) < w * (0.7 + 0.3 * c.y)) & (c.y < foot)
        shadow = (c.y > foot - 0.01) & (c.y < foot + 0.012 + 0.01 * depth) & \
            (c.x > xc) & (c.x < xc + 0.35) & (np.abs(c.y - foot - 0.004 * (c.x - xc) / 0.35
                                                      * 4) < 0.006 + 0.006 * depth)
        c.fill(shadow & ~trunk, "pale-blue")
        c.fill(trunk, None)
        c.fill(trunk & (c.x > xc + w * 0.25), "pale-blue")
        row = (c.y * 70).astype(int)
        keep = rng.random(80) < 0.4
        reach = rng.random(80)
        side = (c.x - xc) / w
        marks = trunk & keep[row] & (np.abs(side + 0.2 - 0.6 * reach[row]) < 0.55) & \
            (np.abs(c.y * 70 - row - 0.5) < 0.18 + 0.12 * depth)
        c.fill(marks, "key")
        c.outline(trunk, "key", 1 + int(depth * 2))
        for k in range(4):
            by = 0.05 + 0.12 * k + 0.05 * rng.random()
            sd = 1 if rng.random() < 0.5 else -1
            branch = (c.y < by) & (c.y > by - 0.05) & (np.abs((c.x - xc) * sd - (by - c.y)
                                                               * 1.2) < 0.0022) & (c.y < foot)
            c.fill(branch, "key")
        tuft = (np.abs(c.x - xc + 0.02) < 0.015) & (c.y > foot - 0.03) & (c.y < foot) & \
            (pm.sin(c.x * 700) > 0.3)
        c.fill(tuft, "ochre")


def _wheat(c: Canvas, rng: np.random.Generator) -> None:
    horizon = 0.42
    c.fill(c.y < horizon, "pale-blue", pm.power(np.clip(1.0 - c.y / 0.4, 0, 1), 1.1))
    for cx, cy, r in ((0.22, 0.14, 0.05), (0.30, 0.12, 0.07), (0.38, 0.15, 0.045),
                      (0.72, 0.22, 0.035), (0.78, 0.2, 0.05), (0.85, 0.23, 0.035)):
        c.fill(c.disc(cx, cy, r) & (c.y < cy + r * 0.45), None)
    c.fill((c.y < horizon) & (c.y > horizon - 0.09), "straw",
           np.clip((c.y - horizon + 0.09) / 0.09, 0, 1) * 0.7)
    belt = (c.y > c.ridge(horizon - 0.025, [(0.006, 7.0, 0.3), (0.004, 19.0, 1.1)])) & \
        (c.y < horizon + 0.005) & (pm.sin(c.x * 9.0 + 1.0) > -0.2)
    c.fill(belt, "pine")
    barn = c.rect(0.62, horizon - 0.04, 0.66, horizon) | \
        ((c.y > horizon - 0.06) & (c.y < horizon - 0.04) & (np.abs(c.x - 0.64) < 0.03 - (
            horizon - 0.04 - c.y)))
    c.fill(barn, "vermilion")
    ground = c.y >= horizon
    c.fill(ground, "straw")
    vx, vy = 0.55, horizon - 0.01
    ang = pm.arctan2(c.x - vx, np.maximum(c.y - vy, 1e-4))
    rows = pm.sin(ang * 60.0) > 0.1
    field_b = (c.x - vx) < (c.y - horizon) * -0.8 + 0.02
    c.fill(ground & rows & field_b, "ochre")
    c.fill(ground & ~field_b & (pm.sin(pm.log(np.maximum(c.y - vy, 1e-3)) * 24) > 0.55),
           "ochre")
    c.outline(ground & field_b, "key", 1)
    # tractor and grain cart on the line between the fields
    tx, ty = 0.30, 0.66
    cab = c.rect(tx, ty - 0.085, tx + 0.045, ty - 0.03)
    bonnet = c.rect(tx + 0.045, ty - 0.055, tx + 0.10, ty - 0.02)
    c.fill(cab | bonnet, "vermilion")
    c.fill(c.rect(tx + 0.007, ty - 0.078, tx + 0.038, ty - 0.052), None)
    c.fill(c.rect(tx + 0.085, ty - 0.075, tx + 0.092, ty - 0.055), "key")
    c.fill(c.disc(tx + 0.015, ty - 0.01, 0.032), "key")
    c.fill(c.disc(tx + 0.015, ty - 0.01, 0.012), "ochre")
    c.fill(c.disc(tx + 0.085, ty + 0.002, 0.018), "key")
    cart = c.rect(tx - 0.16, ty - 0.07, tx - 0.03, ty - 0.015)
    c.fill(cart, "ochre")
    c.fill(cart & (pm.sin(c.y * 400) > 0.7), "key")
    c.fill(c.rect(tx - 0.17, ty - 0.09, tx - 0.02, ty - 0.07) &
           (c.y > ty - 0.07 - 0.02 * pm.cos((c.x - tx + 0.095) * 20)), "straw")
    c.fill(c.rect(tx - 0.03, ty - 0.03, tx, ty - 0.024), "key")
    for wx in (tx - 0.13, tx - 0.06):
        c.fill(c.disc(wx, ty - 0.005, 0.019), "key")
    dust = c.disc(tx - 0.25, ty - 0.03, 0.05) | c.disc(tx - 0.31, ty - 0.05, 0.035)
    c.fill(dust & ~cart, "straw", 0.6)
    for k in range(26):
        sx = rng.random()
        sy = 0.9 + 0.1 * rng.random()
        lean = (c.y - sy) * 0.12
        stalk = (np.abs(c.x - sx - lean) < 0.0016) & (c.y > sy - 0.12) & (c.y < sy)
        ear = ((c.x - sx - lean) * c.aspect * 3.2) ** 2 + (c.y - sy + 0.135) ** 2 < 0.022 ** 2
        c.fill(stalk, "key")
        c.fill(ear, "ochre" if k % 3 else "vermilion")
        c.outline(ear, "key", 1)


def _river(c: Canvas, rng: np.random.Generator) -> None:
    c.fill(c.y < 0.5, "indigo", pm.power(np.clip(1.0 - c.y / 0.36, 0, 1), 1.6))
    far = c.y > c.ridge(0.33, [(0.03, 1.1, 0.7), (0.01, 3.3, 2.0)])
    c.fill(far, "pale-blue")
    bank = c.y > c.ridge(0.41, [(0.01, 2.0, 0.5)])
    c.fill(bank, None)
    for k in range(34):
        fx = rng.random()
        fy = float(c.ridge(0.41, [(0.01, 2.0, 0.5)])[0, int(fx * (SIZE[0] - 1))])
        c.fill((np.abs(c.x - fx) < 0.002) & (c.y > fy - 0.03 - 0.02 * rng.random()) &
               (c.y < fy + 0.003), "key")
    centre = 0.42 + 0.3 * c.y + 0.08 * pm.sin(c.y * 9.0 + 0.5)
    half = 0.01 + 0.42 * (c.y - 0.42)
    river = bank & (np.abs(c.x - centre) < half) & (c.y > 0.425)
    c.fill(river, "pale-blue")
    cracks = river & (np.abs(pm.sin(c.x * 40 + 8 * pm.sin(c.y * 23)) ) < 0.03 * (c.y + 0.2))
    c.fill(cracks, "indigo")
    c.outline(river, "indigo", 2)
    for k, (fx, fy) in enumerate(((0.47, 0.60), (0.58, 0.72), (0.40, 0.80))):
        s = 0.6 + fy
        c.fill(c.disc(fx + 0.03 * s, fy + 0.012 * s, 0.012 * s) &
               (np.abs(c.y - fy - 0.012 * s) < 0.006 * s), "indigo")
        body = (np.abs(c.x - fx) < 0.012 * s) & (c.y > fy - 0.035 * s) & (c.y < fy + 0.01 * s)
        c.fill(body, "key")
        c.fill(c.disc(fx, fy - 0.045 * s, 0.011 * s), "vermilion" if k != 1 else "ochre")
        c.fill((np.abs(c.x - fx - 0.02 * s - (fy - c.y) * 0.5) < 0.0015) &
               (c.y > fy - 0.03 * s) & (c.y < fy), "key")
    hx, hy = 0.78, 0.52
    wall = c.rect(hx - 0.09, hy - 0.07, hx + 0.09, hy)
    c.fill(wall, "ochre")
    roof = (c.y > hy - 0.14) & (c.y < hy - 0.07) & \
        (np.abs(c.x - hx) < 0.11 - (hy - 0.07 - c.y) * 0.3)
    c.fill(roof, None)
    c.fill(c.rect(hx - 0.11, hy - 0.075, hx + 0.11, hy - 0.068), "indigo")
    for wx in (hx - 0.055, hx + 0.025):
        c.fill(c.rect(wx, hy - 0.05, wx + 0.03, hy - 0.02), "vermilion")
    c.fill(c.rect(hx - 0.012, hy - 0.05, hx + 0.008, hy), "key")
    chim = c.rect(hx + 0.045, hy - 0.17, hx + 0.06, hy - 0.1)
    c.fill(chim, "key")
    c.outline(wall | roof, "key", 2)
    ty = np.clip(hy - 0.17 - c.y, 0, None)
    smoke = (c.y < hy - 0.17) & (np.abs(c.x - hx - 0.053 + ty * 0.5 - 0.025 * pm.sin(
        ty * 28)) < 0.006 + ty * 0.06) & (ty < 0.26)
    c.fill(smoke, None)
    c.fill(smoke, "pale-blue", 0.25 + 0.75 * np.clip(1.0 - ty / 0.26, 0, 1))
    for tx in (0.93, 0.97, 0.64):
        trunk = (np.abs(c.x - tx) < 0.004) & (c.y > hy - 0.2) & (c.y < hy + 0.02)
        c.fill(trunk, "key")
        for k in range(6):
            a = -0.6 + 0.24 * k
            c.fill((np.abs((c.x - tx) - (hy - 0.12 - c.y) * pm.tan(a)) < 0.0018) &
                   (c.y < hy - 0.12) & (c.y > hy - 0.22), "key")


PAINTERS = {"birch-forest": _birch, "wheat-fields": _wheat, "winter-river": _river}


def paint(print_id: str) -> np.ndarray:
    """The painted landscape (uint8 (h, w, 3)) that a print is separated from."""
    inks, _, _ = PRINTS[print_id]
    c = Canvas({k: np.array(wb.hex_to_rgb(INKS[k][0]), dtype=np.float32) for k in inks})
    PAINTERS[print_id](c, np.random.default_rng([SEED, sorted(PRINTS).index(print_id)]))
    return c.u8()


def make_print(print_id: str) -> tuple[list[str], list[np.ndarray]]:
    """Separate the painting into (ink ids, carved mask uint8 arrays), light -> dark."""
    inks, _, _ = PRINTS[print_id]
    palette = [wb.hex_to_rgb(INKS[k][0]) for k in inks]
    sep = wb.separate(paint(print_id), palette=palette, paper=wb.hex_to_rgb(PAPER))
    by_rgb = {wb.hex_to_rgb(INKS[k][0]): k for k in inks}
    order = [by_rgb[rgb] for rgb in sep.inks]
    rng = np.random.default_rng([SEED, 77, sorted(PRINTS).index(print_id)])
    masks = []
    for n, m in enumerate(wb.block_masks(sep, trap_px=2)):
        m = wb.carve(m, seed=int(rng.integers(1 << 30)))
        m = wb.dry_ink(m, seed=int(rng.integers(1 << 30)),
                       amount=0.0 if order[n] == "key" else 0.2)
        dx, dy = (int(v) for v in rng.integers(-2, 3, size=2))
        masks.append(wb.to_u8(wb.misregister(m, dx, dy)))
    return order, masks


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def _langs(d: dict[str, str]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(d[k], ensure_ascii=False)}"
                            for k in ("zh", "en", "ru")) + " }"


def bundle_toml(blocks: dict[str, list[str]]) -> str:
    """The bundle.toml text for the prints and their ink ids."""
    out = ["# The northern-prints sample bundle. Generated by tools/gen_prints.py: edit the",
           "# generator, not this file.", "", "[bundle]", 'id = "northern-prints"',
           'version = "1.0.0"',
           "title = " + _langs({"zh": "北方版画：雪原与麦田", "en": "Northern Woodblock Prints",
                                "ru": "Северная гравюра"}),
           'rights = "© 2026 Exhibit Engine contributors"', 'license = "CC-BY-4.0"', ""]
    assets = [f"prints/{p}/blocks.json" for p in PRINTS]
    for pid, (_, title, desc) in PRINTS.items():
        n = len(blocks[pid])
        tech = {k: v.format(n=n) for k, v in TECHNIQUE.items()}
        out += ["[[items]]", f'id = "{pid}"', "title = " + _langs(title),
                'creator = "Exhibit Engine contributors"', f'date = "{YEAR}"',
                "description = " + _langs({k: f"{desc[k]} {tech[k]}。" if k == "zh" else
                                           f"{desc[k]} {tech[k]}." for k in desc}),
                'rights = "CC-BY-4.0"', f'identifier = "ee:northern-prints:{pid}"', ""]
        assets += [f"prints/{pid}/block-{i + 1}.png" for i in range(n)]
    assets += ["prints/paper.png", f"fonts/{LABEL_FONT}"]
    out += ["[[scenes]]", 'id = "gallery-walk"', 'kind = "prints"',
            "title = " + _langs({"zh": "版画长廊", "en": "Gallery Walk",
                                 "ru": "Прогулка по галерее"}),
            "assets = [" + ", ".join(f'"{a}"' for a in assets) + "]",
            "[scenes.params]", "seed = 7", "block_s = 2.5", "pause_s = 5.0", "walk_s = 5.0",
            "start = 18.0", "", "[scenes.labels]",
            "artist = " + _langs(ARTIST), f'year = {{ zh = "{YEAR}年", en = "{YEAR}", '
            f'ru = "{YEAR}" }}']
    for pid, (_, title, _) in PRINTS.items():
        tech = {k: v.format(n=len(blocks[pid])) for k, v in TECHNIQUE.items()}
        out += [f'"{pid}.title" = ' + _langs(title), f'"{pid}.technique" = ' + _langs(tech)]
    return "\n".join(out) + "\n"


def generate(out: Path) -> list[Path]:
    """Write the bundle source folder into ``out``; return the files written."""
    files: dict[Path, bytes] = {}
    blocks: dict[str, list[str]] = {}
    for pid in PRINTS:
        order, masks = make_print(pid)
        blocks[pid] = order
        entries = []
        for i, (ink, mask) in enumerate(zip(order, masks, strict=True)):
            path = f"prints/{pid}/block-{i + 1}.png"
            files[out / path] = _png(mask)
            entries.append({"ink": INKS[ink][0], "mask": path, "name": INKS[ink][1]})
        doc = {"format": "exhibit-woodblock/1", "item": pid, "paper": PAPER,
               "grain": "prints/paper.png", "size_mm": [420, 297], "blocks": entries}
        files[out / f"prints/{pid}/blocks.json"] = (
            json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    files[out / "prints" / "paper.png"] = _png(wb.paper_grain(512, seed=SEED))
    files[out / "bundle.toml"] = bundle_toml(blocks).encode("utf-8")
    files.update(label_font_files(out))
    return write_files(files)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``--out DIR`` (default ``content/northern-prints``)."""
    return run(generate, DEFAULT_OUT, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
