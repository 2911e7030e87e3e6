"""What ``exhibit ctl capture`` waits for: each projector's capture, or its reason.

A capture runs on the nodes after the controller has replied, so the reply cannot say
whether a PNG was written. The nodes report it in their status: ``captures`` (the tags
written) and, for a capture that failed, ``extra.capture_error`` (one line: the tag and
the reason) with ``extra.capture_failures`` counting them. :func:`capture_view` reads
that before the command; :func:`capture_results` polls ``status`` until every projector
has captured the tag or reported a failure, and prints one ``exhibit: error:`` line for
each failure.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["CAPTURE_WAIT_S", "capture_results", "capture_view"]

#: Seconds past a capture's delay that ``ctl capture`` waits for the nodes to report.
CAPTURE_WAIT_S = 3.0


def capture_view(st: dict[str, Any]) -> dict[str, tuple[tuple[str, ...], int]]:
    """Each projector's captures and failed-capture count, from a status reply."""
    return {n["id"]: (tuple(n.get("captures") or ()),
                      int((n.get("extra") or {}).get("capture_failures", 0)))
            for n in st.get("nodes", []) if n.get("role") == "projector"
            and n.get("state") in ("joined", "loading")}


def capture_results(op: Any, tag: str, before: dict[str, tuple[tuple[str, ...], int]],
                     wait_s: float) -> int:
    """Wait up to ``wait_s`` for each projector to capture ``tag`` or report a failure;
    print one line per node that failed or did not answer; return how many failed."""
    import threading
    import time

    pending, failed = set(before), 0
    deadline = time.monotonic() + wait_s
    pause = threading.Event()
    while pending and time.monotonic() < deadline:
        pause.wait(0.1)                  # the nodes report every 0.1 s
        st = op.command("status")
        for n in st.get("nodes", []):
            if n["id"] not in pending:
                continue
            count = int((n.get("extra") or {}).get("capture_failures", 0))
            if count > before[n["id"]][1]:
                click.echo(f"exhibit: error: {n['id']}: {n['extra'].get('capture_error')}",
                           err=True)
                failed += 1
                pending.discard(n["id"])
            elif tag in (n.get("captures") or ()) \
                    and tuple(n.get("captures") or ()) != before[n["id"]][0]:
                pending.discard(n["id"])
    for node_id in sorted(pending):
        click.echo(f"  {node_id}: no capture reported (started without --capture-dir?)")
    return failed
