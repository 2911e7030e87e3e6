"""The venue's CURVE allow-list: the keys in the files that ``[security]`` names.

:mod:`exhibit_engine.config.security` parses ``[security]`` into file paths;
:func:`load_allow_list` reads those files and checks what only the keys can tell:

- every listed file exists and holds valid CURVE public keys;
- ``controller_public_key`` holds exactly one key, and no peer list holds it (a peer
  needs a key of its own);
- a key is listed in one of projectors, kiosks and operators only (its list is its
  role, which is how the controller tells a kiosk from an operator);
- each ``[security.displays]`` entry names a file that holds one key, listed under
  projectors.

Every mistake is a :class:`~exhibit_engine.errors.ConfigError` that names the venue file
and the ``[security]`` key (``venue.toml: security.kiosks: .../a.curve.pub: key file not
found``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import SECURITY_ROLES, SecurityConfig
from ..errors import ConfigError
from .curve import CurvePublicKey, load_curve_public_keys

__all__ = ["AllowList", "load_allow_list"]


@dataclass(frozen=True)
class AllowList:
    """The keys a venue admits, as read from its ``[security]`` key files.

    Attributes:
        controller_public: the controller's public key, 40 Z85 characters (``""``
            without ``controller_public_key``).
        roles: every allow-listed key as ``(Z85 public key, role)``.
        displays: ``[security.displays]`` as ``(display id, Z85 public key)`` pairs.
    """

    controller_public: str = ""
    roles: tuple[tuple[str, str], ...] = ()
    displays: tuple[tuple[str, str], ...] = ()

    def role_of(self, public_z85: str) -> str | None:
        """The role an allow-listed public key (Z85) grants, or ``None``."""
        for key, role in self.roles:
            if key == public_z85:
                return role
        return None

    def bound_ids(self) -> tuple[tuple[str, str], ...]:
        """``[security.displays]`` as ``(display id, key id)`` pairs: the key id (see
        :attr:`.CurvePublicKey.key_id`) is what the controller sees in a User-Id."""
        return tuple((display, CurvePublicKey(z85).key_id) for display, z85 in self.displays)


def load_allow_list(security: SecurityConfig) -> AllowList:
    """Read the key files of a venue's ``[security]`` and check them (see the module
    docstring).

    Raises:
        ConfigError: a file is missing or unreadable or holds no valid public key, the
            controller's file holds more than one key, the controller's key is listed
            as a peer, a key is listed in two roles, or a display is not bound to one
            key listed under projectors; naming the venue file and the key.
    """
    name = security.path or "venue"

    def keys_in(file: str, key: str) -> list[CurvePublicKey]:
        try:
            return load_curve_public_keys(file)
        except ConfigError as exc:     # name the venue and the list as well as the file
            raise ConfigError(name, str(exc), key=f"security.{key}") from None

    controller_public = ""
    if security.controller_public_key:
        found = keys_in(security.controller_public_key, "controller_public_key")
        if len(found) != 1:
            raise ConfigError(name, f"{security.controller_public_key} must hold exactly "
                              "one key", key="security.controller_public_key")
        controller_public = found[0].z85
    roles: dict[str, tuple[str, str]] = {}      # key -> (role, file)
    for list_key, role in SECURITY_ROLES.items():
        files: tuple[str, ...] = getattr(security, list_key)
        for file in files:
            for key in keys_in(file, list_key):
                if key.z85 == controller_public:
                    raise ConfigError(name, f"{file} holds the controller's own key; a "
                                      "peer needs a key of its own", key=f"security.{list_key}")
                if key.z85 in roles and roles[key.z85][0] != role:
                    other, other_file = roles[key.z85]
                    raise ConfigError(name, f"key {key.key_id} ({file}) is listed as "
                                      f"{_a(role)} and, in {other_file}, as {_a(other)}; a "
                                      "key has one role", key=f"security.{list_key}")
                roles[key.z85] = (role, file)
    displays: list[tuple[str, str]] = []
    for display_id, file in security.displays:
        where = f"displays.{display_id}"
        found = keys_in(file, where)
        if len(found) != 1 or roles.get(found[0].z85, ("",))[0] != "projector":
            raise ConfigError(name, f"{file} must hold one key, listed under projectors "
                              "(a display is bound to one projector's key)",
                              key=f"security.{where}")
        displays.append((display_id, found[0].z85))
    return AllowList(controller_public=controller_public,
                     roles=tuple((key, role) for key, (role, _) in roles.items()),
                     displays=tuple(displays))


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"
