"""The controller's ``status`` reply, trimmed so that it always fits one frame.

A status lists every peer with its last report; a venue of many nodes with large
``captures`` and ``extra`` could pass the 64 KiB frame limit. :func:`fit_status` trims it
in two steps: first every node loses its details (``captures`` and ``extra`` emptied, the
keys of :data:`DETAILS` left out; ``trimmed``: true), then joined nodes are kept before
lost ones and the rest are only counted (``omitted``). 256 projectors with ids of up to 20
characters and their health (fps, frame times, dropped frames) fit after the first step.

Pure: ``msgpack`` only.
"""

from __future__ import annotations

from typing import Any

import msgpack

__all__ = ["DETAILS", "STATUS_BYTES", "fit_status", "packed_size"]

#: The status reply's budget (packed bytes), under the 64 KiB frame limit.
STATUS_BYTES = 60000
#: The keys of a node's row left out of a trimmed status (``captures`` and ``extra`` stay,
#: emptied).
DETAILS = ("bundles", "cue", "gpu_free_mb", "gpu_memory_mb", "item", "language",
           "renderer", "transfer")


def packed_size(value: Any) -> int:
    """The size of ``value`` packed as msgpack (bytes)."""
    return len(msgpack.packb(value, use_bin_type=True))


def fit_status(data: dict[str, Any], budget: int = STATUS_BYTES) -> dict[str, Any]:
    """Trim a status reply to ``budget`` packed bytes (in place); return it.

    Args:
        data: the reply; ``data["nodes"]`` is the list of node rows (``id``, ``role``,
            ``state``, ``last_seen_s``, ``captures``, ``extra``...).
        budget: the most packed bytes the reply may take.
    """
    if packed_size(data) <= budget:
        return data
    nodes: list[dict[str, Any]] = data["nodes"]
    for n in nodes:
        n["captures"], n["extra"] = [], {}
        for key in DETAILS:
            n.pop(key, None)
    data["trimmed"] = True
    if packed_size(data) > budget:
        ranked = sorted(nodes, key=lambda n: (n["state"] != "joined", n["role"] != "projector",
                                              n["last_seen_s"]))
        used, kept = packed_size({**data, "nodes": [], "omitted": len(nodes)}), []
        for n in ranked:
            used += packed_size(n)
            if used > budget:
                break
            kept.append(n)
        data["nodes"] = sorted(kept, key=lambda n: n["id"])
        data["omitted"] = len(nodes) - len(kept)
    return data
