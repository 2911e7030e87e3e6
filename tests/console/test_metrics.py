"""/metrics: a status reply as Prometheus text that the Prometheus parser reads back, with
hostile node ids escaped, missing health fields left out and counters added."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exhibit_engine.console.metrics import metrics_text

HOSTILE = ['a"b', "line\nbreak", "back\\slash", "投影机-东", 'x"} exhibit_node_up{node="fake"} 1\n#']


def node(node_id: str, state: str = "joined", **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "role": "projector", "state": state, "frames": 120,
            "show_time": 3.5, "offset_us": -12.5, "rtt_us": 310.0, "captures": [],
            "extra": {}, "last_seen_s": 0.05, "render_age_s": 0.016, **extra}


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text.decode("utf-8")):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"sample twice: {key}"
            out[key] = s.value
    return out


def test_a_status_reply_becomes_metrics_the_prometheus_parser_reads_back() -> None:
    status = {
        "show_time": 42.25, "session": "s1", "seq": 9, "malformed": 3,
        "last_malformed": "x", "refused": 2, "last_refused": "y", "handshakes_refused": 1,
        "nodes": [node(HOSTILE[0], fps=59.9, frame_ms_worst=21.5, frames_dropped=4),
                  node(HOSTILE[1], "lost"), node(HOSTILE[2], "hung", offset_us=None),
                  node(HOSTILE[3], "loading"), node(HOSTILE[4]),
                  {"id": "desk", "role": "operator", "state": "joined"}],
        "show": {"program": "main", "cue": "hall", "paused": True, "waiting": False,
                 "panic": 0, "blackout": 0.5, "open": True},
        "state_save": {"ok": False, "path": "/x", "error": "disk full", "since": "t"},
    }
    body, content_type = metrics_text(status, {"events": 17, "osc malformed": 5})
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    got = samples(body)
    assert got[("exhibit_nodes", (("state", "joined"),))] == 3
    for state in ("lost", "hung", "loading"):
        assert got[("exhibit_nodes", (("state", state),))] == 1
    # Every hostile id comes back exactly as sent: escaped, never a forged line.
    for i, node_id in enumerate(HOSTILE):
        up = got[("exhibit_node_up", (("node", node_id), ("role", "projector")))]
        assert up == (1.0 if i in (0, 4) else 0.0)
        assert got[("exhibit_node_frames_total", (("node", node_id),))] == 120
        assert got[("exhibit_node_rtt_us", (("node", node_id),))] == 310.0
        assert got[("exhibit_node_render_age_seconds", (("node", node_id),))] == 0.016
    assert ("exhibit_node_up", (("node", "fake"),)) not in got
    assert len([k for k in got if k[0] == "exhibit_node_up"]) == 6
    assert got[("exhibit_node_up", (("node", "desk"), ("role", "operator")))] == 1.0
    assert got[("exhibit_node_clock_offset_us", (("node", HOSTILE[0]),))] == -12.5
    assert ("exhibit_node_clock_offset_us", (("node", HOSTILE[2]),)) not in got
    # The health fields are there where the node reports them, and only there.
    one = (("node", HOSTILE[0]),)
    assert got[("exhibit_node_fps", one)] == 59.9
    assert got[("exhibit_node_frame_ms_worst", one)] == 21.5
    assert got[("exhibit_node_frames_dropped_total", one)] == 4
    assert len([k for k in got if k[0] == "exhibit_node_fps"]) == 1
    assert got[("exhibit_show_time_seconds", ())] == 42.25
    assert got[("exhibit_show_blackout_level", ())] == 0.5
    assert got[("exhibit_show_paused", ())] == 1.0
    assert got[("exhibit_malformed_frames_total", ())] == 3
    assert got[("exhibit_refused_total", ())] == 2
    assert got[("exhibit_handshakes_refused_total", ())] == 1
    assert got[("exhibit_state_save_ok", ())] == 0.0
    assert got[("exhibit_events_total", ())] == 17
    assert got[("exhibit_osc_malformed_total", ())] == 5


def test_an_empty_or_odd_status_still_scrapes() -> None:
    """No nodes, no show, values of the wrong type: the scrape parses, with what it can."""
    got = samples(metrics_text({})[0])
    assert {k[1][0][1] for k in got if k[0] == "exhibit_nodes"} == {
        "joined", "loading", "hung", "lost"}
    assert ("exhibit_show_time_seconds", ()) not in got
    odd = {"show_time": float("nan"), "malformed": "many", "refused": 10**400,
           "nodes": [node("n", frames="lots", rtt_us=float("inf")), "not a node",
                     node("n", "lost"), {"id": 7, "state": None}]}
    got = samples(metrics_text(odd, {"": 1, "events_total": 2})[0])
    assert ("exhibit_show_time_seconds", ()) not in got
    assert ("exhibit_malformed_frames_total", ()) not in got
    assert ("exhibit_refused_total", ()) not in got
    assert ("exhibit_node_frames_total", (("node", "n"),)) not in got
    assert got[("exhibit_node_up", (("node", "n"), ("role", "projector")))] == 1.0
    assert got[("exhibit_node_up", (("node", "7"), ("role", "None")))] == 0.0
    assert got[("exhibit_events_total", ())] == 2


@pytest.mark.sync
def test_a_real_controllers_status_reply_scrapes(start_controller: Any) -> None:
    from exhibit_engine.sync import protocol as p

    ctrl = start_controller()
    hello = ctrl.server.request("metrics", "operator", p.Hello("metrics", "operator"))
    assert isinstance(hello.result(timeout=5.0), p.Welcome)
    reply = ctrl.server.request("metrics", "operator",
                                p.Command("status", {}, 1)).result(timeout=5.0)
    assert isinstance(reply, p.Reply) and reply.ok
    got = samples(metrics_text(reply.data, {"events": 0})[0])
    assert got[("exhibit_nodes", (("state", "joined"),))] == 1        # the asker itself
    assert got[("exhibit_node_up", (("node", "metrics"), ("role", "operator")))] == 1.0
    assert ("exhibit_show_time_seconds", ()) in got
    assert got[("exhibit_malformed_frames_total", ())] == 0
