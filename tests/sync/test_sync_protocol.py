"""The wire format: round trips, and hostile frames that must give ProtocolError only."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgpack
import pytest

from exhibit_engine.errors import ProtocolError
from exhibit_engine.show.anchor import ShowAnchor
from exhibit_engine.sync import protocol as p
from exhibit_engine.sync.snapshot import SnapshotAssembly, snapshot_messages

REPO = Path(__file__).resolve().parents[2]

SAMPLES: list[p.Message] = [
    p.Hello("wall-left", "projector"),
    p.Hello("kiosk-1", "kiosk"),
    p.Welcome("a1b2c3", 7),
    p.Ping(1234.5678),
    p.Pong(1.0, 2.5, 2.75),
    p.Heartbeat(100.25, ShowAnchor(99.0, 12.5, 1.0), 3, "a1b2c3"),
    p.NodeStatus("wall-left", 600, 10.0, -12.5, 240.0, ("cap-1", "cap-2"),
                 {"fps": 59.9, "gpu": "llvmpipe", "nested": {"a": [1, None, True]}},
                 0.25, 3.0),
    p.NodeStatus("wall-right", 61, 2.0, 3.5, 180.0,
                 health=p.NodeHealth(29.97, 41.25, 3, "llvmpipe (LLVM 15.0.6, 256 bits); Mesa",
                                     24576.0, 20480.5, "intro", {"ice": "1.0.0",
                                                                 "standby": "broken"})),
    p.Command("capture", {"tag": "t1", "delay": 0.5}, 42),
    p.Reply(True, {"effective_at": 3.5}, "", 42),
    p.Reply(False, {}, "unknown command 'x'", 3),
    p.Event("capture", 12.75, {"tag": "t1"}, 5),
    p.SnapshotRequest(17),
    *snapshot_messages(17, 9, {"anchor": [1.0, 0.0, 1.0], "language": "zh"}),
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
    assert p.PROTOCOL_VERSION == 2


def test_unknown_fields_are_ignored() -> None:
    frames = frames_with(p.Ping(3.0), future_field={"x": 1}, another=[1, 2])
    assert p.decode(frames) == p.Ping(3.0)


def test_defaults_for_optional_fields() -> None:
    frames = frames_with(p.Command("status", {}, 0), args=_DELETE, req=_DELETE)
    assert p.decode(frames) == p.Command("status", {}, 0)


def test_unknown_message_type() -> None:
    frames = [b"teleport", msgpack.packb({"v": 2})]
    with pytest.raises(ProtocolError) as info:
        p.decode(frames, peer="peer-1")
    assert info.value.rule == "unknown message type"
    assert info.value.peer == "peer-1"


@pytest.mark.parametrize("version", [0, 1, 3, 99])
def test_wrong_version_names_both_versions(version: int) -> None:
    with pytest.raises(ProtocolError) as info:
        p.decode(p.Hello("a", version=version).encode())
    assert f"version {version}" in info.value.rule and "version 2" in info.value.rule


def test_wrong_version_is_reported_before_unknown_type() -> None:
    with pytest.raises(ProtocolError, match="version 3"):
        p.decode([b"brand-new-type", msgpack.packb({"v": 3})])


def test_a_version_1_snapshot_is_refused_with_the_reason() -> None:
    # A v1 peer's single-frame snapshot: refused for its version, not misread.
    v1 = [b"snapshot", msgpack.packb({"v": 1, "seq": 0, "count": 1, "digest": "00"}),
          msgpack.packb({"anchor": [1.0, 0.0, 1.0]})]
    with pytest.raises(ProtocolError, match="unsupported protocol version 1"):
        p.decode(v1)


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
    huge = msgpack.packb({"v": 2, "t0": 1.0, "pad": "x" * p.MAX_FRAME_BYTES})
    with pytest.raises(ProtocolError, match="larger than"):
        p.decode([b"ping", huge])
    with pytest.raises(ProtocolError, match="larger than"):
        p.decode([b"x" * (p.MAX_FRAME_BYTES + 1), msgpack.packb({"v": 2})])


def test_encode_refuses_oversized_messages() -> None:
    with pytest.raises(ProtocolError, match="larger than"):
        p.Event("x", 1.0, {"blob": "y" * p.MAX_FRAME_BYTES}, 1).encode()
    with pytest.raises(ProtocolError, match="cannot encode"):
        p.Reply(True, {"x": object()}).encode()


def test_too_many_keys() -> None:
    b = {"v": 2, "t0": 1.0, **{f"k{i}": i for i in range(p.MAX_MAP_KEYS)}}
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
    raw = msgpack.packb({"v": 2, "name": "status", "args": {"x": value}}, use_bin_type=True,
                        strict_types=False)
    with pytest.raises(ProtocolError):
        p.decode([b"command", raw])


def test_body_must_be_a_map() -> None:
    for raw in (msgpack.packb([1, 2]), msgpack.packb("v"), msgpack.packb(None)):
        with pytest.raises(ProtocolError, match="map"):
            p.decode([b"ping", raw])


def assemble(messages: list[p.Message], req: int) -> dict[str, Any]:
    """Feed decoded messages (wire round trip) to an assembly; return the verified state."""
    assembly = SnapshotAssembly(req)
    *parts, final = [p.decode(m.encode()) for m in messages]
    for part in parts:
        assert isinstance(part, p.SnapshotPart)
        assembly.add(part)
    assert isinstance(final, p.Snapshot)
    return assembly.finish(final)


def big_state(n: int = 10_000) -> dict[str, Any]:
    return {"anchor": [1.0, 0.0, 1.0], **{f"k{i:05d}": {"i": i, "tag": "x" * (i % 17)}
                                          for i in range(n)}}


def test_a_10000_key_state_goes_in_parts_and_comes_back_whole() -> None:
    state = big_state()
    messages = snapshot_messages(5, 42, state)
    *parts, final = messages
    assert len(parts) >= 3 and isinstance(final, p.Snapshot)
    assert final == p.Snapshot(5, 42, len(state), len(parts), final.digest)
    assert all(len(f) <= p.MAX_FRAME_BYTES for m in messages for f in m.encode())
    # The digest is SHA-256 over the parts' frame 2 in order, as the docs say.
    frames2 = b"".join(m.encode()[2] for m in parts)
    assert final.digest == hashlib.sha256(frames2).hexdigest()
    assert sum(len(msgpack.unpackb(m.encode()[2])) for m in parts) == len(state)
    assert assemble(messages, 5) == state
    # Same state, any insertion order: same parts and digest (keys go sorted).
    shuffled = dict(sorted(state.items(), key=lambda kv: hash(kv[0])))
    assert snapshot_messages(5, 42, shuffled) == messages


def test_an_empty_state_is_one_closing_message() -> None:
    (final,) = snapshot_messages(1, 0, {})
    assert final == p.Snapshot(1, 0, 0, 0, hashlib.sha256(b"").hexdigest())
    assert assemble([final], 1) == {}


@pytest.mark.parametrize("damage, fragment", [
    ("drop-middle", "missing"),
    ("drop-last-part", "dropped"),
    ("repeat", "repeated"),
    ("swap", "missing"),
    ("wrong-count", "count says"),
    ("wrong-parts", "parts sent"),
    ("bad-digest", "digest"),
    ("altered-part", "digest"),
    ("other-req", "request"),
])
def test_every_damaged_answer_is_refused(damage: str, fragment: str) -> None:
    messages = snapshot_messages(7, 3, big_state(12_000))
    *parts, final = messages
    assert len(parts) >= 4
    if damage == "drop-middle":
        parts = parts[:1] + parts[2:]
    elif damage == "drop-last-part":
        parts = parts[:-1]
    elif damage == "repeat":
        parts = parts[:2] + parts[1:]
    elif damage == "swap":
        parts = [parts[1], parts[0], *parts[2:]]
    elif damage == "wrong-count":
        final = replace(final, count=final.count - 1)
    elif damage == "wrong-parts":
        final = replace(final, parts=final.parts + 1)
    elif damage == "bad-digest":
        final = replace(final, digest="0" * 64)
    elif damage == "altered-part":
        # Same keys, another value: count and parts agree, only the digest can tell.
        first = parts[0]
        key = next(iter(first.items))
        parts[0] = p.SnapshotPart.of(first.req, 0, {**first.items, key: "changed"})
    elif damage == "other-req":
        parts[1] = replace(parts[1], req=8)
    with pytest.raises(ProtocolError, match=fragment):
        assemble([*parts, final], 7)


def test_assembly_limits_bound_what_a_hostile_answer_can_make_us_hold() -> None:
    # Keys: the limit is checked before a part is taken in.
    messages = snapshot_messages(1, 0, {f"k{i}": i for i in range(3000)})
    assembly = SnapshotAssembly(1, max_keys=2500)
    with pytest.raises(ProtocolError, match="more than 2500 keys"):
        for m in messages[:-1]:
            assembly.add(m)
    assert len(assembly.items) <= 2500
    # Bytes, parts and values likewise.
    part = p.SnapshotPart.of(1, 0, {"a": "x" * 60_000})
    for kwargs, fragment in (({"max_bytes": 50_000}, "bytes"), ({"max_parts": 0}, "parts"),
                             ({"max_values": 10}, "values")):
        one = p.SnapshotPart.of(1, 0, {f"k{i}": [[], {}] for i in range(20)}) \
            if "max_values" in kwargs else part
        a = SnapshotAssembly(1, **kwargs)
        with pytest.raises(ProtocolError, match=fragment):
            a.add(one)
        assert a.items == {}
    # The same key in two parts.
    a = SnapshotAssembly(1)
    a.add(p.SnapshotPart.of(1, 0, {"x": 1}))
    with pytest.raises(ProtocolError, match="twice"):
        a.add(p.SnapshotPart.of(1, 1, {"x": 2}))


def test_a_state_beyond_the_limits_cannot_be_sent() -> None:
    with pytest.raises(ProtocolError, match="keys"):
        snapshot_messages(0, 0, {f"k{i}": 0 for i in range(p.MAX_STATE_KEYS + 1)})
    with pytest.raises(ProtocolError, match="too large for one frame"):
        snapshot_messages(0, 0, {"big": "x" * p.MAX_FRAME_BYTES})
    with pytest.raises(ProtocolError, match="too large"):
        snapshot_messages(0, 0, {f"k{i}": "x" * 60_000 for i in range(80)})
    with pytest.raises(ProtocolError, match="string"):
        snapshot_messages(0, 0, {"": 1})
    with pytest.raises(ProtocolError):
        snapshot_messages(0, 0, {"k": b"bytes"})


def test_snapshot_part_frames_are_checked() -> None:
    part = p.SnapshotPart.of(3, 0, {"anchor": [1.0, 0.0, 1.0], "lang": "en"})
    frames = part.encode()
    assert p.decode(frames) == part
    with pytest.raises(ProtocolError):
        p.decode([frames[0], frames[1], frames[2][:-3]])            # truncated items
    with pytest.raises(ProtocolError, match="map"):
        p.decode([frames[0], frames[1], msgpack.packb([1, 2])])
    with pytest.raises(ProtocolError, match="key"):
        p.decode([frames[0], frames[1], msgpack.packb({"": 1})])
    with pytest.raises(ProtocolError, match="3 frames"):
        p.decode(frames[:2])
    final = p.Snapshot(3, 1, 2, 1, "ab" * 32)
    with pytest.raises(ProtocolError, match="'digest'"):
        p.decode(frames_with(final, digest="xyz"))
    with pytest.raises(ProtocolError, match="2 frames"):
        p.decode([*final.encode(), frames[2]])


def nest(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels, ok", [(8, True), (9, False)])
def test_state_values_nest_as_deep_in_a_snapshot_as_in_a_key_update(levels: int,
                                                                   ok: bool) -> None:
    value = nest(levels)
    update = p.KeyUpdate(1, "deep", value).encode()
    part = p.SnapshotPart.of(1, 0, {"deep": value}).encode()
    for frames in (update, part):
        if ok:
            p.decode(frames)
        else:
            with pytest.raises(ProtocolError, match="nested"):
                p.decode(frames)
    if ok:
        assert assemble(snapshot_messages(1, 0, {"deep": value}), 1) == {"deep": value}
    else:
        with pytest.raises(ProtocolError, match="nested"):
            snapshot_messages(1, 0, {"deep": value})


def test_node_status_liveness_fields() -> None:
    status = p.NodeStatus("n", 1, 0.0, 0.0, 0.0, render_age_s=0.5, loading_s=30.0)
    assert p.decode(status.encode()) == status
    # Optional: a peer that sends neither gets 0 for both.
    plain = frames_with(status, render_age_s=_DELETE, loading_s=_DELETE)
    assert p.decode(plain) == replace(status, render_age_s=0.0, loading_s=0.0)
    with pytest.raises(ProtocolError, match="'loading_s'"):
        p.decode(frames_with(status, loading_s=31.0))
    with pytest.raises(ProtocolError, match="'render_age_s'"):
        p.decode(frames_with(status, render_age_s=-1.0))


HEALTH = p.NodeHealth(59.5, 20.0, 7, "GPU; Vendor; OpenGL 4.6", 8192.0, 4096.0, "c2",
                      {"b1": "2.1.0"}, "vase-07", "ru")


def test_node_status_health_keys_are_optional_with_defaults() -> None:
    status = p.NodeStatus("n", 1, 0.0, 0.0, 0.0, health=HEALTH)
    assert body(status)["fps"] == 59.5 and body(status)["bundles"] == {"b1": "2.1.0"}
    assert (body(status)["item"], body(status)["language"]) == ("vase-07", "ru")
    row = HEALTH.row()
    assert (row["item"], row["language"], row["cue"]) == ("vase-07", "ru", "c2")
    assert p.decode(status.encode()) == status
    # A peer that sends none of them (an older node) is read with the defaults.
    keys = ("fps", "frame_ms_worst", "frames_dropped", "renderer", "gpu_memory_mb",
            "gpu_free_mb", "cue", "bundles", "item", "language", "ready")
    plain = p.decode(frames_with(status, **dict.fromkeys(keys, _DELETE)))
    assert isinstance(plain, p.NodeStatus) and plain.health == p.NodeHealth()
    assert plain.health.gpu_memory_mb is None and plain.health.bundles == {}
    # Unknown memory is left out of the body, not sent as nil.
    unknown = p.NodeStatus("n", 1, 0.0, 0.0, 0.0, health=replace(HEALTH, gpu_memory_mb=None,
                                                                 gpu_free_mb=None))
    assert "gpu_memory_mb" not in body(unknown) and "gpu_free_mb" not in body(unknown)
    assert p.decode(unknown.encode()) == unknown
    # Within the body's 64 keys with room to spare.
    assert len(body(status)) <= 24


@pytest.mark.parametrize("key, value", [
    ("fps", -1.0), ("fps", 1000.5), ("fps", float("nan")), ("fps", "60"),
    ("frame_ms_worst", -0.1), ("frame_ms_worst", float("inf")),
    ("frames_dropped", -1), ("frames_dropped", 1.5), ("frames_dropped", True),
    ("renderer", "r" * 257), ("renderer", 5), ("cue", "c" * 257), ("cue", None),
    ("item", "i" * 257), ("item", 7), ("item", None), ("language", "l" * 257),
    ("language", ["ru"]), ("language", None),
    ("gpu_memory_mb", -1.0), ("gpu_memory_mb", None), ("gpu_free_mb", -5), ("gpu_free_mb", "x"),
    ("bundles", []), ("bundles", {"b": 1}), ("bundles", {"b": ""}), ("bundles", {"": "1.0"}),
    ("bundles", {"b": "v" * 65}), ("bundles", {"b" * 257: "1.0"}),
])
def test_node_status_health_keys_are_range_checked(key: str, value: Any) -> None:
    status = p.NodeStatus("n", 1, 0.0, 0.0, 0.0, health=HEALTH)
    with pytest.raises(ProtocolError, match=repr(key)):
        p.decode(frames_with(status, **{key: value}), peer="peer")


def test_node_status_health_limits_are_accepted_at_the_edge() -> None:
    edge = p.NodeHealth(1000.0, 0.0, 2**63 - 1, "r" * 256, 0.0, 0.0, "c" * 256,
                        {f"{i:0256d}": "v" * 64 for i in range(64)}, "i" * 256, "l" * 256)
    status = p.NodeStatus("n", 1, 0.0, 0.0, 0.0, health=edge)
    assert p.decode(status.encode()) == status
    # 65 bundles: refused by the body's map limit (before the field is read).
    with pytest.raises(ProtocolError, match="max_map_len"):
        p.decode(frames_with(status, bundles={f"b{i}": "1.0" for i in range(65)}))


def test_node_health_clamped_is_always_on_the_wire() -> None:
    odd = p.NodeHealth(float("nan"), -3.0, -2, "r" * 999, float("inf"), -1.0, "c" * 300,
                       {f"b{i:03d}": "" if i == 1 else "v" * 99 for i in range(100)},
                       "i" * 300, "l" * 300)
    clamped = odd.clamped()
    assert (clamped.fps, clamped.frame_ms_worst, clamped.frames_dropped) == (0.0, 0.0, 0)
    assert len(clamped.renderer) == 256 and len(clamped.cue) == 256
    assert len(clamped.item) == 256 and len(clamped.language) == 256
    assert (clamped.gpu_memory_mb, clamped.gpu_free_mb) == (0.0, 0.0)
    assert len(clamped.bundles) == 64 and clamped.bundles["b001"] == "?"
    assert p.NodeHealth(5000.0).clamped().fps == 1000.0
    status = p.NodeStatus("n", 1, 0.0, 0.0, 0.0, health=clamped)
    assert p.decode(status.encode()) == status
    assert p.NodeHealth().clamped() == p.NodeHealth()


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


CORE_MODULES = ("protocol", "_fields", "_health", "snapshot", "clock", "commands", "controller_core",
                "_peers", "_show", "_status", "node_core", "persist")


def test_core_modules_do_not_import_zmq() -> None:
    code = ("import sys\n"
            "import exhibit_engine.sync\n"
            + "".join(f"import exhibit_engine.sync.{m}\n" for m in CORE_MODULES)
            + "bad = [m for m in ('zmq', 'panda3d') if m in sys.modules]\n"
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
