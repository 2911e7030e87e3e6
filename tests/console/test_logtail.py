"""The warnings kept for the status page (``console.logtail``)."""

from __future__ import annotations

import logging

from exhibit_engine.console.logtail import LogTail, redact


def test_warnings_are_kept_in_order_and_listeners_hear_them() -> None:
    tail = LogTail(size=3)
    log = logging.getLogger("test.logtail")
    log.addHandler(tail)
    log.propagate = False
    heard: list[dict[str, object]] = []
    stop = tail.listen(heard.append)
    try:
        log.info("not kept")
        for i in range(5):
            log.warning("node %s is lost", f"n{i}")
        log.error("cannot save the state")
        stop()
        log.warning("after stop")
    finally:
        log.removeHandler(tail)
    assert [e["msg"] for e in tail.lines()] == ["node n4 is lost", "cannot save the state",
                                                 "after stop"]
    assert [e["level"] for e in tail.lines()] == ["warning", "error", "warning"]
    assert len(heard) == 6 and heard[0]["msg"] == "node n0 is lost"
    assert str(heard[0]["ts"]).endswith("+00:00") and heard[0]["logger"] == "test.logtail"


def test_secrets_never_reach_the_page() -> None:
    assert redact("GET /api/show Authorization: Bearer abc.DEF-123") == \
        "GET /api/show Authorization: Bearer …"
    assert redact("url?token=s3cr3t&x=1") == "url?token=…&x=1"
    tail = LogTail()
    tail.emit(logging.LogRecord("x", logging.WARNING, __file__, 1, "bad %s", ("token=zz",),
                                None))
    assert tail.lines()[0]["msg"] == "bad token=…"
