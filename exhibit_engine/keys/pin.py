"""Operator PINs: the secret that leaves a kiosk's kiosk mode.

A PIN is 4 to 12 digits. ``venue.toml`` lists only its hash, as the kiosk's ``pin``
(``[[kiosks]]``, :mod:`exhibit_engine.config.kiosk`)::

    pbkdf2-sha256$200000$<salt, standard base64>$<hash, standard base64>

PBKDF2-HMAC-SHA256 (:func:`hashlib.pbkdf2_hmac`) over a random 16-byte salt, 200,000
iterations: about 0.1 s per check on one core of a 2-core venue PC, slow enough to make
each guess against a copied file cost, fast enough for a tap on the screen. A PIN has at
most 10^12 values (10^4 at four digits), so the hash keeps the PIN from being read off
the file, not from a patient attacker who has it: keep ``venue.toml`` as private as the
PIN, and let the kiosk limit wrong tries. ``exhibit keys pin`` asks for a PIN and prints
the line to paste.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from ..config.kiosk import PIN_ITERATIONS, PIN_SCHEME, split_pin_hash
from ..errors import ConfigError

__all__ = ["PIN_DIGITS", "check_pin", "check_pin_rule", "hash_pin"]

#: How many digits a PIN has, at least and at most.
PIN_DIGITS = (4, 12)
_SALT_BYTES = 16


def check_pin_rule(pin: str, *, where: str = "<input>", key: str | None = "PIN") -> str:
    """Return ``pin`` if it keeps the rule (4 to 12 digits 0-9), else raise.

    Args:
        pin: the PIN as typed.
        where, key: what the error names (the input, the flag).

    Raises:
        ConfigError: the PIN has other characters than the digits 0-9, or too few or too
            many of them (the message never repeats the PIN).
    """
    lo, hi = PIN_DIGITS
    if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit():
        raise ConfigError(where, f"a PIN is {lo} to {hi} digits 0-9, nothing else", key=key)
    if not lo <= len(pin) <= hi:
        raise ConfigError(where, f"a PIN is {lo} to {hi} digits, this one has {len(pin)}",
                          key=key)
    return pin


def _derive(pin: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)


def hash_pin(pin: str) -> str:
    """The ``pbkdf2-sha256$...`` hash of a PIN, with a fresh random salt.

    Raises:
        ConfigError: the PIN breaks the rule (:func:`check_pin_rule`).
    """
    check_pin_rule(pin)
    salt = os.urandom(_SALT_BYTES)
    digest = _derive(pin, salt, PIN_ITERATIONS)
    b64 = base64.b64encode
    return f"{PIN_SCHEME}${PIN_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def check_pin(stored: str, pin: str) -> bool:
    """Whether ``pin`` is the PIN whose hash is ``stored``.

    The hashes are compared in constant time (:func:`hmac.compare_digest`). A ``stored``
    that is not a PIN hash, or a ``pin`` that is not 4 to 12 digits, is ``False``
    (``venue.toml`` is checked when it is loaded, so a broken hash never gets this far).
    """
    parts = split_pin_hash(stored)
    lo, hi = PIN_DIGITS
    if (parts is None or not isinstance(pin, str) or not pin.isascii() or not pin.isdigit()
            or not lo <= len(pin) <= hi):
        return False
    iterations, salt, digest = parts
    return hmac.compare_digest(_derive(pin, salt, iterations), digest)
