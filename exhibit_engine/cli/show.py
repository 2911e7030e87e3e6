"""Running a show: ``exhibit controller`` and ``exhibit node`` start its processes;
``exhibit ctl``, ``exhibit kiosk`` and ``exhibit status`` (``ctl status`` at the top
level) operate it from a terminal (thin: parse, send one command to the controller,
print its answer in one line).

The controller and a node resolve their settings once from venue.toml, show.toml and
the flags (:mod:`exhibit_engine.config`), log joins, losses and dropped frames to
stderr, one line each (and as JSON lines to a rotating ``--log-file``: :mod:`._logging`),
and run until Ctrl-C.

``ctl``, ``kiosk`` and ``status`` find the controller from ``--host``/``--state-port``,
then ``EXHIBIT_HOST`` / ``EXHIBIT_STATE_PORT``, then ``--venue``'s ``[network]``, then
127.0.0.1:5570. With CURVE (``[security] curve = true``) they take ``--key`` and learn
the controller's public key from ``--venue`` or, without a venue file, ``--server-key``;
a key with neither is an error, never silently unused. A refused command (an unknown
cue, a kiosk sending GO) or a controller that does not answer is one line on stderr and
exit status 1; bad arguments are one line and exit status 2.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ._captures import CAPTURE_WAIT_S, capture_results, capture_view
from ._console import ControllerConsole, http_option
from ._logging import log_options, start_logging
from ._params import PORT
from ._statusview import summary_line
from .showcheck import checked_show


__all__ = ["controller", "ctl", "ctl_blackout", "ctl_capture", "ctl_goto", "ctl_seek", "ctl_start",
           "ctl_status", "kiosk", "kiosk_language", "kiosk_select", "kiosk_touch", "status"]


# --------------------------------------------------------------------------- controller, node


def _venue_show(venue: Path, show: Path | None) -> tuple[Any, Any]:
    from ..config import load_show, load_venue

    return load_venue(venue), (load_show(show) if show else None)


@click.command()
@click.option("--venue", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="venue.toml: the wall, its displays and the network.")
@click.option("--show", "show", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="show.toml: the bundles and the cue list.")
@click.option("--host", help="Address to bind (default: venue [network] host).")
@click.option("--state-port", type=PORT, help="ROUTER port for joins, clock probes and commands.")
@click.option("--publish-port", type=PORT, help="PUB port for heartbeats and events.")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the session is saved and resumed from (default: "
                   "$EXHIBIT_STATE_FILE, else .exhibit/controller-SHOW.json beside "
                   "venue.toml).")
@click.option("--no-state", is_flag=True,
              help="Neither resume nor save: every start is a fresh show.")
@click.option("--fresh", is_flag=True,
              help="Start a fresh show even if the state file cannot be read: it is moved "
                   "aside to STATE.unreadable-TIME, never overwritten.")
@click.option("--bundle-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding the show's .exb bundles (default: $EXHIBIT_BUNDLE_DIR, "
                   "else bundles/ beside venue.toml). Where it exists, the show is checked "
                   "against them at start (as `exhibit show check` does) and a kiosk may "
                   "select only their items.")
@click.option("--insecure", is_flag=True,
              help="Bind a network address without CURVE ([security] curve = true): any "
                   "machine that reaches it may command the show. For a closed test "
                   "network only; the banner and `exhibit status` warn.")
@click.option("--sim-time", metavar="ISO",
              help="Simulate the wall clock from this instant (e.g. 2026-03-29T14:03:00+02:00)"
                   ": opening hours and the state file see it instead of the real clock.")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="This machine's CURVE secret key (NAME.curve.key from `exhibit keys new "
                   "NAME --kind curve`); needed when venue.toml [security] has curve = true (default: $EXHIBIT_KEY, else [security] controller_key).")
@click.option("--transfer-port", type=PORT,
              help="Port the nodes fetch the show's bundles from (default: venue [network] "
                   "transfer_port, 5572). The bundles are served from --bundle-dir.")
@click.option("--backup", is_flag=True,
              help="Run the backup controller of the venue's pair ([network.backup]): it "
                   "holds a replica of the show and takes over when the primary is gone "
                   "and a node, kiosk or operator asks it to. Without it, a venue with a "
                   "backup runs the primary.")
@http_option
@log_options("controller")
def controller(venue: Path, show: Path, host: str | None, state_port: int | None,
               publish_port: int | None, state_file: Path | None, no_state: bool,
               fresh: bool, bundle_dir: Path | None, insecure: bool, sim_time: str | None,
               key_file: Path | None, transfer_port: int | None, backup: bool,
               http: str | None) -> None:
    """Run the show controller: the clock and the truth every node follows.

    Publishes the show-time anchor in heartbeats, answers clock probes, keeps the list
    of nodes and takes operator and kiosk commands (`exhibit ctl`, `exhibit kiosk`, and
    the HTTP console with --http). Stop it with Ctrl-C.

    The session (show time, cue, selection, blackout...) is saved to a state file
    whenever it changes and every few seconds; a controller started again with the same
    file resumes the show where it was, as if it had run on meanwhile. One controller at a
    time uses a state file. One that exists but cannot be read is never overwritten: the
    controller refuses to start unless given --fresh.

    A venue with a [network.backup] runs two: `exhibit controller` on the primary PC and
    `exhibit controller --backup` on the backup PC (with the same controller key where
    curve is on). The backup keeps a replica of the show; when the primary dies it takes
    over within about a second, on the same show time, and every node, kiosk and `exhibit
    ctl` moves to it by itself. It does not hand the show back: stop the backup when the
    primary is running again, and the primary takes over.
    """
    from datetime import datetime

    from ..config.roles import is_loopback, resolve_controller

    if state_file is not None and no_state:
        raise ConfigError("<flags>", "cannot be combined with --state-file", key="--no-state")
    start = None
    if sim_time is not None:
        try:
            start = datetime.fromisoformat(sim_time)
        except ValueError:
            raise ConfigError("<flags>", f"{sim_time!r} is not an ISO date and time, e.g. "
                              "2026-03-29T14:03:00+02:00", key="--sim-time") from None
    v, s = _venue_show(venue, show)
    folder = bundle_dir or Path(os.environ.get("EXHIBIT_BUNDLE_DIR")
                                or Path(v.path).parent / "bundles")
    settings = resolve_controller(v, s, host=host, state_port=state_port,
                                  publish_port=publish_port,
                                  state_file=str(state_file) if state_file else None,
                                  persist=not no_state,
                                  key=str(key_file) if key_file else None,
                                  bundle_dir=str(folder) if folder.is_dir() else None,
                                  transfer_port=transfer_port, backup=backup)
    open_bind = not v.security.curve and not is_loopback(settings.host)
    if open_bind and not insecure:
        raise ConfigError(v.path or str(venue), f"the controller would listen on "
                          f"{settings.host!r} without CURVE, so any machine on that network "
                          "could command the show: set curve = true (docs/protocol.md §9), "
                          "bind 127.0.0.1, or pass --insecure", key="security.curve")
    from ..sync.controller import run_controller, simulated_wall_clock

    start_logging()
    wall = simulated_wall_clock(start) if start is not None else None
    items = checked_show(v, s, show, bundle_dir)

    def ready(server: Any) -> None:
        server.core.items = items
        saved = (f"; state file {settings.state_file}" if settings.state_file else "") + console.start(server)
        click.echo(f"controller: show {s.id!r} on {server.state_endpoint} (state) and "
                   f"{server.publish_endpoint} (publish){saved}; Ctrl-C stops", err=True)
        if server.pair is not None:
            click.echo(f"controller: the {server.pair.star.role} of a pair with "
                       f"{server.pair.partner} (pair link on port "
                       f"{settings.pair.peer_port}); the "
                       f"{'backup' if server.pair.star.role == 'primary' else 'primary'} "
                       "takes over if this one is lost", err=True)
        if server.transfer is not None:
            offered = server.transfer.summary().get("bundles", {})
            click.echo(f"controller: serving {len(offered)} of {len(s.bundles)} bundles "
                       f"({sum(e['size'] for e in offered.values()) / 1e6:.1f} MB) from "
                       f"{settings.bundle_dir} on {server.transfer.endpoint}", err=True)
        if open_bind:
            server.core.insecure = (f"listening on {settings.host} without CURVE: any "
                                    "machine on that network may command the show")
            click.echo(f"controller: WARNING: INSECURE: {server.core.insecure}", err=True)

    with ControllerConsole(v, s, http) as console:    # refuses a bad --http first
        sys.exit(run_controller(settings, on_ready=ready, wall_clock=wall, fresh=fresh))


# ------------------------------------------------------------- ctl, kiosk, status: shared


def _network_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--venue, --host, --state-port, --timeout, --key and --server-key, shared by
    ``ctl``, ``kiosk`` and ``status``."""
    for option in reversed([
        click.option("--venue", type=click.Path(dir_okay=False, path_type=Path),
                     help="venue.toml: the controller's address is its [network]."),
        click.option("--host", help="Controller address (default: the venue's, or "
                     "127.0.0.1)."),
        click.option("--state-port", type=PORT, help="Controller ROUTER port (default: the "
                     "venue's, or 5570)."),
        click.option("--timeout", "timeout_s", type=float, default=2.0, show_default=True,
                     help="Seconds to wait for the controller's answer."),
        click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="This machine's CURVE secret key (NAME.curve.key), when the "
                          "venue's [security] has curve = true (default: $EXHIBIT_KEY); "
                          "needs --venue or --server-key."),
        click.option("--server-key", type=click.Path(dir_okay=False, path_type=Path),
                     help="The controller's CURVE public key file (the venue's "
                          "controller_public_key), for --key without --venue."),
        click.option("--http", "http_url", metavar="URL",
                     help="Go through the controller's console instead (its HTTP API, "
                          "e.g. http://10.0.0.5:8080), from any machine that reaches it."),
        click.option("--token", "token_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="With --http: the console token file (NAME.token from `exhibit "
                          "keys new NAME --kind token`)."),
    ]):
        f = option(f)
    return f


def _endpoint(venue: Path | None, host: str | None, state_port: int | None,
              timeout_s: float, key_file: Path | None, role: str,
              server_key: Path | None = None, http_url: str | None = None,
              token_file: Path | None = None) -> dict[str, Any]:
    from ..config import load_venue, resolve_peer

    if not (math.isfinite(timeout_s) and 0 < timeout_s <= 600):
        raise ConfigError("<flags>", "must be more than 0 and at most 600 seconds",
                          key="--timeout")
    if http_url is not None or token_file is not None:
        return _http_endpoint(http_url, token_file, timeout_s,
                              venue or host or state_port or key_file or server_key)
    v = load_venue(venue) if venue else None
    h, port, key = resolve_peer(v, host=host, state_port=state_port,
                                key=str(key_file) if key_file else None)
    curve = None
    if v is not None:       # the venue says whether the show network is encrypted
        from ..sync.auth import client_curve

        if server_key is not None:
            raise ConfigError("<flags>", "give --venue or --server-key, not both (the "
                              "venue's [security] names the controller's key)",
                              key="--server-key")
        curve = client_curve(v.security, key, role=role)
    elif server_key is not None:
        from ..sync.auth import client_curve_for_server

        if not key:
            raise ConfigError("<flags>", "needs --key PATH (this machine's NAME.curve.key)",
                              key="--server-key")
        curve = client_curve_for_server(key, str(server_key))
    elif key:
        raise ConfigError("<flags>", "a CURVE key (--key or EXHIBIT_KEY) needs the "
                          "controller's public key: give --venue VENUE.toml or --server-key "
                          "PATH (its controller_public_key file)", key="--key")
    from ..config.roles import resolve_backup

    return {"host": h, "state_port": port, "timeout_s": timeout_s, "curve": curve,
            "backup": resolve_backup(v, host, state_port)}


def _http_endpoint(url: str | None, token_file: Path | None, timeout_s: float,
                   other: object) -> dict[str, Any]:
    """The endpoint of ``--http URL [--token FILE]``: the console, not the sockets."""
    from ..console.client import ConsoleClient, read_token

    if url is None:
        raise ConfigError("<flags>", "--token goes with --http URL", key="--token")
    if other:
        raise ConfigError("<flags>", "give --http, or the controller's own address "
                          "(--venue, --host, --state-port, --key), not both", key="--http")
    token = read_token(str(token_file)) if token_file is not None else None
    return {"http": ConsoleClient(url, token, timeout_s)}


def _number(value: str, flag: str, lo: float, hi: float) -> float:
    """A number argument, checked here so a bad one is one line (exit 2)."""
    try:
        x = float(value)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and lo <= x <= hi):
        raise ConfigError("<args>", f"{value!r} is not a number from {lo:g} to {hi:g}", key=flag)
    return x


def _delay_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--delay", metavar="SECONDS", default=None,
                        help="Seconds until it takes effect on every node (0-10; default "
                             "0.2: enough for every node to hear it first).")(f)


def _delay(delay: str | None) -> dict[str, float]:
    return {} if delay is None else {"delay": _number(delay, "--delay", 0.0, 10.0)}


@contextmanager
def _client(kind: str, endpoint: dict[str, Any], **extra: Any) -> Iterator[Any]:
    if "http" in endpoint:            # through the console: its token sets the rights
        yield endpoint["http"]
        return
    if kind == "kiosk":
        from ..sync.kiosk import KioskClient

        client: Any = KioskClient(endpoint["host"], endpoint["state_port"],
                                  timeout_s=endpoint["timeout_s"], curve=endpoint["curve"],
                                  backup=endpoint.get("backup"), **extra)
    else:
        from ..sync.operator import OperatorClient

        client = OperatorClient(endpoint["host"], endpoint["state_port"],
                                timeout_s=endpoint["timeout_s"], curve=endpoint["curve"],
                                backup=endpoint.get("backup"))
    try:
        yield client
    finally:
        client.close()


# --------------------------------------------------------------------------- ctl


@click.group()
@_network_options
@click.pass_context
def ctl(ctx: click.Context, venue: Path | None, host: str | None, state_port: int | None,
        timeout_s: float, key_file: Path | None, server_key: Path | None,
        http_url: str | None, token_file: Path | None) -> None:
    """Operate a running show: GO, pause, goto, blackout, panic, status.

    \b
    exhibit ctl status                 every peer: joined/loading/hung/lost, frames, show time
    exhibit ctl go | next | back       next cue / previous cue (a double GO is ignored)
    exhibit ctl pause | resume         hold / play on from the same frame
    exhibit ctl goto CUE               a cue by id, or by index (0 = first)
    exhibit ctl seek SECONDS           jump to a show time
    exhibit ctl blackout on|off        fade the wall to black and back (--fade S)
    exhibit ctl panic                  fade to black; a second panic: black and stopped
    exhibit ctl capture TAG            every node saves a PNG of the same frame
    exhibit ctl start [--force]        start a show held until every display is ready

    Every change takes effect a moment later (--delay, 0.2 s), on the same frame on every
    node. The show's state survives a controller restart.
    """
    ctx.obj = _endpoint(venue, host, state_port, timeout_s, key_file, "operator", server_key,
                        http_url, token_file)


def _ctl_send(ctx: click.Context, name: str, **args: Any) -> dict[str, Any]:
    with _client("operator", ctx.obj) as op:
        data = op.command(name, **args)
    click.echo(summary_line(name, data))
    return data


@ctl.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the controller's answer as JSON.")
@click.pass_context
def ctl_status(ctx: click.Context, as_json: bool) -> None:
    """Show the show time, what plays, and every node and kiosk the controller knows.

    A node is "joined" while it reports, "loading" while it builds a scene, "hung" when
    its render loop stalls and "lost" when it falls silent.
    """
    _print_status(ctx.obj, as_json)


@click.command("status")
@_network_options
@click.option("--json", "as_json", is_flag=True, help="Print the controller's answer as JSON.")
def status(venue: Path | None, host: str | None, state_port: int | None, timeout_s: float,
           key_file: Path | None, server_key: Path | None, http_url: str | None,
           token_file: Path | None, as_json: bool) -> None:
    """Show the show time, what plays, and every node and kiosk the controller knows
    (the same as `exhibit ctl status`).

    A node is "joined" while it reports, "loading" while it builds a scene, "hung" when
    its render loop stalls and "lost" when it falls silent.
    """
    _print_status(_endpoint(venue, host, state_port, timeout_s, key_file, "operator",
                            server_key, http_url, token_file), as_json)


def _print_status(endpoint: dict[str, Any], as_json: bool) -> None:
    """Ask the controller for ``status`` and print it (a table, or JSON)."""
    from ._statusview import print_status

    with _client("operator", endpoint) as op:
        print_status(op.command("status"), as_json)


def _simple(name: str, doc: str) -> None:
    @_delay_option
    @click.pass_context
    def run(ctx: click.Context, delay: str | None) -> None:
        _ctl_send(ctx, name, **_delay(delay))

    run.__doc__ = doc
    ctl.command(name)(run)


_simple("go", "Jump to the start of the next cue and play (a second GO within the "
              "show's guard time, 0.5 s by default, is ignored).")
_simple("next", "The same as go: the next cue's start, playing.")
_simple("back", "Jump to the start of the previous cue.")
_simple("pause", "Hold the picture where it is (show time stops; it resumes from the "
                 "same frame).")
_simple("resume", "Play on from where the show was paused (or from a wait cue's hold).")
_simple("panic", "Fade to black at once; a second panic is black immediately and stops "
                 "the show. `blackout off` clears it, then `resume` or `go`.")


@ctl.command("start")
@click.option("--force", is_flag=True,
              help="Start even though some displays are not ready (they join when they "
                   "are, in step with the others).")
@click.pass_context
def ctl_start(ctx: click.Context, force: bool) -> None:
    """Start a show that waits for its displays ([control] start = "when-ready").

    Without --force the show starts only if every display of the venue has a node that
    is ready (every bundle verified, a frame drawn); otherwise the answer names who is
    missing and why. `exhibit status` shows the gate while it holds.
    """
    _ctl_send(ctx, "start", force=force)


@ctl.command("goto")
@click.argument("cue")
@_delay_option
@click.pass_context
def ctl_goto(ctx: click.Context, cue: str, delay: str | None) -> None:
    """Jump to the start of cue CUE: its id, or its index in the cue list (0 = first).

    A paused show stays paused on the new cue.
    """
    target: str | int = int(cue) if cue.isdigit() else cue
    _ctl_send(ctx, "goto", cue=target, **_delay(delay))


@ctl.command("seek")
@click.argument("seconds")
@click.option("--rate", metavar="RATE", help="Play rate from there (0-16; 0 holds, 1 plays).")
@_delay_option
@click.pass_context
def ctl_seek(ctx: click.Context, seconds: str, rate: str | None, delay: str | None) -> None:
    """Jump to show time SECONDS (from the start of the cue list)."""
    args: dict[str, Any] = {"position": _number(seconds, "SECONDS", 0.0, 1e9)}
    if rate is not None:
        args["rate"] = _number(rate, "--rate", 0.0, 16.0)
    _ctl_send(ctx, "seek", **args, **_delay(delay))


@ctl.command("blackout")
@click.argument("state", metavar="on|off")
@click.option("--fade", metavar="SECONDS", help="Fade time in seconds (default: the show's, 2 s).")
@_delay_option
@click.pass_context
def ctl_blackout(ctx: click.Context, state: str, fade: str | None, delay: str | None) -> None:
    """Fade the whole wall to black (on) or back to the picture (off).

    A blackout stays on through opening hours and a controller restart until turned off.
    """
    if state not in ("on", "off"):
        raise ConfigError("<args>", f"must be on or off, not {state!r}", key="blackout")
    args: dict[str, Any] = {"on": state == "on"}
    if fade is not None:
        args["fade"] = _number(fade, "--fade", 0.0, 600.0)
    _ctl_send(ctx, "blackout", **args, **_delay(delay))


@ctl.command("capture")
@click.argument("tag")
@_delay_option
@click.pass_context
def ctl_capture(ctx: click.Context, tag: str, delay: str | None) -> None:
    """Ask every node to save a PNG of the same frame as TAG (nodes started with
    --capture-dir write DISPLAY-TAG.png there).

    Waits for the nodes to report: a node that could not save its PNG (a full or
    read-only disk) is one error line with its reason, and the exit status is 1; the
    node goes on rendering."""
    from ..config.paths import check_file_name, shown

    why = check_file_name(tag)          # the controller and each node check it again
    if why is not None:
        raise ConfigError("<args>", f"{shown(repr(tag))}: the tag {why}", key="TAG")
    with _client("operator", ctx.obj) as op:
        before = capture_view(op.command("status"))
        data = op.command("capture", tag=tag, **_delay(delay))
        click.echo(f"capture: {tag!r} at show time {data['effective_at']:.3f} s")
        failed = capture_results(op, tag, before, float(delay or 0.5) + CAPTURE_WAIT_S)
    if failed:
        sys.exit(1)


# --------------------------------------------------------------------------- kiosk


@click.group()
@_network_options
@click.option("--id", "kiosk_id", default="kiosk-cli", show_default=True,
              help="This kiosk's id, as `exhibit ctl status` lists it.")
@click.pass_context
def kiosk(ctx: click.Context, venue: Path | None, host: str | None, state_port: int | None,
          timeout_s: float, key_file: Path | None, server_key: Path | None,
          http_url: str | None, token_file: Path | None, kiosk_id: str) -> None:
    """Act as a visitor kiosk: select an artifact, touch, switch the language.

    \b
    exhibit kiosk select ITEM     the wall turns to the item (an id from the bundle)
    exhibit kiosk touch           visitor activity: the attract loop gives way
    exhibit kiosk language LANG   the wall's captions switch (zh, en, ru...)

    The wall follows on the same frame on every node. For operators checking a kiosk
    and for tests; a real kiosk speaks the same protocol (docs/protocol.md).
    """
    if not 0 < len(kiosk_id) <= 256:
        raise ConfigError("<flags>", "must be 1 to 256 characters", key="--id")
    ctx.obj = {**_endpoint(venue, host, state_port, timeout_s, key_file, "kiosk", server_key,
                           http_url, token_file), "kiosk_id": kiosk_id}


def _kiosk(ctx: click.Context) -> Any:
    endpoint = {k: v for k, v in ctx.obj.items() if k != "kiosk_id"}
    return _client("kiosk", endpoint, kiosk_id=ctx.obj["kiosk_id"])


@kiosk.command("select")
@click.argument("item")
@click.option("--delay", metavar="SECONDS", help="Seconds until every node shows it (0-60; default 0.3).")
@click.pass_context
def kiosk_select(ctx: click.Context, item: str, delay: str | None) -> None:
    """Select ITEM (an artifact id): every node's scene turns to it."""
    d = None if delay is None else _number(delay, "--delay", 0.0, 60.0)
    with _kiosk(ctx) as k:
        data = k.select(item, delay=d)
    click.echo(f"select: {item!r} at show time {data['effective_at']:.3f} s")


@kiosk.command("touch")
@click.pass_context
def kiosk_touch(ctx: click.Context) -> None:
    """Report a visitor's touch: restarts the idle timer and leaves the attract loop."""
    with _kiosk(ctx) as k:
        data = k.touch()
    click.echo(summary_line("touch", data))


@kiosk.command("language")
@click.argument("lang")
@click.pass_context
def kiosk_language(ctx: click.Context, lang: str) -> None:
    """Switch the wall's language to LANG (one of the show's title languages)."""
    with _kiosk(ctx) as k:
        data = k.language(lang)
    click.echo(f"language: {data['language']}")
