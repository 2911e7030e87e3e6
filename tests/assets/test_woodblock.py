"""assets/woodblock.py: colour separation into ordered blocks, carving, paper, compositing."""

from __future__ import annotations

import numpy as np
import pytest

from exhibit_engine.assets import woodblock as wb

PAPER = (242, 235, 218)
INKS = [(42, 36, 33), (169, 190, 214), (200, 67, 43), (201, 149, 59)]  # shuffled


def painting() -> np.ndarray:
    """Flat areas of four inks on paper, plus a paper -> pale-blue gradation."""
    img = np.empty((60, 80, 3), dtype=np.uint8)
    img[:] = PAPER
    img[:20, :40] = INKS[1]
    img[20:40, 40:] = INKS[2]
    img[40:, :30] = INKS[3]
    img[45:55, 50:70] = INKS[0]
    ramp = np.linspace(0.0, 1.0, 40)[None, :, None]
    img[:20, 40:] = np.round(np.array(PAPER) + (np.array(INKS[1]) - PAPER) * ramp)
    return img


def lightness(rgb) -> float:
    return float(wb.srgb_to_lab(np.array(rgb))[0])


def test_palette_separation_orders_inks_light_to_dark_key_last() -> None:
    sep = wb.separate(painting(), palette=INKS, paper=PAPER)
    assert len(sep.inks) == 4
    ls = [lightness(c) for c in sep.inks]
    assert ls == sorted(ls, reverse=True)
    assert sep.inks[-1] == INKS[0], "the warm black key block prints last"


def test_kmeans_finds_n_inks_and_the_paper() -> None:
    sep = wb.separate(painting(), n_inks=4, seed=3)
    assert len(sep.inks) == 4
    assert np.abs(np.array(sep.paper) - PAPER).max() <= 3
    for ink in INKS:
        # the gradation pulls the pale-blue centre a little towards the paper
        assert min(np.abs(np.array(c) - ink).max() for c in sep.inks) <= 12, ink
    ls = [lightness(c) for c in sep.inks]
    assert ls == sorted(ls, reverse=True)


def test_masks_reproduce_the_image_and_gradation_is_partial_coverage() -> None:
    img = painting()
    sep = wb.separate(img, palette=INKS, paper=PAPER)
    masks = wb.block_masks(sep, trap_px=0)
    out = wb.composite(sep.paper, sep.inks, masks)
    assert np.abs(out.astype(int) - img).max() <= 3, "the blocks cover the whole image"
    pale = masks[0]
    assert 0.3 < pale[5, 60] < 0.7, "a gradation is one block printed partially"
    inked = np.any([m > 0.5 for m in masks], axis=0)
    assert inked[:20, :40].all() and not inked[25:35, 5:25].any()


def test_trapping_runs_light_blocks_under_darker_ones_only() -> None:
    sep = wb.separate(painting(), palette=INKS, paper=PAPER)
    plain = wb.block_masks(sep, trap_px=0)
    trapped = wb.block_masks(sep, trap_px=2)
    red = [i for i, c in enumerate(sep.inks) if c == INKS[2]][0]
    assert trapped[red].sum() >= plain[red].sum()
    assert trapped[-1].sum() == plain[-1].sum(), "the key block is not trapped"
    paper = sep.index < 0
    for a, b in zip(plain, trapped, strict=True):
        assert np.array_equal(a[paper], b[paper]), "traps never spread onto bare paper"


def test_separation_and_carving_are_deterministic() -> None:
    img = painting()
    a = wb.separate(img, n_inks=4, seed=9)
    b = wb.separate(img, n_inks=4, seed=9)
    assert a.inks == b.inks and np.array_equal(a.index, b.index)
    m = wb.block_masks(a)[1]
    c1, c2 = wb.carve(m, seed=5), wb.carve(m, seed=5)
    assert np.array_equal(c1, c2)
    assert not np.array_equal(c1, wb.carve(m, seed=6))
    assert c1.min() >= 0.0 and c1.max() <= 1.0
    assert np.array_equal(wb.paper_grain(64, seed=1), wb.paper_grain(64, seed=1))


def test_carved_edges_are_anti_aliased_and_dry_ink_only_thins() -> None:
    mask = np.zeros((64, 64), np.float32)
    mask[16:48, 16:48] = 1.0
    carved = wb.carve(mask, seed=1)
    assert carved[32, 32] == pytest.approx(1.0)
    assert carved[2, 2] == 0.0
    edge = carved[14:50, 14:50]
    assert ((edge > 0.05) & (edge < 0.95)).sum() > 20, "edges have in-between coverage"
    dry = wb.dry_ink(carved, seed=2, amount=0.3)
    assert (dry <= carved + 1e-6).all() and dry.sum() < carved.sum()


def test_misregister_shifts_and_brings_in_paper() -> None:
    m = np.zeros((10, 10), np.float32)
    m[4, 4] = 1.0
    s = wb.misregister(m, 2, -1)
    assert s[3, 6] == 1.0 and s.sum() == 1.0
    full = np.ones((10, 10), np.float32)
    assert wb.misregister(full, 1, 1)[0].sum() == 0.0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        wb.separate(painting())
    with pytest.raises(ValueError):
        wb.separate(painting()[..., 0], n_inks=2)
    with pytest.raises(ValueError):
        wb.hex_to_rgb("2b3a67")
    assert wb.rgb_to_hex(wb.hex_to_rgb("#2b3a67")) == "#2b3a67"
