"""``exhibit bench``: the command-line side of the benchmark suites in
:mod:`exhibit_engine.bench` (thin: parse, run, print).

Each subcommand builds its suite's options, runs it with a progress bar on stderr,
prints the report as a table, writes JSON with ``--json`` and, with ``--check``, exits
1 when an acceptance target is missed.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from ._params import Count, Finite, output_folder, output_path, parse_size

__all__ = ["bench", "bench_bundle", "bench_console", "bench_render", "bench_scan", "bench_show",
           "bench_sync", "bench_transfer", "bench_wall", "soak"]


@contextlib.contextmanager
def _bench_progress() -> Iterator[Callable[[str, float, float], None]]:
    """A rich progress display on stderr, one bar per stage a suite reports."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: float, total: float) -> None:
            if stage not in tasks:
                for task in tasks.values():
                    bar.remove_task(task)       # one bar: the stage running now
                tasks.clear()
                tasks[stage] = bar.add_task(stage, total=total or None)
            bar.update(tasks[stage], completed=done, total=total or None)

        yield update


def _report_options(check_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--json PATH`` and ``--check``, the last options of every suite; ``check_help``
    names the suite's acceptance target."""

    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        command = click.option("--check", is_flag=True, help=check_help)(command)
        return click.option("--json", "json_path",
                            type=click.Path(dir_okay=False, path_type=Path),
                            callback=lambda _ctx, _param, v: output_path(v, "--json"),
                            help="Write the results as JSON to this file.")(command)

    return add


def _print_report(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"exhibit bench {report.suite}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("target")
    for label, value, unit, verdict in report.rows():
        table.add_row(label, value, unit, verdict)
    con = Console()
    con.print(table)
    facts = ", ".join(f"{k}={v}" for k, v in report.params.items())
    con.print(f"[dim]{facts}[/dim]", soft_wrap=True)


def _finish(report: Any, json_path: Path | None, check: bool) -> None:
    """Print the table, write JSON if asked, and exit 1 on a missed target with --check."""
    from ..bench import write_json

    _print_report(report)
    if json_path is not None:
        click.echo(f"wrote {write_json(report, json_path)}")
    if check and not report.passed:
        click.echo("exhibit: bench: an acceptance target was missed", err=True)
        sys.exit(1)


@click.group()
def bench() -> None:
    """Benchmarks to run on venue hardware; each prints a table and can write JSON.

    Every suite makes its own data unless given some, and measures a baseline in the
    same run (e.g. plain SHA-256 beside bundle validation), so its ratios mean the same
    on any machine. Suites: bundle, console, render, scan, show, sync, transfer, wall.
    """


@bench.command("bundle")
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Measure this .exb instead of a synthetic bundle (its largest GLB is "
                   "the model).")
@click.option("--size-mb", type=Finite(0.001, 1e5), default=200.0, show_default=True,
              help="Synthetic bundle: MB of incompressible data.")
@click.option("--triangles", type=Count(1, 10**8), default=100_000, show_default=True,
              help="Synthetic bundle: least triangles of the textured model.")
@click.option("--texture-px", type=Count(1, 16384), default=1024, show_default=True,
              help="Synthetic bundle: texture side in pixels.")
@click.option("--repeat", type=Count(1, 100), default=3, show_default=True,
              help="Timed runs of hashing and of validation (medians).")
@click.option("--loads", type=Count(1, 1000), default=5, show_default=True,
              help="Timed model loads, uncached and cached (medians).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              callback=lambda _c, _p, v: output_folder(v, "--workdir"),
              help="Where the temporary data goes (deleted afterwards).")
@_report_options("Exit 1 if an acceptance target that applies to this run is missed.")
def bench_bundle(bundle_path: Path | None, size_mb: float, triangles: int, texture_px: int,
                 repeat: int, loads: int, workdir: Path | None, json_path: Path | None,
                 check: bool) -> None:
    """Bundle validation against plain SHA-256, its memory, and the model cache.

    Makes a bundle of incompressible data (--size-mb) and a textured model
    (--triangles), packs it, then measures validation throughput against hashlib on the
    same file, the peak RSS of validation in a fresh process, and loading the model
    uncached against loading it from the cache. Temporary data is always deleted.
    """
    from ..bench.bundle import BundleBenchOptions, run

    opts = BundleBenchOptions(bundle=bundle_path, size_mb=size_mb, triangles=triangles,
                              texture_px=texture_px, repeat=repeat, loads=loads,
                              workdir=workdir)
    with _bench_progress() as progress:
        report = run(opts, progress)
    _finish(report, json_path, check)


@bench.command("render")
@click.option("--source", "sources", multiple=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="A bundle source folder to render (repeatable; default: every "
                   "content/*/bundle.toml).")
@click.option("--size", default="1280x720", show_default=True, metavar="WxH",
              help="Output size in pixels.")
@click.option("--frames", type=Count(0, 1000), default=8, show_default=True,
              help="Frames per timed block.")
@click.option("--repeat", type=Count(1, 100), default=5, show_default=True,
              help="Timed blocks of each loop, alternating (medians).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              callback=lambda _c, _p, v: output_folder(v, "--workdir"),
              help="Where the packed bundles go (deleted afterwards).")
@_report_options("Exit 1 if a scene's overhead_ratio is over 1.10.")
def bench_render(sources: tuple[Path, ...], size: str, frames: int, repeat: int,
                 workdir: Path | None, json_path: Path | None, check: bool) -> None:
    """Each sample scene's engine frame against a bare Panda3D loop, offscreen.

    Packs every sample bundle source, then renders each scene at --size: the engine's
    frame (scene.apply + draw) against GraphicsEngine.render_frame() alone on the same
    scene graph, with draw calls and triangles counted from the scene graph.
    """
    from ..bench.render import RenderBenchOptions, run

    w, h = parse_size(size, 16, 8192, "--size")
    opts = RenderBenchOptions(sources=sources, size=(w, h), frames=frames, repeat=repeat,
                              workdir=workdir)
    with _bench_progress() as progress:
        report = run(opts, progress)
    _finish(report, json_path, check)


@bench.command("scan")
@click.option("--triangles", type=Count(1_000, 40_000_000), default=5_000_000,
              show_default=True, help="Triangles of the synthetic scan.")
@click.option("--texture-px", type=Count(64, 8192), default=8192, show_default=True,
              help="Side of its texture in pixels.")
@click.option("--seed", type=Count(0, 2**31 - 1), default=0, show_default=True,
              help="Seed of its relief and grain.")
@click.option("--size", default="1280x720", show_default=True, metavar="WxH",
              help="Size of the timed frames in pixels.")
@click.option("--frames", type=Count(1, 100), default=5, show_default=True,
              help="Timed frames per mode (medians).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              callback=lambda _c, _p, v: output_folder(v, "--workdir"),
              help="Where the temporary scan goes (deleted afterwards; it needs about "
                   "50 bytes of disk per triangle).")
@_report_options("Exit 1 if rss_mb_per_mtri is over 300, pack_ratio over 2.0 or "
                 "lod_ratio over 1.2 (from 1 million triangles).")
def bench_scan(triangles: int, texture_px: int, seed: int, size: str, frames: int,
               workdir: Path | None, json_path: Path | None, check: bool) -> None:
    """Packing a heavy scan: time and peak memory against trimesh, in fresh processes.

    Makes a synthetic photogrammetry-like scan (a worn vase of --triangles triangles
    with UVs and a --texture-px JPEG, as a binary PLY in a bundle source), packs it as
    `exhibit pack` does, and in the same run measures the plain way on the same PLY:
    trimesh load, fast-simplification to the same two LOD targets, GLB export. Reports
    both times and peak memories, their ratio, and pack's memory per million triangles:
    how large a scan a machine can take is its free memory over that figure. Then
    renders the scan in a heritage scene at wall distance (--size): with levels of
    detail chosen as a node chooses them, with the full scan, and with the coarsest level.
    """
    from ..bench.scan import ScanBenchOptions, run

    w, h = parse_size(size, 16, 8192, "--size")
    opts = ScanBenchOptions(triangles=triangles, texture_px=texture_px, seed=seed,
                            size=(w, h), frames=frames, workdir=workdir)
    with _bench_progress() as progress:
        report = run(opts, progress)
    _finish(report, json_path, check)


@bench.command("sync")
@click.option("--nodes", type=Count(1, 256), default=16, show_default=True,
              help="Sync-only node processes.")
@click.option("--seconds", type=Finite(1.0, 3600.0), default=20.0, show_default=True,
              help="Length of the event window (4 operator events a second).")
@click.option("--state-keys", type=Count(0, 10**6), default=10_000, show_default=True,
              help="Session-state keys the late joiner's snapshot must carry.")
@click.option("--jitter-ms", type=Finite(0.0, 1000.0), default=0.0, show_default=True,
              help="Inject this much jitter (0..J ms) into every message in and out of "
                   "every node.")
@click.option("--loss", type=Finite(0.0, 0.5), default=0.0, show_default=True,
              help="Drop every message in and out of every node with this probability.")
@_report_options("Exit 1 if an acceptance target is missed.")
def bench_sync(nodes: int, seconds: float, state_keys: int, jitter_ms: float, loss: float,
               json_path: Path | None, check: bool) -> None:
    """A controller and N sync-only node processes on 127.0.0.1.

    Measures the nodes' clock error, operator-event delivery and same-frame application,
    a late joiner's snapshot, how fast a SIGSTOPped node is reported lost, and the
    controller's CPU, beside their floors (bare pyzmq on the same processes). With
    --jitter-ms and --loss the node links meet injected network faults. Every process
    started is ended.
    """
    from ..bench.sync import SyncBenchOptions, run

    opts = SyncBenchOptions(nodes=nodes, seconds=seconds, state_keys=state_keys,
                            jitter_ms=jitter_ms, loss=loss)
    with _bench_progress() as progress:
        report = run(opts, progress)
    _finish(report, json_path, check)


@bench.command("transfer")
@click.option("--nodes", type=Count(1, 64), default=8, show_default=True,
              help="Node processes fetching the bundle at once.")
@click.option("--size-mb", type=Finite(1.0, 4000.0), default=100.0, show_default=True,
              help="The bundle's size in MB (incompressible data).")
@click.option("--seconds", type=Finite(2.0, 600.0), default=10.0, show_default=True,
              help="Length of each event window: sync alone, while fetching, beside a CPU "
                   "load.")
@click.option("--rate-mbps", type=Finite(0.0, 100_000.0), default=0.0, show_default=True,
              help="The controller's rate limit in Mbit/s (venue [network] "
                   "transfer_rate_mbps); 0: none, the transfer as fast as it goes.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              callback=lambda _c, _p, v: output_folder(v, "--workdir"),
              help="Where the bundle and the nodes' libraries go (deleted afterwards); "
                   "the disk the libraries are on is part of what is measured.")
@_report_options("Exit 1 if an acceptance target is missed.")
def bench_transfer(nodes: int, size_mb: float, seconds: float, rate_mbps: float,
                   workdir: Path | None, json_path: Path | None, check: bool) -> None:
    """N nodes fetching a bundle from the controller at once, with sync beside it.

    Makes a bundle of --size-mb, copies it raw over loopback TCP to N receivers (the
    baseline), then runs a controller that serves it and N sync nodes that fetch it again
    and again (every chunk and the whole file verified, installed) while operator events
    run: throughput against the raw copy, each node's memory growth, and the clock error
    and event delivery against the same nodes without the transfer, and beside a load
    that only uses the CPU the transfer used (the floor).
    """
    from ..bench.transfer import TransferBenchOptions, run

    opts = TransferBenchOptions(nodes=nodes, size_mb=size_mb, seconds=seconds,
                                rate_mbps=rate_mbps, workdir=workdir)
    with _bench_progress() as progress:
        report = run(opts, progress)
    _finish(report, json_path, check)


@bench.command("console")
@click.option("--seconds", type=Finite(1.0, 3600.0), default=20.0, show_default=True,
              help="Length of each window: without load, then with it.")
@click.option("--rps", type=Finite(1.0, 5000.0), default=200.0, show_default=True,
              help="HTTP requests a second during the load.")
@click.option("--streams", type=Count(0, 256), default=50, show_default=True,
              help="Event streams open during the load.")
@click.option("--nodes", type=Count(1, 32), default=3, show_default=True,
              help="Sync-only node processes.")
@_report_options("Exit 1 if an acceptance target is missed.")
def bench_console(seconds: float, rps: float, streams: int, nodes: int,
                  json_path: Path | None, check: bool) -> None:
    """The operator's console under load: does it disturb the show?

    A controller with its console on 127.0.0.1 and N sync-only nodes; the heartbeat's
    regularity without load, then under RPS requests a second and STREAMS open event
    streams with a GO a second through the API: heartbeat p99 and its ratio to the
    baseline, HTTP GO -> nodes, event-stream lag, same-show-time application.
    """
    from ..bench.console import ConsoleBenchOptions, run

    opts = ConsoleBenchOptions(seconds=seconds, rps=rps, streams=streams, nodes=nodes)
    with _bench_progress() as progress:
        report = run(opts, progress)
    _finish(report, json_path, check)


@bench.command("show")
@click.option("--content", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="The folder with venue.toml, show.toml and the bundles' sources "
                   "(default: the sample content).")
@click.option("--bundle-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="A folder holding the show's packed bundles (default: pack them).")
@click.option("--size", default="1280x720", show_default=True, metavar="WxH",
              help="The node's output in pixels.")
@click.option("--before", "before_s", type=Finite(2.0, 120.0), default=4.0,
              show_default=True, help="Seconds played before each cue change.")
@click.option("--after", "after_s", type=Finite(2.0, 60.0), default=4.0, show_default=True,
              help="Seconds played after it.")
@click.option("--repeat", type=Count(1, 50), default=3, show_default=True,
              help="Plays of each change (figures are medians over them).")
@click.option("--no-baseline", is_flag=True,
              help="Skip the baseline pass (the changes played without preloading).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              callback=lambda _c, _p, v: output_folder(v, "--workdir"),
              help="Where the bundles are packed (deleted afterwards).")
@_report_options("Exit 1 if cue_change_ratio_worst is over 1.5 or a scene is built at a "
                 "cue change.")
def bench_show(content: Path | None, bundle_dir: Path | None, size: str, before_s: float,
               after_s: float, repeat: int, no_baseline: bool, workdir: Path | None,
               json_path: Path | None, check: bool) -> None:
    """Play the sample show through every cue change on one node, offscreen.

    The node's own render loop (scene keeping, preloading of the next cue, the venue's
    first display's final pass) on a real-time show clock. It jumps to --before seconds
    ahead of each change of the main cue list (and the loop's wrap) and plays on until
    --after seconds past it, --repeat times. Reports the steady median frame, the
    longest frame within 1 s of each change over the steady frame of the scenes either
    side (cue_change_ratio_*, worst: target 1.5), the
    scenes built at a change (0: every change only swapped preloaded scenes), each
    scene's preload time, and the same changes without preloading (baseline_*).
    """
    from ..bench.show import ShowBenchOptions, run

    w, h = parse_size(size, 16, 8192, "--size")
    kw: dict[str, Any] = {"content": content} if content is not None else {}
    opts = ShowBenchOptions(size=(w, h), before_s=before_s, after_s=after_s, repeat=repeat,
                            bundle_dir=bundle_dir, baseline=not no_baseline,
                            workdir=workdir, **kw)
    with _bench_progress() as progress:
        report = run(opts, progress)
    _finish(report, json_path, check)


@bench.command("wall")
@click.option("--source", type=click.Path(file_okay=False, path_type=Path),
              help="The bundle source folder to render (default: content/ice-festival).")
@click.option("--scene", "scene_id", help="The scene to draw (default: the bundle's first).")
@click.option("--size", default="640x400", show_default=True, metavar="WxH",
              help="One projector's output in pixels.")
@click.option("--overlap", type=Finite(0.0, 1.0), default=0.2, show_default=True,
              help="Overlap of neighbouring projectors, as a fraction of a projector's width.")
@click.option("--at", "t", type=Finite(0.0, 1e9), default=27.0, show_default=True,
              help="Show time drawn (s).")
@click.option("--frames", type=Count(0, 1000), default=8, show_default=True,
              help="Frames per timed block of the final-pass and guard-band timing "
                   "(0: no timing).")
@click.option("--repeat", type=Count(1, 100), default=5, show_default=True,
              help="Timed blocks of each loop, alternating (medians).")
@click.option("--save", type=click.Path(file_okay=False, path_type=Path),
              callback=lambda _c, _p, v: output_folder(v, "--save"),
              help="Write wall-composite.png, wall-whole.png and wall-diff.png here.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              callback=lambda _c, _p, v: output_folder(v, "--workdir"),
              help="Where the packed bundle goes (deleted afterwards).")
@_report_options("Exit 1 if seam_psnr_db is under 50 dB, an overlap pixel is off by more "
                 "than 24/255, or the guard band costs more than 1.15x.")
def bench_wall(source: Path | None, scene_id: str | None, size: str, overlap: float,
               t: float, frames: int, repeat: int, save: Path | None, workdir: Path | None,
               json_path: Path | None, check: bool) -> None:
    """The stitch test: three blended projector slices against one render of the wall.

    Three projectors of --size side by side, overlapping by --overlap; each slice is
    drawn as a node draws it (on the wall's pixel grid, with its guard band, the ice's
    snow and bloom on) and through its final pass (blend ramp); the slices are
    composited in linear light and compared with the whole wall rendered once: PSNR
    and worst pixel per overlap, seam_psnr_db (the worst), each raw slice against the
    whole render with and without its guard band, and what the band costs
    (guard_cost_ratio: the middle slice's frame with it over without).
    """
    from ..bench.wall import WallBenchOptions, run

    w, h = parse_size(size, 16, 4096, "--size")
    kw: dict[str, Any] = {"source": source} if source is not None else {}
    opts = WallBenchOptions(scene=scene_id, size=(w, h), overlap=overlap, t=t, frames=frames,
                            repeat=repeat, save=save, workdir=workdir, **kw)
    with _bench_progress() as progress:
        report = run(opts, progress)
    _finish(report, json_path, check)


@click.command()
@click.option("--minutes", type=Finite(0.5, 1440.0), default=2.0, show_default=True,
              help="Length of the whole run, warm-up included.")
@click.option("--nodes", type=Count(1, 32), default=3, show_default=True,
              help="Render nodes (headless, at a small scale).")
@click.option("--seed", type=Count(0, 2**31), default=1, show_default=True,
              help="The random plan: kills, kiosk selections, GOs.")
@click.option("--jitter-ms", type=Finite(0.0, 100.0), default=2.0, show_default=True,
              help="Jitter (0..J ms) injected into every message in and out of every node.")
@click.option("--kill-every", "kill_every", type=Finite(5.0, 3600.0),
              help="Seconds between kills (default: a sixth of the run, 15..90 s).")
@click.option("--content", default="content", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="The sample content whose three bundles the soak show plays.")
@click.option("--bundle-dir", default="out/bundles", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Where those bundles are packed (reused while valid, as by `exhibit demo`).")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path),
              help="Keep every trace and log in this folder (else a temporary one).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              callback=lambda _ctx, _param, v: output_path(v, "--json"),
              help="Write the report as JSON to this file.")
def soak(minutes: float, nodes: int, seed: int, jitter_ms: float, kill_every: float | None,
         content: Path, bundle_dir: Path, keep: Path | None, json_path: Path | None) -> None:
    """Play a show for a long time and break it on purpose; exit 1 if it held badly.

    Starts a controller pair (primary and backup) on 127.0.0.1, N render nodes with
    injected network jitter, a scripted kiosk (random selections, touches, languages)
    and operator GOs every few seconds. After a warm-up, every few tens of seconds one
    process is killed with SIGKILL and started again: a node, the kiosk or the active
    controller. Then it reports nodes out of step (show times more than one 60 Hz
    frame apart), events lost or played twice, every failover and how long it took,
    each process's memory growth once its memory has settled (no longer rising for 5
    minutes; a leak, which never settles, over its second half), and the worst frame.
    Exit 1 when any figure misses its bound (0 out of step, 0 lost, 0 twice, failover
    <= 2 s, memory growth <= 5 %).
    """
    from ..bench.soak import SoakOptions, run

    output_folder(keep, "--keep")
    output_folder(bundle_dir, "--bundle-dir")
    opts = SoakOptions(minutes=minutes, nodes=nodes, seed=seed, jitter_ms=jitter_ms,
                       kill_every_s=kill_every, content=str(content),
                       bundle_dir=str(bundle_dir), keep=str(keep) if keep else None)
    with _bench_progress() as progress:
        report = run(opts, progress)
    _finish(report, json_path, True)
