"""The Binary Star state machine of a controller pair: who serves, and when to take over.

A venue may run two controllers, a primary and a backup (``[network.backup]``). Exactly one
of them is *active* (serves the nodes, kiosks and operators); the other is *passive* and
holds a replica of the session. This follows the ZeroMQ guide's Binary Star
(``bstar.c``), whose one rule prevents split-brain: **a passive takes over only when it has
lost its partner AND a client asks it to.** A client asks the backup only after the
primary stopped answering *that client*; when only the link between the two controllers
fails, the clients still reach the primary and none asks the backup, so it stays passive.

States: ``"primary"`` and ``"backup"`` (just started, not yet decided), ``"active"``,
``"passive"``. Each controller beats its state to its partner every 0.1 s::

    me \\ partner says     pending (primary/backup)    active      passive
    pending primary        active (if partner is       passive     wait
                           the backup)
    pending backup         wait                        passive     wait
    active                 -                           the higher term stays active
                                                       (a tie: the primary)
    passive                active (my active restarted) -          the primary becomes active

A client request at a controller that is not active makes it active only when the partner
is lost (no beat for ``peer_lost_after_s``); else it is refused, saying so, and the client
tries the other. There is no automatic flip back: a primary that comes back finds the
backup active and becomes its passive; the operator moves the show back (by stopping the
backup) when it suits them.

Every move to active raises the *term* (one above either side's), so two actives (a
partition healed, both took over) settle on the one with the newer term.

Pure: no sockets, no clocks; every time is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["ACTIVE", "BinaryStar", "PAIR_STATES", "PASSIVE", "Transition"]

ACTIVE, PASSIVE = "active", "passive"
#: What a controller of a pair may say it is.
PAIR_STATES = ("primary", "backup", ACTIVE, PASSIVE)
_PENDING = ("primary", "backup")
_HISTORY = 16


@dataclass(frozen=True)
class Transition:
    """A change of state: from ``old`` to ``new``, and why (for the log and status)."""

    old: str
    new: str
    reason: str
    at: float

    @property
    def takeover(self) -> bool:
        """A passive (or undecided) controller became active."""
        return self.new == ACTIVE


class BinaryStar:
    """One controller's side of the pair.

    Args:
        role: ``"primary"`` or ``"backup"``.
        now: controller clock at start (the partner counts as lost only after
            ``peer_lost_after_s`` without a beat from start, too).
        peer_lost_after_s: silence after which the partner is taken as gone.

    Attributes:
        state: one of :data:`PAIR_STATES`.
        term: raised by every move to active.
        peer_state: the partner's state as it last said (``None``: never heard).
        history: the last transitions, newest last.
    """

    def __init__(self, role: str, now: float, peer_lost_after_s: float = 0.5) -> None:
        if role not in _PENDING:
            raise ValueError(f"a pair role is 'primary' or 'backup', not {role!r}")
        if not peer_lost_after_s > 0:
            raise ValueError("peer_lost_after_s must be positive")
        self.role = role
        self.state = role
        self.term = 0
        self.peer_state: str | None = None
        self.peer_term = 0
        self.peer_lost_after_s = peer_lost_after_s
        self.history: list[Transition] = []
        self._started = now
        self._peer_seen: float | None = None
        self._refusals = 0

    @property
    def active(self) -> bool:
        """Whether this controller serves its clients now."""
        return self.state == ACTIVE

    def peer_alive(self, now: float) -> bool:
        """Whether the partner was heard within ``peer_lost_after_s`` (a controller just
        started gives its partner that long to be heard: it may be there already)."""
        return self.peer_silent_s(now) < self.peer_lost_after_s

    def peer_silent_s(self, now: float) -> float:
        """Seconds since the partner was last heard (since start if never)."""
        return now - (self._peer_seen if self._peer_seen is not None else self._started)

    def peer(self, state: str, term: int, now: float) -> Transition | None:
        """The partner says it is in ``state`` with ``term``; returns the change it causes.

        An unknown state is ignored (a partner of another version says nothing useful).
        """
        if state not in PAIR_STATES or isinstance(term, bool) or not isinstance(term, int):
            return None
        self._peer_seen = now
        self.peer_state, self.peer_term = state, term
        me = self.state
        if me in _PENDING:
            if state == ACTIVE:
                return self._move(PASSIVE, "the partner is active", now)
            if state == "backup" and me == "primary":
                return self._move(ACTIVE, "the backup is there, and waits for a primary", now)
            return None
        if me == PASSIVE:
            if state in _PENDING:
                return self._move(ACTIVE, f"the active partner restarted (now {state})", now)
            if state == PASSIVE and self.role == "primary":
                return self._move(ACTIVE, "both were passive: the primary serves", now)
            return None
        # me == ACTIVE
        if state == ACTIVE:
            if term > self.term or (term == self.term and self.role == "backup"):
                return self._move(PASSIVE, f"the partner is active too, with term {term} "
                                  f"(this one: {self.term}); the newer one serves", now)
        return None

    def client_request(self, now: float, who: str = "a peer") -> tuple[bool, Transition | None]:
        """A client asks this controller to serve it: ``(serve, change)``.

        Active: served. Otherwise it takes over when the partner is lost, and refuses
        while the partner is alive (the client then tries the other).
        """
        if self.state == ACTIVE:
            return True, None
        if self.peer_alive(now):
            self._refusals += 1
            return False, None
        lost = self.peer_silent_s(now)
        heard = "never heard" if self._peer_seen is None else f"silent for {lost:.2f} s"
        return True, self._move(ACTIVE, f"the partner is lost ({heard}) and {who} asked",
                                now)

    def refusal(self, other: str) -> str:
        """Why a client request is refused here (names the other controller)."""
        if self.state == PASSIVE:
            return (f"this controller is the passive one of a pair; the active one is "
                    f"{other}")
        return f"this controller is starting as the {self.role} of a pair; try {other}"

    def summary(self, now: float) -> dict[str, Any]:
        """For ``status``: role, state, term, the partner and the recent takeovers."""
        silent = self.peer_silent_s(now)
        return {"role": self.role, "state": self.state, "term": self.term,
                "peer": {"state": self.peer_state, "term": self.peer_term,
                         "alive": self.peer_alive(now),
                         "silent_s": round(silent, 3) if math.isfinite(silent) else None},
                "refused": self._refusals,
                "history": [{"from": t.old, "to": t.new, "reason": t.reason,
                             "ago_s": round(now - t.at, 3)} for t in self.history]}

    def _move(self, new: str, reason: str, now: float) -> Transition:
        old = self.state
        if new == ACTIVE:
            self.term = max(self.term, self.peer_term) + 1
        self.state = new
        change = Transition(old, new, reason, now)
        self.history = [*self.history, change][-_HISTORY:]
        return change
