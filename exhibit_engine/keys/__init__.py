"""Key files for whichever role needs them: Ed25519 signing keys and CURVE keys.

Core layer, below assets and sync: it imports only :mod:`exhibit_engine.config` and
:mod:`exhibit_engine.errors`, never ZeroMQ (nor panda3d).

- :mod:`.files`: what every key kind shares: key names, bounded reading, atomic pair
  writing (the secret half mode 0600), key ids. :mod:`exhibit_engine.assets.signing`
  reads and writes its Ed25519 key files with it.
- :mod:`.curve`: CURVE key files (ZeroMQ certificates, bare Z85 lines) and Z85 itself.
  Making a CURVE pair needs libsodium and lives in :mod:`exhibit_engine.sync.auth`.
- :mod:`.token`: console tokens (bearer secrets of the HTTP API) and their hashes.
- :mod:`.pin`: operator PINs of the kiosks (4-12 digits) and their PBKDF2 hashes.
- :mod:`.allow_list`: a venue's allow-list, read from the key files its ``[security]``
  names: the controller's public key, the role of each key, the display bindings.

The names below are the package's API: import them from ``exhibit_engine.keys``.
"""

from .allow_list import AllowList, load_allow_list
from .curve import (
    KEY_SUFFIX,
    PUB_SUFFIX,
    CurveKeyFiles,
    CurvePublicKey,
    CurveSecretKey,
    is_z85_key,
    load_curve_public_keys,
    load_curve_secret_key,
    write_curve_key_files,
    z85_decode,
    z85_encode,
)
from .files import (
    check_key_name,
    key_id_of,
    key_pair_paths,
    read_key_file,
    write_pair_files,
    write_secret_file,
)
from .pin import PIN_DIGITS, check_pin, check_pin_rule, hash_pin
from .token import (
    TOKEN_SUFFIX,
    TokenFile,
    match_token,
    new_token,
    token_sha256,
    write_token_file,
)

__all__ = [
    "AllowList",
    "CurveKeyFiles",
    "CurvePublicKey",
    "CurveSecretKey",
    "KEY_SUFFIX",
    "PIN_DIGITS",
    "PUB_SUFFIX",
    "TOKEN_SUFFIX",
    "TokenFile",
    "check_key_name",
    "check_pin",
    "check_pin_rule",
    "hash_pin",
    "is_z85_key",
    "key_id_of",
    "key_pair_paths",
    "load_allow_list",
    "load_curve_public_keys",
    "load_curve_secret_key",
    "match_token",
    "new_token",
    "read_key_file",
    "token_sha256",
    "write_curve_key_files",
    "write_pair_files",
    "write_secret_file",
    "write_token_file",
    "z85_decode",
    "z85_encode",
]
