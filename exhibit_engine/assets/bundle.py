"""Content bundles (``.exb``): open and validate an archive (packing is :mod:`.pack`).

A bundle is a ZIP whose root holds ``manifest.json`` (see :mod:`.manifest`) and exactly
the files it lists. Reading never trusts the archive: entry names, links, duplicates,
sizes and compression ratios are checked from the central directory before a byte is
decompressed, and every file's size and SHA-256 are checked before it is handed out.
Every failure is one :class:`~exhibit_engine.errors.BundleError` naming the bundle, the
entry and the rule.

An optional ``manifest.sig`` (see :mod:`.signing`) is read with a size bound and parsed
when the bundle opens; it is checked against trusted keys only when asked
(:meth:`Bundle.check_signature`, ``validate(..., trust=...)``).

Stdlib only at import (zipfile, hashlib, tomllib): core layer. Checking a signature
loads ``cryptography``.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import AssetError, BundleError, SceneError
from .checks import CHECKS
from .manifest import (FileEntry, Manifest, ManifestError, SceneSpec, check_entry_name,
                       parse_manifest)
from .signing import (MAX_SIGNATURE_BYTES, SIGNATURE_FILE, PublicKey, Signature,
                      check_signature, parse_signature)

__all__ = ["Bundle", "Limits", "RESERVED", "open_verified", "validate"]

#: Names in the archive root that the manifest does not list.
RESERVED = ("manifest.json", "manifest.sig")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Bounds on what a bundle may claim, checked before anything is decompressed."""

    max_entries: int = 10_000
    max_file_bytes: int = 1 << 30          # one file, uncompressed
    max_total_bytes: int = 4 << 30         # all files, uncompressed
    max_ratio: float = 200.0               # uncompressed / compressed, per entry
    max_manifest_bytes: int = 4 << 20


# --------------------------------------------------------------------------- reading


class Bundle:
    """A read-only ``.exb`` bundle whose structure and manifest have been checked.

    Use :meth:`open`; file contents are verified (size and SHA-256) by :meth:`read`
    every time, and all at once by :meth:`verify`.

    Attributes:
        path: the bundle file.
        manifest: the parsed manifest.
        manifest_bytes: the exact bytes of ``manifest.json`` (what a signature covers).
        signature: the parsed ``manifest.sig``, or ``None`` for an unsigned bundle. Its
            ``key_id`` is only a claim until :meth:`check_signature` has checked it.
    """

    def __init__(self, path: Path, zf: zipfile.ZipFile, manifest: Manifest,
                 infos: dict[str, zipfile.ZipInfo], limits: Limits, *,
                 manifest_bytes: bytes = b"", signature: Signature | None = None) -> None:
        self.path = path
        self.manifest = manifest
        self.manifest_bytes = manifest_bytes
        self.signature = signature
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
            manifest_bytes, manifest = cls._read_manifest(name, zf, infos, limits)
            cls._check_listing(name, manifest, infos)
            signature = cls._read_signature(name, zf, infos)
        except Exception:  # close on any failure, then let it propagate unchanged
            zf.close()
            raise
        return cls(p, zf, manifest, infos, limits, manifest_bytes=manifest_bytes,
                   signature=signature)

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
                       limits: Limits) -> tuple[bytes, Manifest]:
        info = infos.get("manifest.json")
        if info is None:
            raise BundleError(name, "no manifest.json at the archive root")
        if info.file_size > limits.max_manifest_bytes:
            raise BundleError(name, f"larger than {limits.max_manifest_bytes} bytes",
                              "manifest.json")
        data = _bounded_read(name, zf, info, limits.max_manifest_bytes)
        try:
            return data, parse_manifest(data)
        except ManifestError as exc:
            entry = f"manifest.json: {exc.entry}" if exc.entry else "manifest.json"
            raise BundleError(name, exc.rule, entry) from None

    @staticmethod
    def _read_signature(name: str, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]
                        ) -> Signature | None:
        info = infos.get(SIGNATURE_FILE)
        if info is None:
            return None
        if info.file_size > MAX_SIGNATURE_BYTES:
            raise BundleError(name, f"larger than {MAX_SIGNATURE_BYTES} bytes",
                              SIGNATURE_FILE)
        return parse_signature(_bounded_read(name, zf, info, MAX_SIGNATURE_BYTES),
                               bundle=name)

    # -- signature ----------------------------------------------------------------

    def check_signature(self, trust: Sequence[PublicKey] = (), require_signed: bool = False
                        ) -> str | None:
        """Check ``manifest.sig`` against the trusted keys, as a venue's policy asks.

        With no trusted keys and ``require_signed`` false, nothing is checked. Otherwise
        a signature, if present, must verify with a trusted key; with ``require_signed``
        an unsigned bundle is refused too. The signature covers ``manifest.json``, which
        covers every file by SHA-256: check those with :meth:`verify`.

        Args:
            trust: the public keys allowed to sign.
            require_signed: refuse an unsigned bundle.

        Returns:
            The key id of the trusted key that signed, or ``None`` when nothing was
            checked (no keys given and the bundle is unsigned or not required to be).

        Raises:
            BundleError: ``bundle is not signed``, ``signed by untrusted key …`` or
                ``signature does not verify …``, naming ``manifest.sig``.
        """
        if self.signature is None:
            if require_signed:
                raise BundleError(str(self.path), "bundle is not signed (a signature by a "
                                  "trusted key is required)", SIGNATURE_FILE)
            return None
        if not trust and not require_signed:
            return None
        return check_signature(self.manifest_bytes, self.signature, trust,
                               bundle=str(self.path))

    @staticmethod
    def _check_listing(name: str, manifest: Manifest, infos: dict[str, zipfile.ZipInfo]
                       ) -> None:
        listed = {f.path: f for f in manifest.files}
        for entry in infos:
            if entry not in listed and entry not in RESERVED:
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

    def iter_verified(self, checks: Mapping[str, Callable[[str, bytes], None]] | None = None
                      ) -> Iterator[FileEntry]:
        """Check every listed file in one pass; yield each entry once it has passed.

        Files are streamed and hashed chunk by chunk. A file whose extension has an
        entry in ``checks`` (see :data:`exhibit_engine.assets.checks.CHECKS`) is read
        whole instead, hashed, and then handed to that content check, so no file is
        decompressed or hashed twice.

        Args:
            checks: content checks by lower-case extension; each raises AssetError.

        Raises:
            BundleError: at the first file whose size, hash or content is wrong.
        """
        for entry in self.manifest.files:
            check = checks.get(PurePosixPath(entry.path).suffix.lower()) if checks else None
            if check is not None:
                data = self.read(entry.path)
                try:
                    check(entry.path, data)
                except AssetError as exc:
                    raise BundleError(str(self.path), exc.rule, entry.path) from None
                yield entry
                continue
            h = hashlib.sha256()
            size = 0
            info = self._infos[entry.path]
            chunks = (_stored_stream(self.path, info, entry.size)
                      if info.compress_type == zipfile.ZIP_STORED
                      else _stream(str(self.path), self._zf, info, entry.size))
            for chunk in chunks:
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


_LOCAL_HEADER = struct.Struct("<4s5HL2L2H")


def _stored_stream(path: Path, info: zipfile.ZipInfo, limit: int) -> Iterator[bytes]:
    """Read a stored (uncompressed) entry straight from the file, in chunks.

    The SHA-256 that the caller computes is the integrity check, so the ZIP's CRC-32
    is not computed a second time: validation then runs at the speed of hashing.
    """
    name = str(path)
    with path.open("rb") as f:
        f.seek(info.header_offset)
        head = f.read(_LOCAL_HEADER.size)
        if len(head) != _LOCAL_HEADER.size:
            raise BundleError(name, "damaged entry: truncated local header", info.filename)
        fields = _LOCAL_HEADER.unpack(head)
        sig, method, name_len, extra_len = fields[0], fields[3], fields[9], fields[10]
        if sig != b"PK\x03\x04" or method != zipfile.ZIP_STORED:
            raise BundleError(name, "damaged entry: local header does not match the "
                              "directory", info.filename)
        local_name = f.read(name_len)
        if local_name.decode("utf-8", "replace") != info.filename and \
                local_name.decode("cp437", "replace") != info.filename:
            raise BundleError(name, "local header names a different file", info.filename)
        f.seek(extra_len, os.SEEK_CUR)
        left = min(info.compress_size, limit + 1)
        while left > 0:
            chunk = f.read(min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def _bounded_read(name: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    data = b"".join(_stream(name, zf, info, limit))
    if len(data) > limit:
        raise BundleError(name, f"decompresses to more than {limit} bytes", info.filename)
    return data


def open_verified(path: str | os.PathLike[str], trust: Sequence[PublicKey] = (),
                  require_signed: bool = False) -> Bundle:
    """Open a bundle to play it: the venue's signature policy, then every file's hash and
    content (:data:`~.checks.CHECKS`), before anything is built from it. What projector
    nodes and kiosks do with a bundle before showing it.

    Raises:
        BundleError: the file is missing, unreadable or changed while being read, or it
            breaks a rule; nothing stays open.
    """
    b = Bundle.open(path)
    try:
        b.check_signature(trust, require_signed)
        for _ in b.iter_verified(CHECKS):
            pass
    except OSError as exc:      # the file went away or changed while being read
        b.close()
        raise BundleError(str(path), f"cannot be read ({exc.strerror or exc})") from None
    except BundleError:
        b.close()
        raise
    return b


def validate(path: str | os.PathLike[str], limits: Limits = Limits(), *,
             trust: Sequence[PublicKey] = (), require_signed: bool = False) -> Manifest:
    """Fully check a bundle: structure, manifest, signature, every file's size and SHA-256,
    and the content of models, images and JSON files (before any loader sees them).

    Args:
        path: the ``.exb`` file.
        limits: bounds on sizes and counts.
        trust: public keys allowed to sign; when given, a signature must verify with
            one of them (see :meth:`Bundle.check_signature`).
        require_signed: refuse a bundle without a trusted signature.

    Returns:
        The manifest of a valid bundle.

    Raises:
        BundleError: the first rule the bundle breaks.
    """
    with Bundle.open(path, limits) as bundle:
        bundle.check_signature(trust, require_signed)
        for _ in bundle.iter_verified(CHECKS):
            pass
        return bundle.manifest
