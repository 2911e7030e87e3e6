"""Security without sockets: key checks before any socket opens, the rights table, node
ids bound to keys, and how a refused node backs off.

The socket half (CURVE handshakes, ZAP over real connections) is ``test_security.py``;
this file is not marked ``sync``, so ``pytest -m "not sync"`` runs it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from exhibit_engine.config import SecurityConfig
from exhibit_engine.errors import ConfigError
from exhibit_engine.keys import CurvePublicKey
from exhibit_engine.sync.auth import client_curve, server_curve
from exhibit_engine.sync.commands import ROLE_COMMANDS
from exhibit_engine.sync.controller import ControllerServer
from exhibit_engine.sync.controller_core import ControllerCore
from exhibit_engine.sync.node_core import NodeCore
from exhibit_engine.sync.protocol import Command, Hello, NodeStatus, Reply, Welcome

from ..conftest import controller_settings
from .conftest import CurveVenue


# --------------------------------------------------------------------------- keys and setup


def test_controller_needs_its_matching_secret_key(curve_venue: CurveVenue) -> None:
    settings = controller_settings(security=curve_venue.security,
                                   key_file=curve_venue.controller_key)
    with pytest.raises(ConfigError, match="--key"):
        ControllerServer(replace(settings, key_file=None)).bind()
    with pytest.raises(ConfigError, match="is not the key of .security. controller_public_key"):
        ControllerServer(replace(settings, key_file=curve_venue.key("kiosk"))).bind()
    assert server_curve(SecurityConfig(), None) is None     # development mode


def test_client_keys_are_checked_against_the_allow_list(curve_venue: CurveVenue) -> None:
    security = curve_venue.security
    with pytest.raises(ConfigError, match="not allowed by the venue"):
        client_curve(security, curve_venue.key("stranger"))
    with pytest.raises(ConfigError, match="is a kiosk key; a projector needs"):
        client_curve(security, curve_venue.key("kiosk"), role="projector")
    with pytest.raises(ConfigError, match="requires CURVE"):
        client_curve(security, None)
    curve = client_curve(security, curve_venue.key("proj"), role="projector")
    assert curve is not None and curve.server_public == curve_venue.controller_public
    assert curve.secret not in repr(curve)
    assert client_curve(SecurityConfig(), None) is None


def test_a_bad_key_file_in_the_venue_stops_every_role_even_in_development_mode(
        curve_venue: CurveVenue) -> None:
    """The allow-list is read when a role starts with the venue, as venue.toml's own
    check did before, naming the venue file and the list."""
    broken = replace(curve_venue.security, curve=False,
                     kiosks=(*curve_venue.security.kiosks, str(curve_venue.dir / "gone.pub")))
    for start in (lambda: server_curve(broken, None), lambda: client_curve(broken, None)):
        with pytest.raises(ConfigError, match=r"venue\.toml: security\.kiosks: .*gone\.pub: "
                                              "key file not found"):
            start()


def test_server_curve_carries_the_allow_list_and_the_display_bindings(
        curve_venue: CurveVenue) -> None:
    """What the controller's ZAP handler and core are given: every listed key with its
    role, and [security.displays] as node id -> key id."""
    proj = curve_venue.client("proj").public
    security = replace(curve_venue.security, displays=(("left", curve_venue.pub("proj")),))
    curve = server_curve(security, curve_venue.controller_key)
    assert curve is not None and curve.public == curve_venue.controller_public
    assert dict(curve.roles)[proj] == "projector" and len(curve.roles) == 4
    assert curve.bound_ids == (("left", CurvePublicKey(proj).key_id),)
    assert curve.secret not in repr(curve)


# --------------------------------------------------------------------------- rights as data


def test_rights_are_a_table_of_data() -> None:
    core = ControllerCore(0.0, "s")
    hello_kiosk = core.handle(b"k", Hello("k", "kiosk"), 0.0)
    assert isinstance(hello_kiosk.replies[0], Welcome)
    seek = Command("seek", {"position": 1.0}, req=3)
    reply = core.handle(b"k", seek, 0.1).replies[0]
    assert isinstance(reply, Reply) and not reply.ok and reply.req == 3
    assert reply.error.startswith("kiosk may not send 'seek' (kiosk commands: ")
    assert "select" in reply.error and "status" in reply.error
    # Granting is editing data, not code.
    core.role_commands = {**ROLE_COMMANDS, "kiosk": ROLE_COMMANDS["kiosk"] | {"seek"}}
    granted = core.handle(b"k", seek, 0.2).replies[0]
    assert isinstance(granted, Reply) and granted.ok
    # The authenticated role wins over any hello: a key's role is the role.
    as_projector = core.handle(b"k", seek, 0.3, role="projector").replies[0]
    assert isinstance(as_projector, Reply) and not as_projector.ok
    assert ROLE_COMMANDS["operator"] == frozenset({"*"})
    assert ROLE_COMMANDS["projector"] == frozenset({"status"})


def test_a_key_cannot_take_over_another_roles_node_id() -> None:
    core = ControllerCore(0.0, "s")
    assert isinstance(core.handle(b"p", Hello("proj-a", "projector"), 0.0,
                                  role="projector").replies[0], Welcome)
    reply = core.handle(b"k", Hello("proj-a", "kiosk"), 0.05, role="kiosk").replies[0]
    assert isinstance(reply, Reply) and not reply.ok
    assert "node id 'proj-a' refused for a kiosk key: a projector holds it" in reply.error
    assert core.nodes["proj-a"].role == "projector" and core.refused == 1
    # Development mode has no keys to go by: a claim is taken as it comes.
    assert isinstance(core.handle(b"k", Hello("proj-a", "kiosk"), 0.1).replies[0], Welcome)


# --------------------------------------------------------------------------- node ids and keys


def test_a_node_id_is_bound_to_the_key_that_holds_it() -> None:
    core = ControllerCore(0.0, "s", lost_after_s=0.35)
    left = core.handle(b"p", Hello("left", "projector"), 0.0, role="projector", key="aaaa")
    assert isinstance(left.replies[0], Welcome)
    # Another projector key, same role: neither its hello nor its status may use 'left'.
    hello = core.handle(b"q", Hello("left", "projector"), 0.05, role="projector", key="bbbb")
    assert isinstance(hello.replies[0], Reply) and not hello.replies[0].ok
    assert ("node id 'left' refused for projector key bbbb: it belongs to key aaaa until "
            "that node is lost") in hello.replies[0].error
    forged = core.handle(b"q", NodeStatus("left", 999, 1.0, 0.0, 0.0), 0.1,
                         role="projector", key="bbbb")
    assert isinstance(forged.replies[0], Reply) and not forged.replies[0].ok
    assert core.nodes["left"].frames == 0 and core.nodes["left"].key == "aaaa"
    assert core.refused == 2 and "belongs to key aaaa" in core.last_refused
    # The holder's own key reports, and may rejoin from a new connection (a restart).
    assert core.handle(b"p", NodeStatus("left", 5, 0.1, 0.0, 0.0), 0.15, role="projector",
                       key="aaaa").replies == ()
    assert core.nodes["left"].frames == 5
    assert isinstance(core.handle(b"p2", Hello("left", "projector"), 0.2, role="projector",
                                  key="aaaa").replies[0], Welcome)
    # Once the holder is lost, the id passes to the next key that claims it.
    later = 0.2 + core.lost_after_s + 0.01
    assert core.node_state(core.nodes["left"], later) == "lost"
    assert isinstance(core.handle(b"q", Hello("left", "projector"), later, role="projector",
                                  key="bbbb").replies[0], Welcome)
    assert core.nodes["left"].key == "bbbb" and core.refused == 2


def test_security_displays_bind_node_ids_to_keys() -> None:
    core = ControllerCore(0.0, "s")
    core.bound_ids = {"left": "aaaa"}
    # The bound key may be 'left' (and only 'left'); no other key may, even with 'left' free.
    free = core.handle(b"q", Hello("left", "projector"), 0.0, role="projector", key="bbbb")
    assert isinstance(free.replies[0], Reply) and not free.replies[0].ok
    assert ("node id 'left' refused for projector key bbbb: venue.toml [security.displays] "
            "binds it to key aaaa") in free.replies[0].error
    elsewhere = core.handle(b"p", Hello("right", "projector"), 0.0, role="projector",
                            key="aaaa")
    assert isinstance(elsewhere.replies[0], Reply) and not elsewhere.replies[0].ok
    assert "binds that key to left" in elsewhere.replies[0].error
    assert isinstance(core.handle(b"p", Hello("left", "projector"), 0.0, role="projector",
                                  key="aaaa").replies[0], Welcome)
    assert isinstance(core.handle(b"q", Hello("right", "projector"), 0.0, role="projector",
                                  key="bbbb").replies[0], Welcome)
    assert core.refused == 2
    # Development mode (no keys) is not bound.
    assert isinstance(core.handle(b"r", Hello("left-2", "projector"), 0.0).replies[0], Welcome)


def test_a_node_whose_hello_is_refused_keeps_the_reason_and_backs_off() -> None:
    core = ControllerCore(0.0, "s", lost_after_s=0.35)
    core.handle(b"p", Hello("left", "projector"), 0.0, role="projector", key="aaaa")
    node = NodeCore("left")
    hello = [m for m in node.tick(0.05) if isinstance(m, Hello)]
    assert hello, "a fresh node says hello"
    answer = core.handle(b"q", hello[0], 0.05, role="projector", key="bbbb").replies[0]
    assert node.handle(answer, 0.06) == []
    assert "belongs to key aaaa" in node.refusal and not node.joined
    # No hello storm while refused: the next one waits a few seconds.
    assert not [m for t in (0.1, 1.0, 4.0) for m in node.tick(t) if isinstance(m, Hello)]
    later = [m for m in node.tick(5.1) if isinstance(m, Hello)]
    assert later
    # Once the holder is lost the id passes on; the welcome clears the refusal.
    welcome = core.handle(b"q", later[0], 5.1, role="projector", key="bbbb").replies[0]
    assert isinstance(welcome, Welcome)
    node.handle(welcome, 5.11)
    assert node.joined and node.refusal == ""

