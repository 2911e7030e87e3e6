"""The wire format: round trips, and hostile frames that must give ProtocolError only."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

from exhibit_engine.errors import ProtocolError
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.clock import ShowAnchor

REPO = Path(__file__).resolve().parents[2]

SAMPLES: list[p.Message] = [
    p.Hello("wall-left", "projector"),
    p.Hello("kiosk-1", "kiosk"),
    p.Welcome("a1b2c3", 7),
    p.Ping(1234.5678),
    p.Pong(1.0, 2.5, 2.75),
    p.Heartbeat(100.25, ShowAnchor(99.0, 12.5, 1.0), 3, "a1b2c3"),
    p.NodeStatus("wall-left", 600, 10.0, -12.5, 240.0, ("cap-1", "cap-2"),
                 {"fps": 59.9, "gpu": "llvmpipe", "nested": {"a": [1, None, True]}}),
    p.Command("capture", {"tag": "t1", "delay": 0.5}, 42),
    p.Reply(True, {"effective_at": 3.5}, "", 42),
    p.Reply(False, {}, "unknown command 'x'", 3),
    p.Event("capture", 12.75, {"tag": "t1"}, 5),
    p.SnapshotRequest(),
    p.Snapshot.of(9, {"anchor": [1.0, 0.0, 1.0], "language": "zh"}),
    p.KeyUpdate(10, "language", "ru"),
    p.KeyUpdate(11, "anchor", [5.0, 1.0, 1.0]),
]


def body(message: p.Message) -> dict[str, Any]:
    return msgpack.unpackb(message.encode()[1])


def frames_with(message: p.Message, **changes: Any) -> list[bytes]:
    frames = message.encode()
    b = msgpack.unpackb(frames[1])
    for key, value in changes.items():
        if value is _DELETE:
            b.pop(key, None)
        else:
            b[key] = value
    frames[1] = msgpack.packb(b, use_bin_type=True)
    return frames


_DELETE = object()


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: p.Message) -> None:
    frames = message.encode()
    assert all(isinstance(f, bytes) for f in frames)
    assert frames[0] == type(message).TYPE
    assert body(message)["v"] == p.PROTOCOL_VERSION
    assert p.decode(frames) == message


def test_every_type_has_a_sample_and_is_documented() -> None:
    types = {type(m).TYPE for m in SAMPLES}
    assert types == set(p._DECODERS)
    doc = p.__doc__ or ""
    for t in types:
        assert t.decode() in doc
    assert p.PROTOCOL_VERSION == 1


def test_unknown_fields_are_ignored() -> None:
    frames = frames_with(p.Ping(3.0), future_field={"x": 1}, another=[1, 2])
    assert p.decode(frames) == p.Ping(3.0)


def test_defaults_for_optional_fields() -> None:
    frames = frames_with(p.Command("status", {}, 0), args=_DELETE, req=_DELETE)
    assert p.decode(frames) == p.Command("status", {}, 0)


def test_unknown_message_type() -> None:
    frames = [b"teleport", msgpack.packb({"v": 1})]
    with pytest.raises(ProtocolError) as info:
        p.decode(frames, peer="peer-1")
    assert info.value.rule == "unknown message type"
    assert info.value.peer == "peer-1"


@pytest.mark.parametrize("version", [0, 2, 99])
def test_wrong_version_names_both_versions(version: int) -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode(p.Hello("a", version=version).encode())
    assert f"version {version}" in info.value.rule and "version 1" in info.value.rule


def test_wrong_version_is_reported_before_unknown_type() -> None:
    with pytest.raises(ProtocolError, match="version 2"):
        p.decode([b"brand-new-type", msgpack.packb({"v": 2})])


@pytest.mark.parametrize("v", [None, "1", 1.0, True, [1]])
def test_missing_or_mistyped_version(v: Any) -> None:
    frames = frames_with(p.Ping(1.0), v=_DELETE if v is None else v)
    with pytest.raises(ProtocolError, match="version"):
        p.decode(frames)


@pytest.mark.parametrize("frames", [
    [],
    [b"ping"],
    [b"ping", b"\x81\xa1v\x01", b"", b""],
    None,
    "ping",
    [b"ping", "not bytes"],
    [b"ping", 5],
])
def test_bad_frame_lists(frames: Any) -> None:
    with pytest.raises(ProtocolError):
        p.decode(frames)


def test_frame_over_64_kib_is_refused() -> None:
    huge = msgpack.packb({"v": 1, "t0": 1.0, "pad": "x" * p.MAX_FRAME_BYTES})
    with pytest.raises(ProtocolError, match="larger than"):
        p.decode([b"ping", huge])
    with pytest.raises(ProtocolError, match="larger than"):
        p.decode([b"x" * (p.MAX_FRAME_BYTES + 1), msgpack.packb({"v": 1})])


def test_encode_refuses_oversized_messages() -> None:
    with pytest.raises(ProtocolError, match="larger than"):
        p.Event("x", 1.0, {"blob": "y" * p.MAX_FRAME_BYTES}, 1).encode()
    with pytest.raises(ProtocolError, match="cannot encode"):
        p.Reply(True, {"x": object()}).encode()


def test_too_many_keys() -> None:
    b = {"v": 1, "t0": 1.0, **{f"k{i}": i for i in range(p.MAX_MAP_KEYS)}}
    with pytest.raises(ProtocolError):
        p.decode([b"ping", msgpack.packb(b)])
    args = {f"k{i}": i for i in range(p.MAX_MAP_KEYS + 1)}
    with pytest.raises(ProtocolError):
        p.decode(frames_with(p.Command("status"), args=args))


def test_deep_nesting_is_refused() -> None:
    deep: Any = 1
    for _ in range(20):
        deep = [deep]
    with pytest.raises(ProtocolError, match="nested"):
        p.decode(frames_with(p.Command("status"), args={"x": deep}))
    with pytest.raises(ProtocolError):
        p.decode([b"ping", b"\x91" * 60000])


@pytest.mark.parametrize("value", [b"bytes", msgpack.ExtType(5, b"x"), {1: 2}])
def test_only_plain_values_inside_maps(value: Any) -> None:
    raw = msgpack.packb({"v": 1, "name": "status", "args": {"x": value}}, use_bin_type=True,
                        strict_types=False)
    with pytest.raises(ProtocolError):
        p.decode([b"command", raw])


def test_body_must_be_a_map() -> None:
    for raw in (msgpack.packb([1, 2]), msgpack.packb("v"), msgpack.packb(None)):
        with pytest.raises(ProtocolError, match="map"):
            p.decode([b"ping", raw])


def test_snapshot_digest_and_count_are_checked() -> None:
    good = p.Snapshot.of(3, {"anchor": [1.0, 0.0, 1.0], "lang": "en"})
    frames = good.encode()
    assert p.decode(frames) == good
    # Altered items: the digest no longer matches.
    altered = [frames[0], frames[1], msgpack.packb({"anchor": [1.0, 0.0, 1.0]})]
    with pytest.raises(ProtocolError, match="digest"):
        p.decode(altered)
    # Truncated items.
    with pytest.raises(ProtocolError):
        p.decode([frames[0], frames[1], frames[2][:-3]])
    # A count that lies (digest right).
    lying = p.Snapshot(3, good.items, 5, good.digest).encode()
    with pytest.raises(ProtocolError, match="count"):
        p.decode(lying)
    # Items that are not a map, with a correct digest.
    items = msgpack.packb([1, 2])
    digest = hashlib.sha256(items).hexdigest()
    b = msgpack.packb({"v": 1, "seq": 1, "count": 2, "digest": digest})
    with pytest.raises(ProtocolError, match="map"):
        p.decode([b"snapshot", b, items])
    with pytest.raises(ProtocolError, match="3 frames"):
        p.decode(frames[:2])


def test_anchor_wire_form() -> None:
    a = ShowAnchor(1.5, 2.5, 0.5)
    assert p.decode_anchor(p.encode_anchor(a)) == a
    for bad in ([1.0, 2.0], [1.0, 2.0, "x"], [1.0, 2.0, float("nan")], "abc", None,
                [True, 1.0, 1.0]):
        with pytest.raises(ProtocolError):
            p.decode_anchor(bad)


@pytest.mark.parametrize("role", ["", "admin", 5])
def test_hello_role_must_be_known(role: Any) -> None:
    with pytest.raises(ProtocolError, match="role"):
        p.decode(frames_with(p.Hello("n"), role=role))


WRONG_VALUES: list[Any] = [None, True, -1, 2**64 - 1, 1.5, float("nan"), float("inf"), "",
                           "x" * 300, "text", [], [1, "a"], {}, {"k": [1]}]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_field_with_every_wrong_type(message: p.Message) -> None:
    keys = [k for k in body(message) if k != "v"]
    for key in keys:
        for value in [*WRONG_VALUES, _DELETE]:
            frames = frames_with(message, **{key: value})
            try:
                decoded = p.decode(frames)
            except ProtocolError:
                continue
            # Accepted: it must be a well-typed message of the same kind.
            assert type(decoded) is type(message)


def test_specific_field_types_are_enforced() -> None:
    cases: list[tuple[p.Message, str, Any]] = [
        (p.Ping(1.0), "t0", "1.0"),
        (p.Ping(1.0), "t0", float("nan")),
        (p.Ping(1.0), "t0", True),
        (p.Welcome("s", 1), "seq", -1),
        (p.Welcome("s", 1), "seq", 1.0),
        (p.Welcome("s", 1), "session", ""),
        (p.Heartbeat(1.0, ShowAnchor(1, 0, 1), 0, "s"), "anchor", [1.0, 2.0]),
        (p.Event("capture", 1.0, {}, 1), "effective_at", None),
        (p.NodeStatus("n", 1, 1.0, 0.0, 0.0), "captures", [1, 2]),
        (p.NodeStatus("n", 1, 1.0, 0.0, 0.0), "frames", 2**64 - 1),
        (p.Reply(True), "ok", 1),
        (p.Command("x"), "name", "y" * 300),
        (p.KeyUpdate(1, "k", 1), "key", 5),
    ]
    for message, key, value in cases:
        with pytest.raises(ProtocolError, match=repr(key)):
            p.decode(frames_with(message, **{key: value}), peer="peer")


def _corruptions(rng: random.Random, frames: list[bytes]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for i, f in enumerate(frames):
        for cut in range(len(f)):
            out.append([*frames[:i], f[:cut], *frames[i + 1:]])      # every truncation
        for _ in range(20):
            if not f:
                continue
            b = bytearray(f)
            for _ in range(rng.randint(1, 3)):
                b[rng.randrange(len(b))] = rng.randrange(256)         # byte flips
            out.append([*frames[:i], bytes(b), *frames[i + 1:]])
    return out


def test_hostile_frames_raise_only_protocol_error() -> None:
    rng = random.Random(20240611)
    attempts: list[list[Any]] = []
    for message in SAMPLES:
        attempts.extend(_corruptions(rng, message.encode()))
    for _ in range(3000):
        n = rng.randint(0, 4)
        frames = [rng.randbytes(rng.choice([0, 1, 2, 5, 16, 64, 300])) for _ in range(n)]
        if frames and rng.random() < 0.5:
            frames[0] = rng.choice(list(p._DECODERS))
        if len(frames) > 1 and rng.random() < 0.3:
            frames[1] = b"\x8f" + rng.randbytes(40)                  # a map header, then junk
        attempts.append(frames)
    decoded = 0
    for frames in attempts:
        try:
            p.decode(frames, peer="fuzz")
            decoded += 1
        except ProtocolError as exc:
            assert exc.peer == "fuzz" and exc.rule
    assert decoded < len(attempts)


def test_core_modules_do_not_import_zmq() -> None:
    code = ("import sys\n"
            "import exhibit_engine.sync, exhibit_engine.sync.protocol, exhibit_engine.sync.clock\n"
            "import exhibit_engine.sync._fields\n"
            "bad = [m for m in ('zmq', 'panda3d') if m in sys.modules]\n"
            "assert not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_protocol_doc_covers_every_type_and_key() -> None:
    doc = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    for message in SAMPLES:
        assert f"`{type(message).TYPE.decode()}`" in doc
        for key in body(message):
            assert f"`{key}`" in doc or f"`{key}`:" in doc, (type(message).__name__, key)
