"""``exhibit kiosk app``: start the visitor's touch app (:mod:`exhibit_engine.kiosk.app`).

Everything is checked before a window opens: the venue and its ``[[kiosks]]`` entry, the
show, every bundle of the show (verified as a node verifies it), the CURVE key where the
venue has ``[security]``, the script. A problem is one ``exhibit: error:`` line.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ._logging import log_options, start_logging
from ._params import PORT, output_folder, output_path, parse_size

__all__ = ["FETCH_WAIT_S", "app"]


@click.command("app")
@click.option("--venue", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="venue.toml: the network, the security and this kiosk's [[kiosks]] entry.")
@click.option("--show", "show", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="show.toml: the bundles whose items the kiosk offers, and [attract] "
                   "idle_after.")
@click.option("--kiosk", "kiosk_id", required=True,
              help="This kiosk's id: its [[kiosks]] entry in venue.toml, and its name in "
                   "`exhibit status`.")
@click.option("--bundle-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The kiosk's bundle library (default: bundles/ beside venue.toml). A "
                   "bundle of the show it lacks is fetched from the controller before the "
                   "kiosk opens; newer versions are fetched meanwhile and shown from the "
                   "kiosk's next start.")
@click.option("--no-fetch", is_flag=True,
              help="Do not fetch bundles from the controller: offer only what the bundle "
                   "folder holds.")
@click.option("--transfer-port", type=PORT,
              help="Controller port to fetch bundles from (default: venue [network] "
                   "transfer_port, 5572).")
@click.option("--fullscreen", is_flag=True, help="Full screen at the kiosk's pixels, no "
              "cursor (what a kiosk PC runs).")
@click.option("--window", "window_size", metavar="WxH", help="A window of this size instead "
              "(default: the kiosk's pixels).")
@click.option("--headless", is_flag=True, help="Draw offscreen (tests, screenshots).")
@click.option("--script", "script_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Play a timed list of touches (TOML; see exhibit_engine/kiosk/script.py) "
                   "and exit when it ends: 0, or 1 when a step failed.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("."), show_default=True,
              help="Where the script's screenshots go.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a JSON report at the end: frame times, taps, requests per tap.")
@click.option("--status-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Keep a JSON summary here, rewritten ten times a second.")
@click.option("--host", help="Controller address (default: the venue's [network] host).")
@click.option("--state-port", type=PORT, help="Controller ROUTER port (default: the "
              "venue's).")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="This kiosk's CURVE secret key, when the venue's [security] has curve = "
                   "true (default: $EXHIBIT_KEY).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where models and rendered thumbnails are cached (default: "
                   "$EXHIBIT_CACHE_DIR or the user's cache folder).")
@log_options("kiosk")
def app(venue: Path, show: Path, kiosk_id: str, bundle_dir: Path | None, no_fetch: bool,
        transfer_port: int | None, fullscreen: bool,
        window_size: str | None, headless: bool, script_file: Path | None, out_dir: Path,
        report: Path | None, status_file: Path | None, host: str | None,
        state_port: int | None, key_file: Path | None, cache_dir: Path | None) -> None:
    """Run the visitor's kiosk: browse the show's items in 中文, English or Русский and
    send the wall to one.

    \b
    The attract page loops through the items until someone touches the screen; then a
    carousel of the items by bundle, an item page (title, creator, date, rights,
    description, a live 3-D view or the print with its blocks and zoom) and "Show on the
    wall". After the show's [attract] idle_after without a touch it warns, then returns
    to the attract page (and the wall to its attract loop).

    \b
    Visitors cannot leave it: the window's close button and the keyboard do nothing.
    Staff tap the bottom-left corner five times and enter the venue's PIN
    (`exhibit keys pin` makes its hash for [[kiosks]] pin), then "Leave kiosk mode".
    """
    started = time.monotonic()
    from ..config import load_show, load_venue, resolve_peer
    from ..config.roles import resolve_backup
    from ..kiosk.script import load_script

    if fullscreen and (headless or window_size):
        raise ConfigError("<flags>", "full screen is the kiosk's own screen: not with "
                          "--headless or --window", key="--fullscreen")
    output_path(report, "--report")
    output_path(status_file, "--status-file")
    output_folder(out_dir, "--out")
    v, s = load_venue(venue), load_show(show)
    cfg = v.kiosk(kiosk_id)
    languages = tuple(lang for lang in ("zh", "en", "ru") if lang in s.title) or \
        ("zh", "en", "ru")
    if cfg.language not in languages:
        raise ConfigError(str(venue), f"{cfg.language!r} is not one of the show's languages "
                          f"({', '.join(languages)})", key=f"kiosks.{kiosk_id}.language")
    idle_after = s.attract.idle_after if s.attract is not None else 300.0
    if cfg.idle_warning_s >= idle_after:
        raise ConfigError(str(venue), f"must be shorter than the show's attract idle_after "
                          f"({idle_after:g} s)", key=f"kiosks.{kiosk_id}.idle_warning_s")
    script = load_script(script_file) if script_file is not None else None
    size = (parse_size(window_size, 64, 8192, "--window") if window_size
            else script.size if script is not None and script.size else cfg.pixels)
    h, port, key = resolve_peer(v, host=host, state_port=state_port,
                                key=str(key_file) if key_file else None)
    from ..sync.auth import client_curve

    curve = client_curve(v.security, key, role="kiosk")
    from ..assets.signing import load_public_keys
    from ..kiosk.catalogue import build_catalogue

    trust = [k for p in v.bundles.trusted_keys for k in load_public_keys(p)]
    folder = bundle_dir or Path(v.path).parent / "bundles"
    with contextlib.ExitStack() as owned:     # closed in reverse, however it ends
        if not no_fetch:    # it fetches newer versions for as long as the kiosk runs
            owned.callback(_fetch_first(v, s, folder, h, transfer_port, curve, kiosk_id).close)
        catalogue = build_catalogue(s, folder, trust=trust,
                                    require_signed=v.bundles.require_signed)
        owned.callback(catalogue.close)
        from ..keys.pin import check_pin
        from ..kiosk.app import KioskApp, KioskSetup
        from ..kiosk.link import KioskLink
        from ..runtime.cache import default_cache_dir

        pin = cfg.pin
        start_logging()
        setup = KioskSetup(
            kiosk_id=kiosk_id, catalogue=catalogue, show_title=dict(s.title),
            languages=languages, language=cfg.language, idle_after=idle_after,
            idle_warning_s=cfg.idle_warning_s, wall_language=cfg.wall_language,
            check_pin=(lambda p: check_pin(pin, p)) if pin else None,
            min_target_px=cfg.min_target_px, body_px=cfg.text_px(), screen=cfg.pixels,
            size=cfg.pixels if fullscreen else size,
            link=KioskLink(h, port, kiosk_id, curve=curve,
                           backup=resolve_backup(v, host, state_port)),
            controller=f"{h}:{port}",
            window=not headless, fullscreen=fullscreen,
            cache_dir=cache_dir or default_cache_dir(), script=script, out_dir=out_dir,
            report=report, status_file=status_file, started=started)
        code = KioskApp(setup).run()
    sys.exit(code)


#: How long a kiosk that lacks a bundle waits for the controller's transfer port.
FETCH_WAIT_S = 60.0


def _fetch_first(v: Any, s: Any, folder: Path, host: str, transfer_port: int | None,
                 curve: Any, kiosk_id: str) -> Any:
    """Start the kiosk's bundle fetcher; where a bundle of the show is not in ``folder``,
    wait (with a progress line) until it is fetched and installed. Returns the fetcher,
    which goes on fetching newer versions while the kiosk runs.

    Raises:
        ConfigError: a bundle the kiosk lacks was refused, failed, is not offered, or the
            controller's transfer port did not answer within :data:`FETCH_WAIT_S`.
    """
    from ..assets.library import library_path
    from ..config.roles import resolve_node_transfer_port
    from ..sync.distribution import FetcherProcess

    port = resolve_node_transfer_port(v, transfer_port)
    fetcher = FetcherProcess(s, folder, host, port, curve=curve,
                             trust_files=v.bundles.trusted_keys,
                             require_signed=v.bundles.require_signed, who=kiosk_id).start()
    lacking = [r.id for r in s.bundles if not library_path(folder, r.id, r.file).is_file()]
    if not lacking:
        return fetcher
    deadline = time.monotonic() + FETCH_WAIT_S
    shown_at = 0.0
    with contextlib.ExitStack() as on_error:
        on_error.callback(fetcher.close)
        while True:
            states = fetcher.progress()
            wanted = {k: states.get(k, {}) for k in lacking}
            if all(t.get("state") == "installed" for t in wanted.values()):
                click.echo(f"kiosk: fetched {', '.join(lacking)} from the controller", err=True)
                on_error.pop_all()          # it is the caller's now
                return fetcher
            bad = {k: t for k, t in wanted.items()
                   if t.get("state") in ("refused", "failed", "missing")}
            if bad:
                raise ConfigError(str(folder), "cannot open the kiosk without " + "; ".join(
                    f"{k} ({t['state']}: {t.get('error', '?')})" for k, t in bad.items()),
                    key="--bundle-dir")
            waiting = all(t.get("state", "waiting") == "waiting" for t in wanted.values())
            if waiting and time.monotonic() > deadline:
                why = next((t.get("error") for t in wanted.values() if t.get("error")),
                           "the controller's transfer port does not answer")
                files = ", ".join(s.bundle(k).file for k in lacking)
                raise ConfigError(str(folder), f"lacks {files} and cannot fetch them from "
                                  f"the controller: {why} (--no-fetch: do not try)",
                                  key="--bundle-dir")
            if time.monotonic() - shown_at > 1.0:
                shown_at = time.monotonic()
                done = sum(t.get("done", 0) for t in wanted.values())
                size = sum(t.get("size", 0) for t in wanted.values())
                click.echo(f"kiosk: fetching {', '.join(lacking)} from the controller: "
                           + (f"{done / size:.0%} of {size / 1e6:,.1f} MB" if size
                              else "waiting for the controller"), err=True)
            time.sleep(0.1)     # the fetcher's state, polled while the kiosk waits
