"""venue.toml / show.toml parsing: good files load, each mistake names file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhibit_engine.config import default_state_file, load_show, load_venue, resolve_node
from exhibit_engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

VENUE = """
[wall]
width = 4.0
height = 2.0
eye = [2.0, 1.0, 3.0]
[[displays]]
id = "a"
pixels = [800, 800]
rect = [0.0, 0.0, 2.0, 2.0]
[[displays]]
id = "b"
pixels = [800, 800]
rect = [2.0, 0.0, 2.0, 2.0]
"""


def _venue(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "venue.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_sample_venue_and_show_load() -> None:
    venue = load_venue(ROOT / "content" / "venue.toml")
    show = load_show(ROOT / "content" / "show.toml")
    assert [d.id for d in venue.displays] == ["left", "centre", "right"]
    assert show.cues[0].bundle in {b.id for b in show.bundles}


@pytest.mark.parametrize("change, key", [
    (("width = 4.0", "width = 0"), "wall.width"),
    (("eye = [2.0, 1.0, 3.0]", "eye = [2.0, 1.0]"), "wall.eye"),
    (('id = "b"', 'id = "a"'), "displays[1].id"),
    (("rect = [2.0, 0.0, 2.0, 2.0]", "rect = [3.0, 0.0, 2.0, 2.0]"), "displays[1].rect"),
    (("pixels = [800, 800]\nrect = [2.0", "pixels = [800.5, 800]\nrect = [2.0"),
     "displays[1].pixels"),
])
def test_venue_mistakes_name_the_key(tmp_path: Path, change: tuple[str, str], key: str) -> None:
    path = _venue(tmp_path, VENUE.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_venue(path)
    assert err.value.key == key and str(path) in str(err.value)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_venue(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_venue(_venue(tmp_path, "[wall\n"))


def test_show_cue_must_name_a_known_bundle(tmp_path: Path) -> None:
    p = tmp_path / "show.toml"
    p.write_text('[show]\nid = "s"\n[[bundles]]\nid = "a"\nfile = "a.exb"\n'
                 '[[cues]]\nbundle = "b"\nscene = "x"\nduration = 5\n')
    with pytest.raises(ConfigError, match=r"cues\[0\].bundle: names bundle 'b'"):
        load_show(p)


def test_node_precedence_flag_then_env_then_file(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    venue = load_venue(_venue(tmp_path, VENUE))
    assert resolve_node(venue, "a").state_port == 5570
    monkeypatch.setenv("EXHIBIT_STATE_PORT", "6000")
    assert resolve_node(venue, "a").state_port == 6000
    assert resolve_node(venue, "a", state_port=7000).state_port == 7000
    monkeypatch.setenv("EXHIBIT_STATE_PORT", "many")
    with pytest.raises(ConfigError, match="EXHIBIT_STATE_PORT"):
        resolve_node(venue, "a")
    with pytest.raises(ConfigError, match="no display 'zz'"):
        resolve_node(venue, "zz", state_port=1)


def test_default_state_file_sits_beside_the_venue(tmp_path: Path) -> None:
    venue = tmp_path / "hall" / "venue.toml"
    assert default_state_file(str(venue), "winter/nights") == str(
        tmp_path / "hall" / ".exhibit" / "controller-winter_nights.json")


def test_bundle_policy_paths_are_relative_to_the_venue(tmp_path: Path) -> None:
    path = _venue(tmp_path, VENUE + '\n[bundles]\ntrusted_keys = ["keys/c.pub"]\n'
                  'require_signed = true\n')
    policy = load_venue(path).bundles
    assert policy.require_signed
    assert policy.trusted_keys == (str((tmp_path / "keys" / "c.pub").resolve()),)
    with pytest.raises(ConfigError, match="bundles.trusted_keys: require_signed needs"):
        load_venue(_venue(tmp_path, VENUE + "\n[bundles]\nrequire_signed = true\n"))
    assert load_venue(_venue(tmp_path, VENUE)).bundles.trusted_keys == ()


def test_sample_venue_documents_security_and_liveness_settings(tmp_path: Path) -> None:
    """The commented examples in content/venue.toml work when uncommented (with key files
    in place) and state the real defaults."""
    import os
    import re

    from exhibit_engine.config import NetworkConfig
    from exhibit_engine.keys import load_allow_list, z85_encode

    text = (ROOT / "content" / "venue.toml").read_text(encoding="utf-8")
    network = re.findall(r"^# ((?:lost|hung)_after_s = [\d.]+)", text, re.MULTILINE)
    block = re.search(r"^#   \[security\]\n(?:#   .*\n)+", text, re.MULTILINE)
    assert block is not None, "content/venue.toml has no commented [security] example"
    security = [line[4:] for line in block.group(0).splitlines()]
    assert len(network) == 2 and security[0] == "[security]"
    uncommented = text.replace("publish_port = 5571", "publish_port = 5571\n"
                               + "\n".join(network)) + "\n" + "\n".join(security) + "\n"
    for file in re.findall(r'"(keys/[\w.-]+)"', "\n".join(security)):
        (tmp_path / file).parent.mkdir(exist_ok=True)
        (tmp_path / file).write_text(z85_encode(os.urandom(32)) + "\n", encoding="utf-8")
    venue = load_venue(_venue(tmp_path, uncommented))
    defaults = NetworkConfig()
    assert (venue.network.lost_after_s, venue.network.hung_after_s) == \
        (defaults.lost_after_s, defaults.hung_after_s)
    sec = venue.security
    allowed = load_allow_list(sec)
    assert sec.curve and allowed.controller_public
    assert [len(sec.projectors), len(sec.kiosks), len(sec.operators)] == [3, 1, 1]
    assert {role for _, role in allowed.roles} == {"projector", "kiosk", "operator"}
    assert [d for d, _ in allowed.displays] == [d.id for d in venue.displays]
