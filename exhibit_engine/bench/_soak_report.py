"""What ``exhibit soak`` makes of its records (pure: traces in, figures out).

Every node process appends its frames and the events it played to a trace (see
:mod:`._soak_proc`); all processes run on one machine and share ``CLOCK_MONOTONIC``, so
frames of different nodes can be set side by side on one time axis:

- :func:`desync_frames`: a frame of node *i* at local time *m* with show time *t* is out
  of step when some other node *j*, drawing at the time, would show a time more than one
  60 Hz frame away at *m*. Node *j*'s show time at *m* is read from its frames on either
  side of *m* (the one before, carried forward at its show rate; the one after, carried
  back), and *i* agrees with *j* when it agrees with either: at a jump of show time (a GO,
  a seek) nodes switch on their own next frame, and between those two frames each side is
  one of the two values. Frames within ``skip_s`` of a process's first frame, and
  comparisons across a gap in *j*'s frames longer than ``max_gap_s``, are left out.
- :func:`event_faults`: every event seen anywhere (played by a node, or accepted by the
  controller for the kiosk: one sequence without gaps) must be played exactly once by
  every node process that was drawing ``lead_s`` before it fell due and ``tail_s`` after.
- :func:`frame_times`: the worst and the 99th-percentile time between frames.
- :func:`memory_growth`: resident memory after a process's warm-up against its end,
  each the peak over one loop of the show. :func:`memory_settled` says when that warm-up
  ends: when the process's memory stops rising (caches that fill slowly on a starved
  node take minutes), but never later than half its life, so that a leak, which never
  settles, is still measured over the second half.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["EventFaults", "NodeTrace", "desync_frames", "event_faults", "frame_times",
           "memory_growth", "memory_settled", "read_node_trace", "read_selections"]

FRAME_S = 1.0 / 60.0


@dataclass
class NodeTrace:
    """One node process's record.

    Attributes:
        name: the process (display id and start number, e.g. ``d2#1``).
        frames: one row per frame: local time, show time, controller time, show rate.
        events: ``(seq, kind, controller_at)`` in the order played.
    """

    name: str
    frames: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    events: list[tuple[int, str, float]] = field(default_factory=list)


def read_node_trace(path: Path, name: str) -> NodeTrace:
    """A node's trace file (a last line cut by a kill is skipped)."""
    rows: list[tuple[float, float, float, float]] = []
    events: list[tuple[int, str, float]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    for line in text.splitlines():
        parts = line.split()
        try:
            if parts[:1] == ["f"] and len(parts) == 5:
                rows.append((float(parts[1]), float(parts[2]), float(parts[3]),
                             float(parts[4])))
            elif parts[:1] == ["e"] and len(parts) == 4:
                events.append((int(parts[1]), parts[2], float(parts[3])))
        except ValueError:
            continue
    frames = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return NodeTrace(name, frames, events)


def read_selections(path: Path) -> tuple[dict[int, float], int]:
    """A kiosk's trace: accepted selections (seq -> controller time), failed requests."""
    accepted: dict[int, float] = {}
    failed = 0
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return accepted, failed
    for line in text.splitlines():
        parts = line.split(maxsplit=3)
        try:
            if parts[:1] == ["s"] and len(parts) >= 3:
                accepted[int(parts[1])] = float(parts[2])
            elif parts[:1] == ["x"]:
                failed += 1
        except ValueError:
            continue
    return accepted, failed


def _from_start(trace: NodeTrace, skip_s: float) -> np.ndarray:
    f = trace.frames
    return f[f[:, 0] >= f[0, 0] + skip_s] if len(f) else f


def desync_frames(traces: Sequence[NodeTrace], *, bound_s: float = FRAME_S,
                  skip_s: float = 2.0, max_gap_s: float = 0.25
                  ) -> tuple[int, int, float]:
    """``(frames out of step, frames compared, worst disagreement in seconds)``."""
    out, compared, worst = 0, 0, 0.0
    for i, ti in enumerate(traces):
        mine = _from_start(ti, skip_s)
        if not len(mine):
            continue
        err = np.zeros(len(mine))
        seen = np.zeros(len(mine), dtype=bool)
        for j, tj in enumerate(traces):
            theirs = tj.frames
            if j == i or len(theirs) < 2:
                continue
            m = mine[:, 0]
            k = np.searchsorted(theirs[:, 0], m, side="right") - 1
            ok = (k >= 0) & (k + 1 < len(theirs))
            kp = np.clip(k, 0, len(theirs) - 2)
            prev, nxt = theirs[kp], theirs[kp + 1]
            ok &= (nxt[:, 0] - prev[:, 0]) <= max_gap_s
            a = prev[:, 1] + prev[:, 3] * (m - prev[:, 0])
            b = nxt[:, 1] - nxt[:, 3] * (nxt[:, 0] - m)
            e = np.minimum(np.abs(mine[:, 1] - a), np.abs(mine[:, 1] - b))
            err = np.where(ok, np.maximum(err, e), err)
            seen |= ok
        compared += int(seen.sum())
        bad = seen & (err > bound_s)
        out += int(bad.sum())
        if seen.any():
            worst = max(worst, float(err[seen].max()))
    return out, compared, worst


@dataclass(frozen=True)
class EventFaults:
    """What :func:`event_faults` found.

    Attributes:
        checked: (process, event) pairs that had to be played once.
        lost: of those, the ones not played; ``lost_seqs`` names a few.
        duplicated: events a process played more than once.
        events: distinct events seen.
        gaps: sequence numbers between the first and last seen that nobody saw.
    """

    checked: int
    lost: int
    duplicated: int
    events: int
    gaps: int
    lost_seqs: tuple[str, ...] = ()


def event_faults(traces: Sequence[NodeTrace], accepted: Mapping[int, float] | None = None,
                 *, lead_s: float = 1.0, tail_s: float = 0.5) -> EventFaults:
    """Events lost or played twice (see the module docstring)."""
    due: dict[int, float] = dict(accepted or {})
    for t in traces:
        for seq, _kind, at in t.events:
            due.setdefault(seq, at)
    gaps = 0
    if due:
        gaps = sum(1 for s in range(min(due), max(due) + 1) if s not in due)
    checked = lost = duplicated = 0
    lost_seqs: list[str] = []
    for t in traces:
        played: dict[int, int] = {}
        for seq, _kind, _at in t.events:
            played[seq] = played.get(seq, 0) + 1
        duplicated += sum(n - 1 for n in played.values() if n > 1)
        if len(t.frames) == 0:
            continue
        first, last = float(t.frames[0, 2]), float(t.frames[-1, 2])
        for seq, at in due.items():
            if first + lead_s <= at <= last - tail_s:
                checked += 1
                if seq not in played:
                    lost += 1
                    if len(lost_seqs) < 8:
                        lost_seqs.append(f"{t.name}:{seq}")
    return EventFaults(checked, lost + gaps, duplicated, len(due), gaps, tuple(lost_seqs))


def frame_times(traces: Iterable[NodeTrace], skip_s: float = 2.0) -> tuple[float, float]:
    """``(worst, p99)`` time between two frames of one process, in ms (after ``skip_s``)."""
    gaps = [np.diff(_from_start(t, skip_s)[:, 0]) for t in traces]
    joined = np.concatenate([g for g in gaps if len(g)] or [np.zeros(0)])
    if not len(joined):
        return math.nan, math.nan
    return float(joined.max() * 1e3), float(np.percentile(joined, 99) * 1e3)


def memory_growth(samples: Sequence[tuple[float, int]], started: float, warmup_s: float,
                  min_span_s: float, window_s: float = 24.0) -> float | None:
    """Percent growth of resident memory after warm-up: the highest sample of the last
    ``window_s`` against the highest of the first ``window_s`` from ``warmup_s`` after
    ``started`` (a window of one loop of the show: memory rises and falls with the scene
    being built, and a window's peak is the same moment of the loop each time);
    ``None`` when the samples after warm-up span less than ``min_span_s``."""
    after = [(t, kb) for t, kb in samples if t >= started + warmup_s and kb > 0]
    if len(after) < 2 or after[-1][0] - after[0][0] < max(min_span_s, window_s):
        return None
    first, last = after[0][0], after[-1][0]
    base = max(kb for t, kb in after if t <= first + window_s)
    end = max(kb for t, kb in after if t >= last - window_s)
    return (end - base) / base * 100.0


def memory_settled(samples: Sequence[tuple[float, int]], started: float, floor_s: float,
                   window_s: float = 24.0, flat_s: float = 300.0,
                   tolerance_pct: float = 1.0) -> float:
    """Seconds from ``started`` after which a process's memory has settled.

    Memory rises and falls with each loop of the show, so its floor is the lowest sample
    of each ``window_s`` (one loop). The memory has settled at the end of the first
    window, ``floor_s`` or more after the start, whose floor is at most ``tolerance_pct``
    above the lowest floor of the ``flat_s`` before it (a whole ``flat_s`` of them): it
    no longer rises. A process whose memory never settles (a leak) gets half its life,
    so the growth of its second half is still measured.
    """
    kept = [(t - started, kb) for t, kb in samples if kb > 0]
    if not kept:
        return floor_s
    life = kept[-1][0]
    cap = max(floor_s, life / 2)
    floors: dict[int, int] = {}
    for t, kb in kept:
        k = int(t // window_s)
        floors[k] = min(kb, floors.get(k, kb))
    for k in sorted(floors):
        end = (k + 1) * window_s
        if end < floor_s or end < flat_s + window_s:
            continue            # (flat for a shorter time than ``flat_s`` says nothing)
        if end > cap:
            break
        before = [v for j, v in floors.items() if j < k and end - (j + 1) * window_s <= flat_s]
        if before and floors[k] <= min(before) * (1 + tolerance_pct / 100):
            return end
    return cap
