"""The bundle library: full checks before install, atomic copies, no rollback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from exhibit_engine.assets.library import (InstalledBundle, compare_versions, install,
                                           installed, list_installed)
from exhibit_engine.assets.pack import pack
from exhibit_engine.assets.signing import (KeyPairFiles, PublicKey, load_private_key,
                                           load_public_keys, sign_manifest, write_key_pair)
from exhibit_engine.cli import main
from exhibit_engine.errors import BundleError

from .zipkit import entries, with_manifest, write_zip

EXHIBIT = Path(sys.executable).with_name("exhibit")


Make = Callable[..., Path]


@pytest.fixture
def make(tiny_source: Path, tmp_path: Path) -> Make:
    """Pack the tiny source as a given version (optionally signed, optionally changed)."""

    def _make(version: str, *, key: KeyPairFiles | None = None, note: str = "hello\n"
              ) -> Path:
        toml = tiny_source / "bundle.toml"
        text = toml.read_text(encoding="utf-8")
        start = text.index('version = "') + len('version = "')
        toml.write_text(text[:start] + version + text[text.index('"', start):],
                        encoding="utf-8")
        (tiny_source / "notes.txt").write_text(note, encoding="utf-8")
        out = tmp_path / "made" / f"tiny-{version}-{len(note)}{'-s' if key else ''}.exb"
        sign = None
        if key is not None:
            private = load_private_key(key.private_path)
            sign = lambda m: sign_manifest(m, private)  # noqa: E731
        pack(tiny_source, out, sign=sign)
        return out

    return _make


@pytest.fixture
def alice(tmp_path: Path) -> KeyPairFiles:
    """A key pair called alice."""
    return write_key_pair("alice", tmp_path / "keys")


def _trust(key: KeyPairFiles) -> list[PublicKey]:
    return load_public_keys(key.public_path)


def _snapshot(lib: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(lib.iterdir()) if p.name != ".lock"}


# --------------------------------------------------------------------------- versions


SEMVER_ORDER = ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0",
                "1.10.0", "2.0.0"]


def test_versions_follow_semver_precedence() -> None:
    for i, a in enumerate(SEMVER_ORDER):
        for j, b in enumerate(SEMVER_ORDER):
            assert compare_versions(a, b) == (i > j) - (i < j), (a, b)


@pytest.mark.parametrize("bad", ["1.0", "v1.0.0", "1.0.0+b", "01.0.0", "", "1.0.0\n"])
def test_bad_versions_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        compare_versions(bad, "1.0.0")


# --------------------------------------------------------------------------- install


def test_install_copies_and_records(make: Make, tmp_path: Path) -> None:
    src = make("1.0.0")
    lib = tmp_path / "lib" / "bundles"
    done = install(src, lib)
    assert done == InstalledBundle("tiny", "1.0.0", lib / "tiny.exb", done.sha256,
                                   src.stat().st_size)
    assert done.changed and done.previous is None and done.key_id is None
    assert (lib / "tiny.exb").read_bytes() == src.read_bytes()
    record = json.loads((lib / "tiny.json").read_text())
    assert record == {"format": "exhibit-library/1", "id": "tiny", "version": "1.0.0",
                      "file": "tiny.exb", "sha256": done.sha256, "size": done.size,
                      "key_id": None, "installed_at": None}
    assert sorted(p.name for p in lib.iterdir()) == [".lock", "tiny.exb", "tiny.json"]
    assert installed(lib, "tiny") == InstalledBundle("tiny", "1.0.0", lib / "tiny.exb",
                                                     done.sha256, done.size, changed=False)
    assert installed(lib, "other") is None and installed(lib, "../x") is None
    assert [b.id for b in list_installed(lib)] == ["tiny"]
    assert list_installed(tmp_path / "nowhere") == []


def test_install_is_deterministic_and_idempotent(make: Make, tmp_path: Path
                                                 ) -> None:
    src = make("1.0.0")
    lib = tmp_path / "lib"
    first = install(src, lib, installed_at="2026-01-01T10:00:00+00:00")
    before = _snapshot(lib)
    again = install(src, lib, installed_at="2026-02-02T10:00:00+00:00")
    assert not again.changed and again.previous == "1.0.0"
    assert again.installed_at == first.installed_at == "2026-01-01T10:00:00+00:00"
    assert _snapshot(lib) == before


def test_newer_versions_replace_older_ones(make: Make, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    install(make("1.0.0-rc.1"), lib)
    done = install(make("1.0.0"), lib)
    assert done.previous == "1.0.0-rc.1" and done.version == "1.0.0"
    done = install(make("1.2.0", note="new\n"), lib)
    assert done.previous == "1.0.0" and installed(lib, "tiny").version == "1.2.0"


@pytest.mark.parametrize("older", ["1.0.0", "1.2.0-rc.9", "0.99.0"])
def test_older_versions_never_replace_newer_ones(make: Make, tmp_path: Path,
                                                 older: str) -> None:
    lib = tmp_path / "lib"
    install(make("1.2.0"), lib)
    before = _snapshot(lib)
    src = make(older)
    with pytest.raises(BundleError) as err:
        install(src, lib)
    assert str(err.value).startswith(f"{src}: manifest.json: version: version {older} is "
                                     "older than installed 1.2.0")
    assert "\n" not in str(err.value)
    assert _snapshot(lib) == before
    assert not [p for p in lib.iterdir() if p.name.endswith(".tmp")]


def test_same_version_with_other_content_is_refused(make: Make, tmp_path: Path
                                                    ) -> None:
    lib = tmp_path / "lib"
    install(make("1.2.0"), lib)
    before = _snapshot(lib)
    with pytest.raises(BundleError, match="version 1.2.0 is already installed with different "
                       "content"):
        install(make("1.2.0", note="changed\n"), lib)
    assert _snapshot(lib) == before


def test_invalid_bundles_are_refused_naming_the_source(tmp_path: Path) -> None:
    files = {"a.bin": b"x" * 100}
    good = with_manifest(files)
    src = write_zip(tmp_path / "bad.exb", {**good, "a.bin": b"y" * 100})
    lib = tmp_path / "lib"
    with pytest.raises(BundleError) as err:
        install(src, lib)
    assert str(err.value) == f"{src}: a.bin: SHA-256 does not match the manifest"
    assert [p.name for p in lib.iterdir()] == [".lock"]
    with pytest.raises(BundleError, match="bundle file not found"):
        install(tmp_path / "missing.exb", lib)


def test_an_id_that_cannot_name_a_file_is_refused(tmp_path: Path) -> None:
    files = {"a.bin": b"x"}
    src = write_zip(tmp_path / "nl.exb", with_manifest(files, id="tiny\n"))
    with pytest.raises(BundleError, match="manifest.json: id: must be an id"):
        install(src, tmp_path / "lib")
    assert not (tmp_path / "lib" / "tiny\n.exb").exists()


def test_signature_policies_apply_on_install(make: Make, tmp_path: Path,
                                             alice: KeyPairFiles) -> None:
    lib = tmp_path / "lib"
    bob = write_key_pair("bob", tmp_path / "bob")
    with pytest.raises(BundleError, match="bundle is not signed"):
        install(make("1.0.0"), lib, trust=_trust(alice), require_signed=True)
    with pytest.raises(BundleError, match="signed by untrusted key"):
        install(make("1.0.0", key=bob), lib, trust=_trust(alice))
    assert not (lib / "tiny.exb").exists()
    done = install(make("1.0.0", key=alice), lib, trust=_trust(alice), require_signed=True)
    assert done.key_id == alice.key_id
    assert json.loads((lib / "tiny.json").read_text())["key_id"] == alice.key_id
    # Once a verified signed bundle is installed, its replacement must verify too.
    with pytest.raises(BundleError, match="manifest.sig: installed tiny 1.0.0 is signed by "
                       f"key {alice.key_id}; its replacement must verify"):
        install(make("1.1.0", key=alice), lib)
    assert install(make("1.1.0", key=alice), lib, trust=_trust(alice)).previous == "1.0.0"


def test_older_correctly_signed_bundle_cannot_roll_back(make: Make, tmp_path: Path,
                                                        alice: KeyPairFiles) -> None:
    old = make("1.0.0", key=alice)
    new = make("1.1.0", key=alice)
    lib = tmp_path / "lib"
    install(new, lib, trust=_trust(alice), require_signed=True)
    with pytest.raises(BundleError, match="version 1.0.0 is older than installed 1.1.0"):
        install(old, lib, trust=_trust(alice), require_signed=True)


def test_an_install_cut_off_before_its_record_still_blocks_rollback(
        make: Make, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    install(make("1.0.0"), lib)
    newest = make("1.2.0")
    shutil.copyfile(newest, lib / "tiny.exb")  # the .exb renamed in, the record not yet
    with pytest.raises(BundleError, match="version 1.1.0 is older than installed 1.2.0"):
        install(make("1.1.0"), lib)
    done = install(newest, lib)  # the same bytes again finish the install
    assert done.changed and installed(lib, "tiny").version == "1.2.0"


def test_a_damaged_record_blocks_installs(make: Make, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    install(make("1.0.0"), lib)
    (lib / "tiny.json").write_text("{not json")
    with pytest.raises(BundleError, match=r"tiny.json: library record is damaged \(not JSON\)"):
        install(make("1.1.0"), lib)
    (lib / "tiny.json").write_text(json.dumps({"format": "exhibit-library/1", "id": "tiny"}))
    with pytest.raises(BundleError, match="a field is missing"):
        installed(lib, "tiny")


def test_installed_bundle_passes_validate(make: Make, tmp_path: Path) -> None:
    from exhibit_engine.assets.bundle import validate

    done = install(make("1.0.0"), tmp_path / "lib")
    assert validate(done.path).version == "1.0.0"
    assert entries(done.path)["notes.txt"] == b"hello\n"


# --------------------------------------------------------------------------- CLI


def test_cli_install(make: Make, tmp_path: Path, alice: KeyPairFiles) -> None:
    lib = tmp_path / "lib"
    new, old = make("1.1.0", key=alice), make("1.0.0", key=alice)
    pub = str(alice.public_path)
    res = CliRunner().invoke(main, ["install", str(new), "--library", str(lib), "--trust", pub,
                                    "--require-signed"])
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith("installed tiny 1.1.0 (signed by trusted key")
    assert installed(lib, "tiny").installed_at  # the CLI stamps the time
    res = CliRunner().invoke(main, ["install", str(new), "--library", str(lib), "--trust", pub])
    assert res.exit_code == 0 and res.stdout.startswith("already installed: tiny 1.1.0")
    res = CliRunner().invoke(main, ["install", str(old), "--library", str(lib), "--trust", pub])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        f"exhibit: error: {old}: manifest.json: version: version 1.0.0 is older than "
        f"installed 1.1.0 ({lib / 'tiny.exb'})"]
    res = CliRunner().invoke(main, ["install", str(old), "--library", str(lib),
                                    "--require-signed"])
    assert res.exit_code == 2 and len(res.stderr.splitlines()) == 1


def test_installed_script_refuses_rollback_in_one_line(make: Make, tmp_path: Path
                                                       ) -> None:
    lib = tmp_path / "lib"
    install(make("2.0.0"), lib)
    old = make("1.0.0")
    res = subprocess.run([str(EXHIBIT), "install", str(old), "--library", str(lib)],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "100"})
    assert res.returncode == 1
    assert len(res.stderr.splitlines()) == 1 and "older than installed 2.0.0" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
