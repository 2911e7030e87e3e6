"""``exhibit``: the command line of Exhibit Engine.

Thin by design: parse, call the layer that owns the work, print. Every
:class:`~exhibit_engine.errors.ExhibitError` becomes one line on stderr and a
non-zero exit (1 for bad content, 2 for bad usage or configuration); a user never
sees a traceback for bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__
from ._show_cli import ctl, kiosk, status
from .bench._cli import bench
from .errors import ConfigError, ExhibitError

__all__ = ["main"]


class _Group(click.Group):
    """A click group that turns ExhibitError into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ExhibitError as exc:
            click.echo(f"exhibit: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("exhibit: interrupted", err=True)
            ctx.exit(130)


def _size(value: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise click.BadParameter("width and height must be 16-8192 pixels")
    return w, h


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="exhibit")
def main() -> None:
    """Exhibit Engine: immersive exhibitions on a wall of projectors.

    \b
    Curators:   pack, validate, inspect,         -- build, check and proof scene
                render, preview                     bundles
    Signing:    keys new, pack --sign, install   -- sign bundles, install them safely
    Operators:  controller, node, status,        -- run a show on a projector wall,
                ctl go|pause|blackout|status...     cue it and watch every node
    Kiosks:     kiosk select|touch|language      -- what a visitor's touch sends
    Installers: wall check                       -- check a venue's wall, draw it
    Newcomers:  demo                             -- the whole thing on one machine
    Hardware:   bench bundle, bench render,      -- measure this machine
                bench sync, bench wall

    Run `exhibit COMMAND --help` for what each command takes.
    """


# --------------------------------------------------------------------------- bundles


@main.command()
@click.argument("src_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False,
              path_type=Path), help="The .exb bundle file to write.")
@click.option("--sign", "sign_key", metavar="KEYFILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Sign the bundle with this Ed25519 private key (NAME.ed25519.key from "
                   "`exhibit keys new`): adds manifest.sig, a signature over manifest.json.")
def pack(src_dir: Path, out: Path, sign_key: Path | None) -> None:
    """Pack a bundle source folder into one .exb bundle.

    SRC_DIR holds bundle.toml (id, version, titles, items, scenes) and the files the
    scenes use. Every file is listed in the bundle's manifest.json with its size, media
    type and SHA-256. The bundle is written atomically: a failed pack leaves nothing.
    With --sign, manifest.sig signs manifest.json, and so every file and the version.
    """
    from rich.progress import Progress

    from .assets.pack import pack as do_pack

    sign = None
    signed_by = ""
    if sign_key is not None:
        from functools import partial

        from .assets.signing import load_private_key, public_key_of, sign_manifest

        key = load_private_key(sign_key)  # before packing: a bad key file writes nothing
        sign = partial(sign_manifest, private_key=key)
        signed_by = f", signed by key {public_key_of(key).key_id}"
    from rich.console import Console
    from rich.table import Table

    source_bytes = sum(p.stat().st_size for p in src_dir.rglob("*")
                       if p.is_file() and not p.is_symlink()) if src_dir.is_dir() else 0
    notes: dict[str, list[str]] = {}
    with Progress(transient=True) as bar:
        task = bar.add_task(f"packing {src_dir}", total=source_bytes or None)
        manifest = do_pack(src_dir, out, progress=lambda name, n: bar.advance(task, n),
                           sign=sign, notes=notes)
    table = Table(title=f"{manifest.id} {manifest.version}", title_justify="left")
    for col, just in (("file", "left"), ("media type", "left"), ("size", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for f in manifest.files:
        table.add_row(f.path, f.media_type, f"{f.size:,}")
    Console().print(table)
    for source, remarks in sorted(notes.items()):
        click.echo(f"  {source}: {'; '.join(remarks)}")
    total = sum(f.size for f in manifest.files)
    click.echo(f"packed {manifest.id} {manifest.version}: {len(manifest.files)} files, "
               f"{len(manifest.scenes)} scenes, {total / 1e6:.2f} MB{signed_by} -> {out}")


_TRUST_HELP = ("A public key file (NAME.ed25519.pub, one key per line) whose signatures "
               "are trusted; repeat for several. A signed bundle must verify with one.")
_REQUIRE_HELP = "Refuse bundles without a signature by a trusted key (needs --trust)."


def _trusted_keys(files: tuple[Path, ...], require_signed: bool) -> list[Any]:
    """Load --trust files; a bad key file or a policy without keys is a usage error."""
    from .assets.signing import load_public_keys

    if require_signed and not files:
        raise ConfigError("<flags>", "needs at least one --trust PUBKEY file",
                          key="--require-signed")
    return [k for f in files for k in load_public_keys(f)]


def _signature_note(key_id: str | None, signature: Any, trust: list[Any]) -> str:
    """How a command reports a bundle's signature after its policy check."""
    if key_id is not None:
        names = sorted({k.name for k in trust if k.key_id == key_id and k.name})
        return f"signed by trusted key {key_id}" + (f" ({', '.join(names)})" if names else "")
    if signature is not None:
        return f"signed by key {signature.key_id} (not checked; give --trust)"
    return "unsigned"


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trust", "trust_files", multiple=True, metavar="PUBKEY",
              type=click.Path(dir_okay=False, path_type=Path), help=_TRUST_HELP)
@click.option("--require-signed", is_flag=True, help=_REQUIRE_HELP)
def validate(bundle: Path, trust_files: tuple[Path, ...], require_signed: bool) -> None:
    """Check a .exb bundle completely: structure, manifest, signature, every SHA-256.

    With --trust, a bundle's manifest.sig must verify with one of the trusted keys;
    with --require-signed, an unsigned bundle is refused too. Without them the
    signature is reported but not checked.

    Exits 0 if the bundle is valid, 1 with one line naming the entry and the rule it
    breaks if it is not (a bad, untrusted or missing signature included), and 2 on a
    usage error (such as an unreadable key file).
    """
    from rich.progress import Progress

    from .assets.bundle import Bundle
    from .assets.checks import CHECKS

    trust = _trusted_keys(trust_files, require_signed)
    with Bundle.open(bundle) as b:
        key_id = b.check_signature(trust, require_signed)
        note = _signature_note(key_id, b.signature, trust)
        total = sum(f.size for f in b.manifest.files)
        with Progress(transient=True, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task(f"checking {bundle.name}", total=total)
            for entry in b.iter_verified(CHECKS):
                bar.advance(task, entry.size)
        m = b.manifest
    click.echo(f"valid: {m.id} {m.version}, {len(m.files)} files, {len(m.scenes)} scenes, "
               f"{note} ({bundle})")


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of tables.")
def inspect(bundle: Path, as_json: bool) -> None:
    """Show what a bundle holds: titles, items, scenes and files.

    Opens the bundle and checks its structure (use `exhibit validate` for every hash).
    The signature line shows who claims to have signed; `exhibit validate --trust`
    checks that claim.
    """
    from .assets.bundle import Bundle

    with Bundle.open(bundle) as b:
        m = b.manifest
        sig = b.signature
    if as_json:
        click.echo(json.dumps({
            "id": m.id, "version": m.version, "title": dict(m.title),
            "rights": m.rights, "license": m.license,
            "scenes": [{"id": s.id, "kind": s.kind, "title": dict(s.title),
                        "assets": list(s.assets)} for s in m.scenes],
            "items": [{"id": i.id, "title": dict(i.title), "creator": i.creator,
                       "date": i.date, "identifier": i.identifier} for i in m.items],
            "assets": [{"path": f.path, "size": f.size, "media_type": f.media_type,
                        "sha256": f.sha256} for f in m.files],
            "signed": sig is not None,
            "signature": {"alg": sig.alg, "key_id": sig.key_id} if sig else None,
        }, ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{m.id}[/bold] {m.version}  "
              + "  ".join(f"{k}: {v}" for k, v in m.title.items()))
    sig_text = (f"{sig.alg} key {sig.key_id} (not checked; use validate --trust)" if sig
                else "none")
    con.print(f"rights: {m.rights or '-'}   licence: {m.license or '-'}")
    con.print(f"signature: {sig_text}", highlight=False, soft_wrap=True)
    t = Table(title="scenes")
    for col in ("id", "kind", "title", "assets"):
        t.add_column(col)
    for s in m.scenes:
        t.add_row(s.id, s.kind, s.title.get("en") or next(iter(s.title.values()), ""),
                  str(len(s.assets)))
    con.print(t)
    if m.items:
        t = Table(title="items")
        for col in ("id", "title", "creator", "date", "identifier"):
            t.add_column(col)
        for i in m.items:
            t.add_row(i.id, i.title.get("en") or next(iter(i.title.values()), ""),
                      i.creator, i.date, i.identifier)
        con.print(t)
    t = Table(title="files")
    for col, just in (("path", "left"), ("size", "right"), ("media type", "left"),
                      ("sha256", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for f in m.files:
        t.add_row(f.path, f"{f.size:,}", f.media_type, f.sha256[:16] + "…")
    con.print(t)


# --------------------------------------------------------------------------- keys, library


@main.group()
def keys() -> None:
    """Make keys: Ed25519 key pairs that sign bundles, CURVE key pairs for the show network.

    A curator signs with the private key (`exhibit pack --sign NAME.ed25519.key`); a
    venue trusts the public key (`exhibit validate --trust NAME.ed25519.pub`,
    `exhibit install --trust ...`). Keep the private key secret; share the .pub file.

    With `--kind curve`, each machine on the show network (controller, projector,
    kiosk, operator) gets a pair: it keeps NAME.curve.key (`--key`), and the venue lists
    NAME.curve.pub under venue.toml [security].
    """


@keys.command("new")
@click.argument("name")
@click.option("--dir", "directory", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the two key files into (made if missing).")
@click.option("--kind", type=click.Choice(["ed25519", "curve"]), default="ed25519",
              show_default=True, help="Key kind: ed25519 signs bundles; curve encrypts and "
              "authenticates a controller or peer on the show network.")
@click.option("--force", is_flag=True, help="Replace existing key files of the same name.")
def keys_new(name: str, directory: Path, kind: str, force: bool) -> None:
    """Make a new key pair called NAME and write it as two files.

    \b
    NAME.ed25519.key  private key, PEM PKCS#8, mode 0600: signs bundles; keep it secret
    NAME.ed25519.pub  public key, one line "exhibit-ed25519 <base64> NAME": give it to
                      venues, which trust it with --trust

    \b
    With --kind curve (ZeroMQ certificate files, as czmq and pyzmq write them):
    NAME.curve.key    secret key pair, mode 0600: stays on the machine (--key)
    NAME.curve.pub    public key: the venue lists it in venue.toml [security] under
                      projectors, kiosks or operators (or as controller_public_key)

    Existing files are never replaced without --force. Prints the key id that signed
    bundles show (`exhibit inspect`) or that the controller logs.
    """
    if kind == "curve":
        from .keys import write_curve_key_files
        from .sync.auth import new_key_pair

        public, secret = new_key_pair()
        pair = write_curve_key_files(name, directory, public, secret, force=force)
        click.echo(f"new curve key {name!r}, key id {pair.key_id}\n"
                   f"  secret:  {pair.secret_path}  (keep on this machine; --key)\n"
                   f"  public:  {pair.public_path}  (list in venue.toml [security])")
        return
    from .assets.signing import write_key_pair

    written = write_key_pair(name, directory, force=force)
    click.echo(f"new {kind} key {name!r}, key id {written.key_id}\n"
               f"  private: {written.private_path}  (secret; exhibit pack --sign)\n"
               f"  public:  {written.public_path}  (share; exhibit validate --trust)")


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--library", "library_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The library folder: a node's --bundle-dir (made if missing).")
@click.option("--trust", "trust_files", multiple=True, metavar="PUBKEY",
              type=click.Path(dir_okay=False, path_type=Path), help=_TRUST_HELP)
@click.option("--require-signed", is_flag=True, help=_REQUIRE_HELP)
def install(bundle: Path, library_dir: Path, trust_files: tuple[Path, ...],
            require_signed: bool) -> None:
    """Check a bundle completely, then install it into a library as ID.exb.

    The bundle is copied into the library, checked there (structure, signature, every
    SHA-256) and renamed into place, with a small ID.json record beside it. It never
    rolls back: a bundle older than the installed one of the same id, or the same
    version with different content, is refused. Exits 0 when installed (or already
    installed), 1 with one line when refused, 2 on a usage error.
    """
    from datetime import UTC, datetime

    from .assets.library import install as do_install

    trust = _trusted_keys(trust_files, require_signed)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    done = do_install(bundle, library_dir, trust=trust, require_signed=require_signed,
                      installed_at=now)
    note = (_signature_note(done.key_id, None, trust) if done.key_id or trust
            else "signature not checked")
    if not done.changed:
        click.echo(f"already installed: {done.id} {done.version} ({note}) -> {done.path}")
        return
    was = f"replaced {done.previous}, " if done.previous else ""
    click.echo(f"installed {done.id} {done.version} ({was}{note}) -> {done.path}")


# --------------------------------------------------------------------------- rendering


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scene", "scene_id", required=True, help="Scene id inside the bundle "
              "(see `exhibit inspect`).")
@click.option("--at", "at", type=float, default=0.0, show_default=True,
              help="Show time in seconds.")
@click.option("--size", type=str, default="1280x720", show_default=True,
              help="Image size WIDTHxHEIGHT in pixels.")
@click.option("--venue", type=click.Path(dir_okay=False, path_type=Path),
              help="venue.toml: with --display, render that display's slice of the wall "
                   "as the projector sends it (edge blend, black level and warp applied); "
                   "alone, render the whole wall as seen from the eye point.")
@click.option("--display", "display_id", help="Display id in the venue (needs --venue).")
@click.option("-o", "--output", "out", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="PNG file to write.")
def render(bundle: Path, scene_id: str, at: float, size: str, venue: Path | None,
           display_id: str | None, out: Path) -> None:
    """Render one frame of a scene offscreen to a PNG.

    The frame is a pure function of the bundle, the scene and the show time, so the
    same arguments always give the same picture, on any node.
    """
    from .config import load_venue
    from .wall.frustum import display_frustum, wall_frustum

    wh = _size(size)
    frustum = output = None
    if display_id and not venue:
        raise click.UsageError("--display needs --venue")
    if venue:
        v = load_venue(venue)
        frustum = display_frustum(v.wall, v.display(display_id)) if display_id \
            else wall_frustum(v.wall)
    from .runtime.render import render_to_png

    if venue and display_id:    # as that projector sends it: blended and warped
        from .runtime.output import OutputCorrection

        output = OutputCorrection.for_display(v, v.display(display_id), wh)
    path = render_to_png(bundle, scene_id, at, wh, out, frustum=frustum, output=output)
    click.echo(f"rendered {scene_id} at t={at:g}s, {wh[0]}x{wh[1]} -> {path}")


@main.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="PNG contact sheet to write.")
@click.option("--at", "times", type=float, multiple=True,
              help="Show time in seconds; repeat for more tiles (default: 0, 20 and 50).")
@click.option("--tile", default="480x270", show_default=True,
              help="Size of each frame WIDTHxHEIGHT in pixels.")
def preview(bundle: Path, out: Path, times: tuple[float, ...], tile: str) -> None:
    """Render every scene of a bundle into one labelled contact sheet (PNG).

    Each scene becomes a row: its id, kind and titles in every language, and one frame
    per show time, rendered offscreen exactly as a projector node would draw it. A
    scene that cannot be drawn gets a failure tile, a warning, and exit status 1.
    """
    from rich.console import Console
    from rich.progress import Progress

    from .runtime.preview import DEFAULT_TIMES, contact_sheet

    wh = _size(tile)
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"rendering {bundle.name}", total=None)

        def advance(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=f"rendering {what}")

        result = contact_sheet(bundle, out, times=times or DEFAULT_TIMES, tile=wh,
                               progress=advance)
    for scene_id, why in result.failures:
        click.echo(f"exhibit: warning: scene {scene_id!r} not rendered: {why}", err=True)
    click.echo(f"preview: {result.scenes} scenes, {result.frames} frames, "
               f"{result.size[0]}x{result.size[1]} -> {result.path}")
    if result.failures:
        sys.exit(1)


# --------------------------------------------------------------------------- show


def _log_to_stderr() -> None:
    """Long-running roles log joins, losses and dropped frames, one line each."""
    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")


def _venue_show(venue: Path, show: Path | None) -> tuple[Any, Any]:
    from .config import load_show, load_venue

    return load_venue(venue), (load_show(show) if show else None)


@main.command()
@click.option("--venue", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="venue.toml: the wall, its displays and the network.")
@click.option("--show", "show", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="show.toml: the bundles and the cue list.")
@click.option("--host", help="Address to bind (default: venue [network] host).")
@click.option("--state-port", type=int, help="ROUTER port for joins, clock probes and commands.")
@click.option("--publish-port", type=int, help="PUB port for heartbeats and events.")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Where the session is saved and resumed from (default: "
                   "$EXHIBIT_STATE_FILE, else .exhibit/controller-SHOW.json beside "
                   "venue.toml).")
@click.option("--no-state", is_flag=True,
              help="Neither resume nor save: every start is a fresh show.")
@click.option("--sim-time", metavar="ISO",
              help="Simulate the wall clock from this instant (e.g. 2026-03-29T14:03:00+02:00)"
                   ": opening hours and the state file see it instead of the real clock.")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="This machine's CURVE secret key (NAME.curve.key from `exhibit keys new "
                   "NAME --kind curve`); needed when venue.toml [security] has curve = true (default: $EXHIBIT_KEY, else [security] controller_key).")
def controller(venue: Path, show: Path, host: str | None, state_port: int | None,
               publish_port: int | None, state_file: Path | None, no_state: bool,
               sim_time: str | None, key_file: Path | None) -> None:
    """Run the show controller: the clock and the truth every node follows.

    Publishes the show-time anchor in heartbeats, answers clock probes, keeps the list
    of nodes and takes operator and kiosk commands (`exhibit ctl`, `exhibit kiosk`).
    Stop it with Ctrl-C.

    The session (show time, cue, selection, blackout...) is saved to a state file
    whenever it changes and every few seconds; a controller started again with the same
    file resumes the show where it was, as if it had run on meanwhile. A state file that
    cannot be read gives one warning and a fresh show.
    """
    from datetime import datetime

    from .config import resolve_controller

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
    settings = resolve_controller(v, s, host=host, state_port=state_port,
                                  publish_port=publish_port,
                                  state_file=str(state_file) if state_file else None,
                                  persist=not no_state,
                                  key=str(key_file) if key_file else None)
    from .sync.controller import run_controller, simulated_wall_clock

    _log_to_stderr()
    wall = simulated_wall_clock(start) if start is not None else None

    def ready(server: Any) -> None:
        saved = f"; state file {settings.state_file}" if settings.state_file else ""
        click.echo(f"controller: show {s.id!r} on {server.state_endpoint} (state) and "
                   f"{server.publish_endpoint} (publish){saved}; Ctrl-C stops", err=True)

    sys.exit(run_controller(settings, on_ready=ready, wall_clock=wall))


@main.command()
@click.option("--venue", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="venue.toml: the wall, its displays and the network.")
@click.option("--show", "show", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="show.toml: which bundles and cues play.")
@click.option("--display", "display_id", required=True, help="This node's display id.")
@click.option("--bundle-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder holding the show's .exb bundles (default: bundles/ beside "
                   "venue.toml).")
@click.option("--host", help="Controller address (default: venue [network] host).")
@click.option("--state-port", type=int, help="Controller ROUTER port.")
@click.option("--publish-port", type=int, help="Controller PUB port.")
@click.option("--headless", is_flag=True, help="Render offscreen, even where a display exists.")
@click.option("--render-scale", type=float, help="Scale the display's pixel size "
              "(e.g. 0.25 for a light demo).")
@click.option("--frames", type=int, help="Stop after rendering this many frames.")
@click.option("--capture-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where capture events save PNGs of this node's slice.")
@click.option("--window-origin", help="Window position X,Y on the desktop, in pixels "
              "(with a display; the demo tiles its windows like the wall).")
@click.option("--status-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JSON summary here on exit.")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="This machine's CURVE secret key (NAME.curve.key from `exhibit keys new "
                   "NAME --kind curve`); needed when venue.toml [security] has curve = true (default: $EXHIBIT_KEY).")
def node(venue: Path, show: Path, display_id: str, bundle_dir: Path | None, host: str | None,
         state_port: int | None, publish_port: int | None, headless: bool,
         render_scale: float | None, frames: int | None, capture_dir: Path | None,
         window_origin: str | None, status_file: Path | None, key_file: Path | None) -> None:
    """Run a projector node: render this display's slice of the wall at show time.

    The node estimates the controller's clock (NTP-style), sets an off-axis lens for its
    wall rectangle, and draws the cue the show timeline names for the current show time.
    It may start before or after the controller, and keeps playing if the controller
    goes away. Stop it with Ctrl-C.
    """
    from .config import resolve_node

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
                            window_origin=origin, key=str(key_file) if key_file else None)
    from .sync.auth import client_curve

    # A missing or unlisted key is one line now, before any bundle is loaded.
    client_curve(v.security, settings.key_file, role="projector")
    from .runtime.node_app import run_node

    _log_to_stderr()
    sys.exit(run_node(settings, s))


@main.command()
@click.option("--headless", is_flag=True,
              help="Render offscreen and stitch a picture, even where a display exists.")
@click.option("--out", "out_dir", default="out/demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where results go.")
@click.option("--content", "content_dir", default="content", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Sample content: bundle sources, venue.toml and show.toml.")
def demo(headless: bool, out_dir: Path, content_dir: Path) -> None:
    """Run the demo show on this machine: a controller and three blended projector nodes.

    Builds the sample bundle if it is missing, starts the controller and one node per
    display on 127.0.0.1, waits until all have joined, and asks all to capture the
    same show time. The blended slices are composited in linear light into
    OUT/wall.png, the projector layout is drawn into OUT/layout.png, and a summary is
    printed; with a display, one window per projector stays open as well.
    """
    from .demo import run_demo

    sys.exit(run_demo(out_dir=out_dir, content_dir=content_dir, headless=headless))


# --------------------------------------------------------------------------- wall


@main.group()
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
    from .config import load_venue
    from .wall.blend import blend_widths
    from .wall.check import check_venue

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
        from .wall.diagram import save_wall_diagram

        click.echo(f"diagram: {save_wall_diagram(v, png, problems)}")
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors:
        click.echo(f"wall check failed: {errors} error(s), {warnings} warning(s)")
        sys.exit(1)
    click.echo(f"wall ok: {len(v.displays)} displays" +
               (f", {warnings} warning(s)" if warnings else ""))


# --------------------------------------------------------------------------- bench

main.add_command(bench)
main.add_command(ctl)
main.add_command(kiosk)
main.add_command(status)


if __name__ == "__main__":  # pragma: no cover
    main()
