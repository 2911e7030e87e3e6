"""How ``exhibit status`` prints a controller's ``status`` reply: a head line, warnings
(an insecure controller, a state file that is not being saved), a table of the peers
(fps, worst frame and dropped frames for projectors, and what each one's last frame drew:
cue, selected item, language; how many of the show's bundles it holds, and a fetch's
progress), what the controller serves, and each node's fault, failed capture or bundle
on its way, one line each. Used by ``exhibit status`` and ``exhibit ctl status``.
"""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["bundles_cell", "pair_line", "print_status", "summary_line", "transfer_lines"]


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
    pair = st.get("pair") or {}
    if pair:
        click.echo(pair_line(pair))
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
    serving = st.get("transfer") or {}
    if serving:
        offered = serving.get("bundles") or {}
        rate = serving.get("rate_mbps") or 0
        click.echo(f"bundles: serving {len(offered)} ("
                   f"{sum(b.get('size', 0) for b in offered.values()) / 1e6:.1f} MB) on port "
                   f"{serving.get('port')}, "
                   + (f"at most {rate:g} Mbit/s" if rate else "no rate limit")
                   + f", {serving.get('fetchers', 0)} fetching, "
                   f"{serving.get('bytes_sent', 0) / 1e6:,.1f} MB sent"
                   + ("" if serving.get("running", True) else "; THE TRANSFER SERVER STOPPED"))
        for bundle_id, why in sorted((serving.get("problems") or {}).items()):
            click.echo(f"NOT SERVED {bundle_id}: {why}")
    table = Table()
    for col in ("node", "role", "state", "frames", "show time", "offset µs", "rtt µs", "fps",
                "worst ms", "dropped", "drawing", "bundles", "seen"):
        table.add_column(col, justify="left" if col in ("node", "role", "state", "drawing",
                                                        "bundles") else "right")
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
                      *drawn, showing, bundles_cell(n), f"{n['last_seen_s']:.1f} s ago")
    con = Console()
    if not con.is_terminal:     # a pipe or a file: the whole table, not 80 columns of it
        con = Console(width=200)
    con.print(table)
    for n in st.get("nodes", []):        # each bundle still on its way, or refused
        for line in transfer_lines(n):
            click.echo(f"{n['id']}: {line}")
    for n in st.get("nodes", []):        # a failed capture or cue: the node drew on
        for key in ("fault", "capture_error"):
            if (n.get("extra") or {}).get(key):
                click.echo(f"{n['id']}: {n['extra'][key]}")
    if st.get("omitted"):
        click.echo(f"({st['omitted']} more not shown)")


def pair_line(pair: dict[str, Any]) -> str:
    """One line on a controller pair: which one serves, since when and why, and the
    partner (``PARTNER LOST`` when it is silent)."""
    peer = pair.get("peer") or {}
    line = f"pair: this is the {pair.get('role')}, {str(pair.get('state', '?')).upper()}"
    history = pair.get("history") or []
    last = history[-1] if history else None
    if last is not None and last.get("to") == pair.get("state"):
        line += f" for {last.get('ago_s', 0):.0f} s ({last.get('reason')})"
    line += f", term {pair.get('term')}; partner {pair.get('partner')} "
    if peer.get("alive"):
        line += str(peer.get("state") or "?")
    else:
        line += f"PARTNER LOST ({peer.get('silent_s', 0):.1f} s silent)"
    takeovers = [h for h in history if h.get("to") == "active" and h.get("from") == "passive"]
    if takeovers:
        line += f"; {len(takeovers)} takeover(s) by this one"
    return line


def bundles_cell(node: dict[str, Any]) -> str:
    """A node's bundles in a few characters: ``3/3``, ``2/3 fetching 45%``, ``2/3 REFUSED``
    (installed of the show's; empty for a node that reports no fetch)."""
    transfer = node.get("transfer") or {}
    if not transfer:
        return ""
    done = sum(1 for t in transfer.values() if t.get("state") == "installed")
    cell = f"{done}/{len(transfer)}"
    states = {t.get("state") for t in transfer.values()}
    if states & {"refused", "failed", "missing"}:
        return cell + " " + "/".join(sorted(s.upper() for s in states
                                            & {"refused", "failed", "missing"}))
    moving = [t for t in transfer.values() if t.get("state") in ("fetching", "verifying")]
    if moving:
        size = sum(t.get("size", 0) for t in moving)
        part = sum(t.get("done", 0) for t in moving) / size if size else 0.0
        return f"{cell} fetching {part:.0%}"
    if "waiting" in states:
        return f"{cell} waiting"
    return cell


def transfer_lines(node: dict[str, Any]) -> list[str]:
    """One line per bundle a node does not hold yet as the controller offers it."""
    out = []
    for bundle_id, t in sorted((node.get("transfer") or {}).items()):
        state = t.get("state", "?")
        if state == "installed":
            continue
        version = f" {t['version']}" if t.get("version") else ""
        size = t.get("size", 0)
        amount = (f" {t.get('done', 0) / size:.0%} of {size / 1e6:,.1f} MB" if size
                  and state in ("fetching", "verifying") else "")
        why = f": {t['error']}" if t.get("error") else ""
        out.append(f"{state} {bundle_id}{version}{amount}{why}")
    return out


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
