"""The controller's own commands (not the show control's): ``capture``, ``select``,
``seek`` without a cue list, ``debug-fill``, ``restart`` and ``language``.

A part of :class:`~.controller_core.ControllerCore`, kept in a module of its own so that
each stays readable; its methods use the core's state, sequence numbers and event making
(:meth:`~.controller_core.ControllerCore._set`, ``_event``, ``_apply``).

Core: standard library and ``msgpack`` types only; never ZeroMQ.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import CommandError, ProtocolError
from ..show.anchor import ShowAnchor
from .protocol import Message, encode_anchor
from .snapshot import debug_filled

if TYPE_CHECKING:
    from ._peers import NodeInfo
    from ._show import ShowChange, ShowSession
    from .protocol import Event, KeyUpdate

__all__ = ["CoreCommands"]


class CoreCommands:
    """The controller core's own command handlers (mixed into ``ControllerCore``)."""

    seq: int
    state: dict[str, Any]
    items: frozenset[str] | None
    show: ShowSession
    anchor: ShowAnchor
    debug_commands: bool
    nodes: dict[str, NodeInfo]
    _snapshot_cache: Any

    if TYPE_CHECKING:
        def _set(self, key: str, value: Any) -> KeyUpdate: ...
        def _event(self, kind: str, controller_at: float, args: Mapping[str, Any]
                   ) -> Event: ...
        def _apply(self, change: ShowChange) -> tuple[list[KeyUpdate], list[Event]]: ...
        def _set_anchor(self, anchor: ShowAnchor, now: float) -> None: ...
        def _cmd_show(self, name: str, args: Mapping[str, Any], now: float,
                      ) -> tuple[dict[str, Any], list[Message]]: ...

    def _cmd_capture(self, args: Mapping[str, Any], now: float,
                     ) -> tuple[dict[str, Any], list[Message]]:
        event = self._event("capture", now + args["delay"], {"tag": args["tag"]})
        return {"effective_at": event.effective_at, "controller_at": event.controller_at,
                "seq": event.seq}, [event]

    def _cmd_select(self, args: Mapping[str, Any], now: float,
                    ) -> tuple[dict[str, Any], list[Message]]:
        item = args["item"]
        if self.items is not None and item not in self.items:
            near = difflib.get_close_matches(item, sorted(self.items), n=1)
            raise CommandError("select", f"select: no bundle of the show has item "
                               f"{item[:64]!r}" + (f" (did you mean {near[0]!r}?)" if near
                                                    else ""))
        event = self._event("select", now + args["delay"], {"item": item})
        # Also session state, so a node that joins later knows what is selected.
        update = self._set("selected_item", {"item": item, "selected_at": event.effective_at})
        updates, events = self._apply(self.show.activity(now))   # the attract loop gives way
        return ({"effective_at": event.effective_at, "controller_at": event.controller_at,
                 "seq": event.seq, "state_seq": self.seq},
                [event, update, *updates, *events])

    def _cmd_seek(self, args: Mapping[str, Any], now: float,
                  ) -> tuple[dict[str, Any], list[Message]]:
        if self.show.control is not None:
            return self._cmd_show("seek", args, now)
        self._set_anchor(ShowAnchor(now + args["delay"], args["position"], args["rate"]), now)
        update = self._set("anchor", encode_anchor(self.anchor))
        return {"anchor": self.state["anchor"], "seq": self.seq}, [update]

    def _cmd_debug_fill(self, args: Mapping[str, Any], now: float,
                        ) -> tuple[dict[str, Any], list[Message]]:
        """Development mode only: filler keys (:func:`~.snapshot.debug_filled`)."""
        if not self.debug_commands:
            raise CommandError("debug-fill", "debug-fill: only in development mode (a "
                               "controller without [security] curve)")
        try:
            state, answer = debug_filled(self.state, int(args["keys"]),
                                         int(args["value_bytes"]), self.seq + 1)
        except ProtocolError as exc:
            raise CommandError("debug-fill", f"debug-fill: {exc.rule}") from None
        self.state, self.seq = state, self.seq + 1
        self._snapshot_cache = ((self.seq, len(state)), answer)
        return {"keys": int(args["keys"]), "state_keys": len(state), "parts": len(answer) - 1,
                "state_seq": self.seq}, []

    def _cmd_restart(self, args: Mapping[str, Any], now: float,
                     ) -> tuple[dict[str, Any], list[Message]]:
        """A projector's process starts afresh (the node re-executes itself on the event)."""
        info = self.nodes.get(args["node"])
        if info is None or info.role != "projector":
            known = ", ".join(sorted(n for n, i in self.nodes.items() if i.role == "projector"))
            raise CommandError("restart", f"restart: no projector {args['node'][:64]!r} "
                               f"(known: {known or 'none'})")
        e = self._event("restart", now + args["delay"], {"node": info.node_id})
        return {"node": info.node_id, "controller_at": e.controller_at, "seq": e.seq}, [e]

    def _cmd_language(self, args: Mapping[str, Any], now: float,
                      ) -> tuple[dict[str, Any], list[Message]]:
        lang = self.show.language(args.get("language"))
        out: list[Message] = []
        if self.state.get("language") != lang:
            out.append(self._set("language", lang))
        updates, events = self._apply(self.show.activity(now))
        return {"language": lang, "state_seq": self.seq}, [*out, *updates, *events]
