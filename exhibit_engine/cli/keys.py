"""``exhibit keys``: make the key pairs that sign bundles and secure the show network,
and the hashes of the kiosks' operator PINs.

Thin: ``keys new`` writes the files through :mod:`exhibit_engine.assets.signing`
(Ed25519), :mod:`exhibit_engine.keys.curve` (CURVE) or :mod:`exhibit_engine.keys.token`
(console tokens) and prints where they went; ``keys pin`` hashes a PIN with
:mod:`exhibit_engine.keys.pin` and prints the line for ``venue.toml`` (no file).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import ConfigError
from ._params import output_folder

__all__ = ["keys", "keys_new", "keys_pin"]


@click.group()
def keys() -> None:
    """Make keys: Ed25519 key pairs that sign bundles, CURVE key pairs for the show network.

    A curator signs with the private key (`exhibit pack --sign NAME.ed25519.key`); a
    venue trusts the public key (`exhibit validate --trust NAME.ed25519.pub`,
    `exhibit install --trust ...`). Keep the private key secret; share the .pub file.

    With `--kind curve`, each machine on the show network (controller, projector,
    kiosk, operator) gets a pair: it keeps NAME.curve.key (`--key`), and the venue lists
    NAME.curve.pub under venue.toml [security].

    With `--kind token`, an operator (or kiosk) of the HTTP console gets a bearer token
    in NAME.token; the venue lists its SHA-256 under venue.toml [[console.tokens]].

    `exhibit keys pin` hashes a kiosk's operator PIN (which leaves kiosk mode); the
    venue lists the hash as `pin` in the kiosk's venue.toml [[kiosks]] table.
    """


@keys.command("new")
@click.argument("name")
@click.option("--dir", "--out", "directory", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the key files into (made if missing).")
@click.option("--kind", type=click.Choice(["ed25519", "curve", "token"]), default="ed25519",
              show_default=True, help="Key kind: ed25519 signs bundles; curve encrypts and "
              "authenticates a controller or peer on the show network; token is a bearer "
              "token of the operator's HTTP console.")
@click.option("--role", type=click.Choice(["operator", "kiosk"]), default="operator",
              show_default=True, help="With --kind token: what the token may do (a kiosk "
              "token may only select an item, set the language and read the show).")
@click.option("--force", is_flag=True, help="Replace existing key files of the same name.")
def keys_new(name: str, directory: Path, kind: str, role: str, force: bool) -> None:
    """Make a new key pair called NAME and write it as two files.

    \b
    NAME.ed25519.key  private key, PEM PKCS#8, mode 0600: signs bundles; keep it secret
    NAME.ed25519.pub  public key, one line "exhibit-ed25519 <base64> NAME": give it to
                      venues, which trust it with --trust

    \b
    With --kind curve (ZeroMQ certificate files, as czmq and pyzmq write them):
    NAME.curve.key    secret key pair, mode 0600: stays on the machine (--key)
    NAME.curve.pub    public key: the venue lists it in venue.toml [security] under
                      projectors, kiosks or operators (or as controller_public_key)

    \b
    With --kind token (one file; --role operator or kiosk):
    NAME.token        the bearer token, mode 0600: give it to the console's user
                      (Authorization: Bearer ...); prints the [[console.tokens]] lines
                      (its SHA-256, never the token) to paste into venue.toml

    Existing files are never replaced without --force. Prints the key id that signed
    bundles show (`exhibit inspect`) or that the controller logs.
    """
    from ..config.paths import check_file_name, shown

    why = check_file_name(name)
    if why is not None:
        raise ConfigError("<args>", f"{shown(repr(name))} {why}", key="NAME")
    output_folder(directory, "--dir")
    if kind == "token":
        from ..keys import write_token_file

        written_token = write_token_file(name, directory, role, force=force)
        click.echo(f"new console token {name!r} ({role})\n"
                   f"  token:   {written_token.path}  (secret, mode 0600; "
                   "Authorization: Bearer <its text>)\n"
                   "  paste into venue.toml:\n\n" + written_token.toml().rstrip("\n"))
        return
    if kind == "curve":
        from ..keys import write_curve_key_files
        from ..sync.auth import new_key_pair

        public, secret = new_key_pair()
        pair = write_curve_key_files(name, directory, public, secret, force=force)
        click.echo(f"new curve key {name!r}, key id {pair.key_id}\n"
                   f"  secret:  {pair.secret_path}  (keep on this machine; --key)\n"
                   f"  public:  {pair.public_path}  (list in venue.toml [security])")
        return
    from ..assets.signing import write_key_pair

    written = write_key_pair(name, directory, force=force)
    click.echo(f"new {kind} key {name!r}, key id {written.key_id}\n"
               f"  private: {written.private_path}  (secret; exhibit pack --sign)\n"
               f"  public:  {written.public_path}  (share; exhibit validate --trust)")


@keys.command("pin")
@click.option("--pin-stdin", is_flag=True, help="Read the PIN from the first line of "
              "standard input instead of asking for it twice (for scripts).")
def keys_pin(pin_stdin: bool) -> None:
    """Hash a kiosk's operator PIN (4 to 12 digits) for venue.toml.

    Asks for the PIN twice without showing it, then prints the line to paste into the
    kiosk's [[kiosks]] table of venue.toml:

    \b
    pin = "pbkdf2-sha256$200000$<salt>$<hash>"

    The file holds only the hash (PBKDF2-HMAC-SHA256, a random salt), never the PIN;
    the same PIN hashed twice gives two different lines, both good. Nothing is
    written to disk.

    \b
    printf '%s\\n' "$PIN" | exhibit keys pin --pin-stdin
    """
    from ..keys import check_pin_rule, hash_pin

    if pin_stdin:
        # Bytes, bounded: a PIN is ASCII digits, so anything else (a binary pipe, another
        # encoding) only has to fail the rule, never raise while decoding.
        raw = sys.stdin.buffer.readline(256) if hasattr(sys.stdin, "buffer") else \
            sys.stdin.readline(256).encode("utf-8", "replace")
        line = raw.decode("ascii", "replace")
        if not line.strip():
            raise ConfigError("<stdin>", "no PIN on standard input (one line of 4 to 12 "
                              "digits)")
        pin = check_pin_rule(line.rstrip("\r\n"), where="<stdin>", key=None)
    else:
        # Checked before the second prompt, and not by click's value_proc: click masks
        # the typed text inside its messages, which garbles a rule that names digits.
        pin = check_pin_rule(click.prompt("PIN (4-12 digits)", hide_input=True, err=True),
                             where="<input>", key=None)
        if click.prompt("Repeat the PIN", hide_input=True, err=True) != pin:
            raise ConfigError("<input>", "the two PINs differ; nothing was printed")
    click.echo("paste into the kiosk's [[kiosks]] table of venue.toml:", err=True)
    click.echo(f'pin = "{hash_pin(pin)}"')
