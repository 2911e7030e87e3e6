"""A sync-only node for the pair failover test: a NodeLink with a backup and a 60 Hz frame
loop that draws nothing. On SIGTERM it writes what it saw to OUT as JSON: every event it
played (once each, on its frame), every change of ``show time - local clock`` from one
frame to the next above 0.5 ms, with its time (a show at rate 1: none unless show time
jumps), the controller it follows and its failovers.

``python tests/e2e/pair_node.py ID HOST STATE PUBLISH BACKUP_HOST BSTATE BPUBLISH OUT``
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from exhibit_engine.sync.node import NodeLink


def main() -> int:
    node_id, host, sp, pp, bhost, bsp, bpp, out = sys.argv[1:9]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    link = NodeLink(node_id, host, int(sp), int(pp), backup=(bhost, int(bsp), int(bpp)))
    events: list[dict[str, object]] = []
    jumps: list[tuple[float, float]] = []      # (monotonic time, jump) above 0.5 ms
    prev_lead, frames = None, 0
    next_frame = time.monotonic()
    try:
        while not stop.is_set():
            link.poll()
            times = link.frame_time()
            now = time.monotonic()
            if times is not None:
                show_t, controller_t = times
                lead = show_t - now
                if prev_lead is not None and abs(lead - prev_lead) > 0.0005:
                    jumps.append((now, lead - prev_lead))
                prev_lead = lead
                for e in link.take_events(show_t, controller_t):
                    events.append({"seq": e.seq, "kind": e.kind, "args": dict(e.args),
                                   "controller_at": e.controller_at,
                                   "frame_controller_t": controller_t})
                frames += 1
                link.report(frames, show_t)
            next_frame += 1 / 60
            stop.wait(max(0.0, next_frame - time.monotonic()))
    finally:
        result = {"events": events, "jumps": jumps, "frames": frames,
                  "controller": link.controller, "failovers": link.failovers}
        link.close()
        with open(out, "w", encoding="utf-8") as f:
            json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
