"""The curator's commands: ``exhibit pack``, ``validate``, ``inspect``, ``install``,
``render`` and ``preview``.

Thin: each parses its arguments, calls :mod:`exhibit_engine.assets` (packing, checking,
signatures, the library) or :mod:`exhibit_engine.runtime` (offscreen frames, contact
sheets) and prints the result. Those layers are imported inside the commands, so
``exhibit --help`` loads neither trimesh nor Panda3D.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ._params import Finite, output_path, parse_size as _size


__all__ = ["inspect", "install", "pack", "preview", "render", "validate"]


@click.command()
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

    from ..assets.pack import pack as do_pack

    output_path(out, "--output")     # before packing: a bad path packs nothing
    sign = None
    signed_by = ""
    if sign_key is not None:
        from functools import partial

        from ..assets.signing import load_private_key, public_key_of, sign_manifest

        key = load_private_key(sign_key)  # before packing: a bad key file writes nothing
        sign = partial(sign_manifest, private_key=key)
        signed_by = f", signed by key {public_key_of(key).key_id}"
    from rich.console import Console
    from rich.table import Table

    source_bytes = sum(p.stat().st_size for p in src_dir.rglob("*")
                       if p.is_file() and not p.is_symlink()) if src_dir.is_dir() else 0
    notes: dict[str, list[str]] = {}
    from ..errors import BundleErrors
    from ..scenes.registry import check_bundle_params

    def check(manifest, read):  # scene parameters on the packed names, before writing
        return check_bundle_params(str(src_dir), manifest.scenes, read)

    started = time.monotonic()
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task(f"packing {src_dir}", total=source_bytes or None)
            manifest = do_pack(src_dir, out, progress=lambda name, n: bar.advance(task, n),
                               sign=sign, notes=notes, check=check)
    except BundleErrors as exc:  # every problem of the folder, one line each
        for err in exc.errors:
            click.echo(f"exhibit: error: {err}", err=True)
        files = len({err.entry for err in exc.errors})
        click.echo(f"exhibit: pack failed: {len(exc.errors)} problems in {files} "
                   f"file{'s' if files != 1 else ''}; nothing written", err=True)
        sys.exit(exc.exit_code)
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
    click.echo(f"  in {time.monotonic() - started:.1f} s, peak memory "
               f"{_peak_memory_mb():,.0f} MB")


def _peak_memory_mb() -> float:
    """This process's peak resident memory so far (MB of 10**6 bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


_TRUST_HELP = ("A public key file (NAME.ed25519.pub, one key per line) whose signatures "
               "are trusted; repeat for several. A signed bundle must verify with one.")
_REQUIRE_HELP = "Refuse bundles without a signature by a trusted key (needs --trust)."


def _trusted_keys(files: tuple[Path, ...], require_signed: bool) -> list[Any]:
    """Load --trust files; a bad key file or a policy without keys is a usage error."""
    from ..assets.signing import load_public_keys

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


@click.command()
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

    from ..assets.bundle import Bundle
    from ..assets.checks import CHECKS

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
        from ..scenes.registry import check_bundle_params

        check_bundle_params(str(bundle), m.scenes, b.read)   # scene parameters (no Panda3D)
    click.echo(f"valid: {m.id} {m.version}, {len(m.files)} files, {len(m.scenes)} scenes, "
               f"{note} ({bundle})")


@click.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of tables.")
def inspect(bundle: Path, as_json: bool) -> None:
    """Show what a bundle holds: titles, items, scenes and files.

    Opens the bundle and checks its structure (use `exhibit validate` for every hash).
    The signature line shows who claims to have signed; `exhibit validate --trust`
    checks that claim.
    """
    from ..assets.bundle import Bundle

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



@click.command()
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

    from ..assets.library import install as do_install

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


@click.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--scene", "scene_id", required=True, help="Scene id inside the bundle "
              "(see `exhibit inspect`).")
@click.option("--at", "at", type=Finite(0.0, 1e9), default=0.0, show_default=True,
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
    from ..config import load_venue
    from ..wall.frustum import display_frustum, wall_frustum

    wh = _size(size)
    output_path(out, "--output")     # before any work: nothing is rendered for a bad path
    frustum = output = None
    if display_id and not venue:
        raise click.UsageError("--display needs --venue")
    if venue:
        v = load_venue(venue)
        frustum = display_frustum(v.wall, v.display(display_id)) if display_id \
            else wall_frustum(v.wall)
    from ..runtime.render import render_to_png

    if venue and display_id:    # as that projector sends it: blended and warped
        from ..runtime.output import OutputCorrection

        output = OutputCorrection.for_display(v, v.display(display_id), wh)
    lod = raster = None
    if venue:       # levels of detail and the wall grid, as the nodes use them
        from ..wall.frustum import venue_lod, wall_raster

        shown = v.display(display_id) if display_id else None
        rect = shown.rect if shown else (0.0, 0.0, v.wall.width, v.wall.height)
        lod = venue_lod(v.wall, v.displays, rect, wh)
        raster = wall_raster(v.wall, v.displays, shown, wh)
    path = render_to_png(bundle, scene_id, at, wh, out, frustum=frustum, output=output,
                         lod=lod, raster=raster)
    click.echo(f"rendered {scene_id} at t={at:g}s, {wh[0]}x{wh[1]} -> {path}")


@click.command()
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="PNG contact sheet to write.")
@click.option("--at", "times", type=Finite(0.0, 1e9), multiple=True,
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

    from ..runtime.preview import DEFAULT_TIMES, contact_sheet

    wh = _size(tile)
    output_path(out, "--output")
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
