"""A running show survives its failures and follows its operator: real processes killed,
frozen, restarted and blacked out.

One controller and two headless projector nodes (drawn at 5 % size) play the sample show
for the whole module; each test breaks (or cues) one thing and watches the rest through
the controller's ``status``:

- a node killed with SIGKILL and started again draws the right show time again, and its
  neighbour never paused;
- a node frozen with SIGSTOP is reported lost while the other plays on; SIGCONT brings
  it back in step;
- a controller stopped and started again with the same state file resumes the show
  where it was, and the nodes join its new session;
- ``exhibit ctl blackout on`` darkens what every node draws, ``off`` brings it back.

No sleeps: every wait polls ``status`` against a deadline.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.cli.demo import free_ports
from exhibit_engine.config import load_venue
from exhibit_engine.errors import SyncError
from exhibit_engine.sync.operator import OperatorClient

from .conftest import CONTENT, Procs, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]

#: Two neighbouring displays of the sample venue (the first is the one that fails).
DISPLAYS = tuple(d.id for d in load_venue(CONTENT / "venue.toml").displays[:2])
VICTIM, NEIGHBOUR = DISPLAYS
START_S = 120.0       # first start: imports, bundle checks and the first scene load
REJOIN_S = 60.0       # a restarted process, on a machine busy with the others
#: A node's reported show time trails the controller's by the age of its report: at
#: most one frame (30 fps offscreen) plus one agent tick, and a little scheduling.
IN_STEP_S = 0.12
#: The longest a running node may go without a new status report (it sends one every
#: 0.5 s; a paused render loop stops them).
MAX_REPORT_GAP_S = 1.5


@dataclass
class Sample:
    """One node's fresh status report as the controller saw it."""

    at: float            # the test's monotonic clock when read
    controller: float    # the controller's show time in the same status reply
    frames: int
    show_time: float


class Show:
    """The module's controller and nodes, and a status view of them."""

    def __init__(self, procs: Procs, bundle_dir: Path, state_file: Path) -> None:
        self.procs, self.bundle_dir, self.state_file = procs, bundle_dir, state_file
        self.capture_dir = state_file.parent / "captures"
        self.state_port, self.publish_port = free_ports(2)
        self.common = ["--venue", str(CONTENT / "venue.toml"),
                       "--show", str(CONTENT / "show.toml"), "--host", "127.0.0.1",
                       "--state-port", str(self.state_port),
                       "--publish-port", str(self.publish_port)]
        self.op = OperatorClient("127.0.0.1", self.state_port, timeout_s=2.0)

    def start_controller(self) -> subprocess.Popen[bytes]:
        return self.procs.start("controller", "controller", *self.common,
                                "--state-file", str(self.state_file))

    def start_node(self, display: str) -> subprocess.Popen[bytes]:
        return self.procs.start(f"node-{display}", "node", *self.common, "--display", display,
                                "--bundle-dir", str(self.bundle_dir), "--headless",
                                "--render-scale", "0.05",
                                "--capture-dir", str(self.capture_dir))

    def status(self) -> dict[str, Any] | None:
        """The controller's status, or None while no controller answers."""
        try:
            return self.op.command("status")
        except SyncError:
            return None

    def nodes(self) -> dict[str, dict[str, Any]]:
        st = self.status()
        return {n["id"]: n for n in st["nodes"]} if st else {}

    def in_step(self, *displays: str, min_frames: int = 2) -> bool:
        """Every display joined the current session, is drawing and reports a show time
        within a second of the controller's."""
        st = self.status()
        if st is None:
            return False
        nodes = {n["id"]: n for n in st["nodes"]}
        return all(d in nodes and nodes[d]["state"] == "joined"
                   and nodes[d]["frames"] >= min_frames
                   and abs(nodes[d]["show_time"] - st["show_time"]) < 1.0
                   for d in displays)

    def watch(self, seconds: float) -> dict[str, list[Sample]]:
        """Poll status for ``seconds``; keep each node's reports as they arrive."""
        return self.watch_until(lambda: False, seconds, "")[1]

    def watch_until(self, done: Any, timeout: float, what: str,
                    ) -> tuple[Any, dict[str, list[Sample]]]:
        """Poll status until ``done(status)`` is truthy, recording fresh reports."""
        seen: dict[str, list[Sample]] = {d: [] for d in DISPLAYS}
        last: dict[str, tuple[int, float]] = {}
        deadline = time.monotonic() + timeout

        def check() -> Any:
            st = self.status()
            if st is None:
                return time.monotonic() > deadline and not what
            now = time.monotonic()
            for n in st["nodes"]:
                key = (n["frames"], n["show_time"])
                if n["id"] in seen and last.get(n["id"]) != key:
                    last[n["id"]] = key
                    seen[n["id"]].append(Sample(now, st["show_time"], n["frames"],
                                                n["show_time"]))
            if not what:
                return now > deadline
            return done(st)

        result = wait_until(check, timeout + (1.0 if not what else 0.0),
                            what or "the watch window", interval=0.02)
        return result, seen


def lag(samples: list[Sample]) -> float:
    """How far a node's show time trails the controller's, from its freshest reports.

    A report is up to ``interval`` old when read, so the smallest difference over a few
    reports is the node's real lag (plus the report's age at its freshest).
    """
    return min(s.controller - s.show_time for s in samples)


def assert_kept_playing(samples: list[Sample], display: str) -> None:
    """The node reported steadily and its show time kept step with the controller's."""
    # Two watch windows joined may both hold the report that was current between them.
    samples = [s for i, s in enumerate(samples) if i == 0 or
               (s.frames, s.show_time) != (samples[i - 1].frames, samples[i - 1].show_time)]
    assert len(samples) >= 3, f"{display} sent only {len(samples)} reports"
    for a, b in itertools.pairwise(samples):
        assert b.frames > a.frames, f"{display} stopped drawing: {a} -> {b}"
        assert b.at - a.at < MAX_REPORT_GAP_S, f"{display} went quiet for {b.at - a.at:.2f} s"
        advanced, expected = b.show_time - a.show_time, b.controller - a.controller
        assert advanced == pytest.approx(expected, abs=2 * IN_STEP_S + 0.5), \
            f"{display}'s show time jumped: {a} -> {b}"
    assert -0.02 < lag(samples) < IN_STEP_S, f"{display} is out of step"


@pytest.fixture(scope="module")
def show(ice_exb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Show]:
    logs = tmp_path_factory.mktemp("resilience")
    procs = Procs(logs)
    s = Show(procs, ice_exb.parent, logs / "controller-state.json")
    try:
        s.start_controller()
        for d in DISPLAYS:
            s.start_node(d)
        try:
            wait_until(lambda: s.in_step(*DISPLAYS), START_S, "both nodes to join and draw")
        except AssertionError:
            raise AssertionError("\n".join(procs.log(n) for n in procs.procs)) from None
        yield s
    finally:
        s.op.close()
        procs.stop_all()


@pytest.fixture
def healthy(show: Show) -> Show:
    """The show with every process running and every node in step (a failed test before
    this one may have left a process down)."""
    for name, proc in list(show.procs.procs.items()):
        if proc.poll() is not None:
            if name == "controller":
                show.start_controller()
            else:
                show.start_node(name.removeprefix("node-"))
        else:
            os.kill(proc.pid, signal.SIGCONT)
    wait_until(lambda: show.in_step(*DISPLAYS), REJOIN_S, "every node in step")
    return show


def test_a_killed_node_restarts_at_the_right_show_time_and_its_neighbour_never_pauses(
        healthy: Show) -> None:
    show = healthy
    victim = show.procs.procs[f"node-{VICTIM}"]
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait(timeout=10) == -signal.SIGKILL
    killed_at_frame = show.nodes()[VICTIM]["frames"]
    show.start_node(VICTIM)

    new_process = []

    def restarted(st: dict[str, Any]) -> bool:
        # The controller remembers the killed process's last report for a while; the new
        # process is the one counting frames from zero again.
        if {n["id"]: n for n in st["nodes"]}[VICTIM]["frames"] < killed_at_frame:
            new_process.append(True)
        return bool(new_process) and show.in_step(VICTIM, min_frames=10)

    # The restarted node boots (imports, bundle checks, scene) while its neighbour plays.
    _, seen = show.watch_until(restarted, REJOIN_S, "the restarted node to draw in step")
    assert_kept_playing(seen[NEIGHBOUR], NEIGHBOUR)
    after = show.watch(1.5)
    assert_kept_playing(after[VICTIM], VICTIM)
    assert_kept_playing(after[NEIGHBOUR], NEIGHBOUR)


def test_a_frozen_node_is_reported_lost_and_the_others_play_on(healthy: Show) -> None:
    show = healthy
    frozen = show.procs.procs[f"node-{VICTIM}"]
    os.kill(frozen.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        _, seen = show.watch_until(lambda st: show.nodes()[VICTIM]["state"] == "lost", 10.0,
                                   "the controller to report the frozen node lost")
        detected = time.monotonic() - start
        # Whatever the liveness setting, a frozen node is found within a few seconds.
        assert detected < 5.0
        # ... and its neighbour never noticed: keep watching it for a while.
        more = show.watch(1.0)
        assert_kept_playing(seen[NEIGHBOUR] + more[NEIGHBOUR], NEIGHBOUR)
        assert show.nodes()[VICTIM]["state"] == "lost"
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    wait_until(lambda: show.in_step(VICTIM), REJOIN_S, "the thawed node to come back")
    after = show.watch(1.5)
    assert_kept_playing(after[VICTIM], VICTIM)
    assert frozen.poll() is None


def test_a_restarted_controller_resumes_the_show_and_the_nodes_follow(healthy: Show) -> None:
    show = healthy
    # Somewhere a fresh show could never be: a restart that starts over fails plainly.
    show.op.command("seek", position=300.0, delay=0.1)
    wait_until(lambda: show.in_step(*DISPLAYS) and all(
        n["show_time"] > 300.0 for d, n in show.nodes().items() if d in DISPLAYS), 10.0,
        "the nodes to follow the seek")
    old = show.status()
    old_at = time.monotonic()
    assert old is not None
    ctl = show.procs.procs["controller"]
    ctl.send_signal(signal.SIGTERM)
    assert ctl.wait(timeout=15) == 0
    show.start_controller()
    st = wait_until(show.status, REJOIN_S, "the new controller to answer")
    read_at = time.monotonic()
    assert st["session"] != old["session"]
    # Show time ran on while the controller was away, as if it had never stopped.
    assert st["show_time"] == pytest.approx(old["show_time"] + (read_at - old_at), abs=0.25)
    assert st["seq"] >= old["seq"]
    wait_until(lambda: show.in_step(*DISPLAYS), REJOIN_S, "the nodes to join the new session")
    after = show.watch(1.5)
    for d in DISPLAYS:
        assert_kept_playing(after[d], d)
        assert after[d][-1].show_time > 300.0


def _capture(show: Show, tag: str) -> dict[str, float]:
    """Every node saves the same frame as ``tag``; returns each one's mean brightness."""
    from PIL import Image, ImageStat

    show.op.command("capture", tag=tag, delay=0.5)
    wait_until(lambda: all(tag in n["captures"] for d, n in show.nodes().items()
                           if d in DISPLAYS), 30.0, f"every node to capture {tag!r}")
    out = {}
    for d in DISPLAYS:
        with Image.open(show.capture_dir / f"{d}-{tag}.png") as im:
            out[d] = sum(ImageStat.Stat(im.convert("RGB")).mean) / 3
    return out


def test_a_blackout_darkens_every_node_and_lifting_it_brings_the_picture_back(
        healthy: Show) -> None:
    from click.testing import CliRunner

    from exhibit_engine.cli import main

    show = healthy
    ctl = ["ctl", "--host", "127.0.0.1", "--state-port", str(show.state_port)]
    lit = _capture(show, "lit")
    assert all(v > 8.0 for v in lit.values()), lit      # the night castle is not black
    res = CliRunner().invoke(main, [*ctl, "blackout", "on", "--fade", "0", "--delay", "0"])
    assert res.exit_code == 0, res.output
    dark = _capture(show, "dark")
    assert all(dark[d] < 0.05 * lit[d] + 1.0 for d in DISPLAYS), (dark, lit)
    # The nodes kept drawing (black) frames all along.
    assert_kept_playing(show.watch(1.0)[NEIGHBOUR], NEIGHBOUR)
    res = CliRunner().invoke(main, [*ctl, "blackout", "off", "--fade", "0", "--delay", "0"])
    assert res.exit_code == 0, res.output
    again = _capture(show, "again")
    assert all(again[d] > 0.5 * lit[d] for d in DISPLAYS), (again, lit)
