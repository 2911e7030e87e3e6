"""Ed25519 keys and bundle signatures (``manifest.sig``).

A signature covers exactly the bytes of ``manifest.json``; the manifest in turn names
every file with its size and SHA-256, so one signature vouches for the whole bundle,
version included. Files this module reads and writes::

    NAME.ed25519.key   private key: PEM, PKCS#8, unencrypted, mode 0600
                       ("-----BEGIN PRIVATE KEY-----", as `openssl genpkey -algorithm
                       ed25519` writes it)
    NAME.ed25519.pub   public key, one line, easy to paste into a trust list:
                           exhibit-ed25519 <base64 of the raw 32-byte key> NAME
                       A public-key file may hold several such lines (blank lines and
                       '#' comments are skipped); a PEM "PUBLIC KEY" block is read too.
    manifest.sig       one line of canonical JSON (sorted keys, no spaces), at most 4 KiB:
                           {"alg":"ed25519","key_id":"<16 hex>","signature":"<base64>"}

The key id is the first 16 hex digits of the SHA-256 of the raw public key. It only
picks which trusted key to check against; trust comes from the signature verifying.
Key names, bounded reading and the atomic pair writer are those of every key kind
(:mod:`exhibit_engine.keys`); this module adds the Ed25519 formats and the crypto.

Importing this module is cheap (stdlib only); ``cryptography`` is loaded when a key is
made or loaded, or a signature is made or checked.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BundleError, ConfigError
from ..keys import (
    check_key_name,
    key_id_of,
    key_pair_paths,
    read_key_file,
    write_pair_files,
)
from ._json import strict_loads

if TYPE_CHECKING:  # pragma: no cover
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["ALG", "KeyPairFiles", "MAX_SIGNATURE_BYTES", "PUBLIC_KEY_TYPE", "PublicKey",
           "SIGNATURE_FILE", "Signature", "check_signature", "load_private_key",
           "load_public_keys", "parse_signature", "public_key_of", "sign_manifest",
           "verify_signature", "write_key_pair"]

#: The signature algorithm named in ``manifest.sig``.
ALG = "ed25519"
#: The first word of a one-line public key.
PUBLIC_KEY_TYPE = "exhibit-ed25519"
#: The archive entry that holds the signature.
SIGNATURE_FILE = "manifest.sig"
#: ``manifest.sig`` is refused above this size, before it is parsed.
MAX_SIGNATURE_BYTES = 4096
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_SIG_FIELDS = frozenset({"alg", "key_id", "signature"})


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key that may be trusted to sign bundles.

    Attributes:
        raw: the 32 raw key bytes.
        name: a label for people (the NAME it was made with); not checked.
    """

    raw: bytes
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise ValueError("an Ed25519 public key has 32 bytes")

    @property
    def key_id(self) -> str:
        """First 16 hex digits of the SHA-256 of the raw key."""
        return key_id_of(self.raw)

    def to_line(self) -> str:
        """The one-line text form, ``exhibit-ed25519 <base64> <name>`` (no newline)."""
        b64 = base64.b64encode(self.raw).decode("ascii")
        return f"{PUBLIC_KEY_TYPE} {b64} {self.name}".rstrip()

    def verifies(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signature:
    """The parsed content of ``manifest.sig`` (not yet checked against any key).

    Attributes:
        alg: always ``"ed25519"`` for now.
        key_id: the id of the key that claims to have signed.
        signature: the 64 signature bytes.
    """

    alg: str
    key_id: str
    signature: bytes

    def to_bytes(self) -> bytes:
        """The canonical ``manifest.sig`` bytes: one line of sorted, compact JSON."""
        doc = {"alg": self.alg, "key_id": self.key_id,
               "signature": base64.b64encode(self.signature).decode("ascii")}
        return (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()


@dataclass(frozen=True)
class KeyPairFiles:
    """Where :func:`write_key_pair` wrote a key pair.

    Attributes:
        private_path: the PEM private key (mode 0600); keep it secret.
        public_path: the one-line public key; give it to venues.
        key_id: the key id, as bundles signed with the key will show it.
    """

    private_path: Path
    public_path: Path
    key_id: str


# --------------------------------------------------------------------------- key files


def write_key_pair(name: str, directory: str | os.PathLike[str], *, force: bool = False
                   ) -> KeyPairFiles:
    """Make a new Ed25519 key pair and write ``NAME.ed25519.key`` and ``NAME.ed25519.pub``.

    Both files are written atomically; the private key gets mode 0600. Existing files
    are never replaced unless ``force`` is true, and a pair is never left half-written.

    Args:
        name: the key's name: 1-64 letters, digits, '.', '_' or '-'.
        directory: where to write the files (made if missing).
        force: replace existing files of the same name.

    Returns:
        The two paths and the key id.

    Raises:
        ConfigError: a bad name, an existing file (without ``force``), or a write failed.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    check_key_name(name)
    private_path, public_path = key_pair_paths(directory, name, f".{ALG}.key", f".{ALG}.pub",
                                               force=force)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = PublicKey(public_key_of(key).raw, name)
    write_pair_files(private_path, pem, public_path, (public.to_line() + "\n").encode(),
                     force=force)
    return KeyPairFiles(private_path, public_path, public.key_id)


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from a PEM (PKCS#8, unencrypted) file.

    Raises:
        ConfigError: the file is missing, unreadable, encrypted, or not an Ed25519 key.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = Path(path)
    data = read_key_file(p)
    if b"PRIVATE KEY-----" not in data:
        raise ConfigError(str(p), "not a PEM private key (the .key file written by "
                          "`exhibit keys new`, not the .pub file)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(str(p), "encrypted private keys are not supported") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(str(p), f"unreadable private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(str(p), "not an Ed25519 private key")
    return key


def public_key_of(private_key: Ed25519PrivateKey, name: str = "") -> PublicKey:
    """The public half of a private key."""
    from cryptography.hazmat.primitives import serialization

    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
    return PublicKey(raw, name)


def _pem_public_key(path: Path, block: bytes) -> PublicKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(block)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ConfigError(str(path), f"unreadable PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(str(path), "not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PublicKey(raw, path.stem)


def load_public_keys(path: str | os.PathLike[str]) -> list[PublicKey]:
    """Load the public keys of a ``.pub`` file (one-line keys, or one PEM block).

    Raises:
        ConfigError: the file is missing or unreadable, holds a private key, holds no
            key, or a line is not ``exhibit-ed25519 <base64> [name]``.
    """
    p = Path(path)
    data = read_key_file(p)
    if b"PRIVATE KEY-----" in data:
        raise ConfigError(str(p), "this is a private key; trust its .pub file instead")
    if data.lstrip().startswith(b"-----BEGIN"):
        return [_pem_public_key(p, data)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(str(p), "not a text file of public keys") from None
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split(maxsplit=2)
        if not words or words[0].startswith("#"):
            continue
        if words[0] != PUBLIC_KEY_TYPE or len(words) < 2:
            raise ConfigError(str(p), f"expected '{PUBLIC_KEY_TYPE} <base64 key> [name]'",
                              key=f"line {number}")
        try:
            raw = base64.b64decode(words[1], validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) != 32:
            raise ConfigError(str(p), "the key is not 32 bytes of base64",
                              key=f"line {number}")
        keys.append(PublicKey(raw, words[2].strip() if len(words) > 2 else ""))
    if not keys:
        raise ConfigError(str(p), "holds no public key")
    return keys


# --------------------------------------------------------------------------- signatures


def sign_manifest(manifest_bytes: bytes, private_key: Ed25519PrivateKey) -> bytes:
    """Sign manifest bytes; returns the content of ``manifest.sig``.

    Pass it to :func:`~exhibit_engine.assets.pack.pack` as
    ``sign=lambda m: sign_manifest(m, key)``.
    """
    sig = Signature(ALG, public_key_of(private_key).key_id, private_key.sign(manifest_bytes))
    return sig.to_bytes()


def parse_signature(data: bytes, *, bundle: str = "<bundle>") -> Signature:
    """Parse ``manifest.sig`` (no key is checked yet).

    Args:
        data: the bytes of ``manifest.sig``.
        bundle: the bundle named in errors.

    Raises:
        BundleError: ``manifest.sig: malformed signature file (...)``, or an
            algorithm other than Ed25519.
    """

    def bad(why: str) -> BundleError:
        return BundleError(bundle, f"malformed signature file ({why})", SIGNATURE_FILE)

    if len(data) > MAX_SIGNATURE_BYTES:
        raise bad(f"larger than {MAX_SIGNATURE_BYTES} bytes")
    try:
        doc = strict_loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise bad("not JSON") from None
    if not isinstance(doc, dict) or set(doc) != _SIG_FIELDS:
        raise bad("expected exactly the fields alg, key_id, signature")
    if doc["alg"] != ALG:
        raise BundleError(bundle, f"unsupported signature algorithm {doc['alg']!r} "
                          f"(expected {ALG!r})", SIGNATURE_FILE)
    key_id = doc["key_id"]
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise bad("key_id is not 16 lower-case hex digits")
    raw_sig = doc["signature"]
    try:
        sig = base64.b64decode(raw_sig, validate=True) if isinstance(raw_sig, str) else b""
    except binascii.Error:
        sig = b""
    if len(sig) != 64:
        raise bad("signature is not 64 bytes of base64")
    return Signature(ALG, key_id, sig)


def check_signature(manifest_bytes: bytes, signature: Signature,
                    trusted: Sequence[PublicKey], *, bundle: str = "<bundle>") -> str:
    """Check a parsed signature of ``manifest_bytes`` against the trusted keys.

    Returns:
        The key id of the trusted key that made the signature.

    Raises:
        BundleError: the signing key is not trusted, or the signature does not verify.
    """
    matching = [k for k in trusted if k.key_id == signature.key_id]
    if not matching:
        known = ", ".join(sorted({k.key_id for k in trusted})[:4]) or "none given"
        more = ", …" if len({k.key_id for k in trusted}) > 4 else ""
        raise BundleError(bundle, f"signed by untrusted key {signature.key_id} "
                          f"(trusted keys: {known}{more})", SIGNATURE_FILE)
    if any(k.verifies(manifest_bytes, signature.signature) for k in matching):
        return signature.key_id
    raise BundleError(bundle, f"signature does not verify with key {signature.key_id} "
                      "(manifest.json changed after signing, or a forged signature)",
                      SIGNATURE_FILE)


def verify_signature(manifest_bytes: bytes, sig_bytes: bytes, trusted: Sequence[PublicKey],
                     *, bundle: str = "<bundle>") -> str:
    """Parse ``manifest.sig`` and check it against the trusted keys.

    Args:
        manifest_bytes: the exact bytes of ``manifest.json``.
        sig_bytes: the bytes of ``manifest.sig``.
        trusted: the keys a signature may come from.
        bundle: the bundle named in errors.

    Returns:
        The key id of the trusted key that made the signature.

    Raises:
        BundleError: a malformed signature file, an untrusted key, or a signature that
            does not verify; one line naming ``manifest.sig`` and the rule.
    """
    return check_signature(manifest_bytes, parse_signature(sig_bytes, bundle=bundle),
                           trusted, bundle=bundle)
