"""CURVE key files: read and write them, and check Z85 text (core: stdlib only).

CurveZMQ keys are 32-byte Curve25519 keys, written as 40 characters of Z85 (ZeroMQ's
base-85, RFC 32/Z85). ``exhibit keys new NAME --kind curve`` writes two files in the
ZeroMQ certificate format (ZPL, as czmq's ``zcert`` and pyzmq's
``zmq.auth.create_certificates`` write it), so keys made by those tools work here and
ours work there::

    NAME.curve.pub   public certificate: give it to the venue, which lists it in
                     venue.toml [security] (projectors, kiosks or operators)
                         #   Exhibit Engine CURVE public key "NAME" ...
                         metadata
                             name = "NAME"
                         curve
                             public-key = "<40 Z85 characters>"
    NAME.curve.key   secret certificate, mode 0600: the same plus
                             secret-key = "<40 Z85 characters>"

A public-key file may instead hold bare 40-character Z85 lines, one key each ('#'
comments and blank lines skipped), which is what ``curve_keygen`` prints. Nothing here
imports ZeroMQ: making a key pair and deriving a public key from a secret one need
libsodium and live in :mod:`exhibit_engine.sync.auth`. Names, bounded reading and the
atomic pair writer are the ones every key kind uses (:mod:`.files`).

Policy for secret files, as for Ed25519 signing keys (:mod:`exhibit_engine.assets.signing`):
they are written with mode 0600. One found readable by group or others is still
loaded, with a warning in the log that names it and says ``chmod 600``; refusing would
stop a show over a file mode, while the warning gets it fixed.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .files import check_key_name, key_id_of, key_pair_paths, read_key_file, write_pair_files

__all__ = [
    "CurveKeyFiles",
    "CurvePublicKey",
    "CurveSecretKey",
    "KEY_SUFFIX",
    "PUB_SUFFIX",
    "is_z85_key",
    "load_curve_public_keys",
    "load_curve_secret_key",
    "write_curve_key_files",
    "z85_decode",
    "z85_encode",
]

log = logging.getLogger(__name__)

#: File name endings of the two files ``exhibit keys new --kind curve`` writes.
PUB_SUFFIX = ".curve.pub"
KEY_SUFFIX = ".curve.key"

_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_Z85_INDEX = {c: i for i, c in enumerate(_Z85)}
_LINE = re.compile(r"\s*(public-key|secret-key)\s*=\s*(.*?)\s*$")


def z85_encode(raw: bytes) -> str:
    """Encode bytes (a multiple of 4 long) as Z85 text.

    Raises:
        ValueError: the length is not a multiple of 4.
    """
    if len(raw) % 4:
        raise ValueError("Z85 encodes a multiple of 4 bytes")
    out = []
    for i in range(0, len(raw), 4):
        value = int.from_bytes(raw[i:i + 4], "big")
        chunk = []
        for _ in range(5):
            value, digit = divmod(value, 85)
            chunk.append(_Z85[digit])
        out.extend(reversed(chunk))
    return "".join(out)


def z85_decode(text: str) -> bytes:
    """Decode Z85 text (a multiple of 5 characters long).

    Raises:
        ValueError: a wrong length, a character outside the Z85 alphabet, or a group
            of five characters above 2**32 - 1.
    """
    if len(text) % 5:
        raise ValueError("Z85 text is a multiple of 5 characters long")
    out = bytearray()
    for i in range(0, len(text), 5):
        value = 0
        for c in text[i:i + 5]:
            digit = _Z85_INDEX.get(c)
            if digit is None:
                raise ValueError(f"{c!r} is not a Z85 character")
            value = value * 85 + digit
        if value > 0xFFFFFFFF:
            raise ValueError("a Z85 group is out of range")
        out += value.to_bytes(4, "big")
    return bytes(out)


def is_z85_key(text: str) -> bool:
    """Whether ``text`` is a CURVE key in Z85: 40 characters that decode to 32 bytes."""
    if len(text) != 40:
        return False
    try:
        z85_decode(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CurvePublicKey:
    """A CURVE public key read from a file.

    Attributes:
        z85: the key as 40 Z85 characters (what ZeroMQ's socket options take).
        source: the file it came from (for messages).
    """

    z85: str
    source: str = ""

    def __post_init__(self) -> None:
        if not is_z85_key(self.z85):
            raise ValueError("a CURVE key is 40 Z85 characters")

    @property
    def key_id(self) -> str:
        """First 16 hex digits of the SHA-256 of the raw key, to name a key in logs."""
        return key_id_of(z85_decode(self.z85))


@dataclass(frozen=True)
class CurveSecretKey:
    """A CURVE secret key (and the public key stored beside it, if any).

    Attributes:
        secret: the secret key, 40 Z85 characters.
        public: the public key from the same file, or ``""`` if the file held none
            (:func:`exhibit_engine.sync.auth.public_key_of` derives it).
        source: the file it came from.
    """

    secret: str
    public: str = ""
    source: str = ""

    def __repr__(self) -> str:  # never print a secret into a log or a traceback
        return f"CurveSecretKey(public={self.public!r}, source={self.source!r})"


@dataclass(frozen=True)
class CurveKeyFiles:
    """Where :func:`write_curve_key_files` wrote a key pair.

    Attributes:
        secret_path: the secret certificate (mode 0600); stays on the peer's machine.
        public_path: the public certificate; goes into the venue's allow-list.
        key_id: the public key's id, as logs show it.
    """

    secret_path: Path
    public_path: Path
    key_id: str


def _read(path: Path) -> str:
    data = read_key_file(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(path), "not a text file; expected a CURVE key file "
                          "(`exhibit keys new NAME --kind curve`)") from None


def _entries(path: Path, text: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The ``public-key`` and ``secret-key`` values of a certificate, or bare Z85 lines
    (as public keys), each with its line number; values are checked as Z85 keys."""
    public: list[tuple[int, str]] = []
    secret: list[tuple[int, str]] = []
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        if is_z85_key(line):      # before comments: a Z85 key may start with '#'
            public.append((number, line))
            continue
        if not line or line.startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if m:
            kind, value = m.group(1), m.group(2).strip("'\"")
            if not is_z85_key(value):
                raise ConfigError(str(path), f"{kind} is not a CURVE key (40 Z85 characters)",
                                  key=f"line {number}")
            (public if kind == "public-key" else secret).append((number, value))
        elif "=" in line or line in ("metadata", "curve"):
            continue    # other certificate lines (metadata, section names) carry no key
        else:
            raise ConfigError(str(path), "expected a CURVE certificate line "
                              "(public-key = \"...\") or a 40-character Z85 key",
                              key=f"line {number}")
    return public, secret


def load_curve_public_keys(path: str | os.PathLike[str]) -> list[CurvePublicKey]:
    """Load the public keys of a public certificate (``NAME.curve.pub``) or a file of
    bare Z85 keys.

    Raises:
        ConfigError: the file is missing, unreadable, holds a secret key, holds no key,
            or a line is not a 40-character Z85 key.
    """
    p = Path(path)
    public, secret = _entries(p, _read(p))
    if secret:
        raise ConfigError(str(p), "this is a secret key file; list its "
                          f"{PUB_SUFFIX} file instead (and keep this one secret)")
    if not public:
        raise ConfigError(str(p), "holds no CURVE public key")
    return [CurvePublicKey(z85, str(p)) for _, z85 in public]


def load_curve_secret_key(path: str | os.PathLike[str]) -> CurveSecretKey:
    """Load a secret certificate (``NAME.curve.key``, or a czmq/pyzmq ``.key_secret``).

    A file readable by group or others is loaded with a logged warning (see the module
    docstring).

    Raises:
        ConfigError: the file is missing or unreadable, is a public key file, holds no
            or several secret keys, or a key is not 40 Z85 characters.
    """
    p = Path(path)
    text = _read(p)
    public, secret = _entries(p, text)
    if not secret:
        if public:
            raise ConfigError(str(p), "this is a public key file; give the secret "
                              f"{KEY_SUFFIX} file (from `exhibit keys new NAME --kind curve`)")
        raise ConfigError(str(p), "holds no CURVE secret key")
    if len(secret) > 1 or len(public) > 1:
        raise ConfigError(str(p), "holds more than one key pair")
    try:
        mode = p.stat().st_mode
    except OSError:
        mode = 0
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s: CURVE secret key file is readable by others (mode %o); "
                    "run chmod 600 on it", p, stat.S_IMODE(mode))
    return CurveSecretKey(secret[0][1], public[0][1] if public else "", str(p))


def _certificate(name: str, public: str, secret: str | None) -> bytes:
    if secret is None:
        banner = (f"#   Exhibit Engine CURVE public key \"{name}\"\n"
                  "#   Share it: the venue lists this file in venue.toml [security].\n")
    else:
        banner = (f"#   Exhibit Engine CURVE **secret** key \"{name}\"\n"
                  "#   DO NOT give this file to anyone nor change its permissions (0600).\n")
    lines = [banner, "metadata", f"    name = \"{name}\"", "curve",
             f"    public-key = \"{public}\""]
    if secret is not None:
        lines.append(f"    secret-key = \"{secret}\"")
    return ("\n".join(lines) + "\n").encode("utf-8")


def write_curve_key_files(name: str, directory: str | os.PathLike[str], public: str,
                          secret: str, *, force: bool = False) -> CurveKeyFiles:
    """Write ``NAME.curve.key`` (secret, mode 0600) and ``NAME.curve.pub`` (public).

    Both are written atomically; existing files are never replaced unless ``force``,
    and a pair is never left half-written. The keys come from
    :func:`exhibit_engine.sync.auth.new_key_pair`.

    Args:
        name: the key's name: 1-64 letters, digits, '.', '_' or '-'.
        directory: where to write the files (made if missing).
        public: the public key, 40 Z85 characters.
        secret: the matching secret key, 40 Z85 characters.
        force: replace existing files of the same name.

    Raises:
        ConfigError: a bad name, an existing file (without ``force``), or a write failed.
        ValueError: a key is not 40 Z85 characters.
    """
    check_key_name(name)
    if not (is_z85_key(public) and is_z85_key(secret)):
        raise ValueError("CURVE keys are 40 Z85 characters")
    secret_path, public_path = key_pair_paths(directory, name, KEY_SUFFIX, PUB_SUFFIX,
                                              force=force)
    write_pair_files(secret_path, _certificate(name, public, secret), public_path,
                     _certificate(name, public, None), force=force)
    return CurveKeyFiles(secret_path, public_path, CurvePublicKey(public).key_id)
