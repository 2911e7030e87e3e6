"""The processes of ``exhibit soak`` (see :mod:`.soak`): a render node that records what
it draws, and a scripted kiosk.

``python -m exhibit_engine.bench._soak_proc node VENUE SHOW DISPLAY BUNDLE_DIR SCALE TRACE``
runs a real projector node (:func:`~exhibit_engine.runtime.node_app.run_node`, headless,
at ``SCALE`` of the display's pixels, bundles from ``BUNDLE_DIR``) and appends to
``TRACE``, flushed every half second so that a SIGKILL loses at most that much:

- ``f MONO SHOW CONTROLLER RATE``: a frame drawn at local ``time.monotonic()`` MONO, with
  its show time, its controller time and the show's rate then (1 plays, 0 holds);
- ``e SEQ KIND CONTROLLER_AT``: an event that frame played (and the controller time it
  was due at).

``python -m exhibit_engine.bench._soak_proc kiosk VENUE ID SEED ITEMS_JSON TRACE`` asks the
controller pair (the venue's two addresses, failing over by itself) for a random
selection, a touch or a language every 0.5..2.5 s, and appends ``s SEQ CONTROLLER_AT ITEM``
for every accepted selection and ``x MONO ERROR`` for every request that neither controller
answered.
"""

from __future__ import annotations

import json
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

FLUSH_S = 0.5
LANGUAGES = ("en", "zh", "ru")


class _Trace:
    """Lines appended to one file, flushed every :data:`FLUSH_S`."""

    def __init__(self, path: Path) -> None:
        self._f: TextIO = path.open("a", encoding="utf-8")
        self._lines: list[str] = []
        self._flushed = time.monotonic()

    def add(self, line: str) -> None:
        self._lines.append(line)
        now = time.monotonic()
        if now - self._flushed >= FLUSH_S:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self._lines:
            self._f.write("\n".join(self._lines) + "\n")
            self._f.flush()
            self._lines.clear()
        self._flushed = now if now is not None else time.monotonic()

    def close(self) -> None:
        self.flush()
        self._f.close()


def _node(venue_path: str, show_path: str, display: str, bundle_dir: str, scale: str,
          trace_path: str) -> int:
    from ..config import load_show, load_venue, resolve_node
    from ..runtime.node_app import run_node

    venue, show = load_venue(Path(venue_path)), load_show(Path(show_path))
    settings = resolve_node(venue, display, bundle_dir=bundle_dir, headless=True,
                            render_scale=float(scale), fetch=False)
    trace = _Trace(Path(trace_path))

    def on_frame(link: Any, show_t: float, controller_t: float, events: list[Any]) -> None:
        core, now = link.core, time.monotonic()
        # the local time the frame's times were read at (drawing took since), from the
        # node's own clock estimate: the same instant on every process of this machine
        here = core.controller_time(now)
        at = now if here is None else now - (here - controller_t)
        rate = core.show_rate(at)
        for e in events:
            trace.add(f"e {e.seq} {e.kind} {e.controller_at!r}")
        trace.add(f"f {at!r} {show_t!r} {controller_t!r} {rate or 0.0!r}")

    try:
        return run_node(settings, show, on_frame=on_frame)
    finally:
        trace.close()


def _kiosk(venue_path: str, kiosk_id: str, seed: str, items_json: str,
           trace_path: str) -> int:
    from ..config import load_venue
    from ..errors import SyncError
    from ..sync.kiosk import KioskClient

    venue = load_venue(Path(venue_path))
    net = venue.network
    items: list[str] = json.loads(items_json)
    rng = random.Random(int(seed))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    trace = _Trace(Path(trace_path))
    backup = None if net.backup is None else (net.backup.host, net.backup.state_port)
    try:
        with KioskClient(net.host, net.state_port, kiosk_id, 3.0, backup=backup) as kiosk:
            while not stop.wait(rng.uniform(0.5, 2.5)):
                pick = rng.random()
                try:
                    if pick < 0.6 and items:
                        item = rng.choice(items)
                        reply = kiosk.select(item)
                        trace.add(f"s {reply['seq']} {reply['controller_at']!r} {item}")
                    elif pick < 0.85:
                        kiosk.touch()
                    else:
                        kiosk.language(rng.choice(LANGUAGES))
                except SyncError as exc:
                    trace.add(f"x {time.monotonic()!r} {str(exc)[:200]!r}")
                trace.flush()
    finally:
        trace.close()
    return 0


def main(argv: list[str]) -> int:
    """Entry point of both processes (see the module docstring)."""
    if argv[:1] == ["node"] and len(argv) == 7:
        return _node(*argv[1:7])
    if argv[:1] == ["kiosk"] and len(argv) == 6:
        return _kiosk(*argv[1:6])
    print("usage: _soak_proc node VENUE SHOW DISPLAY BUNDLE_DIR SCALE TRACE | "
          "kiosk VENUE ID SEED ITEMS_JSON TRACE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
