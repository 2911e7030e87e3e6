"""A corpus of bad bundles and sources, each refused by the CLI in one line.

Every case is made here, by the test. Each runs the installed ``exhibit`` script under
a 10 s watchdog and must: exit with the right code, print exactly one line on stderr
naming the bundle (or source), the entry and the rule, print no traceback, and write
nothing outside its output path (a failed pack writes nothing at all).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from exhibit_engine.assets.pack import pack
from exhibit_engine.assets.signing import load_private_key, sign_manifest, write_key_pair

from .zipkit import (entries, glb, manifest_doc, patch_central, png_header, triangle_doc,
                     with_manifest, write_zip)

EXHIBIT = Path(sys.executable).with_name("exhibit")
LABEL_FONT = Path(__file__).resolve().parents[2] / "content" / "fonts" / "NotoSansSC-Labels.otf"
GOOD_FILES = {"meshes/a.bin": bytes(range(256)) * 8, "notes.txt": b"hello\n"}


@dataclass(frozen=True)
class Case:
    """One bad input: how to make it, what the CLI must say."""

    build: Callable[[Path], list[str]]   # makes the input under tmp, returns CLI args
    rule: str                            # a phrase of the rule in the error line
    entry: str | None = None             # the entry the line must name
    code: int = 1


def _bundle(tmp: Path, items: dict[str, bytes] | list[tuple[str, bytes]], **kw: object
            ) -> list[str]:
    path = write_zip(tmp / "bad.exb", items, **kw)  # type: ignore[arg-type]
    return ["validate", str(path)]


def _files(**files: bytes) -> dict[str, bytes]:
    return {**GOOD_FILES, **{k.replace("__", "/"): v for k, v in files.items()}}


def _manifest_bytes(raw: bytes) -> Callable[[Path], list[str]]:
    return lambda tmp: _bundle(tmp, {"manifest.json": raw}, compress=zipfile.ZIP_STORED)


def _manifest_edit(**overrides: object) -> Callable[[Path], list[str]]:
    return lambda tmp: _bundle(tmp, with_manifest(GOOD_FILES, **overrides))


def _unsafe_name(name: str) -> Callable[[Path], list[str]]:
    return lambda tmp: _bundle(tmp, with_manifest({**GOOD_FILES, name: b"x"}))


def _hash_mismatch(tmp: Path) -> list[str]:
    good = with_manifest(GOOD_FILES)
    data = bytearray(good["meshes/a.bin"])
    data[7] ^= 1
    return _bundle(tmp, {**good, "meshes/a.bin": bytes(data)})


def _size_mismatch(tmp: Path) -> list[str]:
    doc = manifest_doc(GOOD_FILES)
    doc["files"][1]["size"] += 1
    return _bundle(tmp, {"manifest.json": json.dumps(doc).encode(), **GOOD_FILES})


def _missing(tmp: Path) -> list[str]:
    good = with_manifest(GOOD_FILES)
    del good["notes.txt"]
    return _bundle(tmp, good)


def _symlink(tmp: Path) -> list[str]:
    return _bundle(tmp, with_manifest(GOOD_FILES),
                   modes={"notes.txt": stat.S_IFLNK | 0o777})


def _device(tmp: Path) -> list[str]:
    return _bundle(tmp, with_manifest(GOOD_FILES), modes={"notes.txt": stat.S_IFCHR | 0o644})


def _crc_damage(tmp: Path) -> list[str]:
    path = write_zip(tmp / "bad.exb", with_manifest(GOOD_FILES))
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("meshes/a.bin")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0x55
    path.write_bytes(bytes(raw))
    return ["validate", str(path)]


def _truncated(tmp: Path) -> list[str]:
    path = write_zip(tmp / "bad.exb", with_manifest(GOOD_FILES))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return ["validate", str(path)]


def _raw_file(content: bytes) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        (tmp / "bad.exb").write_bytes(content)
        return ["validate", str(tmp / "bad.exb")]
    return build


def _claimed(name: str, **fields: int) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        path = write_zip(tmp / "bad.exb", with_manifest(GOOD_FILES),
                         compress=zipfile.ZIP_STORED)
        patch_central(path, name, **fields)
        return ["validate", str(path)]
    return build


def _total_bomb(tmp: Path) -> list[str]:
    files = {f"big{i}.bin": b"x" * 64 for i in range(5)}
    path = write_zip(tmp / "bad.exb", with_manifest(files), compress=zipfile.ZIP_STORED)
    for name in files:
        patch_central(path, name, file_size=(1 << 30) - 1, compress_size=(1 << 30) - 1)
    return ["validate", str(path)]


def _too_many(tmp: Path) -> list[str]:
    files = {f"f/{i}": b"" for i in range(10_001)}
    return _bundle(tmp, files, compress=zipfile.ZIP_STORED)


def _nfd_collision(tmp: Path) -> list[str]:
    nfc = unicodedata.normalize("NFC", "café.txt")
    nfd = unicodedata.normalize("NFD", "café.txt")
    return _bundle(tmp, with_manifest({**GOOD_FILES, nfc: b"a", nfd: b"b"}))


def _duplicate(tmp: Path) -> list[str]:
    good = with_manifest(GOOD_FILES)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _bundle(tmp, [*good.items(), ("notes.txt", b"hello\n")])


def _source(toml: str | None, extra: Callable[[Path], None] | None = None
            ) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        src = tmp / "src"
        (src / "meshes").mkdir(parents=True)
        (src / "meshes" / "a.bin").write_bytes(b"abc")
        if toml is not None:
            (src / "bundle.toml").write_text(toml, encoding="utf-8")
        if extra:
            extra(src)
        return ["pack", str(src), "-o", str(tmp / "out" / "x.exb")]
    return build


def _model(doc: dict[str, object] | None = None, raw: bytes | None = None
           ) -> Callable[[Path], list[str]]:
    data = raw if raw is not None else glb(doc or triangle_doc())
    return lambda tmp: _bundle(tmp, with_manifest({**GOOD_FILES, "meshes/m.glb": data}))


def _image(data: bytes, name: str = "images/p.png") -> Callable[[Path], list[str]]:
    return lambda tmp: _bundle(tmp, with_manifest({**GOOD_FILES, name: data}))


def _signed(tmp: Path, *, signer: str = "curator") -> Path:
    """A bundle signed by ``signer``; the key pairs are written under tmp/keys."""
    src = tmp / "signed-src"
    src.mkdir()
    (src / "bundle.toml").write_text(GOOD_TOML.replace('assets = ["meshes/a.bin"]',
                                                       "assets = []"), encoding="utf-8")
    (src / "a.txt").write_text("hi\n")
    keys = write_key_pair(signer, tmp / "keys")
    if signer != "curator":
        write_key_pair("curator", tmp / "keys")
    key = load_private_key(keys.private_path)
    out = tmp / "signed.exb"
    pack(src, out, sign=lambda m: sign_manifest(m, key))
    return out


def _trusting(args: list[str], tmp: Path) -> list[str]:
    return [*args, "--trust", str(tmp / "keys" / "curator.ed25519.pub")]


def _sig_untrusted(tmp: Path) -> list[str]:
    return _trusting(["validate", str(_signed(tmp, signer="stranger"))], tmp)


def _sig_tampered(tmp: Path) -> list[str]:
    path = _signed(tmp)
    items = entries(path)
    doc = json.loads(items["manifest.json"])
    doc["version"] = "9.9.9"
    items["manifest.json"] = json.dumps(doc).encode()
    write_zip(path, items)
    return _trusting(["validate", str(path)], tmp)


def _sig_malformed(tmp: Path) -> list[str]:
    path = _signed(tmp)
    write_zip(path, {**entries(path), "manifest.sig": b'{"alg": "rot13"}'})
    return _trusting(["validate", str(path)], tmp)


def _sig_missing(tmp: Path) -> list[str]:
    path = _signed(tmp)
    items = entries(path)
    del items["manifest.sig"]
    write_zip(path, items)
    return [*_trusting(["validate", str(path)], tmp), "--require-signed"]


def _bad_source_file(name: str, data: bytes) -> Callable[[Path], list[str]]:
    return _source(GOOD_TOML, lambda s: (s / name).parent.mkdir(parents=True, exist_ok=True)
                   or (s / name).write_bytes(data))


GOOD_TOML = ('[bundle]\nid = "x"\nversion = "1.0.0"\ntitle = { en = "X" }\n'
             '[[scenes]]\nid = "s"\nkind = "ice"\nassets = ["meshes/a.bin"]\n')

CASES: dict[str, Case] = {
    # names
    "absolute-path": Case(_unsafe_name("/etc/passwd"), "absolute path", "/etc/passwd"),
    "dotdot": Case(_unsafe_name("../evil.txt"), "'..'", "../evil.txt"),
    "dotdot-deep": Case(_unsafe_name("a/b/../../../evil.txt"), "'..'"),
    "backslash-dotdot": Case(_unsafe_name("..\\evil.txt"), "backslash"),
    "percent-dotdot": Case(_unsafe_name("%2e%2e/evil.txt"), "percent-encoded"),
    "percent-slash": Case(_unsafe_name("a%2fb.txt"), "percent-encoded"),
    "drive-letter": Case(_unsafe_name("C:/evil.txt"), "absolute path"),
    "dot-segment": Case(_unsafe_name("./notes2.txt"), "'.'"),
    "control-char": Case(_unsafe_name("bad\x01name"), "control characters"),
    "symlink": Case(_symlink, "links and special files", "notes.txt"),
    "device-file": Case(_device, "links and special files", "notes.txt"),
    "duplicate-name": Case(_duplicate, "duplicate entry", "notes.txt"),
    "case-collision": Case(_unsafe_name("NOTES.TXT"), "collides", "notes.txt"),
    "unicode-collision": Case(_nfd_collision, "collides"),
    # listing and content
    "unlisted-entry": Case(lambda t: _bundle(t, {**with_manifest(GOOD_FILES), "x.bin": b"1"}),
                           "not listed in the manifest", "x.bin"),
    "hash-mismatch": Case(_hash_mismatch, "SHA-256 does not match", "meshes/a.bin"),
    "size-mismatch": Case(_size_mismatch, "does not match the manifest", "notes.txt"),
    "missing-file": Case(_missing, "missing from the archive", "notes.txt"),
    "crc-damage": Case(_crc_damage, "damaged entry", "meshes/a.bin"),
    # bombs and limits
    "ratio-bomb": Case(lambda t: _bundle(t, with_manifest({"z.bin": b"\0" * 3_000_000})),
                       "compression ratio", "z.bin"),
    "huge-file-claim": Case(_claimed("meshes/a.bin", file_size=0xFFFF_FFF0,
                                     compress_size=0xFFFF_FFF0), "larger than", "meshes/a.bin"),
    "total-size-bomb": Case(_total_bomb, "files total more than"),
    "too-many-entries": Case(_too_many, "more than 10000 entries"),
    "encrypted-entry": Case(_claimed("notes.txt", flags=0x1), "encrypted", "notes.txt"),
    "bzip2-entry": Case(_claimed("notes.txt", method=zipfile.ZIP_BZIP2),
                        "unsupported compression", "notes.txt"),
    # the archive itself
    "not-a-zip": Case(_raw_file(b"this is not a zip file at all"), "not a readable ZIP"),
    "empty-file": Case(_raw_file(b""), "not a readable ZIP"),
    "truncated-zip": Case(_truncated, "not a readable ZIP"),
    "no-manifest": Case(lambda t: _bundle(t, GOOD_FILES), "no manifest.json"),
    # hostile manifests
    "manifest-not-json": Case(_manifest_bytes(b"{oops"), "not valid JSON", "manifest.json"),
    "manifest-not-utf8": Case(_manifest_bytes(b"\xff\xfe\x00{"), "not valid JSON"),
    "manifest-dup-key": Case(_manifest_bytes(b'{"id": "a", "id": "b"}'), "duplicate JSON key"),
    "manifest-deep": Case(_manifest_bytes(b"[" * 100_000 + b"]" * 100_000), "nested"),
    "manifest-nan": Case(_manifest_bytes(b'{"format": "exhibit-bundle/1", "version": NaN}'),
                         "non-finite"),
    "manifest-array": Case(_manifest_bytes(b"[1, 2, 3]"), "top level must be a JSON object"),
    "manifest-huge": Case(_manifest_bytes(b" " * (5 << 20) + b"{}"), "larger than",
                          "manifest.json"),
    "manifest-format": Case(_manifest_edit(format="exhibit-bundle/99"), "unsupported format"),
    "manifest-version": Case(_manifest_edit(version="one"), "semantic version"),
    "manifest-id": Case(_manifest_edit(id="Not An Id"), "must be an id"),
    "manifest-reserved": Case(_manifest_edit(files=[{"path": "manifest.sig", "size": 1,
                                                     "media_type": "x", "sha256": "0" * 64}]),
                              "reserved name"),
    "manifest-bad-digest": Case(_manifest_edit(files=[{"path": "notes.txt", "size": 6,
                                                       "media_type": "x", "sha256": "xyz"}]),
                                "64 lower-case hex"),
    "manifest-unsafe-path": Case(_manifest_edit(files=[{"path": "../x", "size": 1,
                                                        "media_type": "x",
                                                        "sha256": "0" * 64}]), "'..'"),
    "scene-unknown-asset": Case(_manifest_edit(scenes=[{"id": "s", "kind": "ice",
                                                        "assets": ["nope.glb"]}]),
                                "does not list"),
    "manifest-no-scenes": Case(_manifest_edit(scenes=[]), "non-empty list"),
    # models and images, checked before any loader sees a byte
    "glb-external-uri": Case(_model(triangle_doc(buffers=[{"uri": "mesh.bin",
                                                            "byteLength": 36}])),
                             "external URI", "meshes/m.glb"),
    "glb-parent-uri": Case(_model(triangle_doc(images=[{"uri": "../../secret.png"}])),
                           "external URI", "meshes/m.glb"),
    "glb-absolute-uri": Case(_model(triangle_doc(images=[{"uri": "file:///etc/passwd"}])),
                             "external URI", "meshes/m.glb"),
    "glb-required-extension": Case(_model(triangle_doc(
        extensionsUsed=["EXT_evil"], extensionsRequired=["EXT_evil"])),
        "unsupported glTF extension", "meshes/m.glb"),
    "glb-truncated": Case(_model(raw=glb(triangle_doc())[:40]), "GLB", "meshes/m.glb"),
    "glb-not-glb": Case(_model(raw=b"solid cube\nendsolid\n" * 4), "not a GLB",
                        "meshes/m.glb"),
    "glb-huge-image": Case(_model(triangle_doc(images=[{
        "uri": "data:image/png;base64,"
               + __import__("base64").b64encode(png_header(100_000, 100_000)).decode()}])),
        "pixels", "meshes/m.glb"),
    "image-huge-header": Case(_image(png_header(100_000, 100_000)), "pixels",
                              "images/p.png"),
    "image-garbage": Case(_image(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "image",
                          "images/p.png"),
    # signatures
    "sig-untrusted": Case(_sig_untrusted, "untrusted key", "manifest.sig"),
    "sig-tampered": Case(_sig_tampered, "does not verify", "manifest.sig"),
    "sig-malformed": Case(_sig_malformed, "manifest.sig"),
    "sig-required": Case(_sig_missing, "not signed"),
    # bad sources for pack
    "source-no-toml": Case(_source(None), "no bundle.toml"),
    "source-bad-toml": Case(_source("[bundle\n"), "not valid TOML", "bundle.toml"),
    "source-bad-id": Case(_source(GOOD_TOML.replace('id = "x"', 'id = "X Y"')), "must be an id"),
    "source-symlink": Case(_source(GOOD_TOML, lambda s: (s / "l.txt").symlink_to("/etc/passwd")),
                           "links and special files", "l.txt"),
    "source-unknown-asset": Case(_source(GOOD_TOML.replace("meshes/a.bin", "meshes/b.bin")),
                                 "does not list"),
    "source-corrupt-obj": Case(_bad_source_file("meshes/scan.obj", b"v 1 2\nf 1 9 99\n"),
                               "meshes/scan.obj"),
    "source-huge-image": Case(_bad_source_file("images/big.png", png_header(90_000, 90_000)),
                              "pixels", "images/big.png"),
    "source-font-lacks-glyphs": Case(_source(
        GOOD_TOML.replace('title = { en = "X" }', 'title = { en = "X \U0001F600" }'),
        lambda s: (s / "f.otf").write_bytes(LABEL_FONT.read_bytes())),
        "lacks 1 character", "f.otf"),
    # usage
    "usage-no-args": Case(lambda t: ["validate"], "Missing argument", code=2),
    "usage-bad-option": Case(lambda t: ["pack", "--frobnicate"], "No such option", code=2),
}


def _tree(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.lstat().st_size
            for p in root.rglob("*") if not p.is_dir() or p.is_symlink()}


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    args = case.build(tmp_path)
    before = _tree(tmp_path)
    try:
        res = subprocess.run([str(EXHIBIT), *args], capture_output=True, text=True,
                             timeout=10, cwd=tmp_path,
                             env={**os.environ, "COLUMNS": "200"})
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: hung for more than 10 s")
    assert "Traceback" not in res.stderr + res.stdout, res.stderr
    assert res.returncode == case.code, (res.returncode, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    if case.code == 1:
        assert len(lines) == 1, res.stderr
        assert lines[0].startswith("exhibit: error: ")
        target = args[1]
        assert target in lines[0], f"the line must name {target}: {lines[0]}"
    assert case.rule in res.stderr, res.stderr
    if case.entry:
        assert case.entry in lines[-1]
    assert _tree(tmp_path) == before, "something was written"


def test_corpus_cases_are_valid_when_repaired(tmp_path: Path) -> None:
    """The helpers make valid bundles and sources when nothing is broken (no vacuous cases)."""
    good = write_zip(tmp_path / "good.exb", with_manifest(GOOD_FILES))
    assert subprocess.run([str(EXHIBIT), "validate", str(good)], capture_output=True,
                          timeout=30).returncode == 0
    assert entries(good).keys() == {"manifest.json", *GOOD_FILES}
    args = _source(GOOD_TOML)(tmp_path)
    assert subprocess.run([str(EXHIBIT), *args], capture_output=True,
                          timeout=30).returncode == 0
