"""Time-outs measured as the server lived them: wall time less the moments this whole process was stalled.

A test that checks "503 within 5 s" runs the server and its client in one event loop. On a busy CI
machine (another worker's browser and server, the type checker) the process can be left without a
CPU for most of a second: the server's timer then fires late through no fault of its own (CI once
saw /healthz answer after 2 s, where it answers in 1.1 s here). A ticker notices such stalls (a
wake-up late by more than STALL seconds while the process was not running), and ``running``
subtracts them. Time the loop spent busy is the process's own work and is never subtracted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

TICK = 0.01
# Later than this is a stall of the process, not the server's own work: one request's handling
# holds the loop for milliseconds.
STALL = 0.05


@dataclass
class LoopStalls:
    started: float
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (when it ended, how long)

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def running(self, until: float) -> float:
        """Seconds from the start to ``until``, the stalls ended by then left out."""
        stalled = sum(length for ended, length in self.stalls if ended <= until)
        return until - self.started - stalled


@contextlib.asynccontextmanager
async def watching_stalls() -> AsyncIterator[LoopStalls]:
    loop = asyncio.get_running_loop()
    watch = LoopStalls(loop.time())

    async def tick() -> None:
        while True:
            due = loop.time() + TICK
            used = time.process_time()
            await asyncio.sleep(TICK)
            late = loop.time() - due
            # Late because the loop was busy is the server's (and the client's) own work, and
            # counts; late while the process was given no CPU is the machine's, and does not.
            idle = (loop.time() - due + TICK) - (time.process_time() - used)
            if late > STALL and idle > 0:
                watch.stalls.append((loop.time(), min(late, idle)))

    ticker = asyncio.create_task(tick())
    try:
        yield watch
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
