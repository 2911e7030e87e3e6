"""A kiosk's client: a visitor picks an artifact or a language, and the wall follows.

A kiosk is a peer with the role ``"kiosk"``: it says hello (so the controller lists it in
``status``), then sends kiosk commands, each answered by a reply::

    select    item: str, delay: s=0.3   the wall focuses the item (state "selected_item")
    touch                               activity: the attract loop gives way to the show
    language  language: str             state "language" (e.g. "zh", "en", "ru")

It is an :class:`~exhibit_engine.sync.operator.OperatorClient` (the same DEALER, request
numbers and timeouts) that introduces itself first; ``exhibit kiosk`` uses it, and
``docs/protocol.md`` describes the same exchange for kiosks written in other languages.
"""

from __future__ import annotations

from typing import Any

from .operator import OperatorClient

__all__ = ["KioskClient"]


class KioskClient(OperatorClient):
    """Sends kiosk commands to a controller, saying hello as ``kiosk_id`` first.

    Args:
        host: the controller's address.
        state_port: its ROUTER port.
        kiosk_id: this kiosk's id, as ``status`` lists it.
        timeout_s: how long each request waits, connection included.
        **kwargs: passed on to :class:`OperatorClient` (e.g. security settings).

    Raises:
        SyncError: the address cannot be used.
    """

    role = "kiosk"

    def __init__(self, host: str, state_port: int, kiosk_id: str = "kiosk",
                 timeout_s: float = 2.0, **kwargs: Any) -> None:
        if not 0 < len(kiosk_id) <= 256:
            raise ValueError("kiosk_id must be 1 to 256 characters")
        super().__init__(host, state_port, timeout_s, peer_id=kiosk_id, role="kiosk",
                         **kwargs)

    @property
    def kiosk_id(self) -> str:
        """This kiosk's id (its hello's ``node_id``)."""
        return self.peer_id

    def select(self, item: str, delay: float | None = None) -> dict[str, Any]:
        """Select ``item`` on the wall; returns ``{effective_at, seq, state_seq}``."""
        return self.command("select", item=item, **_delay(delay))

    def touch(self) -> dict[str, Any]:
        """Report visitor activity (leaves the attract loop)."""
        return self.command("touch")

    def language(self, language: str) -> dict[str, Any]:
        """Switch the wall's language; returns ``{language, state_seq}``."""
        return self.command("language", language=language)


def _delay(delay: float | None) -> dict[str, float]:
    return {} if delay is None else {"delay": float(delay)}
