"""A projector's health in its ``node-status``: frame rate, frame times, GPU, cue, bundles,
the item and language it draws.

:class:`NodeHealth` is the part of :class:`~exhibit_engine.sync.protocol.NodeStatus` that an
operator's status page shows per node. On the wire its fields are plain, optional keys of
the ``node-status`` body (an additive change to protocol version 2: an older receiver
ignores them, and a missing key takes its default), read and range-checked here by
:func:`read_health`. ``docs/protocol.md`` §3 and §5 describe each key.

Core: standard library and ``msgpack`` types only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._fields import MAX_MAP_KEYS, MAX_STR, Body

__all__ = ["MAX_BUNDLE_STATE", "MAX_FPS", "NodeHealth", "TRANSFER_STATES", "read_health"]

#: Highest frame rate a node may report (frames per second).
MAX_FPS = 1000.0
#: Longest bundle state (a version such as ``"1.2.0"``, or ``"broken"``), in characters.
MAX_BUNDLE_STATE = 64
#: The states of a bundle's fetch (``NodeHealth.transfer``).
TRANSFER_STATES = ("waiting", "fetching", "verifying", "installed", "refused", "failed",
                   "missing")
_MAX_BYTES = 1 << 40


@dataclass(frozen=True)
class NodeHealth:
    """How a projector is drawing, as it reports it (every field has a default).

    Attributes:
        fps: frames drawn per second over the last ~2 s (0: none yet).
        frame_ms_worst: the longest frame in that window, milliseconds (the time between
            the ends of two frames drawn one after the other).
        frames_dropped: frames since the node started that took longer than 1.5 times its
            frame budget (1 / the display's refresh rate, or the headless pace).
        renderer: the GL renderer and vendor strings (e.g. ``"llvmpipe (LLVM 15.0.6, 256
            bits) / Mesa"``); ``""``: not known yet.
        gpu_memory_mb: the GPU's dedicated memory in MiB, where the driver tells
            (``GL_NVX_gpu_memory_info``); ``None``: unknown (never guessed).
        gpu_free_mb: its memory free now in MiB (``GL_NVX_gpu_memory_info`` or
            ``GL_ATI_meminfo``); ``None``: unknown.
        cue: the id of the cue the node's last frame played (``""``: none).
        bundles: bundle id -> the version the node builds that bundle's scenes from
            (its manifest's ``version``), or ``"broken"`` while the file on disk cannot be
            used.
        item: the id of the item the node's last frame drew as selected (the session's
            ``selected_item``; ``""``: none).
        language: the language the node's last frame drew captions in (the session's
            ``language``; ``""``: the session has none).
        ready: the node holds every bundle of the show, fully verified, and has drawn a
            frame (a show whose ``[control] start`` is ``"when-ready"`` waits for every
            display's node to say so).
        transfer: bundle id -> how its fetch from the controller stands (``sync/
            transfer.py``): ``state`` (one of :data:`TRANSFER_STATES`), ``done`` and
            ``size`` in bytes, and where known ``version`` and ``error`` (one line).
            Empty for a node that does not fetch.
    """

    fps: float = 0.0
    frame_ms_worst: float = 0.0
    frames_dropped: int = 0
    renderer: str = ""
    gpu_memory_mb: float | None = None
    gpu_free_mb: float | None = None
    cue: str = ""
    bundles: Mapping[str, str] = field(default_factory=dict)
    item: str = ""
    language: str = ""
    ready: bool = False
    transfer: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """Its keys for a ``node-status`` body (the GPU memory keys only where known)."""
        out: dict[str, Any] = {"fps": self.fps, "frame_ms_worst": self.frame_ms_worst,
                               "frames_dropped": self.frames_dropped,
                               "renderer": self.renderer, "cue": self.cue,
                               "bundles": dict(self.bundles), "item": self.item,
                               "language": self.language, "ready": self.ready}
        if self.transfer:
            out["transfer"] = {k: dict(v) for k, v in self.transfer.items()}
        for key in ("gpu_memory_mb", "gpu_free_mb"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def clamped(self) -> NodeHealth:
        """This health within the wire's ranges (what a sender passes on), so that a
        sender's own odd value (a NaN, a long renderer string, too many bundles) never
        makes the controller refuse its whole status."""
        mem = [None if v is None else _at_least_0(v) for v in (self.gpu_memory_mb,
                                                              self.gpu_free_mb)]
        bundles = {str(k)[:MAX_STR]: str(v)[:MAX_BUNDLE_STATE] or "?"
                   for k, v in sorted(self.bundles.items())[:MAX_MAP_KEYS] if str(k)}
        return NodeHealth(_at_least_0(self.fps, MAX_FPS), _at_least_0(self.frame_ms_worst),
                          max(0, int(self.frames_dropped)), str(self.renderer)[:MAX_STR],
                          mem[0], mem[1], str(self.cue)[:MAX_STR], bundles,
                          str(self.item)[:MAX_STR], str(self.language)[:MAX_STR],
                          bool(self.ready), _clamp_transfer(self.transfer))

    def row(self) -> dict[str, Any]:
        """Its keys for a node's row in the ``status`` reply (unknown memory: ``None``;
        ``transfer`` only for a node that fetches)."""
        row = {"fps": self.fps, "frame_ms_worst": self.frame_ms_worst,
               "frames_dropped": self.frames_dropped, "renderer": self.renderer,
               "gpu_memory_mb": self.gpu_memory_mb, "gpu_free_mb": self.gpu_free_mb,
               "cue": self.cue, "bundles": dict(self.bundles), "item": self.item,
               "language": self.language, "ready": self.ready}
        if self.transfer:
            row["transfer"] = {k: dict(v) for k, v in self.transfer.items()}
        return row


def _clamp_transfer(transfer: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for k, v in sorted(transfer.items())[:MAX_MAP_KEYS]:
        state = str(v.get("state", ""))
        if not k or state not in TRANSFER_STATES:
            continue
        row: dict[str, Any] = {"state": state,
                               "done": max(0, min(_MAX_BYTES, int(v.get("done", 0) or 0))),
                               "size": max(0, min(_MAX_BYTES, int(v.get("size", 0) or 0)))}
        for key, limit in (("version", MAX_BUNDLE_STATE), ("error", MAX_STR)):
            if v.get(key):
                row[key] = str(v[key])[:limit]
        out[str(k)[:MAX_STR]] = row
    return out


def _read_transfer(b: Body) -> dict[str, dict[str, Any]]:
    raw = b.body.get("transfer", {})
    rule = (f"must be a map of at most {MAX_MAP_KEYS} bundle ids to maps of state (one of "
            f"{', '.join(TRANSFER_STATES)}), done and size (bytes), and optional version "
            f"and error strings")
    if not isinstance(raw, dict) or len(raw) > MAX_MAP_KEYS:
        raise b.fail("transfer", rule)
    out: dict[str, dict[str, Any]] = {}
    for k, v in raw.items():
        if not (isinstance(k, str) and 0 < len(k) <= MAX_STR and isinstance(v, dict)
                and set(v) <= {"state", "done", "size", "version", "error"}
                and v.get("state") in TRANSFER_STATES
                and all(isinstance(v.get(n), int) and not isinstance(v.get(n), bool)
                        and 0 <= v[n] <= _MAX_BYTES for n in ("done", "size"))
                and all(isinstance(v.get(n, ""), str) and len(v.get(n, "")) <= MAX_STR
                        for n in ("version", "error"))):
            raise b.fail("transfer", rule)
        out[k] = dict(v)
    return out


def _megabytes(b: Body, key: str) -> float | None:
    if key not in b.body:
        return None
    v = b.number(key)
    if v < 0:
        raise b.fail(key, "must not be negative")
    return v


def read_health(b: Body) -> NodeHealth:
    """Read the health keys of a ``node-status`` body (each optional).

    Raises:
        ProtocolError: a key of the wrong type or out of range: ``fps`` 0 to
            :data:`MAX_FPS`, ``frame_ms_worst`` and the memory keys not negative,
            ``frames_dropped`` an integer from 0, ``renderer``, ``cue``, ``item`` and
            ``language`` strings of at most 256 characters, ``ready`` true or false,
            ``transfer`` as :attr:`NodeHealth.transfer` says, ``bundles`` a map of at most
            64 entries from a bundle id (1 to 256 characters) to a string of 1 to
            :data:`MAX_BUNDLE_STATE`.
    """
    fps, worst = b.number("fps", 0.0), b.number("frame_ms_worst", 0.0)
    if not 0 <= fps <= MAX_FPS:
        raise b.fail("fps", f"must be from 0 to {MAX_FPS:g} frames per second")
    if worst < 0:
        raise b.fail("frame_ms_worst", "must not be negative")
    bundles = b.body.get("bundles", {})
    if (not isinstance(bundles, dict) or len(bundles) > MAX_MAP_KEYS
            or not all(isinstance(k, str) and 0 < len(k) <= MAX_STR and isinstance(v, str)
                       and 0 < len(v) <= MAX_BUNDLE_STATE for k, v in bundles.items())):
        raise b.fail("bundles", f"must be a map of at most {MAX_MAP_KEYS} bundle ids (1 to "
                     f"{MAX_STR} characters) to a version or state (1 to "
                     f"{MAX_BUNDLE_STATE} characters)")
    return NodeHealth(fps, worst, b.count("frames_dropped", 0),
                      b.text("renderer", "", nonempty=False),
                      _megabytes(b, "gpu_memory_mb"), _megabytes(b, "gpu_free_mb"),
                      b.text("cue", "", nonempty=False), bundles,
                      b.text("item", "", nonempty=False), b.text("language", "", nonempty=False),
                      b.flag("ready") if "ready" in b.body else False, _read_transfer(b))


def _at_least_0(x: Any, hi: float = math.inf) -> float:
    x = float(x)
    return min(hi, max(0.0, x)) if math.isfinite(x) else 0.0
