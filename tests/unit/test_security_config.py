"""CURVE key files, venue.toml [security], the allow-list read from its key files, and
`exhibit keys new --kind curve`.

Key pairs are made with ``exhibit``'s own writer from keys pyzmq generates, so the
files are checked against pyzmq's certificate reader and libsodium's public-key
derivation, not only against our own parser.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
import zmq
import zmq.auth
from click.testing import CliRunner

from exhibit_engine.cli import main
from exhibit_engine.config import SecurityConfig, load_venue
from exhibit_engine.errors import ConfigError
from exhibit_engine.keys import (
    AllowList,
    is_z85_key,
    load_allow_list,
    load_curve_public_keys,
    load_curve_secret_key,
    write_curve_key_files,
    z85_decode,
    z85_encode,
)

VENUE = """
[venue]
id = "v"
[wall]
width = 2.0
height = 1.0
eye = [1.0, 0.5, 2.0]
[[displays]]
id = "a"
pixels = [64, 32]
rect = [0.0, 0.0, 2.0, 1.0]
"""


def _pair(directory: Path, name: str) -> tuple[str, str]:
    public, secret = (k.decode() for k in zmq.curve_keypair())
    write_curve_key_files(name, directory, public, secret)
    return public, secret


def _venue(tmp_path: Path, security: str) -> Path:
    path = tmp_path / "venue.toml"
    path.write_text(VENUE + "\n[security]\n" + security)
    return path


def _allowed(path: Path) -> AllowList:
    """The venue's allow-list, as every role that uses [security] loads it: the venue
    file parsed, then the key files it names read and checked."""
    return load_allow_list(load_venue(path).security)


# --------------------------------------------------------------------------- Z85 and files


def test_z85_matches_the_rfc_example_and_pyzmq() -> None:
    # RFC 32/Z85's test vector.
    raw = bytes([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])
    assert z85_encode(raw) == "HelloWorld"
    assert z85_decode("HelloWorld") == raw
    public, _ = zmq.curve_keypair()
    assert z85_encode(z85_decode(public.decode())) == public.decode()
    assert is_z85_key(public.decode())
    assert not is_z85_key(public.decode()[:-1] + '"')        # outside the alphabet
    assert not is_z85_key(public.decode()[:35])               # too short
    assert not is_z85_key("%" * 40)                           # groups above 2**32 - 1
    with pytest.raises(ValueError):
        z85_encode(b"abc")


def test_key_files_round_trip_and_pyzmq_reads_them(tmp_path: Path) -> None:
    public, secret = _pair(tmp_path, "proj-1")
    key_file, pub_file = tmp_path / "proj-1.curve.key", tmp_path / "proj-1.curve.pub"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [k.z85 for k in load_curve_public_keys(pub_file)] == [public]
    loaded = load_curve_secret_key(key_file)
    assert (loaded.secret, loaded.public) == (secret, public)
    assert secret not in repr(loaded)
    # ZeroMQ's certificate format: pyzmq reads both files, libsodium agrees on the key.
    assert zmq.auth.load_certificate(key_file) == (public.encode(), secret.encode())
    assert zmq.auth.load_certificate(pub_file) == (public.encode(), None)
    assert zmq.curve_public(secret.encode()).decode() == public


def test_files_from_pyzmq_and_bare_z85_lines_load(tmp_path: Path) -> None:
    pub_file, secret_file = zmq.auth.create_certificates(tmp_path, "vendor")
    public, secret = zmq.auth.load_certificate(secret_file)
    assert [k.z85 for k in load_curve_public_keys(pub_file)] == [public.decode()]
    os.chmod(secret_file, 0o600)
    assert load_curve_secret_key(secret_file).secret == secret.decode()
    a, b = (zmq.curve_keypair()[0].decode() for _ in range(2))
    bare = tmp_path / "kiosks.pub"
    bare.write_text(f"# two kiosks\n{a}\n\n{b}\n")
    assert [k.z85 for k in load_curve_public_keys(bare)] == [a, b]


def test_existing_key_files_are_never_replaced_without_force(tmp_path: Path) -> None:
    first, _ = _pair(tmp_path, "k")
    public, secret = (k.decode() for k in zmq.curve_keypair())
    with pytest.raises(ConfigError, match="already exists; use --force"):
        write_curve_key_files("k", tmp_path, public, secret)
    assert load_curve_public_keys(tmp_path / "k.curve.pub")[0].z85 == first
    write_curve_key_files("k", tmp_path, public, secret, force=True)
    assert load_curve_public_keys(tmp_path / "k.curve.pub")[0].z85 == public
    with pytest.raises(ConfigError, match="NAME"):
        write_curve_key_files("../evil", tmp_path, public, secret)


@pytest.mark.parametrize("content, loader, rule", [
    ("", "public", "holds no CURVE public key"),
    ("public-key = \"tooshort\"\n", "public", "line 1: public-key is not a CURVE key"),
    ("just some words\n", "public", "line 1: expected a CURVE certificate line"),
    ("curve\n    public-key = \"{p}\"\n    secret-key = \"{s}\"\n", "public",
     "this is a secret key file; list its .curve.pub file instead"),
    ("curve\n    public-key = \"{p}\"\n", "secret", "this is a public key file"),
    ("# nothing\n", "secret", "holds no CURVE secret key"),
    ("secret-key = \"{s}\"\nsecret-key = \"{s}\"\n", "secret", "more than one key pair"),
])
def test_bad_key_files_name_the_file_and_the_rule(tmp_path: Path, content: str, loader: str,
                                                  rule: str) -> None:
    public, secret = (k.decode() for k in zmq.curve_keypair())
    path = tmp_path / "bad.key"
    path.write_text(content.format(p=public, s=secret))
    path.chmod(0o600)
    load = load_curve_public_keys if loader == "public" else load_curve_secret_key
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(path) in str(err.value) and rule in str(err.value)


def test_missing_binary_and_huge_key_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="key file not found"):
        load_curve_public_keys(tmp_path / "nope.curve.pub")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not a text file"):
        load_curve_public_keys(tmp_path / "bin")
    (tmp_path / "big").write_text("#" * 70000)
    with pytest.raises(ConfigError, match="larger than"):
        load_curve_secret_key(tmp_path / "big")


def test_a_secret_key_readable_by_others_loads_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _pair(tmp_path, "k")
    key_file = tmp_path / "k.curve.key"
    with caplog.at_level(logging.WARNING, logger="exhibit_engine.keys.curve"):
        load_curve_secret_key(key_file)
    assert not caplog.records
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="exhibit_engine.keys.curve"):
        assert load_curve_secret_key(key_file).secret
    assert str(key_file) in caplog.text and "chmod 600" in caplog.text


# --------------------------------------------------------------------------- [security]


def test_without_security_the_venue_is_in_development_mode(tmp_path: Path) -> None:
    path = tmp_path / "venue.toml"
    path.write_text(VENUE)
    assert load_venue(path).security == SecurityConfig()


def test_security_lists_resolve_relative_to_the_venue(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    ctl, _ = _pair(keys, "controller")
    proj, _ = _pair(keys, "proj")
    kiosk, _ = _pair(keys, "kiosk")
    op, _ = _pair(keys, "op")
    path = _venue(tmp_path, """
curve = true
controller_key = "keys/controller.curve.key"
controller_public_key = "keys/controller.curve.pub"
projectors = ["keys/proj.curve.pub"]
kiosks = ["keys/kiosk.curve.pub"]
operators = ["keys/op.curve.pub"]
""")
    sec = load_venue(path).security
    allowed = _allowed(path)
    assert sec.curve and allowed.controller_public == ctl
    assert sec.controller_key == str((keys / "controller.curve.key").resolve())
    assert sec.projectors == (str((keys / "proj.curve.pub").resolve()),)
    assert dict(allowed.roles) == {proj: "projector", kiosk: "kiosk", op: "operator"}
    assert allowed.role_of(kiosk) == "kiosk" and allowed.role_of(ctl) is None


@pytest.mark.parametrize("security, key, rule", [
    ('curve = "yes"\n', "security.curve", "must be true or false"),
    ('curve = true\nprojectors = ["keys/proj.curve.pub"]\n', "security.controller_public_key",
     "needs the controller's public key file"),
    ('curve = true\ncontroller_public_key = "keys/controller.curve.pub"\n', "security",
     "needs at least one allowed key"),
    ('controller_public_key = "keys/controller.curve.pub"\nkiosks = "keys/a.curve.pub"\n',
     "security.kiosks", "must be a list of public key file paths"),
    ('kiosks = ["keys/proj.curve.pub"]\nprojectors = ["keys/proj.curve.pub"]\n',
     "security.kiosks", "a key has one role"),
    ('projector = ["keys/proj.curve.pub"]\n', "security.projector", "unknown key"),
    ('controller_public_key = "keys/controller.curve.pub"\n'
     + 'operators = ["keys/controller.curve.pub"]\n', "security.operators",
     "holds the controller's own key"),
    ('controller_public_key = 5\n', "security.controller_public_key", "must be a key file path"),
])
def test_security_mistakes_name_the_key(tmp_path: Path, security: str, key: str,
                                        rule: str) -> None:
    _pair(tmp_path / "keys", "controller")
    _pair(tmp_path / "keys", "proj")
    path = _venue(tmp_path, security)
    with pytest.raises(ConfigError) as err:
        _allowed(path)
    assert err.value.key == key and rule in str(err.value)
    assert str(path) in str(err.value)


def test_security_displays_bind_a_display_to_one_projector_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    _pair(keys, "controller")
    proj, _ = _pair(keys, "proj")
    _pair(keys, "kiosk")
    base = ('curve = true\ncontroller_public_key = "keys/controller.curve.pub"\n'
            'projectors = ["keys/proj.curve.pub"]\nkiosks = ["keys/kiosk.curve.pub"]\n'
            "[security.displays]\n")
    path = _venue(tmp_path, base + 'a = "keys/proj.curve.pub"\n')
    assert load_venue(path).security.displays == (("a", str(keys.resolve() / "proj.curve.pub")),)
    assert _allowed(path).displays == (("a", proj),)
    assert _allowed(_venue(tmp_path, base)).displays == ()
    for line, rule in (('zz = "keys/proj.curve.pub"\n', "no display 'zz' (known: a)"),
                       ('a = "keys/kiosk.curve.pub"\n', "listed under projectors"),
                       ("a = 5\n", "must be a projector's public key file path")):
        path = _venue(tmp_path, base + line)
        with pytest.raises(ConfigError) as err:
            _allowed(path)
        assert rule in str(err.value) and str(path) in str(err.value)
        assert err.value.key == f"security.displays.{line.split()[0]}"


def test_a_listed_key_file_that_is_missing_or_secret_is_named(tmp_path: Path) -> None:
    _pair(tmp_path / "keys", "proj")
    with pytest.raises(ConfigError, match=r"venue\.toml: security\.projectors: .*gone\.curve"
                                          r"\.pub: key file not found"):
        _allowed(_venue(tmp_path, 'projectors = ["keys/gone.curve.pub"]\n'))
    with pytest.raises(ConfigError, match="security.kiosks: .*this is a secret key file"):
        _allowed(_venue(tmp_path, 'kiosks = ["keys/proj.curve.key"]\n'))


# --------------------------------------------------------------------------- CLI


def test_keys_new_curve_writes_a_pair_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["keys", "new", "kiosk-2", "--kind", "curve",
                                  "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "new curve key 'kiosk-2'" in result.output
    public = load_curve_public_keys(tmp_path / "kiosk-2.curve.pub")[0].z85
    secret = load_curve_secret_key(tmp_path / "kiosk-2.curve.key").secret
    assert zmq.curve_public(secret.encode()).decode() == public
    again = runner.invoke(main, ["keys", "new", "kiosk-2", "--kind", "curve",
                                 "--dir", str(tmp_path)])
    assert again.exit_code == 2
    assert "already exists; use --force" in again.output
    assert load_curve_public_keys(tmp_path / "kiosk-2.curve.pub")[0].z85 == public
    forced = runner.invoke(main, ["keys", "new", "kiosk-2", "--kind", "curve", "--force",
                                  "--dir", str(tmp_path)])
    assert forced.exit_code == 0
    assert load_curve_public_keys(tmp_path / "kiosk-2.curve.pub")[0].z85 != public


def test_a_curve_venue_without_a_key_is_one_clear_error(tmp_path: Path) -> None:
    _pair(tmp_path / "keys", "controller")
    _pair(tmp_path / "keys", "proj")
    venue = _venue(tmp_path, """
curve = true
controller_public_key = "keys/controller.curve.pub"
projectors = ["keys/proj.curve.pub"]
""")
    show = tmp_path / "show.toml"
    show.write_text('[show]\nid = "s"\n[[bundles]]\nid = "b"\nfile = "b.exb"\n'
                    '[[cues]]\nbundle = "b"\nscene = "x"\nduration = 5\n')
    runner = CliRunner()
    result = runner.invoke(main, ["controller", "--venue", str(venue), "--show", str(show),
                                  "--no-state"], env={"EXHIBIT_KEY": ""})
    assert result.exit_code == 2, result.output
    assert "requires CURVE" in result.output and "--key" in result.output
    assert "Traceback" not in result.output
    node = runner.invoke(main, ["node", "--venue", str(venue), "--show", str(show),
                                "--display", "a", "--key", str(tmp_path / "keys" /
                                                                "controller.curve.pub")],
                         env={"EXHIBIT_KEY": ""})
    assert node.exit_code == 2, node.output
    assert "this is a public key file" in node.output
