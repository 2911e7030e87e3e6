"""A content-addressed cache of converted models (Panda3D BAM), checked before every load.

Converting a GLB with panda3d-gltf costs tens to hundreds of milliseconds per model;
decoding the same model from BAM costs a few. Every node of a wall converts the same
bundle, and converts it again after each restart, so the runtime keeps the BAM.

Why not Panda3D's own model cache: it keys entries by file name and timestamp, so a
model replaced by another with the same name is served stale; and a truncated BAM
hangs Panda3D's file loader. Here the key is the content, and a file path is never
handed to a Panda3D loader: entries are read into memory, checked, then decoded.

Layout::

    <root>/                 default_cache_dir(): $EXHIBIT_CACHE_DIR, else
                            $XDG_CACHE_HOME/exhibit-engine, else ~/.cache/exhibit-engine
      models/<k2>/<key>.bamc

``key`` is the SHA-256 of the asset's SHA-256, the panda3d and panda3d-gltf versions
and :data:`CACHE_FORMAT` (bumped whenever :func:`~exhibit_engine.scenes.base.load_glb`
changes what it makes), so a new converter never reads an old conversion. ``k2`` is
the key's first two hex digits. An entry file is a 48-byte header and the BAM stream::

    offset  size  field
         0     8  magic  b"EEBAMC\\x00\\x01"
         8     8  payload size in bytes, uint64 little-endian
        16    32  payload SHA-256 (raw digest)
        48     …  payload: a BAM stream as NodePath.encode_to_bam_stream writes it,
                  textures stored as raw data (never as file references)

Writes go to a temporary file in the same folder, are fsynced and renamed into place
(``os.replace``), so two processes filling one cache never see each other's half
files; the last rename wins and both wrote the same model. A read checks magic, size
and SHA-256 before a byte reaches Panda3D; an entry that fails is deleted (with a
warning in the log) and rebuilt. Every hit touches the entry's mtime; when the cache
grows past ``max_bytes`` the least recently used entries are deleted.

The cache is an optimisation and never stops a show: if the folder cannot be written,
the model is converted and used, and a warning is logged. Keep the folder private to
the user running the show (it is created 0700): whoever can write it chooses what the
wall draws.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from panda3d.core import BamEnums, BamWriter, Datagram, DatagramBuffer, NodePath, PandaSystem

from ..errors import AssetError
from ..scenes.base import load_glb

if TYPE_CHECKING:
    from ..assets.bundle import Bundle

__all__ = ["CACHE_FORMAT", "CacheStats", "Converter", "DEFAULT_MAX_BYTES", "ENV_CACHE_DIR",
           "ModelCache", "converter_versions", "decode_bam", "default_cache_dir", "encode_bam"]

log = logging.getLogger(__name__)

#: Our part of the cache key: bump when load_glb's output changes for the same input.
CACHE_FORMAT = 2
#: Environment variable naming the cache folder (overrides the XDG default).
ENV_CACHE_DIR = "EXHIBIT_CACHE_DIR"
#: Default bound on the models folder; least recently used entries go first.
DEFAULT_MAX_BYTES = 2 << 30

_MAGIC = b"EEBAMC\x00\x01"
_HEADER = struct.Struct("<8sQ32s")
_BAM_HEADER = b"pbj\x00\n\r"       # Panda3D's BAM stream magic
_SUFFIX = ".bamc"
_STALE_TMP_S = 3600.0               # a temporary file this old belongs to a dead writer

#: A converter: (GLB bytes, asset name) -> a new, unparented model.
Converter = Callable[[bytes, str], NodePath]


def default_cache_dir() -> Path:
    """Where the runtime keeps its cache unless told otherwise.

    ``$EXHIBIT_CACHE_DIR`` if set and non-empty, else ``$XDG_CACHE_HOME/exhibit-engine``,
    else ``~/.cache/exhibit-engine``.
    """
    env = os.environ.get(ENV_CACHE_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "exhibit-engine"


def converter_versions() -> dict[str, str]:
    """The versions that make up the cache key besides the asset's hash."""
    try:
        gltf_version = metadata.version("panda3d-gltf")
    except metadata.PackageNotFoundError:  # pragma: no cover - a vendored copy
        from gltf.version import __version__ as gltf_version
    return {"panda3d": PandaSystem.get_version_string(), "panda3d-gltf": gltf_version,
            "format": str(CACHE_FORMAT)}


def encode_bam(model: NodePath) -> bytes:
    """A model as a BAM stream in memory, with every texture's pixels embedded.

    The same bytes as ``model.encode_to_bam_stream()``, except that the writer is told
    to store textures as raw data even if one carries a file name, so decoding never
    reads another file.

    Raises:
        AssetError: Panda3D could not write the model.
    """
    buf = DatagramBuffer()
    writer = BamWriter(buf)
    writer.set_file_texture_mode(BamEnums.BTM_rawdata)
    writer.set_root_node(model.node())
    head = Datagram()
    head.add_uint8(0)       # NodePath error type: ET_ok
    head.add_int32(1)       # one node on the path: the model's root
    if not (writer.init() and buf.put_datagram(head) and writer.write_object(model.node())):
        raise AssetError(model.get_name(), "Panda3D could not encode the model as BAM")
    return _BAM_HEADER + bytes(buf.data)


def decode_bam(payload: bytes, name: str) -> NodePath:
    """A model from BAM bytes already checked against their recorded SHA-256.

    Raises:
        AssetError: Panda3D could not decode them (a BAM from another build).
    """
    try:
        model = NodePath.decode_from_bam_stream(payload)
    except (AssertionError, ValueError, TypeError, RuntimeError) as exc:
        raise AssetError(name, f"cached BAM does not decode ({exc})") from None
    if model.is_empty():
        raise AssetError(name, "cached BAM does not decode (empty)")
    return model


@dataclass
class CacheStats:
    """What a :class:`ModelCache` did since it was made.

    Attributes:
        hits: loads served from a checked entry.
        misses: loads that had to convert (no entry, or a bad one).
        rebuilt: entries found damaged (truncated, corrupted, undecodable) and replaced.
        written: entries written.
        evicted: entries deleted to stay under the size bound.
        write_failures: entries that could not be written (the model was still used).
    """

    hits: int = 0
    misses: int = 0
    rebuilt: int = 0
    written: int = 0
    evicted: int = 0
    write_failures: int = 0


class _Damaged(Exception):
    """An entry failed its check; the message says how."""


class ModelCache:
    """Converted models on disk, keyed by content and converter versions.

    Args:
        root: the cache folder (models go to ``root/models``); created on first write.
        max_bytes: bound on the models folder; ``None`` for no bound.
        convert: the uncached converter (default
            :func:`~exhibit_engine.scenes.base.load_glb`).

    Attributes:
        root: the cache folder.
        stats: counters (see :class:`CacheStats`).

    Not thread-safe (Panda3D scene building is single-threaded); safe across
    processes sharing one folder.
    """

    def __init__(self, root: str | os.PathLike[str], *, max_bytes: int | None = DEFAULT_MAX_BYTES,
                 convert: Converter = load_glb) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.stats = CacheStats()
        self._convert = convert
        versions = converter_versions()
        self._salt = ("exhibit-model-cache\0" + "\0".join(
            f"{k}={versions[k]}" for k in sorted(versions))).encode()

    @classmethod
    def default(cls) -> ModelCache:
        """The cache at :func:`default_cache_dir`."""
        return cls(default_cache_dir())

    @property
    def models_dir(self) -> Path:
        """The folder holding the entries."""
        return self.root / "models"

    # -- keys -------------------------------------------------------------------

    def key(self, asset_sha256: str) -> str:
        """The entry key for an asset's SHA-256 (hex) under this converter."""
        return hashlib.sha256(self._salt + b"\0" + asset_sha256.encode("ascii")).hexdigest()

    def entry_path(self, asset_sha256: str) -> Path:
        """Where the entry for an asset lives (whether or not it exists)."""
        key = self.key(asset_sha256)
        return self.models_dir / key[:2] / f"{key}{_SUFFIX}"

    # -- loading ----------------------------------------------------------------

    def load(self, data: bytes, name: str) -> NodePath:
        """A model for these GLB bytes: from the cache, or converted and cached.

        Args:
            data: the GLB bytes.
            name: the asset's name (errors, the model's name).

        Raises:
            AssetError: the GLB cannot be converted.
        """
        return self.fetch(hashlib.sha256(data).hexdigest(), name, lambda: data)

    def fetch(self, asset_sha256: str, name: str, read: Callable[[], bytes]) -> NodePath:
        """A model for the asset with this SHA-256; its bytes are read only on a miss.

        A hit uses a conversion of bytes that had this SHA-256, so a caller holding a
        verified manifest (the asset's hash) need not read the asset at all.

        Args:
            asset_sha256: the asset's SHA-256, lower-case hex.
            name: the asset's name; the returned model's root is named after its stem.
            read: returns the asset's bytes (called on a miss only).

        Returns:
            A new, unparented model; each call decodes its own copy.

        Raises:
            AssetError: the bytes ``read`` returns do not have this SHA-256, or cannot
                be converted.
            BundleError: from ``read``.
        """
        path = self.entry_path(asset_sha256)
        stem = Path(name).stem
        try:
            payload = self._read_entry(path)
        except _Damaged as why:
            log.warning("model cache: %s for %s is damaged (%s); rebuilding", path.name,
                        name, why)
            self.stats.rebuilt += 1
            _unlink(path)
            payload = None
        if payload is not None:
            try:
                model = decode_bam(payload, name)
            except AssetError as exc:
                log.warning("model cache: %s; rebuilding", exc)
                self.stats.rebuilt += 1
                _unlink(path)
            else:
                self.stats.hits += 1
                _touch(path)
                model.set_name(stem)
                return model
        self.stats.misses += 1
        data = read()
        if hashlib.sha256(data).hexdigest() != asset_sha256:
            raise AssetError(name, "bytes do not match the SHA-256 they were cached under")
        payload = encode_bam(self._convert(data, name))
        self._write_entry(path, payload, name)
        # Hand out the decoded BAM, not the converter's tree, so a node that converted
        # draws exactly what a node that hit the cache draws.
        model = decode_bam(payload, name)
        model.set_name(stem)
        return model

    def loader_for(self, bundle: Bundle) -> Callable[[str], NodePath]:
        """A ``load_model(path)`` for :class:`~exhibit_engine.scenes.base.SceneContext`.

        Keys come from the bundle's manifest; the asset is read (and its hash checked)
        only on a miss.
        """
        def load_model(path: str) -> NodePath:
            entry = bundle.manifest.file(path)
            if entry is None:
                return load_glb(bundle.read(path), path)   # raises BundleError
            return self.fetch(entry.sha256, path, lambda: bundle.read(path))

        return load_model

    # -- entries ----------------------------------------------------------------

    @staticmethod
    def _read_entry(path: Path) -> bytes | None:
        """The checked payload of an entry, ``None`` if absent; raises _Damaged."""
        try:
            with path.open("rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _Damaged(f"unreadable: {exc}") from None
        if len(raw) < _HEADER.size:
            raise _Damaged(f"truncated header ({len(raw)} bytes)")
        magic, size, digest = _HEADER.unpack_from(raw)
        if magic != _MAGIC:
            raise _Damaged("not a cache entry (bad magic)")
        if len(raw) - _HEADER.size != size:
            raise _Damaged(f"payload is {len(raw) - _HEADER.size} bytes, header says {size}")
        payload = raw[_HEADER.size:]
        if hashlib.sha256(payload).digest() != digest:
            raise _Damaged("payload SHA-256 does not match")
        return payload

    def _write_entry(self, path: Path, payload: bytes, name: str) -> None:
        """Write an entry atomically; a failure is logged, never raised."""
        head = _HEADER.pack(_MAGIC, len(payload), hashlib.sha256(payload).digest())
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.parent.mkdir(exist_ok=True, mode=0o700)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(head)
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            _fsync_dir(path.parent)
        except OSError as exc:
            self.stats.write_failures += 1
            log.warning("model cache: cannot write the entry for %s in %s (%s); "
                        "using the model uncached", name, self.root, exc)
            return
        finally:
            _unlink(tmp)
        self.stats.written += 1
        if self.max_bytes is not None:
            self.prune(self.max_bytes)

    # -- housekeeping -----------------------------------------------------------

    def entries(self) -> list[tuple[Path, int, float]]:
        """Every entry as (path, size in bytes, mtime), oldest use first."""
        found: list[tuple[Path, int, float]] = []
        if not self.models_dir.is_dir():
            return found
        now = time.time()
        for sub in self.models_dir.iterdir():
            if not sub.is_dir():
                continue
            for p in sub.iterdir():
                try:
                    st = p.stat()
                except OSError:
                    continue        # deleted by another process meanwhile
                if p.suffix == _SUFFIX:
                    found.append((p, st.st_size, st.st_mtime))
                elif p.name.endswith(".tmp") and now - st.st_mtime > _STALE_TMP_S:
                    _unlink(p)      # left behind by a writer that died
        found.sort(key=lambda e: e[2])
        return found

    def size_bytes(self) -> int:
        """The bytes the entries take."""
        return sum(size for _, size, _ in self.entries())

    def prune(self, max_bytes: int) -> int:
        """Delete least recently used entries until the rest fit in ``max_bytes``.

        Returns:
            How many entries were deleted.
        """
        entries = self.entries()
        total = sum(size for _, size, _ in entries)
        gone = 0
        for path, size, _ in entries:
            if total <= max_bytes:
                break
            _unlink(path)
            total -= size
            gone += 1
        self.stats.evicted += gone
        return gone

    def clear(self) -> int:
        """Delete every entry; returns how many."""
        return self.prune(0)


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("model cache: cannot delete %s (%s)", path, exc)


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass    # deleted or read-only: recency is only a hint for eviction


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
