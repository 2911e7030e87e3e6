"""Bundle distribution, the pure part: the catalogue, the wire messages, the rate limit and
a download's bookkeeping. The sockets are in :mod:`.transfer`; the wire is written out in
``docs/protocol.md`` §11.

- :class:`Entry`: one bundle as the controller offers it: id, version, size, the SHA-256 of
  the whole file and of each :data:`CHUNK_BYTES` chunk. :class:`Catalogue` keeps the
  entries of a show's bundles, hashed once and again only when a file changes on disk (a
  ``stat``).
- :func:`encode` / :func:`decode_request` / :func:`decode_reply`: msgpack maps with a
  version, every field type- and range-checked (a hostile frame is a
  :class:`~exhibit_engine.errors.ProtocolError`, never a crash).
- :class:`TokenBucket`: the server's rate limit (bytes per second, with a burst).
- :class:`Download`: which chunks of an entry a node holds, verified; the next ones to ask
  for; the whole-file hash, computed as verified chunks join the prefix.

Core: standard library, msgpack and the bundle model; no zmq.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from ..assets.bundle import Bundle
from ..assets.library import library_path
from ..config.show import ShowConfig
from ..errors import ExhibitError, ProtocolError

__all__ = ["CHUNK_BYTES", "Catalogue", "Download", "Entry", "FETCH_ROLES", "MAX_CHUNKS",
           "MAX_ENTRIES", "MAX_HEADER_BYTES", "SETTLED_STATES", "TRANSFER_NICE", "TRANSFER_VERSION",
           "TokenBucket", "WINDOW", "bucket_for", "decode_reply", "decode_request", "encode",
           "hash_file"]

#: The roles whose keys may fetch bundles.
FETCH_ROLES = ("projector", "kiosk")
#: The nice value of the transfer processes (:mod:`.distribution`): the sync loop, the
#: clock probes and the render loop always come first on a busy CPU, and never wait for
#: a transfer thread to hand back the GIL.
TRANSFER_NICE = 19
#: The states in which a bundle's fetch rests until the catalogue changes.
SETTLED_STATES = frozenset({"installed", "refused", "failed", "missing"})
#: The version of the transfer messages (``v`` in every map).
TRANSFER_VERSION = 1
#: Bytes per chunk (the last chunk of a file is shorter).
CHUNK_BYTES = 1 << 20
#: Chunk requests a fetcher keeps in flight (its credit, as in the ZeroMQ guide's
#: file-transfer pattern): enough to keep a LAN busy, little enough to bound memory.
WINDOW = 4
#: Most bundles one catalogue lists.
MAX_ENTRIES = 64
#: Most chunks of one bundle (4 GiB and a bit, the bundle size limit).
MAX_CHUNKS = 4200
#: Longest header map on the wire, in bytes (a catalogue of 64 large bundles fits).
MAX_HEADER_BYTES = 64 * (MAX_CHUNKS * 35 + 1024)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_MAX_TEXT = 400


def _hex(digest: bytes) -> str:
    return digest.hex()


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Entry:
    """One bundle file as the controller offers it.

    Attributes:
        id: the bundle id (the show's ``[[bundles]] id`` and the manifest's).
        version: its manifest's semantic version.
        size: the file's size in bytes.
        sha256: SHA-256 of the whole file (hex): what a library record keeps.
        chunks: SHA-256 of each :data:`CHUNK_BYTES` chunk, in order (32 bytes each).
    """

    id: str
    version: str
    size: int
    sha256: str
    chunks: tuple[bytes, ...]

    def chunk_size(self, index: int) -> int:
        """The length of chunk ``index``."""
        return min(CHUNK_BYTES, self.size - index * CHUNK_BYTES)

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "size": self.size,
                "sha256": self.sha256, "chunk_bytes": CHUNK_BYTES, "chunks": list(self.chunks)}

    @classmethod
    def from_wire(cls, raw: Any) -> Entry:
        if not isinstance(raw, dict):
            raise ProtocolError("a catalogue entry must be a map")
        bid, version, size, sha = (raw.get(k) for k in ("id", "version", "size", "sha256"))
        chunks = raw.get("chunks")
        if not isinstance(bid, str) or not _ID.fullmatch(bid):
            raise ProtocolError("catalogue entry: id must be a bundle id")
        if not isinstance(version, str) or not 0 < len(version) <= 64:
            raise ProtocolError(f"catalogue entry {bid!r}: version must be a string")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= (
                MAX_CHUNKS * CHUNK_BYTES):
            raise ProtocolError(f"catalogue entry {bid!r}: size out of range")
        if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
            raise ProtocolError(f"catalogue entry {bid!r}: sha256 must be 64 hex digits")
        if raw.get("chunk_bytes") != CHUNK_BYTES:
            raise ProtocolError(f"catalogue entry {bid!r}: chunk_bytes must be {CHUNK_BYTES}")
        want = -(-size // CHUNK_BYTES)
        if (not isinstance(chunks, list) or len(chunks) != want
                or not all(isinstance(c, bytes) and len(c) == 32 for c in chunks)):
            raise ProtocolError(f"catalogue entry {bid!r}: chunks must be {want} SHA-256 "
                                "digests of 32 bytes")
        return cls(bid, version, size, sha, tuple(chunks))


def hash_file(path: Path) -> tuple[int, str, tuple[bytes, ...]]:
    """(size, whole-file SHA-256 hex, chunk digests) of a file, read once."""
    whole = hashlib.sha256()
    chunks = []
    size = 0
    with path.open("rb") as f:
        while data := f.read(CHUNK_BYTES):
            whole.update(data)
            chunks.append(hashlib.sha256(data).digest())
            size += len(data)
    return size, whole.hexdigest(), tuple(chunks)


_Identity = tuple[int, int, int, int]


@dataclass
class _Scanned:
    identity: _Identity
    entry: Entry | None
    problem: str | None


class Catalogue:
    """The show's bundles as the controller offers them, from its bundle folder.

    Each file is hashed when first seen and again only when its ``stat`` identity
    (device, inode, size, modification time) changes, so a bundle replaced on the
    controller is offered in its new version at the next :meth:`refresh`.

    Args:
        show: the show whose ``[[bundles]]`` are offered.
        folder: the controller's bundle folder.
    """

    def __init__(self, show: ShowConfig, folder: str | os.PathLike[str]) -> None:
        self.show, self.folder = show, Path(folder)
        self._scanned: dict[str, _Scanned] = {}
        self._paths: dict[str, Path] = {}

    def refresh(self) -> bool:
        """Look at every bundle file again (a ``stat`` each; a changed one is read and
        hashed). Returns whether anything changed."""
        changed = False
        for ref in self.show.bundles:
            path = library_path(self.folder, ref.id, ref.file)
            try:
                st = os.stat(path)
                ident = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            except OSError:
                ident = (0, 0, -1, 0)
            old = self._scanned.get(ref.id)
            if old is not None and old.identity == ident and self._paths.get(ref.id) == path:
                continue
            changed = True
            self._paths[ref.id] = path
            self._scanned[ref.id] = self._scan(ref.id, path, ident)
        return changed

    def _scan(self, bundle_id: str, path: Path, ident: _Identity) -> _Scanned:
        if ident[2] < 0:
            return _Scanned(ident, None, f"bundle file {str(path)!r} not found")
        try:
            with Bundle.open(path) as b:
                version, mid = b.manifest.version, b.manifest.id
            if mid != bundle_id:
                return _Scanned(ident, None, f"{path}: manifest id is {mid!r}, the show "
                                f"names {bundle_id!r}")
            size, sha, chunks = hash_file(path)
        except ExhibitError as exc:
            return _Scanned(ident, None, str(exc))
        except OSError as exc:
            return _Scanned(ident, None, f"{path}: cannot be read ({exc.strerror or exc})")
        if size == 0 or len(chunks) > MAX_CHUNKS:
            return _Scanned(ident, None, f"{path}: size {size} is out of range")
        return _Scanned(ident, Entry(bundle_id, version, size, sha, chunks), None)

    @property
    def entries(self) -> list[Entry]:
        """The bundles offered now, in show order."""
        return [s.entry for r in self.show.bundles
                if (s := self._scanned.get(r.id)) is not None and s.entry is not None]

    @property
    def problems(self) -> dict[str, str]:
        """Bundle id -> why it is not offered (missing or unusable on the controller)."""
        return {k: s.problem for k, s in self._scanned.items() if s.problem}

    def path_of(self, sha256: str) -> tuple[Entry, Path] | None:
        """The entry offered with this whole-file hash and its file, or ``None``."""
        for bundle_id, s in self._scanned.items():
            if s.entry is not None and s.entry.sha256 == sha256:
                return s.entry, self._paths[bundle_id]
        return None


# --------------------------------------------------------------------------- wire


def encode(body: Mapping[str, Any]) -> bytes:
    """One header frame: ``body`` with the version."""
    return msgpack.packb({"v": TRANSFER_VERSION, **body}, use_bin_type=True)


def _map(frame: bytes, who: str) -> dict[str, Any]:
    if len(frame) > MAX_HEADER_BYTES:
        raise ProtocolError(f"{who}: header of {len(frame)} bytes is too long")
    try:
        body = msgpack.unpackb(frame, raw=False, strict_map_key=True, max_bin_len=1 << 20,
                               max_array_len=MAX_CHUNKS + 64, max_map_len=64,
                               max_str_len=1 << 16)
    except (ValueError, TypeError, msgpack.ExtraData, msgpack.FormatError,
            msgpack.StackError, RecursionError):
        raise ProtocolError(f"{who}: not a msgpack map") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"{who}: not a msgpack map")
    if body.get("v") != TRANSFER_VERSION:
        raise ProtocolError(f"{who}: transfer version {body.get('v')!r} is not "
                            f"{TRANSFER_VERSION}")
    if not isinstance(body.get("type"), str):
        raise ProtocolError(f"{who}: type must be a string")
    return body


def decode_request(frames: Sequence[bytes]) -> dict[str, Any]:
    """A fetcher's request: ``{"type": "list"}`` or ``{"type": "chunk", "sha256": hex,
    "index": n}``.

    Raises:
        ProtocolError: anything else (the server answers ``error`` and goes on).
    """
    if len(frames) != 1:
        raise ProtocolError(f"a request is one frame, not {len(frames)}")
    body = _map(frames[0], "request")
    kind = body["type"]
    if kind == "list":
        return {"type": "list"}
    if kind == "chunk":
        sha, index = body.get("sha256"), body.get("index")
        if not isinstance(sha, str) or not _HEX64.fullmatch(sha):
            raise ProtocolError("chunk request: sha256 must be 64 hex digits")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < MAX_CHUNKS:
            raise ProtocolError(f"chunk request: index must be an integer from 0 to "
                                f"{MAX_CHUNKS - 1}")
        return {"type": "chunk", "sha256": sha, "index": index}
    raise ProtocolError(f"unknown request type {kind[:40]!r} (list, chunk)")


def decode_reply(frames: Sequence[bytes | memoryview]) -> dict[str, Any]:
    """A server's reply: ``list`` (``entries``: :class:`Entry` list, ``missing``: id ->
    reason), ``chunk`` (``sha256``, ``index``, ``data``) or ``error`` (``reason``).

    Raises:
        ProtocolError: a reply that breaks a rule.
    """
    if not 1 <= len(frames) <= 2:
        raise ProtocolError(f"a reply is one or two frames, not {len(frames)}")
    body = _map(bytes(frames[0]), "reply")
    kind = body["type"]
    if kind == "list":
        raw = body.get("bundles")
        if not isinstance(raw, list) or len(raw) > MAX_ENTRIES:
            raise ProtocolError(f"list reply: bundles must be a list of at most "
                                f"{MAX_ENTRIES}")
        missing = body.get("missing", {})
        if not isinstance(missing, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in missing.items()):
            raise ProtocolError("list reply: missing must map ids to reasons")
        return {"type": "list", "entries": [Entry.from_wire(e) for e in raw],
                "missing": {k[:64]: v[:_MAX_TEXT] for k, v in missing.items()}}
    if kind == "chunk":
        sha, index = body.get("sha256"), body.get("index")
        if (len(frames) != 2 or not isinstance(sha, str) or not _HEX64.fullmatch(sha)
                or isinstance(index, bool) or not isinstance(index, int)
                or not 0 <= index < MAX_CHUNKS or len(frames[1]) > CHUNK_BYTES):
            raise ProtocolError("chunk reply: a header (sha256, index) and at most "
                                f"{CHUNK_BYTES} bytes of data")
        return {"type": "chunk", "sha256": sha, "index": index, "data": frames[1]}
    if kind == "error":
        reason = body.get("reason")
        return {"type": "error", "reason": str(reason)[:_MAX_TEXT],
                "sha256": body.get("sha256") if isinstance(body.get("sha256"), str) else None,
                "index": body.get("index") if isinstance(body.get("index"), int) else None}
    raise ProtocolError(f"unknown reply type {kind[:40]!r}")


# --------------------------------------------------------------------------- rate


class TokenBucket:
    """A rate limit: ``rate`` bytes per second on average, bursts of up to ``burst``.

    Args:
        rate: bytes per second; 0 or less: no limit.
        burst: the most bytes sent at once after an idle spell.
        now: the clock reading at creation.
    """

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, now

    def wait(self, size: int, now: float) -> float:
        """Seconds until ``size`` bytes may go (0: now; then they are taken)."""
        if self.rate <= 0:
            return 0.0
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        need = min(size, self.burst)
        if self.tokens >= need:
            self.tokens -= size
            return 0.0
        return (need - self.tokens) / self.rate


# --------------------------------------------------------------------------- download


@dataclass
class Download:
    """One bundle being fetched into a partial file: what is held and verified.

    Args:
        entry: what is fetched.
        path: the partial file (on the library's disk).

    Attributes:
        done: indexes of chunks written and verified.
        asked: indexes asked for and not yet answered.
        corrupt: chunks that arrived and failed their hash (each was asked again).
        resumed: bytes that were already in the partial file and verified.
    """

    entry: Entry
    path: Path
    done: set[int] = field(default_factory=set)
    asked: set[int] = field(default_factory=set)
    retries: dict[int, int] = field(default_factory=dict)
    corrupt: int = 0
    resumed: int = 0
    _prefix: int = 0
    _whole: Any = field(default_factory=hashlib.sha256)

    MAX_RETRIES = 5

    @property
    def total(self) -> int:
        return len(self.entry.chunks)

    @property
    def bytes_done(self) -> int:
        return sum(self.entry.chunk_size(i) for i in self.done)

    @property
    def complete(self) -> bool:
        return len(self.done) == self.total

    def resume(self, fd: int) -> None:
        """Verify what an earlier run left in the partial file (``fd`` open on it)."""
        size = os.fstat(fd).st_size
        for i in range(self.total):
            n = self.entry.chunk_size(i)
            if i * CHUNK_BYTES + n > size:
                break
            data = os.pread(fd, n, i * CHUNK_BYTES)
            if len(data) != n or hashlib.sha256(data).digest() != self.entry.chunks[i]:
                continue
            self.done.add(i)
            self.resumed += n
        self._advance(fd, None)

    def to_ask(self, credit: int) -> list[int]:
        """The next chunk indexes to ask for, at most ``credit`` in flight."""
        out: list[int] = []
        i = 0
        while len(self.asked) + len(out) < credit and i < self.total:
            if i not in self.done and i not in self.asked and i not in out:
                out.append(i)
            i += 1
        self.asked.update(out)
        return out

    def accept(self, fd: int, index: int, data: bytes | memoryview) -> bool:
        """A chunk arrived: verify it, write it at its place. Returns whether it was
        good; a bad one is asked again (:meth:`to_ask`) up to :attr:`MAX_RETRIES` times.

        Raises:
            ProtocolError: a chunk failed its hash :attr:`MAX_RETRIES` times.
        """
        self.asked.discard(index)
        if index >= self.total or index in self.done:
            return index < self.total       # a late duplicate: nothing to do
        if (len(data) != self.entry.chunk_size(index)
                or hashlib.sha256(data).digest() != self.entry.chunks[index]):
            self.corrupt += 1
            self.retries[index] = self.retries.get(index, 0) + 1
            if self.retries[index] >= self.MAX_RETRIES:
                raise ProtocolError(f"bundle {self.entry.id!r}: chunk {index} failed its "
                                    f"SHA-256 {self.retries[index]} times")
            return False
        os.pwrite(fd, data, index * CHUNK_BYTES)
        self.done.add(index)
        self._advance(fd, (index, data))
        return True

    def _advance(self, fd: int, fresh: tuple[int, bytes | memoryview] | None) -> None:
        """Hash the verified prefix on: the chunk just written from memory, the others
        (arrived out of order, or resumed) read back from the file."""
        while self._prefix in self.done:
            if fresh is not None and fresh[0] == self._prefix:
                data = fresh[1]
            else:
                data = os.pread(fd, self.entry.chunk_size(self._prefix),
                                self._prefix * CHUNK_BYTES)
            self._whole.update(data)
            self._prefix += 1

    def whole_ok(self) -> bool:
        """All chunks are in and the whole file's SHA-256 is the catalogue's."""
        return self.complete and self._whole.hexdigest() == self.entry.sha256


def bucket_for(rate_mbps: float, now: float) -> TokenBucket:
    """The server's bucket for a rate in megabits per second (0: unlimited); bursts of
    :data:`WINDOW` chunks."""
    rate = rate_mbps * 1e6 / 8.0 if rate_mbps > 0 and math.isfinite(rate_mbps) else 0.0
    return TokenBucket(rate, WINDOW * CHUNK_BYTES, now)
