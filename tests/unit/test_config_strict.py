"""Strict config: a misspelt key or table anywhere in venue.toml or show.toml is refused in
one line naming the file, the dotted key and the nearest valid name; times, sizes and ports
are range-checked; every committed venue and show file (and the docs' examples) still loads.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exhibit_engine.config import (
    MAX_DURATION_S,
    load_show,
    load_venue,
    resolve_controller,
    resolve_node,
    resolve_peer,
)
from exhibit_engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

VENUE = """\
[venue]
id = "v"
name = "Venue"
[wall]
width = 4.0
height = 2.0
eye = [2.0, 1.0, 3.0]
[network]
host = "127.0.0.1"
state_port = 5570
publish_port = 5571
lost_after_s = 0.35
[[displays]]
id = "a"
pixels = [800, 800]
rect = [0.0, 0.0, 2.2, 2.0]
[[displays]]
id = "b"
pixels = [800, 800]
rect = [1.8, 0.0, 2.2, 2.0]
gamma = 2.2
blend_exponent = 2.0
black_level = 0.01
[displays.blend]
left = 0.4
[displays.warp]
kind = "corner_pin"
top_left = [0, 0]
top_right = [800, 0]
bottom_right = [800, 800]
bottom_left = [0, 800]
[bundles]
trusted_keys = ["keys/curator.ed25519.pub"]
require_signed = true
[security]
curve = false
[[kiosks]]
id = "k"
pixels = [1920, 1080]
dpi = 96
language = "zh"
wall_language = true
idle_warning_s = 15
pin = "pbkdf2-sha256$200000$2ZMwOVlZ/zfPhWfZwSZOuA==$WAjZLPmBDyQ2A9e9fIAguOw6JQ6eLTyIEafHIsPUO0o="
"""

SHOW = """\
[show]
id = "s"
loop = true
[[bundles]]
id = "b"
file = "b.exb"
[[cues]]
id = "intro"
bundle = "b"
scene = "one"
duration = 30
transition = "crossfade"
transition_time = 2.0
[attract]
idle_after = 90
loop = true
[[attract.cues]]
id = "teaser"
bundle = "b"
scene = "loop"
duration = 20
[standby]
bundle = "b"
scene = "night"
duration = 600
[schedule]
timezone = "Europe/Berlin"
mon = "closed"
[control]
go_guard_s = 0.5
blackout_fade_s = 2.0
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_the_base_files_load(tmp_path: Path) -> None:
    venue = load_venue(_write(tmp_path, "venue.toml", VENUE))
    assert venue.displays[1].warp is not None and venue.displays[1].blend[0] == 0.4
    show = load_show(_write(tmp_path, "show.toml", SHOW))
    assert show.attract is not None and show.standby is not None and show.schedule


# (old, new: the misspelling, the dotted key refused, what it is, the suggestion)
VENUE_TYPOS = [
    ("gamma = 2.2", "gama = 2.2", "displays[1].gama", "key", "gamma"),
    ("pixels = [800, 800]\nrect = [0.0", "pixel = [800, 800]\nrect = [0.0",
     "displays[0].pixel", "key", "pixels"),
    ("blend_exponent", "blend_exponant", "displays[1].blend_exponant", "key",
     "blend_exponent"),
    ("black_level", "blacklevel", "displays[1].blacklevel", "key", "black_level"),
    ("left = 0.4", "lefft = 0.4", "displays[1].blend.lefft", "key", "left"),
    ("[displays.blend]", "[displays.blnd]", "displays[1].blnd", "table", "blend"),
    ("top_left", "top_lef", "displays[1].warp.top_lef", "key", "top_left"),
    ("state_port", "state-port", "network.state-port", "key", "state_port"),
    ("lost_after_s", "lost_afer_s", "network.lost_afer_s", "key", "lost_after_s"),
    ("[network]", "[netwrok]", "netwrok", "table", "network"),
    ("height = 2.0", "heigth = 2.0", "wall.heigth", "key", "height"),
    ("[wall]", "[walls]", "walls", "table", "wall"),
    ('name = "Venue"', 'nmae = "Venue"', "venue.nmae", "key", "name"),
    ("require_signed", "require_signd", "bundles.require_signd", "key", "require_signed"),
    ("[bundles]", "[bundle]", "bundle", "table", "bundles"),
    ("curve = false", "curv = false", "security.curv", "key", "curve"),
    ("[[displays]]\nid = \"a\"", "[[display]]\nid = \"a\"", "display", "table", "displays"),
]

SHOW_TYPOS = [
    ("transition_time", "transiton_time", "cues[0].transiton_time", "key", "transition_time"),
    ("duration = 30", "durration = 30", "cues[0].durration", "key", "duration"),
    ("loop = true\n[[bundles]]", "lop = true\n[[bundles]]", "show.lop", "key", "loop"),
    ("[standby]", "[standbye]", "standbye", "table", "standby"),
    ("go_guard_s", "go_gaurd_s", "control.go_gaurd_s", "key", "go_guard_s"),
    ("[control]", "[controls]", "controls", "table", "control"),
    ("idle_after", "idle_afer", "attract.idle_afer", "key", "idle_after"),
    ("duration = 20", "duraton = 20", "attract.cues[0].duraton", "key", "duration"),
    ("loop = true\n[[attract", "looop = true\n[[attract", "attract.looop", "key", "loop"),
    ("[attract]", "[atract]", "atract", "table", "attract"),
    ('file = "b.exb"', 'fil = "b.exb"', "bundles[0].fil", "key", "file"),
    ('scene = "night"', 'scen = "night"', "standby.scen", "key", "scene"),
    ("timezone", "timezon", "schedule.timezon", "key", "timezone"),
    ("[[cues]]", "[[cue]]", "cue", "table", "cues"),
]


@pytest.mark.parametrize("old, new, key, kind, near", VENUE_TYPOS, ids=[t[2] for t in VENUE_TYPOS])
def test_a_misspelt_venue_key_is_one_line_with_the_nearest_name(
        tmp_path: Path, old: str, new: str, key: str, kind: str, near: str) -> None:
    assert old in VENUE
    path = _write(tmp_path, "venue.toml", VENUE.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_venue(path)
    assert err.value.key == key
    assert str(err.value) == f"{path}: {key}: unknown {kind}, did you mean `{near}`?"


@pytest.mark.parametrize("old, new, key, kind, near", SHOW_TYPOS, ids=[t[2] for t in SHOW_TYPOS])
def test_a_misspelt_show_key_is_one_line_with_the_nearest_name(
        tmp_path: Path, old: str, new: str, key: str, kind: str, near: str) -> None:
    assert old in SHOW
    path = _write(tmp_path, "show.toml", SHOW.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_show(path)
    assert err.value.key == key
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{path}: {key}: unknown")
    assert f"did you mean `{near}`?" in line


def test_an_unknown_key_nothing_like_a_known_one_lists_them(tmp_path: Path) -> None:
    path = _write(tmp_path, "venue.toml", VENUE.replace("[network]\n", "[network]\nzzz = 1\n"))
    with pytest.raises(ConfigError) as err:
        load_venue(path)
    assert str(err.value) == (f"{path}: network.zzz: unknown key (known here: backup, "
                              "failover_after_s, host, hung_after_s, lost_after_s, "
                              "peer_lost_after_s, peer_port, publish_port, state_port, "
                              "transfer_port, transfer_rate_mbps)")


def test_a_misspelt_transition_or_display_binding_is_suggested(tmp_path: Path) -> None:
    path = _write(tmp_path, "show.toml", SHOW.replace('"crossfade"', '"crosfade"'))
    with pytest.raises(ConfigError, match="did you mean `crossfade`"):
        load_show(path)
    path = _write(tmp_path, "venue.toml", VENUE + '[security.displays]\nbb = "k.curve.pub"\n')
    with pytest.raises(ConfigError, match=r"no display 'bb' \(known: a, b\), did you mean `b`"):
        load_venue(path)


@pytest.mark.parametrize("old, new, key, rule", [
    ("duration = 30", "duration = 1e308", "cues[0].duration", "must be at most 1e+06 s"),
    ("duration = 30", "duration = inf", "cues[0].duration", "must be a finite number"),
    ("duration = 30", "duration = nan", "cues[0].duration", "must be a finite number"),
    ("duration = 30", "duration = -1", "cues[0].duration", "must be greater than 0"),
    ("transition_time = 2.0", "transition_time = -inf", "cues[0].transition_time",
     "must be a finite number"),
    ("duration = 20", "duration = 2e6", "attract.cues[0].duration", "must be at most 1e+06 s"),
    ("idle_after = 90", "idle_after = 1e9", "attract.idle_after", "must be at most 1e+06 s"),
    ("duration = 600", "duration = 1e308", "standby.duration", "must be at most 1e+06 s"),
    ("go_guard_s = 0.5", "go_guard_s = 1e308", "control.go_guard_s", "must be at most 600 s"),
    ("blackout_fade_s = 2.0", "blackout_fade_s = nan", "control.blackout_fade_s",
     "must be a finite number"),
    ("blackout_fade_s = 2.0", "blackout_fade_s = -1", "control.blackout_fade_s",
     "must be at least 0 s"),
])
def test_show_times_are_finite_and_bounded(tmp_path: Path, old: str, new: str, key: str,
                                           rule: str) -> None:
    path = _write(tmp_path, "show.toml", SHOW.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_show(path)
    assert str(err.value) == f"{path}: {key}: {rule}"


def test_the_longest_cue_still_loads(tmp_path: Path) -> None:
    text = SHOW.replace("duration = 30", f"duration = {MAX_DURATION_S}")
    assert load_show(_write(tmp_path, "show.toml", text)).cues[0].duration == MAX_DURATION_S


@pytest.mark.parametrize("old, new, key, rule", [
    ("width = 4.0", "width = 1e308", "wall.width", "must be at most 1000 m"),
    ("height = 2.0", "height = inf", "wall.height", "must be a finite number"),
    ("eye = [2.0, 1.0, 3.0]", "eye = [2.0, 1.0, 1e300]", "wall.eye",
     "eye coordinates must be within 1000 m"),
    ("state_port = 5570", "state_port = 70000", "network.state_port",
     "must be a port number 1-65535"),
    ("state_port = 5570", "state_port = 0", "network.state_port",
     "must be a port number 1-65535"),
    ("lost_after_s = 0.35", "lost_after_s = nan", "network.lost_after_s",
     "must be a finite number"),
    ("pixels = [800, 800]\nrect = [0.0", "pixels = [800, 100000]\nrect = [0.0",
     "displays[0].pixels", "pixel sizes must be 16-16384"),
])
def test_venue_sizes_and_ports_are_checked(tmp_path: Path, old: str, new: str, key: str,
                                           rule: str) -> None:
    path = _write(tmp_path, "venue.toml", VENUE.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        load_venue(path)
    assert str(err.value) == f"{path}: {key}: {rule}"


@pytest.fixture
def venue(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_venue(_write(tmp_path, "venue.toml", VENUE))


@pytest.mark.parametrize("env, flags, line", [
    ({"EXHIBIT_STATE_PORT": "70000"}, {},
     "EXHIBIT_STATE_PORT: must be a port number 1-65535, not 70000"),
    ({"EXHIBIT_PUBLISH_PORT": "0"}, {},
     "EXHIBIT_PUBLISH_PORT: must be a port number 1-65535, not 0"),
    ({"EXHIBIT_STATE_PORT": "-1"}, {},
     "EXHIBIT_STATE_PORT: must be a port number 1-65535, not -1"),
    ({}, {"state_port": 70000},
     "<flags>: --state-port: must be a port number 1-65535, not 70000"),
    ({}, {"publish_port": -5},
     "<flags>: --publish-port: must be a port number 1-65535, not -5"),
    ({}, {"state_port": 6000, "publish_port": 6000},
     "<flags>: --publish-port: state and publish ports must differ (both 6000)"),
])
def test_ports_from_flags_and_environment_are_range_checked(
        venue, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
        env: dict[str, str], flags: dict[str, int], line: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        resolve_node(venue, "a", **flags)
    assert str(err.value) == line
    with pytest.raises(ConfigError) as err:
        resolve_controller(venue, _a_show(Path(venue.path).parent), persist=False, **flags)
    assert str(err.value) == line
    if "publish_port" not in flags and "EXHIBIT_PUBLISH_PORT" not in env:
        with pytest.raises(ConfigError) as err:
            resolve_peer(venue, **flags)
        assert str(err.value) == line


def _a_show(folder: Path):  # type: ignore[no-untyped-def]
    return load_show(_write(folder, "show.toml", SHOW))


def test_a_nan_render_scale_or_a_far_window_is_refused(venue, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EXHIBIT_RENDER_SCALE", "nan")
    with pytest.raises(ConfigError) as err:
        resolve_node(venue, "a")
    assert str(err.value) == "EXHIBIT_RENDER_SCALE: render scale must be between 0.05 and 4"
    with pytest.raises(ConfigError, match="<flags>: render_scale: render scale must be"):
        resolve_node(venue, "a", render_scale=float("inf"))
    monkeypatch.delenv("EXHIBIT_RENDER_SCALE")
    with pytest.raises(ConfigError, match="<flags>: --window-origin: must be within"):
        resolve_node(venue, "a", window_origin=(10**12, 0))


def _uncommented(text: str) -> str:
    """The file with its commented-out example tables and keys switched on."""
    out = []
    for line in text.splitlines(keepends=True):
        if re.match(r'^#\s*(\[[^\]]+\]\]?\s*(#.*)?$|[A-Za-z_0-9"-]+ = )', line):
            line = re.sub(r"^#\s*", "", line)
        elif re.match(r'^#\s{8,}"', line):
            line = line[1:]
        out.append(line)
    return "".join(out)


def test_every_committed_venue_and_show_loads_with_its_examples_on(tmp_path: Path) -> None:
    venues = sorted(ROOT.glob("content/**/venue*.toml"))
    shows = sorted(ROOT.glob("content/**/show*.toml"))
    assert venues and shows
    for path in venues:
        load_venue(path)
        v = load_venue(_write(tmp_path, path.name, _uncommented(path.read_text("utf-8"))))
        assert v.security.curve and v.bundles.require_signed
    for path in shows:
        load_show(path)
        s = load_show(_write(tmp_path, path.name, _uncommented(path.read_text("utf-8"))))
        assert s.schedule is not None


def test_every_toml_example_in_the_docs_that_is_config_loads(tmp_path: Path) -> None:
    blocks = [(doc, m.group(1)) for doc in sorted([ROOT / "README.md",
                                                    *(ROOT / "docs").glob("*.md")])
              for m in re.finditer(r"```toml\n(.*?)```", doc.read_text("utf-8"), re.S)]
    base_venue = (ROOT / "content" / "venue.toml").read_text("utf-8")
    base_show = (ROOT / "content" / "show.toml").read_text("utf-8")
    checked = 0
    for doc, block in blocks:
        tables = set(re.findall(r"^\[+([A-Za-z_]+)", block, re.M))
        venue_tables = {"wall", "displays", "network", "security", "venue", "console",
                        "kiosks"}
        show_tables = {"show", "cues", "attract", "standby", "schedule", "control"}
        if tables & venue_tables:
            text = block if "wall" in tables else base_venue + "\n" + block
            try:
                load_venue(_write(tmp_path, "venue.toml", text))
            except ConfigError as exc:
                raise AssertionError(f"{doc.name}: {exc}") from None
            checked += 1
        elif tables & show_tables:
            text = block if "show" in tables else base_show + "\n" + block
            try:
                load_show(_write(tmp_path, "show.toml", text))
            except ConfigError as exc:
                raise AssertionError(f"{doc.name}: {exc}") from None
            checked += 1
    assert checked >= 1   # docs/protocol.md's [security] example at least


def test_wall_check_refuses_a_venue_with_a_misspelt_key_in_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    text = (ROOT / "content" / "venue.toml").read_text("utf-8")
    path = _write(tmp_path, "venue.toml", text.replace("\ngamma = 2.2", "\ngama = 2.2", 1))
    exhibit = Path(sys.executable).with_name("exhibit")
    # The installed script on this checkout's code, as `PYTHONPATH=$PWD exhibit` runs it.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    res = subprocess.run([str(exhibit), "wall", "check", str(path)], capture_output=True,
                         text=True, timeout=60, env=env)
    assert res.returncode == 2 and "wall ok" not in res.stdout
    assert res.stderr.splitlines() == [
        f"exhibit: error: {path}: displays[0].gama: unknown key, did you mean `gamma`?"]


def _each_key_misspelt(text: str) -> list[tuple[str, str]]:
    """``(text with one key line's key misspelt, that key)`` for every key line of ``text``:
    a letter dropped from the middle of the key."""
    lines = text.splitlines(keepends=True)
    out = []
    for i, line in enumerate(lines):
        m = re.match(r"^([a-z_]+) = ", line)
        if m:
            key = m.group(1)
            j = len(key) // 2
            out.append(("".join([*lines[:i], key[:j] + key[j + 1:] + line[len(key):],
                                 *lines[i + 1:]]), key))
    return out


@pytest.mark.parametrize("loader, base", [(load_venue, VENUE), (load_show, SHOW)],
                         ids=["venue", "show"])
def test_every_key_of_every_table_is_strict(tmp_path: Path, loader, base: str) -> None:  # type: ignore[no-untyped-def]
    cases = _each_key_misspelt(base)
    assert len(cases) > 20
    for text, key in cases:
        with pytest.raises(ConfigError) as err:
            loader(_write(tmp_path, "config.toml", text))
        assert str(err.value).endswith(f"did you mean `{key}`?"), (key, str(err.value))
