"""Meeting reminders and timed jobs: rows in the database, claimed when due.

The process sleeps until the earliest pending job is due (looking again at least every
``RECHECK``, for jobs another process wrote), claims the due rows and writes their messages to the
outbox in one transaction per batch, then wakes the delivery worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from models.meetings import DueRun, MeetingMessages, invite_latecomers, next_due_at, run_due
from models.tables import utcnow
from models.uow import UnitOfWork

log = logging.getLogger(__name__)

# A job written by another process (a meeting called through another replica) is noticed this soon.
RECHECK = timedelta(seconds=15)
BATCH = 200


@dataclass
class MeetingJobs:
    sessions: async_sessionmaker[AsyncSession]
    messages: MeetingMessages
    timezone: tzinfo
    wake_delivery: Callable[[], None]
    clock: Callable[[], datetime] = field(default=utcnow)

    async def run_due(self) -> DueRun:
        """Every job due now, in batches (each its own transaction, so delivery starts on the first)."""
        total = DueRun(lateness=[])
        while True:
            async with UnitOfWork(self.sessions) as uow:
                run = await run_due(uow.session, self.messages, self.timezone, now=self.clock(), limit=BATCH)
            total.done += run.done
            total.skipped += run.skipped
            total.messages += run.messages
            (total.lateness or []).extend(run.lateness or [])
            if run.messages:
                self.wake_delivery()
            if run.done + run.skipped < BATCH:
                return total

    async def next_wake(self) -> datetime:
        """When to look next: the earliest due job, but no later than ``RECHECK`` from now."""
        async with UnitOfWork(self.sessions) as uow:
            due = await next_due_at(uow.session)
        latest = self.clock() + RECHECK
        return latest if due is None else min(due, latest)

    async def invite_latecomers(self) -> int:
        async with UnitOfWork(self.sessions) as uow:
            reached = await invite_latecomers(uow.session, self.messages, now=self.clock())
        if reached:
            self.wake_delivery()
        return reached
