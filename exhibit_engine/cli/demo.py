"""``exhibit demo``: the whole engine on one machine (the command and its runner).

Packs the sample bundle if it is missing, starts a controller and one node process per
display of the sample venue on 127.0.0.1 (the first node before the controller, the
others after it, to show both ways of joining), waits until every node has joined and
drawn, then asks all of them to capture the same show time. Each node's capture is what
its projector emits (blend ramps applied by the final pass); the demo composites them in
linear light, the way the projectors' light adds up on the wall, into ``wall.png``,
draws the venue's layout into ``layout.png`` and prints a summary. With a display,
node windows (one per projector, side by side in wall order) stay open until Ctrl-C.

The runner imports the packing, config and wall layers inside its functions, so that
``exhibit --help`` does not load them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..assets.pack import ensure_bundles
from ..config.network import free_ports
from ..config.paths import write_atomic
from ..errors import ExhibitError, SyncTimeout
from ._params import output_folder

if TYPE_CHECKING:
    from ..config import ShowConfig, VenueConfig

__all__ = ["CAPTURE_DELAY_S", "DEMO_RENDER_SCALE", "JOIN_TIMEOUT_S", "STRIP_AT",
           "STRIP_COLUMNS", "STRIP_TILE_W", "WINDOW_GAP", "demo", "run_demo", "stitch"]

#: Offscreen demo nodes draw at this fraction of their projectors' pixel size.
DEMO_RENDER_SCALE = 1 / 3
#: Seconds to wait for every node to join and draw, and again for every capture.
JOIN_TIMEOUT_S = 90.0
#: Seconds between asking for the capture and the show time every node captures.
CAPTURE_DELAY_S = 1.5
#: Pixels between the projectors' windows on a desktop.
WINDOW_GAP = 8

#: Where the cue-change strip's frames fall, as fractions of the first change's
#: transition (0: its start, 1: its end; at least 1 s is spread).
STRIP_AT = (-0.25, 0.2, 0.4, 0.6, 0.8, 1.25)
#: Width of each frame of the strip, pixels, and frames per row.
STRIP_TILE_W = 560
STRIP_COLUMNS = 3


@click.command()
@click.option("--headless", is_flag=True,
              help="Render offscreen and stitch a picture, even where a display exists.")
@click.option("--out", "out_dir", default="out/demo", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Where results go.")
@click.option("--content", "content_dir", default="content", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Sample content: bundle sources, venue.toml and show.toml.")
def demo(headless: bool, out_dir: Path, content_dir: Path) -> None:
    """Run the demo show on this machine: a controller and three blended projector nodes.

    Packs the show's bundles if they are missing (the sample show plays the ice
    festival, the northern prints and the heritage gallery), starts the controller and
    one node per display on 127.0.0.1, waits until all have joined, and asks all to
    capture the same show time. The blended slices are composited in linear light into
    OUT/wall.png, the projector layout is drawn into OUT/layout.png, the wall across the
    first cue change (a crossfade into the next bundle) into OUT/cue-change.png, and a
    summary is printed; with a display, one window per projector stays open as well.
    """
    output_folder(out_dir, "--out")
    sys.exit(run_demo(out_dir=out_dir, content_dir=content_dir, headless=headless))


def stitch(venue: VenueConfig, slices: dict[str, Path], out: Path, scale: float) -> Path:
    """Composite each display's captured slice onto the wall in linear light; write ``out``.

    Slices are decoded with their display's gamma, added where they sit on the wall
    (overlaps add up like projector light) and re-encoded (see
    :func:`~exhibit_engine.wall.composite.composite_linear`).
    """
    image = _composite(venue, slices, scale)
    return write_atomic(out, lambda f: image.save(f, format="PNG"), parents=True)


def _composite(venue: VenueConfig, slices: dict[str, Path], scale: float) -> Any:
    """The wall composited from the slices (:func:`stitch`), as a Pillow image."""
    import numpy as np
    from PIL import Image

    from ..wall.composite import composite_linear, wall_pixels

    images = {}
    for d in venue.displays:
        with Image.open(slices[d.id]) as img:
            images[d.id] = np.asarray(img.convert("RGB"))
    return Image.fromarray(composite_linear(venue, images, wall_pixels(venue, scale)))


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-5:])


def _spawn(name: str, args: list[str], log_dir: Path) -> _Proc:
    log = log_dir / f"{name}.log"
    with log.open("wb") as f:
        p = subprocess.Popen([sys.executable, "-m", "exhibit_engine.cli", *args],
                             stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return _Proc(name, p, log)


def _stop(procs: list[_Proc]) -> None:
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.popen.kill()
            p.popen.wait()


def run_demo(out_dir: Path, content_dir: Path, headless: bool = False,
             say: Callable[[str], None] | None = None) -> int:
    """Run the demo show; return the exit code (0 when every node joined and captured).

    Raises:
        ExhibitError: content is broken, or a process failed (one line for the CLI).
    """
    from ..config import load_show, load_venue
    from ..runtime.node_app import has_display
    from ..sync.operator import OperatorClient
    from ..wall.diagram import save_wall_diagram

    def _say(msg: str) -> None:
        print(msg, flush=True)

    say = say or _say
    headless = headless or not has_display()
    venue_path, show_path = content_dir / "venue.toml", content_dir / "show.toml"
    venue, show = load_venue(venue_path), load_show(show_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle_dir = out_dir.parent / "bundles"
    ensure_bundles(show, content_dir, bundle_dir, say)

    host = "127.0.0.1"
    state_port, pub_port, http_port, transfer_port = free_ports(4, host)
    common = ["--venue", str(venue_path), "--show", str(show_path), "--host", host,
              "--state-port", str(state_port), "--publish-port", str(pub_port)]
    for stale in ("wall.png", "layout.png", "cue-change.png"):
        (out_dir / stale).unlink(missing_ok=True)
    for d in venue.displays:
        for stale in (out_dir / f"{d.id}-wall.png", out_dir / f"node-{d.id}.json",
                      *(out_dir / f"{d.id}-change-{i}.png" for i in range(len(STRIP_AT)))):
            stale.unlink(missing_ok=True)

    # With a display: one window per projector, side by side in wall order (projectors'
    # light adds up where they overlap on a wall; overlapping windows would hide each other)
    origins, x = {}, 40
    for d in sorted(venue.displays, key=lambda d: (d.rect[0], d.rect[1])):
        origins[d.id] = f"{x},40"
        x += max(16, round(d.pixels[0] * DEMO_RENDER_SCALE)) + WINDOW_GAP

    def node_args(display_id: str) -> list[str]:
        # Each projector keeps a library of its own and fetches the show's bundles into
        # it from the controller, as on a real wall.
        args = ["node", *common, "--display", display_id,
                "--bundle-dir", str(out_dir / f"library-{display_id}"),
                "--transfer-port", str(transfer_port),
                "--capture-dir", str(out_dir), "--status-file",
                str(out_dir / f"node-{display_id}.json"),
                "--render-scale", f"{DEMO_RENDER_SCALE:.6f}"]
        if headless:
            args.append("--headless")
        else:
            args += ["--window-origin", origins[display_id]]
        return args

    procs: list[_Proc] = []
    started = time.monotonic()
    op = None

    def _terminate(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt  # unwind through `finally`, which stops every child

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        first, *rest = venue.displays
        procs.append(_spawn(f"node-{first.id}", node_args(first.id), out_dir))
        # A fresh show every run: the demo's picture must not depend on the last one.
        procs.append(_spawn("controller", ["controller", *common, "--no-state",
                                           "--bundle-dir", str(bundle_dir),
                                           "--transfer-port", str(transfer_port),
                                           "--http", f"{host}:{http_port}"], out_dir))
        for d in rest:
            procs.append(_spawn(f"node-{d.id}", node_args(d.id), out_dir))
        say(f"started controller on {host}:{state_port}/{pub_port} and "
            f"{len(venue.displays)} nodes ({first.id} before the controller)")
        op = OperatorClient(host, state_port, timeout_s=2.0)
        want = {d.id for d in venue.displays}

        def status() -> dict[str, Any]:
            for p in procs:
                if p.popen.poll() is not None:
                    raise ExhibitError(f"demo: {p.name} exited with code {p.popen.returncode}"
                                       f" (log {p.log}): {p.tail().splitlines()[-1:] or ''}")
            try:
                return op.command("status")
            except SyncTimeout:
                return {}

        def wait_for(check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
            deadline = time.monotonic() + JOIN_TIMEOUT_S
            while time.monotonic() < deadline:
                st = status()
                if st and check(st):
                    return st
                time.sleep(0.1)  # operator polling cadence, not test synchronisation
            raise ExhibitError(f"demo: timed out after {JOIN_TIMEOUT_S:.0f} s waiting for {what}")

        def nodes(st: dict[str, Any]) -> dict[str, dict[str, Any]]:
            return {n["id"]: n for n in st.get("nodes", [])
                    if n.get("state") == "joined" and n.get("role") == "projector"}

        st = wait_for(lambda st: all(nodes(st).get(i, {}).get("frames", 0) >= 3
                                     and nodes(st)[i].get("ready") for i in want),
                      "every node to fetch the show's bundles, join and draw")
        fetched = sum(1 for n in nodes(st).values() for t in (n.get("transfer") or {}).values()
                      if t.get("state") == "installed")
        say(f"every node holds the show's {len(show.bundles)} bundles, fetched from the "
            f"controller and verified ({fetched} installs across {len(want)} nodes)")
        reply = op.command("capture", tag="wall", delay=CAPTURE_DELAY_S)
        at = float(reply["effective_at"])
        say(f"all nodes joined; capturing show time t={at:.6f} s on every node")
        st = wait_for(lambda st: all("wall" in nodes(st).get(i, {}).get("captures", [])
                                     for i in want), "every node's capture")
        wall_png = stitch(venue, {i: out_dir / f"{i}-wall.png" for i in want},
                          out_dir / "wall.png", DEMO_RENDER_SCALE)
        layout_png = save_wall_diagram(venue, out_dir / "layout.png")
        strip = _cue_change_strip(op, venue, show, out_dir, wait_for, nodes, want, say)
        _summary(say, st, nodes(st), venue, at, time.monotonic() - started, wall_png,
                 layout_png)
        if strip is not None:
            say(f"  the wall across the first cue change ({len(STRIP_AT)} frames) -> {strip}")
            say("")
        if not headless:
            say(f"the operator's console: http://{host}:{http_port}/ (open it in a browser)")
            say("node windows are open; close them or press Ctrl-C to stop the show")
            try:
                for p in procs:
                    if p.name.startswith("node-"):
                        p.popen.wait()
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if op is not None:
            op.close()
        _stop(procs)


def _strip_times(show: ShowConfig) -> tuple[float, float, str, str] | None:
    """(change time, its transition's length, outgoing cue id, incoming cue id) of the
    main list's first cue change (the loop's wrap in a one-cue show), or ``None``."""
    from ..show import Timeline

    tl = Timeline.from_show(show)
    if len(show.cues) > 1:
        at, into, before = tl.start_of(1), show.cues[1], show.cues[0]
    elif show.loop:
        at, into, before = tl.cue_start(0, 1).at, show.cues[0], show.cues[0]
    else:
        return None
    length = into.transition_time if into.transition != "cut" else 0.0
    return at, length, before.id, into.id


def _cue_change_strip(op: Any, venue: VenueConfig, show: ShowConfig, out_dir: Path,
                      wait_for: Callable[..., dict[str, Any]], nodes: Callable[..., Any],
                      want: set[str], say: Callable[[str], None]) -> Path | None:
    """Capture the wall at :data:`STRIP_AT` points across the first cue change and write
    them side by side, labelled, as ``cue-change.png``; the show then plays on.

    The show is held (a seek at rate 0) at each show time in turn and every node captures
    that frame, exactly as a capture of a playing show would draw it.
    """
    from PIL import Image, ImageDraw

    times = _strip_times(show)
    if times is None:
        return None
    at, length, before, into = times
    say(f"capturing the first cue change ({before!r} -> {into!r} at {at:g} s)")
    frames = []
    for i, frac in enumerate(STRIP_AT):
        t = at + frac * max(length, 1.0)
        op.command("seek", position=t, rate=0.0, delay=0.2)
        tag = f"change-{i}"
        op.command("capture", tag=tag, delay=0.6)
        wait_for(lambda st, tag=tag: all(tag in nodes(st).get(n, {}).get("captures", [])
                                         for n in want), f"every node's capture {tag!r}")
        shots = {n: out_dir / f"{n}-{tag}.png" for n in want}
        frames.append((t, _composite(venue, shots, DEMO_RENDER_SCALE)))
        for shot in shots.values():         # the strip keeps them; no 18 loose files
            shot.unlink(missing_ok=True)
    op.command("seek", position=at + length + 1.0, rate=1.0)    # play on from there
    tiles = []
    for t, wall in frames:
        tile = wall.resize((STRIP_TILE_W, max(1, round(wall.height * STRIP_TILE_W
                                                        / wall.width))))
        canvas = Image.new("RGB", (tile.width, tile.height + 22), (16, 16, 20))
        canvas.paste(tile, (0, 22))
        w = min(1.0, max(0.0, (t - at) / length)) if length > 0 else float(t >= at)
        label = f"t = {t:.2f} s   {before} {1 - w:.0%}  {into} {w:.0%}"
        ImageDraw.Draw(canvas).text((6, 5), label, fill=(235, 235, 235))
        tiles.append(canvas)
    cols = min(len(tiles), STRIP_COLUMNS)       # in reading order, rows of three
    rows = -(-len(tiles) // cols)
    tw, th = tiles[0].size
    strip = Image.new("RGB", (cols * tw + 4 * (cols - 1), rows * th + 4 * (rows - 1)))
    for i, tile in enumerate(tiles):
        strip.paste(tile, ((i % cols) * (tw + 4), (i // cols) * (th + 4)))
    return write_atomic(out_dir / "cue-change.png",
                        lambda f: strip.save(f, format="PNG"), parents=True)


def _summary(say: Callable[[str], None], st: dict[str, Any], nodes: dict[str, dict[str, Any]],
             venue: VenueConfig, at: float, elapsed: float, wall_png: Path,
             layout_png: Path) -> None:
    say("")
    say(f"Exhibit Engine demo: {venue.name}")
    say(f"  nodes joined: {len(nodes)}/{len(venue.displays)}   show time now: "
        f"{st.get('show_time', 0.0):.2f} s   ran {elapsed:.1f} s")
    say(f"  {'node':<10}{'clock offset':>16}{'round trip':>14}{'frames':>9}")
    for d in venue.displays:
        n = nodes[d.id]
        say(f"  {d.id:<10}{n['offset_us']:>13.1f} us{n['rtt_us']:>11.1f} us{n['frames']:>9}")
    say(f"  every node captured show time t={at:.6f} s")
    say(f"  blended wall (slices composited in linear light) -> {wall_png}")
    say(f"  layout of the projectors on the wall -> {layout_png}")
    say("")
