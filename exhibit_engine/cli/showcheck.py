"""``exhibit show check``: a show file checked against its bundles before it plays.

Thin: loads venue.toml and show.toml, runs
:func:`exhibit_engine.sync.show_check.check_show` and prints one line per problem.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["checked_show", "show", "show_check"]


def checked_show(v: Any, s: Any, show_path: Path, bundle_dir: Path | None, *,
                 absent_ok: bool = False) -> frozenset[str] | None:
    """The start-up check of ``exhibit controller`` and ``exhibit node``.

    Checks the show against its bundles where this machine has them (``bundle_dir``
    given, or the default folder exists), printing one line per problem and exiting 1.

    Returns:
        The item ids of the show's bundles, or ``None`` where the bundles are not here.
    """
    from ..config.paths import shown
    from ..errors import ConfigError
    from ..sync.show_check import check_show, show_items

    folder = bundle_dir or Path(os.environ.get("EXHIBIT_BUNDLE_DIR")
                                or Path(v.path).parent / "bundles")
    if not folder.is_dir():
        if bundle_dir is None:
            return None        # a controller PC without the bundles: nothing to check
        raise ConfigError("<flags>", f"{shown(folder)} is not a folder of bundles",
                          key="--bundle-dir")
    problems = check_show(s, folder, absent_ok=absent_ok)
    if problems:
        for p in problems:
            click.echo(f"exhibit: error: {p}", err=True)
        click.echo(f"exhibit: the show cannot play ({len(problems)} problem"
                   f"{'s' if len(problems) != 1 else ''}; `exhibit show check` lists "
                   f"them): {show_path}", err=True)
        sys.exit(1)
    if absent_ok:
        return None             # a node: the items are the controller's business
    return show_items(s, folder)


@click.group()
def show() -> None:
    """Check a show before it plays.

    `exhibit show check venue.toml show.toml` finds every cue (the main list, the
    attract loop and standby) that could not play: a missing bundle file, a scene id
    the bundle lacks (with the nearest one), scene parameters that break their rules.
    """


@show.command("check")
@click.argument("venue", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("show_file", metavar="SHOW", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--bundle-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding the show's .exb bundles (default: $EXHIBIT_BUNDLE_DIR, "
                   "else bundles/ beside venue.toml, as a node finds them).")
def show_check(venue: Path, show_file: Path, bundle_dir: Path | None) -> None:
    """Check SHOW (show.toml) against the bundles VENUE's nodes will play.

    Prints one line per problem, naming the show file and the cue, e.g.
    "show.toml: attract cue 'lanterns': bundle 'ice-festival' has no scene
    'lantern-wlak' (did you mean 'lantern-walk'?)". Exits 0 when every cue can
    play, 1 otherwise.
    """
    from ..config import load_show, load_venue
    from ..sync.show_check import check_show, show_cues

    v = load_venue(venue)
    s = load_show(show_file)
    # the folder a node uses: flag, then environment, then beside the venue file
    folder = bundle_dir or Path(os.environ.get("EXHIBIT_BUNDLE_DIR")
                                or Path(v.path).parent / "bundles")
    problems = check_show(s, folder)
    for p in problems:
        click.echo(f"exhibit: error: {p}", err=True)
    cues = len(list(show_cues(s)))
    if problems:
        click.echo(f"exhibit: show check failed: {len(problems)} problem"
                   f"{'s' if len(problems) != 1 else ''} ({show_file})", err=True)
        sys.exit(1)
    click.echo(f"ok: {s.id}: {cues} cues can play from {folder} ({show_file})")
