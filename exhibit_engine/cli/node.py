"""``exhibit node``: a projector node (split from :mod:`.show`, which holds the controller
and the operator's commands). Thin: resolve the settings, check the show, run
:func:`exhibit_engine.runtime.node_app.run_node`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..errors import ConfigError
from ._logging import log_options, start_logging
from ._params import PORT, Count, Finite, output_folder, output_path
from .show import _venue_show
from .showcheck import checked_show

__all__ = ["node"]


@click.command()
@click.option("--venue", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="venue.toml: the wall, its displays and the network.")
@click.option("--show", "show", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="show.toml: which bundles and cues play.")
@click.option("--display", "display_id", required=True, help="This node's display id.")
@click.option("--bundle-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The node's bundle library (default: bundles/ beside venue.toml; made if "
                   "missing). The node fetches the show's bundles into it from the "
                   "controller.")
@click.option("--no-fetch", is_flag=True,
              help="Do not fetch bundles from the controller: play only what the bundle "
                   "folder holds (copied there by hand or with `exhibit install`).")
@click.option("--transfer-port", type=PORT,
              help="Controller port to fetch bundles from (default: venue [network] "
                   "transfer_port, 5572).")
@click.option("--host", help="Controller address (default: venue [network] host).")
@click.option("--state-port", type=PORT, help="Controller ROUTER port.")
@click.option("--publish-port", type=PORT, help="Controller PUB port.")
@click.option("--headless", is_flag=True, help="Render offscreen, even where a display exists.")
@click.option("--render-scale", type=Finite(0.01, 4.0), help="Scale the display's pixel size "
              "(e.g. 0.25 for a light demo).")
@click.option("--frames", type=Count(1, 10**9), help="Stop after rendering this many frames.")
@click.option("--capture-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where capture events save PNGs of this node's slice.")
@click.option("--window-origin", help="Window position X,Y on the desktop, in pixels "
              "(with a display; the demo tiles its windows like the wall).")
@click.option("--status-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JSON summary here on exit.")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="This machine's CURVE secret key (NAME.curve.key from `exhibit keys new "
                   "NAME --kind curve`); needed when venue.toml [security] has curve = true (default: $EXHIBIT_KEY).")
@log_options("node")
def node(venue: Path, show: Path, display_id: str, bundle_dir: Path | None, no_fetch: bool,
         transfer_port: int | None, host: str | None,
         state_port: int | None, publish_port: int | None, headless: bool,
         render_scale: float | None, frames: int | None, capture_dir: Path | None,
         window_origin: str | None, status_file: Path | None, key_file: Path | None) -> None:
    """Run a projector node: render this display's slice of the wall at show time.

    The node estimates the controller's clock (NTP-style), sets an off-axis lens for its
    wall rectangle, and draws the cue the show timeline names for the current show time.
    It may start before or after the controller, and keeps playing if the controller
    goes away. Stop it with Ctrl-C. It refuses to start, one line per cue, if a cue of
    the show could not play from its bundles (see `exhibit show check`).

    The node fetches the show's bundles it lacks, or holds in another version, from the
    controller (unless --no-fetch), checks every chunk and the whole file, the venue's
    signature policy and the version (never older than installed), then installs them
    into its bundle folder. It reports its progress in `exhibit status`; a bundle that
    arrives is played at once if the node lacked it, else from the next cue that uses it.
    """
    from ..config import resolve_node

    output_path(status_file, "--status-file")
    output_folder(capture_dir, "--capture-dir")
    if frames is not None and frames < 1:
        raise ConfigError("<flags>", "must be at least 1", key="--frames")
    origin = None
    if window_origin:
        try:
            x, y = (int(p) for p in window_origin.split(","))
        except ValueError:
            raise ConfigError("<flags>", "must be X,Y in pixels, e.g. 40,40",
                              key="--window-origin") from None
        origin = (x, y)
    v, s = _venue_show(venue, show)
    settings = resolve_node(v, display_id, host=host, state_port=state_port,
                            publish_port=publish_port,
                            bundle_dir=str(bundle_dir) if bundle_dir else None,
                            headless=headless, render_scale=render_scale, frames=frames,
                            capture_dir=str(capture_dir) if capture_dir else None,
                            status_path=str(status_file) if status_file else None,
                            window_origin=origin, key=str(key_file) if key_file else None,
                            fetch=not no_fetch, transfer_port=transfer_port)
    from ..sync.auth import client_curve

    # A missing or unlisted key is one line now, before any bundle is loaded.
    client_curve(v.security, settings.key_file, role="projector")
    # Every cue it may be asked to play can be built: one line per problem, before the
    # wall goes live (a misspelt scene would otherwise stop the node at that cue).
    library = Path(settings.bundle_dir)
    # A fetching node may start with no folder at all: the fetcher makes it when the first
    # bundle arrives (made here, an empty folder beside a controller's venue.toml would
    # read to that controller as a bundle folder lacking every bundle).
    if not (settings.fetch and not library.exists()):
        checked_show(v, s, show, library, absent_ok=settings.fetch)
    from ..runtime.node_app import RESTART, run_node

    start_logging()
    code = run_node(settings, s)
    if code == RESTART:       # the operator's `restart`: the same command, afresh
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, "-m", "exhibit_engine.cli", *sys.argv[1:]])
    sys.exit(code)
