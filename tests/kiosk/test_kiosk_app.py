"""``exhibit kiosk app`` as a visitor uses it, headless, against a real controller and
real projector nodes: the wall follows the kiosk, idleness returns both to their attract
loops, a double tap acts once, a dead controller is "offline" within 2 s and the kiosk
comes back by itself."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from exhibit_engine.errors import SyncError
from exhibit_engine.sync.operator import OperatorClient

from ..e2e.conftest import Procs, wait_until
from .conftest import Museum, read_json, wait_status, write_script

pytestmark = [pytest.mark.e2e, pytest.mark.render, pytest.mark.sync]

DISPLAYS = ("left", "right")


def _status(op: OperatorClient) -> dict[str, Any] | None:
    try:
        return op.command("status")
    except SyncError:
        return None


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def _reference(m: Museum, display: str, t: float, state: dict[str, Any],
               size: tuple[int, int]) -> np.ndarray:
    """The heritage gallery as a node draws its slice at show time ``t``."""
    from exhibit_engine.assets.bundle import Bundle
    from exhibit_engine.config import load_venue
    from exhibit_engine.runtime.render import Renderer
    from exhibit_engine.wall.frustum import display_frustum

    v = load_venue(m.venue)
    d = next(d for d in v.displays if d.id == display)
    with Bundle.open(m.bundles / "heritage.exb") as b, Renderer(size) as r:
        r.set_frustum(display_frustum(v.wall, d))
        r.load(b, "gallery")
        r.render(t, state)
        return np.asarray(r.snapshot().convert("RGB"))


def test_a_visitor_sends_the_wall_to_an_item_in_russian_and_idleness_brings_back_attract(
        procs: Procs, museum_bundles: Path, tmp_path: Path) -> None:
    m = Museum(tmp_path, museum_bundles, procs, idle_after=12.0, warning=3.0)
    m.controller()
    for d in DISPLAYS:
        m.node(d)
    op = OperatorClient("127.0.0.1", m.state_port, timeout_s=2.0)
    try:
        def drawing() -> bool:
            st = _status(op)
            rows = {n["id"]: n for n in (st or {}).get("nodes", [])}
            return all(rows.get(d, {}).get("frames", 0) >= 2 for d in DISPLAYS)

        wait_until(drawing, 120, "both projectors to join and draw")
        script = write_script(tmp_path / "visit.toml", [
            {"until": "online", "timeout": 60},
            {"tap": "explore"},
            {"tap": "lang:ru"},
            {"tap": "item:vase"},
            {"until": "screen:item"},
            {"tap": "show"},
            {"wait": 0.15},
            {"tap": "show"},                       # the second half of a double tap
            {"until": "feedback:on_wall", "timeout": 30},
            {"screenshot": "on-wall"},
            {"until": "screen:attract", "timeout": 40},
            {"until": "program:attract", "timeout": 20},
        ])
        kiosk = m.kiosk("kiosk", "kiosk-zh", script)
        st = wait_status(m.status_file("kiosk"),
                         lambda s: (s.get("feedback") or {}).get("state") == "on_wall",
                         120, "the kiosk to say the vase is on the wall")
        assert st["language"] == "ru" and st["screen"] == "item"
        # The wall: what the controller was asked, and what each node draws.
        show = op.command("status")
        assert show["show"]["selected_item"] == "vase" and show["show"]["language"] == "ru"

        def nodes_draw_it() -> bool:
            rows = {n["id"]: n for n in op.command("status")["nodes"]}
            return all(rows[d].get("item") == "vase" and rows[d].get("language") == "ru"
                       for d in DISPLAYS)

        wait_until(nodes_draw_it, 10, "both nodes to report the vase in Russian")
        # A capture of each node: the same show time, the wall focused on the vase.
        data = op.command("capture", tag="vase", delay=0.5)
        at = float(data["effective_at"])
        wait_until(lambda: all("vase" in n["captures"] for n in op.command("status")["nodes"]
                               if n["id"] in DISPLAYS), 30, "both nodes to capture")
        selected_at = float(st["feedback"]["effective_at"])
        for d in DISPLAYS:
            shot = np.asarray(Image.open(m.captures / f"{d}-vase.png").convert("RGB"))
            size = shot.shape[1::-1]
            focus = _psnr(shot, _reference(m, d, at, {"selected_item": "vase",
                                                      "selected_at": selected_at,
                                                      "language": "ru"}, size))
            tour = _psnr(shot, _reference(m, d, at, {"language": "ru"}, size))
            assert focus > 30.0 and focus > tour + 3.0, (d, focus, tour)
        assert kiosk.wait(timeout=90) == 0, procs.log("kiosk")
        report = read_json(m.report("kiosk"))
        assert report is not None and report["failed_step"] is None
        selects = [r for r in report["requests"] if r["command"] == "select"]
        assert len(selects) == 1, report["requests"]          # the double tap acted once
        assert report["requests_per_tap_max"] == 1
        assert report["link"]["sent"] == len(report["requests"])      # no retries
        assert report["faults"] == 0 and report["errors"] == []
        final = op.command("status")
        assert final["show"]["program"] == "attract"
    finally:
        op.close()



def test_a_stopped_controller_is_offline_within_2_s_and_the_kiosk_recovers_untouched(
        procs: Procs, museum_bundles: Path, tmp_path: Path) -> None:
    m = Museum(tmp_path, museum_bundles, procs)
    ctl = m.controller()
    script = write_script(tmp_path / "wait.toml", [
        {"until": "online", "timeout": 60},
        {"until": "offline", "timeout": 60},
        {"screenshot": "offline"},
        {"until": "online", "timeout": 60},
        {"wait": 0.5},
    ])
    kiosk = m.kiosk("kiosk", "kiosk-zh", script)
    status = m.status_file("kiosk")
    wait_status(status, lambda s: s["online"] and s["frames"] > 2, 60, "the kiosk online")
    ctl.send_signal(signal.SIGTERM)        # the operator stops the controller
    stopped = time.monotonic()
    ctl.wait(timeout=30)
    st = wait_status(status, lambda s: not s["online"], 10, "the kiosk to say offline")
    # both clocks are this machine's CLOCK_MONOTONIC
    assert st["offline_since"] - stopped < 2.0, st
    procs.procs.pop("controller")
    m.controller()                          # back, on the same ports, a new session
    wait_status(status, lambda s: s["online"], 60, "the kiosk to come back by itself")
    assert kiosk.wait(timeout=60) == 0, procs.log("kiosk")
    report = read_json(m.report("kiosk"))
    assert report is not None and report["taps"] == 0 and report["faults"] == 0
    with Image.open(tmp_path / "shots" / "offline.png") as shot:
        red = np.asarray(shot.convert("RGB"))[:40]
    # the offline badge: a red bar at the top of the page
    assert ((red[..., 0] > 150) & (red[..., 1] < 110)).sum() > 500


def test_a_thousand_random_taps_in_a_minute_break_nothing_and_send_at_most_one_request_each(
        procs: Procs, museum_bundles: Path, tmp_path: Path) -> None:
    m = Museum(tmp_path, museum_bundles, procs, idle_after=20.0, warning=4.0)
    m.controller()
    script = write_script(tmp_path / "hammer.toml", [
        {"until": "online", "timeout": 60},
        {"random_taps": 1000, "over": 60.0, "seed": 7},
    ], clock="virtual", size=(640, 400))
    kiosk = m.kiosk("kiosk", "kiosk-zh", script)
    assert kiosk.wait(timeout=600) == 0, procs.log("kiosk")
    report = read_json(m.report("kiosk"))
    assert report is not None
    assert report["taps"] == 1000 and report["faults"] == 0 and report["errors"] == []
    assert report["requests_per_tap_max"] <= 1
    # the taps went everywhere a visitor can go: every page of the browse
    assert {"attract", "carousel", "item"} <= set(report["screens"]), report["screens"]
    commands = {r["command"] for r in report["requests"]}
    assert {"touch", "select", "language"} <= commands, commands
    taps = [r for r in report["requests"] if r["cause"] != "idle"]
    assert len(taps) <= 1000 and report["link"]["sent"] <= len(report["requests"]) * 2
    # frame times stay bounded: no frame over 3 s (an item's 3-D view is built on the
    # frame it opens), and the last frames are not slower than the first
    ms = report["frame_ms"]
    assert ms["max"] < 3000 and ms["p99"] < 1000, ms
    assert ms["by_tenth"][-1] < 2.0 * ms["by_tenth"][0] + 30.0, ms
    print(f"hammer: {report['frames']} frames, frame ms {ms}, "
          f"{len(report['requests'])} requests for 1000 taps")


def test_the_kiosk_starts_to_its_attract_page_in_under_5_s_with_bundles_cached(
        procs: Procs, museum_bundles: Path, tmp_path: Path) -> None:
    m = Museum(tmp_path, museum_bundles, procs)
    m.controller()
    script = write_script(tmp_path / "start.toml", [{"until": "screen:attract"}])
    for run in ("first", "second"):       # the first renders and caches the thumbnails
        began = time.monotonic()
        kiosk = m.kiosk(run, "kiosk-zh", script)
        st = wait_status(m.status_file(run), lambda s: s["screen"] == "attract"
                         and s["frames"] >= 1, 120, f"the {run} kiosk's attract page")
        took = st["clock"] - began
        assert kiosk.wait(timeout=60) == 0, procs.log(run)
        report = read_json(m.report(run))
        assert report is not None
        print(f"kiosk start to attract ({run} run): {took:.2f} s from the process start, "
              f"{report['first_attract_s']:.2f} s from the command's; thumbnails "
              f"rendered: {report['thumbnails_rendered']}")
    assert report["thumbnails_rendered"] == 0          # the second run found them cached
    assert took < 5.0, took
