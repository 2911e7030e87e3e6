"""How ``exhibit status`` prints a controller's ``status`` reply: a head line, warnings
(an insecure controller, a state file that is not being saved), a table of the peers
(fps, worst frame and dropped frames for projectors, and what each one's last frame drew:
cue, selected item, language) and each node's fault or failed
capture, one line each. Used by ``exhibit status`` and ``exhibit ctl status``.
"""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["print_status", "summary_line"]


def print_status(st: dict[str, Any], as_json: bool = False) -> None:
    """Print the ``status`` reply ``st`` as people read it, or as JSON."""
    if as_json:
        click.echo(json.dumps(st, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    show = st.get("show") or {}
    head = f"show time {st['show_time']:.3f} s, session {st['session']}"
    if show:
        head += (f", program {show['program']}, cue {show['cue']!r}"
                 + (", paused" if show.get("paused") else "")
                 + (", holding (wait cue)" if show.get("waiting") else "")
                 + (f", panic {show['panic']}" if show.get("panic") else "")
                 + (f", blackout {show['blackout']:.0%}" if show.get("blackout") else "")
                 + ("" if show.get("open", True) else ", closed")
                 + (f", item {show['selected_item']!r}" if show.get("selected_item") else "")
                 + (f", language {show['language']}" if show.get("language") else ""))
    click.echo(head)
    if st.get("insecure"):
        click.echo(f"INSECURE: {st['insecure']}")
    saving = st.get("state_save") or {}
    if saving and not saving.get("ok", True):
        click.echo(f"STATE NOT SAVED since {saving.get('since')}: {saving.get('path')}: "
                   f"{saving.get('error')}")
    gate = st.get("gate") or {}
    if gate.get("holding"):
        waiting = gate.get("waiting_for") or {}
        click.echo("WAITING TO START until every display is ready: "
                   + (", ".join(f"{d} ({why})" for d, why in sorted(waiting.items()))
                      or "all ready, starting")
                   + (f"; starts anyway in {gate['starts_in_s']:.0f} s"
                      if "starts_in_s" in gate else "")
                   + "  (`exhibit ctl start --force` starts it now)")
    elif gate.get("released") in ("forced", "timeout") and gate.get("missing_at_release"):
        click.echo(f"started ({gate['released']}) without "
                   + ", ".join(f"{d} ({why})" for d, why
                               in sorted(gate["missing_at_release"].items())))
    table = Table()
    for col in ("node", "role", "state", "frames", "show time", "offset µs", "rtt µs", "fps",
                "worst ms", "dropped", "drawing", "seen"):
        table.add_column(col, justify="left" if col in ("node", "role", "state", "drawing")
                         else "right")
    for n in st.get("nodes", []):       # fps, worst frame, dropped frames: projectors only
        drawn = (f"{n.get('fps', 0):.1f}", f"{n.get('frame_ms_worst', 0):.0f}",
                 f"{n.get('frames_dropped', 0):,}") if n["role"] == "projector" else ("",) * 3
        # what its last frame drew: the cue, the selected item, the captions' language
        showing = " ".join(x for x in (n.get("cue") or "", f"· {n['item']}" if n.get("item")
                                       else "", f"({n['language']})" if n.get("language")
                                       else "") if x)
        state = n["state"] + (" · ready" if n["role"] == "projector" and n.get("ready")
                              else "")
        table.add_row(n["id"], n["role"], state, f"{n['frames']:,}",
                      f"{n['show_time']:.3f}", f"{n['offset_us']:.0f}", f"{n['rtt_us']:.0f}",
                      *drawn, showing, f"{n['last_seen_s']:.1f} s ago")
    Console().print(table)
    for n in st.get("nodes", []):        # a failed capture or cue: the node drew on
        for key in ("fault", "capture_error"):
            if (n.get("extra") or {}).get(key):
                click.echo(f"{n['id']}: {n['extra'][key]}")
    if st.get("omitted"):
        click.echo(f"({st['omitted']} more not shown)")


def summary_line(name: str, data: dict[str, Any]) -> str:
    """One line for a command's reply."""
    if data.get("ignored"):
        return f"{name}: ignored ({data['ignored']})"
    parts = []
    if "cue" in data:
        parts.append(f"cue {data['cue']!r}" + (f" (#{data['index']})" if "index" in data
                                                else ""))
    if isinstance(data.get("position"), (int, float)):
        parts.append(f"at show time {data['position']:.3f} s")
    if "on" in data:
        parts.append(f"blackout {'on' if data['on'] else 'off'}, fade {data['fade']:g} s")
    if "stage" in data:
        parts.append("fading to black (panic again: black at once, stopped)"
                     if data["stage"] == 1 else "black and stopped ('blackout off' clears)")
    if "started" in data:
        missing = data.get("missing") or {}
        parts.append("the show starts" + (" without " + ", ".join(
            f"{d} ({why})" for d, why in sorted(missing.items())) if missing
            else ": every display is ready"))
    if "program" in data:
        parts.append(f"program {data['program']}")
    return f"{name}: " + (", ".join(parts) or "done")
