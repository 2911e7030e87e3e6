"""``exhibit wall check``: what will look wrong on a venue's projector wall.

Thin: loads venue.toml, runs :func:`exhibit_engine.wall.check.check_venue`, prints the
displays and each problem in one line, and draws the layout with ``--png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._params import output_path

__all__ = ["wall", "wall_check"]


@click.group()
def wall() -> None:
    """Check a venue's projector wall: coverage, overlaps, blends, warps.

    `exhibit wall check venue.toml` finds what will look wrong on the wall (gaps no
    projector lights, overlaps as wide as a display, stretched pictures, folded warps)
    and names the displays involved; --png draws the layout.
    """


@wall.command("check")
@click.argument("venue", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the wall as a PNG: each projector's rectangle in its own "
                   "colour, overlaps hatched with their blend widths, gaps in red.")
def wall_check(venue: Path, png: Path | None) -> None:
    """Check VENUE (venue.toml): print its displays and every problem with the wall.

    Each problem is one line naming the displays, e.g. "displays 'left' and 'centre'
    leave a 0.20 m gap at x = 3.00-3.20 m". Exits 1 when any problem is an error;
    warnings alone exit 0.
    """
    from ..config import load_venue
    from ..wall.blend import blend_widths
    from ..wall.check import check_venue

    output_path(png, "--png")
    v = load_venue(venue)
    problems = check_venue(v)
    wall_ = v.wall
    shape = (f"curved (radius {wall_.radius:.2f} m, {wall_.angle_deg:.0f} deg; x along the arc)"
             if wall_.shape == "cylinder" else "flat")
    click.echo(f"{v.name}: {wall_.width:.2f} m x {wall_.height:.2f} m {shape} wall, "
               f"eye at ({wall_.eye[0]:.2f}, {wall_.eye[1]:.2f}) m, {wall_.eye[2]:.2f} m away")
    head = ("display", "pixels", "x (m)", "y (m)", "px/m", "blend L/R/T/B (m)", "gamma", "warp")
    rows = [head]
    for d in v.displays:
        x, y, w, h = d.rect
        rows.append((d.id, f"{d.pixels[0]}x{d.pixels[1]}", f"{x:.2f}-{x + w:.2f}",
                     f"{y:.2f}-{y + h:.2f}", f"{d.pixels[0] / w:.0f}",
                     "/".join(f"{b:.2f}" for b in blend_widths(v, d)), f"{d.gamma:g}",
                     "-" if d.warp is None else type(d.warp).__name__))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        click.echo("  " + "  ".join(c.ljust(n) for c, n in zip(r, widths)).rstrip())
    for p in problems:
        click.echo(str(p))
    if png is not None:
        from ..wall.diagram import save_wall_diagram

        click.echo(f"diagram: {save_wall_diagram(v, png, problems)}")
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors:
        click.echo(f"wall check failed: {errors} error(s), {warnings} warning(s)")
        sys.exit(1)
    click.echo(f"wall ok: {len(v.displays)} displays" +
               (f", {warnings} warning(s)" if warnings else ""))
