"""The waiting line in front of the stream slots: who pressed Start and waits, their place and expected wait.

Gradio's queue holds the waiting ``generate`` events; this line mirrors it for the page (position,
expected wait), lets Stop cancel a waiting stream before it starts, remembers when each visitor
clicked so the stats count the first frame from the click, and turns visitors away once ``max_waiting``
wait (``LineFull``, with the time after which a place is likely to be free).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass


@dataclass
class Ticket:
    """One press of Start: its session, when it was pressed, the seconds of video asked for."""

    session: str
    clicked: float
    seconds: float
    cancelled: bool = False


@dataclass(frozen=True)
class Place:
    """A waiting ticket's place: 1 = next; ``wait_s``: expected wait if every stream runs to its end."""

    position: int
    waiting: int
    wait_s: float


class LineFull(Exception):
    """The waiting line is at its cap; ``retry_s``: when the first waiting visitor is expected to get a slot."""

    def __init__(self, waiting: int, retry_s: float) -> None:
        super().__init__(f"{waiting} visitors are waiting already; try again in {retry_s:.0f} s")
        self.waiting, self.retry_s = waiting, retry_s


class WaitingLine:
    """Tickets in click order, and the planned end of the streams running in the ``slots`` stream slots;
    at most ``max_waiting`` tickets wait (None: no cap)."""

    def __init__(self, slots: int, clock=time.monotonic, max_waiting: int | None = None) -> None:
        self.slots, self.clock, self.max_waiting = slots, clock, max_waiting
        self._tickets: dict[int, Ticket] = {}
        self._running: dict[int, float] = {}  # run id -> planned end (clock seconds)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def join(self, session: str, seconds: float) -> int:
        """A visitor pressed Start: a ticket id for the ``generate`` event that follows. The session's earlier
        tickets still waiting are cancelled (one stream per visitor: the second Start replaces the first);
        ``LineFull`` when ``max_waiting`` others wait already for a slot."""
        with self._lock:
            for earlier in self._tickets.values():
                if earlier.session == session:
                    earlier.cancelled = True
            ids = self._waiting_ids()
            free = max(0, self.slots - len(self._running))  # tickets that will start at once do not wait
            if self.max_waiting is not None and len(ids) - free >= self.max_waiting:
                raise LineFull(len(ids) - free, max(1.0, self._wait_behind(ids[:free])))
            ticket = next(self._ids)
            self._tickets[ticket] = Ticket(session, self.clock(), seconds)
            return ticket

    def cancel(self, session: str) -> int:
        """Stop pressed: the session's waiting tickets are cancelled (their streams will not run); how many."""
        with self._lock:
            waiting = [t for t in self._tickets.values() if t.session == session and not t.cancelled]
            for ticket in waiting:
                ticket.cancelled = True
            return len(waiting)

    def leave(self, ticket: int | None) -> Ticket | None:
        """The ticket's ``generate`` got a slot: its ticket (check ``cancelled``), None for an API call."""
        with self._lock:
            return self._tickets.pop(ticket, None) if ticket is not None else None

    def start(self, seconds: float) -> int:
        """A stream of ``seconds`` of video starts in a slot (paced to playback: it lasts about that long)."""
        with self._lock:
            run = next(self._ids)
            self._running[run] = self.clock() + seconds
            return run

    def end(self, run: int) -> None:
        with self._lock:
            self._running.pop(run, None)

    def waiting(self) -> int:
        """Tickets waiting for a slot (not cancelled)."""
        with self._lock:
            return sum(not t.cancelled for t in self._tickets.values())

    def place(self, ticket: int) -> Place | None:
        """Where a waiting ticket stands; None once it left the line or was cancelled."""
        with self._lock:
            ids = self._waiting_ids()
            if ticket not in ids:
                return None
            return Place(ids.index(ticket) + 1, len(ids), self._wait_behind(ids[:ids.index(ticket)]))

    def _waiting_ids(self) -> list[int]:
        """The waiting tickets in click order (lock held)."""
        return [tid for _, tid in sorted((t.clicked, tid) for tid, t in self._tickets.items() if not t.cancelled)]

    def _wait_behind(self, ahead: list[int]) -> float:
        """Expected wait of a visitor behind the ``ahead`` tickets (lock held): each visitor ahead takes the
        slot that frees first and holds it for its stream's length."""
        now = self.clock()
        frees = [max(0.0, end - now) for end in self._running.values()]
        frees += [0.0] * max(0, self.slots - len(frees))  # free slots
        for ticket in ahead:
            frees.sort()
            frees[0] += self._tickets[ticket].seconds
        return min(frees)
