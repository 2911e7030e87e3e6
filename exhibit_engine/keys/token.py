"""Console tokens: the bearer secrets of the operator's HTTP API.

A token is 32 random bytes written URL-safe base64 (43 characters). ``exhibit keys new
NAME --kind token`` writes it to ``NAME.token`` (mode 0600, atomically, never replacing a
file unless asked) and prints the ``[[console.tokens]]`` entry for ``venue.toml``, which
holds only the token's SHA-256: the venue file never holds a secret. The console compares
the hash of what a request presents with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..config.console import ConsoleToken
from ..errors import ConfigError
from .files import check_key_name, write_secret_file

__all__ = ["TOKEN_SUFFIX", "TokenFile", "match_token", "new_token", "token_sha256",
           "write_token_file"]

#: The suffix of a token file.
TOKEN_SUFFIX = ".token"


@dataclass(frozen=True)
class TokenFile:
    """A token just written.

    Attributes:
        path: the ``NAME.token`` file (mode 0600).
        entry: its ``[[console.tokens]]`` entry (name, role, sha256).
    """

    path: Path
    entry: ConsoleToken

    def toml(self) -> str:
        """The lines to paste into ``venue.toml``."""
        e = self.entry
        return (f'[[console.tokens]]\nname = "{e.name}"\nrole = "{e.role}"\n'
                f'sha256 = "{e.sha256}"\n')


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe base64 without padding."""
    return secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    """The lower-case hex SHA-256 of a token's text (what ``venue.toml`` lists)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def match_token(token: str, tokens: Iterable[ConsoleToken]) -> ConsoleToken | None:
    """The entry of ``tokens`` whose hash is ``token``'s, or ``None``.

    Every entry is compared (in constant time each), so the time taken does not say
    which entry came close.
    """
    digest = token_sha256(token)
    found = None
    for entry in tokens:
        if hmac.compare_digest(digest, entry.sha256) and found is None:
            found = entry
    return found


def write_token_file(name: str, directory: str | os.PathLike[str], role: str, *,
                     force: bool = False) -> TokenFile:
    """Make a new token called ``name`` and write it to ``directory/NAME.token``.

    Raises:
        ConfigError: a bad name or role, the file exists (without ``force``), or the
            write failed.
    """
    check_key_name(name)
    if role not in ("operator", "kiosk"):
        raise ConfigError("<flags>", "must be operator or kiosk", key="--role")
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(str(folder), f"cannot make the key folder ({exc.strerror})") from None
    path = folder / f"{name}{TOKEN_SUFFIX}"
    token = new_token()
    write_secret_file(path, (token + "\n").encode("ascii"), force=force)
    return TokenFile(path, ConsoleToken(name, role, token_sha256(token)))
