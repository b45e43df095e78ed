"""Admission control: which query may have a worker, in what order, and how long the others wait.

There are as many places as the pool can have workers. A request takes a free place at once, or
waits in one first-come-first-served line: a freed place goes to the request that has waited
longest, never to a newer arrival. A client (an address, as uvicorn reports it behind trusted
proxies) may hold ``per_client`` places, running or waiting; beyond that it gets 429. A full
line, or a wait longer than ``wait_s``, is a 503 early, with ``Retry-After``, rather than a
timeout after the query's own. Places are given back from any thread (the pool's watchdog too).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import Counter, deque
from dataclasses import dataclass, field

from llmkg.sparql.query import QueryError


@dataclass(frozen=True)
class AdmissionLimits:
    """Queries one client may have running or waiting; requests that may wait; how long one may."""

    per_client: int = 4
    queue: int = 64
    wait_s: float = 10.0


@dataclass
class _Waiter:
    client: str
    loop: asyncio.AbstractEventLoop
    granted: asyncio.Future[None]


@dataclass
class Ticket:
    """One place, held from admission until the worker is given back; :meth:`release` is idempotent."""

    admission: Admission
    client: str
    released: bool = field(default=False)

    def release(self) -> None:
        self.admission.release(self)


class Admission:
    def __init__(self, places: int, limits: AdmissionLimits) -> None:
        self.places, self.per_client, self.queue, self.wait_s = places, limits.per_client, limits.queue, limits.wait_s
        self._free = places
        self._line: deque[_Waiter] = deque()
        self._held: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def enter(self, client: str) -> Ticket:
        """A place for ``client`` ("" for the server's own reads, which no per-client limit binds).

        Raises QueryError 429 when the client holds its share, 503 when the line is full or the
        wait runs out.
        """
        with self._lock:
            if client and self._held[client] >= self.per_client:
                raise self._too_many(client)
            if self._free > 0 and not self._line:
                self._free -= 1
                self._held[client] += 1
                return Ticket(self, client)
            if len(self._line) >= self.queue:
                raise self._busy(f"{len(self._line)} queries are already waiting for a worker")
            loop = asyncio.get_running_loop()
            waiter = _Waiter(client, loop, loop.create_future())
            self._line.append(waiter)
            self._held[client] += 1
        try:
            await asyncio.wait_for(asyncio.shield(waiter.granted), self.wait_s)
        except (TimeoutError, asyncio.CancelledError) as error:
            if not self._leave(waiter):  # the place was given at the last moment: hand it on
                self.release(Ticket(self, client))
            if isinstance(error, asyncio.CancelledError):
                raise
            raise self._busy(f"no query worker became free within {self.wait_s:g} s") from None
        return Ticket(self, client)

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            if ticket.released:
                return
            ticket.released = True
            self._held[ticket.client] -= 1
            if self._held[ticket.client] <= 0:
                del self._held[ticket.client]
            if not self._line:
                self._free += 1
                return
            waiter = self._line.popleft()  # the longest waiting request gets the place
        waiter.loop.call_soon_threadsafe(_grant, waiter.granted)

    def _leave(self, waiter: _Waiter) -> bool:
        """Take ``waiter`` out of the line; False when it had already been given a place."""
        with self._lock:
            if waiter not in self._line:
                return False
            self._line.remove(waiter)
            self._held[waiter.client] -= 1
            if self._held[waiter.client] <= 0:
                del self._held[waiter.client]
            return True

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"places": self.places, "free": self._free, "waiting": len(self._line), "clients": len(self._held)}

    def _too_many(self, client: str) -> QueryError:
        return QueryError(
            429,
            "Too Many Requests",
            f"{client} already has {self.per_client} queries running or waiting (the limit per client); "
            "wait for one to finish",
            retry_after=1,
        )

    def _busy(self, why: str) -> QueryError:
        return QueryError(503, "Server busy", f"{why}; try again later", retry_after=max(1, math.ceil(self.wait_s)))


def _grant(granted: asyncio.Future[None]) -> None:
    if not granted.done():
        granted.set_result(None)
