"""show.toml's show-control tables: attract, standby, schedule, control, wait cues."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from exhibit_engine.config import load_show
from exhibit_engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

SHOW = """
[show]
id = "s"
[[bundles]]
id = "b"
file = "b.exb"
[[cues]]
id = "intro"
bundle = "b"
scene = "one"
duration = 30
[[cues]]
id = "hold"
bundle = "b"
scene = "two"
duration = 60
wait = true
[attract]
idle_after = 90
[[attract.cues]]
id = "teaser"
bundle = "b"
scene = "loop"
duration = 20
[[attract.cues]]
id = "intro"
[standby]
bundle = "b"
scene = "night"
[schedule]
timezone = "Europe/Berlin"
mon = "closed"
tue = ["10:00", "18:00"]
sun = ["11:30", "24:00"]
"2026-12-31" = ["10:00", "15:00"]
[schedule.special]
"2026-12-24" = "closed"
[control]
go_guard_s = 0.8
blackout_fade_s = 3
panic_fade_s = 0.5
"""


def _show(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "show.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_full_show_file_loads(tmp_path: Path) -> None:
    show = load_show(_show(tmp_path, SHOW))
    assert [c.wait for c in show.cues] == [False, True]
    assert show.attract.idle_after == 90.0
    assert [c.id for c in show.attract.cues] == ["teaser", "intro"]
    assert show.attract.cues[1] is show.cues[0]        # a reference, not a copy
    assert (show.standby.scene, show.standby.duration) == ("night", 600.0)
    sch = show.schedule
    assert sch.timezone == "Europe/Berlin"
    assert sch.weekly == (None, (600, 1080), None, None, None, None, (690, 1440))
    assert sch.special == {date(2026, 12, 31): (600, 900), date(2026, 12, 24): None}
    assert (show.go_guard_s, show.blackout_fade_s, show.panic_fade_s) == (0.8, 3.0, 0.5)


def test_defaults_without_the_new_tables(tmp_path: Path) -> None:
    show = load_show(_show(tmp_path, SHOW.split("[attract]")[0]))
    assert show.attract is None and show.standby is None and show.schedule is None
    assert (show.go_guard_s, show.blackout_fade_s, show.panic_fade_s) == (0.5, 2.0, 1.0)


def test_the_sample_show_and_its_commented_schedule_load(tmp_path: Path) -> None:
    sample = (ROOT / "content" / "show.toml").read_text(encoding="utf-8")
    show = load_show(ROOT / "content" / "show.toml")
    assert show.attract is not None and show.standby is not None and show.schedule is None
    # the example hours in the comment stay valid: uncomment them and load again
    lines = sample.splitlines()
    start = lines.index("# [schedule]")
    for i in range(start, len(lines)):
        if not lines[i].startswith("# "):
            break
        lines[i] = lines[i][2:]
    show = load_show(_show(tmp_path, "\n".join(lines)))
    assert show.schedule.weekly[0] is None and show.schedule.weekly[3] == (600, 1200)
    assert show.schedule.special[date(2026, 12, 25)] is None


@pytest.mark.parametrize("change, key", [
    (("idle_after = 90", "idle_after = 0"), "attract.idle_after"),
    (('[[attract.cues]]\nid = "intro"', '[[attract.cues]]\nid = "outro"'), "attract.cues[1].id"),
    (('scene = "loop"\nduration = 20', 'scene = "loop"\nduration = -2'),
     "attract.cues[0].duration"),
    (('[[attract.cues]]\nid = "teaser"', '[[attract.cues]]\nid = "intro"'),
     "attract.cues[1].id"),
    (("wait = true", 'wait = "yes"'), "cues[1].wait"),
    (('id = "hold"', 'id = "intro"'), "cues[1].id"),
    (('scene = "night"', 'scene = ""'), "standby.scene"),
    (('[standby]\nbundle = "b"', '[standby]\nbundle = "c"'), "standby.bundle"),
    (('"Europe/Berlin"', '"Europe/Atlantis"'), "schedule.timezone"),
    (('tue = ["10:00", "18:00"]', 'tue = ["18:00", "10:00"]'), "schedule.tue"),
    (('tue = ["10:00", "18:00"]', 'tue = ["10:00", "25:00"]'), "schedule.tue"),
    (('tue = ["10:00", "18:00"]', 'tue = ["10:00"]'), "schedule.tue"),
    (('tue = ["10:00", "18:00"]', 'tue = "shut"'), "schedule.tue"),
    (('tue = ["10:00", "18:00"]', 'tue = ["1000", "18:00"]'), "schedule.tue"),
    (('tue = ["10:00", "18:00"]', 'tuesday = ["10:00", "18:00"]'), "schedule.tuesday"),
    (('"2026-12-24" = "closed"', '"2026-13-24" = "closed"'), "schedule.special.2026-13-24"),
    (('"2026-12-31" = ["10:00", "15:00"]', '"2026-12-31" = ["15:00", "15:00"]'),
     "schedule.2026-12-31"),
    (("go_guard_s = 0.8", "go_guard_s = -1"), "control.go_guard_s"),
    (("panic_fade_s = 0.5", "panic_fade_s = true"), "control.panic_fade_s"),
])
def test_show_control_mistakes_name_the_key(tmp_path: Path, change: tuple[str, str],
                                            key: str) -> None:
    assert change[0] in SHOW
    path = _show(tmp_path, SHOW.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_show(path)
    assert err.value.key == key and str(path) in str(err.value)
