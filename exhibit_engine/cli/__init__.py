"""``exhibit``: the command line of Exhibit Engine.

Thin by design: parse, call the layer that owns the work, print. Every
:class:`~exhibit_engine.errors.ExhibitError` becomes one line on stderr and a
non-zero exit (1 for bad content, 2 for bad usage or configuration); a user never
sees a traceback for bad input.

This module holds the ``exhibit`` group (:data:`main`, the ``exhibit`` script) and
registers the subcommands, one module per group of them:

- :mod:`.bundles`: the curator's ``pack``, ``validate``, ``inspect``, ``install``,
  ``render`` and ``preview``;
- :mod:`.keys`: ``keys new``;
- :mod:`.show`: ``controller``, ``ctl ...``, ``kiosk ...`` and ``status``;
- :mod:`.node`: ``node``;
- :mod:`.logs`: ``logs`` (the JSON log files of ``--log-file``, :mod:`._logging`);
- :mod:`.showcheck`: ``show check``;
- :mod:`.wall`: ``wall check``;
- :mod:`.bench`: ``bench bundle|render|sync|wall``;
- :mod:`.demo`: ``demo`` and the runner behind it.

The cli is the top layer: it may import any package below it, and nothing imports it.
Commands import the heavy layers (Panda3D through ``runtime``, zmq through ``sync``,
trimesh through ``assets.pack``) inside their bodies, so ``exhibit --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from .. import __version__
from ..config.paths import shown
from ..errors import ExhibitError
from . import bench, bundles, demo, keys, kiosk_app, logs, node, show, showcheck, wall

__all__ = ["main"]


class _Group(click.Group):
    """A click group that turns ExhibitError into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ExhibitError as exc:
            # one printable line, whatever a path in it holds (newlines, undecodable bytes)
            click.echo(f"exhibit: error: {shown(str(exc))}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("exhibit: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="exhibit")
def main() -> None:
    """Exhibit Engine: immersive exhibitions on a wall of projectors.

    \b
    Curators:   pack, validate, inspect,         -- build, check and proof scene
                render, preview                     bundles
    Signing:    keys new, pack --sign, install   -- sign bundles, install them safely
    Operators:  controller, node, status,        -- run a show on a projector wall,
                ctl go|pause|blackout|status...     cue it and watch every node;
                logs                                read their JSON logs
    Kiosks:     kiosk app                        -- the visitor's touch app
                kiosk select|touch|language      -- what a visitor's touch sends
    Installers: wall check, show check           -- check a venue's wall, draw it;
                                                    check a show against its bundles
    Newcomers:  demo                             -- the whole thing on one machine
    Hardware:   bench bundle, bench render,      -- measure this machine
                bench scan, bench sync,
                bench wall
                soak                             -- a long show, broken on purpose

    Run `exhibit COMMAND --help` for what each command takes.
    """


# click lists the subcommands by name in --help, whatever the order here.
main.add_command(bundles.pack)
main.add_command(bundles.validate)
main.add_command(bundles.inspect)
main.add_command(bundles.install)
main.add_command(bundles.render)
main.add_command(bundles.preview)
main.add_command(keys.keys)
main.add_command(show.controller)
main.add_command(node.node)
main.add_command(show.ctl)
main.add_command(show.kiosk)
show.kiosk.add_command(kiosk_app.app)
main.add_command(show.status)
main.add_command(logs.logs)
main.add_command(showcheck.show)
main.add_command(wall.wall)
main.add_command(bench.bench)
main.add_command(bench.soak)
main.add_command(demo.demo)
