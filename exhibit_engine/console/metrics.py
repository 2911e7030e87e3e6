"""A controller ``status`` reply as the Prometheus text exposition (``/metrics``).

:func:`metrics_text` turns one ``status`` reply (``docs/protocol.md`` §7) into the text
format 0.0.4 that Prometheus scrapes, built with prometheus_client on a fresh registry per
call (nothing global, nothing left between scrapes), so museum IT can graph a wall in
Grafana::

    exhibit_nodes{state}                       peers in each state (joined, loading, hung,
                                               lost: always all four)
    exhibit_node_up{node,role}                 1 while joined, else 0
    exhibit_node_frames_total{node}            frames the node drew
    exhibit_node_clock_offset_us{node}         its clock offset (absent before a probe)
    exhibit_node_rtt_us{node}                  its round trip to the controller
    exhibit_node_render_age_seconds{node}      since its render loop last ran
    exhibit_node_last_seen_seconds{node}       since its last message
    exhibit_node_fps{node}                     where the node reports them (node-status):
    exhibit_node_frame_ms_worst{node}            frames per second, the worst frame time
    exhibit_node_frames_dropped_total{node}      and frames over 1.5x the budget
    exhibit_nodes_omitted                      nodes left out of a status too big for a frame
    exhibit_show_time_seconds                  the show time now
    exhibit_show_blackout_level                with a cue list: the blackout level (0-1),
    exhibit_show_paused                          whether the show is paused
    exhibit_malformed_frames_total             frames the controller could not read
    exhibit_refused_total                      commands refused by role
    exhibit_handshakes_refused_total           CURVE handshakes refused
    exhibit_state_save_ok                      with a state file: 1 while saves succeed
    exhibit_NAME_total                         each of ``counters`` (``events`` ->
                                               ``exhibit_events_total``)

Node ids and roles are the peers' own text: prometheus_client escapes them as label
values (backslash, double quote, newline), so no id can forge a line. A value that is
missing, not a number or not finite leaves its sample out rather than failing the scrape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

__all__ = ["CONTENT_TYPE", "NODE_STATES", "metrics_text"]

#: The text format 0.0.4, which every Prometheus reads (prometheus_client's "latest" is
#: 1.0.0 from 0.22 on; the body is the same for names like ours).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: The states a peer can be in (``docs/protocol.md`` §5); each has an ``exhibit_nodes``
#: sample, 0 when no peer is in it.
NODE_STATES = ("joined", "loading", "hung", "lost")

# (status key, metric suffix, help, counter?) for each node's numbers
_NODE_NUMBERS = (
    ("frames", "frames", "Frames the node drew.", True),
    ("offset_us", "clock_offset_us",
     "The node's clock offset from the controller's, in microseconds.", False),
    ("rtt_us", "rtt_us", "The node's round trip to the controller, in microseconds.", False),
    ("render_age_s", "render_age_seconds", "Seconds since the node's render loop last ran.",
     False),
    ("last_seen_s", "last_seen_seconds", "Seconds since the node's last message.", False),
    ("fps", "fps", "Frames per second the node draws.", False),
    ("frame_ms_worst", "frame_ms_worst",
     "The node's worst frame time lately, in milliseconds.", False),
    ("frames_dropped", "frames_dropped", "Frames over 1.5 times the frame budget.", True),
)

_TOTALS = (
    ("malformed", "malformed_frames", "Frames the controller could not read."),
    ("refused", "refused", "Commands refused by role."),
    ("handshakes_refused", "handshakes_refused", "CURVE handshakes refused."),
)


def metrics_text(status: Mapping[str, Any], counters: Mapping[str, float] | None = None,
                 ) -> tuple[bytes, str]:
    """The Prometheus text exposition of a controller's ``status`` reply.

    Args:
        status: the ``data`` of a ``status`` reply.
        counters: more counters of the process (e.g. ``{"events": 12}``), each exposed as
            ``exhibit_NAME_total``; a name is reduced to letters, digits and ``_``.

    Returns:
        ``(body, content_type)`` for an HTTP response.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatusCollector(status, counters or {}))
    return generate_latest(registry), CONTENT_TYPE


class _StatusCollector:
    """A prometheus_client collector over one status reply (read at collect time)."""

    def __init__(self, status: Mapping[str, Any], counters: Mapping[str, float]) -> None:
        self._status = status
        self._counters = counters

    def collect(self) -> Iterator[Metric]:
        status = self._status
        nodes, ids = [], set()
        for entry in status.get("nodes") or ():
            # one entry per node id (the first), whatever a reply repeats
            if isinstance(entry, Mapping) and _text(entry.get("id")) not in ids:
                ids.add(_text(entry.get("id")))
                nodes.append(entry)
        states = GaugeMetricFamily("exhibit_nodes", "Peers in each state.",
                                   labels=["state"])
        counts = dict.fromkeys(NODE_STATES, 0)
        for node in nodes:
            state = _text(node.get("state"))
            counts[state] = counts.get(state, 0) + 1
        for state, count in counts.items():
            states.add_metric([state], count)
        yield states
        up = GaugeMetricFamily("exhibit_node_up", "1 while the node is joined, else 0.",
                               labels=["node", "role"])
        for node in nodes:
            up.add_metric([_text(node.get("id")), _text(node.get("role"))],
                          1.0 if node.get("state") == "joined" else 0.0)
        yield up
        for key, suffix, doc, counter in _NODE_NUMBERS:
            family = (CounterMetricFamily if counter else GaugeMetricFamily)(
                f"exhibit_node_{suffix}", doc, labels=["node"])
            for node in nodes:
                value = _number(node.get(key))
                if value is not None:
                    family.add_metric([_text(node.get("id"))], value)
            if family.samples:
                yield family
        yield from _gauge("exhibit_nodes_omitted", "Nodes left out of a status reply too "
                          "big for one frame.", status.get("omitted", 0))
        yield from _gauge("exhibit_show_time_seconds", "The show time now, in seconds.",
                          status.get("show_time"))
        show = status.get("show")
        if isinstance(show, Mapping):
            yield from _gauge("exhibit_show_blackout_level", "The blackout level now "
                              "(0: none, 1: black).", show.get("blackout"))
            yield from _gauge("exhibit_show_paused", "1 while the show is paused.",
                              show.get("paused"))
        for key, name, doc in _TOTALS:
            yield from _counter(f"exhibit_{name}", doc, status.get(key))
        save = status.get("state_save")
        if isinstance(save, Mapping):
            yield from _gauge("exhibit_state_save_ok", "1 while the state file saves "
                              "succeed.", bool(save.get("ok")))
        for name, value in sorted(self._counters.items()):
            clean = re.sub(r"[^a-zA-Z0-9_]", "_", str(name)).strip("_")
            clean = clean.removesuffix("_total")
            if clean:
                yield from _counter(f"exhibit_{clean}", f"{clean} counted by the "
                                    "controller's process.", value)


def _gauge(name: str, doc: str, value: Any) -> Iterator[Metric]:
    number = _number(value)
    if number is not None:
        yield GaugeMetricFamily(name, doc, value=number)


def _counter(name: str, doc: str, value: Any) -> Iterator[Metric]:
    number = _number(value)
    if number is not None:
        yield CounterMetricFamily(name, doc, value=number)


def _number(value: Any) -> float | None:
    """A finite number (a flag is 0 or 1), else ``None``."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:       # an int past a float's range
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    """A label value: the text as sent (escaped by prometheus_client), at most 256
    characters; anything else as its ``str``."""
    return (value if isinstance(value, str) else str(value))[:256]
