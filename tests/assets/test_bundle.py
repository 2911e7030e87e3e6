"""Packing, opening and validating bundles; hostile archives are refused with one rule."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from exhibit_engine.assets.bundle import Bundle, Limits, validate
from exhibit_engine.assets.pack import pack
from exhibit_engine.assets.manifest import parse_manifest
from exhibit_engine.errors import BundleError, SceneError

from .zipkit import entries as _entries
from .zipkit import with_manifest as _with_manifest
from .zipkit import write_zip


def test_pack_then_validate_round_trip(tiny_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.exb"
    m = pack(tiny_source, out)
    assert m.id == "tiny" and m.version == "1.2.3"
    assert [f.path for f in m.files] == ["meshes/a.bin", "notes.txt"]
    assert validate(out) == m
    with Bundle.open(out) as b:
        assert b.read("notes.txt") == b"hello\n"
        assert b.scene("only").params == {"seed": 3}
        with pytest.raises(SceneError, match="it has: only"):
            b.scene("nope")
    assert set(_entries(out)) == {"manifest.json", "meshes/a.bin", "notes.txt"}


def test_pack_is_reproducible_byte_for_byte(tiny_source: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.exb", tmp_path / "b.exb"
    pack(tiny_source, a)
    os.utime(tiny_source / "notes.txt", (1, 1))
    pack(tiny_source, b)
    assert a.read_bytes() == b.read_bytes()


def test_failed_pack_leaves_nothing(tiny_source: Path, tmp_path: Path) -> None:
    (tiny_source / "bundle.toml").write_text('[bundle]\nid = "Bad Id"\nversion = "1.0.0"\n'
                                             'title = { en = "x" }\n')
    out = tmp_path / "out" / "x.exb"
    with pytest.raises(BundleError, match="bundle.toml"):
        pack(tiny_source, out)
    assert not out.exists() and not out.parent.exists()


def test_pack_refuses_links(tiny_source: Path, tmp_path: Path) -> None:
    (tiny_source / "link.txt").symlink_to(tiny_source / "notes.txt")
    with pytest.raises(BundleError, match="link.txt: links"):
        pack(tiny_source, tmp_path / "x.exb")


def test_one_changed_byte_is_named(tiny_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.exb"
    pack(tiny_source, out)
    files = _entries(out)
    data = bytearray(files["meshes/a.bin"])
    data[100] ^= 0x01
    files["meshes/a.bin"] = bytes(data)
    bad = write_zip(tmp_path / "bad.exb", files)
    with pytest.raises(BundleError) as err:
        validate(bad)
    assert err.value.entry == "meshes/a.bin"
    assert "SHA-256" in err.value.rule


def test_a_flipped_byte_inside_the_archive_is_named(tiny_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.exb"
    pack(tiny_source, out)
    raw = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo("meshes/a.bin")
    # local header: 30 bytes + name + extra, then the compressed data
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0xFF
    out.write_bytes(bytes(raw))
    with pytest.raises(BundleError) as err:
        validate(out)
    assert err.value.entry == "meshes/a.bin"


def test_missing_file_is_named(tiny_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny.exb"
    pack(tiny_source, out)
    files = _entries(out)
    del files["notes.txt"]
    with pytest.raises(BundleError) as err:
        validate(write_zip(tmp_path / "bad.exb", files))
    assert err.value.entry == "notes.txt" and "missing" in err.value.rule


@pytest.mark.parametrize("name, rule", [
    ("/abs.txt", "absolute"),
    ("../up.txt", "'..'"),
    ("a/../../up.txt", "'..'"),
    ("a\\..\\up.txt", "backslash"),
    ("a/%2e%2e/up.txt", "percent"),
    ("C:/x.txt", "absolute"),
])
def test_unsafe_names_are_refused(tmp_path: Path, name: str, rule: str) -> None:
    bad = write_zip(tmp_path / "bad.exb", _with_manifest({name: b"x"}))
    with pytest.raises(BundleError, match=rule):
        Bundle.open(bad)


def test_symlink_entries_are_refused(tmp_path: Path) -> None:
    entries = _with_manifest({"a.txt": b"x"})
    path = tmp_path / "bad.exb"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = ((stat.S_IFLNK | 0o777) if name == "a.txt"
                                  else (stat.S_IFREG | 0o644)) << 16
            zf.writestr(info, data)
    with pytest.raises(BundleError, match="a.txt: links"):
        Bundle.open(path)


def test_unlisted_duplicate_and_colliding_entries(tmp_path: Path) -> None:
    listed = _with_manifest({"a.txt": b"x"})
    with pytest.raises(BundleError, match="extra.txt: entry is not listed"):
        Bundle.open(write_zip(tmp_path / "1.exb", {**listed, "extra.txt": b"y"}))
    with pytest.warns(UserWarning, match="Duplicate name"):
        dup = write_zip(tmp_path / "2.exb", [*listed.items(), ("a.txt", b"x")])
    with pytest.raises(BundleError, match="duplicate entry"):
        Bundle.open(dup)
    with pytest.raises(BundleError, match="collides"):
        Bundle.open(write_zip(tmp_path / "3.exb", {**listed, "A.TXT": b"y"}))


def test_bombs_and_size_limits(tmp_path: Path) -> None:
    zeros = b"\0" * 2_000_000
    bomb = write_zip(tmp_path / "bomb.exb", _with_manifest({"z.bin": zeros}))
    with pytest.raises(BundleError, match="ratio"):
        Bundle.open(bomb)
    ok = write_zip(tmp_path / "ok.exb", _with_manifest({"a.bin": os.urandom(5000)}))
    with pytest.raises(BundleError, match="larger than 1000 bytes"):
        Bundle.open(ok, Limits(max_file_bytes=1000))
    with pytest.raises(BundleError, match="more than 1 entries"):
        Bundle.open(ok, Limits(max_entries=1))


@pytest.mark.parametrize("manifest, rule", [
    (b"{not json", "not valid JSON"),
    (b'{"format": "exhibit-bundle/1", "format": "x"}', "duplicate JSON key"),
    (b"[" * 5000 + b"]" * 5000, "nested"),
    (b'{"format": "exhibit-bundle/1", "version": NaN}', "non-finite"),
    (b'{"format": "other/9"}', "unsupported format"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_hostile_manifests(tmp_path: Path, manifest: bytes, rule: str) -> None:
    bad = write_zip(tmp_path / "bad.exb", {"manifest.json": manifest},
                     compress=zipfile.ZIP_STORED)
    with pytest.raises(BundleError, match=rule) as err:
        Bundle.open(bad)
    assert str(err.value).startswith(str(bad))


def test_not_a_zip_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.exb"
    junk.write_bytes(b"PK\x03\x04 nonsense")
    with pytest.raises(BundleError, match="not a readable ZIP"):
        Bundle.open(junk)
    with pytest.raises(BundleError, match="not found"):
        Bundle.open(tmp_path / "absent.exb")


def test_manifest_round_trips_through_canonical_json(tiny_source: Path, tmp_path: Path) -> None:
    m = pack(tiny_source, tmp_path / "t.exb")
    assert parse_manifest(m.to_json_bytes()) == m
