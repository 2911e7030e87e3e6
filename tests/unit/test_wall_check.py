"""`exhibit wall check`: gaps, overlaps and stretched pictures, named in one line each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from exhibit_engine.cli import main
from exhibit_engine.config import load_venue
from exhibit_engine.wall.check import check_venue

ROOT = Path(__file__).resolve().parents[2]

HEAD = """
[venue]
id = "t"
name = "Test hall"
[wall]
width = 8.0
height = 2.5
eye = [4.0, 1.25, 4.0]
"""


def _venue(tmp_path: Path, *displays: tuple[str, tuple[float, ...], tuple[int, int]],
           extra: str = "") -> Path:
    text = HEAD
    for did, rect, px in displays:
        text += (f'[[displays]]\nid = "{did}"\npixels = [{px[0]}, {px[1]}]\n'
                 f"rect = [{', '.join(str(r) for r in rect)}]\n")
    p = tmp_path / "venue.toml"
    p.write_text(text + extra, encoding="utf-8")
    return p


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")).astype(int)


def _check(path: Path, *args: str) -> tuple[int, list[str]]:
    res = CliRunner().invoke(main, ["wall", "check", str(path), *args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, res.output.splitlines()


ROW = (("left", (0.0, 0.0, 3.0, 2.5), (1440, 1200)),
       ("centre", (2.5, 0.0, 3.0, 2.5), (1440, 1200)),
       ("right", (5.0, 0.0, 3.0, 2.5), (1440, 1200)))


def test_the_sample_venue_passes() -> None:
    code, lines = _check(ROOT / "content" / "venue.toml")
    assert code == 0 and lines[-1].startswith("wall ok")
    assert not [ln for ln in lines if ln.startswith("error:")]


def test_three_projectors_with_overlaps_pass_and_list_their_blends(tmp_path: Path) -> None:
    code, lines = _check(_venue(tmp_path, *ROW))
    assert code == 0 and lines[-1] == "wall ok: 3 displays"
    centre = next(ln for ln in lines if ln.split()[:1] == ["centre"])
    assert "0.50/0.50/0.00/0.00" in centre and "2.50-5.50" in centre


def test_a_gap_is_one_line_naming_both_displays(tmp_path: Path) -> None:
    gap = (ROW[0], ("centre", (3.2, 0.0, 3.0, 2.5), (1440, 1200)), ROW[2])
    code, lines = _check(_venue(tmp_path, *gap))
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert code == 1
    assert errors == [("error: displays 'left' and 'centre' leave a 0.20 m gap at "
                       "x = 3.00-3.20 m")]


def test_an_uncovered_wall_edge_and_a_partial_gap(tmp_path: Path) -> None:
    short = (ROW[0], ROW[1], ("right", (5.0, 0.0, 2.7, 2.5), (1296, 1200)))
    _, lines = _check(_venue(tmp_path, *short))
    assert "error: display 'right' leaves a 0.30 m strip of the wall uncovered at " \
        "x = 7.70-8.00 m" in lines
    low = (ROW[0], ("centre", (2.5, 0.0, 3.0, 2.0), (1500, 1000)), ROW[2])
    _, lines = _check(_venue(tmp_path, *low))
    assert [ln for ln in lines if ln.startswith("error:")] == [
        ("error: displays 'left', 'centre' and 'right' leave a 2.00 m x 0.50 m gap at "
         "x = 3.00-5.00 m, y = 2.00-2.50 m")]


def test_an_overlap_as_wide_as_a_display_is_one_line_naming_both(tmp_path: Path) -> None:
    inside = (("left", (0.0, 0.0, 4.0, 2.5), (1600, 1000)),
              ("inner", (1.0, 0.0, 2.0, 2.5), (800, 1000)),
              ("right", (4.0, 0.0, 4.0, 2.5), (1600, 1000)))
    code, lines = _check(_venue(tmp_path, *inside))
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert code == 1 and len(errors) == 1
    assert errors[0] == ("error: displays 'left' and 'inner' overlap across the whole of "
                         "display 'inner' (x = 1.00-3.00 m, y = 0.00-2.50 m): it lies "
                         "entirely inside 'left'")


def test_a_display_overlapped_past_its_width(tmp_path: Path) -> None:
    wide = (("left", (0.0, 0.0, 5.0, 2.5), (1600, 800)), ("centre", (2.5, 0.0, 3.0, 2.5),
            (1440, 1200)), ("right", (3.0, 0.0, 5.0, 2.5), (1600, 800)))
    code, lines = _check(_venue(tmp_path, *wide))
    assert code == 1
    assert [ln for ln in lines if ln.startswith("error:")] == [
        ("error: display 'centre' is overlapped by 'left' on the left (2.50 m) and by "
         "'right' on the right (2.50 m), more than its 3.00 m width")]


def test_stretched_pictures_and_warnings(tmp_path: Path) -> None:
    stretched = (ROW[0], ("centre", (2.5, 0.0, 3.0, 2.5), (1920, 1200)), ROW[2])
    code, lines = _check(_venue(tmp_path, *stretched))
    assert code == 1 and "error: display 'centre': its output is 1.600:1 but its wall " \
        "rectangle is 1.200:1, so the picture is stretched 33.3 % wider" in lines
    path = _venue(tmp_path, *ROW, extra="")
    text = path.read_text().replace('id = "left"\n', 'id = "left"\nblend = { right = 0.8, '
                                    'left = 0.2 }\n')
    path.write_text(text)
    code, lines = _check(path)
    warnings = [ln for ln in lines if ln.startswith("warning:")]
    assert code == 0 and lines[-1] == "wall ok: 3 displays, 2 warning(s)"
    assert warnings == [
        ("warning: display 'left': a 0.20 m left blend, but no display overlaps its left "
         "edge, so it has no effect"),
        ("warning: display 'left': its right blend (0.80 m) is wider than the 0.50 m "
         "overlap there; the ramp is cut short")]


def test_folded_warps_are_errors(tmp_path: Path) -> None:
    path = _venue(tmp_path, *ROW)
    bow_tie = ('warp = { kind = "corner_pin", top_left = [0, 0], top_right = [1440, 1200], '
               'bottom_right = [1440, 0], bottom_left = [0, 1200] }\n')
    path.write_text(path.read_text().replace('id = "right"\n', 'id = "right"\n' + bow_tie))
    problems = check_venue(load_venue(path))
    assert [p.kind for p in problems] == ["warp"] and problems[0].displays == ("right",)


def test_config_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    path = _venue(tmp_path, *ROW)
    path.write_text(path.read_text().replace('id = "left"\n', 'id = "left"\ngamma = 9\n'))
    res = CliRunner().invoke(main, ["wall", "check", str(path)])
    assert res.exit_code == 2
    assert res.output.strip() == f"exhibit: error: {path}: displays[0].gamma: must be " \
        "between 1 and 3"


def test_png_diagram_shows_projectors_and_gaps(tmp_path: Path) -> None:
    ok_png, gap_png = tmp_path / "ok.png", tmp_path / "gap.png"
    code, lines = _check(_venue(tmp_path, *ROW), "--png", str(ok_png))
    assert code == 0 and f"diagram: {ok_png}" in lines
    gap = (ROW[0], ("centre", (3.2, 0.0, 3.0, 2.5), (1440, 1200)), ROW[2])
    code, _ = _check(_venue(tmp_path, *gap), "--png", str(gap_png))
    assert code == 1
    ok, bad = (_pixels(p) for p in (ok_png, gap_png))
    assert ok.shape[1] >= 1000 and ok.std() > 20

    def red(img: np.ndarray) -> int:
        return int(((img[..., 0] > 180) & (img[..., 1] < 90) & (img[..., 2] < 90)).sum())

    assert red(ok) == 0 and red(bad) > 2000  # the gap (and its message) drawn in red
    # each projector's colour appears, in a wall-sized region
    blue = ((ok[..., 2] > 150) & (ok[..., 0] < 100)).sum()
    assert blue > 500


@pytest.mark.parametrize("shape", ["angle = 90", "width = 7.853981633974483"])
def test_a_curved_wall_checks_and_draws(tmp_path: Path, shape: str) -> None:
    arc = 7.853981633974483
    path = tmp_path / "venue.toml"
    third = arc / 3
    text = (f'[wall]\nshape = "cylinder"\nradius = 5.0\n{shape}\nheight = 2.5\n'
            f"eye = [{arc / 2}, 1.25, 5.0]\n")
    for i, did in enumerate(("a", "b", "c")):
        x0 = max(0.0, i * third - 0.25)
        x1 = min(arc, (i + 1) * third + 0.25)
        px = round((x1 - x0) / 2.5 * 1000)
        text += f'[[displays]]\nid = "{did}"\npixels = [{px}, 1000]\nrect = [{x0}, 0.0, ' \
                f"{x1 - x0}, 2.5]\n"
    path.write_text(text)
    venue = load_venue(path)
    assert venue.wall.width == pytest.approx(arc) and venue.wall.angle_deg == pytest.approx(90)
    code, lines = _check(path, "--png", str(tmp_path / "c.png"))
    assert code == 0, lines
    assert "curved (radius 5.00 m, 90 deg; x along the arc)" in lines[0]
    assert _pixels(tmp_path / "c.png").shape[0] > 600  # with the top view
