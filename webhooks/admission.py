"""Web chat requests take the database in turn.

A web chat request takes a pooled connection several times (a join: its session, the code, the new
token). When a crowd arrives at once, each of those waits queues at the pool behind every request
that arrived since, so a request's wait is multiplied by how often it goes back to the pool, and
the slowest members wait several times as long as the rest. In line, a request waits once: at most
``slots`` of them at a time use the database, the others wait first come, first served, within the
request's database deadline (then 503, as a pool wait would).

Turns go round the client addresses waiting, first come first served within each: one address
sending a flood (a script, a stuck page) gets one turn in each round, not one for every request it
queued, and the members behind it wait for the other addresses' requests, not for its flood.
Members behind one address (a carrier's shared address, a proxy not trusted) share its turns.

When a request in its turn finds the database not answering, the line closes for a moment: those
waiting, and those arriving meanwhile, are answered 503 at once instead of each taking its turn
only to wait on the same hung database (with it frozen, every request must have its 503 within
5 s: a turn taken late, then a statement's full time-out, took longer).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections import deque
from collections.abc import AsyncIterator
from contextvars import ContextVar

from sqlalchemy.exc import TimeoutError as PoolTimeout

from models.db import NoTimeLeft, is_database_unavailable, request_deadline, statement_cancelled

# How long the line stays closed after a request in its turn found the database not answering;
# then the next ones try it again.
CLOSED_SECONDS = 1.0
# A time-out is the database not answering only if the request had at least this long for it when
# its turn came (or a quarter of its budget, if that is less): one that had spent its deadline
# waiting in line (a flood ahead of it) runs out of its own time, and closed the line for every
# member (found by the outside attacker).
EVIDENCE_SECONDS = 0.5
# What was left of the request's deadline when its turn came (None: no deadline).
_LEFT_AT_TURN: ContextVar[float | None] = ContextVar("left_at_turn", default=None)


def client_group(address: str) -> str:
    """Whose turn a request from ``address`` is: the address, or for IPv6 its /64, which one
    subscriber holds whole (a flood rotating addresses within it still gets one turn a round)."""
    try:
        parsed = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)  # an IPv4 client of a dual-stack socket or proxy
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False)) if parsed.version == 6 else address


class LineClosed(TimeoutError):
    """The database stopped answering the requests before this one: 503 without trying it."""


class Line:
    def __init__(self, slots: int, budget: float = 2.0) -> None:
        """``slots`` requests at a time; ``budget``: a request's database deadline, in seconds."""
        self.slots = slots
        self._evidence = min(EVIDENCE_SECONDS, budget / 4)
        self._taken = 0
        # Each address's requests waiting, in order; the dict's order is the round's (an address
        # served goes to its end while it has more waiting).
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._closed_until = 0.0

    @contextlib.asynccontextmanager
    async def turn(self, address: str = "") -> AsyncIterator[None]:
        """Wait for a turn (``TimeoutError`` past the request's deadline, ``LineClosed`` while the
        database is not answering), and hold it in the block. ``address``: the client's
        (``client_group``)."""
        await self._take(address)
        now, deadline = asyncio.get_running_loop().time(), request_deadline()
        token = _LEFT_AT_TURN.set(None if deadline is None else deadline - now)
        try:
            if now < self._closed_until:
                raise LineClosed("the database is not answering")
            yield
        except Exception as error:
            self.failed(error)
            raise
        finally:
            self._give_back()
            _LEFT_AT_TURN.reset(token)

    def waiting(self) -> int:
        """How many requests wait for a turn."""
        return sum(len(queue) for queue in self._waiting.values())

    async def _take(self, address: str) -> None:
        if self._taken < self.slots and not self._waiting:
            self._taken += 1
            return
        given: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(address, deque()).append(given)
        try:
            async with asyncio.timeout_at(request_deadline()):
                await given
        except BaseException:
            if given.done() and not given.cancelled():
                self._give_back()  # handed over as the wait ended: passed on
            else:
                queue = self._waiting.get(address)
                if queue is not None and given in queue:
                    queue.remove(given)
                    if not queue:
                        del self._waiting[address]
            raise

    def _give_back(self) -> None:
        """The turn ends: handed to the next address in the round, or freed."""
        while self._waiting:
            address, queue = next(iter(self._waiting.items()))
            del self._waiting[address]
            given = queue.popleft()
            if queue:
                self._waiting[address] = queue  # to the end of the round
            if not given.done():
                given.set_result(None)
                return
        self._taken -= 1

    def failed(self, error: BaseException) -> None:
        """A request in its turn met ``error`` (raised, or answered 503 itself): the line closes if
        the database did not answer. Not for a pool with no connection free (a crowd: the other
        requests' turns end as usual), nor for a statement PostgreSQL cancelled (a lock held
        elsewhere, a long import: the database answers, and the others need not wait on that lock),
        nor for a request whose deadline was spent before it tried the database, or whose turn came
        with too little of it left to tell."""
        answered = statement_cancelled(error) or isinstance(error, LineClosed | PoolTimeout | NoTimeLeft)
        left = _LEFT_AT_TURN.get()
        if left is not None and left < self._evidence:
            return
        if is_database_unavailable(error) and not answered:
            self._closed_until = asyncio.get_running_loop().time() + CLOSED_SECONDS


class Allowance:
    """How many requests each key (a web chat session not yet joined) may make in a window of
    ``seconds``, in this process: a stranger's page says hello and types a code; a script sending
    thousands of messages filled the tables (each is answered and kept) and took turns from the
    members. Fixed windows, forgotten once over (kept for at most ``MAX_KEYS`` keys at a time)."""

    MAX_KEYS = 10_000

    def __init__(self, requests: int, seconds: float) -> None:
        self.requests, self.seconds = requests, seconds
        self._used: dict[str, tuple[float, int]] = {}

    def take(self, key: str) -> float | None:
        """Counts a request for ``key``: None if allowed, else the seconds until it may try again."""
        now = asyncio.get_running_loop().time()
        started, used = self._used.get(key, (now, 0))
        if now - started >= self.seconds:
            started, used = now, 0
        if used >= self.requests:
            return started + self.seconds - now
        if key not in self._used and len(self._used) >= self.MAX_KEYS:
            self._used = {k: v for k, v in self._used.items() if now - v[0] < self.seconds}
            while len(self._used) >= self.MAX_KEYS:  # all within their window: the oldest go
                del self._used[next(iter(self._used))]
        self._used[key] = (started, used + 1)
        return None
