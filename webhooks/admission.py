"""Web chat requests take the database in turn.

A web chat request takes a pooled connection several times (a join: its session, the code, the new
token). When a crowd arrives at once, each of those waits queues at the pool behind every request
that arrived since, so a request's wait is multiplied by how often it goes back to the pool, and
the slowest members wait several times as long as the rest. In line, a request waits once: at most
``slots`` of them at a time use the database, the others wait first come, first served, within the
request's database deadline (then 503, as a pool wait would).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from models.db import request_deadline


class Line:
    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._free = asyncio.Semaphore(slots)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for a turn (``TimeoutError`` past the request's deadline), and hold it in the block."""
        async with asyncio.timeout_at(request_deadline()):
            await self._free.acquire()
        try:
            yield
        finally:
            self._free.release()
