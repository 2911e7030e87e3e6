"""Content bundles (``.exb``): pack a source folder, open and validate an archive.

A bundle is a ZIP whose root holds ``manifest.json`` (see :mod:`.manifest`) and exactly
the files it lists. Reading never trusts the archive: entry names, links, duplicates,
sizes and compression ratios are checked from the central directory before a byte is
decompressed, and every file's size and SHA-256 are checked before it is handed out.
Every failure is one :class:`~exhibit_engine.errors.BundleError` naming the bundle, the
entry and the rule.

Stdlib only (zipfile, hashlib, tomllib): core layer.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import tomllib
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BundleError, SceneError
from .manifest import (FORMAT, FileEntry, Manifest, ManifestError, SceneSpec,
                       check_entry_name, media_type_for, parse_manifest)

__all__ = ["Limits", "Bundle", "pack", "validate", "SOURCE_FILE"]

#: The curator's description of a bundle, in the root of its source folder.
SOURCE_FILE = "bundle.toml"
_RESERVED = ("manifest.json", "manifest.sig")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Bounds on what a bundle may claim, checked before anything is decompressed."""

    max_entries: int = 10_000
    max_file_bytes: int = 1 << 30          # one file, uncompressed
    max_total_bytes: int = 4 << 30         # all files, uncompressed
    max_ratio: float = 200.0               # uncompressed / compressed, per entry
    max_manifest_bytes: int = 4 << 20


def _sha256_file(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


# --------------------------------------------------------------------------- packing


def _source_doc(src: Path) -> dict[str, Any]:
    toml_path = src / SOURCE_FILE
    try:
        doc = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(str(src), f"no {SOURCE_FILE} in the source folder") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BundleError(str(src), f"not valid TOML ({exc})", SOURCE_FILE) from None
    if not isinstance(doc.get("bundle"), dict):
        raise BundleError(str(src), "needs a [bundle] table", SOURCE_FILE)
    return doc


def _source_files(src: Path) -> list[str]:
    names = []
    for root, dirs, files in os.walk(src, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            p = Path(root, name)
            rel = p.relative_to(src).as_posix()
            if name.startswith(".") or rel == SOURCE_FILE:
                continue
            if p.is_symlink() or not p.is_file():
                raise BundleError(str(src), "links and special files cannot be packed", rel)
            why = check_entry_name(rel)
            if why:
                raise BundleError(str(src), why, rel)
            names.append(rel)
    return sorted(names)


def pack(src_dir: str | os.PathLike[str], out_path: str | os.PathLike[str], *,
         progress: Callable[[str, int], None] | None = None) -> Manifest:
    """Pack a source folder into a ``.exb`` bundle, atomically and reproducibly.

    The archive is written to a temporary file beside ``out_path`` and renamed into
    place only when complete, so a failed pack leaves no partial output. The same
    source always gives the same bytes (sorted entries, fixed timestamps).

    Args:
        src_dir: folder holding ``bundle.toml`` and the files to pack.
        out_path: the ``.exb`` file to write.
        progress: called with (file name, byte count) as each file is packed.

    Returns:
        The manifest written into the bundle.

    Raises:
        BundleError: the source folder breaks a rule.
    """
    src = Path(src_dir)
    if not src.is_dir():
        raise BundleError(str(src), "source folder not found")
    doc = _source_doc(src)
    names = _source_files(src)
    entries = []
    for name in names:
        size, digest = _sha256_file(src / name)
        entries.append({"path": name, "size": size, "media_type": media_type_for(name),
                        "sha256": digest})
    b = doc["bundle"]
    raw = {
        "format": FORMAT,
        "id": b.get("id"),
        "version": b.get("version"),
        "title": b.get("title"),
        "rights": b.get("rights", ""),
        "license": b.get("license", ""),
        "items": doc.get("items", []),
        "scenes": doc.get("scenes", []),
        "files": entries,
    }
    try:
        manifest = parse_manifest(raw)
    except ManifestError as exc:
        raise BundleError(str(src), exc.rule, f"{SOURCE_FILE}: {exc.entry}" if exc.entry
                          else SOURCE_FILE) from None

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw_file:
            with zipfile.ZipFile(raw_file, "w") as zf:
                _write_entry(zf, "manifest.json", manifest.to_json_bytes())
                for entry in manifest.files:
                    data = (src / entry.path).read_bytes()
                    if hashlib.sha256(data).hexdigest() != entry.sha256:
                        raise BundleError(str(src), "file changed while packing", entry.path)
                    _write_entry(zf, entry.path, data)
                    if progress:
                        progress(entry.path, entry.size)
            raw_file.flush()
            os.fsync(raw_file.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return manifest


def _write_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.create_system = 3
    zf.writestr(info, data, compresslevel=6)


# --------------------------------------------------------------------------- reading


class Bundle:
    """A read-only ``.exb`` bundle whose structure and manifest have been checked.

    Use :meth:`open`; file contents are verified (size and SHA-256) by :meth:`read`
    every time, and all at once by :meth:`verify`.
    """

    def __init__(self, path: Path, zf: zipfile.ZipFile, manifest: Manifest,
                 infos: dict[str, zipfile.ZipInfo], limits: Limits) -> None:
        self.path = path
        self.manifest = manifest
        self._zf = zf
        self._infos = infos
        self._limits = limits

    # -- opening ----------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str], limits: Limits = Limits()) -> "Bundle":
        """Open a bundle and check its structure and manifest (not yet every hash).

        Raises:
            BundleError: the file is missing, not a ZIP, or breaks a rule.
        """
        p = Path(path)
        name = str(p)
        if not p.is_file():
            raise BundleError(name, "bundle file not found")
        try:
            zf = zipfile.ZipFile(p)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            raise BundleError(name, f"not a readable ZIP archive ({exc})") from None
        try:
            infos = cls._check_directory(name, zf, limits)
            manifest = cls._read_manifest(name, zf, infos, limits)
            cls._check_listing(name, manifest, infos)
        except Exception:  # close on any failure, then let it propagate unchanged
            zf.close()
            raise
        return cls(p, zf, manifest, infos, limits)

    @staticmethod
    def _check_directory(name: str, zf: zipfile.ZipFile, limits: Limits
                         ) -> dict[str, zipfile.ZipInfo]:
        entries = zf.infolist()
        if len(entries) > limits.max_entries:
            raise BundleError(name, f"more than {limits.max_entries} entries")
        infos: dict[str, zipfile.ZipInfo] = {}
        folded: dict[str, str] = {}
        total = 0
        for info in entries:
            entry = info.filename
            if entry.endswith("/") and info.file_size == 0:
                continue  # a directory record carries no data
            why = check_entry_name(entry)
            if why:
                raise BundleError(name, why, entry)
            mode = info.external_attr >> 16
            if info.create_system == 3 and mode and not stat.S_ISREG(mode):
                raise BundleError(name, "links and special files are not allowed", entry)
            if info.flag_bits & 0x1:
                raise BundleError(name, "encrypted entries are not allowed", entry)
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise BundleError(name, "unsupported compression method", entry)
            if entry in infos:
                raise BundleError(name, "duplicate entry name", entry)
            key = unicodedata.normalize("NFC", entry).casefold()
            if key in folded:
                raise BundleError(name, f"name collides with {folded[key]!r} "
                                  "(case or Unicode form)", entry)
            folded[key] = entry
            if info.file_size > limits.max_file_bytes:
                raise BundleError(name, f"larger than {limits.max_file_bytes} bytes", entry)
            if info.file_size > 1024 and info.file_size > limits.max_ratio * max(
                    info.compress_size, 1):
                raise BundleError(name, f"compression ratio above {limits.max_ratio:g} "
                                  "(archive bomb)", entry)
            total += info.file_size
            if total > limits.max_total_bytes:
                raise BundleError(name, f"files total more than {limits.max_total_bytes} bytes")
            infos[entry] = info
        return infos

    @staticmethod
    def _read_manifest(name: str, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo],
                       limits: Limits) -> Manifest:
        info = infos.get("manifest.json")
        if info is None:
            raise BundleError(name, "no manifest.json at the archive root")
        if info.file_size > limits.max_manifest_bytes:
            raise BundleError(name, f"larger than {limits.max_manifest_bytes} bytes",
                              "manifest.json")
        data = _bounded_read(name, zf, info, limits.max_manifest_bytes)
        try:
            return parse_manifest(data)
        except ManifestError as exc:
            entry = f"manifest.json: {exc.entry}" if exc.entry else "manifest.json"
            raise BundleError(name, exc.rule, entry) from None

    @staticmethod
    def _check_listing(name: str, manifest: Manifest, infos: dict[str, zipfile.ZipInfo]
                       ) -> None:
        listed = {f.path: f for f in manifest.files}
        for entry in infos:
            if entry not in listed and entry not in _RESERVED:
                raise BundleError(name, "entry is not listed in the manifest", entry)
        for path, f in listed.items():
            info = infos.get(path)
            if info is None:
                raise BundleError(name, "listed in the manifest but missing from the archive",
                                  path)
            if info.file_size != f.size:
                raise BundleError(name, f"size {info.file_size} does not match the manifest "
                                  f"({f.size})", path)

    # -- reading ----------------------------------------------------------------

    def read(self, path: str) -> bytes:
        """The bytes of one listed file, after checking its size and SHA-256.

        Raises:
            BundleError: the file is not listed, or its content does not match.
        """
        entry = self.manifest.file(path)
        if entry is None:
            raise BundleError(str(self.path), "not listed in the manifest", path)
        data = _bounded_read(str(self.path), self._zf, self._infos[path], entry.size)
        self._check(entry, data)
        return data

    def _check(self, entry: FileEntry, data: bytes) -> None:
        if len(data) != entry.size:
            raise BundleError(str(self.path), f"size {len(data)} does not match the manifest "
                              f"({entry.size})", entry.path)
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise BundleError(str(self.path), "SHA-256 does not match the manifest",
                              entry.path)

    def iter_verified(self) -> Iterator[FileEntry]:
        """Check every listed file, streaming; yields each entry once it has passed.

        Raises:
            BundleError: at the first file whose size or hash does not match.
        """
        for entry in self.manifest.files:
            h = hashlib.sha256()
            size = 0
            for chunk in _stream(str(self.path), self._zf, self._infos[entry.path],
                                 entry.size):
                h.update(chunk)
                size += len(chunk)
            if size != entry.size:
                raise BundleError(str(self.path), f"size {size} does not match the manifest "
                                  f"({entry.size})", entry.path)
            if h.hexdigest() != entry.sha256:
                raise BundleError(str(self.path), "SHA-256 does not match the manifest",
                                  entry.path)
            yield entry

    def verify(self) -> None:
        """Check every listed file's size and SHA-256.

        Raises:
            BundleError: naming the first file that does not match.
        """
        for _ in self.iter_verified():
            pass

    def scene(self, scene_id: str) -> SceneSpec:
        """The scene with this id.

        Raises:
            SceneError: the bundle has no such scene (the message lists those it has).
        """
        for s in self.manifest.scenes:
            if s.id == scene_id:
                return s
        known = ", ".join(s.id for s in self.manifest.scenes)
        raise SceneError(scene_id, f"not in bundle {self.manifest.id!r} (it has: {known})")

    def close(self) -> None:
        """Close the archive."""
        self._zf.close()

    def __enter__(self) -> "Bundle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _stream(name: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int
            ) -> Iterator[bytes]:
    """Decompress an entry in chunks, never yielding more than ``limit + 1`` bytes."""
    got = 0
    try:
        with zf.open(info) as f:
            while got <= limit:
                chunk = f.read(min(_CHUNK, limit + 1 - got))
                if not chunk:
                    break
                got += len(chunk)
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        detail = "CRC-32 does not match" if "CRC" in str(exc) else f"cannot decompress ({exc})"
        raise BundleError(name, f"damaged entry: {detail}", info.filename) from None


def _bounded_read(name: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    data = b"".join(_stream(name, zf, info, limit))
    if len(data) > limit:
        raise BundleError(name, f"decompresses to more than {limit} bytes", info.filename)
    return data


def validate(path: str | os.PathLike[str], limits: Limits = Limits()) -> Manifest:
    """Fully check a bundle: structure, manifest, and every file's size and SHA-256.

    Returns:
        The manifest of a valid bundle.

    Raises:
        BundleError: the first rule the bundle breaks.
    """
    with Bundle.open(path, limits) as bundle:
        bundle.verify()
        return bundle.manifest
