"""A bundle library: the folder of bundles a projector node plays (its ``--bundle-dir``).

Installing copies a bundle in only after checking all of it (structure, signature,
every hash) and refuses to roll a bundle back::

    LIBRARY/
      <id>.exb     the bundle, named by its id (what show.toml's ``file`` names)
      <id>.json    its record: {"format": "exhibit-library/1", "id", "version",
                   "file", "sha256", "size", "key_id", "installed_at"}
      .lock        held while installing (POSIX ``flock``), so two installs serialise

Rollback rule: a bundle may replace the installed one of the same id only with a
higher semantic version (pre-releases order below their release, as semver says);
the same version is accepted again only with the same bytes (then nothing changes).
A signed bundle carries its version under the signature, so an older, correctly
signed bundle cannot replace a newer one. Once the installed bundle was verified as
signed, a replacement must verify against a trusted key too. To go back on purpose,
an operator removes ``<id>.exb`` and ``<id>.json``.

The copy is checked where it lies in the library (not the source, which could change
in between), then renamed into place; the record is written last. If a crash falls
between the two renames, the newer ``.exb`` is already in place and its own manifest
counts for the rollback check, so no window lets an older bundle in.

Time is an argument: ``installed_at`` is written as given (or left out).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import BundleError, ExhibitError
from .bundle import Bundle, Limits
from .signing import PublicKey

__all__ = [
    "InstalledBundle",
    "RECORD_FORMAT",
    "compare_versions",
    "file_sha256",
    "install",
    "installed",
    "library_path",
    "list_installed",
]

#: The ``format`` of a library record.
RECORD_FORMAT = "exhibit-library/1"
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?")
_MAX_RECORD_BYTES = 64 * 1024
_CHUNK = 1 << 20


@dataclass(frozen=True)
class InstalledBundle:
    """A bundle as it lies in a library.

    Attributes:
        id: the bundle id.
        version: its semantic version.
        path: the installed ``<id>.exb``.
        sha256: SHA-256 of the whole ``.exb`` file.
        size: its size in bytes.
        key_id: the trusted key its signature verified with, or ``None`` if it was not
            checked (unsigned, or installed without trusted keys).
        installed_at: the time given to :func:`install`, or ``None``.
        previous: the version it replaced (``None`` if none); equal to ``version``
            when the same bundle was already installed and nothing changed.
        changed: whether the library changed.
    """

    id: str
    version: str
    path: Path
    sha256: str
    size: int
    key_id: str | None = None
    installed_at: str | None = None
    previous: str | None = None
    changed: bool = True

    def record_bytes(self) -> bytes:
        """The ``<id>.json`` record for this bundle."""
        doc = {"format": RECORD_FORMAT, "id": self.id, "version": self.version,
               "file": self.path.name, "sha256": self.sha256, "size": self.size,
               "key_id": self.key_id, "installed_at": self.installed_at}
        return (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()


# --------------------------------------------------------------------------- versions


def _version_key(version: str) -> tuple[tuple[int, int, int], tuple[tuple[int, int, str], ...]
                                        | None]:
    m = _SEMVER.fullmatch(version)
    if not m:
        raise ValueError(f"{version!r} is not a semantic version")
    core = (int(m[1]), int(m[2]), int(m[3]))
    if m[4] is None:
        return core, None
    # Numeric identifiers compare as numbers and below alphanumeric ones (semver 11.4).
    pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in m[4].split("."))
    return core, pre


def compare_versions(a: str, b: str) -> int:
    """Compare two semantic versions by semver precedence: -1, 0 or 1.

    A pre-release sorts below its release (``1.0.0-rc.1 < 1.0.0``); pre-release
    identifiers compare one by one, numbers numerically and below words, and a
    shorter list sorts first when all before are equal.

    Raises:
        ValueError: either string is not ``MAJOR.MINOR.PATCH[-PRERELEASE]``.
    """
    (core_a, pre_a), (core_b, pre_b) = _version_key(a), _version_key(b)
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    if pre_a == pre_b:
        return 0
    if pre_a is None or pre_b is None:
        return 1 if pre_a is None else -1
    return -1 if pre_a < pre_b else 1


# --------------------------------------------------------------------------- records


def _record_error(path: Path, why: str) -> BundleError:
    return BundleError(str(path), f"library record is damaged ({why}); remove it and its "
                       ".exb to install afresh")


def _read_record(library: Path, bundle_id: str) -> InstalledBundle | None:
    path = library / f"{bundle_id}.json"
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_RECORD_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _record_error(path, exc.strerror or "unreadable") from None
    if len(data) > _MAX_RECORD_BYTES:
        raise _record_error(path, "too large")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _record_error(path, "not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT:
        raise _record_error(path, f"format is not {RECORD_FORMAT!r}")
    version, sha, size = doc.get("version"), doc.get("sha256"), doc.get("size")
    key_id, at = doc.get("key_id"), doc.get("installed_at")
    if (doc.get("id") != bundle_id or not isinstance(version, str)
            or not _SEMVER.fullmatch(version) or not isinstance(sha, str)
            or isinstance(size, bool) or not isinstance(size, int)
            or not (key_id is None or isinstance(key_id, str))
            or not (at is None or isinstance(at, str))):
        raise _record_error(path, "a field is missing or has the wrong type")
    return InstalledBundle(bundle_id, version, library / f"{bundle_id}.exb", sha, size,
                           key_id, at, changed=False)


def installed(library_dir: str | os.PathLike[str], bundle_id: str) -> InstalledBundle | None:
    """The record of an installed bundle, or ``None`` if the library has none by that id.

    Raises:
        BundleError: the record exists but is damaged.
    """
    if not _ID.fullmatch(bundle_id):
        return None
    return _read_record(Path(library_dir), bundle_id)


def list_installed(library_dir: str | os.PathLike[str]) -> list[InstalledBundle]:
    """Every installed bundle with a record, sorted by id.

    Raises:
        BundleError: a record is damaged.
    """
    library = Path(library_dir)
    if not library.is_dir():
        return []
    out = []
    for p in sorted(library.glob("*.json")):
        rec = installed(library, p.stem)
        if rec is not None:
            out.append(rec)
    return out


# --------------------------------------------------------------------------- install


@contextlib.contextmanager
def _locked(library: Path) -> Iterator[None]:
    """Hold the library's lock file (POSIX only; elsewhere, one installer at a time)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with (library / ".lock").open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _copy_hashing(src: Path, dst_fd: int, limit: int) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with os.fdopen(dst_fd, "wb") as fout:
        try:
            fin = src.open("rb")
        except OSError as exc:
            raise BundleError(str(src), f"cannot read the bundle file ({exc.strerror})"
                              ) from None
        with fin:
            while True:
                try:
                    chunk = fin.read(_CHUNK)
                except OSError as exc:
                    raise BundleError(str(src), f"cannot read the bundle file "
                                      f"({exc.strerror})") from None
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise BundleError(str(src), f"file is larger than {limit} bytes, more "
                                      "than any bundle within the limits")
                h.update(chunk)
                fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest(), size


def _installed_version(library: Path, bundle_id: str, record: InstalledBundle | None
                       ) -> str | None:
    """The highest version the library holds for this id: record or ``.exb`` manifest."""
    version = record.version if record else None
    exb = library / f"{bundle_id}.exb"
    if exb.is_file():
        try:
            with Bundle.open(exb) as b:
                on_disk = b.manifest.version
        except ExhibitError:
            return version  # a damaged installed file claims nothing
        if version is None or compare_versions(on_disk, version) > 0:
            version = on_disk
    return version


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_copy(copy: Path, src: Path, trust: Sequence[PublicKey], require_signed: bool,
                limits: Limits) -> tuple[str, str, str | None]:
    """Validate the copy fully; errors name the source bundle. Returns id, version, key."""
    try:
        with Bundle.open(copy, limits) as b:
            key_id = b.check_signature(trust, require_signed)
            b.verify()
            m = b.manifest
    except BundleError as exc:
        raise BundleError(str(src), exc.rule, exc.entry) from None
    if not _ID.fullmatch(m.id):
        raise BundleError(str(src), "id cannot name a library file", "manifest.json: id")
    return m.id, m.version, key_id


def library_path(library_dir: str | os.PathLike[str], bundle_id: str, file: str) -> Path:
    """Where a node reads the bundle a show names (``bundle_id``, ``file``): the installed
    ``<id>.exb`` when the library has a record for it (installed by :func:`install`, e.g.
    fetched from the controller), else ``file`` in the folder (copied there by hand)."""
    library = Path(library_dir)
    if _ID.fullmatch(bundle_id) and (library / f"{bundle_id}.json").is_file():
        return library / f"{bundle_id}.exb"
    return library / file


def install(bundle_path: str | os.PathLike[str], library_dir: str | os.PathLike[str], *,
            trust: Sequence[PublicKey] = (), require_signed: bool = False,
            installed_at: str | None = None, limits: Limits = Limits(),
            move_sha256: str | None = None) -> InstalledBundle:
    """Check a bundle completely and install it into a library as ``<id>.exb``.

    Args:
        bundle_path: the ``.exb`` to install.
        library_dir: the library folder (made if missing).
        trust: public keys allowed to sign; a signature present must verify with one.
        require_signed: refuse a bundle without a trusted signature.
        installed_at: written into the record as given (e.g. an ISO 8601 time).
        limits: bounds on the bundle's sizes and counts.
        move_sha256: the source is a private file on the library's disk whose SHA-256
            the caller has just computed (a fetched download): it is moved in rather
            than copied, and consumed whatever the outcome. Checking is the same.

    Returns:
        What is installed now; ``changed`` is false if the same bundle already was.

    Raises:
        BundleError: the bundle is invalid, or installing it would roll back the
            installed bundle of the same id (e.g. ``version 1.0.0 is older than
            installed 1.2.0``); the library is left as it was.
    """
    src = Path(bundle_path)
    if not src.is_file():
        raise BundleError(str(src), "bundle file not found")
    library = Path(library_dir)
    try:
        library.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BundleError(str(library), f"cannot make the library folder "
                          f"({exc.strerror})") from None
    try:
        return _install(src, library, trust, require_signed, installed_at, limits,
                        move_sha256)
    except OSError as exc:  # the library's disk, not the bundle: full, read-only, ...
        raise BundleError(str(library), f"cannot write to the library ({exc.strerror or exc})"
                          ) from None


def _install(src: Path, library: Path, trust: Sequence[PublicKey], require_signed: bool,
             installed_at: str | None, limits: Limits,
             move_sha256: str | None = None) -> InstalledBundle:
    bound = (limits.max_total_bytes + limits.max_total_bytes // 64 + limits.max_manifest_bytes
             + 1024 * limits.max_entries + (1 << 16))
    with _locked(library):
        fd, tmp_name = tempfile.mkstemp(prefix=".install-", suffix=".exb.tmp", dir=library)
        tmp = Path(tmp_name)
        try:
            moved = False
            if move_sha256 is not None:
                os.close(fd)
                try:
                    os.replace(src, tmp)    # same disk: no second copy of a large download
                    moved = True
                except OSError:
                    fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
            if moved:
                sha, size = str(move_sha256), tmp.stat().st_size
                if size > bound:
                    raise BundleError(str(src), f"file is larger than {bound} bytes, more "
                                      "than any bundle within the limits")
            else:
                sha, size = _copy_hashing(src, fd, bound)
            bundle_id, version, key_id = _check_copy(tmp, src, trust, require_signed, limits)
            record = _read_record(library, bundle_id)
            current = _installed_version(library, bundle_id, record)
            target = library / f"{bundle_id}.exb"
            where = "manifest.json: version"
            if current is not None:
                order = compare_versions(version, current)
                if order < 0:
                    raise BundleError(str(src), f"version {version} is older than installed "
                                      f"{current} ({target})", where)
                if order == 0:
                    on_disk = file_sha256(target)
                    same = record is not None and record.version == version
                    if (same and record is not None and record.sha256 == sha == on_disk
                            and (key_id is None or record.key_id == key_id)):
                        return replace(record, previous=version, changed=False)
                    # The same bytes may come again: to restore a damaged file, or to
                    # finish an install cut off between its two renames.
                    if sha not in {on_disk, record.sha256 if same and record else None}:
                        raise BundleError(str(src), f"version {version} is already installed "
                                          f"with different content ({target}); give the new "
                                          "bundle a higher version", where)
                if record is not None and record.key_id and key_id is None:
                    raise BundleError(str(src), f"installed {bundle_id} {record.version} is "
                                      f"signed by key {record.key_id}; its replacement must "
                                      "verify with a trusted key", "manifest.sig")
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
            result = InstalledBundle(bundle_id, version, target, sha, size, key_id,
                                     installed_at, previous=current)
            _write_atomic(library / f"{bundle_id}.json", result.record_bytes())
            return result
        finally:
            tmp.unlink(missing_ok=True)


def file_sha256(path: Path) -> str | None:
    """SHA-256 of a file, read in 1 MiB chunks (``None``: it cannot be read)."""
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()
