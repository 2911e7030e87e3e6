"""``[console]`` of ``venue.toml`` -> :class:`ConsoleConfig`: the operator's HTTP API and OSC.

Parsing only, like :mod:`.security`: a token is listed by the SHA-256 of its secret (the
secret itself stays in ``NAME.token``, made by ``exhibit keys new NAME --kind token``), so
``venue.toml`` can be shared without giving the console away::

    [console]
    http = "127.0.0.1:8080"          # HOST:PORT; no key: no HTTP API (unless --http)
    osc = "127.0.0.1:53000"          # HOST:PORT (UDP); no key: no OSC
    osc_allow = ["127.0.0.1"]        # addresses or networks OSC is taken from
    osc_replies = true               # answer each OSC command to its sender
    languages = ["en", "zh"]         # the status page's languages, the first the default

    [[console.tokens]]
    name = "desk"
    role = "operator"                # or "kiosk": select and language only
    sha256 = "9f86d0..."             # hex SHA-256 of the token (64 digits)

Whether a console may bind a non-loopback address without tokens is decided where it
starts (:mod:`exhibit_engine.console.server`), since ``--http`` may override ``http``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ._toml import Fields, nearest

__all__ = ["CONSOLE_LANGUAGES", "CONSOLE_ROLES", "ConsoleConfig", "ConsoleToken",
           "parse_console", "parse_host_port"]

#: The roles a console token may have: an operator may do everything, a kiosk only
#: ``select`` and ``language`` (and read the show).
CONSOLE_ROLES = ("operator", "kiosk")
#: The languages the status page is written in.
CONSOLE_LANGUAGES = ("en", "zh")

_TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ConsoleToken:
    """One ``[[console.tokens]]`` entry.

    Attributes:
        name: the token's name (its file is ``NAME.token``); shown in logs instead of it.
        role: ``"operator"`` or ``"kiosk"``.
        sha256: the lower-case hex SHA-256 of the token's text.
    """

    name: str
    role: str
    sha256: str


@dataclass(frozen=True)
class ConsoleConfig:
    """The operator's console: ``[console]`` in ``venue.toml``.

    Attributes:
        http: ``(host, port)`` of the HTTP API, or ``None``: off unless ``--http`` gives one.
        tokens: the accepted tokens; none: every request is an operator's (allowed on a
            loopback address only).
        osc: ``(host, port)`` of the OSC listener (UDP), or ``None``: no OSC.
        osc_allow: the source addresses (or networks) OSC messages are taken from.
        osc_replies: send each OSC command's outcome back to its sender.
        languages: the status page's languages, the first one its default.
    """

    http: tuple[str, int] | None = None
    tokens: tuple[ConsoleToken, ...] = ()
    osc: tuple[str, int] | None = None
    osc_allow: tuple[str, ...] = ("127.0.0.1",)
    osc_replies: bool = True
    languages: tuple[str, ...] = CONSOLE_LANGUAGES


def parse_host_port(text: Any, path: str, key: str, *, allow_zero: bool = False,
                    ) -> tuple[str, int]:
    """``"HOST:PORT"`` (``"[::1]:8080"`` for IPv6) -> ``(host, port)``.

    Args:
        text: the value as given.
        path: the file (or ``"<flags>"``) for the error.
        key: the dotted key (or the flag) for the error.
        allow_zero: port 0 (a free port, for tests) is allowed.

    Raises:
        ConfigError: not a string of that form, or the port is out of range.
    """
    rule = "must be HOST:PORT, e.g. \"127.0.0.1:8080\""
    if not isinstance(text, str):
        raise ConfigError(path, rule, key=key)
    host, sep, port = text.strip().rpartition(":")
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or any(c.isspace() for c in host):
        raise ConfigError(path, rule, key=key)
    number = int(port)
    if not (0 if allow_zero else 1) <= number <= 65535:
        raise ConfigError(path, f"port must be {0 if allow_zero else 1}-65535", key=key)
    return host, number


def _token(name: str, raw: Any, where: str) -> ConsoleToken:
    t = Fields(name, raw, where).only("name", "role", "sha256")
    token_name = t.str("name")
    if not _TOKEN_NAME.fullmatch(token_name):
        raise ConfigError(name, "must be 1-64 letters, digits, '.', '_' or '-', starting "
                          "with a letter or digit", key=t.key("name"))
    role = t.str("role", "operator")
    if role not in CONSOLE_ROLES:
        near = nearest(role, CONSOLE_ROLES)
        hint = f", did you mean `{near}`?" if near else ""
        raise ConfigError(name, f"unknown role {role!r} (known: "
                          f"{', '.join(CONSOLE_ROLES)}){hint}", key=t.key("role"))
    digest = t.str("sha256")
    if not _SHA256.fullmatch(digest):
        raise ConfigError(name, "must be the token's SHA-256, 64 lower-case hex digits (as "
                          "`exhibit keys new NAME --kind token` prints it), never the "
                          "token itself", key=t.key("sha256"))
    return ConsoleToken(token_name, role, digest)


def _strings(name: str, c: Fields, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = c.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(name, "must be a list of strings", key=c.key(key))
    return tuple(value)


def parse_console(name: str, table: Any) -> ConsoleConfig:
    """Parse a ``[console]`` table.

    Args:
        name: the venue file, as messages name it.
        table: the ``[console]`` table (``{}`` when the file has none).

    Raises:
        ConfigError: an unknown key (with the nearest known one), a bad address, a token
            entry that breaks its rules or repeats a name or hash, an unknown language.
    """
    c = Fields(name, table, "console").only(
        "http", "tokens", "osc", "osc_allow", "osc_replies", "languages")
    http = parse_host_port(c.get("http", ""), name, c.key("http")) if "http" in c.table \
        else None
    osc = parse_host_port(c.get("osc", ""), name, c.key("osc")) if "osc" in c.table else None
    tokens: list[ConsoleToken] = []
    raw_tokens = c.get("tokens", [])
    if not isinstance(raw_tokens, list):
        raise ConfigError(name, "must be an array of tables ([[console.tokens]])",
                          key=c.key("tokens"))
    for i, raw in enumerate(raw_tokens):
        where = f"{c.key('tokens')}[{i}]"
        token = _token(name, raw, where)
        for other in tokens:
            if other.name == token.name or other.sha256 == token.sha256:
                what = "name" if other.name == token.name else "sha256"
                raise ConfigError(name, f"repeats the {what} of token {other.name!r}",
                                  key=f"{where}.{what}")
        tokens.append(token)
    allow = _strings(name, c, "osc_allow", ("127.0.0.1",))
    for i, entry in enumerate(allow):
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(name, f"{entry[:64]!r} is not an IP address or network "
                              "(e.g. \"127.0.0.1\", \"10.0.0.0/24\")",
                              key=f"{c.key('osc_allow')}[{i}]") from None
    languages = _strings(name, c, "languages", CONSOLE_LANGUAGES)
    if not languages:
        raise ConfigError(name, "must name at least one language", key=c.key("languages"))
    for i, lang in enumerate(languages):
        if lang not in CONSOLE_LANGUAGES:
            near = nearest(lang, CONSOLE_LANGUAGES)
            hint = f", did you mean `{near}`?" if near else ""
            raise ConfigError(name, f"the status page has no language {lang[:16]!r} (it has: "
                              f"{', '.join(CONSOLE_LANGUAGES)}){hint}",
                              key=f"{c.key('languages')}[{i}]")
    return ConsoleConfig(http=http, tokens=tuple(tokens), osc=osc, osc_allow=allow,
                         osc_replies=c.bool("osc_replies", True),
                         languages=tuple(dict.fromkeys(languages)))
