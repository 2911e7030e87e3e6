"""Bundle distribution (sync/transfer.py) with a real server and fetchers on 127.0.0.1.

A fetcher with an empty library fetches every bundle of the show (a 100 MB one among
them), verifies and installs it; a chunk corrupted in transit is detected and fetched
again; a bundle signed by an untrusted key is refused and reported; an older version is
never fetched over a newer one; a fetch cut off resumes from its verified chunks; a
hostile frame gets an error and the server serves on; CURVE admits only fetch roles.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import msgpack
import pytest
import zmq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exhibit_engine.assets.library import installed
from exhibit_engine.assets.signing import public_key_of, sign_manifest
from exhibit_engine.bench.transfer import make_bundle as bench_bundle
from exhibit_engine.config.show import BundleRef, ShowConfig
from exhibit_engine.sync._transfer_core import (CHUNK_BYTES, Catalogue, Download, Entry,
                                                TokenBucket, decode_reply, decode_request,
                                                encode)
from exhibit_engine.sync.transfer import Fetcher, TransferServer
from exhibit_engine.errors import ProtocolError

BIG = 100 * 1024 * 1024


def make_bundle(path: Path, bundle_id: str, version: str = "1.0.0", *, size: int = 4096,
                seed: int = 0, key: Ed25519PrivateKey | None = None) -> Path:
    """A valid bundle holding one incompressible file of ``size`` bytes (stored)."""
    sign = (lambda m: sign_manifest(m, key)) if key is not None else None
    return bench_bundle(path, bundle_id, size, version=version, seed=seed, sign=sign)


def show_of(*ids: str) -> ShowConfig:
    return ShowConfig("t", {"en": "T"}, tuple(BundleRef(i, f"{i}.exb") for i in ids), ())


@pytest.fixture(scope="module")
def big_exb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 100 MB bundle, made once for the module."""
    return make_bundle(tmp_path_factory.mktemp("big") / "archive.exb", "archive", size=BIG)


@pytest.fixture
def serve() -> Iterator[Callable[..., TransferServer]]:
    servers: list[TransferServer] = []

    def start(show: ShowConfig, folder: Path, **kw: object) -> TransferServer:
        s = TransferServer(show, folder, "127.0.0.1", 0, **kw)  # type: ignore[arg-type]
        servers.append(s.start())
        return s

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def fetch() -> Iterator[Callable[..., Fetcher]]:
    fetchers: list[Fetcher] = []

    def start(show: ShowConfig, library: Path, server: TransferServer, **kw: object) -> Fetcher:
        f = Fetcher(show, library, "127.0.0.1", server.port, poll_s=0.2, **kw)  # type: ignore[arg-type]
        fetchers.append(f.start())
        return f

    yield start
    for f in fetchers:
        f.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_empty_library_fetches_every_bundle_of_the_show_a_100_mb_one_too(
        tmp_path: Path, big_exb: Path, serve: Callable[..., TransferServer],
        fetch: Callable[..., Fetcher]) -> None:
    ctl = tmp_path / "controller"
    ctl.mkdir()
    os.link(big_exb, ctl / "archive.exb")
    make_bundle(ctl / "small.exb", "small")
    show = show_of("small", "archive")
    server = serve(show, ctl)
    lib = tmp_path / "node"
    f = fetch(show, lib, server)
    assert f.wait_settled(120.0), f.progress()
    progress = f.progress()
    assert {k: p["state"] for k, p in progress.items()} == {"small": "installed",
                                                            "archive": "installed"}
    assert progress["archive"]["done"] == progress["archive"]["size"] > BIG
    for bundle_id in ("small", "archive"):
        rec = installed(lib, bundle_id)
        assert rec is not None and rec.sha256 == _sha(ctl / f"{bundle_id}.exb")
        assert rec.path.read_bytes() == (ctl / f"{bundle_id}.exb").read_bytes()
    assert not list((lib / ".fetch").glob("*.part"))
    assert sorted(f.take_installed()) == ["archive", "small"]
    assert f.counts["corrupt_chunks"] == 0
    assert server.summary()["bytes_sent"] >= BIG


def test_a_chunk_corrupted_in_transit_is_detected_and_fetched_again(
        tmp_path: Path, serve: Callable[..., TransferServer],
        fetch: Callable[..., Fetcher]) -> None:
    ctl = tmp_path / "controller"
    ctl.mkdir()
    make_bundle(ctl / "b.exb", "b", size=5 * CHUNK_BYTES + 123)
    hits: list[int] = []

    def mangle(sha: str, index: int, data: bytes) -> bytes:
        if index == 2 and not hits:     # the first time chunk 2 goes out, one bit flips
            hits.append(index)
            return data[:100] + bytes([data[100] ^ 1]) + data[101:]
        return data

    show = show_of("b")
    server = serve(show, ctl, mangle=mangle)
    f = fetch(show, tmp_path / "node", server)
    assert f.wait_settled(30.0)
    assert hits == [2] and f.counts["corrupt_chunks"] == 1
    rec = installed(tmp_path / "node", "b")
    assert rec is not None and rec.sha256 == _sha(ctl / "b.exb")


def test_a_chunk_that_is_always_corrupt_is_never_installed(
        tmp_path: Path, serve: Callable[..., TransferServer],
        fetch: Callable[..., Fetcher]) -> None:
    ctl = tmp_path / "controller"
    ctl.mkdir()
    make_bundle(ctl / "b.exb", "b", size=3 * CHUNK_BYTES)
    show = show_of("b")
    server = serve(show, ctl, mangle=lambda sha, i, d: d[:-1] + b"\0" if i == 1 else d)
    f = fetch(show, tmp_path / "node", server)
    assert f.wait_settled(30.0)
    p = f.progress()["b"]
    assert p["state"] == "failed" and "chunk 1 failed its SHA-256" in p["error"]
    assert installed(tmp_path / "node", "b") is None
    assert not (tmp_path / "node" / "b.exb").exists()


def test_a_bundle_signed_by_an_untrusted_key_is_refused_and_reported(
        tmp_path: Path, serve: Callable[..., TransferServer],
        fetch: Callable[..., Fetcher]) -> None:
    ctl = tmp_path / "controller"
    ctl.mkdir()
    curator, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    make_bundle(ctl / "good.exb", "good", key=curator)
    make_bundle(ctl / "bad.exb", "bad", key=stranger)
    show = show_of("good", "bad")
    server = serve(show, ctl)
    lib = tmp_path / "node"
    f = fetch(show, lib, server, trust=[public_key_of(curator, "curator")],
              require_signed=True)
    assert f.wait_settled(30.0)
    p = f.progress()
    assert p["good"]["state"] == "installed"
    assert p["bad"]["state"] == "refused"
    stranger_id = public_key_of(stranger).key_id
    assert stranger_id in p["bad"]["error"] and "bad.exb" not in os.listdir(lib)
    assert installed(lib, "bad") is None
    assert not list((lib / ".fetch").glob("*.part"))   # nothing half-written is left
    # It is not fetched again every round.
    sent = server.summary()["chunks_sent"]
    f.wait_settled(5.0)
    assert server.summary()["chunks_sent"] == sent


def test_an_older_version_is_not_fetched_over_a_newer_one(
        tmp_path: Path, serve: Callable[..., TransferServer],
        fetch: Callable[..., Fetcher]) -> None:
    from exhibit_engine.assets.library import install

    lib = tmp_path / "node"
    install(make_bundle(tmp_path / "new.exb", "b", "2.0.0"), lib)
    ctl = tmp_path / "controller"
    ctl.mkdir()
    make_bundle(ctl / "b.exb", "b", "1.0.0", seed=1)
    show = show_of("b")
    server = serve(show, ctl)
    f = fetch(show, lib, server)
    assert f.wait_settled(30.0)
    p = f.progress()["b"]
    assert p["state"] == "refused" and "older than installed 2.0.0" in p["error"]
    assert installed(lib, "b").version == "2.0.0"  # type: ignore[union-attr]
    assert server.summary()["chunks_sent"] == 0


def test_a_new_version_on_the_controller_reaches_the_node(
        tmp_path: Path, serve: Callable[..., TransferServer],
        fetch: Callable[..., Fetcher]) -> None:
    ctl = tmp_path / "controller"
    ctl.mkdir()
    make_bundle(ctl / "b.exb", "b", "1.0.0")
    show = show_of("b")
    server = serve(show, ctl)
    lib = tmp_path / "node"
    f = fetch(show, lib, server)
    assert f.wait_settled(30.0) and installed(lib, "b").version == "1.0.0"  # type: ignore[union-attr]
    f.take_installed()
    tmp = make_bundle(tmp_path / "b2.exb", "b", "1.1.0", seed=2)
    os.replace(tmp, ctl / "b.exb")
    # A round that began before the swap may end after it: wait for the one after.
    for _ in range(50):
        if f.wait_settled(30.0) and f.progress()["b"].get("version") == "1.1.0":
            break
    assert installed(lib, "b").version == "1.1.0"  # type: ignore[union-attr]
    assert "b" in f.take_installed()


def test_a_fetch_cut_off_resumes_from_its_verified_chunks(
        tmp_path: Path, serve: Callable[..., TransferServer],
        fetch: Callable[..., Fetcher]) -> None:
    ctl = tmp_path / "controller"
    ctl.mkdir()
    exb = make_bundle(ctl / "b.exb", "b", size=12 * CHUNK_BYTES)
    show = show_of("b")
    server = serve(show, ctl)
    cat = Catalogue(show, ctl)
    cat.refresh()
    entry = cat.entries[0]
    # What a fetch cut off after 7 chunks leaves: the first 7 chunks, the 8th torn.
    parts = tmp_path / "node" / ".fetch"
    parts.mkdir(parents=True)
    raw = exb.read_bytes()
    (parts / f"b-{entry.sha256[:16]}.part").write_bytes(raw[:7 * CHUNK_BYTES + 999])
    f = fetch(show, tmp_path / "node", server)
    assert f.wait_settled(30.0)
    assert f.counts["bytes_resumed"] == 7 * CHUNK_BYTES
    assert server.summary()["chunks_sent"] == len(entry.chunks) - 7
    assert installed(tmp_path / "node", "b").sha256 == entry.sha256  # type: ignore[union-attr]


def test_the_controller_lacking_a_bundle_is_reported(
        tmp_path: Path, serve: Callable[..., TransferServer],
        fetch: Callable[..., Fetcher]) -> None:
    ctl = tmp_path / "controller"
    ctl.mkdir()
    show = show_of("gone")
    f = fetch(show, tmp_path / "node", serve(show, ctl))
    assert f.wait_settled(30.0)
    p = f.progress()["gone"]
    assert p["state"] == "missing" and "not found" in p["error"]


def test_no_controller_leaves_the_fetcher_waiting(tmp_path: Path) -> None:
    with zmq.Context() as ctx:
        s = ctx.socket(zmq.ROUTER)
        port = s.bind_to_random_port("tcp://127.0.0.1")
        s.close(linger=0)
    f = Fetcher(show_of("b"), tmp_path / "node", "127.0.0.1", port, poll_s=0.05).start()
    try:
        assert not f.wait_settled(1.0)
        assert f.progress()["b"]["state"] == "waiting"
    finally:
        f.close()


def test_hostile_frames_get_an_error_and_the_server_serves_on(
        tmp_path: Path, serve: Callable[..., TransferServer],
        fetch: Callable[..., Fetcher]) -> None:
    ctl = tmp_path / "controller"
    ctl.mkdir()
    make_bundle(ctl / "b.exb", "b")
    show = show_of("b")
    server = serve(show, ctl)
    with zmq.Context() as ctx:
        d = ctx.socket(zmq.DEALER)
        d.setsockopt(zmq.LINGER, 0)
        d.connect(server.endpoint)
        bad = [[b"\xc1"], [b"not msgpack at all"], [msgpack.packb([1, 2])],
               [encode({"type": "chunk", "sha256": "x" * 64, "index": 0})],
               [encode({"type": "chunk", "sha256": "a" * 64, "index": -1})],
               [encode({"type": "list"}), b"extra"], [encode({"type": "nope"})],
               [msgpack.packb({"v": 99, "type": "list"})],
               [encode({"type": "chunk", "sha256": "a" * 64, "index": 3})]]
        for frames in bad:
            d.send_multipart(frames)
            assert d.poll(5000)
            reply = decode_reply(d.recv_multipart())
            assert reply["type"] == "error" and reply["reason"]
        d.close(linger=0)
    assert server.summary()["malformed"] == 8
    f = fetch(show, tmp_path / "node", server)
    assert f.wait_settled(30.0) and f.progress()["b"]["state"] == "installed"


def test_the_wire_rules() -> None:
    with pytest.raises(ProtocolError, match="unknown request type"):
        decode_request([encode({"type": "rm -rf"})])
    with pytest.raises(ProtocolError, match="chunks must be 2"):
        decode_reply([encode({"type": "list", "bundles": [
            {"id": "b", "version": "1.0.0", "size": CHUNK_BYTES + 1, "sha256": "a" * 64,
             "chunk_bytes": CHUNK_BYTES, "chunks": [b"x" * 32]}]})])
    with pytest.raises(ProtocolError, match="at most"):
        decode_reply([encode({"type": "chunk", "sha256": "a" * 64, "index": 0}),
                      b"x" * (CHUNK_BYTES + 1)])
    bucket = TokenBucket(1000.0, 500.0, 0.0)
    assert bucket.wait(500, 0.0) == 0.0
    assert bucket.wait(500, 0.0) == pytest.approx(0.5)
    assert bucket.wait(500, 0.5) == 0.0
    assert TokenBucket(0.0, 1.0, 0.0).wait(10**9, 0.0) == 0.0


def test_a_download_verifies_each_chunk_and_the_whole(tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK_BYTES + 10)
    chunks = tuple(hashlib.sha256(data[i:i + CHUNK_BYTES]).digest()
                   for i in range(0, len(data), CHUNK_BYTES))
    entry = Entry("b", "1.0.0", len(data), hashlib.sha256(data).hexdigest(), chunks)
    path = tmp_path / "p"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        dl = Download(entry, path)
        assert dl.to_ask(4) == [0, 1, 2] and dl.to_ask(4) == []
        assert dl.accept(fd, 2, data[2 * CHUNK_BYTES:])      # out of order
        assert not dl.accept(fd, 0, b"\0" + data[1:CHUNK_BYTES])
        assert dl.to_ask(4) == [0]
        assert dl.accept(fd, 0, data[:CHUNK_BYTES])
        assert not dl.whole_ok()
        assert dl.accept(fd, 1, data[CHUNK_BYTES:2 * CHUNK_BYTES])
        assert dl.complete and dl.whole_ok() and dl.corrupt == 1
    finally:
        os.close(fd)
    assert path.read_bytes() == data
