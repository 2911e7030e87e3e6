"""``[network.backup]``: a controller pair's addresses, timings and settings per role."""

from __future__ import annotations

from pathlib import Path

import pytest

from exhibit_engine.config import load_show, load_venue, resolve_controller, resolve_node
from exhibit_engine.config.roles import resolve_backup
from exhibit_engine.errors import ConfigError

from .test_config import ROOT, VENUE, _venue

PAIR = VENUE + """
[network]
host = "10.0.0.5"
[network.backup]
host = "10.0.0.6"
"""


def test_a_backup_defaults_to_the_primarys_ports_and_every_role_knows_it(tmp_path: Path
                                                                         ) -> None:
    venue = load_venue(_venue(tmp_path, PAIR))
    net = venue.network
    assert net.backup is not None and (net.backup.host, net.backup.state_port,
                                       net.backup.peer_port) == ("10.0.0.6", 5570, 5573)
    assert [str(c) for c in net.controllers] == ["10.0.0.5:5570", "10.0.0.6:5570"]
    show = load_show(ROOT / "content" / "show.toml")
    primary = resolve_controller(venue, show)
    backup = resolve_controller(venue, show, backup=True)
    assert primary.pair is not None and primary.pair.role == "primary"
    assert primary.pair.partner.host == "10.0.0.6" and primary.host == "10.0.0.5"
    assert backup.pair is not None and backup.pair.role == "backup"
    assert backup.host == "10.0.0.6" and backup.pair.partner.host == "10.0.0.5"
    assert primary.state_file != backup.state_file and backup.state_file.endswith(
        "-backup.json")
    node = resolve_node(venue, "a")
    assert node.backup == net.backup and node.failover_after_s == 1.0
    assert resolve_backup(venue) == ("10.0.0.6", 5570)
    assert resolve_backup(venue, host="10.0.0.9") is None     # told where to go: only there


@pytest.mark.parametrize(("extra", "key", "why"), [
    ('[network.backup]\nstate_port = 5570\n', "network.backup", "ports must differ"),
    ('[network.backup]\nhost = "h"\npeer_port = 5570\n', "network.backup", "peer_port"),
    ('[network]\nfailover_after_s = 0.4\n[network.backup]\nhost = "h"\n',
     "network.peer_lost_after_s", "must be shorter"),
    ('[network]\nfailover_after_s = 0.1\n', "network.failover_after_s", "at least 0.3"),
    ('[network.backup]\nhots = "h"\n', "network.backup.hots", "host"),
])
def test_pair_mistakes_name_the_key(tmp_path: Path, extra: str, key: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as err:
        load_venue(_venue(tmp_path, VENUE + extra))
    assert key in str(err.value)


def test_backup_needs_a_backup_table(tmp_path: Path) -> None:
    venue = load_venue(_venue(tmp_path, VENUE))
    show = load_show(ROOT / "content" / "show.toml")
    assert resolve_controller(venue, show).pair is None and resolve_backup(venue) is None
    with pytest.raises(ConfigError, match="network.backup"):
        resolve_controller(venue, show, backup=True)
