"""Ed25519 keys, manifest.sig, trust policies, and the CLI around them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exhibit_engine.assets.bundle import Bundle, validate
from exhibit_engine.assets.pack import pack
from exhibit_engine.assets.signing import (MAX_SIGNATURE_BYTES, KeyPairFiles, PublicKey,
                                           Signature, load_private_key, load_public_keys,
                                           parse_signature, public_key_of, sign_manifest,
                                           verify_signature, write_key_pair)
from exhibit_engine.cli import main
from exhibit_engine.errors import BundleError, ConfigError
from exhibit_engine.keys import key_id_of

from .zipkit import entries, write_zip

EXHIBIT = Path(sys.executable).with_name("exhibit")


@pytest.fixture
def alice(tmp_path: Path) -> KeyPairFiles:
    """A fresh key pair called alice."""
    return write_key_pair("alice", tmp_path / "keys")


@pytest.fixture
def signed_exb(tiny_source: Path, tmp_path: Path, alice: KeyPairFiles) -> Path:
    """The tiny source packed and signed by alice."""
    key = load_private_key(alice.private_path)
    out = tmp_path / "signed.exb"
    pack(tiny_source, out, sign=lambda m: sign_manifest(m, key))
    return out


def _replace(src: Path, dst: Path, **changes: bytes | None) -> Path:
    """Copy a bundle with some entries replaced (``None`` drops one); dots as ``_``."""
    items = entries(src)
    for name, data in changes.items():
        name = name.replace("_", ".")
        if data is None:
            items.pop(name, None)
        else:
            items[name] = data
    return write_zip(dst, items)


# --------------------------------------------------------------------------- key files


def test_key_pair_files_modes_and_formats(alice: KeyPairFiles) -> None:
    assert alice.private_path.name == "alice.ed25519.key"
    assert alice.public_path.name == "alice.ed25519.pub"
    if os.name == "posix":
        assert stat.S_IMODE(alice.private_path.stat().st_mode) == 0o600
    assert alice.private_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    line = alice.public_path.read_text()
    assert line.endswith(" alice\n") and line.count("\n") == 1
    kind, b64, name = line.split()
    assert kind == "exhibit-ed25519" and name == "alice"
    raw = base64.b64decode(b64)
    assert len(raw) == 32 and alice.key_id == key_id_of(raw) and len(alice.key_id) == 16
    private = load_private_key(alice.private_path)
    assert public_key_of(private).raw == raw
    assert load_public_keys(alice.public_path) == [PublicKey(raw, "alice")]
    assert not [p for p in alice.private_path.parent.iterdir() if p.name.startswith(".")]


def test_key_pair_is_never_overwritten_without_force(alice: KeyPairFiles) -> None:
    before = alice.private_path.read_bytes()
    with pytest.raises(ConfigError, match="already exists; use --force"):
        write_key_pair("alice", alice.private_path.parent)
    assert alice.private_path.read_bytes() == before
    alice.private_path.unlink()  # half a pair left by hand: still refused, nothing written
    with pytest.raises(ConfigError, match="alice.ed25519.pub: already exists"):
        write_key_pair("alice", alice.private_path.parent)
    assert not alice.private_path.exists()
    again = write_key_pair("alice", alice.private_path.parent, force=True)
    assert again.key_id != alice.key_id
    assert load_public_keys(again.public_path)[0].key_id == again.key_id


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "a b", "x" * 65, "é"])
def test_key_names_must_be_safe_file_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NAME: must be"):
        write_key_pair(name, tmp_path)
    assert not list(tmp_path.iterdir())


def test_public_key_files_may_list_several_keys_and_pem(tmp_path: Path) -> None:
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    lines = [public_key_of(k, f"k{i}").to_line() for i, k in enumerate(keys[:2])]
    trust = tmp_path / "venue.pub"
    trust.write_text("# curators of the venue\n\n" + "\n".join(lines) + "\n")
    assert [k.name for k in load_public_keys(trust)] == ["k0", "k1"]
    pem = tmp_path / "third.pem"
    pem.write_bytes(keys[2].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    assert load_public_keys(pem)[0].key_id == public_key_of(keys[2]).key_id


@pytest.mark.parametrize("content, rule", [
    (b"", "holds no public key"),
    (b"# only a comment\n", "holds no public key"),
    (b"ssh-ed25519 AAAA x\n", "line 1: expected 'exhibit-ed25519"),
    (b"exhibit-ed25519\n", "line 1: expected"),
    (b"exhibit-ed25519 not*base64 x\n", "line 1: the key is not 32 bytes"),
    (b"exhibit-ed25519 " + base64.b64encode(b"x" * 31) + b"\n", "not 32 bytes"),
    (b"\xff\xfe\x00", "not a text file"),
    (b"-----BEGIN PRIVATE KEY-----\n", "this is a private key"),
    (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "unreadable PEM"),
    (b"x" * 70_000, "larger than"),
])
def test_bad_public_key_files_are_one_line_config_errors(tmp_path: Path, content: bytes,
                                                         rule: str) -> None:
    path = tmp_path / "bad.pub"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=rule) as err:
        load_public_keys(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 2


def test_bad_private_key_files_are_refused(tmp_path: Path, alice: KeyPairFiles) -> None:
    with pytest.raises(ConfigError, match="key file not found"):
        load_private_key(tmp_path / "missing.key")
    with pytest.raises(ConfigError, match="not a PEM private key"):
        load_private_key(alice.public_path)
    secret = load_private_key(alice.private_path)
    encrypted = tmp_path / "enc.key"
    encrypted.write_bytes(secret.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(ConfigError, match="encrypted private keys are not supported"):
        load_private_key(encrypted)
    other = tmp_path / "ec.key"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    with pytest.raises(ConfigError, match="not an Ed25519 private key"):
        load_private_key(other)
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigError, match="unreadable private key"):
        load_private_key(garbage)


# --------------------------------------------------------------------------- signatures


def test_signature_file_is_small_canonical_json() -> None:
    key = Ed25519PrivateKey.generate()
    sig = sign_manifest(b'{"id": "x"}\n', key)
    doc = json.loads(sig)
    assert set(doc) == {"alg", "key_id", "signature"} and doc["alg"] == "ed25519"
    assert doc["key_id"] == public_key_of(key).key_id
    assert sig == (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()
    assert len(sig) < 200 <= MAX_SIGNATURE_BYTES
    assert parse_signature(sig).to_bytes() == sig
    pub = public_key_of(key)
    assert verify_signature(b'{"id": "x"}\n', sig, [pub]) == pub.key_id


def test_verify_names_the_rule_in_one_line() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    pub = public_key_of(key)
    sig = sign_manifest(b"manifest", key)
    with pytest.raises(BundleError, match="manifest.sig: signature does not verify"):
        verify_signature(b"manifest!", sig, [pub], bundle="b.exb")
    with pytest.raises(BundleError, match=f"signed by untrusted key {pub.key_id}"):
        verify_signature(b"manifest", sig, [public_key_of(other)])
    with pytest.raises(BundleError, match="untrusted key .* none given"):
        verify_signature(b"manifest", sig, [])
    # A forged key id that names a trusted key still has to verify with that key.
    forged = Signature("ed25519", pub.key_id, other.sign(b"manifest")).to_bytes()
    with pytest.raises(BundleError, match="does not verify"):
        verify_signature(b"manifest", forged, [pub])


_GOOD = {"alg": "ed25519", "key_id": "0123456789abcdef",
         "signature": base64.b64encode(bytes(64)).decode()}


@pytest.mark.parametrize("data, rule", [
    (b"", "malformed signature file (not JSON)"),
    (b"\xff", "malformed signature file (not JSON)"),
    (b"[]", "expected exactly the fields"),
    (json.dumps({**_GOOD, "extra": 1}).encode(), "expected exactly the fields"),
    (json.dumps({"alg": "ed25519", "key_id": "0123456789abcdef"}).encode(), "exactly"),
    (b'{"alg":"ed25519","alg":"ed25519","key_id":"0123456789abcdef","signature":""}',
     "not JSON"),
    (json.dumps({**_GOOD, "alg": "rsa"}).encode(), "unsupported signature algorithm 'rsa'"),
    (json.dumps({**_GOOD, "key_id": "0123456789ABCDEF"}).encode(), "key_id is not 16"),
    (json.dumps({**_GOOD, "key_id": 5}).encode(), "key_id is not 16"),
    (json.dumps({**_GOOD, "signature": "!!"}).encode(), "signature is not 64 bytes"),
    (json.dumps({**_GOOD, "signature": base64.b64encode(bytes(63)).decode()}).encode(),
     "signature is not 64 bytes"),
    (json.dumps({**_GOOD, "signature": None}).encode(), "signature is not 64 bytes"),
    (b" " * (MAX_SIGNATURE_BYTES + 1), "larger than 4096 bytes"),
])
def test_malformed_signature_files_are_refused(data: bytes, rule: str) -> None:
    with pytest.raises(BundleError, match=rule.replace("(", r"\(").replace(")", r"\)")) as e:
        parse_signature(data, bundle="b.exb")
    assert str(e.value).startswith("b.exb: manifest.sig: ")


# --------------------------------------------------------------------------- bundles


def test_signed_bundle_opens_with_its_signature(signed_exb: Path, alice: KeyPairFiles,
                                                tiny_source: Path, tmp_path: Path) -> None:
    with Bundle.open(signed_exb) as b:
        assert b.signature is not None and b.signature.key_id == alice.key_id
        assert b.manifest_bytes == entries(signed_exb)["manifest.json"]
        assert b.check_signature() is None  # nothing asked, nothing checked
    trust = load_public_keys(alice.public_path)
    assert validate(signed_exb, trust=trust, require_signed=True).id == "tiny"
    unsigned = tmp_path / "unsigned.exb"
    pack(tiny_source, unsigned)
    with Bundle.open(unsigned) as b:
        assert b.signature is None
    assert validate(unsigned, trust=trust).id == "tiny"  # trust alone: unsigned allowed
    with pytest.raises(BundleError, match="manifest.sig: bundle is not signed"):
        validate(unsigned, trust=trust, require_signed=True)
    with pytest.raises(BundleError, match="bundle is not signed"):
        validate(unsigned, require_signed=True)


def test_signed_bundle_from_an_untrusted_key_is_refused(signed_exb: Path,
                                                        tmp_path: Path) -> None:
    bob = write_key_pair("bob", tmp_path / "bob")
    with pytest.raises(BundleError, match="signed by untrusted key") as err:
        validate(signed_exb, trust=load_public_keys(bob.public_path))
    assert str(err.value).startswith(f"{signed_exb}: manifest.sig: ")
    with pytest.raises(BundleError, match="untrusted key"):
        validate(signed_exb, require_signed=True)


def test_any_change_to_the_manifest_breaks_the_signature(signed_exb: Path,
                                                         alice: KeyPairFiles,
                                                         tmp_path: Path) -> None:
    manifest = entries(signed_exb)["manifest.json"]
    doc = json.loads(manifest)
    doc["version"] = "9.9.9"  # a valid manifest still listing the right hashes
    changed = (json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode()
    bad = _replace(signed_exb, tmp_path / "bad.exb", manifest_json=changed)
    validate(bad)  # structurally fine: only the signature can tell
    trust = load_public_keys(alice.public_path)
    with pytest.raises(BundleError, match="signature does not verify"):
        validate(bad, trust=trust)
    spaced = _replace(signed_exb, tmp_path / "spaced.exb", manifest_json=manifest + b" ")
    with pytest.raises(BundleError, match="signature does not verify"):
        validate(spaced, trust=trust)


def test_a_changed_file_fails_its_hash_even_when_signed(signed_exb: Path,
                                                        alice: KeyPairFiles,
                                                        tmp_path: Path) -> None:
    bad = _replace(signed_exb, tmp_path / "bad.exb", notes_txt=b"HELLO\n")
    with pytest.raises(BundleError, match="notes.txt: SHA-256 does not match"):
        validate(bad, trust=load_public_keys(alice.public_path), require_signed=True)


def test_signature_entry_is_bounded_and_parsed_at_open(signed_exb: Path,
                                                       tmp_path: Path) -> None:
    noise = hashlib.shake_256(b"noise").digest(8000)  # incompressible: not an archive bomb
    big = _replace(signed_exb, tmp_path / "big.exb", manifest_sig=noise)
    with pytest.raises(BundleError, match="manifest.sig: larger than 4096 bytes"):
        Bundle.open(big)
    junk = _replace(signed_exb, tmp_path / "junk.exb", manifest_sig=b"not a signature")
    with pytest.raises(BundleError, match="manifest.sig: malformed signature file"):
        Bundle.open(junk)


# --------------------------------------------------------------------------- CLI


def _cli(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_cli_keys_new_pack_sign_validate_trust(tiny_source: Path, tmp_path: Path) -> None:
    code, out, _ = _cli("keys", "new", "cur", "--dir", str(tmp_path / "k"))
    assert code == 0
    pub, key = tmp_path / "k" / "cur.ed25519.pub", tmp_path / "k" / "cur.ed25519.key"
    key_id = load_public_keys(pub)[0].key_id
    assert str(pub) in out and str(key) in out and key_id in out
    code, _, err = _cli("keys", "new", "cur", "--dir", str(tmp_path / "k"))
    assert code == 2 and err.count("\n") == 1 and "--force" in err
    assert _cli("keys", "new", "cur", "--dir", str(tmp_path / "k"), "--force")[0] == 0
    key_id = load_public_keys(pub)[0].key_id

    exb = tmp_path / "s.exb"
    code, out, _ = _cli("pack", str(tiny_source), "-o", str(exb), "--sign", str(key))
    assert code == 0 and f"signed by key {key_id}" in out
    code, out, _ = _cli("validate", str(exb), "--trust", str(pub), "--require-signed")
    assert code == 0 and f"signed by trusted key {key_id} (cur)" in out
    code, out, _ = _cli("validate", str(exb))
    assert code == 0 and "not checked" in out

    code, out, _ = _cli("inspect", str(exb))
    assert code == 0
    assert f"signature: ed25519 key {key_id} (not checked; use validate --trust)" in out
    code, out, _ = _cli("inspect", "--json", str(exb))
    assert json.loads(out)["signature"] == {"alg": "ed25519", "key_id": key_id}


def test_cli_inspect_unsigned_says_none(tiny_source: Path, tmp_path: Path) -> None:
    exb = tmp_path / "u.exb"
    pack(tiny_source, exb)
    assert "signature: none" in _cli("inspect", str(exb))[1]
    assert json.loads(_cli("inspect", "--json", str(exb))[1])["signature"] is None
    assert "unsigned" in _cli("validate", str(exb))[1]


def test_cli_bad_sign_key_is_a_usage_error_and_writes_nothing(tiny_source: Path,
                                                              tmp_path: Path,
                                                              alice: KeyPairFiles) -> None:
    out = tmp_path / "x.exb"
    for bad in (tmp_path / "missing.key", alice.public_path):
        code, _, err = _cli("pack", str(tiny_source), "-o", str(out), "--sign", str(bad))
        assert code == 2 and err.count("\n") == 1 and str(bad) in err
        assert not out.exists()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXHIBIT), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "100"})


def test_installed_script_exit_codes_and_one_line(signed_exb: Path, tiny_source: Path,
                                                  alice: KeyPairFiles,
                                                  tmp_path: Path) -> None:
    bob = write_key_pair("bob", tmp_path / "bob")
    unsigned = tmp_path / "unsigned.exb"
    pack(tiny_source, unsigned)
    doc = json.loads(entries(signed_exb)["manifest.json"])
    doc["title"]["en"] = "Changed"
    changed = (json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1) + "\n").encode()
    altered = _replace(signed_exb, tmp_path / "altered.exb", manifest_json=changed)
    a, b = str(alice.public_path), str(bob.public_path)
    cases = [
        (["validate", str(signed_exb), "--trust", a, "--require-signed"], 0, None),
        (["validate", str(signed_exb), "--trust", b], 1, "signed by untrusted key"),
        (["validate", str(altered), "--trust", a], 1, "signature does not verify"),
        (["validate", str(unsigned), "--trust", a, "--require-signed"], 1,
         "bundle is not signed"),
        (["validate", str(unsigned), "--require-signed"], 2, "needs at least one --trust"),
        (["validate", str(signed_exb), "--trust", str(tmp_path / "nope.pub")], 2,
         "key file not found"),
        (["validate", str(signed_exb), "--trust", str(alice.private_path)], 2,
         "this is a private key"),
    ]
    for args, code, rule in cases:
        res = _run(*args)
        assert res.returncode == code, (args, res.stderr)
        assert "Traceback" not in res.stdout + res.stderr
        if rule is None:
            assert res.stderr == ""
        else:
            lines = res.stderr.splitlines()
            assert len(lines) == 1 and rule in lines[0], (args, res.stderr)
            if code == 1:
                assert lines[0].startswith(f"exhibit: error: {args[1]}: manifest.sig: ")


@pytest.mark.parametrize("cmd", [["keys"], ["keys", "new"], ["install"]])
def test_new_commands_explain_themselves(cmd: list[str]) -> None:
    res = CliRunner().invoke(main, [*cmd, "--help"])
    assert res.exit_code == 0
    body = res.output.split("Options:")[0] if "Options:" in res.output else res.output
    assert len(body.split()) > 15, f"`exhibit {' '.join(cmd)} --help` says too little"
    top = CliRunner().invoke(main, ["--help"]).output
    assert "keys" in top and "install" in top
