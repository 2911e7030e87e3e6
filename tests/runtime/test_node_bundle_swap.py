"""A bundle swapped on disk under a running node (issue 12: it never darkens the wall).

A node opens and verifies every bundle of its show at boot. When a cue needs a scene
built, it checks (one ``stat``) whether that bundle's file changed on disk since; a
changed file is opened and verified as at boot and played from then on, the scene on
screen never being rebuilt mid-cue. A changed file that is missing, half written,
failing a check or lacking the cue's scene is a fault: the node shows standby, reports
``extra.fault`` and goes on; once the file changes again, the next cue change tries it.

The first tests drive the node's scene keeping (``_Scenes``, ``_draw_or_report``) with a
stand-in renderer and real packed bundles; the last run a real controller and a real
headless node whose bundle is swapped with ``os.replace``, as ``exhibit install`` does.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exhibit_engine.assets.pack import pack
from exhibit_engine.config import NodeSettings, load_show, load_venue
from exhibit_engine.runtime.node_app import _draw_or_report, _Scenes
from exhibit_engine.runtime.playback import Frame
from exhibit_engine.show import Timeline

from ..e2e.conftest import wait_until
from .test_capture_failures import Wall, started  # noqa: F401, F811  (a fixture)
from .test_node_faults import assert_standby_drawn

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "content"
LANTERN = CONTENT / "ice-festival" / "meshes" / "lantern.glb"

#: The test show: two cues of the small "lanterns" bundle, standby from the ice festival.
SHOW = """
[show]
id = "swap-test"
title = { zh = "测试", en = "Swap test", ru = "Тест" }
loop = true

[[bundles]]
id = "lanterns"
file = "lanterns.exb"

[[bundles]]
id = "ice-festival"
file = "ice-festival.exb"

[[cues]]
id = "first"
bundle = "lanterns"
scene = "dusk"
duration = 600.0

[[cues]]
id = "second"
bundle = "lanterns"
scene = "glow"
duration = 600.0
transition = "crossfade"
transition_time = 0.5

[standby]
bundle = "ice-festival"
scene = "lantern-walk"
"""


def _source(folder: Path, version: str, scenes: dict[str, int]) -> Path:
    """A "lanterns" bundle source: one small lantern model, ice scenes by id and seed."""
    (folder / "meshes").mkdir(parents=True)
    shutil.copy(LANTERN, folder / "meshes" / "lantern.glb")
    text = [(f'[bundle]\nid = "lanterns"\nversion = "{version}"\n'
             'title = { zh = "冰灯", en = "Lanterns", ru = "Фонари" }\n'
             'rights = "test"\nlicense = "CC-BY-4.0"\n')]
    for sid, seed in scenes.items():
        text.append(f'[[scenes]]\nid = "{sid}"\nkind = "ice"\n'
                    f'title = {{ zh = "冰灯", en = "{sid}", ru = "Фонари" }}\n'
                    'assets = ["meshes/lantern.glb"]\n[scenes.params]\naurora = false\n'
                    f'snowflakes = 200\nseed = {seed}\nlanterns = 6\n')
    (folder / "bundle.toml").write_text("\n".join(text), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def lanterns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Packed versions of the "lanterns" bundle: v1 and v2 (both scenes), and "bad"
    (a valid bundle lacking "glow")."""
    root = tmp_path_factory.mktemp("lanterns")
    made = {}
    for name, version, scenes in (("v1", "1.0.0", {"dusk": 1, "glow": 2}),
                                  ("v2", "2.0.0", {"dusk": 3, "glow": 4}),
                                  ("bad", "1.1.0", {"dusk": 5})):
        out = root / f"{name}.exb"
        pack(_source(root / name, version, scenes), out)
        made[name] = out
    return made


def _swap(new: Path, live: Path) -> None:
    """Put ``new`` in place of ``live`` atomically (a copy beside it, then a rename)."""
    part = live.with_name(live.name + ".incoming")
    shutil.copy(new, part)
    os.replace(part, live)


# ---------------------------------------------------------------- stand-in renderer


class Builds:
    """Stands in for the renderer: notes each build by (bundle version, scene)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def load(self, bundle: Any, scene: str) -> None:
        bundle.scene(scene)                     # raises SceneError, as a real build does
        self.calls.append(("load", bundle.manifest.version, scene))

    def load_outgoing(self, bundle: Any, scene: str) -> None:
        bundle.scene(scene)
        self.calls.append(("load_outgoing", bundle.manifest.version, scene))

    def retire(self) -> None:
        self.calls.append(("retire",))

    def unload_outgoing(self) -> None:
        self.calls.append(("unload_outgoing",))

    def unload(self) -> None:
        self.calls.append(("unload",))

    def render(self, t: float, state: Any, transition: Any = None, dim: float = 1.0) -> None:
        pass


def _scenes(folder: Path, show_text: str) -> _Scenes:
    venue = load_venue(CONTENT / "venue.toml")
    (folder.parent / "show.toml").write_text(show_text, encoding="utf-8")
    show = load_show(folder.parent / "show.toml")
    settings = NodeSettings(venue, venue.displays[0], "127.0.0.1", 1, 2, str(folder))
    scenes = _Scenes(settings, show)
    for ref in show.bundles:
        scenes.bundle(ref.id)                   # the boot check
    return scenes


def _closed(bundle: Any) -> bool:
    return bundle._zf.fp is None


#: The unit show: no standby (a fault draws black), cuts only.
_UNIT_SHOW = SHOW.split("[[bundles]]\nid = \"ice-festival\"")[0] + """
[[cues]]
id = "first"
bundle = "lanterns"
scene = "dusk"
duration = 10.0

[[cues]]
id = "second"
bundle = "lanterns"
scene = "glow"
duration = 10.0
"""


def test_a_swap_is_played_from_the_next_build_and_a_bad_one_is_a_fault_until_fixed(
        tmp_path: Path, lanterns: dict[str, Path], caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "bundles"
    folder.mkdir()
    live = folder / "lanterns.exb"
    shutil.copy(lanterns["v1"], live)
    scenes = _scenes(folder, _UNIT_SHOW)
    cues = tuple(scenes.show.cues)
    frame = Frame("main", Timeline(cues, loop=True), 1.0)
    r, extra = Builds(), {}

    def at(t: float) -> list[tuple[Any, ...]]:
        """Draw show time t; the builds it made."""
        before = len(r.calls)
        _draw_or_report(r, scenes, frame, t, extra)
        return [c for c in r.calls[before:] if c[0] != "unload"]

    caplog.set_level(logging.INFO, logger="exhibit_engine.runtime.node_app")
    v1 = scenes.bundles["lanterns"]
    assert at(1.0) == [("load", "1.0.0", "dusk")] and "fault" not in extra
    # What the node reports (node-status `bundles` and `cue`): the version it builds from.
    assert scenes.states() == {"lanterns": "1.0.0"} and scenes.cue_id == "first"
    _swap(lanterns["v2"], live)
    assert at(2.0) == [], "the scene on screen is not rebuilt mid-cue"
    assert at(11.0) == [("load", "2.0.0", "glow")] and "fault" not in extra
    assert "bundle 'lanterns' changed on disk; playing version 2.0.0 " in caplog.text
    assert "from cue 'second'" in caplog.text
    assert scenes.states() == {"lanterns": "2.0.0"} and scenes.cue_id == "second"
    v2 = scenes.bundles["lanterns"]

    # A valid bundle lacking the second cue's scene: the first cue plays from it, the
    # second is a fault naming the file and the missing scene, tried once per cue.
    _swap(lanterns["bad"], live)
    assert at(21.0) == [("load", "1.1.0", "dusk")]
    assert _closed(v1), "the replaced version is closed once no scene of it is held"
    assert at(31.0) == []
    fault = extra["fault"]
    assert fault.startswith("cue 'second' cannot be shown: ") and str(live) in fault
    assert "has no scene 'glow'" in fault and "\n" not in fault
    assert at(32.0) == [] and extra["fault"] == fault
    assert _closed(v2)

    # Half written in place: still the same fault mid-cue; at the next cue, one line.
    data = lanterns["v2"].read_bytes()
    live.write_bytes(data[: len(data) // 2])
    assert at(33.0) == [] and extra["fault"] == fault, "not picked up mid-cue"
    assert at(41.0) == []
    assert extra["fault"].startswith("cue 'first' cannot be shown: ")
    assert str(live) in extra["fault"] and "not a readable ZIP" in extra["fault"]
    assert scenes.states() == {"lanterns": "broken"}
    with live.open("ab") as f:                  # the copy completes, in place
        f.write(data[len(data) // 2:])
    assert at(42.0) == [] and "not a readable ZIP" in extra["fault"]
    assert at(51.0) == [("load", "2.0.0", "glow")] and "fault" not in extra
    assert scenes.states() == {"lanterns": "2.0.0"}

    # The file removed: a fault at the next build, not an exit.
    live.unlink()
    assert at(61.0) == [] and "bundle file not found" in extra["fault"]
    assert scenes.states() == {"lanterns": "broken"}
    assert extra["fault"].startswith("cue 'first' cannot be shown: ")
    _swap(lanterns["v1"], live)
    assert at(62.0) == [], "a fault is not retried mid-cue"
    assert at(71.0) == [("load", "1.0.0", "glow")] and "fault" not in extra
    scenes.close()
    assert all(_closed(b) for b in scenes.bundles.values())


def test_the_node_reports_the_item_and_language_its_last_frame_drew(
        tmp_path: Path, lanterns: dict[str, Path]) -> None:
    """node-status ``item`` and ``language`` (issue 14): what the frame drew, from the
    scene state; a black frame (no timeline, or a fault without standby) draws neither."""
    folder = tmp_path / "bundles"
    folder.mkdir()
    live = folder / "lanterns.exb"
    shutil.copy(lanterns["v1"], live)
    scenes = _scenes(folder, _UNIT_SHOW)
    timeline = Timeline(tuple(scenes.show.cues), loop=True)
    r, extra = Builds(), {}
    assert scenes.drawn == ("", "")
    _draw_or_report(r, scenes, Frame("main", timeline, 1.0), 1.0, extra)
    assert scenes.drawn == ("", "")                 # nothing selected, no language
    shown = Frame("main", timeline, 1.0, {"selected_item": "vase", "selected_at": 0.5,
                                          "language": "ru"})
    _draw_or_report(r, scenes, shown, 2.0, extra)
    assert scenes.drawn == ("vase", "ru")
    _draw_or_report(r, scenes, Frame("standby", None, 0.0, shown.scene_state), 3.0, extra)
    assert scenes.drawn == ("", "")                 # black: no scene drew them
    _draw_or_report(r, scenes, shown, 4.0, extra)
    assert scenes.drawn == ("vase", "ru")
    _swap(lanterns["bad"], live)                    # the second cue's scene is gone
    _draw_or_report(r, scenes, shown, 11.0, extra)
    assert "fault" in extra and scenes.drawn == ("", "")   # no standby: black
    scenes.close()


def test_the_outgoing_scene_of_a_transition_keeps_its_old_version_open(
        tmp_path: Path, lanterns: dict[str, Path]) -> None:
    folder = tmp_path / "bundles"
    folder.mkdir()
    live = folder / "lanterns.exb"
    shutil.copy(lanterns["v1"], live)
    scenes = _scenes(folder, _UNIT_SHOW)
    r = Builds()
    v1 = scenes.bundles["lanterns"]
    scenes.note_cue(("main", 0, 0), 0.0, "first")
    scenes.ensure(r, ("lanterns", "dusk"))
    _swap(lanterns["v2"], live)
    scenes.note_cue(("main", 1, 0), 0.0, "second")
    scenes.ensure(r, ("lanterns", "glow"), ("lanterns", "dusk"))     # a crossfade
    assert r.calls == [("load", "1.0.0", "dusk"), ("retire",), ("load", "2.0.0", "glow")]
    assert not _closed(v1), "the outgoing scene came from it"
    scenes.note_cue(("main", 1, 0), 0.4, "second")
    scenes.ensure(r, ("lanterns", "glow"))                           # transition over
    assert not _closed(v1)                     # closed at a cue change, not mid-cue
    scenes.note_cue(("main", 0, 1), 0.0, "first")
    assert _closed(v1)
    scenes.close()


# ------------------------------------------------------------------ real processes


def _wall(tmp_path: Path, ice_exb: Path, lanterns: dict[str, Path],
          started: Callable[..., subprocess.Popen[bytes]]) -> tuple[Wall, Path]:
    folder = tmp_path / "bundles"
    folder.mkdir()
    shutil.copy(ice_exb, folder / "ice-festival.exb")
    shutil.copy(lanterns["v1"], folder / "lanterns.exb")
    show = tmp_path / "show.toml"
    show.write_text(SHOW, encoding="utf-8")
    wall = Wall(tmp_path, ice_exb, started, ["-m", "exhibit_engine.cli"], show=show,
                bundle_dir=folder)
    return wall, folder / "lanterns.exb"


def _goto(wall: Wall, cue: str) -> None:
    wall.op.command("goto", cue=cue)


@pytest.mark.render
@pytest.mark.sync
@pytest.mark.e2e
def test_a_bundle_swapped_for_one_without_the_scene_shows_standby_and_reports_it(
        tmp_path: Path, ice_exb: Path, lanterns: dict[str, Path],
        started: Callable[..., subprocess.Popen[bytes]]) -> None:
    wall, live = _wall(tmp_path, ice_exb, lanterns, started)
    try:
        node = wall.me()
        assert node is not None and "fault" not in node["extra"]
        _swap(lanterns["bad"], live)
        _goto(wall, "second")
        node = wait_until(lambda: (n := wall.me()) and "fault" in n["extra"] and n, 30.0,
                          "the node to report the fault")
        fault = node["extra"]["fault"]
        assert fault.startswith("cue 'second' cannot be shown: "), fault
        assert str(live) in fault and "has no scene 'glow'" in fault
        assert_standby_drawn(wall, node)
    finally:
        wall.op.close()
    log = (tmp_path / "node.log").read_text(errors="replace")
    assert "Traceback" not in log
    assert log.count("cue 'second' cannot be shown") == 1      # logged once, not per frame


@pytest.mark.render
@pytest.mark.sync
@pytest.mark.e2e
def test_a_good_swap_after_a_bad_one_is_played_from_the_next_cue_change(
        tmp_path: Path, ice_exb: Path, lanterns: dict[str, Path],
        started: Callable[..., subprocess.Popen[bytes]]) -> None:
    wall, live = _wall(tmp_path, ice_exb, lanterns, started)
    try:
        _swap(lanterns["bad"], live)
        _goto(wall, "second")
        first = wait_until(lambda: (n := wall.me()) and "fault" in n["extra"] and n, 30.0,
                           "the node to report the fault")
        # Past the cue change itself (its crossfade, a loaded node's late anchor) before
        # the good file comes: only a later cue change may pick it up.
        node = wait_until(lambda: (n := wall.me()) and n["frames"] > first["frames"] + 10
                          and "fault" in n["extra"] and n, 30.0, "the fault to settle")
        _swap(lanterns["v2"], live)
        later = wait_until(lambda: (n := wall.me()) and n["frames"] > node["frames"] + 10
                           and n, 30.0, "the node to keep rendering")
        assert later["extra"].get("fault") == node["extra"]["fault"], \
            "a good file is not picked up mid-cue"
        _goto(wall, "second")                   # the cue again: a cue change
        wait_until(lambda: (n := wall.me()) and "fault" not in n["extra"], 30.0,
                   "the node to play the new version")
        assert wall.node.poll() is None
    finally:
        wall.op.close()
    log = (tmp_path / "node.log").read_text(errors="replace")
    assert "Traceback" not in log
    assert "bundle 'lanterns' changed on disk; playing version 2.0.0 " in log
    assert log.count("from cue 'second'") == 2, log   # the bad version, then the good one
