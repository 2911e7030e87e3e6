"""``[security]`` of ``venue.toml`` -> :class:`SecurityConfig`: who may talk to the controller.

Parsing only: this module names key files, it never opens one. What needs the keys
themselves (a listed file that exists and parses, exactly one controller key, a key in
one list only, the controller's own key not listed as a peer, a display bound to one
listed projector key) is checked where the keys are loaded,
:func:`exhibit_engine.keys.load_allow_list`, with messages that name the venue file and
the ``[security]`` key just as these do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ._toml import Fields, nearest

__all__ = ["SECURITY_ROLES", "SecurityConfig", "parse_security"]

#: ``[security]`` allow-list keys and the role each grants (the ZAP User-Id is "ROLE:KEY_ID").
SECURITY_ROLES = {"projectors": "projector", "kiosks": "kiosk", "operators": "operator"}


@dataclass(frozen=True)
class SecurityConfig:
    """Who may talk to the controller: ``[security]`` in ``venue.toml``.

    With ``curve`` off (the default, development mode) nothing is encrypted and a peer's
    role is the one its hello claims. With ``curve`` on, every socket is CURVE-encrypted
    and the controller's ZAP handler admits only the listed public keys; a key's list
    is its role (see ``docs/protocol.md``, Security). The keys in the files are read by
    :func:`exhibit_engine.keys.load_allow_list`.

    Attributes:
        curve: encrypt and authenticate with CURVE.
        controller_key: the controller's secret key file (``NAME.curve.key``), absolute;
            only the controller's machine needs it.
        controller_public_key: the controller's public key file, absolute; every peer
            needs it (required with ``curve``).
        projectors, kiosks, operators: the allow-listed public key files, absolute.
        displays: ``[security.displays]``, optional: ``(display id, public key file)``
            pairs, the file absolute; the controller lets only that file's projector key
            use the display's id as its node id, and a key bound so uses no other id.
        path: the ``venue.toml`` it was read from, for messages (``""``: made in code).
            Not part of the policy, so two equal tables compare equal wherever they
            were read.
    """

    curve: bool = False
    controller_key: str = ""
    controller_public_key: str = ""
    projectors: tuple[str, ...] = ()
    kiosks: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    displays: tuple[tuple[str, str], ...] = ()
    path: str = field(default="", compare=False)


def parse_security(name: str, table: Any, display_ids: tuple[str, ...] = ()) -> SecurityConfig:
    """Parse a ``[security]`` table; relative paths are resolved against the venue file.

    Args:
        name: the venue file, as messages name it.
        table: the ``[security]`` table (``{}`` when the file has none).
        display_ids: the venue's display ids, which ``[security.displays]`` may bind.

    Raises:
        ConfigError: an unknown key, a value of the wrong type, ``curve = true``
            without the controller's public key file or without any allowed key file,
            or ``[security.displays]`` naming an unknown display.
    """
    sec = Fields(name, table, "security").only(
        "curve", "controller_key", "controller_public_key", "displays", *SECURITY_ROLES)
    curve = sec.bool("curve", False)
    here = Path(name).parent

    def path_of(key: str) -> str:
        value = sec.get(key, "")
        if not isinstance(value, str):
            raise ConfigError(name, "must be a key file path", key=sec.key(key))
        return str((here / value).resolve()) if value else ""

    controller_key = path_of("controller_key")
    controller_public_key = path_of("controller_public_key")
    if curve and not controller_public_key:
        raise ConfigError(name, "curve = true needs the controller's public key file "
                          "(every peer checks the controller with it)",
                          key=sec.key("controller_public_key"))
    lists: dict[str, tuple[str, ...]] = {}
    for list_key in SECURITY_ROLES:
        files = sec.get(list_key, [])
        if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
            raise ConfigError(name, "must be a list of public key file paths "
                              "(NAME.curve.pub)", key=sec.key(list_key))
        lists[list_key] = tuple(str((here / f).resolve()) for f in files)
    if curve and not any(lists.values()):
        raise ConfigError(name, "curve = true needs at least one allowed key in "
                          "projectors, kiosks or operators", key="security")
    bound = sec.get("displays", {})
    if not isinstance(bound, dict):
        raise ConfigError(name, "must be a table: display id = \"its projector's "
                          "NAME.curve.pub\"", key=sec.key("displays"))
    displays: list[tuple[str, str]] = []
    for display_id, file in bound.items():
        where = sec.key(f"displays.{display_id}")
        if display_id not in display_ids:
            near = nearest(display_id, display_ids)
            hint = f", did you mean `{near}`?" if near else ""
            raise ConfigError(name, f"no display {display_id!r} (known: "
                              f"{', '.join(display_ids)}){hint}", key=where)
        if not isinstance(file, str) or not file:
            raise ConfigError(name, "must be a projector's public key file path", key=where)
        displays.append((display_id, str((here / file).resolve())))
    return SecurityConfig(
        curve=curve, controller_key=controller_key,
        controller_public_key=controller_public_key,
        projectors=lists["projectors"], kiosks=lists["kiosks"], operators=lists["operators"],
        displays=tuple(displays), path=name,
    )
